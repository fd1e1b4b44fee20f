"""MBWU monitors on a cache's RIS count the cache's egress: the bytes that cross it towards
memory (lines fetched on a miss, writes passed on, dirty lines written back), by the
(PARTID, PMG) and direction each carries, filtered as a memory channel's MBWU monitors are.

IHI0099: MSMON_MBWU.VALUE counts the bytes transferred that meet the criteria of
MSMON_CFG_MBWU_FLT (PARTID, PMG, RWBW) and MSMON_CFG_MBWU_CTL (EN, MATCH_PARTID,
MATCH_PMG); a disabled monitor collects nothing (MSMON_CFG_MBWU_CTL.EN); the 31-bit VALUE
wraps and sets OFLOW_STATUS while MSMON_MBWU_L keeps the long count; NRDY is set while the
monitor may be inaccurate after its settings change. The egress is recorded the way the
traffic kernel records it (`mpam.hw.cache.egress_add`, run here as the kernels run it, so
with NUMBA_DISABLE_JIT=1 too); the machine tests check what the kernel records.
"""

from __future__ import annotations

import numpy as np
import pytest

from mpam.hw import build
from mpam.hw.build import Hardware
from mpam.hw.cache import HIT, access_lines, egress_add
from mpam.hw.memsys import MemorySystem
from mpam.hw.msc import Msc
from mpam.hw.pcc import PccMsc
from mpam.hw.regmap import field, reg
from mpam.hw.resource import READ, WRITE
from mpam.platform import from_toml_text, load, presets
from mpam.platform.model import ResourceKind

# Two cores, each with an L1D and an L2 (ids 0x200, 0x201), a shared L3 (id 3) whose MSC
# has CSU and MBWU monitors (read/write filter, 44-bit long counters, hardware NRDY), a
# memory MSC, and a memory-side-cache RIS measuring what core 0's L2 draws. 16 PARTIDs,
# 2 PMGs; the L3 MSC holds only 8 PARTIDs.
PLATFORM = """\
name = "egress"
description = "an L3 and an L2 whose MSCs have MBWU monitors"

[topology]
packages = 1
clusters_per_package = 1
cores_per_cluster = 2

[cpu_mpam]
partid_max = 15
pmg_max = 1

[[cache]]
name = "L1D"
level = 1
type = "data"
size = "32KiB"
ways = 4
shared_by = "core"
id_base = 0x100

[[cache]]
name = "L2"
level = 2
size = "256KiB"
ways = 8
shared_by = "core"
id_base = 0x200

[[cache]]
name = "L3"
level = 3
size = "1MiB"
ways = 16
shared_by = "system"
ids = [3]

[[numa]]
node = 0
proximity_domain = 0
memory = "1GiB"
bandwidth = "10GB/s"
latency_ns = 80

[features.l3]
partid_max = 7
pmg_max = 1
cpor = { cpbm_wd = 16 }
msmon.csu = { num_mon = 2 }
msmon.mbwu = { num_mon = 6, has_rwbw = true, has_long = true, hw_nrdy = true, nrdy_usec = 10 }

[features.l2_bw]
partid_max = 15
pmg_max = 1
mbw = { bwa_wd = 8, has_max = true }
msmon = { mbwu = { num_mon = 2 } }

[features.l2]
partid_max = 15
pmg_max = 1
cpor = { cpbm_wd = 8 }
msmon = { csu = { num_mon = 2 } }

[features.mem]
partid_max = 15
pmg_max = 1
mbw = { bwa_wd = 8, has_max = true }
msmon = { mbwu = { num_mon = 2 } }

[[msc]]
name = "l3"
identifier = 1
base_address = 0x1000_0000
size = 0x4000
max_nrdy_usec = 10
ris = [{ index = 0, identifier = 10, resource = { kind = "cache", cache = "L3" }, features = "l3" }]

[[msc]]
name = "l2c0"
identifier = 2
base_address = 0x1001_0000
size = 0x4000
ris = [
    { index = 0, identifier = 20, resource = { kind = "cache", cache = "L2", instance = 0 }, features = "l2" },
    { index = 1, identifier = 21, resource = { kind = "memory_side_cache", level = 2, reference = 0x200 }, features = "l2_bw" },
]

[[msc]]
name = "mem"
identifier = 3
base_address = 0x1002_0000
size = 0x4000
ris = [{ index = 0, identifier = 30, resource = { kind = "memory", node = 0 }, features = "mem" }]
"""

LINE = 64
MON_SEL = reg("MSMON_CFG_MON_SEL")
FLT, CTL = reg("MSMON_CFG_MBWU_FLT"), reg("MSMON_CFG_MBWU_CTL")
VALUE, VALUE_L = reg("MSMON_MBWU"), reg("MSMON_MBWU_L")
EN, MATCH_PARTID, MATCH_PMG, OFLOW_STATUS = (
    field("MSMON_CFG_MBWU_CTL", n).mask for n in ("EN", "MATCH_PARTID", "MATCH_PMG", "OFLOW_STATUS")
)
NRDY = field("MSMON_MBWU", "NRDY").mask
RWBW_WRITES, RWBW_READS = 0b01, 0b10


@pytest.fixture
def machine() -> tuple[Hardware, MemorySystem]:
    hw = build(from_toml_text(PLATFORM))
    return hw, MemorySystem(hw.platform, hw)


def regs(hw: Hardware, name: str) -> Msc:
    m = hw.msc(name)
    return m.msc if isinstance(m, PccMsc) else m


def monitor(
    m: Msc,
    mon: int,
    partid: int | None = None,
    pmg: int | None = None,
    rwbw: int = 0,
    ris: int = 0,
) -> None:
    """Point MBWU monitor `mon` at a label (None: any) and enable it, as the driver does."""
    m.write32(MON_SEL.offset, MON_SEL.field("MON_SEL").prep(mon) | MON_SEL.field("RIS").prep(ris))
    flt = FLT.field("PARTID").prep(partid or 0) | FLT.field("PMG").prep(pmg or 0)
    m.write32(FLT.offset, flt | FLT.field("RWBW").prep(rwbw))
    ctl = (MATCH_PARTID if partid is not None else 0) | (MATCH_PMG if pmg is not None else 0)
    m.write32(CTL.offset, ctl)
    m.write32(VALUE.offset, 0)
    m.write32(CTL.offset, ctl | EN)


def select(m: Msc, mon: int, ris: int = 0) -> None:
    m.write32(MON_SEL.offset, MON_SEL.field("MON_SEL").prep(mon) | MON_SEL.field("RIS").prep(ris))


def value(m: Msc, mon: int, ris: int = 0) -> int:
    select(m, mon, ris)
    return m.read32(VALUE.offset) & ~NRDY


def value_l(m: Msc, mon: int) -> int:
    select(m, mon)
    return (m.read32(VALUE_L.offset) | m.read32(VALUE_L.offset + 4) << 32) & ((1 << 63) - 1)


def tick(mem: MemorySystem, moved: list[tuple[int, int, int, int, int]]) -> None:
    """One interval: arm, record (instance, PARTID, PMG, read/write, bytes) as egress the
    way the traffic kernel does, and count."""
    mem.arm_egress()
    for inst, partid, pmg, rw, nbytes in moved:
        egress_add(mem.egress, mem.egress_row, inst, partid, pmg, rw, nbytes)
    channels = len(mem.channels.peak)
    mem.count(np.zeros((channels, mem.num_partid, mem.num_pmg, 2), dtype=np.int64))


# -- which RISes watch a cache's egress (IHI0099 MPAMF_MSMON_IDR.MSMON_MBWU, DEN0065 locators)


def test_every_cache_ris_with_mbwu_monitors_watches_its_instance(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    _, mem = machine
    watched = {(b.msc.name, b.ris.index): mem.names[b.index] for b in mem.egress_bindings}
    # the L3's own RIS, and the memory-side-cache RIS whose reference is core 0's L2 (its
    # PPTT id 0x200 at level 2); the L2's CSU-only RIS and the memory channel do not
    assert watched == {("l3", 0): "L3#0", ("l2c0", 1): "L2#0"}


@pytest.mark.parametrize("name", presets())
def test_presets_watch_the_caches_whose_msc_has_mbwu_monitors(name: str) -> None:
    platform = load(name)
    hw = build(platform)
    mem = MemorySystem(platform, hw)
    expected = sum(
        1
        for m in platform.mscs
        for r in m.ris
        if r.features.msmon is not None
        and r.features.msmon.mbwu is not None
        and r.resource.kind in (ResourceKind.CACHE, ResourceKind.MEMORY_SIDE_CACHE)
    )
    assert len(mem.egress_bindings) == expected
    assert mem.egress.shape[0] == len({b.index for b in mem.egress_bindings})
    if name == "two-socket":  # its L3s and its L2s' bandwidth RISes
        assert sorted(mem.names[b.index] for b in mem.egress_bindings) == sorted(
            [f"L3#{n}" for n in range(2)] + [f"L2#{n}" for n in range(8)]
        )


# -- MSMON_CFG_MBWU_CTL.EN: a disabled monitor collects nothing --------------------------------


def test_only_instances_with_an_enabled_monitor_are_armed(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    hw, mem = machine
    l3 = mem.instance("L3")
    mem.arm_egress()
    assert (mem.egress_row == -1).all()  # nothing enabled: the kernel records nothing
    monitor(regs(hw, "l3"), 0, partid=1, pmg=0)
    mem.arm_egress()
    assert mem.egress_row[l3] == mem.egress_rows[l3]
    assert (np.delete(mem.egress_row, l3) == -1).all()
    m = regs(hw, "l3")
    select(m, 0)
    m.write32(CTL.offset, m.read32(CTL.offset) & ~EN)
    tick(mem, [(l3, 1, 0, READ, 4096)])
    assert value(m, 0) == 0  # disabled before the interval: not counted
    assert (mem.egress_row == -1).all()


# -- MSMON_CFG_MBWU_FLT / _CTL: the label and the direction ------------------------------------


def test_a_cache_monitor_counts_the_egress_of_its_label_and_nothing_else(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    hw, mem = machine
    m = regs(hw, "l3")
    l3, l2 = mem.instance("L3"), mem.instance("L2", 0)
    monitor(m, 0, partid=1, pmg=0)
    monitor(m, 1, partid=2, pmg=0)  # a label that moves nothing
    monitor(m, 2, partid=1)  # PARTID 1, any PMG
    monitor(m, 3)  # everything
    tick(mem, [
        (l3, 1, 0, READ, 10 * LINE),  # misses of (1, 0) fetched from memory
        (l3, 1, 0, WRITE, 2 * LINE),  # (1, 0)'s dirty lines written back
        (l3, 1, 1, READ, LINE),
        (l3, 3, 0, READ, 7 * LINE),
        (l2, 2, 0, READ, 99 * LINE),  # another cache's egress: not the L3's
    ])  # fmt: skip
    assert [value(m, i) for i in range(4)] == [12 * LINE, 0, 13 * LINE, 20 * LINE]
    assert value_l(m, 0) == 12 * LINE
    tick(mem, [(l3, 1, 0, READ, LINE)])  # the count goes on from there
    assert value(m, 0) == 13 * LINE and value(m, 1) == 0


def test_rwbw_selects_the_fetches_or_the_write_backs(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    hw, mem = machine
    m = regs(hw, "l3")
    l3 = mem.instance("L3")
    monitor(m, 0, partid=1, pmg=0, rwbw=RWBW_READS)
    monitor(m, 1, partid=1, pmg=0, rwbw=RWBW_WRITES)
    monitor(m, 2, partid=1, pmg=0)
    tick(mem, [(l3, 1, 0, READ, 5 * LINE), (l3, 1, 0, WRITE, 3 * LINE)])
    assert [value(m, i) for i in range(3)] == [5 * LINE, 3 * LINE, 8 * LINE]


def test_the_memory_side_cache_ris_counts_what_its_l2_draws(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    hw, mem = machine
    m = regs(hw, "l2c0")
    monitor(m, 0, partid=4, pmg=1, ris=1)
    l2_0, l2_1 = mem.instance("L2", 0), mem.instance("L2", 1)
    assert mem.egress_row[l2_1] == -1 and l2_1 not in mem.egress_rows
    tick(mem, [(l2_0, 4, 1, READ, 3 * LINE), (l2_0, 4, 1, WRITE, LINE), (l2_1, 4, 1, READ, LINE)])
    assert value(m, 0, ris=1) == 4 * LINE


# -- the LLC's own accesses: misses and dirty write-backs are its egress, hits none -------------


def test_llc_misses_and_write_backs_counted_by_the_owner(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    """Accesses run through the cache kernel's checked front; each miss fetches a line
    (a read by the requester) and each write-back writes one (by the line's owner)."""
    hw, mem = machine
    m = regs(hw, "l3")
    l3 = mem.instance("L3")
    monitor(m, 0, partid=1, pmg=0)
    monitor(m, 1, partid=2, pmg=0)
    monitor(m, 2, partid=1, pmg=0, rwbw=RWBW_WRITES)
    lines_total = mem.caches.lines(l3)

    def run(lines: np.ndarray, partid: int, write: bool) -> None:
        n = len(lines)
        results, writebacks = access_lines(
            mem.caches, np.full(n, l3), lines, np.full(n, partid), np.zeros(n, np.int64),
            np.full(n, write), 0,
        )  # fmt: skip
        moved = [(l3, partid, 0, READ, LINE) for r in results if r != HIT]
        moved += [(l3, 1, 0, WRITE, LINE) for _ in writebacks]  # every dirty line is 1's
        tick(mem, moved)

    first = np.arange(lines_total, dtype=np.int64)
    run(first, 1, write=True)  # PARTID 1 fills the cache with dirty lines: all misses
    assert value(m, 0) == lines_total * LINE and value(m, 1) == 0 and value(m, 2) == 0
    run(first, 1, write=False)  # all hits: nothing crosses the cache
    assert value(m, 0) == lines_total * LINE
    run(first + lines_total, 2, write=False)  # PARTID 2 evicts every dirty line of 1's
    assert value(m, 1) == lines_total * LINE  # its fetches
    assert value(m, 0) == 2 * lines_total * LINE  # 1's write-backs count for 1
    assert value(m, 2) == lines_total * LINE


# -- the counter: width, overflow, NRDY, labels beyond the MSC --------------------------------


def test_the_31_bit_counter_wraps_with_overflow_status_and_the_long_one_goes_on(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    hw, mem = machine
    m = regs(hw, "l3")
    l3 = mem.instance("L3")
    monitor(m, 0, partid=1, pmg=0)
    tick(mem, [(l3, 1, 0, READ, (1 << 31) + 3 * LINE)])
    assert value(m, 0) == 3 * LINE
    select(m, 0)
    assert m.read32(CTL.offset) & OFLOW_STATUS
    assert value_l(m, 0) == (1 << 31) + 3 * LINE


def test_nrdy_after_the_monitor_is_configured(machine: tuple[Hardware, MemorySystem]) -> None:
    hw, mem = machine
    m = regs(hw, "l3")
    monitor(m, 0, partid=1, pmg=0)
    select(m, 0)
    assert m.read32(VALUE.offset) & NRDY  # hardware NRDY: not ready for nrdy_usec
    hw.clock.advance(10_000)
    tick(mem, [(mem.instance("L3"), 1, 0, READ, LINE)])
    select(m, 0)
    assert m.read32(VALUE.offset) == LINE


def test_labels_beyond_the_msc_count_as_its_default_label(
    machine: tuple[Hardware, MemorySystem],
) -> None:
    """The L3 MSC holds PARTIDs 0-7: requests with a larger PARTID are served (and counted)
    as PARTID 0, PMG 0, as a memory channel's are."""
    hw, mem = machine
    m = regs(hw, "l3")
    l3 = mem.instance("L3")
    monitor(m, 0, partid=0, pmg=0)
    monitor(m, 1, partid=7, pmg=1)
    tick(mem, [(l3, 12, 1, READ, 5 * LINE), (l3, 7, 1, READ, LINE), (l3, 0, 0, WRITE, LINE)])
    assert value(m, 0) == 6 * LINE and value(m, 1) == LINE
