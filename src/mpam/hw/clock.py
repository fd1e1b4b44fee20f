"""Simulated time as the hardware sees it.

MSC behaviour depends on time (NRDY clears within MAX_NRDY_USEC, a PCC mailbox completes
after its latency), but the hardware must never read the wall clock: a seed and a script
reproduce a run. The kernel layer owns the one `Clock` of a machine and advances it.
"""

from __future__ import annotations

__all__ = ["Clock"]


class Clock:
    """A monotonic nanosecond counter that only moves when told to."""

    def __init__(self, now_ns: int = 0) -> None:
        self._now = now_ns

    @property
    def now_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError("simulated time cannot go backwards")
        self._now += ns

    def advance_to(self, when_ns: int) -> None:
        self._now = max(self._now, when_ns)
