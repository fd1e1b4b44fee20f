"""CPU hotplug: the last CPU that reaches an MSC resets it, the first back restores it."""

from __future__ import annotations

from mpam.driver import Feature
from mpam.firmware import ClassType
from mpam.machine import Machine
from mpam.platform import from_toml_text

from .platforms import PRIVATE_L2


def _cpbm(m: Machine, msc_id: int, partid: int) -> int:
    r = m.driver.regs[msc_id]
    r.part_sel(0, partid)
    return r.read("MPAMCFG_CPBM")


def test_private_msc_is_reached_only_from_its_cluster() -> None:
    m = Machine(from_toml_text(PRIVATE_L2)).boot()
    msc = m.driver.find_msc(5)
    assert msc.accessibility == {2, 3}
    assert msc.online_refs == 2
    assert m.driver.classes[ClassType.CACHE, 2].affinity == {2, 3}


def test_offline_resets_and_online_restores() -> None:
    m = Machine(from_toml_text(PRIVATE_L2)).boot()
    d = m.driver
    comp = d.classes[ClassType.CACHE, 2].components[101]
    cfg = comp.cfg[3].copy()
    cfg.features.add(Feature.cpor_part)
    cfg.cpbm = 0x0F
    d.apply_config(comp, 3, cfg)
    assert _cpbm(m, 5, 3) == 0x0F

    assert m.cpu_down(2) == 0
    assert _cpbm(m, 5, 3) == 0x0F  # CPU 3 still reaches it: untouched
    assert d.find_msc(5).online_refs == 1
    assert m.cpu_down(3) == 0
    assert d.find_msc(5).online_refs == 0
    assert _cpbm(m, 5, 3) == 0xFF  # the last CPU went: reset
    assert d.find_msc(6).online_refs == 2  # the memory MSC is reached by CPUs 0 and 1

    assert m.cpu_up(3) == 0
    assert _cpbm(m, 5, 3) == 0x0F  # the first CPU back restored the configuration
    assert _cpbm(m, 5, 2) == 0xFF
    assert d.find_msc(5).online_refs == 1
