"""A memory-system component, reached only through 32-bit reads and writes of its NS page.

Every access goes through `read32` / `write32`: bounds, access kind, RIS/PARTID/monitor
selection checks, error recording in MPAMF_ESR, interrupts and tracing all live there. The
per-PARTID control settings are stored as the raw register words in NumPy arrays indexed
by PARTID (or intPARTID when the MSC narrows), one array per MPAMCFG register per RIS; the
caches and memory channels read those arrays directly, so what the driver programmed is
exactly what the traffic sees.

Behaviour follows IHI0099 (register map Table 9-8, error codes Table 7-1, reset values Table
3-8), checked against what Linux's drivers/resctrl/mpam_devices.c expects. Where the spec
leaves a choice, the model takes the one a driver can observe most easily:
- an out-of-range PART_SEL.PARTID_SEL is stored and reported (error 1) at the next MPAMCFG
  access, which is then ignored (reads as zero);
- PARTIDs other than 0 are UNKNOWN at reset; the model gives them the same Table 3-8 reset
  values as PARTID 0;
- a RIS_No_Monitor (error 11) or RIS_No_Control (error 9) access reads as zero; a control or
  monitor register that no RIS of the MSC implements is simply absent (RAZ/WI, no error);
- a CSU monitor's value is the live occupancy, so writes to it only affect a
  software-managed NRDY bit.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from mpam.hw.clock import Clock
from mpam.hw.idregs import id_registers, msc_registers
from mpam.hw.irq import InterruptController, IrqLine, Msi
from mpam.hw.monitors import Monitor, MonitorBank, MonitorKind
from mpam.hw.regmap import REGISTERS, Access, Register, Scope, field, reg, word_at
from mpam.hw.resource import ControlledResource
from mpam.platform.model import AccessMode, Interrupt, RisFeatures
from mpam.platform.model import Msc as MscDesc
from mpam.platform.model import Ris as RisDesc

__all__ = [
    "AccessContext",
    "ErrorCode",
    "HardwareError",
    "MmioAccess",
    "MmioError",
    "Msc",
    "RisState",
]


class ErrorCode(Enum):
    """MPAMF_ESR.ERRCODE values (IHI0099 Table 7-1)."""

    NONE = 0
    PARTID_SEL_RANGE = 1
    REQ_PARTID_RANGE = 2
    MSMONCFG_ID_RANGE = 3
    REQ_PMG_RANGE = 4
    MONITOR_RANGE = 5
    INTPARTID_RANGE = 6
    UNEXPECTED_INTERNAL = 7
    UNDEFINED_RIS_PART_SEL = 8
    RIS_NO_CONTROL = 9
    UNDEFINED_RIS_MON_SEL = 10
    RIS_NO_MONITOR = 11


class AccessContext(Enum):
    """Whether the accessing code may sleep; firmware-backed MSCs need it to."""

    TASK = "task"
    ATOMIC = "atomic"


class MmioError(Exception):
    """An access outside the MSC's page: on silicon, an external abort."""


class HardwareError(ValueError):
    """A description the hardware cannot be built from."""


class MmioAccess:
    """One traced register access, recorded as the raw words of the moment: the register's
    name and what the selectors chose are decoded only when someone reads them, so tracing
    every access of a boot costs a few words each."""

    __slots__ = ("_mon_sel", "_part_sel", "msc", "offset", "time_ns", "value", "write")

    def __init__(
        self,
        msc: str,
        write: bool,
        offset: int,
        value: int,
        time_ns: int,
        part_sel: int = 0,
        mon_sel: int = 0,
    ) -> None:
        self.msc, self.write, self.offset, self.value = msc, write, offset, value
        self.time_ns = time_ns
        self._part_sel, self._mon_sel = part_sel, mon_sel  # the selectors' values then

    @property
    def register(self) -> str:
        """ "MPAMCFG_CPBM<3>", "MPAMF_IDR[63:32]", or "reserved"."""
        return Msc.describe(self.offset)

    @property
    def selected(self) -> str:
        """What MPAMCFG_PART_SEL or MSMON_CFG_MON_SEL selected for a per-PARTID,
        per-monitor or per-RIS register at the time ("partid 1 ris 0", "mon 3 ris 0",
        "ris 0"), else ""."""
        w = word_at(self.offset)
        if w is None or w.reg.scope is Scope.MSC:
            return ""
        if w.reg.scope is Scope.MONITOR:
            sel = self._mon_sel
            return f"mon {_MON_SEL_MON.get(sel)} ris {_MON_SEL_RIS.get(sel)}"
        ris = f"ris {_PART_SEL_RIS.get(self._part_sel)}"
        if w.reg.scope is Scope.RIS:
            return ris
        return f"partid {_PART_SEL_PARTID.get(self._part_sel)} {ris}"

    def __repr__(self) -> str:
        kind = "write" if self.write else "read"
        return f"<{self.msc} {kind} {self.register} {self.value:#x} at {self.time_ns} ns>"


_ESR = reg("MPAMF_ESR")
_ECR_INTEN = field("MPAMF_ECR", "INTEN")
_PART_SEL = reg("MPAMCFG_PART_SEL")
_MON_SEL = reg("MSMON_CFG_MON_SEL")
_PART_SEL_RIS = _PART_SEL.field("RIS")
_PART_SEL_PARTID = _PART_SEL.field("PARTID_SEL")
_PART_SEL_INTERNAL = _PART_SEL.field("INTERNAL")
_MON_SEL_RIS = _MON_SEL.field("RIS")
_MON_SEL_MON = _MON_SEL.field("MON_SEL")
_INTPARTID = reg("MPAMCFG_INTPARTID")
_MSI_EN = field("MPAMF_ERR_MSI_ATTR", "MSIEN")


def _frac_mask(width: int) -> int:
    """Implemented bits [15:16-w] of a 16-bit fixed-point fraction (IHI0099; the rest RAZ/WI)."""
    return (0xFFFF << (16 - width)) & 0xFFFF


def _bitmap_masks(width: int) -> list[int]:
    """Per-word implemented bits of a `width`-bit portion bitmap (IHI0099 MPAMCFG_CPBM<n>)."""
    words = (width + 31) // 32
    masks = [0xFFFF_FFFF] * words
    if width % 32:
        masks[-1] = (1 << (width % 32)) - 1
    return masks


def _present(name: str, f: RisFeatures, msc: MscDesc) -> bool:
    """Whether the feature named in the register table exists for RIS features `f`."""
    c, b, mon = f.ccap, f.mbw, f.msmon
    csu = mon.csu if mon else None
    mbwu = mon.mbwu if mon else None
    table: dict[str, bool] = {
        "always": True,
        "secure_page": False,  # the model exposes the Non-secure page only
        "HAS_IMPL_IDR": f.impl_idr is not None,
        "HAS_CPOR_PART": f.cpor is not None,
        "HAS_CCAP_PART": c is not None,
        "HAS_MBW_PART": b is not None,
        "HAS_PRI_PART": f.pri is not None,
        "HAS_PARTID_NRW": msc.intpartid_max is not None,
        "HAS_MSMON": mon is not None,
        "MSMON_CSU": csu is not None,
        "MSMON_MBWU": mbwu is not None,
        "HAS_ESR": msc.has_esr,
        "HAS_ERR_MSI": msc.has_err_msi,
        "HAS_ENDIS": msc.has_endis,
        "HAS_IN_TL": msc.has_in_tl,
        "HAS_OUT_TL": msc.has_out_tl,
        "CMAX": c is not None and not c.no_cmax,
        "HAS_CMIN": c is not None and c.has_cmin,
        "HAS_CASSOC": c is not None and c.has_cassoc,
        "HAS_MIN": b is not None and b.has_min,
        "HAS_MAX": b is not None and b.has_max,
        "HAS_PBM": b is not None and b.has_pbm,
        "HAS_PROP": b is not None and b.has_prop,
        "HAS_LOCAL_CAPT_EVNT": mon is not None and mon.has_local_capt_evnt,
        "HAS_OFLW_MSI": mon is not None and mon.has_oflw_msi,
        "HAS_OFLOW_SR": mon is not None and mon.has_oflow_sr,
        "CSU_HAS_CAPTURE": csu is not None and csu.has_capture,
        "CSU_HAS_OFSR": csu is not None and csu.has_ofsr,
        "MBWU_HAS_CAPTURE": mbwu is not None and mbwu.has_capture,
        "MBWU_HAS_OFSR": mbwu is not None and mbwu.has_ofsr,
        "HAS_LONG": mbwu is not None and mbwu.has_long,
        "HAS_LONG_CAPTURE": mbwu is not None and mbwu.has_long and mbwu.has_capture,
    }
    return table[name]


def _cfg_layout(f: RisFeatures) -> dict[str, tuple[list[int], int, int]]:
    """For each MPAMCFG register of a RIS: per-word write masks, read-as-one bits, reset."""
    out: dict[str, tuple[list[int], int, int]] = {}
    if f.cpor:
        masks = _bitmap_masks(f.cpor.cpbm_wd)
        out["MPAMCFG_CPBM"] = (masks, 0, -1)
    if c := f.ccap:
        frac = _frac_mask(c.cmax_wd)
        if not c.no_cmax:
            softlim = field("MPAMCFG_CMAX", "SOFTLIM").mask if c.has_cmax_softlim else 0
            out["MPAMCFG_CMAX"] = ([frac | softlim], 0, frac)
        if c.has_cmin:
            out["MPAMCFG_CMIN"] = ([frac], 0, 0)
        if c.has_cassoc:
            cassoc = _frac_mask(c.cassoc_wd)
            out["MPAMCFG_CASSOC"] = ([cassoc], 0, cassoc)
    if b := f.mbw:
        frac = _frac_mask(b.bwa_wd)
        hardlim = field("MPAMCFG_MBW_MAX", "HARDLIM").mask
        if b.has_min:
            out["MPAMCFG_MBW_MIN"] = ([frac], 0, frac)
        if b.has_max:
            writable = hardlim if b.max_lim == "both" else 0
            fixed = hardlim if b.max_lim == "hard" else 0  # RAO/WI when hard-limit only
            out["MPAMCFG_MBW_MAX"] = ([frac | writable], fixed, frac)
        if b.has_pbm:
            out["MPAMCFG_MBW_PBM"] = (_bitmap_masks(b.bwpbm_wd), 0, -1)
        if b.has_prop:
            en = field("MPAMCFG_MBW_PROP", "EN").mask
            out["MPAMCFG_MBW_PROP"] = ([((1 << b.bwa_wd) - 1) | en], 0, 0)
        window = round(b.winwd_us * 256) & 0xFF_FFFF  # US_INT.US_FRAC, 8 fraction bits
        if b.windwr:
            out["MPAMCFG_MBW_WINWD"] = ([0xFF_FFFF], 0, window)
        else:  # read-only: the window is fixed by the implementation
            out["MPAMCFG_MBW_WINWD"] = ([0], window, window)
    if p := f.pri:
        mask = (1 << p.intpri_wd) - 1 | (((1 << p.dspri_wd) - 1) << 16)
        out["MPAMCFG_PRI"] = ([mask], 0, 0)
    return out


class RisState:
    """One RIS: its ID register values, PARTID-indexed settings and monitors."""

    def __init__(self, msc: Msc, desc: RisDesc, num_store: int) -> None:
        self.desc = desc
        self.index = desc.index
        self.features = desc.features
        self.ids = id_registers(msc.desc, desc.features)
        #: which register-table features this RIS implements, by feature name
        self.present = {r.present: _present(r.present, desc.features, msc.desc) for r in REGISTERS}
        layout = _cfg_layout(desc.features)
        self.wmask: dict[str, NDArray[np.uint32]] = {}
        self.fixed: dict[str, int] = {}
        self.wmask_words: dict[str, tuple[int, ...]] = {}
        self._reset: dict[str, NDArray[np.uint32]] = {}
        #: raw MPAMCFG register words, shape (PARTID or intPARTID, words)
        self.cfg: dict[str, NDArray[np.uint32]] = {}
        for name, (masks, fixed, reset) in layout.items():
            wmask = np.array(masks, dtype=np.uint32)
            self.wmask[name], self.fixed[name] = wmask, fixed
            self.wmask_words[name] = tuple(masks)  # the same, as ints for the access path
            self._reset[name] = (np.uint32(reset & 0xFFFF_FFFF) & wmask) | np.uint32(fixed)
            self.cfg[name] = np.empty((num_store, len(masks)), dtype=np.uint32)
        mon = desc.features.msmon
        self.csu = self.mbwu = None
        if mon and mon.csu:
            self.csu = MonitorBank(MonitorKind.CSU, mon.csu, msc.clock, msc._overflow_event)
        if mon and mon.mbwu:
            self.mbwu = MonitorBank(MonitorKind.MBWU, mon.mbwu, msc.clock, msc._overflow_event)
        self.reset()

    def reset(self) -> None:
        for name, arr in self.cfg.items():
            arr[:] = self._reset[name]
        for bank in (self.csu, self.mbwu):
            if bank is not None:
                bank.monitors = [Monitor() for _ in bank.monitors]

    def attach(self, resource: ControlledResource) -> None:
        """Connect the cache or memory channel this RIS controls to its CSU monitors."""
        if self.csu is not None:
            self.csu.resource = resource

    def count_mbwu(self, traffic: NDArray[np.int64]) -> None:
        """Bytes moved in one interval by (PARTID, PMG, read/write): feeds MBWU monitors."""
        if self.mbwu is not None:
            self.mbwu.count(traffic)


def _storage_mask(r: Register, d: MscDesc) -> int:
    """Writable bits of an MSC-wide RW or selector register."""
    mask = 0
    for f in r.fields:
        if f.name == "RIS" and not (d.has_extd_esr if r is _ESR else d.has_ris):
            continue
        if f.name == "INTERNAL" and d.intpartid_max is None:
            continue
        if f.name == "INGRESS_TL" and not d.has_in_tl:
            continue
        if f.name == "DEFAULT_PARTID":
            continue
        mask |= f.mask
    return mask


class Msc:
    """The register model of one MSC."""

    def __init__(self, desc: MscDesc, clock: Clock, irq: InterruptController) -> None:
        self.desc = desc
        self.name = desc.name
        self.base_address = desc.base_address
        self.size = desc.size
        self.clock = clock
        self.irq = irq
        self.tracers: list[Callable[[MmioAccess], None]] = []
        self.ids = msc_registers(desc)
        self.partid_max = min(r.features.partid_max for r in desc.ris)
        self.pmg_max = min(r.features.pmg_max for r in desc.ris)
        nrw = desc.intpartid_max
        num_store = (nrw if nrw is not None else max(r.features.partid_max for r in desc.ris)) + 1
        self._masks = {
            r.name: _storage_mask(r, desc)
            for r in REGISTERS
            if r.scope is Scope.MSC and r.access in (Access.RW, Access.SELECTOR)
        }
        self.error_line = self._line(desc.error_interrupt)
        self.overflow_line = self._line(desc.overflow_interrupt)
        self.ris: dict[int, RisState] = {r.index: RisState(self, r, num_store) for r in desc.ris}
        #: whether any RIS implements a register-table feature (MSC-wide registers exist then)
        self._any = {
            name: any(rs.present[name] for rs in self.ris.values())
            for name in {r.present for r in REGISTERS}
        }
        self._no_hw_oflw_intr = any(
            r.features.msmon and r.features.msmon.no_hw_oflw_intr for r in desc.ris
        )
        self._check_page()
        self.reset()

    def _line(self, irq: Interrupt | None) -> IrqLine | None:
        return None if irq is None else self.irq.line(irq.gsiv, irq.mode)

    def _check_page(self) -> None:
        for rs in self.ris.values():
            for r in REGISTERS:
                if r.present == "always" or not rs.present[r.present]:
                    continue
                words = len(rs.wmask[r.name]) if r.name in rs.wmask else r.words
                if r.offset + 4 * words > self.size:
                    raise HardwareError(
                        f"MSC {self.name}: a page of {self.size:#x} bytes cannot hold "
                        f"{r.name} at {r.offset:#x} (RIS {rs.index})"
                    )

    def reset(self) -> None:
        """Hardware reset (IHI0099 §3.7 and Table 3-8)."""
        self._store: dict[str, int] = dict.fromkeys(self._masks, 0)
        n = self.partid_max + 1
        self.intpartid = np.zeros(n, dtype=np.uint16)  # reqPARTID -> intPARTID
        # Without HAS_ENDIS every PARTID is usable; with it only PARTID 0 is enabled at reset.
        self.enabled = np.full(n, not self.desc.has_endis, dtype=bool)
        self.enabled[0] = True
        self.not_for_use = np.zeros(n, dtype=bool)
        for rs in self.ris.values():
            rs.reset()
        self._update_error_line()
        self._overflow_event(False)

    # -- the two access functions -----------------------------------------------------

    def read32(self, offset: int, ctx: AccessContext = AccessContext.TASK) -> int:
        """Read the 32-bit register word at `offset` of the NS page."""
        value = self._access(offset, None)
        if self.tracers:
            self._trace(False, offset, value)
        return value

    def write32(self, offset: int, value: int, ctx: AccessContext = AccessContext.TASK) -> None:
        """Write the 32-bit register word at `offset` of the NS page."""
        if not 0 <= value <= 0xFFFF_FFFF:
            raise ValueError(f"{value:#x} is not a 32-bit value")
        self._access(offset, value)
        if self.tracers:
            self._trace(True, offset, value)

    def _trace(self, write: bool, offset: int, value: int) -> None:
        store = self._store
        access = MmioAccess(self.name, write, offset, value, self.clock.now_ns,
                            store["MPAMCFG_PART_SEL"], store["MSMON_CFG_MON_SEL"])  # fmt: skip
        for tracer in self.tracers:
            tracer(access)

    @staticmethod
    def describe(offset: int) -> str:
        """The register name of a page offset, as traces print it."""
        w = word_at(offset)
        if w is None:
            return "reserved"
        if w.reg.count > 1:
            return f"{w.reg.name}<{w.index}>"
        if w.reg.width == 64:
            return f"{w.reg.name}[{63 if w.half else 31}:{32 if w.half else 0}]"
        return w.reg.name

    def _access(self, offset: int, value: int | None) -> int:
        if not 0 <= offset < self.size:
            raise MmioError(
                f"MSC {self.name}: offset {offset:#x} is outside its {self.size:#x}-byte page"
            )
        w = word_at(offset) if offset % 4 == 0 else None
        if w is None:
            return 0  # reserved or misaligned: RAZ/WI
        r = w.reg
        if r.scope is Scope.MSC:
            if not self._any[r.present]:
                return 0
            return self._msc_reg(r, w.half, value)
        if r.scope is Scope.RIS:
            return self._id_reg(r, w.half) if value is None else 0
        if r.scope is Scope.PARTID:
            return self._cfg_reg(r, w.index, value)
        return self._mon_reg(r, w.half, value)

    # -- MSC-wide registers -------------------------------------------------------------

    def _msc_reg(self, r: Register, half: int, value: int | None) -> int:
        name = r.name
        if name == "MPAMCFG_INTPARTID":
            return self._intpartid(value)
        if r.access is Access.RO:
            return self._msc_status(name) if value is None else 0
        if r.access in (Access.WO, Access.TRIGGER):
            if value is not None:
                self._msc_event(name, value)
            return 0
        shift = 32 * half
        if value is None:
            return (self._store[name] >> shift) & 0xFFFF_FFFF
        mask = (self._masks[name] >> shift) & 0xFFFF_FFFF
        old = self._store[name]
        self._store[name] = (old & ~(0xFFFF_FFFF << shift)) | ((value & mask) << shift)
        if name in ("MPAMF_ESR", "MPAMF_ECR"):
            self._update_error_line()
        return 0

    def _msc_status(self, name: str) -> int:
        if name in self.ids:
            return self.ids[name]
        if name == "MPAMCFG_EN_FLAGS":
            base = _PART_SEL_PARTID.get(self._store["MPAMCFG_PART_SEL"]) & 0xFFE0
            return sum(1 << i for i, on in enumerate(self.enabled[base : base + 32]) if on)
        if name == "MSMON_OFLOW_SR":
            return self._oflow_sr()
        return 0

    def _oflow_sr(self) -> int:
        sr = reg("MSMON_OFLOW_SR")
        out = 0
        for rs in self.ris.values():
            for kind, bank in (("CSU", rs.csu), ("MBWU", rs.mbwu)):
                if bank is not None and bank.overflow_pending():
                    out |= sr.field(f"{kind}_OFLOW_PND").mask | (1 << rs.index)
        return out

    def _msc_event(self, name: str, value: int) -> None:
        if name == "MSMON_CAPT_EVNT":
            if field(name, "NOW").get(value):
                self.capture_event(7)  # the local capture event (ALL is RAZ/WI in the NS page)
            return
        partid = field(name, "PARTID").get(value)
        if partid > self.partid_max:
            return
        if name == "MPAMCFG_EN":
            self.enabled[partid], self.not_for_use[partid] = True, False
        else:
            self.enabled[partid] = False
            self.not_for_use[partid] = self.desc.has_nfu and bool(field(name, "NFU").get(value))

    # -- ID registers (per RIS) ---------------------------------------------------------

    def _id_reg(self, r: Register, half: int) -> int:
        rs = self.ris.get(_PART_SEL_RIS.get(self._store["MPAMCFG_PART_SEL"]))
        if rs is None:
            return 0  # an unimplemented RIS reads as no features, without an error
        return (rs.ids.get(r.name, 0) >> (32 * half)) & 0xFFFF_FFFF

    # -- MPAMCFG_* registers (per RIS and PARTID) ----------------------------------------

    def _cfg_target(self, r: Register) -> tuple[RisState, int] | None:
        """The RIS and storage row an MPAMCFG access reaches, or None after an error."""
        sel = self._store["MPAMCFG_PART_SEL"]
        ris = _PART_SEL_RIS.get(sel)
        partid = _PART_SEL_PARTID.get(sel)
        rs = self.ris.get(ris)
        if rs is None:
            self._error(ErrorCode.UNDEFINED_RIS_PART_SEL, partid, ris=ris)
            return None
        if r.name not in rs.cfg:
            if self.desc.has_ris and self._any[r.present]:
                self._error(ErrorCode.RIS_NO_CONTROL, partid, ris=ris)
            return None
        if self.desc.intpartid_max is not None:
            if not _PART_SEL_INTERNAL.get(sel):
                self._error(ErrorCode.INTPARTID_RANGE, partid, ris=ris)
                return None
            limit = self.desc.intpartid_max
        else:
            limit = rs.features.partid_max
        if partid > limit:
            self._error(ErrorCode.PARTID_SEL_RANGE, partid, ris=ris)
            return None
        return rs, partid

    def _cfg_reg(self, r: Register, index: int, value: int | None) -> int:
        target = self._cfg_target(r)
        if target is None:
            return 0
        rs, row = target
        name = r.name
        wmask = rs.wmask_words[name]
        if index >= len(wmask):
            return 0  # a bitmap word beyond the implemented width
        arr = rs.cfg[name]
        if value is None:
            return int(arr[row, index])
        arr[row, index] = (value & wmask[index]) | rs.fixed[name]
        return 0

    def _intpartid(self, value: int | None) -> int:
        sel = self._store["MPAMCFG_PART_SEL"]
        partid = _PART_SEL_PARTID.get(sel)
        ris = _PART_SEL_RIS.get(sel)
        if _PART_SEL_INTERNAL.get(sel):
            self._error(ErrorCode.UNEXPECTED_INTERNAL, partid, ris=ris)
            return 0
        if partid > self.partid_max:
            self._error(ErrorCode.PARTID_SEL_RANGE, partid, ris=ris)
            return 0
        internal = _INTPARTID.field("INTERNAL")
        if value is None:
            return int(self.intpartid[partid]) | internal.mask
        target = _INTPARTID.field("INTPARTID").get(value)
        assert self.desc.intpartid_max is not None
        if not internal.get(value) or target > self.desc.intpartid_max:
            self._error(ErrorCode.INTPARTID_RANGE, partid, ris=ris)
            return 0
        self.intpartid[partid] = target
        return 0

    # -- MSMON_* registers (per RIS and monitor) -----------------------------------------

    def _mon_reg(self, r: Register, half: int, value: int | None) -> int:
        sel = self._store["MSMON_CFG_MON_SEL"]
        ris = _MON_SEL_RIS.get(sel)
        mon = _MON_SEL_MON.get(sel)
        rs = self.ris.get(ris)
        if rs is None:
            if self._any["HAS_MSMON"]:
                self._error(ErrorCode.UNDEFINED_RIS_MON_SEL, mon, ris=ris)
            return 0
        bank = rs.csu if "CSU" in r.name else rs.mbwu
        if bank is None or not rs.present[r.present]:
            if self.desc.has_ris and self._any[r.present]:
                self._error(ErrorCode.RIS_NO_MONITOR, mon, ris=ris)
            return 0
        if r.name.endswith("_OFSR"):
            if value is None:
                return bank.ofsr(mon)
            bank.write_ofsr(mon, value)
            return 0
        if mon >= len(bank.monitors):
            self._error(ErrorCode.MONITOR_RANGE, mon, ris=ris)
            return 0
        if value is None:
            return bank.read(r.name, mon, half)
        if r.name == bank.flt_reg:
            partid, pmg = field(r.name, "PARTID").get(value), field(r.name, "PMG").get(value)
            if partid > rs.features.partid_max or pmg > rs.features.pmg_max:
                self._error(ErrorCode.MSMONCFG_ID_RANGE, partid, pmg, ris=ris)
        bank.write(r.name, mon, half, value)
        return 0

    # -- errors and interrupts ------------------------------------------------------------

    def _error(self, code: ErrorCode, partid_mon: int = 0, pmg: int = 0, ris: int = 0) -> None:
        """Record an error in MPAMF_ESR (with the overwrite rule) and signal it."""
        if not self.desc.has_esr:
            return
        old = self._store["MPAMF_ESR"]
        esr = (
            _ESR.field("ERRCODE").prep(code.value)
            | _ESR.field("PARTID_MON").prep(partid_mon & 0xFFFF)
            | _ESR.field("PMG").prep(pmg & 0xFF)
        )
        if _ESR.field("ERRCODE").get(old):
            esr |= _ESR.field("OVRWR").mask
        if self.desc.has_extd_esr:
            esr |= _ESR.field("RIS").prep(ris & 0xF)
        self._store["MPAMF_ESR"] = esr
        if not _ECR_INTEN.get(self._store["MPAMF_ECR"]):
            return
        if self.error_line is not None and self.error_line.mode is AccessMode.EDGE:
            self.error_line.pulse()
        self._update_error_line()
        if self.desc.has_err_msi:
            self._send_msi("MPAMF_ERR_MSI")

    def inject_error(
        self, code: ErrorCode, partid_mon: int = 0, pmg: int = 0, ris: int = 0
    ) -> None:
        """Fault injection: make the MSC detect an error as if hardware had seen it."""
        self._error(code, partid_mon, pmg, ris)

    def _update_error_line(self) -> None:
        line = self.error_line
        if line is not None and line.mode is AccessMode.LEVEL:
            asserted = bool(_ECR_INTEN.get(self._store.get("MPAMF_ECR", 0))) and bool(
                _ESR.field("ERRCODE").get(self._store.get("MPAMF_ESR", 0))
            )
            line.set_level(asserted, source=self.name)

    def _overflow_event(self, rising: bool = False) -> None:
        """A monitor's overflow status changed; `rising` when a signalled one was set."""
        if not self._any["HAS_MSMON"] or self._no_hw_oflw_intr:
            return
        signalled = any(
            b.overflow_signalled() for rs in self.ris.values() for b in (rs.csu, rs.mbwu) if b
        )
        line = self.overflow_line
        if line is not None:
            if line.mode is AccessMode.LEVEL:
                line.set_level(signalled, source=self.name)
            elif rising:
                line.pulse()
        if rising and self._any["HAS_OFLW_MSI"]:
            self._send_msi("MSMON_OFLOW_MSI")

    def _send_msi(self, prefix: str) -> None:
        s = self._store
        if not _MSI_EN.get(s[f"{prefix}_ATTR"]):
            return
        address = (s[f"{prefix}_ADDR_H"] << 32) | s[f"{prefix}_ADDR_L"]
        label = s[f"{prefix}_MPAM"]
        mpam = reg(f"{prefix}_MPAM")
        self.irq.msi(Msi(address, s[f"{prefix}_DATA"], mpam.field("PARTID").get(label),
                         mpam.field("PMG").get(label)))  # fmt: skip

    # -- what the memory system asks of the MSC ---------------------------------------

    def check_request(self, partid: int, pmg: int) -> tuple[int, int]:
        """The label a request is served with: out-of-range PARTID or PMG is reported
        (errors 2 and 4, IHI0099 Table 7-1) and replaced by the default: the spec recommends
        the default PARTID; that an out-of-range PMG likewise becomes PMG 0 is the model's
        reading."""
        if partid > self.partid_max:
            self._error(ErrorCode.REQ_PARTID_RANGE, partid, pmg)
            partid = 0
        if pmg > self.pmg_max:
            self._error(ErrorCode.REQ_PMG_RANGE, partid, pmg)
            pmg = 0
        return partid, pmg

    def settings_row(self, partid: int) -> int:
        """The storage row holding the settings for request PARTID `partid`."""
        if self.desc.intpartid_max is not None:
            return int(self.intpartid[partid])
        return partid

    def capture_event(self, event: int) -> None:
        """Raise capture event `event` (1-6 external inputs, 7 the local event)."""
        for rs in self.ris.values():
            for bank in (rs.csu, rs.mbwu):
                if bank is not None:
                    bank.capture(event)
