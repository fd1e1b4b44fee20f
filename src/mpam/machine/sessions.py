"""The mounts a running machine serves for each `mpam exec` (docs/clients.md).

A session is three FUSE mounts in a private directory of the runtime directory, made
before the command's mount namespace is: the machine's resctrl as the host's pid namespace
sees it (`resctrl`), its /sys/devices/system/cpu (`cpu`) and the /proc overlay (`proc`:
cpuinfo, filesystems, self). `mpam exec` clones them into its namespace and drops the
originals there; at its end the session's mounts go, and resctrl is unmounted again if the
session mounted it and nothing else has it mounted.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mpam.kernel.cpuinfo import cpuinfo
from mpam.machine.client import runtime_dir
from mpam.machine.host import ExitWatcher, HostProcesses
from mpam.machine.machine import Machine

__all__ = ["ExecSessions", "Mounters", "start_mount", "stop_mount"]


@dataclass(frozen=True)
class Mounters:
    """The FUSE servers, provided by mpam.fuse (the layer above, which starts the daemon):
    each serves a mount until it is unmounted."""

    resctrl: Callable[..., None]  # (fs, dir, lock, after, pidns=None)
    tree: Callable[..., None]  # (render, dir, lock)
    proc: Callable[..., None]  # (render, options, dir, lock)


def start_mount(serve: Callable[[], None], path: str) -> threading.Thread | None:
    """Run `serve` (a FUSE server of the mount at `path`) in a thread; the thread, or None
    when the mount did not come up."""
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    for _ in range(400):  # the mount appears within a few milliseconds
        if os.path.ismount(path) or not thread.is_alive():
            break
        time.sleep(0.01)
    return thread if os.path.ismount(path) else None


def stop_mount(path: str, thread: threading.Thread, *, wait: bool = True,
               lazy: bool = False) -> bool:  # fmt: skip
    """Unmount `path`; with `wait`, until its server has stopped (the filesystem is gone
    once no mount of it is left anywhere). Whether it went: a mount still in use stays
    (EBUSY, as umount(2) answers; the reason goes to the machine's log) and goes on being
    served, unless `lazy`: a machine going away detaches it anyway, as `umount -l` does,
    so whoever still holds it is told ENOTCONN instead of a dead mount being left behind."""
    done = subprocess.run(["fusermount3", "-u", path], check=False, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        sys.stderr.flush()
        if not lazy:
            return False
        subprocess.run(["fusermount3", "-uz", path], check=False, capture_output=True)
    if wait:
        thread.join(timeout=10)
    return True


@dataclass
class _Session:
    directory: Path
    threads: dict[str, threading.Thread] = field(default_factory=dict)


class ExecSessions:
    """The machine's exec sessions, by number. Their bookkeeping changes only under the
    machine's lock; resctrl mounted for a session stays until the last session ends (and is
    left alone while `mpam mount` has it)."""

    def __init__(self, machine: Machine, lock: threading.Lock, mounters: Mounters,
                 in_use: Callable[[], bool]) -> None:  # fmt: skip
        self.machine = machine
        self.lock = lock
        self.mounters = mounters
        self.in_use = in_use  # resctrl has mounts other than the sessions'
        self.exits = ExitWatcher()
        self.host = HostProcesses(machine, lock, self.exits)
        self.sessions: dict[int, _Session] = {}
        self._numbers = itertools.count(1)
        #: resctrl is mounted because of sessions: unmount it when the last one ends
        self.umount_at_end = False

    def _files(self) -> dict[str, str]:
        m = self.machine
        with open("/proc/filesystems", encoding="utf-8") as f:
            filesystems = f.read()
        if "\tresctrl\n" not in filesystems:
            filesystems += "nodev\tresctrl\n"
        return {"cpuinfo": cpuinfo(m.kernel.cpuhp.online_mask, m.kernel.smp.midr),
                "filesystems": filesystems}  # fmt: skip

    def _options(self) -> str:
        fs = self.machine.resctrl
        return "".join(f",{o}" for o in fs.options) if fs is not None else ""

    def begin(self, options: str, client_pid: int) -> dict[str, Any] | int:
        """Make a session's mounts for the `mpam exec` process `client_pid` (its end, even
        by SIGKILL, ends the session): {"session", "dir", "options"} or a negative errno
        (-ENODEV without resctrl, -EBUSY when resctrl is mounted with other options)."""
        m = self.machine
        fs = m.resctrl
        if fs is None:
            return -errno.ENODEV
        wanted = tuple(sorted(o for o in options.split(",") if o))
        number = next(self._numbers)
        directory = runtime_dir() / f"{m.name}.exec{number}"
        session = _Session(directory)
        with self.lock:
            if not fs.mounted:
                err = fs.mount(options)
                if err:
                    return int(err)
                self.umount_at_end = True
            elif wanted and wanted != tuple(sorted(fs.options)):
                return -errno.EBUSY
            self.sessions[number] = session
        mt = self.mounters
        mounts: dict[str, Callable[[str], None]] = {
            "resctrl": lambda p: mt.resctrl(fs, p, self.lock, m.service, pidns=self.host.ns),
            "cpu": lambda p: mt.tree(m.cpu_sysfs, p, self.lock),
            "proc": lambda p: mt.proc(self._files, self._options, p, self.lock),
        }
        try:
            directory.mkdir(mode=0o700)  # new: never one somebody else prepared
            for sub, serve in mounts.items():
                path = directory / sub
                path.mkdir(mode=0o700)
                thread = start_mount(partial(serve, str(path)), str(path))
                if thread is None:
                    raise OSError(errno.EIO, "the mount did not come up")
                session.threads[sub] = thread
            pidfd = os.pidfd_open(client_pid)
        except OSError as e:
            self.end(number)
            return -(e.errno or errno.EIO)
        self.exits.watch(pidfd, lambda: self.end(number))
        return {"session": number, "dir": str(directory), "options": self._options()}

    def end(self, number: int) -> int:
        """Unmount a session (its command has exited); 0, or -EINVAL if it has ended."""
        with self.lock:
            session = self.sessions.pop(number, None)
        if session is None:
            return -errno.EINVAL
        # Processes the command left behind keep its namespace, and with it the session's
        # mounts there: their servers stop when the last of them goes.
        for sub, thread in session.threads.items():
            stop_mount(str(session.directory / sub), thread, wait=False)
        for sub in ("resctrl", "cpu", "proc", ""):
            with contextlib.suppress(OSError):  # a mount still busy keeps its directory
                (session.directory / sub).rmdir()
        fs = self.machine.resctrl
        with self.lock:
            last = not self.sessions and not self.in_use()
            if last and self.umount_at_end and fs is not None and fs.mounted:
                fs.umount()
            if last:
                self.umount_at_end = False
        return 0

    def end_all(self) -> None:
        for number in list(self.sessions):
            self.end(number)
