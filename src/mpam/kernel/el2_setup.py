"""The kernel's first MPAM writes on every CPU, at EL2 in head.S (asm/el2_setup.h).

`__init_el2_mpam` puts a CPU in the default partition and stops lower ELs trapping to EL2
before anything else runs: MPAM0_EL1, MPAM2_EL2 and MPAM1_EL1 to 0, and MPAMHCR_EL2 to 0 when
MPAMIDR_EL1.HAS_HCR says that register exists. It is skipped when ID_AA64PFR0_EL1.MPAM is 0,
and when the kernel was entered at EL1 (no EL2 to set up).
"""

from __future__ import annotations

from mpam.hw.cpu import Cpu
from mpam.hw.sysregs import field_get
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import Task

__all__ = ["init_el2_mpam"]


def init_el2_mpam(cpu: Cpu, trace: SysregTrace | None = None, task: Task | None = None) -> int:
    """Run __init_el2_mpam on `cpu`; the number of registers written.

    With a `trace`, each write is recorded against `task` (the CPU's idle task, current
    during early boot).
    """
    if not cpu.mpam.el2:
        return 0
    if field_get("ID_AA64PFR0_EL1", "MPAM", cpu.read_sysreg("ID_AA64PFR0_EL1")) == 0:
        return 0
    writes = ["MPAM0_EL1", "MPAM2_EL2", "MPAM1_EL1"]
    if field_get("MPAMIDR_EL1", "HAS_HCR", cpu.read_sysreg("MPAMIDR_EL1")):
        writes.append("MPAMHCR_EL2")  # clear TRAP_MPAMIDR_EL1 -> EL2
    for register in writes:
        if trace is None:
            cpu.write_sysreg(register, 0)
        else:
            if task is None:
                raise ValueError("a traced write needs the task current on the CPU")
            trace.write(cpu, register, 0, task, origin="el2_setup")
    return len(writes)
