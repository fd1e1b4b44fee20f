"""MSC monitors: the CSU and MBWU filter slots of one RIS (IHI0099 chapter 10, MSMON_*).

A monitor is a filter slot, not per-PARTID storage: software points it at a (PARTID, PMG)
with MSMON_CFG_*_FLT/CTL and reads the value. CSU monitors report the storage a cache
holds for the filter at the instant of the read; MBWU monitors count the bytes that pass
the point their MSC measures, with the 31-bit (optionally scaled), 44-bit and 63-bit
counters wrapping, setting their overflow status and freezing as the spec describes.

Where an MBWU monitor measures is its RIS's resource (`mpam.hw.memsys`): a memory channel
counts the reads and writes it serves; a cache counts its egress, the bytes that cross it
towards memory (lines fetched from the next level on a miss, writes passed on, dirty lines
written back), not the requests it serves from its own lines. IHI0099 names the counted
quantity memory-bandwidth usage, and resctrl's mbm_total_bytes, which the driver may read
from a cache's MBWU monitors, is the traffic between the L3 and memory. Both feed
`MonitorBank.count` with the bytes of one interval by (PARTID, PMG, read/write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from mpam.hw.clock import Clock
from mpam.hw.regmap import field
from mpam.hw.resource import READ, WRITE, ControlledResource
from mpam.platform.model import Csu, Mbwu

__all__ = ["CSU_TYPE", "MBWU_TYPE", "Monitor", "MonitorBank", "MonitorKind"]

#: MSMON_CFG_*_CTL.TYPE reads as these values (IHI0099).
CSU_TYPE, MBWU_TYPE = 0x43, 0x42

_VALUE_BITS = 31
_NRDY = field("MSMON_MBWU", "NRDY").mask
_NRDY_L_HIGH = field("MSMON_MBWU_L", "NRDY").mask >> 32
_RWBW_WRITES, _RWBW_READS = 0b01, 0b10


class MonitorKind(Enum):
    CSU = "CSU"
    MBWU = "MBWU"


@dataclass
class Monitor:
    """The state of one monitor slot."""

    flt: int = 0
    ctl: int = 0
    value: int = 0  # MBWU: the 31-bit counter; CSU: the value kept while disabled
    residual: int = 0  # bytes not yet counted into a scaled (SCLEN) value
    value_l: int = 0  # MBWU long counter (44 or 63 bits)
    frozen: bool = False  # OFLOW_FRZ stopped the 31-bit counter
    frozen_l: bool = False
    capture: int = 0  # MSMON_*_CAPTURE contents
    capture_l: int = 0  # MSMON_MBWU_L_CAPTURE contents
    nrdy: bool = False  # software-managed NRDY bit
    ready_at_ns: int = 0  # hardware-managed NRDY: set until this instant


def _bits(reg_name: str, *names: str) -> int:
    mask = 0
    for n in names:
        mask |= field(reg_name, n).mask
    return mask


class MonitorBank:
    """All monitors of one type in one RIS."""

    def __init__(
        self,
        kind: MonitorKind,
        feats: Csu | Mbwu,
        clock: Clock,
        on_overflow: Callable[[bool], None],
    ) -> None:
        self.kind = kind
        self.feats = feats
        self.clock = clock
        self.on_overflow = on_overflow
        self.resource: ControlledResource | None = None
        self.monitors = [Monitor() for _ in range(feats.num_mon)]
        k = kind.value
        self.flt_reg, self.ctl_reg = f"MSMON_CFG_{k}_FLT", f"MSMON_CFG_{k}_CTL"
        self.value_reg, self.capture_reg = f"MSMON_{k}", f"MSMON_{k}_CAPTURE"
        self.type = CSU_TYPE if kind is MonitorKind.CSU else MBWU_TYPE
        self.flt_mask = _bits(self.flt_reg, "PARTID", "PMG")
        self._en = field(self.ctl_reg, "EN").mask
        ctl = ["OFLOW_FRZ", "OFLOW_INTR", "OFLOW_STATUS", "EN"]
        if not feats.no_match_partid:
            ctl.append("MATCH_PARTID")
        if not feats.no_match_pmg:
            ctl.append("MATCH_PMG")
        if feats.has_capture:
            ctl += ["CAPT_RESET", "CAPT_EVNT"]
        self.long_bits = 0
        if isinstance(feats, Csu):
            if feats.has_xcl:
                self.flt_mask |= _bits(self.flt_reg, "XCL")
        else:
            if feats.has_rwbw:
                self.flt_mask |= _bits(self.flt_reg, "RWBW")
            ctl.append("SCLEN")
            ctl += [n for n, has in (
                ("OFLOW_LNKG", feats.has_oflow_lnkg),
                ("CEVNT_OFLW", feats.has_cevnt_oflw),
                ("OFLOW_CAPT", feats.has_oflow_capt),
            ) if has]  # fmt: skip
            if feats.has_long:
                self.long_bits = 63 if feats.lwd else 44
                ctl += ["OFLOW_INTR_L", "OFLOW_STATUS_L"]
                if feats.has_oflow_capt:
                    ctl.append("OFLOW_CAPT_L")
        self.ctl_mask = _bits(self.ctl_reg, *ctl)
        self.status_bits = _bits(self.ctl_reg, *(
            n for n in ("OFLOW_STATUS", "OFLOW_STATUS_L") if n in ctl
        ))  # fmt: skip

    # -- fields of a monitor's CTL and FLT ---------------------------------------------

    def _ctl(self, m: Monitor, name: str) -> int:
        return field(self.ctl_reg, name).get(m.ctl)

    def _flt(self, m: Monitor, name: str) -> int:
        return field(self.flt_reg, name).get(m.flt)

    def _nrdy(self, m: Monitor) -> bool:
        if self.feats.hw_nrdy:
            return self.clock.now_ns < m.ready_at_ns
        return m.nrdy

    def _reconfigured(self, m: Monitor) -> None:
        """Hardware sets NRDY when a monitor's settings change (IHI0099, MSMON_*.NRDY)."""
        if self.feats.hw_nrdy:
            m.ready_at_ns = self.clock.now_ns + self.feats.nrdy_usec * 1000

    # -- register access (the MSC has checked selection and presence) ------------------

    def read(self, reg_name: str, mon: int, half: int) -> int:
        m = self.monitors[mon]
        nrdy = self._nrdy(m)
        if reg_name == self.flt_reg:
            return m.flt
        if reg_name == self.ctl_reg:
            return m.ctl | self.type
        if reg_name == self.value_reg:
            return self._value(m) | (_NRDY if nrdy else 0)
        if reg_name == self.capture_reg:
            return m.capture
        if reg_name == "MSMON_MBWU_L":
            raw = m.value_l | ((1 << 63) if nrdy else 0)
            return (raw >> (32 * half)) & 0xFFFF_FFFF
        if reg_name == "MSMON_MBWU_L_CAPTURE":
            return (m.capture_l >> (32 * half)) & 0xFFFF_FFFF
        raise KeyError(reg_name)

    def write(self, reg_name: str, mon: int, half: int, value: int) -> None:
        m = self.monitors[mon]
        if reg_name == self.flt_reg:
            new = value & self.flt_mask
            if new != m.flt:
                m.flt = new
                self._reconfigured(m)
        elif reg_name == self.ctl_reg:
            self._write_ctl(m, value & self.ctl_mask)
        elif reg_name == self.value_reg:
            self._write_value(m, value)
        elif reg_name == self.capture_reg:
            m.capture = value
        elif reg_name == "MSMON_MBWU_L":
            self._write_long(m, half, value)
        elif reg_name == "MSMON_MBWU_L_CAPTURE":
            shift = 32 * half
            m.capture_l = (m.capture_l & ~(0xFFFF_FFFF << shift)) | (value << shift)
        else:
            raise KeyError(reg_name)

    def _write_ctl(self, m: Monitor, new: int) -> None:
        was_enabled = self._ctl(m, "EN")
        if (new ^ m.ctl) & ~self.status_bits:
            self._reconfigured(m)
        if was_enabled and not field(self.ctl_reg, "EN").get(new) and self.kind is MonitorKind.CSU:
            m.value = self._value(m)  # a disabled CSU monitor keeps its last value
        m.ctl = new
        self.on_overflow(False)  # the overflow status may have been cleared

    def _write_value(self, m: Monitor, value: int) -> None:
        if not self.feats.hw_nrdy:
            m.nrdy = bool(value & _NRDY)
        if self.kind is MonitorKind.MBWU:
            m.value = value & ((1 << _VALUE_BITS) - 1)
            m.residual = 0
            m.frozen = False

    def _write_long(self, m: Monitor, half: int, value: int) -> None:
        if not self.long_bits:
            return
        if half == 0:
            m.value_l = (m.value_l & ~0xFFFF_FFFF) | value
        else:
            if not self.feats.hw_nrdy:
                m.nrdy = bool(value & _NRDY_L_HIGH)
            m.value_l = (m.value_l & 0xFFFF_FFFF) | ((value & ~_NRDY_L_HIGH) << 32)
        m.value_l &= (1 << self.long_bits) - 1
        m.frozen_l = False

    def _value(self, m: Monitor) -> int:
        if self.kind is MonitorKind.MBWU or not self._ctl(m, "EN"):
            return m.value
        if self.resource is None:
            return 0
        partid = self._flt(m, "PARTID") if self._ctl(m, "MATCH_PARTID") else None
        pmg = self._flt(m, "PMG") if self._ctl(m, "MATCH_PMG") else None
        xcl = bool(self.flt_mask & field(self.flt_reg, "XCL").mask) and bool(self._flt(m, "XCL"))
        return min(self.resource.csu_bytes(partid, pmg, xcl), (1 << _VALUE_BITS) - 1)

    # -- status across monitors -------------------------------------------------------

    def ofsr(self, mon_sel: int) -> int:
        """MSMON_*_OFSR: overflow-pending bits of the 32-monitor block holding `mon_sel`."""
        base = mon_sel & 0xFFE0
        bits = 0
        for i, m in enumerate(self.monitors[base : base + 32]):
            if m.ctl & self.status_bits:
                bits |= 1 << i
        return bits

    def write_ofsr(self, mon_sel: int, value: int) -> None:
        base = mon_sel & 0xFFE0
        for i, m in enumerate(self.monitors[base : base + 32]):
            if not value & (1 << i):
                m.ctl &= ~self.status_bits
        self.on_overflow(False)

    def overflow_pending(self) -> bool:
        return any(m.ctl & self.status_bits for m in self.monitors)

    def overflow_signalled(self) -> bool:
        """An overflow status is set on a monitor whose interrupt is enabled."""
        intr = field(self.ctl_reg, "OFLOW_INTR").mask
        status = field(self.ctl_reg, "OFLOW_STATUS").mask
        pairs = [(status, intr)]
        if self.long_bits:
            pairs.append((field(self.ctl_reg, "OFLOW_STATUS_L").mask,
                          field(self.ctl_reg, "OFLOW_INTR_L").mask))  # fmt: skip
        return any(m.ctl & s and m.ctl & i for m in self.monitors for s, i in pairs)

    def any_enabled(self) -> bool:
        """Whether a monitor of the bank is enabled: a disabled one collects nothing
        (MSMON_CFG_MBWU_CTL.EN), so a resource none watches need not report traffic."""
        en = self._en
        return any(m.ctl & en for m in self.monitors)

    # -- events -----------------------------------------------------------------------

    def capture(self, event: int) -> None:
        """Copy VALUE and NRDY of the monitors listening for `event`, then clear NRDY."""
        if not self.feats.has_capture:
            return
        for m in self.monitors:
            if not self._ctl(m, "EN") or self._ctl(m, "CAPT_EVNT") != event:
                continue
            nrdy = self._nrdy(m)
            m.capture = self._value(m) | (_NRDY if nrdy else 0)
            if self.long_bits:
                m.capture_l = m.value_l | ((1 << 63) if nrdy else 0)
            m.nrdy, m.ready_at_ns = False, 0
            if self._ctl(m, "CAPT_RESET") and self.kind is MonitorKind.MBWU:
                m.value, m.residual, m.value_l = 0, 0, 0

    def count(self, traffic: NDArray[np.int64]) -> None:
        """Add the bytes of one interval, shaped (PARTID, PMG, read/write), to every
        enabled MBWU monitor whose filter matches."""
        # The fields looked up once: this runs for every channel at every tick.
        en, match_p, match_g = (field(self.ctl_reg, n) for n in ("EN", "MATCH_PARTID", "MATCH_PMG"))
        flt_p, flt_g, flt_rw = (field(self.flt_reg, n) for n in ("PARTID", "PMG", "RWBW"))
        has_rwbw = bool(self.flt_mask & flt_rw.mask)
        for m in self.monitors:
            if not en.get(m.ctl):
                continue
            sel: NDArray[np.int64] = traffic
            if match_p.get(m.ctl):
                p = flt_p.get(m.flt)
                sel = sel[p : p + 1]
            if match_g.get(m.ctl):
                g = flt_g.get(m.flt)
                sel = sel[:, g : g + 1]
            rwbw = flt_rw.get(m.flt) if has_rwbw else 0
            if rwbw == _RWBW_WRITES:
                sel = sel[..., WRITE]
            elif rwbw == _RWBW_READS:
                sel = sel[..., READ]
            nbytes = int(sel.sum())
            if nbytes:
                self._add(m, nbytes)

    def _add(self, m: Monitor, nbytes: int) -> None:
        overflowed = False
        if not m.frozen:
            inc = nbytes
            scale = getattr(self.feats, "scale", 0)
            if scale and self._ctl(m, "SCLEN"):
                total = m.residual + nbytes
                inc, m.residual = total >> scale, total & ((1 << scale) - 1)
            m.value, wrapped = _wrap(m.value + inc, _VALUE_BITS)
            if wrapped:
                overflowed |= self._overflow(m, "OFLOW_STATUS", "OFLOW_INTR")
                m.frozen = bool(self._ctl(m, "OFLOW_FRZ"))
        if self.long_bits and not m.frozen_l:
            m.value_l, wrapped = _wrap(m.value_l + nbytes, self.long_bits)
            if wrapped:
                overflowed |= self._overflow(m, "OFLOW_STATUS_L", "OFLOW_INTR_L")
                m.frozen_l = bool(self._ctl(m, "OFLOW_FRZ"))
        if overflowed:
            self.on_overflow(True)

    def _overflow(self, m: Monitor, status: str, intr: str) -> bool:
        """Set an overflow status; True when it rose with its interrupt enabled."""
        bit = field(self.ctl_reg, status).mask
        rising = not m.ctl & bit
        m.ctl |= bit
        return rising and bool(self._ctl(m, intr))


def _wrap(value: int, bits: int) -> tuple[int, bool]:
    return value & ((1 << bits) - 1), value >> bits != 0
