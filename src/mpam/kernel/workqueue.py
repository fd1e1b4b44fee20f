"""Deferred work: functions queued now and run later in a kworker, a context that may sleep.

The MPAM driver defers `mpam_enable` to a work item and reads firmware-backed MSCs from work
rather than from an IPI, because those accesses sleep on a PCC mailbox. A work item is a
callable; queueing one that is already pending does nothing (queue_work returns False), as
with a work_struct. `flush()` runs the pending items in order, each in task context on the
CPU it was queued for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mpam.kernel.preempt import Context, ExecutionContext

__all__ = ["Work", "Workqueue"]

WorkFn = Callable[[], object]

#: flush() gives up after this many items in one call: work that keeps requeueing itself
#: would otherwise never let a flush finish (drain_workqueue warns likewise).
_MAX_ITEMS_PER_FLUSH = 100_000


@dataclass(frozen=True)
class Work:
    """A queued work item: the function and the CPU whose worker runs it."""

    fn: WorkFn
    cpu: int


class Workqueue:
    """One workqueue (the system workqueue by default)."""

    def __init__(self, ctx: ExecutionContext, name: str = "events") -> None:
        self.ctx = ctx
        self.name = name
        self._pending: list[Work] = []
        self._flushing = False
        self.completed = 0

    def __len__(self) -> int:
        return len(self._pending)

    def work_pending(self, fn: WorkFn) -> bool:
        return any(w.fn == fn for w in self._pending)

    def queue_work_on(self, cpu: int, fn: WorkFn) -> bool:
        """Queue `fn` to run on `cpu`; False if it is already pending."""
        if self.work_pending(fn):
            return False
        self._pending.append(Work(fn, cpu))
        return True

    def queue_work(self, fn: WorkFn) -> bool:
        """Queue `fn` on the local CPU's worker (WORK_CPU_UNBOUND on a per-CPU queue)."""
        return self.queue_work_on(self.ctx.smp_processor_id(), fn)

    def cancel_work(self, fn: WorkFn) -> bool:
        """Take `fn` off the queue if it has not started; True if it was pending."""
        before = len(self._pending)
        self._pending = [w for w in self._pending if w.fn != fn]
        return len(self._pending) != before

    def flush(self) -> int:
        """Run pending work in order, including work queued by work, until none is left;
        the number of items run. Must be called from a context that may sleep."""
        self.ctx.might_sleep("flush_workqueue")
        if self._flushing:
            raise RuntimeError(f"workqueue {self.name}: flush from within its own work")
        self._flushing = True
        ran = 0
        try:
            while self._pending:
                if ran >= _MAX_ITEMS_PER_FLUSH:
                    raise RuntimeError(f"workqueue {self.name}: flush never completes")
                work = self._pending.pop(0)
                with self.ctx.enter(Context.TASK, work.cpu):
                    work.fn()
                ran += 1
                self.completed += 1
        finally:
            self._flushing = False
        return ran
