"""Booting machines: the driver finds the MSCs from the ACPI tables, groups them into classes
and components, publishes the PARTID/PMG limits once and logs what Linux logs.

The machine layer only wires the real layers together (hardware, firmware bytes, kernel,
driver); these tests go through it so that the driver sees exactly what a booted kernel
gives it.
"""

from __future__ import annotations

import errno

import pytest

from mpam.driver import Feature
from mpam.firmware import ClassType
from mpam.hw.regmap import reg
from mpam.machine import Machine
from mpam.platform import from_toml_text, load

from .platforms import NARROW_ONE_MSC


@pytest.fixture(scope="module")
def rdn2() -> Machine:
    return Machine("rdn2").boot()


def _classes(m: Machine) -> dict[tuple[ClassType, int], dict[int, list[int]]]:
    return {
        key: {cid: [v.msc.id for v in comp.vmscs] for cid, comp in k.components.items()}
        for key, k in m.driver.classes.items()
    }


def test_rdn2_classes_limits_and_log(rdn2: Machine) -> None:
    assert _classes(rdn2) == {
        (ClassType.CACHE, 3): {49: [0, 1, 2, 3, 4, 5, 6, 7]},
        (ClassType.MEMORY, 255): {0: [8, 9]},
    }
    d = rdn2.driver
    assert d.enabled and (d.partid_max, d.pmg_max) == (63, 1)
    l3 = d.classes[ClassType.CACHE, 3]
    assert l3.props.cpbm_wd == 16 and l3.props.num_csu_mon == 16
    assert {Feature.cpor_part, Feature.cmax_cmax, Feature.msmon_csu} <= l3.props.features
    assert l3.affinity == set(range(16))
    mem = d.classes[ClassType.MEMORY, 255]
    assert mem.props.bwa_wd == 8 and Feature.msmon_mbwu_44counter in mem.props.features
    log = rdn2.dmesg()
    assert log.count("MPAM enabled with 64 PARTIDs and 2 PMGs") == 1
    assert "CPU features: detected: Memory Partitioning And Monitoring" in log
    # Probing ran once per MSC, from the temporary callback, then the steady-state one.
    assert [name for _, name in rdn2.kernel.cpuhp.states() if name.startswith("mpam")] == [
        "mpam:online"
    ]
    assert all(m.online_refs == 16 for m in d.mscs)


def test_every_partid_is_reset_to_the_unrestricted_defaults(rdn2: Machine) -> None:
    slc = rdn2.driver.find_msc(3)
    r = rdn2.driver.regs[3]
    for partid in (0, 17, 63):
        r.part_sel(0, partid)
        assert r.read("MPAMCFG_CPBM") == 0xFFFF
        assert r.read("MPAMCFG_CMAX") == 0xFF00  # 8 implemented bits, all ones
    ddr = rdn2.driver.regs[8]
    ddr.part_sel(0, 63)
    assert ddr.read("MPAMCFG_MBW_MAX") == 0xFF00
    assert ddr.read("MPAMCFG_MBW_MIN") == 0
    assert ddr.read("MPAMCFG_MBW_PBM") == 0xFFFF
    assert slc.probed and all(ris.in_reset_state for ris in slc.ris.values())


@pytest.mark.parametrize(
    ("preset", "partids", "pmgs"), [("tiny", 16, 2), ("two-socket", 32, 4), ("large", 256, 4)]
)
def test_presets_enable_with_their_limits(preset: str, partids: int, pmgs: int) -> None:
    m = Machine(preset).boot()
    assert m.driver.enabled
    assert f"MPAM enabled with {partids} PARTIDs and {pmgs} PMGs" in m.dmesg()
    platform = load(preset)
    ids = {msc.identifier for msc in platform.mscs}
    assert {msc.id for msc in m.driver.mscs} == ids
    assert all(msc.probed for msc in m.driver.mscs)


def test_two_socket_narrowing_takes_the_minimum() -> None:
    """l3-p1 narrows 64 request PARTIDs onto 32 internal ones: the system gets 32."""
    m = Machine("two-socket").boot()
    assert m.driver.find_msc(11).partid_max == 31
    assert m.driver.find_msc(10).partid_max == 63
    assert m.driver.partid_max == 31
    classes = _classes(m)
    assert classes[ClassType.CACHE, 2] == {
        512: [100], 513: [101], 514: [102], 515: [103],
        528: [116], 529: [117], 530: [118], 531: [119],
    }  # fmt: skip
    assert classes[ClassType.CACHE, 3] == {0: [10], 1: [11]}
    assert classes[ClassType.MEMORY, 255] == {0: [20], 1: [21]}
    # RIS 1 of each L2 MSC (a memory-side cache locator) is found by probing: unknown class.
    assert classes[ClassType.UNKNOWN, 0] == {0: [100, 101, 102, 103, 116, 117, 118, 119]}


def test_msc_with_a_smaller_partid_space_wins() -> None:
    m = Machine(from_toml_text(NARROW_ONE_MSC)).boot()
    assert m.driver.partid_max == 15
    assert "MPAM enabled with 16 PARTIDs and 2 PMGs" in m.dmesg()


def test_late_requestor_is_refused_after_publication(rdn2: Machine) -> None:
    d = rdn2.driver
    assert d.register_requestor(31, 1) == -errno.EBUSY
    assert d.register_requestor(63, 0) == -errno.EBUSY
    assert d.register_requestor(255, 7) == 0  # a larger space changes nothing
    assert (d.partid_max, d.pmg_max) == (63, 1)


def test_no_msc_in_firmware() -> None:
    m = Machine(from_toml_text(NARROW_ONE_MSC.split("[[msc]]")[0]))
    m.boot()
    assert not m.driver.enabled
    assert "mpam:mpam_msc_driver_init: No MSC devices found in firmware" in m.dmesg()


def test_apply_config_writes_only_what_changed(rdn2: Machine) -> None:
    d = rdn2.driver
    comp = d.classes[ClassType.CACHE, 3].components[49]
    cfg = comp.cfg[5].copy()
    cfg.features.add(Feature.cpor_part)
    cfg.cpbm = 0x00F0
    d.tracing = True
    d.mmio_trace.clear()
    d.apply_config(comp, 5, cfg)
    writes = [a for a in d.mmio_trace if a.write and a.register == "MPAMCFG_CPBM<0>"]
    assert [(a.msc, a.value) for a in writes] == [(f"slc{i}", 0x00F0) for i in range(8)]
    d.mmio_trace.clear()
    d.apply_config(comp, 5, cfg)  # the same again: no access at all
    assert list(d.mmio_trace) == []
    d.tracing = False
    r = d.regs[0]
    r.part_sel(0, 5)
    assert r.read("MPAMCFG_CPBM") == 0x00F0
    r.part_sel(0, 4)
    assert r.read("MPAMCFG_CPBM") == 0xFFFF
    assert reg("MPAMCFG_CPBM").offset == 0x1000
