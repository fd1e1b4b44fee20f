"""`mpam exporter`: a scrape parses with prometheus_client's own parser, and a group's
l3_llc_occupancy is its mon_data file read at the same simulated instant."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import needs_fuse, paused_machine, run_ok, write_once

pytestmark = needs_fuse


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    with paused_machine(tmp_path, monkeypatch, "tiny", "ex", mount="mount") as mnt:
        (mnt / "g1").mkdir()
        (mnt / "g1" / "mon_groups" / "m1").mkdir()
        pid = run_ok("run", "-n", "ex", "--cpu", "1", "stream:footprint=8MiB").strip()
        write_once(mnt / "g1" / "tasks", pid)
        run_ok("step", "-n", "ex", "50ms")
        listen = f"127.0.0.1:{_free_port()}"
        proc = subprocess.Popen([sys.executable, "-m", "mpam.cli", "exporter", "-n", "ex",
                                 "--listen", listen], stdout=subprocess.PIPE, text=True,
                                env=os.environ.copy())  # fmt: skip
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("serving machine 'ex' at http://")
        try:
            yield mnt, listen
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0


def test_a_scrape_is_what_the_files_say(served: tuple[Path, str]) -> None:
    mnt, listen = served
    text = urllib.request.urlopen(f"http://{listen}/metrics", timeout=30).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    occupancy = {(s.labels["rdt_class"], s.labels["rdt_mon_group"], s.labels["cache_id"]): s.value
                 for s in families["l3_llc_occupancy"].samples}  # fmt: skip
    assert set(occupancy) == {("system/default", "", "3"), ("g1", "", "3"), ("g1", "m1", "3")}
    assert occupancy[("g1", "", "3")] == int(
        (mnt / "g1/mon_data/mon_L3_03/llc_occupancy").read_text()
    )
    assert occupancy[("g1", "", "3")] > 0
    assert "l3_mbm_total_bytes" in families
    assert families["mpam_simulated_seconds"].samples[0].value > 0
    ipc = families["mpam_task_ipc"].samples
    assert [s.labels["workload"] for s in ipc] == ["stream:footprint=8MiB"] and ipc[0].value > 0


def test_a_port_in_use_is_one_line(served: tuple[Path, str]) -> None:
    _, listen = served
    proc = subprocess.run([sys.executable, "-m", "mpam.cli", "exporter", "-n", "ex", "--listen",
                           listen], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr == f"Error: exporter: cannot listen on {listen}: Address already in use\n"
