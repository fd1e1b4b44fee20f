"""Register access for the driver: by register name, through the MSC's only interface.

The driver reaches an MSC exactly as Linux does: 32-bit reads and writes of its page (or of
the PCC mailbox that stands for it), with MPAMCFG_PART_SEL and MSMON_CFG_MON_SEL choosing
the RIS, PARTID and monitor. Names and fields come from the register map, never literal
offsets. Every access carries the calling context, so a firmware-backed MSC refuses one
made where the caller could not sleep.

An access to an MMIO page also takes simulated time: the CPU making it waits for the
interconnect (a Device-nGnRE read for its data, a write for its early acknowledgement), so a
driver operation's accesses are laid out one after another on the machine's clock, in the
order they happen, and a trace of one resctrl write shows them in sequence. The costs are
this model's choice, of the order of an uncached access on an Arm mesh; a PCC MSC's
accesses cost their mailbox's latency instead (`mpam.hw.pcc`).
"""

from __future__ import annotations

from collections.abc import Callable

from mpam.hw.msc import AccessContext, Msc
from mpam.hw.pcc import PccMsc
from mpam.hw.regmap import REGISTERS, reg

__all__ = ["MMIO_READ_NS", "MMIO_WRITE_NS", "Regs", "fields", "get"]

#: Simulated nanoseconds a CPU waits for one 32-bit read of an MSC's MMIO page.
MMIO_READ_NS = 100
#: ... and for one write to it.
MMIO_WRITE_NS = 25


_OFFSET = {r.name: r.offset for r in REGISTERS}
_SEL_RIS, _SEL_PARTID, _SEL_INTERNAL = (
    reg("MPAMCFG_PART_SEL").field(name) for name in ("RIS", "PARTID_SEL", "INTERNAL")
)


def fields(name: str, **values: int) -> int:
    """A register value with the named fields set, e.g. ``fields("MPAMCFG_PART_SEL",
    RIS=1, PARTID_SEL=5)``."""
    r = reg(name)
    out = 0
    for key, value in values.items():
        out |= r.field(key).prep(value)
    return out


def get(name: str, field_name: str, value: int) -> int:
    """One field of a register value."""
    return reg(name).field(field_name).get(value)


class Regs:
    """The registers of one MSC as the driver sees them."""

    def __init__(
        self,
        msc: Msc | PccMsc,
        context: Callable[[], AccessContext] | None = None,
        wait_ns: Callable[[int], None] | None = None,
    ) -> None:
        self.msc = msc
        self._context = context or (lambda: AccessContext.TASK)
        self.override: AccessContext | None = None
        # An MMIO access's wait moves the clock (`wait_ns`); a PCC one sleeps in the mailbox.
        mmio = wait_ns is not None and not isinstance(msc, PccMsc)
        self._wait = wait_ns if mmio else None

    @property
    def ctx(self) -> AccessContext:
        """The context of the code making the access: the kernel's, unless overridden."""
        return self.override if self.override is not None else self._context()

    def read(self, name: str, index: int = 0) -> int:
        """Word `index` of register `name` (array element, or the high word of a 64-bit
        register when index is 1)."""
        ctx = self.override if self.override is not None else self._context()
        value = self.msc.read32(_OFFSET[name] + 4 * index, ctx)
        if self._wait is not None:
            self._wait(MMIO_READ_NS)
        return value

    def write(self, name: str, value: int, index: int = 0) -> None:
        ctx = self.override if self.override is not None else self._context()  # self.ctx
        self.msc.write32(_OFFSET[name] + 4 * index, value, ctx)
        if self._wait is not None:
            self._wait(MMIO_WRITE_NS)

    def read64(self, name: str) -> int:
        """A 64-bit register, low word first."""
        low = self.read(name)
        return low | (self.read(name, 1) << 32)

    def part_sel(self, ris: int, partid: int = 0, internal: bool = False) -> None:
        value = _SEL_RIS.prep(ris) | _SEL_PARTID.prep(partid) | _SEL_INTERNAL.prep(internal)
        self.write("MPAMCFG_PART_SEL", value)

    def mon_sel(self, ris: int, mon: int) -> None:
        self.write("MSMON_CFG_MON_SEL", fields("MSMON_CFG_MON_SEL", RIS=ris, MON_SEL=mon))

    def write_bitmap(self, name: str, width: int, bits: int) -> None:
        """A portion bitmap of `width` bits, in 32-bit words."""
        for word in range((width + 31) // 32):
            self.write(name, (bits >> (32 * word)) & 0xFFFF_FFFF, word)
