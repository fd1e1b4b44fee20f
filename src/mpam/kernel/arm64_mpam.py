"""The arm64 MPAM CPU state and the context-switch hook (asm/mpam.h, kernel/mpam.c).

Each CPU has a default label (per-CPU `arm64_mpam_default`, set for the CPU's resctrl group)
and the label currently in its registers (`arm64_mpam_current`). On every switch,
`mpam_thread_switch` (arch/arm64/include/asm/mpam.h) programs the incoming task's label:
a task whose word equals the global default (what a root-group task has) takes the CPU's
default instead; a value equal to what is already programmed writes nothing; otherwise
MPAM1_EL1 = value | MPAMEN, MPAMSM_EL1 = its PARTID_D/PMG_D part when the PE has SME,
MPAM0_EL1 = value. Nothing is written until the driver flips the `mpam_enabled` static key.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpam.hw.cpu import Cpu
from mpam.hw.sysregs import field, field_prep
from mpam.kernel.klog import KernelLog
from mpam.kernel.sysreg import SysregTrace, SysregWrite
from mpam.kernel.tasks import Task, mpam_regval

__all__ = ["MPAMEN", "Arm64Mpam", "format_switch_debug"]

#: MPAM1_EL1.MPAMEN, which the kernel always sets when it writes MPAM1_EL1.
MPAMEN = field_prep("MPAM1_EL1", "MPAMEN", 1)
_MPAMSM_MASK = field("MPAMSM_EL1", "PARTID_D").mask | field("MPAMSM_EL1", "PMG_D").mask

_DEBUG_LABELS = (
    "oldregval (arm64_mpam_current)",
    "regval (thread_info field)",
    "pid",
    "tgid",
    "cpu id",
    "SYS_MPAM0_EL1 before update",
    "SYS_MPAM0_EL1 after update",
)


def format_switch_debug(record: SysregWrite) -> str:
    """The debug chunk the walkthrough's instrumented mpam_thread_switch printed for one switch.

    `record` is the switch's MPAM0_EL1 write; register values are lower-case hex without
    0x, ids decimal, and the chunk ends with an empty line.
    """
    if record.register != "MPAM0_EL1" or record.oldregval is None or record.regval is None:
        raise ValueError("not the MPAM0_EL1 write of a context switch")
    values = (
        f"{record.oldregval:x}",
        f"{record.regval:x}",
        str(record.pid),
        str(record.tgid),
        str(record.cpu),
        f"{record.before:x}",
        f"{record.after:x}",
    )
    lines = [f"{label:<31}: {value}" for label, value in zip(_DEBUG_LABELS, values, strict=True)]
    return "\n".join([*lines, ""]) + "\n"


class Arm64Mpam:
    """Per-CPU MPAM defaults and current values, the global default and the static key."""

    def __init__(
        self, cpus: Sequence[Cpu], trace: SysregTrace, klog: KernelLog | None = None
    ) -> None:
        self.cpus = list(cpus)
        self.trace = trace
        self.klog = klog
        #: The `mpam_enabled` static key: the driver enables it once MPAM is usable.
        self.mpam_enabled = False
        #: The word a root-group task has (0; PARTID 0/1 for data/code under CDP).
        self.arm64_mpam_global_default = 0
        self.arm64_mpam_default = [0] * len(self.cpus)
        self.arm64_mpam_current = [0] * len(self.cpus)
        #: Log format_switch_debug() of every programming switch, as the walkthrough's build did.
        self.log_switches = False

    def mpam_set_cpu_defaults(
        self, cpu: int, partid_d: int, partid_i: int, pmg_d: int, pmg_i: int
    ) -> None:
        """The label tasks in the default group get on `cpu` (takes effect at the next
        switch there, or at a `mpam_thread_switch` of its current task)."""
        self.arm64_mpam_default[cpu] = mpam_regval(partid_d, partid_i, pmg_d, pmg_i)

    @staticmethod
    def mpam_set_task_partid_pmg(
        task: Task, partid_d: int, partid_i: int, pmg_d: int, pmg_i: int
    ) -> None:
        """Store the task's label in its thread_info word (used from its next switch in)."""
        task.mpam_partid_pmg = mpam_regval(partid_d, partid_i, pmg_d, pmg_i)

    def _write_labels(
        self,
        cpu: int,
        value: int,
        task: Task,
        origin: str,
        oldregval: int | None = None,
        regval: int | None = None,
    ) -> SysregWrite:
        pe = self.cpus[cpu]
        writes = [("MPAM1_EL1", value | MPAMEN)]
        if pe.implements("MPAMSM_EL1"):
            writes.append(("MPAMSM_EL1", value & _MPAMSM_MASK))
        # isb(); the EL0 write is left to be synchronised by the ERET to EL0.
        writes.append(("MPAM0_EL1", value))
        records = [
            self.trace.write(pe, reg, v, task, origin=origin, oldregval=oldregval, regval=regval)
            for reg, v in writes
        ]
        return records[-1]

    def mpam_thread_switch(self, cpu: int, task: Task) -> SysregWrite | None:
        """Program `cpu` for `task` switching in; the MPAM0_EL1 record, or None when
        nothing had to be written."""
        if not self.mpam_enabled:
            return None
        regval = task.mpam_partid_pmg
        value = regval
        if value == self.arm64_mpam_global_default:
            value = self.arm64_mpam_default[cpu]
        oldregval = self.arm64_mpam_current[cpu]
        if oldregval == value:
            return None
        record = self._write_labels(cpu, value, task, "thread_switch", oldregval, regval)
        self.arm64_mpam_current[cpu] = value
        if self.log_switches and self.klog is not None:
            self.klog.pr_info(format_switch_debug(record))
        return record

    def cpu_enable_mpam(self, cpu: int, task: Task) -> None:
        """cpufeature's enable hook, on every CPU at boot and on each CPU coming online:
        reprogram the registers the PE lost with arm64_mpam_current (0 until enabled)."""
        value = self.arm64_mpam_current[cpu] if self.mpam_enabled else 0
        self._write_labels(cpu, value, task, "cpu_enable_mpam")
