"""The reliability campaign, CI-sized (`mpam soak` runs it at full size): seeded random
resctrl operations through the real mount against an in-process twin, 8 concurrent
writers, a hotplug storm; the machine's registers checked against resctrl after every
step. And the check itself can fail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpam.machine import client
from mpam.machine.machine import Machine
from mpam.machine.soak import fuzz, hotplug, register_mismatches, writers

from .helpers import needs_fuse, run_cli, run_ok, shutdown_all

pytestmark = needs_fuse


@pytest.fixture
def mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, client.RunningMachine]]:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    point = tmp_path / "resctrl"
    point.mkdir()
    run_ok("boot", "-p", "rdn2", "--paused", "--name", "soak")
    run_ok("mount", "-n", "soak", str(point))
    try:
        yield point, client.RunningMachine("soak")
    finally:
        shutdown_all()


def _clean(t: object) -> None:
    assert (t.crashes, t.mismatches, t.lost) == (0, 0, 0), t.first_problem  # type: ignore[attr-defined]


def test_fuzzed_operations_match_the_twin(mounted: tuple[Path, client.RunningMachine]) -> None:
    point, machine = mounted
    twin = Machine("rdn2").boot()
    assert twin.resctrl is not None and twin.resctrl.mount("") == 0
    tally = fuzz(point, machine, twin, 1500, seed=7)
    _clean(tally)
    assert tally.operations == 1500
    assert 0 < tally.refusals < 1500  # it writes both what the kernel takes and refuses


def test_eight_writers_lose_nothing(mounted: tuple[Path, client.RunningMachine]) -> None:
    point, machine = mounted
    tally = writers(point, machine, 8, seconds=3, seed=3)
    _clean(tally)
    assert tally.operations > 8


def test_a_hotplug_storm_keeps_every_msc(mounted: tuple[Path, client.RunningMachine]) -> None:
    point, machine = mounted
    (point / "g").mkdir()
    (point / "g" / "schemata").write_text("L3:49=f0\nMB:49=30\n")
    tally = hotplug(machine, 150, seed=5)
    _clean(tally)
    assert tally.operations == 150


def test_the_register_check_finds_a_register_out_of_step() -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0 and fs.mkdir("g") == 0
    assert fs.write("g/schemata", "L3:49=f0\n") > 0
    now, traced = m.kernel.clock.now_ns, m.driver.mmio_traced
    assert register_mismatches(m) == []
    assert (m.kernel.clock.now_ns, m.driver.mmio_traced) == (now, traced)  # it only looks
    assert fs.groups is not None
    closid = next(g.closid for g in fs.groups.ctrl_groups if g.name == "g")
    assert closid != 0
    regs = m.driver.regs[m.driver.mscs[0].id]
    regs.part_sel(0, closid)
    regs.write("MPAMCFG_CPBM", 0xF)  # behind the driver's back, as a fault would
    assert register_mismatches(m)[0] == "group g: CPBM 0xf, schemata 0xf0"


def test_mpam_soak_prints_its_table() -> None:
    code, out = run_cli("soak", "--ops", "40", "--writers", "2", "--seconds", "1", "--cycles", "5")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["PART", "OPERATIONS", "REFUSALS", "CRASHES", "MISMATCHES", "LOST"]
    assert lines[1].startswith("fuzzed resctrl operations") and lines[1].split()[-3:] == ["0"] * 3
    assert lines[3].split()[:3] == ["hotplug", "cycles", "5"]


def _soak_daemons() -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mpam.fuse.serve" in argv and b"soak" in argv:
            found.add(int(proc.name))
    return found


def test_sigterm_ends_the_campaign_and_its_machine() -> None:
    before = _soak_daemons()
    proc = subprocess.Popen([sys.executable, "-m", "mpam.cli", "soak", "--ops", "10000000",
                             "--writers", "0", "--seconds", "0", "--cycles", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (daemon := _soak_daemons() - before) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert daemon, "the campaign's machine never started"
        time.sleep(2)  # into the fuzzing
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, out.decode()
        deadline = time.monotonic() + 30
        while _soak_daemons() & daemon and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _soak_daemons() & daemon, "its machine was left running"
    finally:
        proc.kill()
        proc.wait()
        for pid in _soak_daemons() - before:  # a machine this test left: its SIGTERM ends it
            os.kill(pid, signal.SIGTERM)
