"""One MPAM machine, assembled from a description and booted like the real thing.

The hardware is built from the platform description; everything above it learns about the
machine the way Linux does: the kernel boots on the CPUs, and the MPAM driver finds the MSCs
in the ACPI MPAM table, the caches in the PPTT and the NUMA nodes in the SRAT that firmware
(`mpam.firmware`) built, then reads what each MSC implements from its ID registers.

Interrupts are taken at safe points, as on a real CPU between instructions: an MSC that
raises its error line during an access has its handler run once the access is over
(`service`), never in the middle of it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mpam.driver.mpam_devices import MpamDriver
from mpam.driver.mpam_msmon import Msmon
from mpam.driver.mpam_resctrl import MpamResctrl
from mpam.firmware import CacheTopology, build_tables, numa_map, parse_pptt, parse_srat
from mpam.hw import Hardware, build
from mpam.hw.irq import IrqLine
from mpam.hw.pcc import PccMsc
from mpam.hw.regmap import field_prep, reg
from mpam.kernel import Context, Kernel
from mpam.kernel.cpu_sysfs import cpu_sysfs
from mpam.kernel.tasks import Task
from mpam.platform import DEFAULT, Platform, load
from mpam.resctrl.fs import ResctrlFs
from mpam.sim.engine import Engine
from mpam.sim.workload import Workload, parse_workload

__all__ = ["Machine"]


class Machine:
    """A machine: hardware, firmware tables, kernel and MPAM driver."""

    def __init__(
        self,
        platform: Platform | str | Path = DEFAULT,
        *,
        name: str = "mpam",
        sample: int = 1,
        policy: str = "lru",
        seed: int = 0,
    ) -> None:
        self.platform = platform if isinstance(platform, Platform) else load(platform)
        self.name = name
        self.hw: Hardware = build(self.platform)
        self.tables = build_tables(self.platform)
        self.kernel = Kernel(self.hw)
        self.pptt = CacheTopology(parse_pptt(self.tables["PPTT.aml"]))
        self._unified_sizes: dict[int, int] = {}
        for leaves in self.pptt.leaves().values():
            for leaf in leaves:
                if leaf.type == "unified":
                    old = self._unified_sizes.get(leaf.level, leaf.size)
                    self._unified_sizes[leaf.level] = min(old, leaf.size)
        # The NUMA map, from the SRAT as Linux derives it (ACPI processor UID = CPU number).
        numa = numa_map(parse_srat(self.tables["SRAT.aml"]))
        pxm_to_node, cpu_to_node = numa.pxm_to_node, numa.cpu_to_node
        k = self.kernel
        self.driver = MpamDriver(
            log=k.klog.log,
            bus=self.hw,
            hotplug=k.cpuhp,
            queue_work=k.workqueue.queue_work,
            possible_cpus=range(len(self.hw.cpus)),
            mpam_table=self.tables["MPAM.aml"],
            pptt=self.pptt,
            pxm_to_node=pxm_to_node,
            cpu_to_node=cpu_to_node,
            supports_mpam=k.system_supports_mpam,
            context=k.ctx.access_context,
            wait_ns=k.clock.advance,
        )
        self.msmon = Msmon(self.driver, self._sleep_us, might_sleep=k.ctx.might_sleep)
        self.driver.on_enable.append(self._enable_static_key)
        self.driver.on_enable.append(self._resctrl_setup)
        #: The resctrl arch interface and filesystem, once the driver has enabled MPAM.
        self.resctrl_arch: MpamResctrl | None = None
        self.resctrl: ResctrlFs | None = None
        self.driver.on_disable.append(self._disable_static_key)
        k.initcalls += [self._register_cpus, self.driver.driver_init, self.driver.acpi_parse]
        self._pending_irqs: list[int] = []
        #: The performance model: workloads' traffic through the caches and memory.
        self.sim = Engine(self.platform, self.hw, k, sample=sample, policy=policy, seed=seed)
        #: Where this machine's resctrl is mounted through FUSE, and with which options.
        self.mounts: dict[str, str] = {}
        #: where its /sys/devices/system/cpu is mounted (`mpam sysfs`)
        self.sysfs_mounts: set[str] = set()
        self._wire_interrupts()

    # --- boot -----------------------------------------------------------------------------

    def boot(self) -> Machine:
        """Boot firmware hands over, then the kernel boots; the driver probes and enables
        MPAM during its initcalls."""
        self._firmware_enable_partids()
        self.kernel.boot()
        self.service()
        return self

    def _firmware_enable_partids(self) -> None:
        """An MSC with HAS_ENDIS enables only PARTID 0 at reset, and Linux's driver never
        writes MPAMCFG_EN: boot firmware enables every PARTID before it hands over, as
        IHI0099's reset rules expect of it."""
        en = reg("MPAMCFG_EN")
        for device in self.hw.mscs:
            msc = device.msc if isinstance(device, PccMsc) else device
            if msc.desc.has_endis:
                for partid in range(msc.partid_max + 1):
                    msc.write32(en.offset, field_prep("MPAMCFG_EN", "PARTID", partid))

    def _register_cpus(self) -> int:
        """arm64_mpam_register_cpus (arch_initcall): the CPUs are a requestor too."""
        info = self.kernel.cpu_mpam
        if info is None:
            return 0
        return self.driver.register_requestor(info.partid_max, info.pmg_max)

    def _enable_static_key(self) -> None:
        self.kernel.scheduler.mpam_enabled = True

    def _resctrl_setup(self) -> None:
        """mpam_resctrl_setup, called as MPAM is enabled: the arch interface, and the
        resctrl filesystem registered with it (resctrl_init) and ready to be mounted.

        The driver's CPU callbacks go to the arch (mpam_resctrl_online_cpu / _offline_cpu),
        which keeps the domains and calls the filesystem's domain and CPU hooks in the
        kernel's order; the first of them run when the driver installs "mpam:online" just
        after this. When the driver disables MPAM it calls mpam_resctrl_exit, which tears
        the filesystem down (resctrl_exit), and lets go of each class."""
        arch = MpamResctrl(self.driver, self.msmon, self.kernel)
        fs = ResctrlFs(arch, self.kernel, self._cache_size)
        arch.resctrl_init(fs)
        self.resctrl_arch, self.resctrl = arch, fs
        self.driver.on_cpu_online.append(arch.online_cpu)
        self.driver.on_cpu_offline.append(arch.offline_cpu)
        self.driver.on_resctrl_exit.append(arch.exit)
        self.driver.on_teardown_class.append(arch.teardown_class)

    def _cache_size(self, level: int) -> int:
        """Bytes of one unified cache of `level`, as cacheinfo reports it (0 if none)."""
        return self._unified_sizes.get(level, 0)

    def _disable_static_key(self) -> None:
        self.kernel.scheduler.mpam_enabled = False

    def _sleep_us(self, usec: int) -> None:
        """A sleeping wait in the driver: simulated time passes."""
        self.kernel.clock.advance(usec * 1000)

    # --- interrupts -----------------------------------------------------------------------

    def _wire_interrupts(self) -> None:
        for device_gsiv in {
            m.error_interrupt.gsiv for m in self.platform.mscs if m.error_interrupt
        }:
            line = self.hw.irq.line(device_gsiv)
            line.handlers.append(self._raise)

    def _raise(self, line: IrqLine) -> None:
        if line.gsiv not in self._pending_irqs:
            self._pending_irqs.append(line.gsiv)

    def service(self) -> None:
        """Take pending interrupts (in IRQ context), then run the work they queued."""
        k = self.kernel
        while self._pending_irqs:
            gsiv = self._pending_irqs.pop(0)
            for msc in self.driver.mscs:
                if msc.error_irq != gsiv or not msc.error_irq_requested:
                    continue
                # A firmware-backed MSC's registers can only be read where the handler may
                # sleep: its handler runs threaded (request_threaded_irq), in task context.
                context = Context.TASK if isinstance(msc.regs, PccMsc) else Context.IRQ
                device = msc.regs.msc.name if isinstance(msc.regs, PccMsc) else msc.regs.name
                with k.ctx.enter(context, 0):
                    handler = functools.partial(self.driver.irq_handler, msc)
                    k.irq_events.run(0, gsiv, "mpam:msc:error", device, handler)
            self.hw.irq.line(gsiv).ack()
        with k.ctx.enter(Context.TASK, 0):
            k.workqueue.flush()

    # --- what users do --------------------------------------------------------------------

    def cpu_down(self, cpu: int) -> int:
        ret = self.kernel.cpu_down(cpu)
        self.service()
        return ret

    def cpu_up(self, cpu: int) -> int:
        ret = self.kernel.cpu_up(cpu)
        self.service()
        return ret

    def run_workload(self, workload: Workload | str, *, cpu: int, name: str | None = None) -> Task:
        """Start a task on `cpu` (its only allowed CPU) running `workload`, a child of the
        shell like a command started from the prompt; the task is returned with its pid."""
        if cpu not in range(len(self.hw.cpus)):
            raise ValueError(f"there is no CPU{cpu}")
        if cpu not in self.kernel.scheduler.online:
            raise ValueError(f"CPU{cpu} is offline")
        w = parse_workload(workload) if isinstance(workload, str) else workload
        task = self.kernel.tasks.spawn(name or w.comm, ppid=1, cpus_allowed={cpu}, cpu=cpu)
        self.sim.attach(task, w)
        return task

    def kill(self, pid: int) -> None:
        """The task exits (SIGKILL); its workload's statistics stay readable."""
        task = self.kernel.tasks[pid]
        if task.kthread or pid == 1:
            raise ValueError(f"task {pid} ({task.comm}) cannot be killed")
        self.sim.detach(pid)
        self.kernel.scheduler.exit(task)

    def run(self, ns: int) -> None:
        """Let `ns` of simulated time pass: workloads run, then interrupts are taken."""
        self.sim.run(ns)
        self.service()

    def cpu_sysfs(self) -> dict[str, str]:
        """Its /sys/devices/system/cpu now ({path below it: text}), hotplug included."""
        return cpu_sysfs(self.platform.cpus, self.pptt, self.kernel.cpuhp.online_mask)

    def dmesg(self, min_level: str = "info") -> str:
        return self.kernel.klog.dmesg(min_level)
