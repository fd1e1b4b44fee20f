"""A firmware-backed MSC ("mpam-fb"): the MSC's registers behind a PCC mailbox.

On such platforms the OS cannot touch the MSC directly: each register access is a request
to firmware over a PCC channel, and the requester must wait for the completion. One request
is in flight at a time, each takes the channel's latency, and because the requester sleeps
until completion it must not be in a context that may not sleep. That constraint is why
the Linux driver's locks are mutexes and why resctrl reads go through work queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mpam.hw.clock import Clock
from mpam.hw.msc import AccessContext, Msc, RisState
from mpam.platform.model import Msc as MscDesc

__all__ = ["MailboxBusy", "PccMsc", "PccRequest", "SleepInAtomicContext"]


class SleepInAtomicContext(RuntimeError):
    """A PCC mailbox request was made from a context that may not sleep."""


class MailboxBusy(RuntimeError):
    """A second request was made while one is in flight, or a result asked for too early."""


@dataclass
class PccRequest:
    """One mailbox request: a register read or write and when firmware completes it."""

    offset: int
    value: int | None  # None for a read
    completes_at_ns: int
    result: int | None = None


class PccMsc:
    """An MSC reached through a PCC subspace instead of MMIO."""

    def __init__(
        self,
        msc: Msc,
        clock: Clock,
        sleep: Callable[[int], None] | None = None,
    ) -> None:
        self.msc = msc
        self.clock = clock
        self.latency_ns = msc.desc.pcc_latency_usec * 1000
        self.subspace_id = msc.desc.base_address
        # The requester sleeps until completion; by default that is simulated time passing.
        self.sleep = sleep if sleep is not None else clock.advance
        self.in_flight: PccRequest | None = None
        self.requests = 0

    @property
    def name(self) -> str:
        return self.msc.name

    @property
    def base_address(self) -> int:
        return self.msc.base_address

    @property
    def desc(self) -> MscDesc:
        return self.msc.desc

    @property
    def ris(self) -> dict[int, RisState]:
        return self.msc.ris

    # -- split-phase mailbox ---------------------------------------------------------

    def submit(self, offset: int, value: int | None = None) -> PccRequest:
        """Ring the doorbell with one register request."""
        if self.in_flight is not None:
            raise MailboxBusy(
                f"MSC {self.name}: PCC subspace {self.subspace_id} has a request in flight"
            )
        self.in_flight = PccRequest(offset, value, self.clock.now_ns + self.latency_ns)
        self.requests += 1
        return self.in_flight

    def done(self, request: PccRequest) -> bool:
        return self.clock.now_ns >= request.completes_at_ns

    def complete(self, request: PccRequest) -> int:
        """Collect a completed request: firmware performs the access at completion."""
        if request is not self.in_flight:
            raise MailboxBusy(f"MSC {self.name}: not the request in flight")
        if not self.done(request):
            raise MailboxBusy(
                f"MSC {self.name}: request completes at {request.completes_at_ns} ns, "
                f"now is {self.clock.now_ns} ns"
            )
        self.in_flight = None
        if request.value is None:
            request.result = self.msc.read32(request.offset)
        else:
            self.msc.write32(request.offset, request.value)
            request.result = 0
        return request.result

    # -- the synchronous accessors the driver uses ---------------------------------

    def _call(self, offset: int, value: int | None, ctx: AccessContext) -> int:
        if ctx is AccessContext.ATOMIC:
            raise SleepInAtomicContext(
                f"MSC {self.name} is firmware-backed (mpam-fb over PCC subspace "
                f"{self.subspace_id}): its registers can only be accessed from a context "
                "that may sleep"
            )
        request = self.submit(offset, value)
        self.sleep(request.completes_at_ns - self.clock.now_ns)
        return self.complete(request)

    def read32(self, offset: int, ctx: AccessContext = AccessContext.TASK) -> int:
        return self._call(offset, None, ctx)

    def write32(self, offset: int, value: int, ctx: AccessContext = AccessContext.TASK) -> None:
        self._call(offset, value, ctx)
