"""The kernel's system-register writes (write_sysreg_s), each one recorded.

The kernel touches a CPU's MPAM state only through the hw `Cpu.write_sysreg` (MSR); doing it
through `SysregTrace.write` also records who wrote what and when, with the register read
back before and after, so a run can be replayed line by line like the walkthrough's debug log of
mpam_thread_switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.kernel.tasks import Task

__all__ = ["SysregTrace", "SysregWrite"]


@dataclass(frozen=True)
class SysregWrite:
    """One MSR by the kernel.

    `task` fields name the task current on the CPU (the idle task during early boot).
    `oldregval` (arm64_mpam_current before) and `regval` (the incoming task's thread_info
    word) are set for the writes of a context switch and None otherwise. `origin` says
    which kernel path wrote: "el2_setup", "cpu_enable_mpam" or "thread_switch".
    """

    time_ns: int
    cpu: int
    pid: int
    tgid: int
    comm: str
    register: str
    value: int  # what was written
    before: int  # read back before the write
    after: int  # read back after it (RES0 and read-only bits as the PE keeps them)
    origin: str
    oldregval: int | None = None
    regval: int | None = None


class SysregTrace:
    """Every system-register write of one machine's kernel, in order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.records: list[SysregWrite] = []

    def __iter__(self) -> Iterator[SysregWrite]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> SysregWrite:
        return self.records[index]

    def write(
        self,
        cpu: Cpu,
        register: str,
        value: int,
        task: Task,
        *,
        origin: str,
        oldregval: int | None = None,
        regval: int | None = None,
    ) -> SysregWrite:
        """write_sysreg_s(value, register) on `cpu`, with `task` current there, recorded."""
        before = cpu.read_sysreg(register)
        cpu.write_sysreg(register, value)
        record = SysregWrite(
            time_ns=self.clock.now_ns,
            cpu=cpu.index,
            pid=task.pid,
            tgid=task.tgid,
            comm=task.comm,
            register=register,
            value=value,
            before=before,
            after=cpu.read_sysreg(register),
            origin=origin,
            oldregval=oldregval,
            regval=regval,
        )
        self.records.append(record)
        return record

    def select(
        self, *, register: str | None = None, cpu: int | None = None, origin: str | None = None
    ) -> list[SysregWrite]:
        """The records matching every filter given."""
        return [
            r
            for r in self.records
            if (register is None or r.register == register)
            and (cpu is None or r.cpu == cpu)
            and (origin is None or r.origin == origin)
        ]
