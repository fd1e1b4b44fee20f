"""The scheduler: per-CPU run queues, the current task of each CPU, and the context switch.

Deliberately simple scheduling (round robin among the runnable tasks of a CPU, affinity
honoured, a woken task placed on its last CPU when it may run there, else on the least busy
allowed CPU) around a faithful switch: every switch calls the arm64 MPAM hook
(`Arm64Mpam.mpam_thread_switch`), which writes MPAM0_EL1/MPAM1_EL1 through the hw CPU and
records each write in the sysreg trace. Hotplug: an outgoing CPU's tasks move to another
online CPU and its bound per-CPU kthreads park until it returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.kernel.arm64_mpam import Arm64Mpam, format_switch_debug
from mpam.kernel.klog import KernelLog
from mpam.kernel.sysreg import SysregTrace, SysregWrite
from mpam.kernel.tasks import Task, TaskTable

__all__ = ["SLEEP_STATES", "Scheduler", "format_switch_debug"]

#: The states a task may go to sleep in: interruptible, uninterruptible (disk), idle.
SLEEP_STATES = frozenset("SDI")


class Scheduler:
    """Run queues and current tasks of `cpus`, with the arm64 MPAM context switch."""

    def __init__(
        self,
        cpus: Sequence[Cpu],
        tasks: TaskTable,
        clock: Clock,
        klog: KernelLog,
        *,
        trace: SysregTrace | None = None,
        online: Iterable[int] | None = None,
    ) -> None:
        self.cpus = list(cpus)
        n = len(self.cpus)
        if tasks.num_cpus != n:
            raise ValueError(f"task table is for {tasks.num_cpus} CPUs, not {n}")
        self.tasks = tasks
        self.clock = clock
        self.klog = klog
        self.trace = trace if trace is not None else SysregTrace(clock)
        self.mpam = Arm64Mpam(self.cpus, self.trace, klog)
        self.online: set[int] = set(range(n) if online is None else online)
        self.runqueues: list[deque[Task]] = [deque() for _ in range(n)]
        self._curr = [tasks.idle(c) for c in range(n)]
        self._switched_at = [clock.now_ns] * n
        self.nr_switches = 0
        for task in tasks:
            if task.state == "R":
                task.state = "S"
                self.wake(task)

    # -- queries ---------------------------------------------------------------------

    def current(self, cpu: int) -> Task:
        """The task running on `cpu` (cpu_curr); its idle task when nothing runs."""
        return self._curr[cpu]

    def runnable(self, cpu: int) -> list[Task]:
        """Tasks waiting on `cpu`'s run queue, next first (not the current one)."""
        return list(self.runqueues[cpu])

    def nr_running(self, cpu: int) -> int:
        return len(self.runqueues[cpu]) + (0 if self._curr[cpu].is_idle else 1)

    # -- placement -------------------------------------------------------------------

    def _select_task_rq(self, task: Task) -> int:
        allowed = sorted(task.cpus_allowed & self.online)
        if not allowed:
            # select_fallback_rq: no allowed CPU is left online, so affinity is broken.
            self.klog.pr_info(f"process {task.pid} ({task.comm}) no longer affine to cpu{task.cpu}")
            task.cpus_allowed = frozenset(range(len(self.cpus)))
            allowed = sorted(self.online)
        if task.cpu in allowed:
            return task.cpu
        return min(allowed, key=lambda c: (self.nr_running(c), c))

    def _enqueue(self, task: Task, cpu: int) -> None:
        task.cpu = cpu
        self.runqueues[cpu].append(task)
        if self._curr[cpu].is_idle:
            self.schedule(cpu)  # a wakeup preempts the idle task at once

    def _dequeue(self, task: Task) -> None:
        for rq in self.runqueues:
            if task in rq:
                rq.remove(task)

    def wake(self, task: Task) -> bool:
        """wake_up_process: make a sleeping task runnable; False if it already was (or is
        parked, or is an idle task)."""
        if task.is_idle or task.state in ("R", "P"):
            return False
        if task.state == "X" or self.tasks.get(task.pid) is not task:
            raise ValueError(f"task {task.pid} ({task.comm}) has exited")
        task.state = "R"
        self._enqueue(task, self._select_task_rq(task))
        return True

    def sleep(self, task: Task, state: str = "S") -> None:
        """The task blocks in `state`; if it is running, its CPU schedules at once."""
        if state not in SLEEP_STATES:
            raise ValueError(f"a task sleeps in one of {''.join(sorted(SLEEP_STATES))}")
        if task.is_idle:
            raise ValueError("the idle task never sleeps")
        if task.state == "P":
            task.parked_state = state
            return
        task.state = state
        self._dequeue(task)
        if self._curr[task.cpu] is task:
            self.schedule(task.cpu)

    def migrate(self, task: Task, cpu: int) -> None:
        """Move `task` to `cpu` (which must be online and allowed); a running task is
        switched out of its old CPU and queued on the new one."""
        if task.is_idle:
            raise ValueError("idle tasks do not migrate")
        if cpu not in self.online:
            raise ValueError(f"CPU{cpu} is offline")
        if cpu not in task.cpus_allowed:
            raise ValueError(f"task {task.pid} ({task.comm}) may not run on CPU{cpu}")
        old = task.cpu
        if old == cpu:
            return
        if task in self.runqueues[old]:
            self.runqueues[old].remove(task)
            self._enqueue(task, cpu)
        elif self._curr[old] is task:
            task.cpu = cpu
            self.schedule(old)
            self._enqueue(task, cpu)
        else:
            task.cpu = cpu

    def set_cpus_allowed(self, task: Task, cpus: Iterable[int]) -> None:
        """sched_setaffinity: ValueError (EINVAL) unless some allowed CPU is online."""
        allowed = frozenset(cpus)
        if not allowed <= frozenset(range(len(self.cpus))) or not allowed & self.online:
            raise ValueError(f"no online CPU in {sorted(allowed)}")
        task.cpus_allowed = allowed
        if task.cpu not in allowed:
            self.migrate(task, min(allowed & self.online))

    def exit(self, task: Task) -> None:
        """do_exit: the task leaves its CPU and the task table."""
        if task.is_idle:
            raise ValueError("the idle task never exits")
        self._dequeue(task)
        running = self._curr[task.cpu] is task
        self.tasks.exit(task.pid)
        if running:
            self.schedule(task.cpu)

    # -- switching -------------------------------------------------------------------

    def schedule(self, cpu: int) -> Task:
        """__schedule on `cpu`: round robin to the next runnable task (the idle task when
        none); the task now running."""
        if cpu not in self.online:
            return self._curr[cpu]
        prev = self._curr[cpu]
        rq = self.runqueues[cpu]
        prev_runnable = not prev.is_idle and prev.state == "R" and prev.cpu == cpu
        while rq and (rq[0].state != "R" or self.tasks.get(rq[0].pid) is not rq[0]):
            rq.popleft()  # exited while queued
        if not rq:
            nxt = prev if prev_runnable else self.tasks.idle(cpu)
        else:
            if prev_runnable:
                rq.append(prev)
            nxt = rq.popleft()
        if nxt is not prev:
            self._context_switch(cpu, prev, nxt)
        return nxt

    def _update_curr(self, cpu: int) -> None:
        """Charge the time since the last switch or tick to the running task."""
        now = self.clock.now_ns
        self._curr[cpu].runtime_ns += now - self._switched_at[cpu]
        self._switched_at[cpu] = now

    def _context_switch(self, cpu: int, prev: Task, nxt: Task) -> None:
        self._update_curr(cpu)
        self._curr[cpu] = nxt
        nxt.cpu = cpu
        self.nr_switches += 1
        # __switch_to: after the DSB, so prev's accesses used prev's labels.
        self.mpam.mpam_thread_switch(cpu, nxt)

    def tick(self) -> None:
        """The scheduler tick: every online CPU charges its running task and schedules."""
        for cpu in sorted(self.online):
            self._update_curr(cpu)
            self.schedule(cpu)

    # -- hotplug ---------------------------------------------------------------------

    def cpu_offline(self, cpu: int) -> None:
        """sched_cpu_dying: switch `cpu` to its idle task, park the per-CPU kthreads bound
        to it and move every other task it ran or queued to an online CPU."""
        if cpu not in self.online:
            return
        if len(self.online) == 1:
            raise RuntimeError("the last online CPU cannot go offline")
        prev = self._curr[cpu]
        movers = ([] if prev.is_idle else [prev]) + list(self.runqueues[cpu])
        self.runqueues[cpu].clear()
        self.online.discard(cpu)
        idle = self.tasks.idle(cpu)
        if prev is not idle:
            self._context_switch(cpu, prev, idle)
        for task in self.tasks:
            if task.is_per_cpu_kthread and task.cpus_allowed == {cpu} and task.state != "P":
                task.parked_state = "S" if task.state == "R" else task.state
                task.state = "P"
        for task in movers:
            if task.state == "R":
                self._enqueue(task, self._select_task_rq(task))

    def cpu_online(self, cpu: int) -> None:
        """sched_cpu_starting/activate: `cpu` runs its idle task and its kthreads unpark."""
        if cpu in self.online:
            return
        self.online.add(cpu)
        self._switched_at[cpu] = self.clock.now_ns
        for task in self.tasks:
            if task.state == "P" and task.cpus_allowed == {cpu}:
                task.state = task.parked_state or "S"
                task.parked_state = None

    # -- the arm64 MPAM state, as the resctrl glue reaches it -----------------------

    @property
    def mpam_enabled(self) -> bool:
        """The `mpam_enabled` static key: no MPAM register writes until it is set."""
        return self.mpam.mpam_enabled

    @mpam_enabled.setter
    def mpam_enabled(self, enabled: bool) -> None:
        self.mpam.mpam_enabled = enabled

    @property
    def arm64_mpam_global_default(self) -> int:
        return self.mpam.arm64_mpam_global_default

    @arm64_mpam_global_default.setter
    def arm64_mpam_global_default(self, regval: int) -> None:
        self.mpam.arm64_mpam_global_default = regval

    @property
    def arm64_mpam_default(self) -> list[int]:
        """Per-CPU default words (read-only view; set with `mpam_set_cpu_defaults`)."""
        return list(self.mpam.arm64_mpam_default)

    @property
    def arm64_mpam_current(self) -> list[int]:
        """Per-CPU words currently programmed (read-only view)."""
        return list(self.mpam.arm64_mpam_current)

    def mpam_set_cpu_defaults(
        self, cpu: int, partid_d: int, partid_i: int, pmg_d: int, pmg_i: int
    ) -> None:
        self.mpam.mpam_set_cpu_defaults(cpu, partid_d, partid_i, pmg_d, pmg_i)

    def mpam_set_task_partid_pmg(
        self, task: Task, partid_d: int, partid_i: int, pmg_d: int, pmg_i: int
    ) -> None:
        self.mpam.mpam_set_task_partid_pmg(task, partid_d, partid_i, pmg_d, pmg_i)

    def mpam_thread_switch(self, cpu: int, task: Task | None = None) -> SysregWrite | None:
        """Re-run the switch hook for `cpu`'s current task (or `task`): what resctrl's
        IPI (resctrl_arch_sync_cpu_closid_rmid) does after changing a running label."""
        return self.mpam.mpam_thread_switch(cpu, task if task is not None else self._curr[cpu])
