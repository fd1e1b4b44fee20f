"""Talking to running machines: start one in the background, find it by name, send requests.

A machine is running when its socket answers. `boot` returns only once the machine has
booted (its socket accepts a status request), or raises with the end of the machine's own
log when it could not.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mpam.machine.daemon import pid_file, runtime_dir, socket_path

__all__ = ["DEFAULT_NAME", "MachineError", "RunningMachine", "boot", "find", "running", "shutdown"]

#: The name of a machine booted without --name.
DEFAULT_NAME = "mpam"

#: How long `boot` waits for the machine to come up (wall clock: it is a real process).
BOOT_TIMEOUT_S = 120.0
#: How long one request may take before the machine counts as not answering.
REQUEST_TIMEOUT_S = 120.0


class MachineError(RuntimeError):
    """No such machine, or it refused a request."""


class RunningMachine:
    """A connection to one running machine."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = socket_path(name)

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and return its result; MachineError when it fails."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(REQUEST_TIMEOUT_S)
            try:
                sock.connect(str(self.path))
            except OSError:
                raise MachineError(f"machine {self.name!r} is not running") from None
            try:
                sock.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
                with sock.makefile("rb") as reader:
                    line = reader.readline()
            except TimeoutError:
                raise MachineError(f"machine {self.name!r} did not answer") from None
        if not line:
            raise MachineError(f"machine {self.name!r} closed the connection")
        reply = json.loads(line)
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
    names = sorted(p.stem for p in runtime_dir().glob("*.sock"))
    return [n for n in names if RunningMachine(n).alive()]


def find(name: str | None) -> RunningMachine:
    """The machine called `name`, or the only running one when no name is given."""
    if name is not None:
        machine = RunningMachine(name)
        if not machine.alive():
            raise MachineError(f"no running machine named {name!r} (see `mpam status`)")
        return machine
    names = running()
    if not names:
        raise MachineError("no machine is running: start one with `mpam boot`")
    if len(names) > 1:
        raise MachineError(f"{len(names)} machines are running ({', '.join(names)}): use --name")
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
    machine = RunningMachine(name)
    if machine.alive():
        raise MachineError(f"a machine named {name!r} is already running")
    log = runtime_dir() / f"{name}.log"
    argv = [sys.executable, "-m", "mpam.fuse.serve", "--name", name, "--platform", platform]
    argv += ["--seed", str(seed)] + (["--paused"] if paused else [])
    argv += ["--sample", str(sample)] if sample is not None else []
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if machine.alive():
            return machine
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise MachineError(f"machine {name!r} failed to boot:\n" + "\n".join(tail))
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
