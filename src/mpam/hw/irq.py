"""The interrupt controller the MSCs signal on (a GIC seen from the device side).

MSCs raise their error and overflow interrupts here; the kernel layer owns the controller
and attaches handlers. Level lines follow a condition (ESR.ERRCODE != 0 with ECR.INTEN);
edge lines and MSIs are events that are counted, so a test can tell one interrupt from two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mpam.platform.model import AccessMode

__all__ = ["InterruptController", "IrqLine", "Msi"]

Handler = Callable[["IrqLine"], None]


@dataclass
class IrqLine:
    """One wired interrupt (GSIV)."""

    gsiv: int
    mode: AccessMode
    asserted: bool = False  # level lines: the current level (a wired-OR of its sources)
    pending: bool = False  # latched until acknowledged
    count: int = 0  # how many times the interrupt was signalled
    handlers: list[Handler] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)  # who drives a level line high

    def _signal(self) -> None:
        self.pending = True
        self.count += 1
        for handler in list(self.handlers):
            handler(self)

    def set_level(self, asserted: bool, source: str = "") -> None:
        """Drive a level-sensitive line from `source`; the line is high while any source
        drives it (MSCs may share a GSIV), and a rising level signals the interrupt."""
        if asserted:
            self.sources.add(source)
        else:
            self.sources.discard(source)
        asserted = bool(self.sources)
        rising = asserted and not self.asserted
        self.asserted = asserted
        if not asserted:
            self.pending = False
        if rising:
            self._signal()

    def pulse(self) -> None:
        """Signal an edge-triggered interrupt."""
        self._signal()

    def ack(self) -> None:
        """Acknowledge; a level line that is still asserted stays pending."""
        self.pending = self.asserted


@dataclass(frozen=True)
class Msi:
    """A message-signalled interrupt: the write the MSC makes."""

    address: int
    data: int
    partid: int
    pmg: int


class InterruptController:
    """Wired lines by GSIV, and the MSIs written so far."""

    def __init__(self) -> None:
        self.lines: dict[int, IrqLine] = {}
        self.msis: list[Msi] = []
        self.msi_handlers: list[Callable[[Msi], None]] = []

    def line(self, gsiv: int, mode: AccessMode = AccessMode.LEVEL) -> IrqLine:
        """The line for `gsiv`, created on first use."""
        if gsiv not in self.lines:
            self.lines[gsiv] = IrqLine(gsiv, mode)
        return self.lines[gsiv]

    def msi(self, message: Msi) -> None:
        self.msis.append(message)
        for handler in list(self.msi_handlers):
            handler(message)
