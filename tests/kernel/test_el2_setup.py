"""__init_el2_mpam, exactly as the walkthrough's el2_setup.h does it."""

from __future__ import annotations

from typing import Any

from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.kernel.el2_setup import init_el2_mpam
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import TaskTable
from mpam.platform.model import CpuMpam

ALL_LABELS = 0xFF_FF_FFFF_FFFF  # every PARTID/PMG bit


def dirty_cpu(**kw: Any) -> Cpu:
    """A PE whose MPAM registers hold leftovers from before the kernel."""
    cpu = Cpu(2, CpuMpam(**kw))
    for name in ("MPAM0_EL1", "MPAM1_EL1", "MPAM2_EL2"):
        if cpu.implements(name):
            cpu.write_sysreg(name, ALL_LABELS)
    if cpu.implements("MPAMHCR_EL2"):
        cpu.write_sysreg("MPAMHCR_EL2", 1 << 31 | 0b11)  # TRAP_MPAMIDR_EL1, VPMEN
    return cpu


def traced(cpu: Cpu) -> SysregTrace:
    trace = SysregTrace(Clock(7))
    init_el2_mpam(cpu, trace, TaskTable(4).idle(cpu.index))
    return trace


def test_writes_in_the_seed_order_with_hcr() -> None:
    cpu = dirty_cpu()
    trace = traced(cpu)
    assert [(r.register, r.value) for r in trace] == [
        ("MPAM0_EL1", 0),
        ("MPAM2_EL2", 0),
        ("MPAM1_EL1", 0),
        ("MPAMHCR_EL2", 0),
    ]
    assert trace[0].before == ALL_LABELS and trace[0].after == 0
    assert trace[3].before == 1 << 31 | 0b11 and trace[3].after == 0
    assert all(
        (r.time_ns, r.cpu, r.pid, r.comm, r.origin) == (7, 2, 0, "swapper/2", "el2_setup")
        for r in trace
    )
    assert cpu.read_sysreg("MPAM2_EL2") == 0


def test_no_mpamhcr_write_without_has_hcr() -> None:
    cpu = dirty_cpu(has_hcr=False)
    assert [r.register for r in traced(cpu)] == ["MPAM0_EL1", "MPAM2_EL2", "MPAM1_EL1"]
    assert cpu.read_sysreg("MPAM0_EL1") == 0


def test_skipped_without_mpam_in_id_aa64pfr0() -> None:
    cpu = dirty_cpu(version="0.1")  # PFR0.MPAM is 0 (only MPAM_frac says 1)
    assert len(traced(cpu)) == 0
    assert cpu.read_sysreg("MPAM0_EL1") == ALL_LABELS


def test_skipped_when_the_kernel_enters_at_el1() -> None:
    cpu = dirty_cpu(el2=False)
    assert len(traced(cpu)) == 0


def test_untraced_form_writes_too() -> None:
    cpu = dirty_cpu()
    assert init_el2_mpam(cpu) == 4
    assert cpu.read_sysreg("MPAM0_EL1") == 0 and cpu.read_sysreg("MPAMHCR_EL2") == 0
