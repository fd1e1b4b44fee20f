"""Scenarios played on a real background machine through its FUSE-mounted resctrl: the
events happen when the file says, the series measure what the tasks did, and a partition
changes what they do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mpam.machine import client
from mpam.machine.report import segments
from mpam.machine.scenario import ScenarioFailed, ScenarioRun, run_scenario
from mpam.platform import load
from mpam.sim.scenario import parse_scenario

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing: FUSE cannot mount here"
)

RDN2 = load("rdn2")
L3_BYTES = RDN2.cache("L3").size
PORTIONS = 16  # rdn2's L3 CPBM width


def _moved(run: ScenarioRun, name: str, i: int) -> int:
    ts = next(t for t in run.tasks if t.spec.name == name)
    read, write = ts.deltas["read_bytes"][i], ts.deltas["write_bytes"][i]
    return 0 if read is None or write is None else round(read + write)


def test_events_happen_when_the_file_says(noisy_run: ScenarioRun) -> None:
    assert noisy_run.times_ns == [20_000_000 * k for k in range(1, 31)]
    assert noisy_run.events == [
        (0, "start victim (pid 106) on CPU 3"),
        (200_000_000, "start noisy (pid 107) on CPU 2"),
        (400_000_000, "mkdir noisy"),
        (400_000_000, "echo L3:49=3 > noisy/schemata"),
        (400_000_000, "echo 107 > noisy/tasks"),
    ]
    noisy = noisy_run.tasks[1]
    assert noisy.deltas["run_ns"][:10] == [None] * 10  # not started yet
    assert noisy.group[:10] == [None] * 10
    assert noisy.group[10:20] == ["/"] * 10 and noisy.group[20:] == ["noisy"] * 10
    assert noisy_run.groups["noisy"].occupancy[:20] == [None] * 20  # made at 400 ms


def test_a_partition_tames_the_noisy_neighbour(noisy_run: ScenarioRun) -> None:
    alone, shared, partitioned = segments(noisy_run)
    ipc = [seg.tasks["victim"]["ipc"] for seg in (alone, shared, partitioned)]  # type: ignore[index]
    print(f"\n  victim IPC alone {ipc[0]:.3f}, shared {ipc[1]:.3f}, partitioned {ipc[2]:.3f}")
    assert ipc[1] < 0.8 * ipc[0]  # the stream evicts the victim's working set
    assert ipc[2] > 0.95 * ipc[0]  # confined to 2 ways, it no longer can
    # The victim's 4 MiB fit in the L3 when it runs alone; the stream's group holds 2 of
    # the 16 portions once partitioned.
    assert alone.groups["/"]["llc_occupancy_bytes"] == pytest.approx(4 << 20, rel=0.05)  # type: ignore[index]
    assert partitioned.groups["noisy"]["llc_occupancy_bytes"] == pytest.approx(  # type: ignore[index]
        2 / PORTIONS * L3_BYTES, rel=0.05
    )


@pytest.mark.parametrize("run_name", ["noisy_run", "bandwidth_run"])
def test_mbm_total_bytes_is_what_the_group_tasks_moved(
    run_name: str, request: pytest.FixtureRequest
) -> None:
    """Read through the mount each interval, a group's mbm_total_bytes grows by exactly the
    bytes its tasks moved to and from memory in that interval."""
    run: ScenarioRun = request.getfixturevalue(run_name)
    checked = 0
    for name, g in run.groups.items():
        for i, moved in enumerate(g.total_bytes):
            if moved is None:
                continue
            members = [t.spec.name for t in run.tasks if t.group[i] == name]
            assert moved == sum(_moved(run, t, i) for t in members), (name, i)
            checked += moved > 0
    assert checked >= len(run.times_ns)


def test_a_soft_bandwidth_cap_under_contention(bandwidth_run: ScenarioRun) -> None:
    shared, capped = segments(bandwidth_run)
    prod = [f"prod{i}" for i in range(4)]
    batch = [f"batch{i}" for i in range(4)]
    bw = {n: (shared.tasks[n]["mem_bytes_per_s"], capped.tasks[n]["mem_bytes_per_s"])  # type: ignore[index]
          for n in prod + batch}  # fmt: skip
    peak = RDN2.node(0).bandwidth
    total_before = sum(before for before, _ in bw.values())
    batch_after = capped.groups["batch"]["mbm_total_bytes_per_s"]  # type: ignore[index]
    total_after = batch_after + capped.groups["/"]["mbm_total_bytes_per_s"]  # type: ignore[index,operator]
    print(f"\n  channel {total_before / peak:.3f} -> {total_after / peak:.3f} of the peak; "
          f"batch group {batch_after / peak:.3f}")  # fmt: skip
    assert total_before > 0.95 * peak  # eight streams saturate the channel
    for n in prod:
        assert bw[n][1] > 1.03 * bw[n][0]  # served first once the batch is capped
    for n in batch:
        assert bw[n][1] < bw[n][0]
    assert total_after > 0.95 * peak  # a soft limit leaves nothing idle ...
    assert batch_after > 0.2 * peak  # ... so the batch group exceeds its 20%


MON = """
[scenario]
duration = "120ms"
interval = "40ms"
sample = 64

[[task]]
name = "a"
cpu = 0
workload = "stream:footprint=16MiB"
group = "g"
stop = "80ms"

[[task]]
name = "b"
cpu = 1
workload = "uniform:footprint=16MiB,intensity=0.1"
group = "g/mon_groups/m1"

[[action]]
at = 0
mkdir = "g"

[[action]]
at = 0
mkdir = "g/mon_groups/m1"

[[action]]
at = "80ms"
rmdir = "g/mon_groups/m1"
"""


def test_monitor_groups_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path))
    run = run_scenario(parse_scenario(MON))
    a, b = run.tasks
    assert a.group == ["g", "g", None] and a.deltas["run_ns"][2] is None  # killed at 80 ms
    assert b.group == ["g/mon_groups/m1", "g/mon_groups/m1", "g"]  # its group went away
    m1, g = run.groups["g/mon_groups/m1"], run.groups["g"]
    assert m1.total_bytes[2] is None and m1.occupancy[2] is None
    for i in range(2):  # a control group's counters include its monitor groups'
        assert g.total_bytes[i] == _moved(run, "a", i) + _moved(run, "b", i)
        assert m1.total_bytes[i] == _moved(run, "b", i) > 0
    assert g.total_bytes[2] == _moved(run, "b", 2) > 0
    assert (run.events[-2][1], run.events[-1][1]) == ("stop a (pid 106)", "rmdir g/mon_groups/m1")
    assert client.running() == []


def test_a_refused_write_stops_the_run_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path))
    bad = MON.replace('rmdir = "g/mon_groups/m1"', 'write = "g/schemata"\nvalue = "L3:49=0"')
    mounts_before = Path("/proc/mounts").read_text().count("fuse")
    with pytest.raises(ScenarioFailed) as e:
        run_scenario(parse_scenario(bad))
    assert str(e.value) == (
        "at 0.08 s: echo L3:49=0 > g/schemata: Invalid argument "
        "(last_cmd_status: Mask out of range)"
    )
    assert client.running() == []
    assert Path("/proc/mounts").read_text().count("fuse") == mounts_before
    # What only resctrl judges, such as a mount option, also ends the run cleanly.
    with pytest.raises(ScenarioFailed) as e:
        run_scenario(parse_scenario(MON.replace("[scenario]", '[scenario]\nmount = "bogus"')))
    assert str(e.value) == "mount resctrl: Invalid argument: Unknown parameter 'bogus'"
    assert client.running() == []
    assert Path("/proc/mounts").read_text().count("fuse") == mounts_before
