"""Host processes that join the machine: a real pid written to a group's `tasks`.

A container runtime or pqos run under `mpam exec` writes its own processes' pids (host
pids) to `tasks`. Such a process becomes a task of the machine: a machine pid from the
machine's allocator, its host pid in the host namespace (kernel.tasks.HostPidNamespace),
its name from /proc/<pid>/comm and its owner from its real uid (the machine's owner is the
machine's root). It sleeps unless a workload is attached to it, and the context switch
labels it like any task. When the real process exits it leaves the machine: a pidfd
(pidfd_open) for each one becomes readable at exit, and one watcher thread takes those tasks
out under the machine's lock. Checking the process's start time after opening its pidfd
makes sure the pidfd is for the process that was read, not a later one with a reused pid.
"""

from __future__ import annotations

import os
import select
import threading

from mpam.kernel.tasks import TASK_COMM_LEN, HostPidNamespace, Task

from .machine import Machine

__all__ = ["HostProcesses"]


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the comm (field 3 on), or None when there is no
    such process (the comm may hold spaces and parentheses: split after the last ')')."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _real_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().rstrip("\n")[: TASK_COMM_LEN - 1] or "?"
    except OSError:
        return "?"


class HostProcesses:
    """The machine's host pid namespace and the watcher of its processes' exits."""

    def __init__(self, machine: Machine, lock: threading.Lock) -> None:
        self.machine = machine
        self.lock = lock
        self.ns = HostPidNamespace(machine.kernel.tasks, self.attach)
        self._pidfds: dict[int, int] = {}  # pidfd -> machine pid
        self._poll = select.poll()
        self._wake_r, self._wake_w = os.pipe()
        self._poll.register(self._wake_r, select.POLLIN)
        self._mutex = threading.Lock()  # the pidfd table, between attach and the watcher
        threading.Thread(target=self._watch, name="host-exits", daemon=True).start()

    def attach(self, host_pid: int) -> Task | None:
        """The host process `host_pid` joins the machine (called under the machine's lock,
        from a tasks write); None when no such process exists or it is gone already."""
        before = _stat_fields(host_pid)
        if before is None:
            return None
        try:
            pidfd = os.pidfd_open(host_pid)
        except OSError:
            return None
        after = _stat_fields(host_pid)
        uid = _real_uid(host_pid)
        # field 22 of /proc/<pid>/stat, starttime: the same process before and after
        if after is None or after[19] != before[19] or uid is None:
            os.close(pidfd)
            return None
        task = self.machine.kernel.tasks.spawn(_comm(host_pid), ppid=1)
        task.mpam_partid_pmg = 0  # a new arrival is in the default group until it is moved
        task.host_pid = host_pid
        task.uid = 0 if uid == os.getuid() else uid  # the machine's owner is its root
        with self._mutex:
            self._pidfds[pidfd] = task.pid
            self._poll.register(pidfd, select.POLLIN)
        os.write(self._wake_w, b"\0")
        return task

    def _watch(self) -> None:
        while True:
            for fd, _ in self._poll.poll():
                if fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    continue
                with self._mutex:
                    pid = self._pidfds.pop(fd, None)
                    self._poll.unregister(fd)
                os.close(fd)
                if pid is not None:
                    with self.lock:
                        self._leave(pid)

    def _leave(self, pid: int) -> None:
        """The real process exited: its task exits (do_exit), its statistics stay."""
        task = self.machine.kernel.tasks.get(pid)
        if task is None or task.host_pid is None:
            return
        self.machine.sim.detach(pid)
        self.machine.kernel.scheduler.exit(task)
