"""Monitors: allocation, reads, and MBWU counts that stay exact across counter wraps."""

from __future__ import annotations

import errno
from collections.abc import Callable

import numpy as np
import pytest

from mpam.driver import MonCfg, MonType
from mpam.driver.msc_io import MMIO_READ_NS, MMIO_WRITE_NS, get
from mpam.firmware import ClassType
from mpam.hw.msc import Msc
from mpam.hw.pcc import SleepInAtomicContext
from mpam.kernel import Context
from mpam.machine import Machine
from mpam.platform import from_toml_text

from .platforms import memory_msc_platform


def _push(m: Machine, nbytes: int, partid: int = 1, pmg: int = 0) -> None:
    """Memory traffic of `nbytes` reads by (partid, pmg) through the memory MSC."""
    hw = m.hw.mscs[0]
    assert isinstance(hw, Msc)
    traffic = np.zeros((64, 2, 2), dtype=np.int64)
    traffic[partid, pmg, 0] = nbytes
    hw.ris[0].count_mbwu(traffic)


@pytest.mark.parametrize("width", [31, 44, 63])
def test_mbwu_exact_across_three_wraps(width: int) -> None:
    m = Machine(from_toml_text(memory_msc_platform(width))).boot()
    klass = m.driver.classes[ClassType.MEMORY, 255]
    comp = klass.components[0]
    mon = m.msmon.alloc_mbwu_mon(klass)
    assert mon == 0
    cfg = MonCfg(mon, partid=1, pmg=0, match_pmg=True)
    assert m.msmon.read(comp, cfg, MonType.MBWU) == (0, 0)  # programs the monitor
    step = (1 << width) // 3 + 12345  # three reads per wrap
    total = 0
    previous = 0
    for _ in range(10):  # 10 steps of a third: more than three wraps
        _push(m, step)
        _push(m, 999, partid=2)  # another PARTID's traffic is not counted
        total += step
        err, value = m.msmon.read(comp, cfg, MonType.MBWU)
        assert err == 0
        assert value == total
        assert value > previous
        previous = value
    assert total > 3 * (1 << width)


def test_monitor_allocation_runs_out() -> None:
    m = Machine(from_toml_text(memory_msc_platform(31))).boot()
    klass = m.driver.classes[ClassType.MEMORY, 255]
    got = [m.msmon.alloc_mbwu_mon(klass) for _ in range(5)]
    assert got == [0, 1, 2, 3, -errno.ENOSPC]
    m.msmon.free_mbwu_mon(klass, 2)
    assert m.msmon.alloc_mbwu_mon(klass) == 2
    assert m.msmon.alloc_csu_mon(klass) == -errno.EOPNOTSUPP


def test_csu_read_waits_out_nrdy() -> None:
    """rdn2's SLC monitors set NRDY on reconfiguration: the read waits MAX_NRDY_USEC once."""
    m = Machine("rdn2").boot()
    klass = m.driver.classes[ClassType.CACHE, 3]
    comp = klass.components[49]
    mon = m.msmon.alloc_csu_mon(klass)
    m.driver.tracing = True

    def waited(read: Callable[[], tuple[int, int]]) -> int:
        """Simulated time a read took beyond its own MMIO accesses."""
        before, traced = m.kernel.clock.now_ns, m.driver.mmio_traced
        assert read() == (0, 0)
        accesses = list(m.driver.mmio_trace)[traced - m.driver.mmio_traced :]
        assert accesses and [a.time_ns for a in accesses] == sorted({a.time_ns for a in accesses})
        cost = sum(MMIO_WRITE_NS if a.write else MMIO_READ_NS for a in accesses)
        return m.kernel.clock.now_ns - before - cost

    cfg = MonCfg(mon, partid=0)
    assert waited(lambda: m.msmon.read(comp, cfg, MonType.CSU)) == klass.nrdy_usec * 1000
    assert waited(lambda: m.msmon.read(comp, cfg, MonType.CSU)) == 0  # configured already


def test_mbwu_counts_survive_an_msc_power_cycle() -> None:
    """The last CPU leaving the MSC folds each counter into its correction; the first back
    reprograms the monitor, so the count carries on from where it was."""
    m = Machine(from_toml_text(memory_msc_platform(44, private=True))).boot()
    klass = m.driver.classes[ClassType.MEMORY, 255]
    comp = klass.components[0]
    assert m.driver.find_msc(1).accessibility == {2, 3}
    cfg = MonCfg(m.msmon.alloc_mbwu_mon(klass), partid=1)
    m.msmon.read(comp, cfg, MonType.MBWU)
    _push(m, 1000)
    assert m.msmon.read(comp, cfg, MonType.MBWU) == (0, 1000)
    assert m.cpu_down(2) == 0 and m.cpu_down(3) == 0
    regs = m.driver.regs[1]
    regs.mon_sel(0, cfg.mon)
    assert not get("MSMON_CFG_MBWU_CTL", "EN", regs.read("MSMON_CFG_MBWU_CTL"))  # stopped
    _push(m, 5000)  # the MSC is off: nothing counts
    assert m.cpu_up(3) == 0
    _push(m, 234)
    assert m.msmon.read(comp, cfg, MonType.MBWU) == (0, 1234)


def test_read_with_no_online_cpu_at_the_msc_fails() -> None:
    """smp_call_function_any finds no CPU: -ENXIO, and the stopped counter stays stopped."""
    m = Machine(from_toml_text(memory_msc_platform(31, private=True))).boot()
    klass = m.driver.classes[ClassType.MEMORY, 255]
    comp = klass.components[0]
    cfg = MonCfg(m.msmon.alloc_mbwu_mon(klass), partid=1)
    m.msmon.read(comp, cfg, MonType.MBWU)
    assert m.cpu_down(2) == 0 and m.cpu_down(3) == 0
    assert m.msmon.read(comp, cfg, MonType.MBWU) == (-errno.ENXIO, 0)
    regs = m.driver.regs[1]
    regs.mon_sel(0, cfg.mon)
    assert not get("MSMON_CFG_MBWU_CTL", "EN", regs.read("MSMON_CFG_MBWU_CTL"))


def test_read_may_not_be_called_where_it_cannot_sleep() -> None:
    m = Machine("tiny").boot()
    klass = m.driver.classes[ClassType.MEMORY, 255]
    cfg = MonCfg(m.msmon.alloc_mbwu_mon(klass), partid=0)
    with m.kernel.ctx.enter(Context.IRQ, 0), pytest.raises(SleepInAtomicContext):
        m.msmon.read(klass.components[0], cfg, MonType.MBWU)
