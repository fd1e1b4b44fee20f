"""MPAM's resctrl arch interface: which classes become L3/L2/MB, the MB percentage
conversion (the kernel's KUnit vectors), controls reaching the registers, and labels."""

from __future__ import annotations

import pytest

from mpam.driver.mpam_resctrl import bw_gran, mbw_max_to_percent, percent_to_mbw_max
from mpam.machine import Machine
from mpam.resctrl import CdpType, EventId, ResourceId, SchemaFormat

# (percent, raw top-w-bit value for w = 8, 12, 16): test_mpam_resctrl.c's reference table.
KUNIT = [
    (1, 0x01, 0x027, 0x028E), (25, 0x3F, 0x3FF, 0x3FFF), (33, 0x53, 0x546, 0x5479),
    (35, 0x58, 0x598, 0x5998), (45, 0x72, 0x732, 0x7332), (50, 0x7F, 0x7FF, 0x7FFF),
    (52, 0x84, 0x850, 0x851D), (55, 0x8B, 0x8CB, 0x8CCB), (58, 0x93, 0x946, 0x9479),
    (75, 0xBF, 0xBFF, 0xBFFF), (80, 0xCB, 0xCCB, 0xCCCB), (88, 0xE0, 0xE13, 0xE146),
    (95, 0xF2, 0xF32, 0xF332), (100, 0xFF, 0xFFF, 0xFFFF),
]  # fmt: skip


@pytest.mark.parametrize(("pc", "w8", "w12", "w16"), KUNIT)
def test_kunit_vectors(pc: int, w8: int, w12: int, w16: int) -> None:
    for w, raw in ((8, w8), (12, w12), (16, w16)):
        shift = 16 - w
        assert mbw_max_to_percent(raw << shift, w) == pc
        value = percent_to_mbw_max(pc, w)
        assert raw << shift <= value <= min((raw + 1) << shift, 0xFFFF)


def test_granularity_and_minimum() -> None:
    assert [bw_gran(w) for w in (1, 2, 3, 4, 5, 6, 7, 16)] == [50, 25, 13, 7, 4, 2, 1, 1]
    assert [mbw_max_to_percent(0, w) for w in range(1, 9)] == [50, 25, 13, 6, 3, 2, 1, 0]
    for w in range(1, 17):
        assert mbw_max_to_percent(0xFFFF, w) == 100
        assert percent_to_mbw_max(100, w) == (0xFFFF >> (16 - w)) << (16 - w)


def test_round_trips() -> None:
    for w in range(7, 17):
        for pc in range(mbw_max_to_percent(0, w), 101):
            assert mbw_max_to_percent(percent_to_mbw_max(pc, w), w) == pc
    for w in range(1, 7):
        for raw in range(1 << w):
            v = raw << (16 - w)
            assert percent_to_mbw_max(mbw_max_to_percent(v, w), w) == v


@pytest.fixture(scope="module")
def rdn2() -> Machine:
    return Machine("rdn2").boot()


def test_rdn2_resources(rdn2: Machine) -> None:
    arch = rdn2.resctrl_arch
    assert arch is not None
    res = {r.rid: r for r in arch.resources()}
    l3, l2, mb = res[ResourceId.L3], res[ResourceId.L2], res[ResourceId.MBA]
    assert l3.alloc_capable and l3.cbm_len == 16 and l3.shareable_bits == 0xFFFF
    assert l3.arch_has_sparse_bitmasks and l3.cdp_capable and l3.min_cbm_bits == 1
    assert [(d.id, len(d.cpus)) for d in l3.ctrl_domains] == [(49, 16)]
    assert l3.mon_capable and l3.num_rmid == 128
    assert l3.events == (EventId.LLC_OCCUPANCY, EventId.MBM_TOTAL_BYTES)
    # 16 MBWU monitors on each DDR MSC for 128 (PARTID, PMG) labels: assigned counters
    assert l3.mbm_cntr_assignable and l3.mbm_cntr_assign_fixed and l3.num_mbm_cntrs == 16
    assert not l2.alloc_capable  # rdn2's L2s have no MSC
    # One L3, one node: the memory controllers regulate the L3's traffic; MB domains take
    # the L3's cache id.
    assert mb.alloc_capable and mb.schema_fmt is SchemaFormat.RANGE
    assert (mb.min_bw, mb.bw_gran, mb.max_bw) == (0, 1, 100)
    assert [d.id for d in mb.ctrl_domains] == [49]
    assert arch.get_num_closid(l3) == 64 and arch.system_num_rmid_idx() == 128
    assert arch.rmid_idx_encode(5, 1) == 11 and arch.rmid_idx_decode(11) == (5, 1)


def test_two_socket_has_no_mb(rdn2: Machine) -> None:
    m = Machine("two-socket").boot()
    assert m.resctrl_arch is not None
    res = {r.rid: r for r in m.resctrl_arch.resources()}
    assert [d.id for d in res[ResourceId.L3].ctrl_domains] == [0, 1]
    assert [d.id for d in res[ResourceId.L2].ctrl_domains] == [
        512,
        513,
        514,
        515,
        528,
        529,
        530,
        531,
    ]
    assert not res[ResourceId.MBA].alloc_capable  # two L3s over two nodes


def test_controls_reach_every_msc_of_the_domain(rdn2: Machine) -> None:
    arch = rdn2.resctrl_arch
    assert arch is not None
    res = {r.rid: r for r in arch.resources()}
    l3, mb = res[ResourceId.L3], res[ResourceId.MBA]
    d = l3.ctrl_domains[0]
    assert arch.get_config(l3, d, 3, CdpType.NONE) == 0xFFFF
    assert arch.update_one(l3, d, 3, CdpType.NONE, 0x00FF) == 0
    assert arch.get_config(l3, d, 3, CdpType.NONE) == 0x00FF
    for msc in range(8):
        r = rdn2.driver.regs[msc]
        r.part_sel(0, 3)
        assert r.read("MPAMCFG_CPBM") == 0x00FF
    assert arch.update_one(mb, mb.ctrl_domains[0], 3, CdpType.NONE, 50) == 0
    assert arch.get_config(mb, mb.ctrl_domains[0], 3, CdpType.NONE) == 50
    for msc in (8, 9):
        r = rdn2.driver.regs[msc]
        r.part_sel(0, 3)
        assert r.read("MPAMCFG_MBW_MAX") == 0x7F00
    arch.reset_all_ctrls(l3)
    assert arch.get_config(l3, d, 3, CdpType.NONE) == 0xFFFF
    rdn2.driver.regs[0].part_sel(0, 3)
    assert rdn2.driver.regs[0].read("MPAMCFG_CPBM") == 0xFFFF


def test_labels_and_cdp() -> None:
    m = Machine("tiny").boot()
    arch = m.resctrl_arch
    assert arch is not None
    sh = m.kernel.tasks[1]
    arch.set_closid_rmid(1, 2, 1)
    assert (sh.labels.partid_d, sh.labels.partid_i, sh.labels.pmg_d) == (2, 2, 1)
    assert arch.match_closid(1, 2) and arch.match_rmid(1, 2, 1) and not arch.match_rmid(1, 2, 0)
    arch.set_cpu_default_closid_rmid(3, 4, 0)
    assert m.kernel.scheduler.arm64_mpam_default[3] == (4 << 16) | 4
    assert arch.set_cdp_enabled(ResourceId.L3, True) == 0
    assert arch.get_cdp_enabled(ResourceId.L3) and not arch.get_cdp_enabled(ResourceId.MBA)
    # Every task back to CLOSID 0: data PARTID 0, code PARTID 1.
    assert (sh.labels.partid_d, sh.labels.partid_i, sh.labels.pmg_d) == (0, 1, 0)
    arch.set_closid_rmid(1, 3, 1)
    assert (sh.labels.partid_d, sh.labels.partid_i) == (6, 7)
    assert arch.match_closid(1, 3)
    res = {r.rid: r for r in arch.resources()}
    assert not res[ResourceId.MBA].alloc_capable  # MB cannot hide CDP
    l3 = res[ResourceId.L3]
    d = l3.ctrl_domains[0]
    assert arch.update_one(l3, d, 3, CdpType.CODE, 0x0F) == 0
    assert arch.get_config(l3, d, 3, CdpType.CODE) == 0x0F
    assert arch.get_config(l3, d, 3, CdpType.DATA) == 0xFFFF
    assert "CDP is an expert feature and may cause MPAM to malfunction." in m.dmesg("warn")


def test_llc_occupancy_reads_through_a_csu_monitor(rdn2: Machine) -> None:
    arch = rdn2.resctrl_arch
    assert arch is not None
    l3 = next(r for r in arch.resources() if r.rid is ResourceId.L3)
    err, value = arch.rmid_read(l3, l3.mon_domains[0], 0, 0, EventId.LLC_OCCUPANCY)
    assert (err, value) == (0, 0)
    k = rdn2.driver.classes[next(iter(rdn2.driver.classes))]
    assert k.csu_mons_used == set()  # the monitor went back after the read
