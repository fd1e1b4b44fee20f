"""mbm_total_bytes on two-socket, through the real FUSE mount, as a monitoring agent reads it.

The driver counts mbm_total_bytes there with the L3 MSCs' MBWU monitors, which count what
crosses each L3 towards memory (IHI0099 MSMON_MBWU: the bytes transferred that meet the
monitor's filter, at the point its MSC measures; a cache's egress). A read-only stream
misses the L3 on every reference, so its group's count grows by exactly the bytes the
task reads, on its own socket's domain only; a group whose task does nothing stays flat.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpam.machine import client

from .helpers import needs_fuse, paused_machine, run_ok, write_once

pytestmark = needs_fuse
_write = write_once

NAME = "mbm2s"


_run = run_ok


@pytest.fixture
def mnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with paused_machine(tmp_path, monkeypatch, "two-socket", NAME, mount="mount") as point:
        yield point


def _mbm(mnt: Path, group: str, domain: str) -> int:
    return int((mnt / group / "mon_data" / f"mon_L3_{domain}" / "mbm_total_bytes").read_text())


def _read_bytes(pid: int) -> float:
    rows = client.RunningMachine(NAME).call("stats")
    return float(next(r["read_bytes"] for r in rows if r["pid"] == pid))


def test_mbm_total_bytes_grows_with_a_stream_and_stays_flat_for_an_idle_group(mnt: Path) -> None:
    assert sorted(os.listdir(mnt / "mon_data")) == ["mon_L3_00", "mon_L3_01"]
    os.mkdir(mnt / "busy")
    os.mkdir(mnt / "idle")
    pid = int(_run("run", "-n", NAME, "--cpu", "2", "stream:footprint=64MiB").strip())
    _write(mnt / "busy" / "tasks", f"{pid}\n")
    _write(mnt / "idle" / "tasks", "1\n")  # the shell: no workload, no traffic
    assert (mnt / "idle" / "tasks").read_text() == "1\n"
    _run("step", "-n", NAME, "8ms")
    counts, reads = [_mbm(mnt, "busy", "00")], [_read_bytes(pid)]
    for _ in range(3):
        _run("step", "-n", NAME, "8ms")
        counts.append(_mbm(mnt, "busy", "00"))
        reads.append(_read_bytes(pid))
        assert counts[-1] > counts[-2]  # grows while the stream runs
    print(f"\n  busy mon_L3_00 mbm_total_bytes: {counts}; task read bytes: {reads}")
    assert counts[-1] - counts[0] == reads[-1] - reads[0] > 0
    assert _mbm(mnt, "busy", "01") == 0  # the other socket's L3 carried none of it
    assert [_mbm(mnt, "idle", d) for d in ("00", "01")] == [0, 0]
