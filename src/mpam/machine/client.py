"""Talking to running machines: start one in the background, find it by name, send requests.

A machine is running when its socket answers. `boot` returns only once the machine has
booted (its socket accepts a status request), or raises with the end of the machine's own
log when it could not.

This module is what every client command loads, so it imports nothing of the machine itself
(no simulator, no NumPy): the daemon imports its runtime paths from here, not the reverse.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_NAME",
    "NAME_PATTERN",
    "MachineError",
    "RunningMachine",
    "boot",
    "check_name",
    "find",
    "gone",
    "log_file",
    "open_private",
    "pid_file",
    "running",
    "runtime_dir",
    "shutdown",
    "socket_path",
]

#: The name of a machine booted without --name.
DEFAULT_NAME = "mpam"

#: How long `boot` waits for the machine to come up (wall clock: it is a real process).
BOOT_TIMEOUT_S = 120.0
#: How long one request may take before the machine counts as not answering.
REQUEST_TIMEOUT_S = 120.0


#: What a machine's name may be: it names files in the runtime directory.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class MachineError(RuntimeError):
    """No such machine, or it refused a request; the message is for the user."""


def runtime_dir() -> Path:
    """Where running machines keep their sockets: $MPAM_RUNTIME_DIR, else
    $XDG_RUNTIME_DIR/mpam, else a per-user directory under the temporary directory.

    It is made private (0700) and used only if it is: a directory (not a symlink) of this
    user's with no access for anyone else. Otherwise another user who made it first could
    swap the socket or point the log at a file of ours (MachineError says what is wrong)."""
    env = os.environ.get("MPAM_RUNTIME_DIR")
    if env:
        path = Path(env)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "mpam"
    else:
        path = Path(tempfile.gettempdir()) / f"mpam-{os.getuid()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)  # the umask can only narrow 0700
    st = path.lstat()
    problem = ""
    if stat.S_ISLNK(st.st_mode):
        problem = "it is a symbolic link"
    elif not stat.S_ISDIR(st.st_mode):
        problem = "it is not a directory"
    elif st.st_uid != os.getuid():
        problem = f"it belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    elif st.st_mode & 0o077:
        problem = f"its mode is {stat.S_IMODE(st.st_mode):04o}: others may enter it (want 0700)"
    if problem:
        raise MachineError(
            f"the runtime directory {path} is not safe to use: {problem}; remove it, or set "
            "MPAM_RUNTIME_DIR to a directory of your own"
        )
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A file of the runtime directory, opened without following a symlink and created
    private (0600) whatever the umask."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def socket_path(name: str) -> Path:
    return runtime_dir() / f"{name}.sock"


def pid_file(name: str) -> Path:
    return runtime_dir() / f"{name}.pid"


def log_file(name: str) -> Path:
    """The machine process's own output: where a failed boot or an internal error is told."""
    return runtime_dir() / f"{name}.log"


def check_name(name: str) -> str:
    """`name` if it can name a machine, else MachineError saying what a name may be."""
    if not NAME_PATTERN.fullmatch(name):
        raise MachineError(
            f"{name!r} cannot name a machine: use letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


class RunningMachine:
    """A connection to one running machine."""

    def __init__(self, name: str) -> None:
        self.name = check_name(name)
        self.path = socket_path(name)

    def call(self, op: str, *, wait_s: float | None = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one request and return its result (waiting at most `wait_s`, None: as long
        as it takes); MachineError when it fails."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(wait_s)
            try:
                sock.connect(str(self.path))
            except OSError:
                raise MachineError(f"machine {self.name!r} is not running") from None
            try:
                sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
                with sock.makefile("rb") as reader:
                    line = reader.readline()
            except TimeoutError:
                raise MachineError(
                    f"machine {self.name!r} did not answer within {wait_s:.0f} s "
                    f"(its log: {log_file(self.name)})"
                ) from None
            except OSError as e:
                raise MachineError(
                    f"machine {self.name!r} stopped answering: {e.strerror or e}"
                ) from None
        if not line:
            raise MachineError(
                f"machine {self.name!r} closed the connection (its log: {log_file(self.name)})"
            )
        try:
            reply = json.loads(line)
        except ValueError:
            raise MachineError(f"machine {self.name!r} sent a reply that is not JSON") from None
        if not reply.get("ok"):
            raise MachineError(str(reply.get("error")))
        return reply.get("result")

    def alive(self) -> bool:
        try:
            self.call("status")
        except (MachineError, OSError, ValueError):
            return False
        return True


def running() -> list[str]:
    """Names of the machines whose socket answers."""
    names = sorted(p.stem for p in runtime_dir().glob("*.sock") if NAME_PATTERN.fullmatch(p.stem))
    return [n for n in names if RunningMachine(n).alive()]


def gone() -> list[str]:
    """Names of machines that died and left files behind (a socket, a pid file, exec
    sessions): nobody holds their lock. The next boot of the name clears them."""
    out = []
    for sock in sorted([*runtime_dir().glob("*.sock"), *runtime_dir().glob("*.pid")]):
        name = sock.stem
        if not NAME_PATTERN.fullmatch(name) or name in out:
            continue
        try:
            fd = os.open(runtime_dir() / f"{name}.lock", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            out.append(name)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # alive (or booting)
        finally:
            os.close(fd)
        out.append(name)
    return out


def find(name: str | None) -> RunningMachine:
    """The machine called `name`, or the only running one when no name is given."""
    if name is not None:
        machine = RunningMachine(name)
        if machine.alive():
            return machine
        others = running()
        hint = (
            f"running: {', '.join(others)} (see `mpam list`)"
            if others
            else f"no machine is running: start one with `mpam boot --name {name}`"
        )
        raise MachineError(f"no machine named {name!r} is running; {hint}")
    names = running()
    if not names:
        raise MachineError("no machine is running: start one with `mpam boot`")
    if len(names) > 1:
        raise MachineError(
            f"{len(names)} machines are running ({', '.join(names)}): "
            "say which with --name (see `mpam list`)"
        )
    return RunningMachine(names[0])


def boot(
    platform: str,
    name: str = DEFAULT_NAME,
    *,
    paused: bool = False,
    sample: int | None = None,
    seed: int = 0,
) -> RunningMachine:
    """Start a machine in the background and wait until it has booted."""
    machine = RunningMachine(check_name(name))
    if machine.alive():
        raise MachineError(
            f"a machine named {name!r} is already running: boot another with --name NAME, "
            f"or stop this one with `mpam shutdown --name {name}`"
        )
    # The name's lock first: a machine of this name that is running (or booting) holds it,
    # and then nothing of its is touched. The daemon inherits it and holds it for its life.
    lock_fd = open_private(runtime_dir() / f"{name}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise MachineError(
            f"a machine named {name!r} is already running or booting: boot another with "
            f"--name NAME, or stop this one with `mpam shutdown --name {name}`"
        ) from None
    log = log_file(name)
    argv = [sys.executable, "-m", "mpam.fuse.serve", "--name", name, "--platform", platform]
    argv += ["--seed", str(seed), "--lock-fd", str(lock_fd)] + (["--paused"] if paused else [])
    argv += ["--sample", str(sample)] if sample is not None else []
    try:
        with os.fdopen(open_private(log), "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lock_fd,),
            )
    finally:
        os.close(lock_fd)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if machine.alive():
            return machine
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise MachineError(
                f"machine {name!r} failed to boot; the end of its log ({log}):\n" + "\n".join(tail)
            )
        time.sleep(0.05)
    proc.kill()
    raise MachineError(f"machine {name!r} did not boot within {BOOT_TIMEOUT_S:.0f} s")


def shutdown(machine: RunningMachine, timeout_s: float = 30.0) -> None:
    """Stop a machine and wait for its process to exit."""
    pid_path = pid_file(machine.name)
    pid = int(pid_path.read_text()) if pid_path.exists() else None
    machine.call("shutdown")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pid is None or not _exists(pid):
            return
        time.sleep(0.05)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()
    return done == 0
