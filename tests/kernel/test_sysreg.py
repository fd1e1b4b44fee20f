"""The recorded system-register writes."""

from __future__ import annotations

from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import TaskTable
from mpam.platform.model import CpuMpam


def test_a_write_reaches_the_pe_and_is_recorded_with_before_and_after() -> None:
    clock = Clock(42)
    trace = SysregTrace(clock)
    cpu = Cpu(1, CpuMpam())  # EL3 present: MPAM1_EL1.MPAMEN is a read-only view
    task = TaskTable(2).idle(1)
    rec = trace.write(cpu, "MPAM1_EL1", 1 << 63 | 0x30003, task, origin="thread_switch")
    assert cpu.read_sysreg("MPAM1_EL1") == 0x30003
    assert (rec.time_ns, rec.cpu, rec.pid, rec.comm) == (42, 1, 0, "swapper/1")
    assert (rec.value, rec.before, rec.after) == (1 << 63 | 0x30003, 0, 0x30003)
    assert rec.oldregval is None and rec.regval is None
    assert list(trace) == [rec] and len(trace) == 1 and trace[0] is rec


def test_select_filters_records() -> None:
    trace = SysregTrace(Clock())
    cpus = [Cpu(i, CpuMpam()) for i in range(2)]
    task = TaskTable(2).idle(0)
    for cpu in cpus:
        trace.write(cpu, "MPAM0_EL1", 1, task, origin="a")
        trace.write(cpu, "MPAM2_EL2", 0, task, origin="b")
    assert len(trace.select(register="MPAM0_EL1")) == 2
    assert [r.register for r in trace.select(cpu=1)] == ["MPAM0_EL1", "MPAM2_EL2"]
    assert len(trace.select(cpu=0, origin="b")) == 1
