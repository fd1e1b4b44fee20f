"""Tasks (task_struct) with their MPAM label word, and the process table.

Each task carries `mpam_partid_pmg`, the 64-bit word arm64 keeps in `thread_info`: laid out
exactly like MPAM0_EL1 (PARTID_I [15:0], PARTID_D [31:16], PMG_I [39:32], PMG_D [47:40]) so the
context switch can write it to the register as it is. The field positions come from
`mpam.hw.sysregs`, the one table of system-register fields.

`busybox(num_cpus)` builds the process table of the small busybox system of the walkthrough
walkthrough: the boot order of a v5.17-era arm64 kernel, so that pids match its `ps -A`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mpam.hw.sysregs import field_get, field_prep

__all__ = [
    "PID_MAX",
    "STATES",
    "TASK_COMM_LEN",
    "HostPidNamespace",
    "PartidPmg",
    "Task",
    "TaskTable",
    "busybox",
    "decode_regval",
    "mpam_regval",
]

#: task->comm is 16 bytes with the terminating NUL: 15 visible characters.
TASK_COMM_LEN = 16
#: /proc/sys/kernel/pid_max default; pids wrap to RESERVED_PIDS after it.
PID_MAX = 32768
_RESERVED_PIDS = 300

#: Task states as ps shows them: running, sleeping, disk sleep, idle, parked, dead.
STATES = frozenset("RSDIPX")

_LABEL_REG = "MPAM0_EL1"  # thread_info's word has MPAM0_EL1's layout


@dataclass(frozen=True)
class PartidPmg:
    """The four label fields of an MPAM0_EL1-layout word."""

    partid_d: int
    partid_i: int
    pmg_d: int
    pmg_i: int


def mpam_regval(partid_d: int, partid_i: int, pmg_d: int, pmg_i: int) -> int:
    """The word for these labels (`__mpam_regval`); ValueError when a value does not fit,
    as the kernel's BUG_ON(closid > U16_MAX) refuses it."""
    return (
        field_prep(_LABEL_REG, "PARTID_D", partid_d)
        | field_prep(_LABEL_REG, "PARTID_I", partid_i)
        | field_prep(_LABEL_REG, "PMG_D", pmg_d)
        | field_prep(_LABEL_REG, "PMG_I", pmg_i)
    )


def decode_regval(regval: int) -> PartidPmg:
    """The label fields of an MPAM0_EL1-layout word (FIELD_GET of each)."""
    return PartidPmg(
        field_get(_LABEL_REG, "PARTID_D", regval),
        field_get(_LABEL_REG, "PARTID_I", regval),
        field_get(_LABEL_REG, "PMG_D", regval),
        field_get(_LABEL_REG, "PMG_I", regval),
    )


@dataclass(eq=False)
class Task:
    """One task_struct: identity, placement, state and the thread_info MPAM word.

    Tasks compare by identity: the idle tasks of all CPUs share pid 0.
    """

    pid: int
    tgid: int
    comm: str
    ppid: int
    kthread: bool = False
    cpus_allowed: frozenset[int] = frozenset()
    cpu: int = 0  # where it runs, or last ran
    state: str = "S"
    mpam_partid_pmg: int = 0
    wq_desc: str = ""  # a kworker's last workqueue, which /proc shows after its name
    runtime_ns: int = 0  # sum_exec_runtime
    parked_state: str | None = None  # the state to restore when a parked kthread unparks
    uid: int = 0  # real and saved user id (cred->uid, cred->suid): who may move the task
    host_pid: int | None = None  # its number in the host's pid namespace (HostPidNamespace)

    def __post_init__(self) -> None:
        if len(self.comm) >= TASK_COMM_LEN:
            raise ValueError(f"comm {self.comm!r} is longer than {TASK_COMM_LEN - 1} characters")
        if self.state not in STATES:
            raise ValueError(f"unknown task state {self.state!r}")
        if not self.cpus_allowed:
            raise ValueError(f"task {self.pid} ({self.comm}) may run on no CPU")

    def __repr__(self) -> str:
        return f"<Task {self.pid} {self.comm} {self.state} cpu{self.cpu}>"

    @property
    def is_idle(self) -> bool:
        """The per-CPU idle task (swapper/N, pid 0)."""
        return self.pid == 0

    @property
    def is_per_cpu_kthread(self) -> bool:
        """A kthread bound to one CPU (is_per_cpu_kthread()): it parks when its CPU goes."""
        return self.kthread and len(self.cpus_allowed) == 1

    @property
    def proc_comm(self) -> str:
        """The name /proc/<pid>/stat shows: a kworker's comm with its workqueue appended,
        cut to TASK_COMM_LEN - 1 like wq_worker_comm() does."""
        name = f"{self.comm}-{self.wq_desc}" if self.wq_desc else self.comm
        return name[: TASK_COMM_LEN - 1]

    @property
    def labels(self) -> PartidPmg:
        return decode_regval(self.mpam_partid_pmg)


class TaskTable:
    """Every task of one machine: the per-CPU idle tasks and the pid-indexed rest."""

    def __init__(self, num_cpus: int) -> None:
        if num_cpus < 1:
            raise ValueError("a machine has at least one CPU")
        self.num_cpus = num_cpus
        self._idle = [
            Task(0, 0, f"swapper/{n}", 0, True, frozenset({n}), cpu=n, state="R")
            for n in range(num_cpus)
        ]
        self._tasks: dict[int, Task] = {}
        self._last_pid = 0

    # -- lookups ---------------------------------------------------------------------

    def idle(self, cpu: int) -> Task:
        """CPU `cpu`'s idle task (pid 0, "swapper/N")."""
        return self._idle[cpu]

    @property
    def idle_tasks(self) -> list[Task]:
        return list(self._idle)

    def get(self, pid: int) -> Task | None:
        """The task with `pid`, or None (pid 0 names no single task: use `idle`)."""
        return self._tasks.get(pid)

    def __getitem__(self, pid: int) -> Task:
        try:
            return self._tasks[pid]
        except KeyError:
            raise KeyError(f"no task with pid {pid}") from None

    def __contains__(self, pid: object) -> bool:
        return pid in self._tasks

    def __iter__(self) -> Iterator[Task]:
        """The tasks other than the idle tasks, by pid (what `ps -A` lists)."""
        return iter(sorted(self._tasks.values(), key=lambda t: t.pid))

    def __len__(self) -> int:
        return len(self._tasks)

    def find(self, comm: str) -> list[Task]:
        """Tasks whose comm is `comm`."""
        return [t for t in self if t.comm == comm]

    def children(self, pid: int) -> list[Task]:
        return [t for t in self if t.ppid == pid and t.tgid == t.pid]

    def threads(self, tgid: int) -> list[Task]:
        return [t for t in self if t.tgid == tgid]

    # -- life cycle ----------------------------------------------------------------

    def alloc_pid(self) -> int:
        """The next free pid after the last one given (alloc_pid's cyclic allocation)."""
        pid = self._last_pid
        for _ in range(PID_MAX):
            pid += 1
            if pid >= PID_MAX:
                pid = _RESERVED_PIDS
            if pid not in self._tasks:
                self._last_pid = pid
                return pid
        raise RuntimeError("no free pid (fork fails with EAGAIN)")

    def spawn(
        self,
        comm: str,
        *,
        ppid: int | None = None,
        kthread: bool = False,
        cpus_allowed: Iterable[int] | None = None,
        cpu: int | None = None,
        state: str = "S",
        tgid: int | None = None,
        wq_desc: str = "",
    ) -> Task:
        """Create a task (fork/clone, or kthread_create for a kthread).

        `comm` is cut to 15 characters as set_task_comm() does. The parent defaults to
        kthreadd (pid 2) for a kthread and to init (pid 1) otherwise. A new task inherits
        its creator's MPAM word, as dup_task_struct copies thread_info: a thread from its
        group leader (`tgid`), a process from its parent.
        """
        if ppid is None:
            ppid = 2 if kthread else 1
        allowed = frozenset(range(self.num_cpus) if cpus_allowed is None else cpus_allowed)
        if not allowed <= frozenset(range(self.num_cpus)):
            raise ValueError(f"cpus_allowed {sorted(allowed)} names a CPU this machine lacks")
        if tgid is not None and tgid not in self._tasks:
            raise ValueError(f"no thread group {tgid}")
        creator = self._tasks.get(tgid if tgid is not None else ppid)
        pid = self.alloc_pid()
        task = Task(
            pid=pid,
            tgid=pid if tgid is None else tgid,
            comm=comm[: TASK_COMM_LEN - 1],
            ppid=ppid,
            kthread=kthread,
            cpus_allowed=allowed,
            cpu=min(allowed) if cpu is None else cpu,
            state=state,
            mpam_partid_pmg=creator.mpam_partid_pmg if creator is not None else 0,
            wq_desc=wq_desc,
        )
        if task.cpu not in allowed:
            raise ValueError(f"task {comm} may not run on CPU{task.cpu}")
        self._tasks[pid] = task
        return task

    def exit(self, pid: int) -> Task:
        """Remove a task (release_task); its children are reparented to init.

        Only the table changes: a task the scheduler knows about should leave through
        `Scheduler.exit`, which also takes it off its CPU.
        """
        if pid == 1:
            raise ValueError("Kernel panic - not syncing: Attempted to kill init!")
        task = self[pid]
        for child in self._tasks.values():
            if child.ppid == pid and child is not task:
                child.ppid = 1
        task.state = "X"
        del self._tasks[pid]
        return task

    # -- presentation ----------------------------------------------------------------

    def ps(self) -> str:
        """`ps -A` as busybox prints it: PID, USER (uid 0, no passwd), TIME, COMMAND."""
        lines = ["PID   USER     TIME  COMMAND"]
        for t in self:
            seconds = t.runtime_ns // 1_000_000_000
            time = f"{seconds // 60}:{seconds % 60:02d}"
            command = f"[{t.proc_comm}]" if t.kthread else t.comm
            lines.append(f"{t.pid:>5} {'0':<8} {time:>5} {command}")
        return "\n".join(lines) + "\n"


class HostPidNamespace:
    """The host's processes as a child pid namespace of the machine's.

    A process of `mpam exec` lives in this namespace: the pids it reads and writes are host
    pids, as a process in a container sees its own namespace's numbers. Each host process
    that joins the machine becomes a task with a machine pid (level 0, from the machine's
    allocator) and its host pid (level 1, `Task.host_pid`). As the kernel's
    find_task_by_vpid and task_pid_vnr do, a lookup reads a number in this namespace and a
    listing shows a task by its number here, and skips tasks that have none (the machine's
    own tasks). `attach(host_pid, euid)` is how a live host process not yet in the machine
    joins it (the machine layer checks the host and makes the task); it returns None when
    there is no such process and raises PermissionError when a writer of effective uid
    `euid` may not move it.
    """

    def __init__(self, tasks: TaskTable, attach: Callable[[int, int], Task | None]) -> None:
        self.tasks = tasks
        self.attach = attach

    def find_task_by_vpid(self, nr: int, euid: int = 0) -> Task | None:
        """The task numbered `nr` here, joining it to the machine if it is a live host
        process `euid` may move (PermissionError if it may not)."""
        for task in self.tasks:
            if task.host_pid == nr:
                return task
        return self.attach(nr, euid) if nr > 0 else None

    @staticmethod
    def vnr(task: Task) -> int:
        """task_pid_vnr: the task's number here, 0 when it has none."""
        return task.host_pid or 0


# -- the busybox system of the walkthrough ---------------------------------------------------

#: Workqueue descriptions the walkthrough's `ps -A` shows (the last work those workers ran).
_SEED_WQ_DESC = {"kworker/1:0": "mm_percpu_wq", "kworker/2:0H": "events_highpri"}

#: Kthreads started after SMP bring-up by initcalls (v5.17 order); "{node}" per NUMA node.
_LATE_KTHREADS: tuple[tuple[str, str], ...] = (
    ("kdevtmpfs", "S"),
    ("netns", "I"),
    ("inet_frag_wq", "I"),
    ("khungtaskd", "S"),
    ("oom_reaper", "S"),
    ("writeback", "I"),
    ("kcompactd{node}", "S"),
    ("kintegrityd", "I"),
    ("kblockd", "I"),
    ("blkcg_punt_bio", "I"),
    ("watchdogd", "S"),
    ("rpciod", "I"),
    ("xprtiod", "I"),
    ("kswapd{node}", "S"),
    ("nfsiod", "I"),
    ("mld", "I"),
    ("ipv6_addrconf", "I"),
)


def _percpu(table: TaskTable, comm: str, cpu: int, state: str) -> Task:
    return table.spawn(
        comm,
        kthread=True,
        cpus_allowed={cpu},
        state=state,
        wq_desc=_SEED_WQ_DESC.get(comm, ""),
    )


def busybox(num_cpus: int, table: TaskTable | None = None, *, num_nodes: int = 1) -> TaskTable:
    """The process table of a busybox system just booted on `num_cpus` CPUs.

    The order is the kernel's: init (here `sh`, as the walkthrough's initramfs runs it) and
    kthreadd; the rescuers and first workers workqueue_init() creates (rcu_gp, rcu_par_gp,
    kworker/0:0, kworker/0:0H, the unbound kworker/u<2N>:0); the early initcalls' kthreads
    on CPU 0; then, for each secondary CPU as smp_init() brings it up, its cpuhp, migration,
    ksoftirqd and two kworkers, all bound to it; then the kthreads of later initcalls. With
    16 CPUs the pids are those of the walkthrough's `ps -A` (11 rcu_preempt, 23 kworker/2:0H, ...).
    Every task sleeps; all labels are 0 (the default group).
    """
    table = table if table is not None else TaskTable(num_cpus)
    if table.num_cpus != num_cpus or len(table):
        raise ValueError("busybox() fills an empty table of the same number of CPUs")
    table.spawn("sh", ppid=0, cpu=0)
    table.spawn("kthreadd", ppid=0, kthread=True, cpu=0)
    table.spawn("rcu_gp", kthread=True, cpu=0, state="I")
    table.spawn("rcu_par_gp", kthread=True, cpu=0, state="I")
    table.spawn("kworker/0:0", kthread=True, cpus_allowed={0}, state="I", wq_desc="events")
    _percpu(table, "kworker/0:0H", 0, "I")
    # Unbound pools are numbered after the two standard pools of every possible CPU.
    table.spawn(
        f"kworker/u{2 * num_cpus}:0", kthread=True, cpu=0, state="I", wq_desc="events_unbound"
    )
    table.spawn("mm_percpu_wq", kthread=True, cpu=0, state="I")
    table.spawn("rcu_tasks_kthread", kthread=True, cpu=0, state="I")
    _percpu(table, "ksoftirqd/0", 0, "S")
    table.spawn("rcu_preempt", kthread=True, cpu=0, state="I")
    _percpu(table, "migration/0", 0, "S")
    _percpu(table, "cpuhp/0", 0, "S")
    for cpu in range(1, num_cpus):
        _percpu(table, f"cpuhp/{cpu}", cpu, "S")
        _percpu(table, f"migration/{cpu}", cpu, "S")
        _percpu(table, f"ksoftirqd/{cpu}", cpu, "S")
        _percpu(table, f"kworker/{cpu}:0", cpu, "I")
        _percpu(table, f"kworker/{cpu}:0H", cpu, "I")
    for comm, state in _LATE_KTHREADS:
        nodes = range(num_nodes) if "{node}" in comm else [0]
        for node in nodes:
            table.spawn(comm.format(node=node), kthread=True, cpu=0, state=state)
    return table
