"""Which context kernel code runs in: a task that may sleep, atomic, or a hard IRQ.

Work items run in task context (a kworker); timers in softirq (atomic); interrupt handlers
in IRQ context. Code that may sleep asks first (`in_atomic`, `might_sleep`): a firmware-backed
MSC's PCC mailbox sleeps until firmware answers, so `mpam.hw.pcc.PccMsc` refuses atomic
callers, and `access_context()` gives the `AccessContext` to pass it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum

from mpam.hw.msc import AccessContext
from mpam.hw.pcc import SleepInAtomicContext

__all__ = ["Context", "ExecutionContext"]


class Context(Enum):
    """The kind of context code runs in."""

    TASK = "task"  # process context, preemptible: may sleep
    ATOMIC = "atomic"  # softirq, spinlock held, preemption off: may not sleep
    IRQ = "irq"  # hard interrupt handler: may not sleep


class ExecutionContext:
    """The context and CPU of the code running now, as a stack of nested entries."""

    def __init__(self, cpu: int = 0) -> None:
        self._stack: list[tuple[Context, int]] = [(Context.TASK, cpu)]

    @property
    def context(self) -> Context:
        return self._stack[-1][0]

    def in_task(self) -> bool:
        return self.context is Context.TASK

    def in_atomic(self) -> bool:
        """True in any context that may not sleep (in_atomic() || irqs_disabled())."""
        return self.context is not Context.TASK

    def in_irq(self) -> bool:
        """in_hardirq()."""
        return self.context is Context.IRQ

    def smp_processor_id(self) -> int:
        """The CPU the current code runs on."""
        return self._stack[-1][1]

    def access_context(self) -> AccessContext:
        """The hw access context for an MSC access made from here."""
        task = self._stack[-1][0] is Context.TASK  # in_task(), inline: every MMIO access asks
        return AccessContext.TASK if task else AccessContext.ATOMIC

    def might_sleep(self, where: str = "") -> None:
        """Raise SleepInAtomicContext when called from a context that may not sleep."""
        if self.in_atomic():
            at = f" at {where}" if where else ""
            raise SleepInAtomicContext(
                f"BUG: sleeping function called from invalid context{at} "
                f"({self.context.value}, CPU{self.smp_processor_id()})"
            )

    @contextmanager
    def enter(self, context: Context, cpu: int | None = None) -> Iterator[None]:
        """Run the body in `context` on `cpu` (default: the current CPU). Atomic contexts
        nest: entering TASK from an atomic context is refused, as a spinlock holder
        cannot schedule."""
        if context is Context.TASK and self.in_atomic():
            raise SleepInAtomicContext(
                f"cannot enter task context from {self.context.value} context"
            )
        self._stack.append((context, self.smp_processor_id() if cpu is None else cpu))
        try:
            yield
        finally:
            self._stack.pop()
