"""ID register values of an MSC, built from its description, and their decode.

The driver learns an MSC only by reading these registers, so they are the one place where
a description's features turn into bits. `decode` is the inverse used by inventories and
traces: every field of a register value, by name.
"""

from __future__ import annotations

from mpam.hw.regmap import reg
from mpam.platform.model import MBW_MAX_LIM, Msc, RisFeatures

__all__ = ["decode", "id_registers", "msc_registers"]


def _pack(reg_name: str, **fields: int | bool) -> int:
    r = reg(reg_name)
    value = 0
    for name, v in fields.items():
        value |= r.field(name).prep(int(v))
    return value


def id_registers(msc: Msc, f: RisFeatures) -> dict[str, int]:
    """Values of the per-RIS ID registers of one RIS (absent registers omitted)."""
    out: dict[str, int] = {}
    mon = f.msmon
    idr = _pack(
        "MPAMF_IDR",
        PARTID_MAX=f.partid_max,
        PMG_MAX=f.pmg_max,
        HAS_CCAP_PART=f.ccap is not None,
        HAS_CPOR_PART=f.cpor is not None,
        HAS_MBW_PART=f.mbw is not None,
        HAS_PRI_PART=f.pri is not None,
        EXT=msc.ext,
        HAS_IMPL_IDR=f.impl_idr is not None,
        HAS_MSMON=mon is not None,
        HAS_PARTID_NRW=msc.intpartid_max is not None,
    )
    if msc.ext:
        idr |= _pack(
            "MPAMF_IDR",
            HAS_RIS=msc.has_ris,
            # The model implements no IMPLEMENTATION DEFINED controls or monitors.
            NO_IMPL_PART=f.impl_idr is not None,
            NO_IMPL_MSMON=f.impl_idr is not None,
            HAS_EXTD_ESR=msc.has_extd_esr,
            HAS_ESR=msc.has_esr,
            HAS_ERR_MSI=msc.has_err_msi,
            SP4=msc.sp4,
            HAS_ENDIS=msc.has_endis,
            HAS_NFU=msc.has_nfu,
            HAS_IN_TL=msc.has_in_tl,
            HAS_OUT_TL=msc.has_out_tl,
            RIS_MAX=msc.ris_max if msc.has_ris else 0,
        )
    out["MPAMF_IDR"] = idr
    if f.impl_idr is not None:
        out["MPAMF_IMPL_IDR"] = f.impl_idr
    if f.cpor:
        out["MPAMF_CPOR_IDR"] = _pack("MPAMF_CPOR_IDR", CPBM_WD=f.cpor.cpbm_wd)
    if f.ccap:
        c = f.ccap
        out["MPAMF_CCAP_IDR"] = _pack(
            "MPAMF_CCAP_IDR",
            CMAX_WD=c.cmax_wd,
            CASSOC_WD=c.cassoc_wd,
            HAS_CASSOC=c.has_cassoc,
            HAS_CMIN=c.has_cmin,
            NO_CMAX=c.no_cmax,
            HAS_CMAX_SOFTLIM=c.has_cmax_softlim,
        )
    if f.mbw:
        b = f.mbw
        out["MPAMF_MBW_IDR"] = _pack(
            "MPAMF_MBW_IDR",
            BWA_WD=b.bwa_wd,
            MAX_LIM=MBW_MAX_LIM[b.max_lim],
            HAS_MIN=b.has_min,
            HAS_MAX=b.has_max,
            HAS_PBM=b.has_pbm,
            HAS_PROP=b.has_prop,
            WINDWR=b.windwr,
            BWPBM_WD=b.bwpbm_wd,
        )
    if f.pri:
        p = f.pri
        out["MPAMF_PRI_IDR"] = _pack(
            "MPAMF_PRI_IDR",
            HAS_INTPRI=p.has_intpri,
            INTPRI_0_IS_LOW=p.intpri_0_is_low,
            INTPRI_WD=p.intpri_wd,
            HAS_DSPRI=p.has_dspri,
            DSPRI_0_IS_LOW=p.dspri_0_is_low,
            DSPRI_WD=p.dspri_wd,
        )
    if mon:
        out["MPAMF_MSMON_IDR"] = _pack(
            "MPAMF_MSMON_IDR",
            MSMON_CSU=mon.csu is not None,
            MSMON_MBWU=mon.mbwu is not None,
            HAS_OFLOW_SR=mon.has_oflow_sr,
            HAS_OFLW_MSI=mon.has_oflw_msi,
            NO_HW_OFLW_INTR=mon.no_hw_oflw_intr,
            HAS_LOCAL_CAPT_EVNT=mon.has_local_capt_evnt,
        )
        if mon.csu:
            s = mon.csu
            out["MPAMF_CSUMON_IDR"] = _pack(
                "MPAMF_CSUMON_IDR",
                NUM_MON=s.num_mon,
                NO_MATCH_PMG=s.no_match_pmg,
                NO_MATCH_PARTID=s.no_match_partid,
                HAS_OFSR=s.has_ofsr,
                HAS_XCL=s.has_xcl,
                CSU_RO=s.csu_ro,
                HAS_CAPTURE=s.has_capture,
            )
        if mon.mbwu:
            m = mon.mbwu
            out["MPAMF_MBWUMON_IDR"] = _pack(
                "MPAMF_MBWUMON_IDR",
                NUM_MON=m.num_mon,
                SCALE=m.scale,
                NO_MATCH_PMG=m.no_match_pmg,
                NO_MATCH_PARTID=m.no_match_partid,
                HAS_OFLOW_CAPT=m.has_oflow_capt,
                HAS_CEVNT_OFLW=m.has_cevnt_oflw,
                HAS_OFSR=m.has_ofsr,
                HAS_OFLOW_LNKG=m.has_oflow_lnkg,
                HAS_RWBW=m.has_rwbw,
                LWD=m.lwd,
                HAS_LONG=m.has_long,
                HAS_CAPTURE=m.has_capture,
            )
    return out


def msc_registers(msc: Msc) -> dict[str, int]:
    """Values of the ID registers that do not depend on RIS."""
    out = {"MPAMF_IIDR": msc.iidr, "MPAMF_AIDR": msc.aidr}
    if msc.intpartid_max is not None:
        out["MPAMF_PARTID_NRW_IDR"] = _pack("MPAMF_PARTID_NRW_IDR", INTPARTID_MAX=msc.intpartid_max)
    partid_max = min(r.features.partid_max for r in msc.ris)
    for tl in ("IN", "OUT"):
        if getattr(msc, f"has_{tl.lower()}_tl"):
            out[f"MPAMF_{tl}_TL_IDR"] = _pack(
                f"MPAMF_{tl}_TL_IDR", IN_PARTID_MAX=partid_max, HAS_DIRECT_TL=True
            )
    return out


def decode(reg_name: str, value: int) -> dict[str, int]:
    """Every field of register `reg_name` in `value`, by field name."""
    return {f.name: f.get(value) for f in reg(reg_name).fields}
