"""The kernel's irq_handler_entry / irq_handler_exit trace events, one record per handler run.

Linux's irq tracepoints (include/trace/events/irq.h) record, for every handler a taken
interrupt runs, the Linux irq number and the name the handler was requested with, then
whether it returned IRQ_HANDLED. Here one record holds both ends, so a trace shows when an
MSC's error interrupt was taken, on which CPU, and how long its handler's register accesses
took (`mpam trace --kind irq`; a Perfetto slice on the CPU's track).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mpam.hw.clock import Clock

__all__ = ["IrqEvent", "IrqEvents"]


@dataclass(frozen=True)
class IrqEvent:
    """One handler's run for one taken interrupt."""

    time_ns: int  # irq_handler_entry
    end_ns: int  # irq_handler_exit
    cpu: int
    irq: int  # the GSIV: this model's Linux irq numbers are the GSIVs
    name: str  # as requested, e.g. "mpam:msc:error"
    device: str  # whose handler ran (the MSC's name)
    handled: bool  # ret=handled (IRQ_HANDLED) or ret=unhandled (IRQ_NONE)


class IrqEvents:
    """Every interrupt handler run of one machine's kernel, in order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.records: list[IrqEvent] = []

    def run(self, cpu: int, irq: int, name: str, device: str,
            handler: Callable[[], bool]) -> bool:  # fmt: skip
        """Run `handler` for `irq` on `cpu`, recording its entry, exit and result."""
        start = self.clock.now_ns
        handled = handler()
        self.records.append(IrqEvent(start, self.clock.now_ns, cpu, irq, name, device, handled))
        return handled
