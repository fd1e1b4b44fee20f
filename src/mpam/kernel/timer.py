"""Timers on simulated time: a function to call once the clock reaches its expiry.

Nothing polls the wall clock: whoever advances the machine's `Clock` (the simulation, or
`run_until`) calls `run_timers`, which fires every expired timer in expiry order, each in
softirq context (atomic: it may not sleep, so a firmware-backed MSC cannot be read from a
timer; queue work instead).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from mpam.hw.clock import Clock
from mpam.kernel.preempt import Context, ExecutionContext

__all__ = ["Timer", "Timers"]

TimerFn = Callable[[], object]


@dataclass(eq=False)
class Timer:
    """A timer_list: `function` runs on `cpu` once the clock reaches `expires_ns`."""

    expires_ns: int
    function: TimerFn
    cpu: int
    pending: bool = field(default=True)
    _seq: int = 0


class Timers:
    """The timer wheel of one machine (one ordered heap: the model has no tick granularity)."""

    def __init__(self, clock: Clock, ctx: ExecutionContext) -> None:
        self.clock = clock
        self.ctx = ctx
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self.fired = 0

    def _push(self, timer: Timer) -> None:
        self._seq += 1
        timer._seq = self._seq
        timer.pending = True
        heapq.heappush(self._heap, (timer.expires_ns, self._seq, timer))

    def add_timer(self, expires_ns: int, fn: TimerFn, *, cpu: int | None = None) -> Timer:
        """Arm a timer for absolute simulated time `expires_ns` (on the current CPU)."""
        timer = Timer(expires_ns, fn, self.ctx.smp_processor_id() if cpu is None else cpu)
        self._push(timer)
        return timer

    def mod_timer(self, timer: Timer, expires_ns: int) -> bool:
        """Re-arm `timer` for `expires_ns`; True if it was pending."""
        was_pending = timer.pending
        timer.expires_ns = expires_ns
        self._push(timer)  # the old heap entry is stale: its sequence number no longer matches
        return was_pending

    def del_timer(self, timer: Timer) -> bool:
        """Disarm `timer`; True if it was pending."""
        was_pending = timer.pending
        timer.pending = False
        return was_pending

    def _prune(self) -> None:
        while self._heap and (
            not self._heap[0][2].pending or self._heap[0][1] != self._heap[0][2]._seq
        ):
            heapq.heappop(self._heap)

    def next_expiry(self) -> int | None:
        """When the earliest pending timer expires, or None."""
        self._prune()
        return self._heap[0][0] if self._heap else None

    def run_timers(self) -> int:
        """Fire every timer whose expiry the clock has reached, earliest first (a timer
        armed by a callback for a time already past fires too); how many fired."""
        fired = 0
        while True:
            self._prune()
            if not self._heap or self._heap[0][0] > self.clock.now_ns:
                return fired
            _, _, timer = heapq.heappop(self._heap)
            timer.pending = False
            with self.ctx.enter(Context.ATOMIC, timer.cpu):
                timer.function()
            fired += 1
            self.fired += 1

    def run_until(self, when_ns: int) -> int:
        """Advance the clock to `when_ns`, stopping at each expiry on the way to fire it."""
        fired = 0
        while (expiry := self.next_expiry()) is not None and expiry <= when_ns:
            self.clock.advance_to(expiry)
            fired += self.run_timers()
        self.clock.advance_to(when_ns)
        return fired + self.run_timers()
