"""Execution contexts and the sleep check firmware-backed MSCs depend on."""

from __future__ import annotations

import pytest

from mpam.hw.msc import AccessContext
from mpam.hw.pcc import SleepInAtomicContext
from mpam.kernel.preempt import Context, ExecutionContext


def test_contexts_nest_and_unwind() -> None:
    ctx = ExecutionContext(cpu=1)
    assert ctx.in_task() and not ctx.in_atomic() and ctx.smp_processor_id() == 1
    with ctx.enter(Context.ATOMIC, cpu=4):
        assert ctx.in_atomic() and not ctx.in_irq() and ctx.smp_processor_id() == 4
        with ctx.enter(Context.IRQ):
            assert ctx.in_irq() and ctx.in_atomic() and ctx.smp_processor_id() == 4
        assert ctx.context is Context.ATOMIC
    assert ctx.context is Context.TASK and ctx.smp_processor_id() == 1


def test_access_context_for_the_hardware() -> None:
    ctx = ExecutionContext()
    assert ctx.access_context() is AccessContext.TASK
    with ctx.enter(Context.IRQ):
        assert ctx.access_context() is AccessContext.ATOMIC


def test_might_sleep_refuses_atomic_callers() -> None:
    ctx = ExecutionContext()
    ctx.might_sleep("mpam_msmon_read")  # fine in task context
    with ctx.enter(Context.ATOMIC, cpu=2), pytest.raises(SleepInAtomicContext, match="CPU2"):
        ctx.might_sleep("mpam_msmon_read")


def test_task_context_cannot_be_entered_from_atomic() -> None:
    ctx = ExecutionContext()
    with ctx.enter(Context.ATOMIC), pytest.raises(SleepInAtomicContext), ctx.enter(Context.TASK):
        pass
    assert ctx.in_task()
