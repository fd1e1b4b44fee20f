"""Host processes that join the machine: a real pid written to a group's `tasks`.

A container runtime or pqos run under `mpam exec` writes its own processes' pids (host
pids) to `tasks`. Such a process becomes a task of the machine: a machine pid from the
machine's allocator, its host pid in the host namespace (kernel.tasks.HostPidNamespace),
its name from /proc/<pid>/comm and its owner from its real uid (the machine's owner is the
machine's root). It sleeps unless a workload is attached to it, and the context switch
labels it like any task. When the real process exits it leaves the machine: a pidfd
(pidfd_open) for each one becomes readable at exit, and one watcher thread (ExitWatcher)
takes those tasks out under the machine's lock. Checking the process's start time after
opening its pidfd makes sure the pidfd is for the process that was read, not a later one
with a reused pid. A writer may bring in only a process it could move: its own, or any as
root.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from mpam.kernel.tasks import TASK_COMM_LEN, HostPidNamespace, Task

if TYPE_CHECKING:
    from mpam.machine.machine import Machine

__all__ = ["ExitWatcher", "HostProcesses", "proc_status"]


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the comm (field 3 on), or None when there is no
    such process (the comm may hold spaces and parentheses: split after the last ')')."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def proc_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as {field: value} (empty when the process has gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _real_uid(pid: int) -> int | None:
    uid = proc_status(pid).get("Uid")
    return int(uid.split()[0]) if uid else None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().rstrip("\n")[: TASK_COMM_LEN - 1] or "?"
    except OSError:
        return "?"


class ExitWatcher:
    """Calls back when watched host processes exit: one thread polls their pidfds (a pidfd
    becomes readable when its process exits). Started at the first `watch`."""

    def __init__(self) -> None:
        self._callbacks: dict[int, Callable[[], object]] = {}  # pidfd -> what to do at exit
        self._poll = select.poll()
        self._mutex = threading.Lock()  # the table, between `watch` and the thread
        self._wake: tuple[int, int] | None = None

    def watch(self, pidfd: int, at_exit: Callable[[], object]) -> None:
        """Take over `pidfd` (closed once its process has exited) and run `at_exit` then."""
        with self._mutex:
            if self._wake is None:
                self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                self._poll.register(self._wake[0], select.POLLIN)
                threading.Thread(target=self._run, name="host-exits", daemon=True).start()
            self._callbacks[pidfd] = at_exit
            self._poll.register(pidfd, select.POLLIN)
            wake = self._wake[1]
        with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
            os.write(wake, b"\0")

    def _run(self) -> None:
        assert self._wake is not None
        while True:
            for fd, _ in self._poll.poll():
                if fd == self._wake[0]:
                    with contextlib.suppress(BlockingIOError):
                        os.read(fd, 4096)
                    continue
                with self._mutex:
                    at_exit = self._callbacks.pop(fd, None)
                    self._poll.unregister(fd)
                os.close(fd)
                if at_exit is None:
                    continue
                try:
                    at_exit()
                except Exception:  # one failure must not stop the watching of the others
                    sys.stderr.write(f"host-exits: {traceback.format_exc()}")
                    sys.stderr.flush()


class HostProcesses:
    """The machine's host pid namespace: host processes join it and leave at exit."""

    def __init__(self, machine: Machine, lock: threading.Lock, exits: ExitWatcher) -> None:
        self.machine = machine
        self.lock = lock
        self.exits = exits
        self.ns = HostPidNamespace(machine.kernel.tasks, self.attach)

    def attach(self, host_pid: int, euid: int) -> Task | None:
        """The host process `host_pid` joins the machine (called under the machine's lock,
        from a tasks write by a task with effective uid `euid`); None when no such process
        exists or it is gone already. PermissionError, and no trace, when `euid` may not
        move it (root, or the process's own user, may): a writer adopts only what it owns."""
        before = _stat_fields(host_pid)
        uid = _real_uid(host_pid)
        if before is None or uid is None:
            return None
        owner = 0 if uid == os.getuid() else uid  # the machine's owner is its root
        if euid not in (0, owner):
            raise PermissionError(host_pid)
        try:
            pidfd = os.pidfd_open(host_pid)
        except OSError:
            return None  # gone, or a thread rather than a process
        after = _stat_fields(host_pid)
        # field 22 of /proc/<pid>/stat, starttime: the same process before and after
        if after is None or after[19] != before[19]:
            os.close(pidfd)
            return None
        try:
            task = self.machine.kernel.tasks.spawn(_comm(host_pid), ppid=1)
        except BaseException:
            os.close(pidfd)
            raise
        task.mpam_partid_pmg = 0  # a new arrival is in the default group until it is moved
        task.host_pid = host_pid
        task.uid = owner
        self.exits.watch(pidfd, lambda: self._leave(task))
        return task

    def _leave(self, task: Task) -> None:
        """The real process exited: its task exits (do_exit), its statistics stay."""
        with self.lock:
            if self.machine.kernel.tasks.get(task.pid) is not task:
                return  # it went some other way already
            self.machine.sim.detach(task.pid)
            self.machine.kernel.scheduler.exit(task)
