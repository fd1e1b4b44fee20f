"""Booting the kernel on a machine's hardware (init/main.c, arch/arm64 setup and smp).

`Kernel(hw)` owns the kernel's pieces (log, tasks, scheduler, hotplug, work queue, timers) on
the hardware's clock; `boot()` does what the walkthrough's kernel does before its prompt: runs
`__init_el2_mpam` on the boot CPU, logs the arm64 prologue, brings every secondary CPU up
through the hotplug states (each logs "CPUn: Booted secondary processor ..."), detects the
MPAM capability and applies it on every CPU, creates the busybox process table, then runs
the registered initcalls in order, then any work and timers they left. Drivers are not the
kernel's business: the machine layer appends its probe functions to `kernel.initcalls`.
"""

from __future__ import annotations

from collections.abc import Callable

from mpam.hw.build import Hardware
from mpam.kernel.cpufeature import (
    MPAM_FEATURE_DESC,
    CpuMpamInfo,
    read_cpu_mpam,
    sanitise,
    test_has_mpam,
)
from mpam.kernel.cpuhp import (
    CPUHP_AP_ONLINE,
    CPUHP_AP_SCHED_STARTING,
    CPUHP_BRINGUP_CPU,
    CpuHotplug,
)
from mpam.kernel.el2_setup import init_el2_mpam
from mpam.kernel.irq_events import IrqEvents
from mpam.kernel.klog import KernelLog
from mpam.kernel.preempt import Context, ExecutionContext
from mpam.kernel.sched import Scheduler
from mpam.kernel.smp import MIDR_NEOVERSE_N2, Smp
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import TaskTable, busybox
from mpam.kernel.timer import Timers
from mpam.kernel.workqueue import Workqueue

__all__ = [
    "LINUX_BANNER",
    "TICK_NS",
    "UTS_RELEASE",
    "CpuMpamInfo",
    "Kernel",
    "init_el2_mpam",
    "read_cpu_mpam",
]

UTS_RELEASE = "7.0.0-mpam"
LINUX_BANNER = (
    f"Linux version {UTS_RELEASE} (mpam@mpam) (gcc (GCC) 14.2.0, GNU ld (GNU Binutils) 2.43) "
    "#1 SMP PREEMPT"
)
#: One scheduler tick at HZ=250.
TICK_NS = 4_000_000

# Simulated time boot takes: until smp_init(), per secondary CPU, and until initcalls.
_SMP_INIT_NS = 30_000_000
_SECONDARY_NS = 500_000
_INITCALLS_NS = 60_000_000

Initcall = Callable[[], object]


class Kernel:
    """The Linux kernel of one machine: built on `hw`, started by `boot()`."""

    def __init__(
        self,
        hw: Hardware,
        *,
        machine_model: str | None = None,
        firmware_enables_mpam: bool = True,
    ) -> None:
        self.hw = hw
        self.platform = hw.platform
        self.clock = hw.clock
        self.machine_model = machine_model or self.platform.description.split(":")[0]
        n = len(hw.cpus)
        self.klog = KernelLog(self.clock)
        self.ctx = ExecutionContext(cpu=0)
        self.trace = SysregTrace(self.clock)
        self.irq_events = IrqEvents(self.clock)
        self.tasks = TaskTable(n)
        self.scheduler = Scheduler(
            hw.cpus, self.tasks, self.clock, self.klog, trace=self.trace, online=[0]
        )
        self.cpuhp = CpuHotplug(n, self.klog, ctx=self.ctx, online=[0])
        self.workqueue = Workqueue(self.ctx)
        self.timers = Timers(self.clock, self.ctx)
        self.smp = Smp(
            hw.cpus,
            [c.mpidr for c in self.platform.cpus],
            self.klog,
            self.tasks,
            self.scheduler.mpam,
            self.trace,
            firmware_enables_mpam=firmware_enables_mpam,
        )
        #: Functions run in order at the end of boot, in task context on CPU 0.
        self.initcalls: list[Initcall] = []
        #: The sanitised MPAM identification, once boot detected the capability.
        self.cpu_mpam: CpuMpamInfo | None = None
        self.booted = False
        self._install_hotplug_states()

    def _install_hotplug_states(self) -> None:
        sched = self.scheduler

        def sched_starting(cpu: int) -> int:
            sched.cpu_online(cpu)
            return 0

        def sched_dying(cpu: int) -> int:
            sched.cpu_offline(cpu)
            return 0

        for name, startup, teardown, state in (
            ("cpu:bringup", self.smp.boot_secondary, self.smp.cpu_die, CPUHP_BRINGUP_CPU),
            ("sched:starting", sched_starting, sched_dying, CPUHP_AP_SCHED_STARTING),
            ("ap:online", self.smp.secondary_started, None, CPUHP_AP_ONLINE),
        ):
            ret = self.cpuhp.setup_state(name, startup, teardown, state=state, invoke=False)
            assert ret == state, (name, ret)

    # -- queries ---------------------------------------------------------------------

    def system_supports_mpam(self) -> bool:
        """Whether boot detected the MPAM capability on every CPU."""
        return self.cpu_mpam is not None

    # -- boot ------------------------------------------------------------------------

    def boot(self) -> None:
        """Boot to the busybox prompt (see the module docstring for the steps)."""
        if self.booted:
            raise RuntimeError("the kernel is already booted")
        klog, smp = self.klog, self.smp
        smp.firmware_cpu_on(0)
        smp.cpu_entry(0)
        klog.pr_info(
            f"Booting Linux on physical CPU 0x{smp.hwids[0]:010x} [0x{MIDR_NEOVERSE_N2:08x}]"
        )
        klog.pr_notice(LINUX_BANNER)
        klog.pr_info(f"Machine model: {self.machine_model}")
        klog.pr_info("psci: probing for conduit method from ACPI.")
        klog.pr_info("psci: PSCIv1.1 detected in firmware.")
        klog.pr_info("Detected PIPT I-cache on CPU0")
        self.clock.advance(_SMP_INIT_NS)
        klog.pr_info("smp: Bringing up secondary CPUs ...")
        for cpu in range(1, len(self.hw.cpus)):
            self.clock.advance(_SECONDARY_NS)
            if self.cpuhp.cpu_up(cpu):
                klog.pr_err(f"CPU{cpu}: failed to come online")
        nodes = max(1, len(self.platform.numa))
        cpus = self.cpuhp.num_online_cpus()
        klog.pr_info(
            f"smp: Brought up {nodes} node{'s' if nodes != 1 else ''}, "
            f"{cpus} CPU{'s' if cpus != 1 else ''}"
        )
        klog.pr_info(f"SMP: Total of {cpus} processors activated.")
        self._setup_system_features()
        el = 2 if self.platform.cpu_mpam.el2 else 1
        klog.pr_info(f"CPU: All CPU(s) started at EL{el}")
        busybox(len(self.hw.cpus), self.tasks, num_nodes=max(1, len(self.platform.numa)))
        self.clock.advance(_INITCALLS_NS)
        with self.ctx.enter(Context.TASK, 0):
            for initcall in list(self.initcalls):
                initcall()
            self.workqueue.flush()
            self.timers.run_timers()
        klog.pr_info("Run /bin/sh as init process")
        self.booted = True

    def _setup_system_features(self) -> None:
        """setup_system_features(): detect MPAM on every online CPU, then enable it on each."""
        online = sorted(self.cpuhp.online_mask)
        infos = [read_cpu_mpam(self.hw.cpus[c]) for c in online]
        if not all(test_has_mpam(i) for i in infos):
            return
        self.cpu_mpam = sanitise(infos)
        self.klog.pr_info(f"CPU features: detected: {MPAM_FEATURE_DESC}")
        self.smp.system_has_mpam = True
        for cpu in online:
            with self.ctx.enter(Context.ATOMIC, cpu):  # stop_machine() on every CPU
                self.scheduler.mpam.cpu_enable_mpam(cpu, self.scheduler.current(cpu))

    # -- running ---------------------------------------------------------------------

    def cpu_up(self, cpu: int) -> int:
        """Bring `cpu` online (echo 1 > /sys/devices/system/cpu/cpuN/online)."""
        return self.cpuhp.cpu_up(cpu)

    def cpu_down(self, cpu: int) -> int:
        """Take `cpu` offline (echo 0 > /sys/devices/system/cpu/cpuN/online)."""
        return self.cpuhp.cpu_down(cpu)

    def run(self, ns: int, *, tick_ns: int = TICK_NS) -> None:
        """Let `ns` of simulated time pass, tick by tick: timers fire when due, pending
        work runs, and every online CPU schedules."""
        if ns < 0 or tick_ns <= 0:
            raise ValueError("time only moves forward, in positive ticks")
        end = self.clock.now_ns + ns
        while self.clock.now_ns < end:
            self.timers.run_until(min(end, self.clock.now_ns + tick_ns))
            self.workqueue.flush()
            self.scheduler.tick()
