"""Who may steer a machine, and where its files go: only its owner and root (SO_PEERCRED),
a private runtime directory refused when it is not, names that are names, and private
files whatever the umask."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.machine import client


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    run = tmp_path / "run"
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(run))
    yield run
    try:
        names = client.running()
    except client.MachineError:
        return  # a directory the test made unsafe: no machine could start there
    for name in names:
        client.shutdown(client.RunningMachine(name))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["../x", "/tmp/abs", "a/b", "", "a\nb", ".hidden", "x" * 65])
def test_a_name_is_one_path_component(runtime: Path, name: str) -> None:
    for argv in (["boot", "-p", "tiny", "--name", name], ["status", "--name", name]):
        code, out = _run(*argv)
        assert code == 1, out
        assert out.startswith(f"Error: {name!r} cannot name a machine: use letters, digits")
        assert "Traceback" not in out
    assert not (runtime.parent / "x.sock").exists() and not Path("/tmp/abs.sock").exists()


def test_a_runtime_directory_others_can_enter_is_refused(runtime: Path) -> None:
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    code, out = _run("boot", "-p", "tiny")
    assert code == 1
    assert out == (
        f"Error: the runtime directory {runtime} is not safe to use: its mode is 0755: others "
        "may enter it (want 0700); remove it, or set MPAM_RUNTIME_DIR to a directory of your "
        "own\n"
    )
    assert os.listdir(runtime) == []  # nothing was written there


def test_a_symlinked_runtime_directory_is_refused(runtime: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    runtime.symlink_to(elsewhere)
    code, out = _run("list")
    assert code == 1
    assert "is not safe to use: it is a symbolic link" in out
    assert os.listdir(elsewhere) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the directory to another user")
def test_a_runtime_directory_of_another_user_is_refused(runtime: Path) -> None:
    runtime.mkdir(mode=0o700)
    os.chown(runtime, 65534, 65534)
    code, out = _run("status")
    assert code == 1
    assert f"it belongs to uid 65534, not to you (uid {os.getuid()})" in out


def test_files_are_private_whatever_the_umask(runtime: Path) -> None:
    old = os.umask(0)
    try:
        assert _run("boot", "-p", "tiny", "--paused")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    for f in ("mpam.sock", "mpam.log", "mpam.pid", "mpam.lock"):
        mode = stat.S_IMODE((runtime / f).lstat().st_mode)
        assert mode & 0o077 == 0, f"{f} is {mode:04o}"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_only_the_owner_and_root_may_steer_it(runtime: Path) -> None:
    assert _run("boot", "-p", "tiny", "--paused")[0] == 0
    # as if the files had been left open to all (umask 000, a wide directory): the other
    # user reaches the socket through a descriptor of it, and the machine still asks who
    # is calling
    (runtime / "mpam.sock").chmod(0o666)
    path_fd = os.open(runtime / "mpam.sock", os.O_PATH)
    request = json.dumps({"op": "cpu", "args": {"cpu": 1, "online": False}})
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.connect('/proc/self/fd/{path_fd}')\n"
        f"s.sendall({request!r}.encode() + b'\\n')\n"
        "sys.stdout.write(s.makefile().readline())\n"
    )
    try:
        # from / with a plain environment: nothing of root's for `nobody` to trip on
        proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                               "/usr/bin/python3", "-I", "-c", code], capture_output=True,
                              text=True, timeout=60, pass_fds=[path_fd], cwd="/",
                              env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    finally:
        os.close(path_fd)
    assert proc.stdout, proc.stderr
    assert json.loads(proc.stdout) == {
        "ok": False,
        "error": "machine 'mpam' belongs to uid 0: only its owner and root may use it",
    }
    assert "CPUs online: 0-3 of 4" in _run("status")[1]  # nothing changed
    log = (runtime / "mpam.log").read_text()
    assert "refused a connection from uid 65534 (pid " in log


def test_a_step_is_bounded_and_can_be_stopped(runtime: Path) -> None:
    assert _run("boot", "-p", "tiny", "--paused")[0] == 0
    code, out = _run("step", "99999999999999999999s")
    assert (code, out) == (1, "Error: a step is 0 to 3600 s of simulated time, not 1e+20 s: "
                              "step in parts\n")  # fmt: skip
    assert _run("run", "--cpu", "1", "stream:footprint=8MiB")[0] == 0
    machine = client.RunningMachine("mpam")
    start = machine.call("time")["now_ns"]
    result: list[int] = []
    stepper = threading.Thread(target=lambda: result.append(machine.call("step", ns=3000 * 10**9,
                                                                         wait_s=None)))  # fmt: skip
    stepper.start()
    # the machine answers while the step runs, and pausing the clock stops the step
    for _ in range(2000):
        if machine.call("time")["now_ns"] > start:
            break
        time.sleep(0.005)
    assert machine.call("status")["platform"] == "tiny"
    machine.call("time", pause=True)
    stepper.join(timeout=120)
    assert not stepper.is_alive()
    assert 0 < result[0] < 3000 * 10**9


def _pid(runtime: Path, name: str = "mpam") -> int:
    return int((runtime / f"{name}.pid").read_text())


def _wait_gone(pid: int) -> None:
    for _ in range(400):
        if not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text():
            return
        time.sleep(0.025)
    raise AssertionError(f"process {pid} did not exit")


def _mounted_then(runtime: Path, tmp_path: Path, signum: int) -> Path:
    """A tiny machine with resctrl mounted, sent `signum` and gone: its mount point."""
    point = tmp_path / "resctrl"
    point.mkdir()
    assert _run("boot", "-p", "tiny", "--paused")[0] == 0
    assert _run("mount", str(point))[0] == 0
    pid = _pid(runtime)
    os.kill(pid, signum)
    _wait_gone(pid)
    return point


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing")
def test_sigterm_unmounts_and_exits(runtime: Path, tmp_path: Path) -> None:
    point = _mounted_then(runtime, tmp_path, signal.SIGTERM)
    assert not os.path.ismount(point)
    assert not (runtime / "mpam.sock").exists() and not (runtime / "mpam.pid").exists()


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing")
def test_shutdown_takes_a_mount_still_in_use(runtime: Path, tmp_path: Path) -> None:
    """A mount in use (a file held open in it) refuses `mpam umount` as umount(2) does and
    goes on working; the machine going away still takes it, as `umount -l` would, and the
    holder is told rather than left with a dead mount."""
    point = tmp_path / "resctrl"
    point.mkdir()
    assert _run("boot", "-p", "tiny", "--paused")[0] == 0
    assert _run("mount", str(point))[0] == 0
    held = os.open(point / "schemata", os.O_RDONLY)
    try:
        assert _run("umount", str(point)) == (
            1, f"Error: umount {point}: Device or resource busy (EBUSY)\n")  # fmt: skip
        assert os.path.ismount(point) and (point / "cpus_list").read_text() == "0-3\n"
        assert _run("shutdown")[0] == 0
        assert not os.path.ismount(point)
        with pytest.raises(OSError):
            os.pread(held, 100, 0)
    finally:
        os.close(held)


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing")
def test_what_a_killed_machine_leaves_is_listed_and_cleared(runtime: Path, tmp_path: Path) -> None:
    point = _mounted_then(runtime, tmp_path, signal.SIGKILL)
    assert _run("list")[1] == (
        f"no machine is running\nmpam: gone (it died; its files are left in {runtime}: "
        "`mpam boot --name mpam` clears them)\n"
    )
    assert _run("mount", str(point)) == (
        1, f"Error: mount resctrl at {point}: a machine that died left its mount there: clear it "
           f"with `mpam umount {point}`\n")  # fmt: skip
    assert _run("umount", str(point)) == (
        0, f"umount {point}: cleared the mount a machine that died left there\n")  # fmt: skip
    assert not os.path.ismount(point)
    assert _run("boot", "-p", "tiny", "--paused")[0] == 0  # the next boot of the name
    assert "gone" not in _run("list")[1]
    assert _run("mount", str(point))[0] == 0


def test_racing_boots_leave_the_winner_alone(runtime: Path) -> None:
    argv = [sys.executable, "-m", "mpam.cli", "boot", "-p", "tiny", "--paused"]
    env = {**os.environ, "MPAM_RUNTIME_DIR": str(runtime)}
    boots = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(4)]  # fmt: skip
    outs = [(b.wait(timeout=120), b.stdout.read() if b.stdout else "") for b in boots]
    won = [out for code, out in outs if code == 0]
    lost = [out for code, out in outs if code != 0]
    assert len(won) == 1, outs
    assert all("a machine named 'mpam' is already running or booting" in out for out in lost)
    assert client.running() == ["mpam"]
    assert _run("status")[0] == 0
    log = (runtime / "mpam.log").read_text()
    assert "already running" not in log  # no loser's daemon ever wrote to the winner's log
