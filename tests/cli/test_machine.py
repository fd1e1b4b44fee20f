"""A running machine from the command line: a real background process per machine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.machine import client


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path))
    yield tmp_path
    for name in client.running():  # never leave a machine behind
        client.shutdown(client.RunningMachine(name))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_boot_ps_offline_dmesg_shutdown(runtime: Path) -> None:
    code, out = _run("boot", "--platform", "tiny", "--paused")
    assert code == 0, out
    assert out == "mpam: booted tiny (4 CPUs, 2 MSCs); MPAM enabled with 16 PARTIDs and 2 PMGs\n"
    assert (runtime / "mpam.sock").exists()
    pid = int((runtime / "mpam.pid").read_text())
    assert pid != os.getpid()

    code, out = _run("ps")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "NAME", "CPU", "STATE", "PARTID", "PMG"]
    assert lines[1].split() == ["1", "sh", "0", "S", "0", "0"]
    assert any(line.split()[1] == "[cpuhp/3]" for line in lines[1:])

    assert _run("cpu", "offline", "3") == (0, "")
    code, out = _run("status")
    assert "CPUs online: 0-2 of 4" in out
    code, out = _run("dmesg")
    assert out.splitlines()[-2:] == [
        "[    0.091504] CPU3: shutdown",
        "[    0.091504] psci: CPU3 killed (polled 0 ms)",
    ]
    assert "MPAM enabled with 16 PARTIDs and 2 PMGs" in out
    code, out = _run("cpu", "offline", "9")
    assert (code, out) == (1, "Error: cpu 9 does not exist: the machine has CPUs 0-3\n")
    assert _run("cpu", "online", "3") == (0, "")

    code, out = _run("trace", "--kind", "sysreg", "--cpu", "3", "--register", "MPAM1_EL1")
    assert code == 0 and "cpu3 pid 0 swapper/3: msr MPAM1_EL1" in out
    code, out = _run("trace", "--kind", "mmio", "--msc", "l3", "--last", "2")
    assert code == 0 and len(out.splitlines()) == 2 and all(" l3 " in x for x in out.splitlines())

    assert _run("shutdown") == (0, "mpam: shut down\n")
    assert not (runtime / "mpam.sock").exists()
    code, out = _run("ps")
    assert code == 1 and "no machine is running" in out


def test_several_machines_by_name(runtime: Path) -> None:
    assert _run("boot", "-p", "tiny", "--name", "a")[0] == 0
    assert _run("boot", "-p", "rdn2", "--name", "b")[0] == 0
    code, out = _run("ps")
    assert code == 1 and "2 machines are running (a, b): say which with --name" in out
    code, out = _run("status", "--name", "b")
    assert "platform rdn2" in out and "MPAM enabled with 64 PARTIDs and 2 PMGs" in out
    code, out = _run("boot", "--name", "a")
    assert code == 1 and "a machine named 'a' is already running" in out
    assert _run("shutdown", "--name", "a") == (0, "a: shut down\n")
    assert client.running() == ["b"]
    assert _run("shutdown") == (0, "b: shut down\n")


def test_boot_refuses_a_bad_platform(runtime: Path) -> None:
    code, out = _run("boot", "-p", "nonesuch")
    assert code == 1 and "no preset named 'nonesuch'" in out
    assert client.running() == []


def test_trace_filters_and_an_idle_client(runtime: Path) -> None:
    assert _run("boot", "-p", "rdn2")[0] == 0
    code, out = _run("trace", "--kind", "mmio", "--register", "MPAMCFG_CPBM", "--last", "3")
    assert code == 0 and len(out.splitlines()) == 3
    assert all("MPAMCFG_CPBM<0>" in line for line in out.splitlines())
    code, out = _run("trace", "--kind", "mmio", "--register", "MPAMCFG_MBW_MAX")
    assert out and all(" MPAMCFG_MBW_MAX " in line for line in out.splitlines())
    assert _run("trace", "--last", "0") == (0, "")
    # A client that connects and says nothing does not hold up the others.
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(str(runtime / "mpam.sock"))
    try:
        code, out = _run("status")
        assert code == 0 and "platform rdn2" in out
    finally:
        idle.close()


def test_a_second_daemon_of_the_same_name_stops_at_once(runtime: Path) -> None:
    assert _run("boot", "-p", "tiny")[0] == 0
    second = subprocess.run(
        [sys.executable, "-m", "mpam.fuse.serve", "--name", "mpam", "--platform", "tiny"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MPAM_RUNTIME_DIR": str(runtime)},
    )
    assert second.returncode == 1
    assert "a machine named 'mpam' is already running" in second.stderr
    assert client.running() == ["mpam"]  # the first one still answers
