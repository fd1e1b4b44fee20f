"""A new user's mistakes, one row each: every one gets a message that says what is wrong and
what there is instead, the documented exit status (1 refused, 2 usage), and never a Python
traceback or exception name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.machine import client

#: An exception class's name, as a leaked `KeyError: 99` would show it.
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception)\b")
PRESETS = "large, rdn2, tiny, two-socket"
TINY_CPUS = "the machine has CPUs 0-3"


def _run(runtime: Path, args: list[str]) -> tuple[int, str]:
    env = {"COLUMNS": "100", "MPAM_RUNTIME_DIR": str(runtime)}
    result = CliRunner().invoke(main, args, env=env, prog_name="mpam")
    return result.exit_code, result.output


def _check(code: int, out: str, want_code: int, message: str) -> None:
    assert code == want_code, out
    assert "Traceback" not in out
    assert not EXCEPTION_NAME.search(out), out
    if want_code == 1:  # a refusal is one line: the reason, nothing else
        assert out == f"Error: {message}\n"
    else:
        assert message in out


def _ids(table: list[tuple[list[str], int, str]]) -> list[str]:
    return [" ".join(args) for args, _, _ in table]


# (arguments, exit status, the message: the whole line for a refusal, a part for usage)
WITHOUT_A_MACHINE = [
    (["ps"], 1, "no machine is running: start one with `mpam boot`"),
    (["dmesg"], 1, "no machine is running: start one with `mpam boot`"),
    (["kill", "3"], 1, "no machine is running: start one with `mpam boot`"),
    (["cpu", "offline", "1"], 1, "no machine is running: start one with `mpam boot`"),
    (["shutdown"], 1, "no machine is running: start one with `mpam boot`"),
    (["ps", "--name", "nosuch"], 1,
     "no machine named 'nosuch' is running; no machine is running: start one with "
     "`mpam boot --name nosuch`"),
    (["umount", "somewhere"], 1, "umount somewhere: no machine is running"),
    (["boot", "-p", "nosuch"], 1, f"no preset named 'nosuch'; presets: {PRESETS}"),
    (["boot", "--name", "a/b"], 1,
     "'a/b' cannot name a machine: use letters, digits, '.', '_' and '-' (at most 64, "
     "starting with a letter or digit)"),
    (["inventory", "-p", "missing.toml"], 1,
     "missing.toml: cannot read: No such file or directory"),
    (["platform", "show", "nosuch"], 1, f"no preset named 'nosuch'; presets: {PRESETS}"),
    (["acpi", "decode", "missing-file"], 1, "missing-file: No such file or directory"),
    (["acpi", "build", "-p", "tiny", "--out", "/proc/mpam-tables"], 1,
     "/proc/mpam-tables: No such file or directory"),
    (["scenario", "nosuch"], 1, "no scenario named 'nosuch'; shipped: bandwidth-cap, noisy-neighbour"),
    (["step", "abc"], 1, "not a duration: 'abc' (use e.g. '10ms', '1s', '250us', '5ns')"),
    (["run", "--cpu", "0", "strem"], 1,
     "unknown workload kind 'strem' (one of stream, uniform, zipf, chase, strided, trace)"),
    (["run", "--cpu", "0", "stream:footprint=lots"], 1,
     "stream: footprint: not a size: 'lots' (use e.g. '64KiB', '8MiB', '51.2GB')"),
    (["run", "--cpu", "0", "stream+"], 1,
     "phase 2: empty phase (two '+' in a row, or one at an end)"),
    (["run", "--cpu", "0", "trace:path=missing.trace"], 1,
     "{cwd}/missing.trace: cannot read trace: No such file or directory"),
    (["nosuch"], 2, "No such command 'nosuch'"),
    (["run", "stream"], 2, "Missing option '--cpu'"),
    (["run", "--cpu", "x", "stream"], 2, "'x' is not a valid integer"),
    (["cpu", "offline"], 2, "Missing argument 'NUMBER'"),
    (["dmesg", "--level", "loud"], 2, "'loud' is not one of 'emerg'"),
    (["boot", "--sample", "0"], 2, "0 is not in the range x>=1"),
    (["trace", "--last", "-1"], 2, "-1 is not in the range x>=0"),
    (["acpi", "build"], 2, "Missing option '--out'"),
    (["acpi", "build", "-o", "x"], 2, "No such option '-o'"),
    (["scenario", "-o", "x", "noisy-neighbour"], 2, "No such option '-o'"),
    (["scenario"], 2, "give a scenario file or name (see --list)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "message"), WITHOUT_A_MACHINE, ids=_ids(WITHOUT_A_MACHINE)
)
def test_mistakes_without_a_machine(
    args: list[str], code: int, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _check(*_run(tmp_path / "run", args), code, message.format(cwd=tmp_path))
    assert client.running() == []  # nothing was booted on the way to the refusal


def test_list_and_status_say_no_machine_is_running(tmp_path: Path) -> None:
    assert _run(tmp_path, ["list"]) == (0, "no machine is running\n")
    assert _run(tmp_path, ["status"]) == (0, "no machine is running\n")


# With the shared tiny machine "err" running (tests/cli/conftest.py).
WITH_A_MACHINE = [
    (["run", "--cpu", "99", "stream"], 1, f"cpu 99 does not exist: {TINY_CPUS}"),
    (["run", "--cpu", "-1", "stream"], 1, f"cpu -1 does not exist: {TINY_CPUS}"),
    (["cpu", "offline", "99"], 1, f"cpu 99 does not exist: {TINY_CPUS}"),
    (["cpu", "online", "4"], 1, f"cpu 4 does not exist: {TINY_CPUS}"),
    (["kill", "9999"], 1, "no task with pid 9999 (see `mpam ps` for the tasks there are)"),
    (["kill", "1"], 1, "task 1 (sh) cannot be killed: only the tasks `mpam run` started can"),
    (["kill", "2"], 1,
     "task 2 (kthreadd) cannot be killed: only the tasks `mpam run` started can"),
    (["trace", "--msc", "nosuch"], 1, "no MSC named 'nosuch': the machine's MSCs are l3, mem0"),
    (["trace", "--cpu", "99"], 1, f"cpu 99 does not exist: {TINY_CPUS}"),
    (["trace", "--register", "MPAM9_EL1"], 1,
     "no register named 'MPAM9_EL1': use a name from the Arm MPAM specification, e.g. "
     "MPAM0_EL1, MPAM1_EL1, MPAMCFG_CPBM, MPAMCFG_MBW_MAX"),
    (["status", "--name", "nosuch"], 1,
     "no machine named 'nosuch' is running; running: err (see `mpam list`)"),
    (["dmesg", "-n", "mpam"], 1,
     "no machine named 'mpam' is running; running: err (see `mpam list`)"),
    (["boot", "-p", "tiny", "--name", "err"], 1,
     "a machine named 'err' is already running: boot another with --name NAME, or stop "
     "this one with `mpam shutdown --name err`"),
    (["mount", "missing-dir"], 1,
     "mount resctrl at missing-dir: the mount point does not exist: create it first "
     "(mkdir -p missing-dir)"),
    (["umount", "nowhere"], 1,
     "umount nowhere: not a resctrl mount of a running machine; no resctrl is mounted"),
    (["umount", "-n", "nosuch", "nowhere"], 1,
     "no machine named 'nosuch' is running; running: err (see `mpam list`)"),
    (["step", "1.5ns"], 1, "not a whole number of nanoseconds: '1.5ns'"),
    (["trace", "--kind", "sysreg", "--msc", "l3"], 2,
     "--msc picks MMIO accesses: --kind sysreg has none"),
    (["trace", "--kind", "mmio", "--cpu", "1"], 2,
     "--cpu picks system-register writes: --kind mmio has none"),
    (["trace", "--cpu", "1", "--msc", "l3"], 2,
     "--cpu picks system-register writes and --msc MMIO accesses: only an interrupt "
     "(--kind irq) has both; say one"),
    (["trace", "--kind", "irq", "--register", "MPAMF_ESR"], 2,
     "--register picks register accesses: --kind irq has none"),
    (["trace", "--kind", "mmio", "--register", "MPAM0_EL1"], 2,
     "MPAM0_EL1 is a system register: --kind mmio has none"),
    (["time", "--pause", "--resume"], 2, "--pause and --resume cannot go together: say one"),
    (["step", "99999999999999999999s"], 1,
     "a step is 0 to 3600 s of simulated time, not 1e+20 s: step in parts"),
    (["run", "--cpu", "1", "stream:footprint=999999TiB"], 1,
     "stream: footprint must be at most 256TiB (a 48-bit virtual address space), got 999999TiB"),
    (["run", "--cpu", "1", "stream:mlp=1e300"], 1,
     "stream: mlp must be in [1, 1024] (misses a core keeps in flight), got 1e300"),
    (["run", "--cpu", "1", "stream:cpi=1e300"], 1, "stream: cpi must be in (0, 1e+06], got 1e300"),
    (["run", "--cpu", "1", "stream:duration=99999999999999999999s"], 1,
     "stream: duration must be 0 to 1000000000s, got 99999999999999999999s"),
    (["time", "--name", "a b"], 1,
     "'a b' cannot name a machine: use letters, digits, '.', '_' and '-' (at most 64, "
     "starting with a letter or digit)"),
    (["time", "--name", "ab"], 1, "no machine named 'ab' is running; running: err (see `mpam list`)"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "code", "message"), WITH_A_MACHINE, ids=_ids(WITH_A_MACHINE))
def test_mistakes_with_a_machine(
    args: list[str],
    code: int,
    message: str,
    tiny_machine: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _check(*_run(tiny_machine, args), code, message)


def test_an_offline_cpu_and_the_last_cpu(tiny_machine: Path) -> None:
    assert _run(tiny_machine, ["cpu", "offline", "2"]) == (0, "")
    try:
        _check(*_run(tiny_machine, ["run", "--cpu", "2", "stream"]), 1,
               "cpu 2 is offline: bring it back with `mpam cpu online 2`")  # fmt: skip
        for cpu in ("1", "3"):
            assert _run(tiny_machine, ["cpu", "offline", cpu]) == (0, "")
        _check(*_run(tiny_machine, ["cpu", "offline", "0"]), 1,
               "cpu0: Device or resource busy (EBUSY): it is the last CPU online")  # fmt: skip
    finally:
        for cpu in ("1", "2", "3"):
            _run(tiny_machine, ["cpu", "online", cpu])
    assert "CPUs online: 0-3 of 4" in _run(tiny_machine, ["status"])[1]


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="FUSE cannot mount here")
def test_a_second_mount_names_the_first(tiny_machine: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    assert _run(tiny_machine, ["mount", str(first)]) == (0, "")
    try:
        _check(*_run(tiny_machine, ["mount", str(second)]), 1,
               f"mount resctrl at {second}: Device or resource busy (EBUSY): machine 'err' "
               f"has resctrl mounted at {first} already (one mount per machine: "
               f"`mpam umount {first}` first)")  # fmt: skip
        _check(*_run(tiny_machine, ["umount", str(second)]), 1,
               f"umount {second}: not a resctrl mount of a running machine; resctrl is "
               f"mounted at {first} (err)")  # fmt: skip
        code, out = _run(tiny_machine, ["list"])
        assert code == 0 and out.splitlines()[1].endswith(f"  {first}")
    finally:
        assert _run(tiny_machine, ["umount", "--name", "err", str(first)]) == (0, "")
    assert not os.path.ismount(first)


def test_a_bug_in_the_machine_is_refused_with_its_log(tiny_machine: Path) -> None:
    """A request the daemon fails on by its own fault (here: a malformed request no command
    sends) is answered with where the traceback is, and the machine keeps running."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(tiny_machine))
        machine = client.RunningMachine("err")
        with pytest.raises(client.MachineError) as e:
            machine.call("cpu")  # no "cpu" argument
        log = client.log_file("err")
        assert str(e.value) == (
            f"machine 'err' failed on this request ('cpu'); this is a bug in mpam: the "
            f"traceback is in {log}"
        )
        assert "Traceback" in log.read_text()
        with pytest.raises(client.MachineError, match=r"^unknown request 'nosuch'$"):
            machine.call("nosuch")
        assert machine.alive()


def test_list_shows_each_running_machine(tiny_machine: Path) -> None:
    code, out = _run(tiny_machine, ["list"])
    pid = int((tiny_machine / "err.pid").read_text())
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "PLATFORM", "PID", "SIMULATED", "TIME", "MOUNTS"]
    assert [row.split() for row in rows] == [["err", "tiny", str(pid), "0.091507", "s", "-"]]
