"""The MSC register map of IHI0099 (Table 9-8), declared once as data.

Every offset, field position and width of an MSC register lives here and nowhere else; the
MSC model, the ID-register builder and decoders all look registers and fields up by the
Arm spec's names. Each register has one access kind and one scope, and the MSC implements
each (kind, scope) pair once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

__all__ = [
    "REGISTERS",
    "Access",
    "Field",
    "Register",
    "Scope",
    "WordRef",
    "decode",
    "field",
    "field_get",
    "field_prep",
    "reg",
    "word_at",
]


class Access(Enum):
    """How software may access a register (IHI0099 chapter 9 access columns)."""

    RO = "RO"
    RW = "RW"
    WO = "WO"  # reads as zero; a write has an effect (MPAMCFG_EN, MPAMCFG_DIS)
    SELECTOR = "selector"  # RW, and selects what other registers show
    TRIGGER = "trigger"  # WO, reads as zero; a write raises an event (MSMON_CAPT_EVNT)


class Scope(Enum):
    """What a register's contents depend on."""

    MSC = "msc"  # one copy per MSC page, independent of RIS
    RIS = "ris"  # per RIS, chosen by MPAMCFG_PART_SEL.RIS (the ID registers)
    PARTID = "partid"  # per RIS and PARTID, chosen by MPAMCFG_PART_SEL (MPAMCFG_*)
    MONITOR = "monitor"  # per RIS and monitor, chosen by MSMON_CFG_MON_SEL (MSMON_*)


@dataclass(frozen=True)
class Field:
    """A bit field: `name[lsb + width - 1 : lsb]`."""

    name: str
    lsb: int
    width: int = 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.width) - 1)

    def prep(self, value: int) -> int:
        if not 0 <= value < (1 << self.width):
            raise ValueError(f"{self.name}: {value:#x} does not fit in {self.width} bits")
        return value << self.lsb


@dataclass(frozen=True)
class Register:
    """One register (or register array) of the MSC feature page."""

    name: str
    offset: int
    access: Access
    scope: Scope
    fields: tuple[Field, ...]
    width: int = 32  # 64-bit registers are two 32-bit words, low word first
    count: int = 1  # array registers (MPAMCFG_CPBM<n>, MPAMCFG_MBW_PBM<n>)
    present: str = "always"  # the feature that makes the register exist (see hw.msc)
    section: str = "IHI0099 Table 9-8"  # where the register map comes from

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no field {name}") from None

    @property
    def words(self) -> int:
        return self.count * self.width // 32

    @property
    def end(self) -> int:
        return self.offset + 4 * self.words


F = Field
RO, RW, WO, SEL, TRIG = Access.RO, Access.RW, Access.WO, Access.SELECTOR, Access.TRIGGER
MSC, RIS, PARTID, MON = Scope.MSC, Scope.RIS, Scope.PARTID, Scope.MONITOR

_FRAC16 = (F("VALUE", 0, 16),)  # fixed-point fraction controls: implemented bits [15:16-w]
_MON_VALUE = (F("VALUE", 0, 31), F("NRDY", 31))
_MON_VALUE_L = (F("VALUE", 0, 63), F("NRDY", 63))
_MSI = (
    ("MSI_MPAM", 0x0DC, (F("PARTID", 0, 16), F("PMG", 16, 8))),
    ("MSI_ADDR_L", 0x0E0, (F("ADDR", 2, 30),)),
    ("MSI_ADDR_H", 0x0E4, (F("ADDR", 0, 20),)),
    ("MSI_DATA", 0x0E8, (F("DATA", 0, 32),)),
    ("MSI_ATTR", 0x0EC, (F("MSIEN", 0), F("MSI_MEMATTR", 24, 4), F("MSI_SH", 28, 2))),
)
_CTL_COMMON = (
    F("TYPE", 0, 8),
    F("OFLOW_LNKG", 8, 3),
    F("MATCH_PARTID", 16),
    F("MATCH_PMG", 17),
    F("CEVNT_OFLW", 18),
    F("SUBTYPE", 20, 3),
    F("OFLOW_CAPT", 23),
    F("OFLOW_FRZ", 24),
    F("OFLOW_INTR", 25),
    F("OFLOW_STATUS", 26),
    F("CAPT_RESET", 27),
    F("CAPT_EVNT", 28, 3),
    F("EN", 31),
)
_TL_IDR = (F("IN_PARTID_MAX", 0, 16), F("HAS_BASE_MASK", 30), F("HAS_DIRECT_TL", 31))
_TL = (F("PARTID_TL", 0, 16), F("ENABLE", 31))
_TL_WORD = (F("VALUE", 0, 16),)

REGISTERS: tuple[Register, ...] = (
    Register("MPAMF_IDR", 0x0000, RO, RIS, (
        F("PARTID_MAX", 0, 16), F("PMG_MAX", 16, 8),
        F("HAS_CCAP_PART", 24), F("HAS_CPOR_PART", 25), F("HAS_MBW_PART", 26),
        F("HAS_PRI_PART", 27), F("EXT", 28), F("HAS_IMPL_IDR", 29), F("HAS_MSMON", 30),
        F("HAS_PARTID_NRW", 31), F("HAS_RIS", 32), F("NO_IMPL_PART", 36),
        F("NO_IMPL_MSMON", 37), F("HAS_EXTD_ESR", 38), F("HAS_ESR", 39), F("HAS_ERR_MSI", 40),
        F("SP4", 41), F("HAS_ENDIS", 42), F("HAS_NFU", 43), F("HAS_IN_TL", 44),
        F("HAS_OUT_TL", 45), F("HAS_DEFAULT_PARTID", 46), F("RIS_MAX", 56, 4),
    ), width=64),
    Register("MPAMF_SIDR", 0x0008, RO, MSC, (F("S_PARTID_MAX", 0, 16), F("S_PMG_MAX", 16, 8)),
             present="secure_page"),
    Register("MPAMF_IIDR", 0x0018, RO, MSC, (
        F("Implementer", 0, 12), F("Revision", 12, 4), F("Variant", 16, 4), F("ProductID", 20, 12),
    )),
    Register("MPAMF_AIDR", 0x0020, RO, MSC, (F("ArchMinorRev", 0, 4), F("ArchMajorRev", 4, 4))),
    Register("MPAMF_IMPL_IDR", 0x0028, RO, RIS, (F("VALUE", 0, 32),), present="HAS_IMPL_IDR"),
    Register("MPAMF_CPOR_IDR", 0x0030, RO, RIS, (F("CPBM_WD", 0, 16),), present="HAS_CPOR_PART"),
    Register("MPAMF_CCAP_IDR", 0x0038, RO, RIS, (
        F("CMAX_WD", 0, 6), F("CASSOC_WD", 8, 5), F("HAS_CASSOC", 28), F("HAS_CMIN", 29),
        F("NO_CMAX", 30), F("HAS_CMAX_SOFTLIM", 31),
    ), present="HAS_CCAP_PART"),
    Register("MPAMF_MBW_IDR", 0x0040, RO, RIS, (
        F("BWA_WD", 0, 6), F("MAX_LIM", 8, 2), F("HAS_MIN", 10), F("HAS_MAX", 11),
        F("HAS_PBM", 12), F("HAS_PROP", 13), F("WINDWR", 14), F("BWPBM_WD", 16, 13),
    ), present="HAS_MBW_PART"),
    Register("MPAMF_PRI_IDR", 0x0048, RO, RIS, (
        F("HAS_INTPRI", 0), F("INTPRI_0_IS_LOW", 1), F("INTPRI_WD", 4, 6),
        F("HAS_DSPRI", 16), F("DSPRI_0_IS_LOW", 17), F("DSPRI_WD", 20, 6),
    ), present="HAS_PRI_PART"),
    Register("MPAMF_PARTID_NRW_IDR", 0x0050, RO, MSC, (F("INTPARTID_MAX", 0, 16),),
             present="HAS_PARTID_NRW"),
    Register("MPAMF_MSMON_IDR", 0x0080, RO, RIS, (
        F("MSMON_CSU", 16), F("MSMON_MBWU", 17), F("MSMON_CSA", 18), F("HAS_TL_MONITORING", 26, 2),
        F("HAS_OFLOW_SR", 28), F("HAS_OFLW_MSI", 29), F("NO_HW_OFLW_INTR", 30),
        F("HAS_LOCAL_CAPT_EVNT", 31),
    ), present="HAS_MSMON"),
    Register("MPAMF_CSUMON_IDR", 0x0088, RO, RIS, (
        F("NUM_MON", 0, 16), F("NO_MATCH_PMG", 22), F("NO_MATCH_PARTID", 23),
        F("HAS_OFLOW_CAPT", 24), F("HAS_CEVNT_OFLW", 25), F("HAS_OFSR", 26),
        F("HAS_OFLOW_LNKG", 27), F("HAS_XCL", 29), F("CSU_RO", 30), F("HAS_CAPTURE", 31),
    ), present="MSMON_CSU"),
    Register("MPAMF_MBWUMON_IDR", 0x0090, RO, RIS, (
        F("NUM_MON", 0, 16), F("SCALE", 16, 5), F("NO_MATCH_PMG", 22), F("NO_MATCH_PARTID", 23),
        F("HAS_OFLOW_CAPT", 24), F("HAS_CEVNT_OFLW", 25), F("HAS_OFSR", 26),
        F("HAS_OFLOW_LNKG", 27), F("HAS_RWBW", 28), F("LWD", 29), F("HAS_LONG", 30),
        F("HAS_CAPTURE", 31),
    ), present="MSMON_MBWU"),
    *(Register(f"MPAMF_ERR_{n}", off, RW, MSC, flds, present="HAS_ERR_MSI")
      for n, off, flds in _MSI),
    Register("MPAMF_ECR", 0x00F0, RW, MSC, (F("INTEN", 0),), present="HAS_ESR"),
    Register("MPAMF_ESR", 0x00F8, RW, MSC, (
        F("PARTID_MON", 0, 16), F("PMG", 16, 8), F("ERRCODE", 24, 4), F("OVRWR", 31),
        F("RIS", 32, 4),
    ), width=64, present="HAS_ESR"),
    Register("MPAMCFG_PART_SEL", 0x0100, SEL, MSC, (
        F("PARTID_SEL", 0, 16), F("INTERNAL", 16), F("INGRESS_TL", 17), F("DEFAULT_PARTID", 18),
        F("RIS", 24, 4),
    )),
    Register("MPAMCFG_CMAX", 0x0108, RW, PARTID, (F("CMAX", 0, 16), F("SOFTLIM", 31)),
             present="CMAX"),
    Register("MPAMCFG_CMIN", 0x0110, RW, PARTID, (F("CMIN", 0, 16),), present="HAS_CMIN"),
    Register("MPAMCFG_CASSOC", 0x0118, RW, PARTID, (F("CASSOC", 0, 16),), present="HAS_CASSOC"),
    Register("MPAMCFG_MBW_MIN", 0x0200, RW, PARTID, (F("MIN", 0, 16),), present="HAS_MIN"),
    Register("MPAMCFG_MBW_MAX", 0x0208, RW, PARTID, (F("MAX", 0, 16), F("HARDLIM", 31)),
             present="HAS_MAX"),
    Register("MPAMCFG_MBW_WINWD", 0x0220, RW, PARTID, (F("US_FRAC", 0, 8), F("US_INT", 8, 16)),
             present="HAS_MBW_PART"),
    Register("MPAMCFG_EN", 0x0300, WO, MSC, (F("PARTID", 0, 16),), present="HAS_ENDIS"),
    Register("MPAMCFG_DIS", 0x0310, WO, MSC, (F("PARTID", 0, 16), F("NFU", 31)),
             present="HAS_ENDIS"),
    Register("MPAMCFG_EN_FLAGS", 0x0320, RO, MSC, (F("EN", 0, 32),), present="HAS_ENDIS"),
    Register("MPAMCFG_PRI", 0x0400, RW, PARTID, (F("INTPRI", 0, 16), F("DSPRI", 16, 16)),
             present="HAS_PRI_PART"),
    Register("MPAMCFG_MBW_PROP", 0x0500, RW, PARTID, (F("STRIDEM1", 0, 16), F("EN", 31)),
             present="HAS_PROP"),
    Register("MPAMCFG_INTPARTID", 0x0600, RW, MSC, (F("INTPARTID", 0, 16), F("INTERNAL", 16)),
             present="HAS_PARTID_NRW"),
    Register("MSMON_CFG_MON_SEL", 0x0800, SEL, MSC, (F("MON_SEL", 0, 16), F("RIS", 24, 4)),
             present="HAS_MSMON"),
    Register("MSMON_CAPT_EVNT", 0x0808, TRIG, MSC, (F("NOW", 0), F("ALL", 1)),
             present="HAS_LOCAL_CAPT_EVNT"),
    Register("MSMON_CFG_CSU_FLT", 0x0810, RW, MON, (
        F("PARTID", 0, 16), F("PMG", 16, 8), F("XCL", 31),
    ), present="MSMON_CSU"),
    Register("MSMON_CFG_CSU_CTL", 0x0818, RW, MON, _CTL_COMMON, present="MSMON_CSU"),
    Register("MSMON_CFG_MBWU_FLT", 0x0820, RW, MON, (
        F("PARTID", 0, 16), F("PMG", 16, 8), F("RWBW", 30, 2),
    ), present="MSMON_MBWU"),
    Register("MSMON_CFG_MBWU_CTL", 0x0828, RW, MON, (
        *_CTL_COMMON, F("OFLOW_CAPT_L", 13), F("OFLOW_INTR_L", 14), F("OFLOW_STATUS_L", 15),
        F("SCLEN", 19),
    ), present="MSMON_MBWU"),
    Register("MSMON_CSU", 0x0840, RW, MON, _MON_VALUE, present="MSMON_CSU"),
    Register("MSMON_CSU_CAPTURE", 0x0848, RW, MON, _MON_VALUE, present="CSU_HAS_CAPTURE"),
    Register("MSMON_CSU_OFSR", 0x0858, RW, MON, (F("OFPND", 0, 32),), present="CSU_HAS_OFSR"),
    Register("MSMON_MBWU", 0x0860, RW, MON, _MON_VALUE, present="MSMON_MBWU"),
    Register("MSMON_MBWU_CAPTURE", 0x0868, RW, MON, _MON_VALUE, present="MBWU_HAS_CAPTURE"),
    Register("MSMON_MBWU_L", 0x0880, RW, MON, _MON_VALUE_L, width=64, present="HAS_LONG"),
    Register("MSMON_MBWU_L_CAPTURE", 0x0890, RW, MON, _MON_VALUE_L, width=64,
             present="HAS_LONG_CAPTURE"),
    Register("MSMON_MBWU_OFSR", 0x0898, RW, MON, (F("OFPND", 0, 32),), present="MBWU_HAS_OFSR"),
    *(Register(f"MSMON_OFLOW_{n}", off + 0x800, RW, MSC, flds, present="HAS_OFLW_MSI") for n, off, flds in _MSI),
    Register("MSMON_OFLOW_SR", 0x08F0, RO, MSC, (
        F("RIS_PND", 0, 16), F("CSA_OFLOW_PND", 29), F("MBWU_OFLOW_PND", 30),
        F("CSU_OFLOW_PND", 31),
    ), present="HAS_OFLOW_SR"),
    Register("MPAMCFG_CPBM", 0x1000, RW, PARTID, (F("BITS", 0, 32),), count=1024,
             present="HAS_CPOR_PART"),
    Register("MPAMCFG_MBW_PBM", 0x2000, RW, PARTID, (F("BITS", 0, 32),), count=128,
             present="HAS_PBM"),
    Register("MPAMF_IN_TL_IDR", 0x3000, RO, MSC, _TL_IDR, present="HAS_IN_TL"),
    Register("MPAMCFG_IN_TL", 0x3008, RW, MSC, _TL, present="HAS_IN_TL"),
    Register("MPAMCFG_IN_TL_BASE", 0x3010, RW, MSC, _TL_WORD, present="HAS_IN_TL"),
    Register("MPAMCFG_IN_TL_MASK", 0x3018, RW, MSC, _TL_WORD, present="HAS_IN_TL"),
    Register("MPAMF_OUT_TL_IDR", 0x3200, RO, MSC, _TL_IDR, present="HAS_OUT_TL"),
    Register("MPAMCFG_OUT_TL", 0x3208, RW, MSC, _TL, present="HAS_OUT_TL"),
    Register("MPAMCFG_OUT_TL_BASE", 0x3210, RW, MSC, _TL_WORD, present="HAS_OUT_TL"),
    Register("MPAMCFG_OUT_TL_MASK", 0x3218, RW, MSC, _TL_WORD, present="HAS_OUT_TL"),
)  # fmt: skip

_BY_NAME = {r.name: r for r in REGISTERS}


@dataclass(frozen=True)
class WordRef:
    """The 32-bit word at an offset: which register, which array element, which half."""

    reg: Register
    index: int  # array element (MPAMCFG_CPBM<index>), else 0
    half: int  # 1 for the upper word of a 64-bit register


def _word_index() -> dict[int, WordRef]:
    out: dict[int, WordRef] = {}
    for r in REGISTERS:
        for w in range(r.words):
            off = r.offset + 4 * w
            if off in out:
                raise AssertionError(f"{r.name} overlaps {out[off].reg.name} at {off:#x}")
            if r.width == 64:
                out[off] = WordRef(r, 0, w)
            else:
                out[off] = WordRef(r, w, 0)
    return out


_WORDS = _word_index()


def reg(name: str) -> Register:
    """The register called `name` (the Arm spec's name)."""
    return _BY_NAME[name]


def field(reg_name: str, field_name: str) -> Field:
    """The field `field_name` of register `reg_name`."""
    return _BY_NAME[reg_name].field(field_name)


def field_get(reg_name: str, field_name: str, value: int) -> int:
    """Extract a field from a register value."""
    return _BY_NAME[reg_name].field(field_name).get(value)


def field_prep(reg_name: str, field_name: str, value: int) -> int:
    """Place `value` in a field of a register (raises when it does not fit)."""
    return _BY_NAME[reg_name].field(field_name).prep(value)


def word_at(offset: int) -> WordRef | None:
    """The register word at a page offset, or None for a reserved offset (RAZ/WI)."""
    return _WORDS.get(offset)


def decode(offset: int, value: int) -> str:
    """The fields of the 32-bit word `value` at `offset`, as traces print them
    ("PARTID_SEL=1 RIS=0"); "" for a reserved word or one whole-word field (a bitmap)."""
    w = word_at(offset)
    if w is None:
        return ""
    lo, hi = 32 * w.half, 32 * w.half + 32
    parts = []
    for f in w.reg.fields:
        if f.lsb >= hi or f.lsb + f.width <= lo:
            continue
        if f.width >= 32 and len(w.reg.fields) == 1:
            return ""
        v = (value << lo >> f.lsb) & ((1 << f.width) - 1)
        parts.append(f"{f.name}={v:#x}" if f.width > 16 else f"{f.name}={v}")
    return " ".join(parts)
