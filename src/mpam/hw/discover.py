"""What software learns from an MSC by reading its ID registers, and nothing else.

The probe order is Linux's (drivers/resctrl/mpam_devices.c): AIDR, then IDR (both words when
EXT) to learn RIS_MAX, then for every RIS: select it in MPAMCFG_PART_SEL, re-read IDR and
the sub-ID registers its HAS_* bits announce. The result is a description of the MSC as
found in silicon, independent of the platform description it was built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mpam.hw.idregs import decode
from mpam.hw.regmap import reg

__all__ = ["FoundMsc", "FoundRis", "Mmio", "discover", "summarise"]


class Mmio(Protocol):
    """Anything with the MSC register interface (MMIO or PCC-backed)."""

    @property
    def name(self) -> str: ...

    def read32(self, offset: int) -> int: ...

    def write32(self, offset: int, value: int) -> None: ...


@dataclass(frozen=True)
class FoundRis:
    """One RIS as its ID registers describe it: every register's fields by name."""

    index: int
    registers: dict[str, dict[str, int]] = field(default_factory=dict)

    def get(self, reg_name: str, field_name: str) -> int:
        return self.registers.get(reg_name, {}).get(field_name, 0)


@dataclass(frozen=True)
class FoundMsc:
    name: str
    aidr: int
    iidr: dict[str, int]
    ris: tuple[FoundRis, ...]
    intpartid_max: int | None


_SUB_IDRS = (
    ("HAS_IMPL_IDR", "MPAMF_IMPL_IDR"),
    ("HAS_CPOR_PART", "MPAMF_CPOR_IDR"),
    ("HAS_CCAP_PART", "MPAMF_CCAP_IDR"),
    ("HAS_MBW_PART", "MPAMF_MBW_IDR"),
    ("HAS_PRI_PART", "MPAMF_PRI_IDR"),
    ("HAS_MSMON", "MPAMF_MSMON_IDR"),
)


def _read_idr(msc: Mmio) -> int:
    idr_off = reg("MPAMF_IDR").offset
    low = msc.read32(idr_off)
    if not decode("MPAMF_IDR", low)["EXT"]:
        return low
    return low | (msc.read32(idr_off + 4) << 32)


def discover(msc: Mmio) -> FoundMsc:
    """Probe `msc` through its registers (leaves PART_SEL selecting RIS 0, PARTID 0)."""
    aidr = msc.read32(reg("MPAMF_AIDR").offset)
    iidr = decode("MPAMF_IIDR", msc.read32(reg("MPAMF_IIDR").offset))
    idr = decode("MPAMF_IDR", _read_idr(msc))
    ris_max = idr["RIS_MAX"] if idr["HAS_RIS"] else 0
    part_sel = reg("MPAMCFG_PART_SEL")
    found = []
    for index in range(ris_max + 1):
        msc.write32(part_sel.offset, part_sel.field("RIS").prep(index))
        regs = {"MPAMF_IDR": decode("MPAMF_IDR", _read_idr(msc))}
        if not any(v for k, v in regs["MPAMF_IDR"].items() if k.startswith("HAS_")):
            continue  # an unimplemented RIS index reads as no features
        for has, name in _SUB_IDRS:
            if regs["MPAMF_IDR"][has]:
                regs[name] = decode(name, msc.read32(reg(name).offset))
        msmon = regs.get("MPAMF_MSMON_IDR", {})
        for kind in ("CSU", "MBWU"):
            if msmon.get(f"MSMON_{kind}"):
                name = f"MPAMF_{kind}MON_IDR"
                regs[name] = decode(name, msc.read32(reg(name).offset))
        found.append(FoundRis(index, regs))
    msc.write32(part_sel.offset, 0)
    nrw = None
    if idr["HAS_PARTID_NRW"]:
        value = msc.read32(reg("MPAMF_PARTID_NRW_IDR").offset)
        nrw = decode("MPAMF_PARTID_NRW_IDR", value)["INTPARTID_MAX"]
    return FoundMsc(msc.name, aidr, iidr, tuple(found), nrw)


def summarise(ris: FoundRis) -> list[str]:
    """Short human descriptions of a RIS's features, e.g. ``CPOR cpbm_wd=16``."""
    g = ris.get
    out = [f"PARTID_MAX={g('MPAMF_IDR', 'PARTID_MAX')} PMG_MAX={g('MPAMF_IDR', 'PMG_MAX')}"]
    if "MPAMF_CPOR_IDR" in ris.registers:
        out.append(f"CPOR cpbm_wd={g('MPAMF_CPOR_IDR', 'CPBM_WD')}")
    if "MPAMF_CCAP_IDR" in ris.registers:
        flags = [n.lower() for n in ("HAS_CMIN", "HAS_CASSOC", "NO_CMAX", "HAS_CMAX_SOFTLIM")
                 if g("MPAMF_CCAP_IDR", n)]  # fmt: skip
        out.append(" ".join([f"CCAP cmax_wd={g('MPAMF_CCAP_IDR', 'CMAX_WD')}", *flags]))
    if "MPAMF_MBW_IDR" in ris.registers:
        flags = [n.lower() for n in ("HAS_MIN", "HAS_MAX", "HAS_PBM", "HAS_PROP", "WINDWR")
                 if g("MPAMF_MBW_IDR", n)]  # fmt: skip
        pbm = g("MPAMF_MBW_IDR", "BWPBM_WD")
        if pbm:
            flags.append(f"bwpbm_wd={pbm}")
        out.append(" ".join([f"MBW bwa_wd={g('MPAMF_MBW_IDR', 'BWA_WD')}", *flags]))
    if "MPAMF_PRI_IDR" in ris.registers:
        out.append(
            f"PRI intpri_wd={g('MPAMF_PRI_IDR', 'INTPRI_WD')} dspri_wd={g('MPAMF_PRI_IDR', 'DSPRI_WD')}"
        )
    if "MPAMF_CSUMON_IDR" in ris.registers:
        out.append(f"CSU monitors={g('MPAMF_CSUMON_IDR', 'NUM_MON')}")
    if "MPAMF_MBWUMON_IDR" in ris.registers:
        m = "MPAMF_MBWUMON_IDR"
        width = (63 if g(m, "LWD") else 44) if g(m, "HAS_LONG") else 31
        out.append(f"MBWU monitors={g(m, 'NUM_MON')} counter={width}-bit")
    return out
