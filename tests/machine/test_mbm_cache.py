"""mbm_total_bytes read from a cache's MBWU monitors, in process, through resctrl.

On two-socket the driver counts mbm_total_bytes with the L3 class's MBWU monitors (its
memory-side L2 bandwidth RISes keep the memory class from it), so the L3 MSCs must count
what crosses each L3 towards memory: IHI0099's MSMON_MBWU counts the bytes transferred
that meet MSMON_CFG_MBWU_FLT/_CTL at the point the MSC measures, and a cache measures its
egress (lines fetched on a miss, writes passed on, dirty lines written back). Everything
an L3 sends to memory goes to its own node's channels, so each domain's count is exactly
the bytes its labels moved on that node's channels. The same holds on any description
whose cache MSCs have MBWU monitors (tiny given them here), and for an inner cache's
egress (two-socket's L2 bandwidth RIS, read through its registers).
"""

from __future__ import annotations

import importlib.resources
import itertools

import numpy as np

from mpam.hw.msc import Msc
from mpam.hw.pcc import PccMsc
from mpam.hw.regmap import field, reg
from mpam.kernel.boot import TICK_NS
from mpam.kernel.tasks import Task
from mpam.machine.machine import Machine
from mpam.platform import Platform
from mpam.platform.loader import from_toml_text
from mpam.resctrl.fs import ResctrlFs

SAMPLE = 16
STREAM = "stream:footprint=64MiB"  # twice an L3: every reference misses every level


def boot(platform: Platform | str = "two-socket") -> tuple[Machine, ResctrlFs]:
    m = Machine(platform, sample=SAMPLE, seed=1).boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    return m, fs


def mbm(fs: ResctrlFs, group: str, domain: str) -> int:
    text = fs.read(f"{group}/mon_data/mon_L3_{domain}/mbm_total_bytes")
    assert isinstance(text, str), text
    return int(text)


def join(fs: ResctrlFs, group: str, task: Task) -> None:
    assert fs.mkdir(group) == 0
    assert fs.write(f"{group}/tasks", str(task.pid)) > 0


def label(t: Task) -> tuple[int, int]:
    return t.labels.partid_d, t.labels.pmg_d


def node_bytes(m: Machine, moved: np.ndarray, node: int, lab: tuple[int, int]) -> np.ndarray:
    """Bytes (read, write) the label moved on the node's channels."""
    channels = [ch for (n, _), ch in m.sim.mem.channel_of.items() if n == node]
    total: np.ndarray = moved[channels][:, lab[0], lab[1]].sum(axis=0)
    return total


def test_two_socket_mbm_total_bytes_counts_each_l3s_egress() -> None:
    m, fs = boot()
    assert fs.read("info/L3_MON/mon_features") == "llc_occupancy\nmbm_total_bytes\n"
    reader = m.run_workload(STREAM, cpu=2)  # package 0: L3 id 0, node 0
    writer = m.run_workload("uniform:footprint=128MiB,writes=0.3", cpu=20)  # package 1
    idle = m.kernel.tasks.spawn("sleeper", ppid=1, cpus_allowed={5}, cpu=5)  # no workload
    join(fs, "/reader", reader)
    join(fs, "/writer", writer)
    join(fs, "/idle", idle)
    groups = {"/reader": reader, "/writer": writer, "/idle": idle}
    domains = {"00": 0, "01": 1}
    m.run(2 * TICK_NS)  # warm up: the writer's lines start coming back dirty
    before = {(g, d): mbm(fs, g, d) for g in groups for d in domains}
    t0 = m.sim.traffic_total.copy()
    history = [mbm(fs, "/reader", "00")]
    for _ in range(4):
        m.run(2 * TICK_NS)
        history.append(mbm(fs, "/reader", "00"))
    moved = m.sim.traffic_total - t0
    print()
    for g, task in groups.items():
        for d, node in domains.items():
            counted = mbm(fs, g, d) - before[(g, d)]
            by_label = node_bytes(m, moved, node, label(task))
            print(f"  {g} mon_L3_{d}: mbm_total_bytes +{counted}, label bytes {by_label}")
            assert counted == int(by_label.sum())
    assert all(b > a for a, b in itertools.pairwise(history))  # grows all along
    read = node_bytes(m, moved, 0, label(reader))
    assert read[0] == history[-1] - history[0] > 0 and read[1] == 0
    written = node_bytes(m, moved, 1, label(writer))
    assert written[0] > 0 and written[1] > 0  # its fetches and its dirty lines' write-backs
    assert mbm(fs, "/reader", "01") == before[("/reader", "01")] == 0  # the other socket's
    assert mbm(fs, "/writer", "00") == 0
    assert all(mbm(fs, "/idle", d) == 0 for d in domains)  # a task that does nothing


def _select(m: Msc, mon: int, ris: int) -> None:
    sel = reg("MSMON_CFG_MON_SEL")
    m.write32(sel.offset, sel.field("MON_SEL").prep(mon) | sel.field("RIS").prep(ris))


def test_two_socket_l2_bandwidth_ris_counts_what_its_l2_draws() -> None:
    """RIS 1 of each L2 MSC measures the L2's traffic to the interconnect (a memory-side
    cache locator naming the L2): programmed here through its registers, since resctrl
    has no use for it. A read-only stream misses the L2 on every reference, so the L2
    draws exactly what the task reads."""
    m, fs = boot()
    task = m.run_workload(STREAM, cpu=2)  # cluster 0 of package 0: L2 id 512
    join(fs, "/g", task)
    partid, pmg = label(task)
    msc = m.hw.msc("l2-p0c0")
    regs = msc.msc if isinstance(msc, PccMsc) else msc
    flt, ctl = reg("MSMON_CFG_MBWU_FLT"), reg("MSMON_CFG_MBWU_CTL")
    match = field(ctl.name, "MATCH_PARTID").mask | field(ctl.name, "MATCH_PMG").mask
    for mon, p in ((0, partid), (1, partid + 1)):
        _select(regs, mon, ris=1)
        regs.write32(flt.offset, flt.field("PARTID").prep(p) | flt.field("PMG").prep(pmg))
        regs.write32(ctl.offset, match | field(ctl.name, "EN").mask)
    s0 = m.sim.task_stats(task.pid)
    m.run(4 * TICK_NS)
    read = m.sim.task_stats(task.pid).read_bytes - s0.read_bytes
    value_l = reg("MSMON_MBWU_L")
    counts = []
    for mon in (0, 1):
        _select(regs, mon, ris=1)
        counts.append(regs.read32(value_l.offset) | regs.read32(value_l.offset + 4) << 32)
    print(f"\n  L2#0 egress of the stream's label: {counts[0]} bytes; task read {read}")
    assert counts == [int(read), 0] and read > 0


def _tiny_with_l3_mbwu() -> Platform:
    """tiny whose L3 MSC also has MBWU monitors (read/write filter, 44-bit long counters):
    the driver then reads mbm_total_bytes from the L3, the class nearest it."""
    text = (importlib.resources.files("mpam.platform") / "presets" / "tiny.toml").read_text()
    old = "msmon = { csu = { num_mon = 8 } }"
    assert text.count(old) == 1
    new = "msmon = { csu = { num_mon = 8 }, mbwu = { num_mon = 32, has_rwbw = true, has_long = true } }"
    return from_toml_text(text.replace(old, new))


def test_any_platform_whose_cache_msc_has_mbwu_monitors_counts_its_egress() -> None:
    m, fs = boot(_tiny_with_l3_mbwu())
    mem = m.sim.mem
    assert [mem.names[b.index] for b in mem.egress_bindings] == ["L3#0"]
    reader = m.run_workload(STREAM, cpu=0)
    writer = m.run_workload("uniform:footprint=8MiB,writes=0.3", cpu=1)
    join(fs, "/reader", reader)
    join(fs, "/writer", writer)
    m.run(2 * TICK_NS)
    before = {g: mbm(fs, g, "03") for g in ("/reader", "/writer")}
    # the driver read the L3's monitors, not the memory channel's
    watching = {b.msc.name: b.ris.mbwu is not None and b.ris.mbwu.any_enabled()
                for b in (*mem.cache_bindings, *mem.channel_bindings)}  # fmt: skip
    assert watching == {"l3": True, "mem0": False}
    t0 = m.sim.traffic_total.copy()
    m.run(4 * TICK_NS)
    moved = m.sim.traffic_total - t0
    for g, task in (("/reader", reader), ("/writer", writer)):
        p, q = label(task)
        counted = mbm(fs, g, "03") - before[g]
        print(f"\n  {g}: mbm_total_bytes +{counted}, bytes moved {moved[:, p, q].sum(axis=0)}")
        assert counted == int(moved[:, p, q].sum()) > 0
    p, q = label(writer)
    assert moved[:, p, q, 1].sum() > 0  # the writer's dirty lines came back, and counted
