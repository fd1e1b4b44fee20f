"""A run's report: segment figures are sums of the intervals', the files hold the same
numbers as the run, and the plot is a real PNG."""

from __future__ import annotations

import csv
import json
import os
import struct
from pathlib import Path

import pytest

from mpam.machine.report import (
    GROUP_METRICS,
    TASK_METRICS,
    group_metrics,
    segments,
    task_metrics,
    to_json,
    write_results,
)
from mpam.machine.scenario import ScenarioRun

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing: FUSE cannot mount here"
)


def test_segments_are_cut_at_the_events(noisy_run: ScenarioRun) -> None:
    segs = segments(noisy_run)
    assert [(s.start_ns, s.end_ns) for s in segs] == [
        (0, 200_000_000), (200_000_000, 400_000_000), (400_000_000, 600_000_000),
    ]  # fmt: skip
    assert segs[0].events == ("start victim (pid 106) on CPU 3",)
    assert segs[2].events[0] == "mkdir noisy"
    assert segs[0].tasks["noisy"] is None and segs[0].groups.get("noisy") is None
    assert [s.task_groups["noisy"] for s in segs] == [None, "/", "noisy"]


def test_a_segment_sums_its_intervals(noisy_run: ScenarioRun) -> None:
    """Equal intervals: a segment's bandwidth is the mean of its intervals', its IPC their
    instructions over their cycles (not the mean of their IPCs)."""
    victim = noisy_run.tasks[0]
    per_interval = task_metrics(noisy_run, victim)
    for seg in segments(noisy_run):
        idx = [i for i, t in enumerate(noisy_run.times_ns) if seg.start_ns < t <= seg.end_ns]
        m = seg.tasks["victim"]
        assert m is not None
        rates = [per_interval[i]["mem_bytes_per_s"] for i in idx]  # type: ignore[index]
        assert m["mem_bytes_per_s"] == pytest.approx(sum(rates) / len(rates))  # type: ignore[arg-type]
        cycles = sum(victim.deltas["run_ns"][i] for i in idx) * victim.frequency_ghz  # type: ignore[misc]
        instructions = sum(victim.deltas["instructions"][i] for i in idx)  # type: ignore[misc]
        assert m["ipc"] == pytest.approx(instructions / cycles)
        occ = [o for i in idx if (o := noisy_run.groups["/"].occupancy[i]) is not None]
        g = seg.groups["/"]
        assert g is not None and g["llc_occupancy_bytes"] == pytest.approx(sum(occ) / len(occ))


def test_files_hold_the_run(noisy_run: ScenarioRun, tmp_path: Path) -> None:
    files = write_results(noisy_run, tmp_path / "out")
    assert [f.name for f in files] == [
        "tasks.csv",
        "groups.csv",
        "results.json",
        "noisy-neighbour.png",
    ]
    with files[0].open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["time_s", "task", "pid", "group", *TASK_METRICS]
    ran = {ts.spec.name: sum(d is not None for d in ts.deltas["run_ns"]) for ts in noisy_run.tasks}
    assert ran == {"victim": 30, "noisy": 20}
    assert len(rows) == 50
    victim = task_metrics(noisy_run, noisy_run.tasks[0])
    first = rows[0]
    assert (first["time_s"], first["task"], first["pid"], first["group"]) == (
        "0.02",
        "victim",
        "106",
        "/",
    )
    assert float(first["ipc"]) == victim[0]["ipc"]  # type: ignore[index]  # exact, not rounded
    with files[1].open() as f:
        grows = list(csv.DictReader(f))
    assert list(grows[0]) == ["time_s", "group", *GROUP_METRICS]
    # Byte counts are integers, written as integers: exact, with no exponent.
    root = [r for r in grows if r["group"] == "/"]
    expected = [m and m["llc_occupancy_bytes"] for m in group_metrics(noisy_run.groups["/"])]
    assert [int(r["llc_occupancy_bytes"]) for r in root] == [e for e in expected if e is not None]
    assert all(r["llc_occupancy_bytes"].isdigit() for r in root)
    assert {r["group"] for r in grows} == {"/", "noisy"}
    assert sum(r["group"] == "noisy" for r in grows) == 10
    doc = json.loads(files[2].read_text())
    assert doc == json.loads(json.dumps(to_json(noisy_run), allow_nan=False))
    assert doc["scenario"]["name"] == "noisy-neighbour" and len(doc["time_s"]) == 30
    assert doc["groups"][1]["path"] == "noisy"
    assert doc["groups"][1]["llc_occupancy_bytes"][20:] == [
        m["llc_occupancy_bytes"]
        for m in group_metrics(noisy_run.groups["noisy"])[20:]  # type: ignore[index]
    ]
    assert [s["tasks"]["noisy"] and s["tasks"]["noisy"]["group"] for s in doc["segments"]] == [
        None, "/", "noisy",
    ]  # fmt: skip
    png = files[3].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (900, 1000)


def test_gaps_idle_intervals_and_missing_counters() -> None:
    """A hand-made run: a task that starts late and then gets no CPU for an interval, a
    group whose counter reads Unassigned once."""
    from mpam.machine.scenario import GroupSeries, TaskSeries
    from mpam.sim.scenario import parse_scenario

    s = parse_scenario(
        '[scenario]\nduration = "120ms"\ninterval = "40ms"\n'
        '[[task]]\nname = "t"\ncpu = 0\nworkload = "stream"\nstart = "40ms"\n'
    )
    ts = TaskSeries(s.tasks[0], pid=106, group=[None, "/", "/"], frequency_ghz=2.0)
    ran = {"instructions": 8e7, "run_ns": 4e7, "llc_refs": 100.0, "llc_misses": 25.0,
           "read_bytes": 4e6, "write_bytes": 0.0, "stall_ns": 1e7}  # fmt: skip
    for f in ts.deltas:
        ts.deltas[f] = [None, ran[f], 0.0]
    g = GroupSeries("/", occupancy=[10, None, 30], total_bytes=[0, None, 8_000_000],
                    local_bytes=[None, None, None], seconds=[0.04, 0.04, 0.04])  # fmt: skip
    run = ScenarioRun(s, [40_000_000, 80_000_000, 120_000_000], [ts], {"/": g}, [])
    per = task_metrics(run, ts)
    assert per[0] is None
    assert per[1] == {"ipc": 1.0, "llc_miss_ratio": 0.25, "llc_mpki": 0.0003125,
                      "mem_bytes_per_s": 1e8, "stall_fraction": 0.25}  # fmt: skip
    assert per[2] == {"ipc": None, "llc_miss_ratio": None, "llc_mpki": None,
                      "mem_bytes_per_s": 0.0, "stall_fraction": None}  # fmt: skip
    early, late = segments(run)  # cut where the task starts
    assert early.tasks["t"] is None and early.groups["/"] == {
        "llc_occupancy_bytes": 10.0, "mbm_total_bytes_per_s": 0.0, "mbm_local_bytes_per_s": None,
    }  # fmt: skip
    m = late.tasks["t"]
    assert m is not None and m["ipc"] == 1.0  # the idle interval adds no cycles ...
    assert m["mem_bytes_per_s"] == 5e7  # ... but its time counts for the rate
    lg = late.groups["/"]
    assert lg is not None and lg["llc_occupancy_bytes"] == 30.0
    assert lg["mbm_total_bytes_per_s"] == pytest.approx(2e8)  # the unread interval is left out
    gm = group_metrics(g)
    assert gm[1] == {"llc_occupancy_bytes": None, "mbm_total_bytes_per_s": None,
                     "mbm_local_bytes_per_s": None}  # fmt: skip
    assert gm[2]["mbm_total_bytes_per_s"] == pytest.approx(2e8)  # type: ignore[index]
