"""The MSC register model seen through read32/write32, against IHI0099 and what Linux's
drivers/resctrl/mpam_devices.c relies on.

Offsets and bit positions are literals typed in from IHI0099 (the Table 9-8 register map and
the chapter 9 field descriptions), so the tests do not lean on the register table they
exercise. Descriptions are small TOML texts
built through the real platform loader (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mpam.hw import build
from mpam.hw.msc import ErrorCode, MmioAccess, MmioError, Msc
from mpam.hw.resource import READ, WRITE, ReferenceResource
from mpam.platform import PlatformError, from_toml_text
from mpam.platform.model import AccessMode

MakeMsc = Callable[..., Msc]

# -- offsets (IHI0099 Table 9-8) ------------------------------------------------------------
IDR, IDR_HI = 0x0000, 0x0004
IIDR, AIDR, IMPL_IDR = 0x0018, 0x0020, 0x0028
CPOR_IDR, CCAP_IDR, MBW_IDR, PRI_IDR = 0x0030, 0x0038, 0x0040, 0x0048
NRW_IDR = 0x0050
MSMON_IDR, CSUMON_IDR, MBWUMON_IDR = 0x0080, 0x0088, 0x0090
ERR_MSI_MPAM, ERR_MSI_ADDR_L, ERR_MSI_ADDR_H = 0x00DC, 0x00E0, 0x00E4
ERR_MSI_DATA, ERR_MSI_ATTR = 0x00E8, 0x00EC
ECR, ESR, ESR_HI = 0x00F0, 0x00F8, 0x00FC
PART_SEL, CMAX, CMIN, CASSOC = 0x0100, 0x0108, 0x0110, 0x0118
MBW_MIN, MBW_MAX, MBW_WINWD = 0x0200, 0x0208, 0x0220
CFG_EN, CFG_DIS, EN_FLAGS = 0x0300, 0x0310, 0x0320
PRI, MBW_PROP, INTPARTID = 0x0400, 0x0500, 0x0600
MON_SEL, CAPT_EVNT = 0x0800, 0x0808
CSU_FLT, CSU_CTL, MBWU_FLT, MBWU_CTL = 0x0810, 0x0818, 0x0820, 0x0828
CSU, CSU_CAPTURE, CSU_OFSR = 0x0840, 0x0848, 0x0858
MBWU, MBWU_CAPTURE, MBWU_L, MBWU_L_CAPTURE, MBWU_OFSR = 0x0860, 0x0868, 0x0880, 0x0890, 0x0898
OFLOW_MSI_MPAM, OFLOW_MSI_ADDR_L, OFLOW_MSI_ADDR_H = 0x08DC, 0x08E0, 0x08E4
OFLOW_MSI_DATA, OFLOW_MSI_ATTR, OFLOW_SR = 0x08E8, 0x08EC, 0x08F0
CPBM, MBW_PBM = 0x1000, 0x2000

# MPAMCFG settings registers that a full-featured RIS implements.
CFG_OFFSETS = [CMAX, CMIN, CASSOC, MBW_MIN, MBW_MAX, MBW_WINWD, PRI, MBW_PROP, CPBM, MBW_PBM]

# -- bit fields (IHI0099 chapter 9) -----------------------------------------------------------
# MPAMF_IDR low word
HAS_CCAP, HAS_CPOR, HAS_MBW, HAS_PRI = 1 << 24, 1 << 25, 1 << 26, 1 << 27
EXT, HAS_IMPL_IDR, HAS_MSMON, HAS_NRW = 1 << 28, 1 << 29, 1 << 30, 1 << 31
# MPAMF_IDR high word (bit n of the IDR is bit n-32 here)
HAS_RIS, NO_IMPL_PART, NO_IMPL_MSMON = 1 << 0, 1 << 4, 1 << 5
HAS_EXTD_ESR, HAS_ESR, HAS_ERR_MSI, SP4 = 1 << 6, 1 << 7, 1 << 8, 1 << 9
HAS_ENDIS, HAS_NFU, HAS_IN_TL, HAS_OUT_TL = 1 << 10, 1 << 11, 1 << 12, 1 << 13


def ris_max(n: int) -> int:
    return n << 24  # IDR.RIS_MAX[59:56], in the high word


# PART_SEL / MON_SEL
INTERNAL = 1 << 16
# monitor CTL
EN = 1 << 31
MATCH_PARTID, MATCH_PMG, SCLEN = 1 << 16, 1 << 17, 1 << 19
OFLOW_FRZ, OFLOW_INTR, OFLOW_STATUS, CAPT_RESET = 1 << 24, 1 << 25, 1 << 26, 1 << 27
OFLOW_INTR_L, OFLOW_STATUS_L = 1 << 14, 1 << 15
NRDY = 1 << 31
XCL = 1 << 31
RWBW_WRITES, RWBW_READS = 0b01 << 30, 0b10 << 30


def capt_evnt(n: int) -> int:
    return n << 28


def ctl_type(value: int) -> int:
    return value & 0xFF


# -- helpers --------------------------------------------------------------------------------


def sel(m: Msc, partid: int, ris: int = 0, internal: bool = False) -> None:
    m.write32(PART_SEL, partid | (INTERNAL if internal else 0) | ris << 24)


def msel(m: Msc, mon: int, ris: int = 0) -> None:
    m.write32(MON_SEL, mon | ris << 24)


def esr(m: Msc) -> dict[str, int]:
    lo, hi = m.read32(ESR), m.read32(ESR_HI)
    return {
        "PARTID_MON": lo & 0xFFFF,
        "PMG": (lo >> 16) & 0xFF,
        "ERRCODE": (lo >> 24) & 0xF,
        "OVRWR": lo >> 31,
        "RIS": hi & 0xF,
    }


def errcode(m: Msc) -> int:
    return (m.read32(ESR) >> 24) & 0xF


def clear_esr(m: Msc) -> None:
    """Linux's order: the upper half first (when HAS_EXTD_ESR), then the lower."""
    m.write32(ESR_HI, 0)
    m.write32(ESR, 0)


def snapshot(m: Msc) -> dict[tuple[int, str], np.ndarray]:
    return {(i, n): a.copy() for i, rs in m.ris.items() for n, a in rs.cfg.items()}


def same(a: dict[tuple[int, str], np.ndarray], b: dict[tuple[int, str], np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def traffic(m: Msc, ris: int = 0) -> np.ndarray:
    f = m.ris[ris].features
    return np.zeros((f.partid_max + 1, f.pmg_max + 1, 2), dtype=np.int64)


def count(m: Msc, nbytes: int, partid: int = 0, pmg: int = 0, rw: int = READ, ris: int = 0) -> None:
    t = traffic(m, ris)
    t[partid, pmg, rw] = nbytes
    m.ris[ris].count_mbwu(t)


def read64(m: Msc, offset: int) -> int:
    return m.read32(offset) | m.read32(offset + 4) << 32


# Feature tables.
CACHE: dict[str, Any] = {
    "cpor": {"cpbm_wd": 16},
    "ccap": {"cmax_wd": 8, "has_cmin": True, "has_cassoc": True, "cassoc_wd": 4,
             "has_cmax_softlim": True},
    "msmon": {"csu": {"num_mon": 4, "has_xcl": True, "has_capture": True},
              "has_local_capt_evnt": True},
}  # fmt: skip
MEM: dict[str, Any] = {
    "mbw": {"bwa_wd": 8, "has_min": True, "has_max": True, "has_pbm": True, "bwpbm_wd": 16,
            "has_prop": True, "windwr": True},
    "pri": {"has_intpri": True, "intpri_wd": 3, "has_dspri": True, "dspri_wd": 5},
    "msmon": {"mbwu": {"num_mon": 4}},
}  # fmt: skip
FULL: dict[str, Any] = {**CACHE, **MEM, "msmon": {**CACHE["msmon"], **MEM["msmon"]}}


def mbwu_feats(**mbwu: Any) -> dict[str, Any]:
    base = {"num_mon": 4, "has_rwbw": True, "has_capture": True, "has_ofsr": True}
    return {
        "mbw": {"bwa_wd": 8, "has_max": True},
        "msmon": {"mbwu": {**base, **mbwu}, "has_local_capt_evnt": True, "has_oflow_sr": True},
    }


@pytest.fixture
def two_ris(new_msc: MakeMsc) -> Msc:
    """RIS 0: a cache with CSU monitors; RIS 1: memory bandwidth with MBWU monitors."""
    return new_msc([
        {"partid_max": 31, "pmg_max": 3, "cpor": {"cpbm_wd": 16}, "ccap": {"cmax_wd": 8},
         "msmon": {"csu": {"num_mon": 4}}},
        {"partid_max": 15, "pmg_max": 1, "mbw": {"bwa_wd": 8, "has_max": True},
         "msmon": {"mbwu": {"num_mon": 2}}},
    ])  # fmt: skip


# == identity registers (IHI0099 MPAMF_AIDR, MPAMF_IDR) =========================================


def test_idr_low_word_from_features(new_msc: MakeMsc) -> None:
    m = new_msc([{"partid_max": 0x1F, "pmg_max": 3, **FULL, "impl_idr": 0xABCD}], intpartid_max=7)
    low = 0x1F | 3 << 16 | HAS_CCAP | HAS_CPOR | HAS_MBW | HAS_PRI | EXT | HAS_IMPL_IDR
    assert m.read32(IDR) == low | HAS_MSMON | HAS_NRW
    assert m.read32(IDR_HI) == HAS_ESR | NO_IMPL_PART | NO_IMPL_MSMON
    assert m.read32(IMPL_IDR) == 0xABCD
    assert m.read32(NRW_IDR) == 7


@pytest.mark.parametrize(
    ("feats", "msc_kw", "bit"),
    [
        ({"ccap": {"cmax_wd": 8}}, {}, HAS_CCAP),
        ({"cpor": {"cpbm_wd": 8}}, {}, HAS_CPOR),
        ({"mbw": {"bwa_wd": 8, "has_max": True}}, {}, HAS_MBW),
        ({"pri": {"has_intpri": True, "intpri_wd": 2}}, {}, HAS_PRI),
        ({"impl_idr": 0}, {}, HAS_IMPL_IDR),
        ({"msmon": {"csu": {"num_mon": 1}}}, {}, HAS_MSMON),
        ({}, {"intpartid_max": 3}, HAS_NRW),
    ],
)
def test_idr_low_word_feature_bits_one_at_a_time(
    new_msc: MakeMsc, feats: dict[str, Any], msc_kw: dict[str, Any], bit: int
) -> None:
    m = new_msc([{"partid_max": 7, "pmg_max": 0, **feats}], **msc_kw)
    assert m.read32(IDR) == 7 | EXT | bit


def test_idr_bare_ris(new_msc: MakeMsc) -> None:
    m = new_msc([{"partid_max": 0xFFFF, "pmg_max": 0xFF}])
    assert m.read32(IDR) == 0xFFFF | 0xFF << 16 | EXT
    assert m.read32(IDR_HI) == HAS_ESR
    for off in (IMPL_IDR, CPOR_IDR, CCAP_IDR, MBW_IDR, PRI_IDR, NRW_IDR, MSMON_IDR,
                CSUMON_IDR, MBWUMON_IDR):  # fmt: skip
        assert m.read32(off) == 0, hex(off)


@pytest.mark.parametrize(
    ("msc_kw", "high"),
    [
        ({}, HAS_ESR),
        ({"has_esr": False}, 0),
        ({"has_err_msi": True}, HAS_ESR | HAS_ERR_MSI),
        ({"sp4": True}, HAS_ESR | SP4),
        ({"has_endis": True}, HAS_ESR | HAS_ENDIS),
        ({"has_endis": True, "has_nfu": True}, HAS_ESR | HAS_ENDIS | HAS_NFU),
        ({"has_in_tl": True}, HAS_ESR | HAS_IN_TL),
        ({"has_out_tl": True}, HAS_ESR | HAS_OUT_TL),
    ],
)
def test_idr_high_word_flags(new_msc: MakeMsc, msc_kw: dict[str, Any], high: int) -> None:
    m = new_msc(**msc_kw)
    assert m.read32(IDR) & EXT
    assert m.read32(IDR_HI) == high


def test_idr_with_ris_sets_ext_and_extd_esr(new_msc: MakeMsc) -> None:
    """With RIS the IDR has EXT=1, and with ESR also HAS_EXTD_ESR=1 (IHI0099); RIS_MAX."""
    m = new_msc([{}, {"index": 3}])
    assert m.read32(IDR) & EXT
    assert m.read32(IDR_HI) == HAS_RIS | HAS_EXTD_ESR | HAS_ESR | ris_max(3)
    m2 = new_msc([{}, {}], has_esr=False)
    assert m2.read32(IDR_HI) == HAS_RIS | ris_max(1)


def test_aidr_v11(new_msc: MakeMsc) -> None:
    assert new_msc().read32(AIDR) == 0x11


def test_aidr_v10_has_32_bit_idr(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}], aidr=0x10)
    assert m.read32(AIDR) == 0x10
    assert m.read32(IDR) & EXT == 0
    assert m.read32(IDR) == 15 | 1 << 16 | HAS_CPOR
    assert m.read32(IDR_HI) == 0  # no HAS_ESR bit in v1.0 ...


def test_aidr_v10_still_reports_errors(new_msc: MakeMsc) -> None:
    """... yet its ESR exists: v1.0 defines error codes 0-7 (IHI0099 Table 7-1)."""
    m = new_msc([{"cpor": {"cpbm_wd": 8}}], aidr=0x10)
    m.write32(PART_SEL, 16)  # PARTID_MAX is 15
    m.read32(0x1000)  # MPAMCFG_CPBM<0>
    assert (m.read32(0xF8) >> 24) & 0xF == 1  # MPAMF_ESR.ERRCODE: PARTID_SEL_Range


@pytest.mark.parametrize("iidr", [0x0000043B, 0x1234_543B, 0xFFFF_FFFF])
def test_iidr(new_msc: MakeMsc, iidr: int) -> None:
    assert new_msc(iidr=iidr).read32(IIDR) == iidr


@pytest.mark.parametrize("wd", [1, 16, 32, 33, 4096, 32768])
def test_cpor_idr_cpbm_wd(new_msc: MakeMsc, wd: int) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": wd}}])
    assert m.read32(CPOR_IDR) == wd
    assert m.read32(IDR) & HAS_CPOR


@pytest.mark.parametrize(
    ("ccap", "value"),
    [
        ({"cmax_wd": 4}, 4),
        ({"cmax_wd": 16, "has_cmin": True}, 16 | 1 << 29),
        ({"cmax_wd": 8, "has_cassoc": True, "cassoc_wd": 5}, 8 | 5 << 8 | 1 << 28),
        ({"cmax_wd": 8, "no_cmax": True, "has_cmin": True}, 8 | 1 << 29 | 1 << 30),
        ({"cmax_wd": 1, "has_cmax_softlim": True}, 1 | 1 << 31),
        ({"cmax_wd": 12, "has_cmin": True, "has_cassoc": True, "cassoc_wd": 16,
          "has_cmax_softlim": True}, 12 | 16 << 8 | 0xB << 28),
    ],
)  # fmt: skip
def test_ccap_idr(new_msc: MakeMsc, ccap: dict[str, Any], value: int) -> None:
    m = new_msc([{"ccap": ccap}])
    assert m.read32(CCAP_IDR) == value
    assert m.read32(IDR) & HAS_CCAP


@pytest.mark.parametrize(
    ("mbw", "value"),
    [
        ({"bwa_wd": 8, "has_max": True}, 8 | 1 << 11),
        ({"bwa_wd": 16, "has_min": True, "max_lim": "soft"}, 16 | 1 << 8 | 1 << 10),
        ({"bwa_wd": 1, "has_max": True, "max_lim": "hard"}, 1 | 2 << 8 | 1 << 11),
        ({"bwa_wd": 12, "has_pbm": True, "bwpbm_wd": 4096}, 12 | 1 << 12 | 4096 << 16),
        ({"bwa_wd": 6, "has_prop": True, "windwr": True}, 6 | 1 << 13 | 1 << 14),
        ({"bwa_wd": 6, "has_pbm": True, "bwpbm_wd": 33}, 6 | 1 << 12 | 33 << 16),
    ],
)
def test_mbw_idr(new_msc: MakeMsc, mbw: dict[str, Any], value: int) -> None:
    m = new_msc([{"mbw": mbw}])
    assert m.read32(MBW_IDR) == value
    assert m.read32(IDR) & HAS_MBW


@pytest.mark.parametrize(
    ("pri", "value"),
    [
        ({"has_intpri": True, "intpri_wd": 4}, 1 | 4 << 4),
        ({"has_intpri": True, "intpri_0_is_low": True, "intpri_wd": 16}, 1 | 2 | 16 << 4),
        ({"has_dspri": True, "dspri_wd": 9}, 1 << 16 | 9 << 20),
        ({"has_dspri": True, "dspri_0_is_low": True, "dspri_wd": 1,
          "has_intpri": True, "intpri_wd": 2}, 1 << 16 | 1 << 17 | 1 << 20 | 1 | 2 << 4),
    ],
)  # fmt: skip
def test_pri_idr(new_msc: MakeMsc, pri: dict[str, Any], value: int) -> None:
    m = new_msc([{"pri": pri}])
    assert m.read32(PRI_IDR) == value
    assert m.read32(IDR) & HAS_PRI


def test_msmon_idrs(new_msc: MakeMsc) -> None:
    msmon = {
        "csu": {"num_mon": 300, "no_match_pmg": True, "no_match_partid": True,
                "has_ofsr": True, "has_xcl": True, "csu_ro": True, "has_capture": True},
        "mbwu": {"num_mon": 1000, "scale": 31, "no_match_pmg": True, "no_match_partid": True,
                 "has_oflow_capt": True, "has_cevnt_oflw": True, "has_ofsr": True,
                 "has_oflow_lnkg": True, "has_rwbw": True, "lwd": True, "has_long": True,
                 "has_capture": True},
        "has_oflow_sr": True, "has_oflw_msi": True, "no_hw_oflw_intr": True,
        "has_local_capt_evnt": True,
    }  # fmt: skip
    m = new_msc([{"msmon": msmon}])
    assert m.read32(IDR) & HAS_MSMON
    assert m.read32(MSMON_IDR) == 1 << 16 | 1 << 17 | 0xF << 28
    assert m.read32(CSUMON_IDR) == 300 | 1 << 22 | 1 << 23 | 1 << 26 | 0x7 << 29
    assert m.read32(MBWUMON_IDR) == 1000 | 31 << 16 | 0x3 << 22 | 0xFF << 24


@pytest.mark.parametrize(
    ("mbwu", "value"),
    [
        ({"num_mon": 1}, 1),
        ({"num_mon": 8, "scale": 4}, 8 | 4 << 16),
        ({"num_mon": 2, "has_long": True}, 2 | 1 << 30),
        ({"num_mon": 2, "has_long": True, "lwd": True}, 2 | 1 << 29 | 1 << 30),
        ({"num_mon": 2, "has_rwbw": True, "has_capture": True}, 2 | 1 << 28 | 1 << 31),
    ],
)
def test_mbwumon_idr(new_msc: MakeMsc, mbwu: dict[str, Any], value: int) -> None:
    m = new_msc([{"msmon": {"mbwu": mbwu}}])
    assert m.read32(MSMON_IDR) == 1 << 17
    assert m.read32(MBWUMON_IDR) == value
    assert m.read32(CSUMON_IDR) == 0


def test_csumon_idr_only(new_msc: MakeMsc) -> None:
    m = new_msc([{"msmon": {"csu": {"num_mon": 16}}}])
    assert m.read32(MSMON_IDR) == 1 << 16
    assert m.read32(CSUMON_IDR) == 16
    assert m.read32(MBWUMON_IDR) == 0


def test_id_registers_are_read_only(new_msc: MakeMsc) -> None:
    m = new_msc([FULL])
    offsets = [IDR, IDR_HI, IIDR, AIDR, CPOR_IDR, CCAP_IDR, MBW_IDR, PRI_IDR, MSMON_IDR,
               CSUMON_IDR, MBWUMON_IDR]  # fmt: skip
    before = [m.read32(o) for o in offsets]
    for o in offsets:
        m.write32(o, 0xFFFF_FFFF)
        m.write32(o, 0)
    assert [m.read32(o) for o in offsets] == before
    assert errcode(m) == 0


# == RIS selection (IHI0099 PART_SEL.RIS, MON_SEL.RIS) =========================================


def test_part_sel_ris_selects_id_registers(two_ris: Msc) -> None:
    m = two_ris
    sel(m, 0, ris=0)
    assert m.read32(IDR) == 31 | 3 << 16 | HAS_CCAP | HAS_CPOR | EXT | HAS_MSMON
    assert m.read32(IDR_HI) == HAS_RIS | HAS_EXTD_ESR | HAS_ESR | ris_max(1)
    assert m.read32(CPOR_IDR) == 16
    assert m.read32(CCAP_IDR) == 8
    assert m.read32(MBW_IDR) == 0
    assert m.read32(MSMON_IDR) == 1 << 16
    assert m.read32(CSUMON_IDR) == 4
    assert m.read32(MBWUMON_IDR) == 0
    sel(m, 0, ris=1)
    assert m.read32(IDR) == 15 | 1 << 16 | HAS_MBW | EXT | HAS_MSMON
    assert m.read32(IDR_HI) == HAS_RIS | HAS_EXTD_ESR | HAS_ESR | ris_max(1)
    assert m.read32(CPOR_IDR) == 0
    assert m.read32(CCAP_IDR) == 0
    assert m.read32(MBW_IDR) == 8 | 1 << 11
    assert m.read32(MSMON_IDR) == 1 << 17
    assert m.read32(CSUMON_IDR) == 0
    assert m.read32(MBWUMON_IDR) == 2
    assert errcode(m) == 0


@pytest.mark.parametrize("ris", [2, 7, 15])
def test_undefined_ris_id_registers_read_zero_without_error(two_ris: Msc, ris: int) -> None:
    m = two_ris
    sel(m, 0, ris=ris)
    assert m.read32(PART_SEL) == ris << 24
    for off in (IDR, IDR_HI, IMPL_IDR, CPOR_IDR, CCAP_IDR, MBW_IDR, PRI_IDR, MSMON_IDR,
                CSUMON_IDR, MBWUMON_IDR):  # fmt: skip
        assert m.read32(off) == 0, hex(off)
    assert errcode(m) == 0
    assert m.read32(ESR_HI) == 0


@pytest.mark.parametrize("offset", [CPBM, CMAX, MBW_MAX])
def test_cfg_write_with_undefined_ris_is_ignored_error_8(two_ris: Msc, offset: int) -> None:
    m = two_ris
    before = snapshot(m)
    sel(m, 3, ris=2)
    m.write32(offset, 0)
    assert same(before, snapshot(m))
    assert esr(m) == {"PARTID_MON": 3, "PMG": 0, "ERRCODE": 8, "OVRWR": 0, "RIS": 2}
    clear_esr(m)
    assert m.read32(offset) == 0  # RAZ, and the read is an error too
    assert errcode(m) == 8


def test_cfg_control_missing_in_selected_ris_error_9(two_ris: Msc) -> None:
    m = two_ris
    before = snapshot(m)
    sel(m, 1, ris=1)  # RIS 1 has no cache portions
    m.write32(CPBM, 0)
    assert same(before, snapshot(m))
    assert esr(m) == {"PARTID_MON": 1, "PMG": 0, "ERRCODE": 9, "OVRWR": 0, "RIS": 1}
    clear_esr(m)
    sel(m, 1, ris=0)  # RIS 0 has no bandwidth controls
    assert m.read32(MBW_MAX) == 0
    assert esr(m)["ERRCODE"] == 9 and esr(m)["RIS"] == 0


def test_cfg_reaches_the_selected_ris(two_ris: Msc) -> None:
    m = two_ris
    sel(m, 20, ris=0)  # RIS 0 has PARTID_MAX 31
    m.write32(CPBM, 0x00F0)
    sel(m, 9, ris=1)
    m.write32(MBW_MAX, 0x4000)
    assert m.ris[0].cfg["MPAMCFG_CPBM"][20, 0] == 0x00F0
    assert m.ris[1].cfg["MPAMCFG_MBW_MAX"][9, 0] == 0x4000
    sel(m, 20, ris=0)
    assert m.read32(CPBM) == 0x00F0
    assert errcode(m) == 0


def test_monitor_with_undefined_ris_error_10(two_ris: Msc) -> None:
    m = two_ris
    msel(m, 0, ris=2)
    assert m.read32(CSU_CTL) == 0
    assert esr(m) == {"PARTID_MON": 0, "PMG": 0, "ERRCODE": 10, "OVRWR": 0, "RIS": 2}
    clear_esr(m)
    msel(m, 1, ris=9)
    m.write32(MBWU_FLT, 0)
    assert esr(m)["ERRCODE"] == 10 and esr(m)["RIS"] == 9 and esr(m)["PARTID_MON"] == 1


def test_monitor_type_missing_in_ris_error_11(two_ris: Msc) -> None:
    m = two_ris
    msel(m, 0, ris=1)  # RIS 1 has MBWU monitors only
    assert m.read32(CSU_CTL) == 0
    assert esr(m)["ERRCODE"] == 11 and esr(m)["RIS"] == 1
    clear_esr(m)
    msel(m, 0, ris=0)  # RIS 0 has CSU monitors only
    m.write32(MBWU_CTL, EN)
    assert esr(m)["ERRCODE"] == 11 and esr(m)["RIS"] == 0
    clear_esr(m)
    msel(m, 1, ris=1)
    m.write32(MBWU_CTL, EN)
    assert errcode(m) == 0
    assert m.read32(MBWU_CTL) == EN | 0x42


@pytest.mark.parametrize("ris", [0, 1, 2, 15])
def test_ris_independent_registers(two_ris: Msc, ris: int) -> None:
    m = two_ris
    m.write32(ECR, 1)
    m.inject_error(ErrorCode.REQ_PMG_RANGE, 5, 3)
    sel(m, 0, ris=ris)
    msel(m, 0, ris=ris)
    assert m.read32(AIDR) == 0x11
    assert m.read32(IIDR) == 0x43B
    assert m.read32(ECR) == 1
    assert m.read32(ESR) == 4 << 24 | 3 << 16 | 5
    assert m.read32(ESR_HI) == 0


def test_ris_fields_are_res0_without_ris(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}, "msmon": {"csu": {"num_mon": 2}}}])
    m.write32(PART_SEL, 3 << 24 | 2)
    assert m.read32(PART_SEL) == 2
    m.write32(MON_SEL, 5 << 24 | 1)
    assert m.read32(MON_SEL) == 1
    m.write32(CPBM, 0x0F)
    assert m.ris[0].cfg["MPAMCFG_CPBM"][2, 0] == 0x0F
    assert errcode(m) == 0


# == out-of-range PARTID_SEL (IHI0099 error 1) =================================================


@pytest.mark.parametrize("offset", [*CFG_OFFSETS, CPBM + 4, MBW_PBM + 4])
def test_out_of_range_partid_sel_changes_nothing(new_msc: MakeMsc, offset: int) -> None:
    m = new_msc([{**FULL, "cpor": {"cpbm_wd": 64}, "mbw": {**MEM["mbw"], "bwpbm_wd": 40}}])
    before = snapshot(m)
    sel(m, 16)  # PARTID_MAX + 1
    m.write32(offset, 0)
    m.write32(offset, 0xFFFF_FFFF)
    assert same(before, snapshot(m))
    e = esr(m)
    assert e["ERRCODE"] == 1 and e["PARTID_MON"] == 16 and e["OVRWR"] == 1
    clear_esr(m)
    assert m.read32(offset) == 0
    assert esr(m)["ERRCODE"] == 1


def test_out_of_range_partid_sel_per_ris(two_ris: Msc) -> None:
    m = two_ris
    before = snapshot(m)
    sel(m, 16, ris=1)  # RIS 1: PARTID_MAX 15
    m.write32(MBW_MAX, 0)
    assert esr(m) == {"PARTID_MON": 16, "PMG": 0, "ERRCODE": 1, "OVRWR": 0, "RIS": 1}
    clear_esr(m)
    sel(m, 32, ris=0)  # RIS 0: PARTID_MAX 31
    m.write32(CPBM, 0)
    assert esr(m) == {"PARTID_MON": 32, "PMG": 0, "ERRCODE": 1, "OVRWR": 0, "RIS": 0}
    assert same(before, snapshot(m))


def test_max_partid_sel_is_in_range(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    sel(m, 15)
    m.write32(CPBM, 0x3)
    assert m.read32(CPBM) == 0x3
    assert errcode(m) == 0


# == ESR, ECR and the error interrupt (IHI0099) ================================================


def test_first_error_has_no_ovrwr_second_sets_it(two_ris: Msc) -> None:
    m = two_ris
    sel(m, 40, ris=0)
    m.read32(CPBM)
    assert esr(m) == {"PARTID_MON": 40, "PMG": 0, "ERRCODE": 1, "OVRWR": 0, "RIS": 0}
    sel(m, 2, ris=4)
    m.read32(CPBM)
    assert esr(m) == {"PARTID_MON": 2, "PMG": 0, "ERRCODE": 8, "OVRWR": 1, "RIS": 4}


def test_clearing_esr(two_ris: Msc) -> None:
    m = two_ris
    sel(m, 2, ris=4)
    m.read32(CPBM)
    m.read32(CPBM)
    assert m.read32(ESR) != 0 and m.read32(ESR_HI) == 4
    m.write32(ESR_HI, 0)  # upper half first
    assert m.read32(ESR_HI) == 0
    assert m.read32(ESR) == 1 << 31 | 8 << 24 | 2
    m.write32(ESR, 0)
    assert (m.read32(ESR), m.read32(ESR_HI)) == (0, 0)
    m.read32(CPBM)
    assert esr(m)["OVRWR"] == 0  # a cleared ESR starts over


def test_esr_upper_half_raz_without_extd_esr(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    m.write32(ESR_HI, 0xF)
    assert m.read32(ESR_HI) == 0
    sel(m, 99)
    m.read32(CPBM)
    assert m.read32(ESR_HI) == 0
    assert esr(m)["ERRCODE"] == 1


def test_no_esr_records_nothing(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}], has_esr=False)
    sel(m, 99)
    m.read32(CPBM)
    assert m.read32(ESR) == 0
    m.write32(ECR, 1)
    assert m.read32(ECR) == 0
    assert not m.irq.line(100).asserted


def test_ecr_only_inten_is_writable(new_msc: MakeMsc) -> None:
    m = new_msc()
    assert m.read32(ECR) == 0  # INTEN resets to 0
    m.write32(ECR, 0xFFFF_FFFF)
    assert m.read32(ECR) == 1


def test_level_error_irq_follows_inten_and_errcode(new_msc: MakeMsc) -> None:
    """IHI0099: the level line equals ECR.INTEN and ESR.ERRCODE != 0, at every step."""
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    line = m.irq.line(100)
    assert line.mode is AccessMode.LEVEL

    def check() -> None:
        assert line.asserted == (bool(m.read32(ECR) & 1) and errcode(m) != 0)

    check()
    sel(m, 99)
    m.read32(CPBM)  # error with INTEN=0
    check()
    assert not line.asserted and line.count == 0
    m.write32(ECR, 1)
    check()
    assert line.asserted and line.count == 1
    m.read32(CPBM)  # a second error keeps the line up
    check()
    m.write32(ECR, 0)
    check()
    assert not line.asserted
    m.write32(ECR, 1)
    check()
    clear_esr(m)
    check()
    assert not line.asserted and not line.pending
    m.read32(CPBM)
    check()
    assert line.asserted and line.count == 3


def test_edge_error_irq_counts_pulses(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}], error_interrupt={"gsiv": 100, "mode": "edge"})
    line = m.irq.line(100)
    assert line.mode is AccessMode.EDGE
    m.write32(ECR, 1)
    sel(m, 99)
    for _ in range(3):
        m.read32(CPBM)
    assert line.count == 3
    assert not line.asserted


def test_no_interrupt_when_inten_clear(new_msc: MakeMsc) -> None:
    for mode in ("level", "edge"):
        m = new_msc([{"cpor": {"cpbm_wd": 8}}], error_interrupt={"gsiv": 100, "mode": mode})
        sel(m, 99)
        m.read32(CPBM)
        m.read32(CPBM)
        assert errcode(m) == 1
        assert m.irq.line(100).count == 0 and not m.irq.line(100).asserted


def test_error_msi(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}], has_err_msi=True, error_interrupt=None)
    m.write32(ERR_MSI_ADDR_L, 0x1234_5677)  # ADDR[31:2]; bits [1:0] RES0
    m.write32(ERR_MSI_ADDR_H, 0xFFF0_0ABC)  # bits [19:0] only
    m.write32(ERR_MSI_DATA, 0xDEAD_BEEF)
    m.write32(ERR_MSI_MPAM, 0xFF02_0007)  # PMG 2, PARTID 7; bits [31:24] RES0
    assert m.read32(ERR_MSI_ADDR_L) == 0x1234_5674
    assert m.read32(ERR_MSI_ADDR_H) == 0x0_0ABC
    assert m.read32(ERR_MSI_MPAM) == 0x0002_0007
    m.write32(ECR, 1)
    sel(m, 99)
    m.read32(CPBM)
    assert m.irq.msis == []  # MSIEN resets to 0
    m.write32(ERR_MSI_ATTR, 1)
    m.read32(CPBM)
    assert len(m.irq.msis) == 1
    msi = m.irq.msis[0]
    assert (msi.address, msi.data, msi.partid, msi.pmg) == (0xABC_1234_5674, 0xDEAD_BEEF, 7, 2)
    m.write32(ECR, 0)
    m.read32(CPBM)
    assert len(m.irq.msis) == 1


def test_err_msi_registers_absent_without_has_err_msi(new_msc: MakeMsc) -> None:
    m = new_msc()
    for off in (ERR_MSI_MPAM, ERR_MSI_ADDR_L, ERR_MSI_ADDR_H, ERR_MSI_DATA, ERR_MSI_ATTR):
        m.write32(off, 0xFFFF_FFFF)
        assert m.read32(off) == 0


def test_inject_error(two_ris: Msc) -> None:
    m = two_ris
    m.inject_error(ErrorCode.MSMONCFG_ID_RANGE, 0x1234, 0x56, ris=1)
    assert esr(m) == {"PARTID_MON": 0x1234, "PMG": 0x56, "ERRCODE": 3, "OVRWR": 0, "RIS": 1}


# == PARTID narrowing (IHI0099 HAS_PARTID_NRW) =================================================


@pytest.fixture
def nrw(new_msc: MakeMsc) -> Msc:
    return new_msc([{"cpor": {"cpbm_wd": 16}, "ccap": {"cmax_wd": 8}}], intpartid_max=7)


def test_narrowing_id_and_storage(nrw: Msc) -> None:
    assert nrw.read32(IDR) & HAS_NRW
    assert nrw.read32(NRW_IDR) == 7
    assert nrw.ris[0].cfg["MPAMCFG_CPBM"].shape[0] == 8
    for req in range(16):  # reqPARTID -> intPARTID 0 at reset
        sel(nrw, req)
        assert nrw.read32(INTPARTID) == INTERNAL | 0
        assert nrw.settings_row(req) == 0
    assert errcode(nrw) == 0


def test_intpartid_write_without_internal_error_6(nrw: Msc) -> None:
    sel(nrw, 5)
    nrw.write32(INTPARTID, 2)
    assert esr(nrw)["ERRCODE"] == 6
    assert nrw.settings_row(5) == 0


def test_intpartid_write_above_intpartid_max_error_6(nrw: Msc) -> None:
    sel(nrw, 5)
    nrw.write32(INTPARTID, INTERNAL | 8)
    assert esr(nrw)["ERRCODE"] == 6
    assert nrw.settings_row(5) == 0


@pytest.mark.parametrize("write", [False, True])
def test_intpartid_access_with_internal_error_7(nrw: Msc, write: bool) -> None:
    sel(nrw, 5, internal=True)
    if write:
        nrw.write32(INTPARTID, INTERNAL | 2)
    else:
        nrw.read32(INTPARTID)
    assert esr(nrw)["ERRCODE"] == 7
    assert nrw.settings_row(5) == 0


@pytest.mark.parametrize("offset", [CPBM, CMAX])
def test_control_access_without_internal_error_6(nrw: Msc, offset: int) -> None:
    before = snapshot(nrw)
    sel(nrw, 2)
    nrw.write32(offset, 0)
    assert same(before, snapshot(nrw))
    assert esr(nrw)["ERRCODE"] == 6


def test_control_access_above_intpartid_max_error_1(nrw: Msc) -> None:
    before = snapshot(nrw)
    sel(nrw, 8, internal=True)
    nrw.write32(CPBM, 0)
    assert same(before, snapshot(nrw))
    assert esr(nrw)["ERRCODE"] == 1 and esr(nrw)["PARTID_MON"] == 8


def test_narrowed_settings_apply_to_request_partid(nrw: Msc) -> None:
    """Narrowing: after INTPARTID[req 5] = 2, intPARTID 2's settings are what PARTID 5 uses."""
    sel(nrw, 5)
    nrw.write32(INTPARTID, INTERNAL | 2)
    assert nrw.read32(INTPARTID) == INTERNAL | 2
    sel(nrw, 2, internal=True)
    nrw.write32(CPBM, 0x00F0)
    nrw.write32(CMAX, 0x4000)
    assert errcode(nrw) == 0
    row = nrw.settings_row(5)
    assert row == 2
    assert nrw.ris[0].cfg["MPAMCFG_CPBM"][row, 0] == 0x00F0
    assert nrw.ris[0].cfg["MPAMCFG_CMAX"][row, 0] == 0x4000
    assert nrw.settings_row(6) == 0
    assert nrw.ris[0].cfg["MPAMCFG_CPBM"][nrw.settings_row(6), 0] == 0xFFFF


def test_part_sel_internal_is_res0_without_narrowing(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    m.write32(PART_SEL, INTERNAL | 3)
    assert m.read32(PART_SEL) == 3
    m.write32(INTPARTID, INTERNAL | 1)
    assert m.read32(INTPARTID) == 0
    assert m.read32(NRW_IDR) == 0


# == fixed-point fraction controls (IHI0099) ===================================================


def linux_percent_to_reg(percent: int, wd: int) -> int:
    """mpam_resctrl.c: f = percent * 2^wd / 100 (the KUnit vectors show it rounds down),
    at least 1, minus 1, shifted up."""
    f = max(percent * (1 << wd) // 100, 1) - 1
    return f << (16 - wd)


def linux_reg_to_percent(value: int, wd: int) -> int:
    return round(((value >> (16 - wd)) + 1) * 100 / (1 << wd))


def test_mbw_max_bwa_wd_8(new_msc: MakeMsc) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_max": True}}])
    sel(m, 1)
    m.write32(MBW_MAX, 0xFFFF)
    assert m.read32(MBW_MAX) == 0xFF00
    assert linux_percent_to_reg(50, 8) == 0x7F00
    m.write32(MBW_MAX, 0x7F00)
    assert m.read32(MBW_MAX) == 0x7F00
    assert linux_reg_to_percent(m.read32(MBW_MAX), 8) == 50


# KUnit vectors (drivers/resctrl/test_mpam_resctrl.c): percent -> 8- and 12-bit field values.
KUNIT = [(1, 0x1, 0x27), (25, 0x3F, 0x3FF), (33, 0x53, 0x546), (35, 0x58, 0x598),
         (45, 0x72, 0x732), (50, 0x7F, 0x7FF), (52, 0x84, 0x850), (55, 0x8B, 0x8CB),
         (58, 0x93, 0x946), (75, 0xBF, 0xBFF), (80, 0xCB, 0xCCB), (88, 0xE0, 0xE13),
         (95, 0xF2, 0xF32), (100, 0xFF, 0xFFF)]  # fmt: skip


@pytest.mark.parametrize(("percent", "f8", "f12"), KUNIT)
def test_linux_percent_round_trip(new_msc: MakeMsc, percent: int, f8: int, f12: int) -> None:
    for wd, f in ((8, f8), (12, f12)):
        m = new_msc([{"mbw": {"bwa_wd": wd, "has_max": True, "has_min": True}}])
        value = linux_percent_to_reg(percent, wd)
        assert value == f << (16 - wd)
        sel(m, 3)
        # the truncated low bits are RAZ/WI
        m.write32(MBW_MAX, value | ((1 << (16 - wd)) - 1))
        assert m.read32(MBW_MAX) == value
        assert linux_reg_to_percent(m.read32(MBW_MAX), wd) == percent


@pytest.mark.parametrize(
    ("ccap", "offset", "written", "read"),
    [
        ({"cmax_wd": 4}, CMAX, 0xFFFF, 0xF000),
        ({"cmax_wd": 4}, CMAX, 0x1FFF, 0x1000),
        ({"cmax_wd": 16}, CMAX, 0x1234, 0x1234),
        ({"cmax_wd": 4}, CMAX, 0x8000_FFFF, 0xF000),  # SOFTLIM RAZ/WI without HAS_CMAX_SOFTLIM
        ({"cmax_wd": 4, "has_cmax_softlim": True}, CMAX, 0x8000_FFFF, 0x8000_F000),
        ({"cmax_wd": 4, "has_cmax_softlim": True}, CMAX, 0x7FFF_0000, 0),
        ({"cmax_wd": 6, "has_cmin": True}, CMIN, 0xFFFF_FFFF, 0xFC00),
        ({"cmax_wd": 8, "has_cassoc": True, "cassoc_wd": 5}, CASSOC, 0xFFFF_FFFF, 0xF800),
        ({"cmax_wd": 8, "has_cassoc": True, "cassoc_wd": 1}, CASSOC, 0x7FFF, 0),
    ],
)
def test_ccap_fractions(new_msc: MakeMsc, ccap: dict[str, Any], offset: int, written: int,
                        read: int) -> None:  # fmt: skip
    m = new_msc([{"ccap": ccap}])
    sel(m, 2)
    m.write32(offset, written)
    assert m.read32(offset) == read
    assert errcode(m) == 0


def test_no_cmax_makes_cmax_absent(new_msc: MakeMsc) -> None:
    m = new_msc([{"ccap": {"cmax_wd": 8, "no_cmax": True, "has_cmin": True}}])
    m.write32(CMAX, 0xFFFF)
    assert m.read32(CMAX) == 0
    m.write32(CMIN, 0xFFFF)
    assert m.read32(CMIN) == 0xFF00
    assert "MPAMCFG_CMAX" not in m.ris[0].cfg


@pytest.mark.parametrize(
    ("max_lim", "written", "read"),
    [
        ("both", 0x8000_FFFF, 0x8000_FF00),
        ("both", 0x0000_1234, 0x0000_1200),
        ("soft", 0x8000_FFFF, 0x0000_FF00),  # HARDLIM RAZ/WI
        ("soft", 0x0000_0000, 0x0000_0000),
        ("hard", 0x8000_FFFF, 0x8000_FF00),  # HARDLIM RAO/WI
        ("hard", 0x0000_0000, 0x8000_0000),
    ],
)
def test_mbw_max_hardlim_by_max_lim(new_msc: MakeMsc, max_lim: str, written: int,
                                    read: int) -> None:  # fmt: skip
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_max": True, "max_lim": max_lim}}])
    sel(m, 1)
    m.write32(MBW_MAX, written)
    assert m.read32(MBW_MAX) == read


def test_mbw_min(new_msc: MakeMsc) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 5, "has_min": True}}])
    sel(m, 1)
    m.write32(MBW_MIN, 0xFFFF_FFFF)
    assert m.read32(MBW_MIN) == 0xF800
    m.write32(MBW_MIN, 0)
    assert m.read32(MBW_MIN) == 0


@pytest.mark.parametrize("bwa_wd", [1, 4, 8, 16])
def test_mbw_prop_stridem1_width(new_msc: MakeMsc, bwa_wd: int) -> None:
    m = new_msc([{"mbw": {"bwa_wd": bwa_wd, "has_prop": True}}])
    sel(m, 1)
    m.write32(MBW_PROP, 0xFFFF_FFFF)
    assert m.read32(MBW_PROP) == 1 << 31 | ((1 << bwa_wd) - 1)
    m.write32(MBW_PROP, 0x0000_0001)
    assert m.read32(MBW_PROP) == 1


@pytest.mark.parametrize(
    ("pri", "read"),
    [
        ({"has_intpri": True, "intpri_wd": 3, "has_dspri": True, "dspri_wd": 5}, 0x001F_0007),
        ({"has_intpri": True, "intpri_wd": 16}, 0x0000_FFFF),
        ({"has_dspri": True, "dspri_wd": 16}, 0xFFFF_0000),
        ({"has_intpri": True, "intpri_wd": 1, "has_dspri": True, "dspri_wd": 1}, 0x0001_0001),
    ],
)
def test_pri_widths(new_msc: MakeMsc, pri: dict[str, Any], read: int) -> None:
    m = new_msc([{"pri": pri}])
    sel(m, 1)
    m.write32(PRI, 0xFFFF_FFFF)
    assert m.read32(PRI) == read


def test_linux_pri_reset_value_extra_bit_is_ignored(new_msc: MakeMsc) -> None:
    """With 0_IS_LOW Linux's PARTID reset (mpam_devices.c) writes GENMASK(wd, 0): wd + 1 bits."""
    m = new_msc([{"pri": {"has_intpri": True, "intpri_0_is_low": True, "intpri_wd": 4}}])
    sel(m, 1)
    m.write32(PRI, 0x1F)
    assert m.read32(PRI) == 0xF


def test_winwd_writable_with_windwr(new_msc: MakeMsc) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_max": True, "windwr": True, "winwd_us": 1000.0}}])
    sel(m, 1)
    assert m.read32(MBW_WINWD) == 1000 << 8  # US_INT 1000, US_FRAC 0
    m.write32(MBW_WINWD, 0xFF12_3456)  # bits [31:24] RES0
    assert m.read32(MBW_WINWD) == 0x12_3456


def test_winwd_not_writable_without_windwr(new_msc: MakeMsc) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_max": True, "winwd_us": 1000.0}}])
    sel(m, 1)
    before = m.read32(MBW_WINWD)
    m.write32(MBW_WINWD, 0x12_3456)
    assert m.read32(MBW_WINWD) == before


def test_winwd_read_only_reads_the_window(new_msc: MakeMsc) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_max": True, "winwd_us": 1000.5}}])
    sel(m, 1)
    assert m.read32(MBW_WINWD) == 1000 << 8 | 0x80  # US_INT.US_FRAC = 1000.5 us


# == portion bitmaps and reset values (IHI0099 Table 3-8) ======================================


def test_cpbm_wd_33(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 33}}])
    sel(m, 0)
    assert (m.read32(CPBM), m.read32(CPBM + 4)) == (0xFFFF_FFFF, 0x1)  # reset all ones
    m.write32(CPBM, 0)
    m.write32(CPBM + 4, 0xFFFF_FFFE)  # bits 1-31 of word 1 are RES0
    assert (m.read32(CPBM), m.read32(CPBM + 4)) == (0, 0)
    m.write32(CPBM, 0xFFFF_FFFF)
    m.write32(CPBM + 4, 0xFFFF_FFFF)
    assert (m.read32(CPBM), m.read32(CPBM + 4)) == (0xFFFF_FFFF, 0x1)
    m.write32(CPBM + 8, 0xFFFF_FFFF)  # beyond the width: RAZ/WI
    assert m.read32(CPBM + 8) == 0
    assert m.read32(CPBM + 0xFFC) == 0
    assert errcode(m) == 0


@pytest.mark.parametrize(
    ("wd", "last_word", "last_mask"),
    [(1, 0, 0x1), (16, 0, 0xFFFF), (31, 0, 0x7FFF_FFFF), (32, 0, 0xFFFF_FFFF),
     (33, 1, 0x1), (100, 3, 0xF), (32768, 1023, 0xFFFF_FFFF)],
)  # fmt: skip
def test_cpbm_widths(new_msc: MakeMsc, wd: int, last_word: int, last_mask: int) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": wd}}])
    for partid in (0, 15):
        sel(m, partid)
        for w in range(last_word):
            assert m.read32(CPBM + 4 * w) == 0xFFFF_FFFF
        last = CPBM + 4 * last_word
        assert m.read32(last) == last_mask
        m.write32(last, 0)
        assert m.read32(last) == 0
        m.write32(last, 0xFFFF_FFFF)
        assert m.read32(last) == last_mask
        if last_word < 1023:
            m.write32(last + 4, 0xFFFF_FFFF)
            assert m.read32(last + 4) == 0
    if wd == 32768:
        assert last == 0x1FFC
    assert errcode(m) == 0


@pytest.mark.parametrize(
    ("wd", "last_word", "last_mask"),
    [(1, 0, 0x1), (16, 0, 0xFFFF), (32, 0, 0xFFFF_FFFF), (33, 1, 0x1), (4096, 127, 0xFFFF_FFFF)],
)
def test_mbw_pbm_widths(new_msc: MakeMsc, wd: int, last_word: int, last_mask: int) -> None:
    m = new_msc([{"mbw": {"bwa_wd": 8, "has_pbm": True, "bwpbm_wd": wd}}])
    sel(m, 7)
    for w in range(last_word):
        assert m.read32(MBW_PBM + 4 * w) == 0xFFFF_FFFF
    last = MBW_PBM + 4 * last_word
    assert m.read32(last) == last_mask
    m.write32(last, 0xAAAA_AAAA)
    assert m.read32(last) == 0xAAAA_AAAA & last_mask
    if last_word < 127:
        m.write32(last + 4, 0xFFFF_FFFF)
        assert m.read32(last + 4) == 0
    else:
        assert last == 0x21FC
        m.write32(0x2200, 0xFFFF_FFFF)  # the first offset past the MBW_PBM array
        assert m.read32(0x2200) == 0
    assert errcode(m) == 0


def test_table_3_8_reset_values(new_msc: MakeMsc) -> None:
    m = new_msc([{
        "cpor": {"cpbm_wd": 40},
        "ccap": {"cmax_wd": 8, "has_cmin": True, "has_cassoc": True, "cassoc_wd": 4,
                 "has_cmax_softlim": True},
        "mbw": {"bwa_wd": 10, "has_min": True, "has_max": True, "has_pbm": True,
                "bwpbm_wd": 20, "has_prop": True},
        "pri": {"has_intpri": True, "intpri_wd": 4},
    }], has_endis=True)  # fmt: skip
    for partid in (0, 15):  # PARTID 0 by the spec; the model resets every PARTID the same
        sel(m, partid)
        assert m.read32(CPBM) == 0xFFFF_FFFF
        assert m.read32(CPBM + 4) == 0xFF
        assert m.read32(CMAX) == 0xFF00  # 0xFFFF truncated, SOFTLIM 0
        assert m.read32(CMIN) == 0
        assert m.read32(CASSOC) == 0xF000
        assert m.read32(MBW_PBM) == 0xF_FFFF
        assert m.read32(MBW_MAX) == 0xFFC0  # HARDLIM 0
        assert m.read32(MBW_MIN) == 0xFFC0
        assert m.read32(MBW_PROP) == 0  # EN 0
        assert m.read32(PRI) == 0
    sel(m, 0)
    assert m.read32(EN_FLAGS) & 1 == 1  # PARTID 0 enabled
    assert errcode(m) == 0


def test_reset_restores_settings(new_msc: MakeMsc) -> None:
    m = new_msc([FULL])
    sel(m, 3)
    for off in CFG_OFFSETS:
        m.write32(off, 0)
    m.write32(ECR, 1)
    before = snapshot(m)
    m.reset()
    after = snapshot(m)
    assert not same(before, after)
    assert m.read32(PART_SEL) == 0 and m.read32(ECR) == 0
    sel(m, 3)
    assert m.read32(CPBM) == 0xFFFF


# == absent registers, reserved offsets, access errors ===========================================


@pytest.mark.parametrize(
    "offset",
    [MBW_MIN, MBW_MAX, MBW_WINWD, MBW_PBM, MBW_PROP, PRI, INTPARTID, CFG_EN, CFG_DIS, EN_FLAGS,
     MON_SEL, CAPT_EVNT, CSU_CTL, MBWU_CTL, MBWU, MBWU_L, OFLOW_SR, 0x3000, 0x3008, 0x3200,
     0x0008, 0x00DC, 0x08DC],
)  # fmt: skip
def test_absent_registers_raz_wi_on_cache_only_msc(new_msc: MakeMsc, offset: int) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 16}, "ccap": {"cmax_wd": 8}}])
    before = snapshot(m)
    sel(m, 1)
    m.write32(offset, 0xFFFF_FFFF)
    assert m.read32(offset) == 0
    assert same(before, snapshot(m))
    assert errcode(m) == 0


@pytest.mark.parametrize("offset", [0x000C, 0x0104, 0x0120, 0x0700, 0x0870, 0x2FFC, 0x3FFC])
def test_reserved_offsets_raz_wi(new_msc: MakeMsc, offset: int) -> None:
    m = new_msc([FULL])
    before = snapshot(m)
    m.write32(offset, 0xFFFF_FFFF)
    assert m.read32(offset) == 0
    assert same(before, snapshot(m))
    assert errcode(m) == 0


@pytest.mark.parametrize("offset", [0x0001, 0x0021, 0x0022, 0x0023, 0x0101, 0x0102, 0x1001,
                                    0x3FFD, 0x3FFF])  # fmt: skip
def test_misaligned_offsets_raz_wi(new_msc: MakeMsc, offset: int) -> None:
    m = new_msc([FULL])
    sel(m, 2)
    before = snapshot(m)
    m.write32(offset, 0xFFFF_FFFF)
    assert m.read32(offset) == 0
    assert m.read32(PART_SEL) == 2
    assert same(before, snapshot(m))
    assert errcode(m) == 0


@pytest.mark.parametrize(("size", "offset"), [(0x4000, 0x4000), (0x4000, 0x10000),
                                              (0x2000, 0x2000), (0x4000, -4), (0x1000, 0x1000)])  # fmt: skip
def test_offset_outside_page_raises(new_msc: MakeMsc, size: int, offset: int) -> None:
    m = new_msc(size=size)
    with pytest.raises(MmioError, match="outside"):
        m.read32(offset)
    with pytest.raises(MmioError, match="outside"):
        m.write32(offset, 0)


@pytest.mark.parametrize("value", [-1, 1 << 32, 0x1_0000_0000_0000])
def test_value_outside_32_bits_raises(new_msc: MakeMsc, value: int) -> None:
    m = new_msc([FULL])
    before = snapshot(m)
    with pytest.raises(ValueError):
        m.write32(CPBM, value)
    assert same(before, snapshot(m))


def test_page_too_small_for_the_bitmap(new_msc: MakeMsc) -> None:
    # refused when the platform is loaded, before any hardware is built
    with pytest.raises(PlatformError, match="cannot hold MPAMCFG_CPBM of RIS 0"):
        new_msc([{"cpor": {"cpbm_wd": 32768}}], size=0x1000)
    m = new_msc([{"cpor": {"cpbm_wd": 32768}}], size=0x2000)
    sel(m, 0)
    assert m.read32(0x1FFC) == 0xFFFF_FFFF


# == monitors (IHI0099 MSMON_*) ================================================================


def setup_mbwu(m: Msc, mon: int, flt: int = 0, ctl: int = 0, ris: int = 0) -> None:
    """Linux's sequence: FLT, CTL without EN, CTL with EN, zero the counter."""
    msel(m, mon, ris)
    m.write32(MBWU_FLT, flt)
    m.write32(MBWU_CTL, ctl)
    m.write32(MBWU_CTL, ctl | EN)
    m.write32(MBWU, 0)


def mbwu_value(m: Msc, mon: int) -> int:
    msel(m, mon)
    return m.read32(MBWU)


def test_mbwu_counts_matching_bytes(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    setup_mbwu(m, 0, flt=3 | 1 << 16, ctl=MATCH_PARTID | MATCH_PMG)
    setup_mbwu(m, 1, flt=3, ctl=MATCH_PARTID)
    setup_mbwu(m, 2, flt=3 | 1 << 16 | RWBW_READS, ctl=MATCH_PARTID | MATCH_PMG)
    setup_mbwu(m, 3, flt=3 | 1 << 16 | RWBW_WRITES, ctl=MATCH_PARTID | MATCH_PMG)
    t = traffic(m)
    t[3, 1, READ] = 1000
    t[3, 1, WRITE] = 500
    t[3, 0, READ] = 200
    t[4, 1, READ] = 7
    m.ris[0].count_mbwu(t)
    assert [mbwu_value(m, i) for i in range(4)] == [1500, 1700, 1000, 500]
    setup_mbwu(m, 0)  # no match bits: everything
    m.ris[0].count_mbwu(t)
    assert mbwu_value(m, 0) == 1707
    assert mbwu_value(m, 1) == 3400  # counting continues from where it was
    assert errcode(m) == 0


def test_mbwu_disabled_monitor_does_not_count(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    msel(m, 0)
    m.write32(MBWU_CTL, 0)
    count(m, 1000)
    assert mbwu_value(m, 0) == 0


def test_mbwu_pmg_only_match(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    setup_mbwu(m, 0, flt=1 << 16, ctl=MATCH_PMG)
    t = traffic(m)
    t[2, 1, READ], t[5, 1, WRITE], t[5, 0, WRITE] = 10, 20, 40
    m.ris[0].count_mbwu(t)
    assert mbwu_value(m, 0) == 30


def test_rwbw_is_res0_without_has_rwbw(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_rwbw=False)])
    setup_mbwu(m, 0, flt=RWBW_READS)
    msel(m, 0)
    assert m.read32(MBWU_FLT) == 0
    count(m, 100, rw=WRITE)
    assert mbwu_value(m, 0) == 100


@pytest.mark.parametrize("scale", [0, 4, 10])
def test_mbwu_scaled_by_sclen(new_msc: MakeMsc, scale: int) -> None:
    m = new_msc([mbwu_feats(scale=scale, has_long=True)])
    setup_mbwu(m, 0, ctl=SCLEN)
    setup_mbwu(m, 1)
    msel(m, 0)
    m.write32(MBWU_L, 0)
    m.write32(MBWU_L + 4, 0)
    count(m, 100_000)
    count(m, 8)
    assert mbwu_value(m, 0) == 100_008 >> scale
    assert mbwu_value(m, 1) == 100_008  # SCLEN clear: bytes
    msel(m, 0)
    assert read64(m, MBWU_L) == 100_008  # long counters are never scaled


def test_mbwu_software_nrdy(new_msc: MakeMsc) -> None:
    """IHI0099: a software-managed NRDY is plain storage (mpam_devices.c then ignores it)."""
    m = new_msc([mbwu_feats()])
    setup_mbwu(m, 0)
    count(m, 64)
    m.write32(MBWU, NRDY | 64)
    assert m.read32(MBWU) == NRDY | 64
    count(m, 64)
    assert m.read32(MBWU) == NRDY | 128
    m.write32(MBWU, 128)
    assert m.read32(MBWU) == 128


def test_mbwu_capture_local_event(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_long=True)])
    setup_mbwu(m, 0, ctl=capt_evnt(7))
    setup_mbwu(m, 1, ctl=capt_evnt(1))  # listens to another event
    count(m, 4321)
    m.write32(CAPT_EVNT, 1)  # NOW
    assert m.read32(CAPT_EVNT) == 0
    msel(m, 0)
    assert m.read32(MBWU_CAPTURE) == 4321
    assert read64(m, MBWU_L_CAPTURE) == 4321
    assert m.read32(MBWU) == 4321  # no CAPT_RESET: the live value stays
    msel(m, 1)
    assert m.read32(MBWU_CAPTURE) == 0
    count(m, 9)
    msel(m, 0)
    assert m.read32(MBWU) == 4330 and m.read32(MBWU_CAPTURE) == 4321
    m.capture_event(1)
    msel(m, 1)
    assert m.read32(MBWU_CAPTURE) == 4330


def test_mbwu_capture_reset(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_long=True)])
    setup_mbwu(m, 2, ctl=capt_evnt(7) | CAPT_RESET)
    count(m, 1000)
    m.write32(CAPT_EVNT, 1)
    msel(m, 2)
    assert m.read32(MBWU_CAPTURE) == 1000
    assert m.read32(MBWU) == 0
    count(m, 5)
    assert m.read32(MBWU) == 5


def test_capture_needs_local_capt_evnt(new_msc: MakeMsc) -> None:
    m = new_msc([{"msmon": {"mbwu": {"num_mon": 2, "has_capture": True}}}])
    setup_mbwu(m, 0, ctl=capt_evnt(7))
    count(m, 100)
    m.write32(CAPT_EVNT, 1)  # absent: RAZ/WI, no event
    msel(m, 0)
    assert m.read32(MBWU_CAPTURE) == 0
    m.capture_event(7)
    assert m.read32(MBWU_CAPTURE) == 100


def test_mbwu_overflow_31_bit(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    setup_mbwu(m, 0)
    m.write32(MBWU, (1 << 31) - 100)
    count(m, 300)
    assert m.read32(MBWU) == 200
    assert m.read32(MBWU_CTL) & OFLOW_STATUS
    count(m, 1)
    assert m.read32(MBWU) == 201  # counting continues without OFLOW_FRZ
    m.write32(MBWU_CTL, EN)  # software clears the status
    assert not m.read32(MBWU_CTL) & OFLOW_STATUS


def test_mbwu_overflow_31_bit_scaled(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(scale=8)])
    setup_mbwu(m, 0, ctl=SCLEN)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 512)  # +2 after scaling
    assert m.read32(MBWU) == 1
    assert m.read32(MBWU_CTL) & OFLOW_STATUS


@pytest.mark.parametrize(("lwd", "bits"), [(False, 44), (True, 63)])
def test_mbwu_long_counter_overflow(new_msc: MakeMsc, lwd: bool, bits: int) -> None:
    m = new_msc([mbwu_feats(has_long=True, lwd=lwd)])
    setup_mbwu(m, 0)
    top = (1 << bits) - 256
    m.write32(MBWU_L, top & 0xFFFF_FFFF)  # low word first, then high (Linux's order)
    m.write32(MBWU_L + 4, top >> 32)
    assert read64(m, MBWU_L) == top
    count(m, 300)
    assert read64(m, MBWU_L) == 44
    ctl = m.read32(MBWU_CTL)
    assert ctl & OFLOW_STATUS_L
    assert not ctl & OFLOW_STATUS  # the 31-bit counter did not wrap
    assert m.read32(MBWU) == 300


def test_mbwu_long_counter_44_bits_res0_above(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_long=True)])
    setup_mbwu(m, 0)
    m.write32(MBWU_L, 0)
    m.write32(MBWU_L + 4, 0x7FFF_FFFF)
    assert m.read32(MBWU_L + 4) == 0xFFF  # bits [62:44] RES0 when LWD=0


def test_oflow_frz_freezes_until_value_written(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    setup_mbwu(m, 0, ctl=OFLOW_FRZ)
    m.write32(MBWU, (1 << 31) - 10)
    count(m, 30)
    assert m.read32(MBWU) == 20
    assert m.read32(MBWU_CTL) & OFLOW_STATUS
    count(m, 1000)
    assert m.read32(MBWU) == 20  # frozen
    m.write32(MBWU_CTL, EN | OFLOW_FRZ)  # clearing the status alone does not unfreeze
    count(m, 1000)
    assert m.read32(MBWU) == 20
    m.write32(MBWU, 0)
    count(m, 7)
    assert m.read32(MBWU) == 7


def test_oflow_frz_long_counter(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_long=True)])
    setup_mbwu(m, 0, ctl=OFLOW_FRZ)
    m.write32(MBWU_L, 0xFFFF_FFF0)
    m.write32(MBWU_L + 4, 0xFFF)
    count(m, 32)
    assert read64(m, MBWU_L) == 16
    count(m, 32)
    assert read64(m, MBWU_L) == 16
    m.write32(MBWU_L, 0)
    m.write32(MBWU_L + 4, 0)
    count(m, 32)
    assert read64(m, MBWU_L) == 32


@pytest.mark.parametrize("mode", ["level", "edge"])
def test_overflow_interrupt(new_msc: MakeMsc, mode: str) -> None:
    m = new_msc([mbwu_feats()], overflow_interrupt={"gsiv": 101, "mode": mode})
    line = m.irq.line(101)
    setup_mbwu(m, 0, ctl=OFLOW_INTR)
    setup_mbwu(m, 1)  # no OFLOW_INTR
    msel(m, 1)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    msel(m, 1)
    assert m.read32(MBWU_CTL) & OFLOW_STATUS
    assert line.count == 0 and not line.asserted
    msel(m, 0)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    assert line.count == 1
    assert line.asserted == (mode == "level")
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)  # the status is already set: no new interrupt
    assert line.count == 1
    m.write32(MBWU_CTL, EN | OFLOW_INTR)  # clear OFLOW_STATUS
    assert not line.asserted
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    assert line.count == 2
    assert m.irq.line(100).count == 0  # not on the error line


def test_overflow_interrupt_long_counter(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(has_long=True)])
    line = m.irq.line(101)
    setup_mbwu(m, 0, ctl=OFLOW_INTR_L)
    m.write32(MBWU_L, 0xFFFF_FFFF)
    m.write32(MBWU_L + 4, 0xFFF)
    count(m, 1)
    assert m.read32(MBWU_CTL) & OFLOW_STATUS_L
    assert line.asserted and line.count == 1
    m.write32(MBWU_CTL, EN | OFLOW_INTR_L)
    assert not line.asserted


def test_reset_drops_the_level_overflow_line(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats()])
    line = m.irq.line(101)
    setup_mbwu(m, 0, ctl=OFLOW_INTR)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    assert line.asserted
    m.reset()
    msel(m, 0)
    assert not m.read32(MBWU_CTL) & OFLOW_STATUS
    assert not line.asserted


def test_reset_drops_the_level_error_line(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    m.write32(ECR, 1)
    sel(m, 99)
    m.read32(CPBM)
    assert m.irq.line(100).asserted
    m.reset()
    assert m.read32(ESR) == 0 and m.read32(ECR) == 0
    assert not m.irq.line(100).asserted


def test_no_overflow_interrupt_with_no_hw_oflw_intr(new_msc: MakeMsc) -> None:
    feats = mbwu_feats()
    feats["msmon"]["no_hw_oflw_intr"] = True
    m = new_msc([feats])
    setup_mbwu(m, 0, ctl=OFLOW_INTR)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    assert m.read32(MBWU_CTL) & OFLOW_STATUS
    assert m.irq.line(101).count == 0 and not m.irq.line(101).asserted


def test_overflow_msi(new_msc: MakeMsc) -> None:
    feats = mbwu_feats()
    feats["msmon"]["has_oflw_msi"] = True
    m = new_msc([feats], overflow_interrupt=None)
    m.write32(OFLOW_MSI_ADDR_L, 0x8000_0040)
    m.write32(OFLOW_MSI_ADDR_H, 0x1)
    m.write32(OFLOW_MSI_DATA, 42)
    m.write32(OFLOW_MSI_MPAM, 3 | 1 << 16)
    m.write32(OFLOW_MSI_ATTR, 1)
    setup_mbwu(m, 0, ctl=OFLOW_INTR)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 2)
    assert len(m.irq.msis) == 1
    msi = m.irq.msis[0]
    assert (msi.address, msi.data, msi.partid, msi.pmg) == (0x1_8000_0040, 42, 3, 1)


def test_ofsr_and_oflow_sr(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(num_mon=40)])
    assert m.read32(OFLOW_SR) == 0
    for mon in (2, 33):
        setup_mbwu(m, mon)
        m.write32(MBWU, (1 << 31) - 1)
        count(m, 1)
    msel(m, 0)
    assert m.read32(MBWU_OFSR) == 1 << 2
    msel(m, 35)
    assert m.read32(MBWU_OFSR) == 1 << 1  # monitor 33 is bit 1 of the block at 32
    assert m.read32(OFLOW_SR) == 1 << 30 | 1 << 0  # MBWU_OFLOW_PND, RIS_PND<0>
    msel(m, 2)
    m.write32(MBWU_CTL, EN)
    msel(m, 33)
    m.write32(MBWU_CTL, EN)
    msel(m, 0)
    assert m.read32(MBWU_OFSR) == 0
    assert m.read32(OFLOW_SR) == 0


def test_oflow_sr_names_the_ris(new_msc: MakeMsc) -> None:
    feats = mbwu_feats()
    m = new_msc([{"cpor": {"cpbm_wd": 8}, "msmon": {"csu": {"num_mon": 1}}}, feats])
    setup_mbwu(m, 0, ris=1)
    m.write32(MBWU, (1 << 31) - 1)
    count(m, 1, ris=1)
    assert m.read32(OFLOW_SR) == 1 << 30 | 1 << 1


def test_monitor_index_out_of_range_error_5(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(num_mon=4)])
    msel(m, 4)
    assert m.read32(MBWU) == 0
    assert esr(m)["ERRCODE"] == 5 and esr(m)["PARTID_MON"] == 4
    clear_esr(m)
    msel(m, 0xFFFF)
    m.write32(MBWU_CTL, EN)
    assert esr(m)["ERRCODE"] == 5 and esr(m)["PARTID_MON"] == 0xFFFF
    clear_esr(m)
    msel(m, 3)
    m.write32(MBWU_CTL, EN)
    assert errcode(m) == 0


def test_monitor_range_error_5_reports_ris(two_ris: Msc) -> None:
    msel(two_ris, 2, ris=1)  # RIS 1 has 2 MBWU monitors
    two_ris.read32(MBWU)
    assert esr(two_ris) == {"PARTID_MON": 2, "PMG": 0, "ERRCODE": 5, "OVRWR": 0, "RIS": 1}


@pytest.mark.parametrize(("flt", "partid", "pmg"), [(16, 16, 0), (2 | 2 << 16, 2, 2)])
def test_filter_out_of_range_error_3(new_msc: MakeMsc, flt: int, partid: int, pmg: int) -> None:
    m = new_msc([mbwu_feats()])  # PARTID_MAX 15, PMG_MAX 1
    msel(m, 0)
    m.write32(MBWU_FLT, flt)
    assert esr(m)["ERRCODE"] == 3
    assert esr(m)["PARTID_MON"] == partid and esr(m)["PMG"] == pmg
    clear_esr(m)
    m.write32(MBWU_FLT, 15 | 1 << 16)
    assert errcode(m) == 0


def test_ctl_type_reads(new_msc: MakeMsc) -> None:
    m = new_msc([{"msmon": {"csu": {"num_mon": 1}, "mbwu": {"num_mon": 1}}}])
    msel(m, 0)
    assert ctl_type(m.read32(CSU_CTL)) == 0x43
    assert ctl_type(m.read32(MBWU_CTL)) == 0x42
    m.write32(MBWU_CTL, 0xFF)
    assert ctl_type(m.read32(MBWU_CTL)) == 0x42


@pytest.fixture
def csu(new_msc: MakeMsc) -> tuple[Msc, ReferenceResource]:
    m = new_msc([{"cpor": {"cpbm_wd": 8},
                  "msmon": {"csu": {"num_mon": 4, "has_xcl": True, "has_capture": True,
                                    "nrdy_usec": 10},
                            "has_local_capt_evnt": True}}])  # fmt: skip
    res = ReferenceResource(16, 2)
    res.set_occupancy(3, 1, clean=4096, dirty=1024)
    res.set_occupancy(3, 0, clean=64)
    res.set_occupancy(5, 1, clean=128, dirty=128)
    m.ris[0].attach(res)
    return m, res


def setup_csu(m: Msc, mon: int, flt: int, ctl: int) -> None:
    """Linux's CSU sequence: FLT, CTL without EN, zero the value, CTL with EN."""
    msel(m, mon)
    m.write32(CSU_FLT, flt)
    m.write32(CSU_CTL, ctl)
    m.write32(CSU, 0)
    m.write32(CSU_CTL, ctl | EN)


def test_csu_reads_occupancy(csu: tuple[Msc, ReferenceResource]) -> None:
    m, res = csu
    setup_csu(m, 0, 3 | 1 << 16, MATCH_PARTID | MATCH_PMG)
    setup_csu(m, 1, 3, MATCH_PARTID)
    setup_csu(m, 2, 3 | 1 << 16 | XCL, MATCH_PARTID | MATCH_PMG)
    setup_csu(m, 3, 0, 0)
    m.clock.advance(10_000)
    values = []
    for mon in range(4):
        msel(m, mon)
        values.append(m.read32(CSU))
    assert values == [5120, 5184, 1024, 5440]
    res.set_occupancy(3, 1, clean=0, dirty=2048)
    msel(m, 0)
    assert m.read32(CSU) == 2048  # the live occupancy
    assert errcode(m) == 0


def test_csu_hardware_nrdy(csu: tuple[Msc, ReferenceResource]) -> None:
    m, _ = csu
    msel(m, 0)
    assert m.read32(CSU) & NRDY == 0  # never configured
    m.write32(CSU, NRDY)  # Linux's probe: a set that does not stick means hardware NRDY
    assert m.read32(CSU) & NRDY == 0
    m.write32(CSU_FLT, 3)
    assert m.read32(CSU) & NRDY
    m.clock.advance(10_000 - 1)
    assert m.read32(CSU) & NRDY
    m.clock.advance(1)
    assert m.read32(CSU) & NRDY == 0
    m.write32(CSU_CTL, EN | MATCH_PARTID)  # a CTL change sets it again
    assert m.read32(CSU) & NRDY
    m.clock.advance(10_000)
    assert m.read32(CSU) == 5184
    m.write32(CSU_CTL, EN | MATCH_PARTID)  # no change, no NRDY
    assert m.read32(CSU) == 5184
    m.write32(CSU_FLT, 3)
    assert m.read32(CSU) & NRDY == 0


def test_csu_capture(csu: tuple[Msc, ReferenceResource]) -> None:
    m, res = csu
    setup_csu(m, 1, 5 | 1 << 16, MATCH_PARTID | MATCH_PMG | capt_evnt(7))
    m.clock.advance(10_000)
    m.write32(CAPT_EVNT, 1)
    res.set_occupancy(5, 1, clean=0, dirty=128)
    msel(m, 1)
    assert m.read32(CSU_CAPTURE) == 256
    assert m.read32(CSU) == 128


def test_csu_xcl_res0_without_has_xcl(new_msc: MakeMsc) -> None:
    m = new_msc([{"msmon": {"csu": {"num_mon": 1}}}])
    res = ReferenceResource(16, 2)
    res.set_occupancy(1, 0, clean=100, dirty=10)
    m.ris[0].attach(res)
    setup_csu(m, 0, 1 | XCL, MATCH_PARTID)
    assert m.read32(CSU_FLT) == 1
    m.clock.advance(10_000)
    assert m.read32(CSU) == 110


def test_mbwu_hardware_nrdy(new_msc: MakeMsc) -> None:
    m = new_msc([mbwu_feats(hw_nrdy=True, nrdy_usec=5)])
    setup_mbwu(m, 0)
    assert m.read32(MBWU) & NRDY
    m.clock.advance(5_000)
    assert m.read32(MBWU) == 0
    m.write32(MBWU, NRDY)
    assert m.read32(MBWU) & NRDY == 0


def test_linux_nrdy_probe_tells_hw_from_sw(new_msc: MakeMsc) -> None:
    """mpam_devices.c's probe: write NRDY=1, read, write 0, read: hardware-managed if either
    fails to stick."""
    m = new_msc([{"msmon": {"csu": {"num_mon": 1}, "mbwu": {"num_mon": 1}}}])

    def hw_managed(value_off: int) -> bool:
        msel(m, 0)
        m.write32(value_off, NRDY)
        set_sticks = bool(m.read32(value_off) & NRDY)
        m.write32(value_off, 0)
        clear_sticks = not m.read32(value_off) & NRDY
        return not (set_sticks and clear_sticks)

    assert hw_managed(CSU)  # csu hw_nrdy defaults to true
    assert not hw_managed(MBWU)  # mbwu hw_nrdy defaults to false


# == out-of-range request labels (IHI0099 errors 2 and 4) ======================================


def test_request_partid_out_of_range_error_2(new_msc: MakeMsc) -> None:
    m = new_msc([{"partid_max": 15, "pmg_max": 1}])
    assert m.check_request(15, 1) == (15, 1)
    assert errcode(m) == 0
    assert m.check_request(16, 0) == (0, 0)
    assert esr(m)["ERRCODE"] == 2 and esr(m)["PARTID_MON"] == 16


def test_request_pmg_out_of_range_error_4(new_msc: MakeMsc) -> None:
    m = new_msc([{"partid_max": 15, "pmg_max": 1}])
    assert m.check_request(7, 2) == (7, 0)
    e = esr(m)
    assert e["ERRCODE"] == 4 and e["PARTID_MON"] == 7 and e["PMG"] == 2


# == HAS_ENDIS =================================================================================


def test_endis(new_msc: MakeMsc) -> None:
    m = new_msc([{"partid_max": 63, "cpor": {"cpbm_wd": 8}}], has_endis=True, has_nfu=True)
    assert m.read32(IDR_HI) & HAS_ENDIS
    sel(m, 0)
    assert m.read32(EN_FLAGS) == 0x1
    m.write32(CFG_EN, 5)
    m.write32(CFG_EN, 31)
    assert m.read32(EN_FLAGS) == 1 << 31 | 1 << 5 | 1
    assert m.read32(CFG_EN) == 0 and m.read32(CFG_DIS) == 0
    m.write32(CFG_DIS, 0)
    assert m.read32(EN_FLAGS) == 1 << 31 | 1 << 5
    m.write32(CFG_EN, 40)
    sel(m, 33)  # the 32-aligned block holding PARTID_SEL
    assert m.read32(EN_FLAGS) == 1 << 8
    m.write32(CFG_DIS, 1 << 31 | 40)  # NFU
    assert m.read32(EN_FLAGS) == 0
    assert bool(m.not_for_use[40])
    m.write32(EN_FLAGS, 0xFFFF_FFFF)  # status: writes ignored
    assert m.read32(EN_FLAGS) == 0
    m.write32(CFG_EN, 64)  # beyond PARTID_MAX: ignored
    assert sorted(np.flatnonzero(m.enabled)) == [5, 31]
    assert errcode(m) == 0


def test_without_endis_everything_enabled(new_msc: MakeMsc) -> None:
    m = new_msc([{"cpor": {"cpbm_wd": 8}}])
    assert not m.read32(IDR_HI) & HAS_ENDIS
    assert m.enabled.all()
    m.write32(CFG_DIS, 3)
    assert m.enabled.all()
    assert m.read32(EN_FLAGS) == 0


# == tracing =====================================================================================


def test_tracers_see_every_access(new_msc: MakeMsc) -> None:
    m = new_msc([FULL])
    seen: list[MmioAccess] = []
    m.tracers.append(seen.append)
    m.clock.advance(123)
    sel(m, 1)
    m.write32(CPBM + 12, 0x5)
    m.read32(IDR_HI)
    m.read32(ESR)
    m.read32(0x3FFC)
    m.read32(0x1002)
    msel(m, 0)
    m.read32(MBWU_L + 4)
    assert [(a.write, a.offset, a.register) for a in seen] == [
        (True, PART_SEL, "MPAMCFG_PART_SEL"),
        (True, 0x100C, "MPAMCFG_CPBM<3>"),
        (False, 0x0004, "MPAMF_IDR[63:32]"),
        (False, 0x00F8, "MPAMF_ESR[31:0]"),
        (False, 0x3FFC, "reserved"),
        (False, 0x1002, "reserved"),
        (True, MON_SEL, "MSMON_CFG_MON_SEL"),
        (False, 0x0884, "MSMON_MBWU_L[63:32]"),
    ]
    assert all(a.msc == "msc0" and a.time_ns == 123 for a in seen)
    assert seen[1].value == 0x5
    assert seen[2].value == m.read32(IDR_HI)


# == shared interrupt lines ======================================================================

SECOND_MSC = """
[[msc]]
name = "msc1"
identifier = 1
base_address = 0x1001_0000
size = 0x4000
error_interrupt = { gsiv = 100 }
ris = [{ index = 0, identifier = 20, resource = { kind = "memory", node = 0 }, features = { partid_max = 15, pmg_max = 1, cpor = { cpbm_wd = 8 } } }]
"""


def test_shared_level_error_line_is_wired_or(platform_toml: Callable[..., str]) -> None:
    hw = build(from_toml_text(platform_toml([{"cpor": {"cpbm_wd": 8}}]) + SECOND_MSC))
    a, b = hw.mscs
    line = hw.irq.line(100)
    a.write32(ECR, 1)
    sel(a, 99)
    a.read32(CPBM)  # error 1 in MSC a
    assert line.asserted
    b.write32(ECR, 1)  # MSC b has no error: the line must stay up for a
    assert line.asserted == ((a.read32(ECR) & 1 and errcode(a) != 0)
                             or (b.read32(ECR) & 1 and errcode(b) != 0))  # fmt: skip
