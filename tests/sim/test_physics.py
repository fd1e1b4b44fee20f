"""Physics of the performance model, observed the way a user would: through resctrl.

Each test sets up tasks and groups, lets simulated time pass, and checks what the
monitors (llc_occupancy, mbm_total_bytes) and the tasks' counters report against what the
hardware's controls imply: a streaming task fills exactly its portions of the L3, a
bandwidth-bound group moves MBW_MAX of the channels' peak, a cache-sensitive task misses
less with more ways, partitioning protects a victim from a noisy neighbour, the monitors
count every byte, a seed decides everything, and set sampling stays close to the exact
simulation. Expectations are derived from the platform (cache size, portions, peak
bandwidth) and from the controls read back, not tuned to the model's output.

Set-sampled mode (1/16 of the sets) throughout, except where exact and sampled runs are
compared. `pytest -s` prints the measured figures.
"""

from __future__ import annotations

import importlib.resources
import itertools
from dataclasses import dataclass, fields

import numpy as np
import pytest

from mpam.driver.mpam_resctrl import percent_to_mbw_max
from mpam.kernel.boot import TICK_NS
from mpam.kernel.tasks import Task
from mpam.machine.machine import Machine
from mpam.platform import Platform, load
from mpam.platform.loader import from_toml_text
from mpam.resctrl.fs import ResctrlFs
from mpam.sim.engine import TaskStats

SAMPLE = 16
STREAM = "stream:footprint=64MiB"  # 8x the L3: every reference misses, every fill is new
DOMAIN = 49  # the L3's cache id, and the MB domain

RDN2 = load("rdn2")
L3 = RDN2.cache("L3")
L2 = RDN2.cache("L2")
NODE = RDN2.node(0)
PEAK = NODE.bandwidth / 1e9  # bytes per ns (GB/s) of the node, every channel
BWA_WD = next(r.features.mbw.bwa_wd for m in RDN2.mscs for r in m.ris if r.features.mbw)


def _hardlim_platform() -> Platform:
    """rdn2 whose memory MSCs implement only hard limits: MBW_MAX.HARDLIM reads as one."""
    text = (importlib.resources.files("mpam.platform") / "presets" / "rdn2.toml").read_text()
    old = "mbw = { bwa_wd = 8,"
    assert text.count(old) == 1
    return from_toml_text(text.replace(old, 'mbw = { max_lim = "hard", bwa_wd = 8,'))


@pytest.fixture(scope="module")
def hardlim() -> Platform:
    return _hardlim_platform()


# -- helpers --------------------------------------------------------------------------------


def boot(
    platform: Platform | str = "rdn2", *, sample: int = SAMPLE, seed: int = 0
) -> tuple[Machine, ResctrlFs]:
    m = Machine(platform, sample=sample, seed=seed).boot()
    fs = m.resctrl
    assert fs is not None
    assert fs.mount("") == 0
    return m, fs


def join(fs: ResctrlFs, path: str, tasks: list[Task]) -> None:
    """Move the tasks into the group at `path` ("" is the default group)."""
    for t in tasks:
        assert fs.write(f"{path}/tasks", str(t.pid)) > 0


def configure(fs: ResctrlFs, path: str, schemata: str) -> None:
    assert fs.write(f"{path}/schemata", schemata) == len(schemata), fs.read("/info/last_cmd_status")


def group(fs: ResctrlFs, path: str, tasks: list[Task], schemata: str = "") -> None:
    """Make a group, move the tasks into it, and write its schemata."""
    assert fs.mkdir(path) == 0
    join(fs, path, tasks)
    if schemata:
        configure(fs, path, schemata)


def ticks(m: Machine, n: int) -> None:
    m.run(n * TICK_NS)


def mon(fs: ResctrlFs, path: str, event: str) -> int:
    text = fs.read(f"{path}/mon_data/mon_L3_{DOMAIN}/{event}")
    assert isinstance(text, str), text
    return int(text)


def occupancy(fs: ResctrlFs, path: str) -> int:
    return mon(fs, path, "llc_occupancy")


def mbm(fs: ResctrlFs, path: str) -> int:
    return mon(fs, path, "mbm_total_bytes")


FIXED = ("pid", "workload", "frequency_ghz")  # TaskStats fields that are not counters


def delta(a: TaskStats, b: TaskStats) -> TaskStats:
    """The counters' change from `a` to `b`."""
    counters = [f.name for f in fields(TaskStats) if f.name not in FIXED]
    values = {name: getattr(b, name) - getattr(a, name) for name in counters}
    return TaskStats(b.pid, b.workload, frequency_ghz=b.frequency_ghz, **values)


def interval(m: Machine, pids: list[int], n: int) -> list[TaskStats]:
    """Run `n` ticks; what each task did in them."""
    before = [m.sim.task_stats(p) for p in pids]
    ticks(m, n)
    return [delta(a, m.sim.task_stats(p)) for a, p in zip(before, pids, strict=True)]


def schemata_mb(fs: ResctrlFs, path: str) -> int:
    """The MB percentage the group's schemata reads back."""
    text = fs.read(f"{path}/schemata")
    assert isinstance(text, str)
    for line in text.split():
        if line.startswith("MB:"):
            return int(line.split("=")[1])
    raise AssertionError(f"no MB line in {text!r}")


def mbw_max_fraction(percent: int) -> float:
    """The share of the peak MBW_MAX allows for a schemata percentage: the driver writes the
    nearest `BWA_WD`-bit band, and a max-type control allows up to its band's top."""
    return ((percent_to_mbw_max(percent, BWA_WD) >> (16 - BWA_WD)) + 1) / (1 << BWA_WD)


def near(measured: float, expected: float, rel: float = 0.05) -> bool:
    return abs(measured - expected) <= rel * expected


@dataclass
class Bandwidth:
    """A group's bytes over an interval: by its MBWU monitors and by its labels."""

    mbm: int
    labels: int

    def share(self, n: int) -> float:
        """Share of the node's peak over `n` ticks."""
        return self.mbm / (n * TICK_NS) / PEAK


def bandwidth(
    m: Machine, fs: ResctrlFs, paths: list[str], labels: list[tuple[int, int]], n: int
) -> list[Bandwidth]:
    """Run `n` ticks; each group's bytes moved in them (monitor and label sums)."""
    b0 = [mbm(fs, p) for p in paths]
    l0 = [m.sim.label_bytes(*lab) for lab in labels]
    ticks(m, n)
    return [
        Bandwidth(mbm(fs, p) - b, m.sim.label_bytes(*lab) - lb)
        for p, b, lab, lb in zip(paths, b0, labels, l0, strict=True)
    ]


# -- 1. cache portions ----------------------------------------------------------------------

N = next(r.features.cpor.cpbm_wd for m in RDN2.mscs for r in m.ris if r.features.cpor)
ALL = (1 << N) - 1  # every portion of the L3


def test_portions_match_resctrl() -> None:
    _, fs = boot()
    cbm_mask = fs.read("/info/L3/cbm_mask")
    assert isinstance(cbm_mask, str)
    assert bin(int(cbm_mask, 16)).count("1") == N
    assert L3.ways == N == 16  # one way per portion


@pytest.mark.parametrize("k", [1, 2, 4, 8, 16])
def test_stream_occupancy_settles_at_its_portions(k: int) -> None:
    """A stream allocates only into its k portions and fills them: k/N of the L3."""
    m, fs = boot()
    t = m.run_workload(STREAM, cpu=2)
    mask = ((1 << k) - 1) << ((N - k) // 2)  # contiguous, away from portion 0
    group(fs, "/g1", [t], f"L3:{DOMAIN}={mask:x}\n")
    ticks(m, 5)
    occ = occupancy(fs, "/g1")
    expected = k / N * L3.size
    print(f"\n  k={k:2d} mask={mask:04x}: occupancy {occ} B = {occ / L3.size:.4f} of the L3")
    assert near(occ, expected)
    assert occupancy(fs, "") == 0  # nothing else runs a workload


def test_occupancy_follows_schemata_changes() -> None:
    """Growing takes effect within a few ticks; shrinking evicts nothing by itself (lines
    above a reduced CPBM stay until someone replaces them), and a second stream given the
    freed portions takes them over."""
    m, fs = boot()
    group(fs, "/g1", [m.run_workload(STREAM, cpu=2)])

    def frac(path: str) -> float:
        return occupancy(fs, path) / L3.size

    print()
    for k in (1, 2, 4, 8, 16):
        configure(fs, "/g1", f"L3:{DOMAIN}={(1 << k) - 1:x}\n")
        ticks(m, 5)
        print(f"  grow g1 to {k:2d}/{N}: {frac('/g1'):.4f}")
        assert near(frac("/g1"), k / N)
    configure(fs, "/g1", f"L3:{DOMAIN}=f\n")
    ticks(m, 5)
    print(f"  shrink g1 to 4/{N}, alone: {frac('/g1'):.4f} (its lines stay)")
    assert frac("/g1") >= 0.95
    # A competitor in the freed portions replaces g1's lines there; g1 keeps its own. Then
    # g1 shrinks again with the competitor there, and grows back into the competitor's.
    group(fs, "/g2", [m.run_workload(STREAM, cpu=4)])
    for k in (4, 2, 8):
        mask = (1 << k) - 1
        configure(fs, "/g1", f"L3:{DOMAIN}={mask:x}\n")
        configure(fs, "/g2", f"L3:{DOMAIN}={ALL & ~mask:x}\n")
        ticks(m, 5)
        print(f"  g1 {k}/{N}, g2 {N - k}/{N}: g1 {frac('/g1'):.4f} g2 {frac('/g2'):.4f}")
        assert near(frac("/g1"), k / N)
        assert near(frac("/g2"), (N - k) / N)


# -- 2. memory bandwidth --------------------------------------------------------------------

HUNGRY = 8  # streaming tasks of a bandwidth-bound group: ~7 GB/s each at full load


def _hungry_group(m: Machine, fs: ResctrlFs, path: str, cpus: range) -> tuple[int, int]:
    tasks = [m.run_workload(STREAM, cpu=c) for c in cpus]
    group(fs, path, tasks)
    return tasks[0].labels.partid_d, tasks[0].labels.pmg_d


def test_hardlim_bandwidth_is_mbw_max_of_the_peak(hardlim: Platform) -> None:
    """With HARDLIM a group that wants more than the node's peak moves its MBW_MAX share of
    the peak (within 5%), linearly in the schemata's MB percentage."""
    m, fs = boot(hardlim)
    label = _hungry_group(m, fs, "/g1", range(HUNGRY))
    pids = [int(p) for p in fs.read("/g1/tasks").split()]
    expected, measured = [], []
    print()
    for x in range(10, 101, 10):
        configure(fs, "/g1", f"MB:{DOMAIN}={x}\n")
        percent = schemata_mb(fs, "/g1")
        want = mbw_max_fraction(percent)
        ch = m.sim.mem.channels
        m.sim.mem.refresh()
        assert np.all(ch.max_frac[:, label[0]] == want)  # what the registers hold
        assert np.all(ch.hard[:, label[0]] == 1)
        ticks(m, 3)  # settle
        before = [m.sim.task_stats(p).stall_ns for p in pids]
        (bw,) = bandwidth(m, fs, ["/g1"], [label], 5)
        stalled = sum(m.sim.task_stats(p).stall_ns - s for p, s in zip(pids, before, strict=True))
        got = bw.share(5)
        print(f"  MB={x:3d} (reads {percent}, MBW_MAX {want:.4f}): {got:.4f} of the peak")
        assert bw.mbm == bw.labels
        assert stalled > 0  # bandwidth-bound: the tasks waited for memory
        assert near(got, want)
        expected.append(want)
        measured.append(got)
    slope, intercept = np.polyfit(expected, measured, 1)
    residual = np.abs(np.polyval([slope, intercept], expected) - measured).max()
    print(f"  fit: slope {slope:.4f}, intercept {intercept:+.4f}, max residual {residual:.4f}")
    assert abs(slope - 1) < 0.05
    assert abs(intercept) < 0.02
    assert residual < 0.02


def test_soft_limit_alone_takes_idle_bandwidth() -> None:
    """Without HARDLIM a group over its MBW_MAX still gets bandwidth nobody else wants:
    alone, it moves what it would unlimited."""
    m, fs = boot()
    label = _hungry_group(m, fs, "/g1", range(HUNGRY))
    ticks(m, 3)
    (free,) = bandwidth(m, fs, ["/g1"], [label], 5)
    print(f"\n  unlimited: {free.share(5):.4f} of the peak")
    assert near(free.share(5), 1.0)  # demand exceeds the peak: the channels are saturated
    for x in (10, 30, 50):
        configure(fs, "/g1", f"MB:{DOMAIN}={x}\n")
        ticks(m, 3)
        (bw,) = bandwidth(m, fs, ["/g1"], [label], 5)
        print(f"  MB={x}: {bw.share(5):.4f} of the peak")
        assert bw.share(5) > mbw_max_fraction(schemata_mb(fs, "/g1"))
        assert near(bw.share(5), free.share(5))


def test_soft_limit_holds_against_a_hungry_group() -> None:
    """Without HARDLIM, against a group that wants all the bandwidth under its own maximum
    (100%), a limited group gets its MBW_MAX share and no more, and nothing is wasted."""
    m, fs = boot()
    lim = _hungry_group(m, fs, "/lim", range(HUNGRY))
    hog = _hungry_group(m, fs, "/hog", range(HUNGRY, 2 * HUNGRY))
    print()
    for x in (10, 20, 30, 40, 50):
        configure(fs, "/lim", f"MB:{DOMAIN}={x}\n")
        want = mbw_max_fraction(schemata_mb(fs, "/lim"))
        ticks(m, 3)
        a, b = bandwidth(m, fs, ["/lim", "/hog"], [lim, hog], 5)
        got, other = a.share(5), b.share(5)
        print(f"  MB={x}: limited {got:.4f} (MBW_MAX {want:.4f}), hungry {other:.4f}, "
              f"total {got + other:.4f}")  # fmt: skip
        assert near(got, want)
        assert got + other <= 1.0 + 1e-9  # the channels never exceed their peak
        assert near(got + other, 1.0)  # and the hungry group takes what the other leaves


# -- 3. miss ratio against portions ---------------------------------------------------------


def test_miss_ratio_falls_as_portions_grow() -> None:
    """A task over 6 MiB uniformly at random misses less with every doubling of its ways.

    With the L2's lines also in the L3 (fills go to both), a hit in a C-byte partition given
    an L2 miss is the chance that the line is among the C - L2 bytes the L3 adds:
    miss ratio ≈ 1 - (C - L2) / (F - L2) for a footprint F and L2 < C < F, 0 for C ≥ F.
    """
    footprint = 6 << 20
    ratios, ipcs = [], []
    print()
    for k in (1, 2, 4, 8, 16):
        m, fs = boot()
        t = m.run_workload(f"uniform:footprint={footprint >> 20}MiB", cpu=0)
        group(fs, "/g1", [t], f"L3:{DOMAIN}={(1 << k) - 1:x}\n")
        ticks(m, 10)  # warm up
        (d,) = interval(m, [t.pid], 10)
        ratios.append(d.llc_miss_ratio)
        ipcs.append(d.ipc)
        capacity = k / N * L3.size
        estimate = 1 - min(1.0, max(0.0, (capacity - L2.size) / (footprint - L2.size)))
        print(f"  {k:2d} ways: LLC miss ratio {d.llc_miss_ratio:.4f} "
              f"(estimate {estimate:.4f}), IPC {d.ipc:.4f}")  # fmt: skip
        if capacity > L2.size:
            assert abs(d.llc_miss_ratio - estimate) < 0.05
    assert all(a > b for a, b in itertools.pairwise(ratios)), ratios
    assert all(a < b for a, b in itertools.pairwise(ipcs)), ipcs


# -- 4. noisy neighbour ---------------------------------------------------------------------

VICTIM = "uniform:footprint=4MiB"
NOISY_CPUS = range(8, 16)


def _victim_ipc(mode: str) -> tuple[float, float]:
    m, fs = boot()
    v = m.run_workload(VICTIM, cpu=0)
    noisy = [m.run_workload(STREAM, cpu=c) for c in NOISY_CPUS] if mode != "alone" else []
    if mode == "partitioned":
        group(fs, "/victim", [v], f"L3:{DOMAIN}={ALL & ~3:x}\n")  # 14 of 16 ways: 7 MiB
        group(fs, "/noisy", noisy, f"L3:{DOMAIN}=3\nMB:{DOMAIN}=20\n")
    ticks(m, 10)
    (d,) = interval(m, [v.pid], 10)
    return d.ipc, d.llc_miss_ratio


def test_partitioning_protects_a_victim_from_noisy_neighbours() -> None:
    alone, alone_miss = _victim_ipc("alone")
    shared, shared_miss = _victim_ipc("shared")
    parted, parted_miss = _victim_ipc("partitioned")
    slow_shared, slow_parted = alone / shared, alone / parted
    print(f"\n  victim IPC alone {alone:.4f} (miss {alone_miss:.4f}); "
          f"shared {shared:.4f} (miss {shared_miss:.4f}, slowdown {slow_shared:.3f}); "
          f"partitioned {parted:.4f} (miss {parted_miss:.4f}, slowdown {slow_parted:.3f})")  # fmt: skip
    assert slow_shared > 1.5  # the streams flush its working set out of the shared L3
    assert slow_parted < slow_shared
    # Its 4 MiB fit in its 7 MiB that the streams cannot allocate into: nearly as if alone.
    # What remains are the few sets its random lines overfill in 14 ways instead of 16,
    # whose misses meet a channel the streams keep busy (MB 20% is a soft limit).
    assert parted_miss < 0.01
    assert slow_parted - 1 < (slow_shared - 1) / 10  # at least 90% of the slow-down gone


# -- 5. the monitors count every byte -------------------------------------------------------


def test_mbm_total_bytes_is_the_bytes_moved() -> None:
    m, fs = boot()
    root_task = m.run_workload(STREAM, cpu=5)
    ctrl_task = m.run_workload(STREAM, cpu=1)
    writer = m.run_workload("uniform:footprint=32MiB,writes=0.3", cpu=3)
    group(fs, "/g1", [ctrl_task, writer])
    group(fs, "/g1/mon_groups/m1", [writer])  # a task joins a monitor group of its own

    def lab(t: Task) -> tuple[int, int]:  # the (PARTID, PMG) its data accesses carry
        return t.labels.partid_d, t.labels.pmg_d

    assert lab(writer)[0] == lab(ctrl_task)[0] and lab(writer)[1] != lab(ctrl_task)[1]
    # resctrl's groups and the labels their counts cover
    groups = {
        "": [lab(root_task)],
        "/g1": [lab(ctrl_task), lab(writer)],  # a control group counts its monitor groups
        "/g1/mon_groups/m1": [lab(writer)],
    }
    ticks(m, 3)
    b0 = {p: mbm(fs, p) for p in groups}
    t0 = m.sim.traffic_total.copy()
    s0 = {t.pid: m.sim.task_stats(t.pid) for t in (root_task, ctrl_task, writer)}
    ticks(m, 5)
    moved = m.sim.traffic_total - t0
    print()
    for path, labels in groups.items():
        counted = mbm(fs, path) - b0[path]
        by_label = sum(int(moved[:, p, g].sum()) for p, g in labels)
        print(f"  {path or '/'}: mbm_total_bytes {counted}, label bytes {by_label}")
        assert counted == by_label > 0
    for t in (root_task, ctrl_task):  # read-only: every byte is a read of the task's
        read = m.sim.task_stats(t.pid).read_bytes - s0[t.pid].read_bytes
        assert int(moved[:, *lab(t), 0].sum()) == read
        assert int(moved[:, *lab(t), 1].sum()) == 0
    root_read = m.sim.task_stats(root_task.pid).read_bytes - s0[root_task.pid].read_bytes
    assert mbm(fs, "") - b0[""] == root_read
    assert int(moved[:, *lab(writer), 1].sum()) > 0  # the writer's dirty lines came back


# -- phases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("busy_ms", "quiet_ms"), [(1, 3), (3, 1), (6, 2)])
def test_phases_last_their_duration_not_a_tick(busy_ms: int, quiet_ms: int) -> None:
    """A workload of a memory-bound phase and a quiet one (almost no memory references)
    spends busy_ms / (busy_ms + quiet_ms) of its run time in the first, also when the
    phases are shorter than a 4 ms tick or end inside one: its bytes are that share of
    an always-busy task's. (Random lines over 1 GiB, so that a phase that starts again
    finds nothing of its last turn in the caches.)"""
    busy = "uniform:footprint=1GiB"
    phased = f"{busy},duration={busy_ms}ms+{busy},intensity=0.0001,duration={quiet_ms}ms"
    moved = []
    for spec in (busy, phased):
        m, _ = boot()
        t = m.run_workload(spec, cpu=0)
        ticks(m, 2)  # the phases' start is no different from their middle
        (d,) = interval(m, [t.pid], 24)
        moved.append(d.read_bytes)
    share = busy_ms / (busy_ms + quiet_ms)
    assert moved[1] / moved[0] == pytest.approx(share, abs=0.03)


# -- 6. determinism -------------------------------------------------------------------------

MIX = [  # (workload, CPU, group)
    ("uniform:footprint=6MiB,writes=0.2", 0, "/a"),
    ("zipf:footprint=16MiB,alpha=0.9", 2, "/a"),
    ("chase:footprint=8MiB", 4, "/b"),
    (STREAM, 6, "/b"),
    ("stream:footprint=32MiB,duration=8ms+uniform:footprint=2MiB,duration=8ms", 8, ""),
]


def _mixed_run(seed: int) -> tuple[list[dict[str, float | int | str]], np.ndarray, list[int]]:
    m, fs = boot(seed=seed)
    group(fs, "/a", [], f"L3:{DOMAIN}=ff\n")
    group(fs, "/b", [], f"L3:{DOMAIN}=ff00\nMB:{DOMAIN}=30\n")
    for spec, cpu, path in MIX:
        join(fs, path, [m.run_workload(spec, cpu=cpu)])
    ticks(m, 4)
    configure(fs, "/a", f"L3:{DOMAIN}=f\n")  # a change midway
    ticks(m, 4)
    stats = [s.as_dict() for s in m.sim.all_stats()]
    mons = [mon(fs, p, e) for p in ("", "/a", "/b") for e in ("llc_occupancy", "mbm_total_bytes")]
    return stats, m.sim.traffic_total.copy(), mons


def test_same_seed_same_everything_other_seed_differs() -> None:
    a, b, c = _mixed_run(7), _mixed_run(7), _mixed_run(8)
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1])
    assert a[2] == b[2]
    random_kinds = ("uniform", "zipf", "chase")
    for x, z in zip(a[0], c[0], strict=True):
        if str(x["workload"]).startswith(random_kinds):
            assert x != z, x["workload"]
    assert not np.array_equal(a[1], c[1])


# -- 7. set sampling against the exact simulation -------------------------------------------

SAMPLED_TOLERANCE = 0.05


def _one_task(sample: int, spec: str, mask: str) -> tuple[float, float, float]:
    m, fs = boot(sample=sample)
    t = m.run_workload(spec, cpu=0)
    group(fs, "/g1", [t], f"L3:{DOMAIN}={mask}\n")
    ticks(m, 5)  # warm up
    (d,) = interval(m, [t.pid], 5)
    return occupancy(fs, "/g1"), d.llc_miss_ratio, d.ipc


@pytest.mark.parametrize(
    ("spec", "mask"),
    [
        ("uniform:footprint=16MiB", "ff"),
        ("uniform:footprint=4MiB", "f"),
    ],
)
def test_sampled_mode_agrees_with_exact(spec: str, mask: str) -> None:
    exact = _one_task(1, spec, mask)
    sampled = _one_task(SAMPLE, spec, mask)
    errors = [s / e - 1 for s, e in zip(sampled, exact, strict=True)]
    print(f"\n  {spec} in L3:{DOMAIN}={mask}, exact vs 1/{SAMPLE}: "
          f"occupancy {exact[0]:.0f} vs {sampled[0]:.0f} ({errors[0]:+.2%}), "
          f"miss ratio {exact[1]:.4f} vs {sampled[1]:.4f} ({errors[1]:+.2%}), "
          f"IPC {exact[2]:.4f} vs {sampled[2]:.4f} ({errors[2]:+.2%})")  # fmt: skip
    assert abs(errors[0]) <= SAMPLED_TOLERANCE
    assert abs(errors[1]) <= SAMPLED_TOLERANCE
