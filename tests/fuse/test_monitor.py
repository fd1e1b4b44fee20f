"""`mpam monitor` on the noisy-neighbour setup: the victim group's occupancy and bandwidth,
read through its mon_data files, change as the noisy group's schemata changes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mpam.driver.msc_io import MMIO_WRITE_NS

from .helpers import needs_fuse, paused_machine, run_cli, run_ok, write_once

pytestmark = needs_fuse


@pytest.fixture
def neighbours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with paused_machine(tmp_path, monkeypatch, "rdn2", "nn", mount="mount") as mnt:
        for group, spec, cpu in (("victim", "zipf:footprint=6MiB,alpha=0.6", "1"),
                                 ("noisy", "stream:footprint=256MiB", "2")):  # fmt: skip
            (mnt / group).mkdir()
            pid = run_ok("run", "-n", "nn", "--cpu", cpu, spec).strip()
            write_once(mnt / group / "tasks", pid)
        yield mnt


def _rows(*args: str) -> list[dict[str, Any]]:
    code, out = run_cli("monitor", "-n", "nn", *args)
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines()]


def test_the_victim_recovers_when_the_noisy_group_is_confined(neighbours: Path) -> None:
    before = {r["group"]: r for r in _rows("--count", "2", "--format", "jsonl")[-3:]}
    assert set(before) == {"/", "victim", "noisy"}
    write_once(neighbours / "noisy" / "schemata", "L3:49=3\n")  # 2 of 16 ways
    rows = _rows("--count", "2", "--interval", "100ms", "--format", "jsonl")
    after = {r["group"]: r for r in rows[-3:]}
    # two intervals of 100 ms (and the monitors' own NRDY waits as they are read)
    assert 200_000_000 <= after["victim"]["time_ns"] - before["victim"]["time_ns"] < 205_000_000
    v0, v1 = before["victim"], after["victim"]
    assert v1["llc_occupancy_bytes"] > 2 * v0["llc_occupancy_bytes"]
    assert v1["mbm_total_bytes_per_s"] < v0["mbm_total_bytes_per_s"] / 2
    assert v1["ipc"] > v0["ipc"]
    # the same figure a client reads: occupancy is the group's mon_data file
    mon = neighbours / "victim" / "mon_data"
    occupancy = sum(int((d / "llc_occupancy").read_text()) for d in mon.iterdir())
    assert occupancy == v1["llc_occupancy_bytes"]
    assert after["/"]["ipc"] is None and after["victim"]["mbm_local_bytes_per_s"] is None


def test_per_task_rows_and_csv(neighbours: Path) -> None:
    tasks = _rows("--count", "1", "--tasks", "--format", "jsonl")
    assert [(t["workload"], t["group"]) for t in tasks] == [
        ("zipf:footprint=6MiB,alpha=0.6", "victim"),
        ("stream:footprint=256MiB", "noisy"),
    ]
    code, out = run_cli("monitor", "-n", "nn", "--count", "1", "--format", "csv")
    assert code == 0, out
    assert out.splitlines()[0] == ("time_ns,group,ipc,llc_misses_per_s,llc_occupancy_bytes,"
                                   "mbm_total_bytes_per_s,mbm_local_bytes_per_s")  # fmt: skip
    assert len(out.splitlines()) == 4


def test_a_trace_of_one_schemata_write(neighbours: Path) -> None:
    """Between a mark and now: on every SLC slice, PART_SEL selecting the group's PARTID,
    then the registers the driver programs for it (the CPBM, and the CMAX it rewrites)."""
    mark = run_ok("trace", "-n", "nn", "--mark").strip()
    write_once(neighbours / "victim" / "schemata", "L3:49=3ff\n")
    lines = run_ok("trace", "-n", "nn", "--since", mark).splitlines()
    slices = [f"slc{n}" for n in range(8)]
    expected = []
    for msc in slices:
        expected += [
            f"{msc} write 0x0100 MPAMCFG_PART_SEL = 0x00000001 PARTID_SEL=1 INTERNAL=0 "
            "INGRESS_TL=0 DEFAULT_PARTID=0 RIS=0",
            f"{msc} write 0x1000 MPAMCFG_CPBM<0> = 0x000003ff [partid 1 ris 0]",
            f"{msc} write 0x0108 MPAMCFG_CMAX = 0x0000ffff [partid 1 ris 0] CMAX=65535 SOFTLIM=0",
        ]
    assert [line.split("] ", 1)[1] for line in lines] == expected
    # each write takes its time, so they are stamped one after another, to the nanosecond
    stamps = [round(float(line[1:].split("]", 1)[0]) * 1e9) for line in lines]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {MMIO_WRITE_NS}
    assert (
        run_ok("trace", "-n", "nn", "--since", run_ok("trace", "-n", "nn", "--mark").strip()) == ""
    )


def test_trace_follow_streams_what_comes(neighbours: Path) -> None:
    follow = subprocess.Popen([sys.executable, "-m", "mpam.cli", "trace", "-n", "nn", "--kind",
                               "mmio", "--follow"], stdout=subprocess.PIPE, text=True,
                              env=os.environ.copy())  # fmt: skip
    assert follow.stdout is not None
    try:
        time.sleep(1.5)  # it has taken its first mark
        write_once(neighbours / "noisy" / "schemata", "L3:49=f\n")
        first = follow.stdout.readline()
        assert "slc0 write 0x0100 MPAMCFG_PART_SEL = 0x00000002 PARTID_SEL=2" in first
    finally:
        follow.kill()
        follow.wait()


def test_a_perfetto_trace_has_a_track_per_msc_and_cpu(neighbours: Path) -> None:
    mark = run_ok("trace", "-n", "nn", "--mark").strip()
    write_once(neighbours / "victim" / "schemata", "L3:49=ff\n")
    victim = (neighbours / "victim" / "tasks").read_text().strip()
    write_once(neighbours / "tasks", victim)  # its CPU switches to the new label at once
    run_ok("step", "-n", "nn", "10ms")
    doc = json.loads(run_ok("trace", "-n", "nn", "--since", mark, "--format", "perfetto"))
    events = doc["traceEvents"]
    names = {(e["pid"], e["args"]["name"]) for e in events if e["name"] == "thread_name"}
    assert {(1, f"slc{n}") for n in range(8)} <= names
    assert any(pid == 2 and name.startswith("cpu") for pid, name in names)  # context switches
    writes = [e for e in events if e.get("cat") == "mmio" and e["name"] == "write MPAMCFG_CPBM<0>"]
    assert len(writes) == 8 and {w["args"]["selected"] for w in writes} == {"partid 1 ris 0"}
    assert all(isinstance(e["ts"], float) for e in events if e["ph"] == "i")
