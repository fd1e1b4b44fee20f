"""Powering CPUs on and off over PSCI (arch/arm64/kernel/smp.c, drivers/firmware/psci).

These are the callbacks the kernel installs in its hotplug states, and the only place the
arm64 bring-up and shutdown messages come from:

- bring-up (CPUHP_BRINGUP_CPU): PSCI CPU_ON resets the PE and EL3 firmware enables MPAM on
  it (MPAM3_EL3.MPAMEN, as TF-A does for every CPU it powers on); the CPU enters the kernel
  through head.S (`__init_el2_mpam`), has the system's MPAM state re-applied when the
  capability is already known (cpu_enable_mpam) and logs "Detected PIPT I-cache on CPUn";
- online (CPUHP_AP_ONLINE): "CPUn: Booted secondary processor 0x... [0x...]";
- teardown of the bring-up: "CPUn: shutdown" and "psci: CPUn killed (polled 0 ms)".
"""

from __future__ import annotations

from collections.abc import Sequence

from mpam.hw.cpu import Cpu
from mpam.hw.sysregs import field_prep
from mpam.kernel.arm64_mpam import Arm64Mpam
from mpam.kernel.el2_setup import init_el2_mpam
from mpam.kernel.klog import KernelLog
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import TaskTable

__all__ = ["MIDR_NEOVERSE_N2", "MPIDR_HWID_BITMASK", "Smp"]

#: MIDR_EL1 of an Arm Neoverse N2 r0p0, the core of the walkthrough's RD-N2.
MIDR_NEOVERSE_N2 = 0x410FD490
#: The affinity fields of MPIDR_EL1 (Aff3, Aff2, Aff1, Aff0) that identify a CPU.
MPIDR_HWID_BITMASK = 0xFF00FFFFFF


class Smp:
    """Bring-up and teardown of the CPUs of one machine."""

    def __init__(
        self,
        cpus: Sequence[Cpu],
        mpidrs: Sequence[int],
        klog: KernelLog,
        tasks: TaskTable,
        mpam: Arm64Mpam,
        trace: SysregTrace,
        *,
        midr: int = MIDR_NEOVERSE_N2,
        firmware_enables_mpam: bool = True,
    ) -> None:
        if len(cpus) != len(mpidrs):
            raise ValueError("one MPIDR per CPU")
        self.cpus = list(cpus)
        self.hwids = [m & MPIDR_HWID_BITMASK for m in mpidrs]
        self.klog = klog
        self.tasks = tasks
        self.mpam = mpam
        self.trace = trace
        self.midr = midr
        self.firmware_enables_mpam = firmware_enables_mpam
        #: Set once boot detected the MPAM capability: CPUs coming up later re-apply it.
        self.system_has_mpam = False

    def firmware_cpu_on(self, cpu: int) -> None:
        """What firmware does to power a PE on: reset it, then (TF-A at EL3) enable MPAM
        and stop trapping lower ELs' MPAM accesses."""
        pe = self.cpus[cpu]
        pe.reset()
        if self.firmware_enables_mpam and pe.mpam.el3:
            pe.write_sysreg("MPAM3_EL3", field_prep("MPAM3_EL3", "MPAMEN", 1))

    def cpu_entry(self, cpu: int) -> None:
        """The kernel's entry on `cpu` (head.S): __init_el2_mpam, traced."""
        init_el2_mpam(self.cpus[cpu], self.trace, self.tasks.idle(cpu))

    def boot_secondary(self, cpu: int) -> int:
        """CPUHP_BRINGUP_CPU startup: power `cpu` on and run its early start."""
        self.firmware_cpu_on(cpu)
        self.cpu_entry(cpu)
        if self.system_has_mpam:
            self.mpam.cpu_enable_mpam(cpu, self.tasks.idle(cpu))
        self.klog.pr_info(f"Detected PIPT I-cache on CPU{cpu}")
        return 0

    def secondary_started(self, cpu: int) -> int:
        """CPUHP_AP_ONLINE startup: the message of secondary_start_kernel()."""
        self.klog.pr_info(
            f"CPU{cpu}: Booted secondary processor 0x{self.hwids[cpu]:010x} [0x{self.midr:08x}]"
        )
        return 0

    def cpu_die(self, cpu: int) -> int:
        """CPUHP_BRINGUP_CPU teardown: the CPU has died and PSCI confirms it is off."""
        self.klog.pr_notice(f"CPU{cpu}: shutdown")
        self.klog.pr_info(f"psci: CPU{cpu} killed (polled 0 ms)")
        return 0
