"""Deferred work: order, dedup, the context it runs in, and PCC access from it."""

from __future__ import annotations

import pytest

import mpam.hw
import mpam.platform
from mpam.hw.pcc import PccMsc, SleepInAtomicContext
from mpam.hw.regmap import reg
from mpam.kernel.preempt import Context, ExecutionContext
from mpam.kernel.workqueue import Workqueue


def test_flush_runs_pending_work_in_order() -> None:
    wq = Workqueue(ExecutionContext())
    ran: list[str] = []
    for name in "abc":
        assert wq.queue_work(lambda name=name: ran.append(name))
    assert len(wq) == 3 and ran == []
    assert wq.flush() == 3
    assert ran == ["a", "b", "c"] and len(wq) == 0 and wq.completed == 3


def test_queueing_pending_work_again_does_nothing() -> None:
    wq = Workqueue(ExecutionContext())
    ran: list[int] = []

    def mpam_enable() -> None:
        ran.append(1)

    assert wq.queue_work(mpam_enable)
    assert not wq.queue_work(mpam_enable)
    assert wq.work_pending(mpam_enable)
    wq.flush()
    assert ran == [1]
    assert wq.queue_work(mpam_enable)  # not pending any more: queued again


def test_work_runs_in_task_context_on_its_cpu() -> None:
    ctx = ExecutionContext(cpu=0)
    wq = Workqueue(ctx)
    seen: list[tuple[Context, int]] = []

    def record() -> None:
        seen.append((ctx.context, ctx.smp_processor_id()))

    wq.queue_work_on(5, record)
    wq.queue_work_on(2, lambda: record())
    with ctx.enter(Context.IRQ, cpu=3):
        wq.queue_work(lambda: record())  # from an interrupt on CPU 3: runs later, on CPU 3
    wq.flush()
    assert seen == [(Context.TASK, 5), (Context.TASK, 2), (Context.TASK, 3)]


def test_work_queued_by_work_runs_in_the_same_flush() -> None:
    wq = Workqueue(ExecutionContext())
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        wq.queue_work(lambda: ran.append("second"))

    wq.queue_work(first)
    assert wq.flush() == 2
    assert ran == ["first", "second"]


def test_cancel_work() -> None:
    wq = Workqueue(ExecutionContext())
    ran: list[int] = []

    def fn() -> None:
        ran.append(1)

    wq.queue_work(fn)
    assert wq.cancel_work(fn)
    assert not wq.cancel_work(fn)
    assert wq.flush() == 0 and ran == []


def test_flush_may_not_be_called_from_atomic_context_or_from_work() -> None:
    ctx = ExecutionContext()
    wq = Workqueue(ctx)
    with ctx.enter(Context.ATOMIC), pytest.raises(SleepInAtomicContext):
        wq.flush()
    wq.queue_work(lambda: wq.flush())
    with pytest.raises(RuntimeError, match="its own work"):
        wq.flush()


def test_self_requeueing_work_cannot_hang_a_flush() -> None:
    wq = Workqueue(ExecutionContext())

    def again() -> None:
        wq.queue_work(again)

    wq.queue_work(again)
    with pytest.raises(RuntimeError, match="never completes"):
        wq.flush()


def test_a_firmware_backed_msc_is_read_from_work_not_from_atomic_context() -> None:
    hw = mpam.hw.build(mpam.platform.load("two-socket"))
    msc = hw.msc("mem-n1")
    assert isinstance(msc, PccMsc)
    ctx = ExecutionContext()
    wq = Workqueue(ctx)
    idr: list[int] = []
    with ctx.enter(Context.ATOMIC), pytest.raises(SleepInAtomicContext):
        msc.read32(reg("MPAMF_IDR").offset, ctx.access_context())
    wq.queue_work(lambda: idr.append(msc.read32(reg("MPAMF_IDR").offset, ctx.access_context())))
    start = hw.clock.now_ns
    wq.flush()
    assert idr and idr[0] != 0
    assert hw.clock.now_ns - start == msc.latency_ns  # the worker slept on the mailbox
