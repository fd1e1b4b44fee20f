"""Assemble the hardware of a machine from its description."""

from __future__ import annotations

from dataclasses import dataclass

from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.hw.irq import InterruptController
from mpam.hw.msc import Msc
from mpam.hw.pcc import PccMsc
from mpam.platform.model import InterfaceType, Platform

__all__ = ["Hardware", "build"]


@dataclass
class Hardware:
    """The silicon of one machine: CPUs, MSCs, the interrupt controller and the clock."""

    platform: Platform
    clock: Clock
    irq: InterruptController
    cpus: list[Cpu]
    mscs: list[Msc | PccMsc]

    def msc(self, name: str) -> Msc | PccMsc:
        for m in self.mscs:
            if m.name == name:
                return m
        raise KeyError(f"no MSC named {name!r}")

    def ioremap(self, base: int, size: int) -> Msc:
        """The MMIO MSC whose register page is [base, base + size), as a driver maps it
        from the address firmware gave; KeyError when no MSC answers there."""
        for m in self.mscs:
            if isinstance(m, Msc) and m.desc.base_address == base and size <= m.desc.size:
                return m
        raise KeyError(f"no MSC page at 0x{base:X} (0x{size:X} bytes)")

    def pcc_channel(self, subspace: int) -> PccMsc:
        """The firmware-backed MSC behind PCC subspace `subspace`."""
        for m in self.mscs:
            if isinstance(m, PccMsc) and m.subspace_id == subspace:
                return m
        raise KeyError(f"no PCC subspace {subspace}")


def build(description: Platform, clock: Clock | None = None) -> Hardware:
    """Build the hardware described by `description` in its reset state."""
    clock = clock if clock is not None else Clock()
    irq = InterruptController()
    mscs: list[Msc | PccMsc] = []
    for d in description.mscs:
        msc = Msc(d, clock, irq)
        mscs.append(PccMsc(msc, clock) if d.interface is InterfaceType.PCC else msc)
    cpus = [Cpu(c.index, description.cpu_mpam) for c in description.cpus]
    return Hardware(description, clock, irq, cpus, mscs)
