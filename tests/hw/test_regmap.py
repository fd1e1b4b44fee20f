"""The register table (mpam.hw.regmap) against IHI0099's register map and bit fields.

Every expected offset, width and bit position below is a literal typed in from IHI0099 (the
Table 9-8 register map and the chapter 9 register descriptions), so these tests check the
table independently of the code that uses it.
"""

from __future__ import annotations

import itertools

import pytest

from mpam.hw.msc import Msc
from mpam.hw.regmap import REGISTERS, Access, Register, Scope, field, reg, word_at

# (name, offset, width in bits, array count) — IHI0099 Table 9-8, the expected register map.
REGISTER_MAP: list[tuple[str, int, int, int]] = [
    ("MPAMF_IDR", 0x0000, 64, 1),
    ("MPAMF_SIDR", 0x0008, 32, 1),
    ("MPAMF_IIDR", 0x0018, 32, 1),
    ("MPAMF_AIDR", 0x0020, 32, 1),
    ("MPAMF_IMPL_IDR", 0x0028, 32, 1),
    ("MPAMF_CPOR_IDR", 0x0030, 32, 1),
    ("MPAMF_CCAP_IDR", 0x0038, 32, 1),
    ("MPAMF_MBW_IDR", 0x0040, 32, 1),
    ("MPAMF_PRI_IDR", 0x0048, 32, 1),
    ("MPAMF_PARTID_NRW_IDR", 0x0050, 32, 1),
    ("MPAMF_MSMON_IDR", 0x0080, 32, 1),
    ("MPAMF_CSUMON_IDR", 0x0088, 32, 1),
    ("MPAMF_MBWUMON_IDR", 0x0090, 32, 1),
    ("MPAMF_ERR_MSI_MPAM", 0x00DC, 32, 1),
    ("MPAMF_ERR_MSI_ADDR_L", 0x00E0, 32, 1),
    ("MPAMF_ERR_MSI_ADDR_H", 0x00E4, 32, 1),
    ("MPAMF_ERR_MSI_DATA", 0x00E8, 32, 1),
    ("MPAMF_ERR_MSI_ATTR", 0x00EC, 32, 1),
    ("MPAMF_ECR", 0x00F0, 32, 1),
    ("MPAMF_ESR", 0x00F8, 64, 1),
    ("MPAMCFG_PART_SEL", 0x0100, 32, 1),
    ("MPAMCFG_CMAX", 0x0108, 32, 1),
    ("MPAMCFG_CMIN", 0x0110, 32, 1),
    ("MPAMCFG_CASSOC", 0x0118, 32, 1),
    ("MPAMCFG_MBW_MIN", 0x0200, 32, 1),
    ("MPAMCFG_MBW_MAX", 0x0208, 32, 1),
    ("MPAMCFG_MBW_WINWD", 0x0220, 32, 1),
    ("MPAMCFG_EN", 0x0300, 32, 1),
    ("MPAMCFG_DIS", 0x0310, 32, 1),
    ("MPAMCFG_EN_FLAGS", 0x0320, 32, 1),
    ("MPAMCFG_PRI", 0x0400, 32, 1),
    ("MPAMCFG_MBW_PROP", 0x0500, 32, 1),
    ("MPAMCFG_INTPARTID", 0x0600, 32, 1),
    ("MSMON_CFG_MON_SEL", 0x0800, 32, 1),
    ("MSMON_CAPT_EVNT", 0x0808, 32, 1),
    ("MSMON_CFG_CSU_FLT", 0x0810, 32, 1),
    ("MSMON_CFG_CSU_CTL", 0x0818, 32, 1),
    ("MSMON_CFG_MBWU_FLT", 0x0820, 32, 1),
    ("MSMON_CFG_MBWU_CTL", 0x0828, 32, 1),
    ("MSMON_CSU", 0x0840, 32, 1),
    ("MSMON_CSU_CAPTURE", 0x0848, 32, 1),
    ("MSMON_CSU_OFSR", 0x0858, 32, 1),
    ("MSMON_MBWU", 0x0860, 32, 1),
    ("MSMON_MBWU_CAPTURE", 0x0868, 32, 1),
    ("MSMON_MBWU_L", 0x0880, 64, 1),
    ("MSMON_MBWU_L_CAPTURE", 0x0890, 64, 1),
    ("MSMON_MBWU_OFSR", 0x0898, 32, 1),
    ("MSMON_OFLOW_MSI_MPAM", 0x08DC, 32, 1),
    ("MSMON_OFLOW_MSI_ADDR_L", 0x08E0, 32, 1),
    ("MSMON_OFLOW_MSI_ADDR_H", 0x08E4, 32, 1),
    ("MSMON_OFLOW_MSI_DATA", 0x08E8, 32, 1),
    ("MSMON_OFLOW_MSI_ATTR", 0x08EC, 32, 1),
    ("MSMON_OFLOW_SR", 0x08F0, 32, 1),
    ("MPAMCFG_CPBM", 0x1000, 32, 1024),
    ("MPAMCFG_MBW_PBM", 0x2000, 32, 128),
    ("MPAMF_IN_TL_IDR", 0x3000, 32, 1),
    ("MPAMCFG_IN_TL", 0x3008, 32, 1),
    ("MPAMCFG_IN_TL_BASE", 0x3010, 32, 1),
    ("MPAMCFG_IN_TL_MASK", 0x3018, 32, 1),
    ("MPAMF_OUT_TL_IDR", 0x3200, 32, 1),
    ("MPAMCFG_OUT_TL", 0x3208, 32, 1),
    ("MPAMCFG_OUT_TL_BASE", 0x3210, 32, 1),
    ("MPAMCFG_OUT_TL_MASK", 0x3218, 32, 1),
]

# (register, field, lsb, width) — IHI0099 chapter 9 register descriptions.
FIELDS: list[tuple[str, str, int, int]] = [
    # MPAMF_IDR (64-bit)
    ("MPAMF_IDR", "PARTID_MAX", 0, 16),
    ("MPAMF_IDR", "PMG_MAX", 16, 8),
    ("MPAMF_IDR", "HAS_CCAP_PART", 24, 1),
    ("MPAMF_IDR", "HAS_CPOR_PART", 25, 1),
    ("MPAMF_IDR", "HAS_MBW_PART", 26, 1),
    ("MPAMF_IDR", "HAS_PRI_PART", 27, 1),
    ("MPAMF_IDR", "EXT", 28, 1),
    ("MPAMF_IDR", "HAS_IMPL_IDR", 29, 1),
    ("MPAMF_IDR", "HAS_MSMON", 30, 1),
    ("MPAMF_IDR", "HAS_PARTID_NRW", 31, 1),
    ("MPAMF_IDR", "HAS_RIS", 32, 1),
    ("MPAMF_IDR", "NO_IMPL_PART", 36, 1),
    ("MPAMF_IDR", "NO_IMPL_MSMON", 37, 1),
    ("MPAMF_IDR", "HAS_EXTD_ESR", 38, 1),
    ("MPAMF_IDR", "HAS_ESR", 39, 1),
    ("MPAMF_IDR", "HAS_ERR_MSI", 40, 1),
    ("MPAMF_IDR", "SP4", 41, 1),
    ("MPAMF_IDR", "HAS_ENDIS", 42, 1),
    ("MPAMF_IDR", "HAS_NFU", 43, 1),
    ("MPAMF_IDR", "HAS_IN_TL", 44, 1),
    ("MPAMF_IDR", "HAS_OUT_TL", 45, 1),
    ("MPAMF_IDR", "HAS_DEFAULT_PARTID", 46, 1),
    ("MPAMF_IDR", "RIS_MAX", 56, 4),
    # MPAMF_SIDR, IIDR, AIDR
    ("MPAMF_SIDR", "S_PARTID_MAX", 0, 16),
    ("MPAMF_SIDR", "S_PMG_MAX", 16, 8),
    ("MPAMF_IIDR", "Implementer", 0, 12),
    ("MPAMF_IIDR", "Revision", 12, 4),
    ("MPAMF_IIDR", "Variant", 16, 4),
    ("MPAMF_IIDR", "ProductID", 20, 12),
    ("MPAMF_AIDR", "ArchMinorRev", 0, 4),
    ("MPAMF_AIDR", "ArchMajorRev", 4, 4),
    # MPAMF_CPOR_IDR, CCAP_IDR
    ("MPAMF_CPOR_IDR", "CPBM_WD", 0, 16),
    ("MPAMF_CCAP_IDR", "CMAX_WD", 0, 6),
    ("MPAMF_CCAP_IDR", "CASSOC_WD", 8, 5),
    ("MPAMF_CCAP_IDR", "HAS_CASSOC", 28, 1),
    ("MPAMF_CCAP_IDR", "HAS_CMIN", 29, 1),
    ("MPAMF_CCAP_IDR", "NO_CMAX", 30, 1),
    ("MPAMF_CCAP_IDR", "HAS_CMAX_SOFTLIM", 31, 1),
    # MPAMF_MBW_IDR
    ("MPAMF_MBW_IDR", "BWA_WD", 0, 6),
    ("MPAMF_MBW_IDR", "MAX_LIM", 8, 2),
    ("MPAMF_MBW_IDR", "HAS_MIN", 10, 1),
    ("MPAMF_MBW_IDR", "HAS_MAX", 11, 1),
    ("MPAMF_MBW_IDR", "HAS_PBM", 12, 1),
    ("MPAMF_MBW_IDR", "HAS_PROP", 13, 1),
    ("MPAMF_MBW_IDR", "WINDWR", 14, 1),
    ("MPAMF_MBW_IDR", "BWPBM_WD", 16, 13),
    # MPAMF_PRI_IDR
    ("MPAMF_PRI_IDR", "HAS_INTPRI", 0, 1),
    ("MPAMF_PRI_IDR", "INTPRI_0_IS_LOW", 1, 1),
    ("MPAMF_PRI_IDR", "INTPRI_WD", 4, 6),
    ("MPAMF_PRI_IDR", "HAS_DSPRI", 16, 1),
    ("MPAMF_PRI_IDR", "DSPRI_0_IS_LOW", 17, 1),
    ("MPAMF_PRI_IDR", "DSPRI_WD", 20, 6),
    # MPAMF_PARTID_NRW_IDR, MSMON_IDR
    ("MPAMF_PARTID_NRW_IDR", "INTPARTID_MAX", 0, 16),
    ("MPAMF_MSMON_IDR", "MSMON_CSU", 16, 1),
    ("MPAMF_MSMON_IDR", "MSMON_MBWU", 17, 1),
    ("MPAMF_MSMON_IDR", "MSMON_CSA", 18, 1),
    ("MPAMF_MSMON_IDR", "HAS_TL_MONITORING", 26, 2),
    ("MPAMF_MSMON_IDR", "HAS_OFLOW_SR", 28, 1),
    ("MPAMF_MSMON_IDR", "HAS_OFLW_MSI", 29, 1),
    ("MPAMF_MSMON_IDR", "NO_HW_OFLW_INTR", 30, 1),
    ("MPAMF_MSMON_IDR", "HAS_LOCAL_CAPT_EVNT", 31, 1),
    # MPAMF_CSUMON_IDR
    ("MPAMF_CSUMON_IDR", "NUM_MON", 0, 16),
    ("MPAMF_CSUMON_IDR", "NO_MATCH_PMG", 22, 1),
    ("MPAMF_CSUMON_IDR", "NO_MATCH_PARTID", 23, 1),
    ("MPAMF_CSUMON_IDR", "HAS_OFLOW_CAPT", 24, 1),
    ("MPAMF_CSUMON_IDR", "HAS_CEVNT_OFLW", 25, 1),
    ("MPAMF_CSUMON_IDR", "HAS_OFSR", 26, 1),
    ("MPAMF_CSUMON_IDR", "HAS_OFLOW_LNKG", 27, 1),
    ("MPAMF_CSUMON_IDR", "HAS_XCL", 29, 1),
    ("MPAMF_CSUMON_IDR", "CSU_RO", 30, 1),
    ("MPAMF_CSUMON_IDR", "HAS_CAPTURE", 31, 1),
    # MPAMF_MBWUMON_IDR
    ("MPAMF_MBWUMON_IDR", "NUM_MON", 0, 16),
    ("MPAMF_MBWUMON_IDR", "SCALE", 16, 5),
    ("MPAMF_MBWUMON_IDR", "NO_MATCH_PMG", 22, 1),
    ("MPAMF_MBWUMON_IDR", "NO_MATCH_PARTID", 23, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_OFLOW_CAPT", 24, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_CEVNT_OFLW", 25, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_OFSR", 26, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_OFLOW_LNKG", 27, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_RWBW", 28, 1),
    ("MPAMF_MBWUMON_IDR", "LWD", 29, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_LONG", 30, 1),
    ("MPAMF_MBWUMON_IDR", "HAS_CAPTURE", 31, 1),
    # MPAMCFG_PART_SEL, MSMON_CFG_MON_SEL
    ("MPAMCFG_PART_SEL", "PARTID_SEL", 0, 16),
    ("MPAMCFG_PART_SEL", "INTERNAL", 16, 1),
    ("MPAMCFG_PART_SEL", "INGRESS_TL", 17, 1),
    ("MPAMCFG_PART_SEL", "DEFAULT_PARTID", 18, 1),
    ("MPAMCFG_PART_SEL", "RIS", 24, 4),
    ("MSMON_CFG_MON_SEL", "MON_SEL", 0, 16),
    ("MSMON_CFG_MON_SEL", "RIS", 24, 4),
    # MPAMCFG controls
    ("MPAMCFG_CMAX", "CMAX", 0, 16),
    ("MPAMCFG_CMAX", "SOFTLIM", 31, 1),
    ("MPAMCFG_CMIN", "CMIN", 0, 16),
    ("MPAMCFG_CASSOC", "CASSOC", 0, 16),
    ("MPAMCFG_MBW_MIN", "MIN", 0, 16),
    ("MPAMCFG_MBW_MAX", "MAX", 0, 16),
    ("MPAMCFG_MBW_MAX", "HARDLIM", 31, 1),
    ("MPAMCFG_MBW_WINWD", "US_FRAC", 0, 8),
    ("MPAMCFG_MBW_WINWD", "US_INT", 8, 16),
    ("MPAMCFG_PRI", "INTPRI", 0, 16),
    ("MPAMCFG_PRI", "DSPRI", 16, 16),
    ("MPAMCFG_MBW_PROP", "STRIDEM1", 0, 16),
    ("MPAMCFG_MBW_PROP", "EN", 31, 1),
    ("MPAMCFG_INTPARTID", "INTPARTID", 0, 16),
    ("MPAMCFG_INTPARTID", "INTERNAL", 16, 1),
    ("MPAMCFG_EN", "PARTID", 0, 16),
    ("MPAMCFG_DIS", "PARTID", 0, 16),
    ("MPAMCFG_DIS", "NFU", 31, 1),
    ("MPAMCFG_EN_FLAGS", "EN", 0, 32),
    # MSMON_CAPT_EVNT
    ("MSMON_CAPT_EVNT", "NOW", 0, 1),
    ("MSMON_CAPT_EVNT", "ALL", 1, 1),
    # MSMON_CFG_CSU_CTL
    ("MSMON_CFG_CSU_CTL", "TYPE", 0, 8),
    ("MSMON_CFG_CSU_CTL", "OFLOW_LNKG", 8, 3),
    ("MSMON_CFG_CSU_CTL", "MATCH_PARTID", 16, 1),
    ("MSMON_CFG_CSU_CTL", "MATCH_PMG", 17, 1),
    ("MSMON_CFG_CSU_CTL", "CEVNT_OFLW", 18, 1),
    ("MSMON_CFG_CSU_CTL", "SUBTYPE", 20, 3),
    ("MSMON_CFG_CSU_CTL", "OFLOW_CAPT", 23, 1),
    ("MSMON_CFG_CSU_CTL", "OFLOW_FRZ", 24, 1),
    ("MSMON_CFG_CSU_CTL", "OFLOW_INTR", 25, 1),
    ("MSMON_CFG_CSU_CTL", "OFLOW_STATUS", 26, 1),
    ("MSMON_CFG_CSU_CTL", "CAPT_RESET", 27, 1),
    ("MSMON_CFG_CSU_CTL", "CAPT_EVNT", 28, 3),
    ("MSMON_CFG_CSU_CTL", "EN", 31, 1),
    # MSMON_CFG_MBWU_CTL: the CSU layout plus the long-counter bits and SCLEN
    ("MSMON_CFG_MBWU_CTL", "TYPE", 0, 8),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_LNKG", 8, 3),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_CAPT_L", 13, 1),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_INTR_L", 14, 1),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_STATUS_L", 15, 1),
    ("MSMON_CFG_MBWU_CTL", "MATCH_PARTID", 16, 1),
    ("MSMON_CFG_MBWU_CTL", "MATCH_PMG", 17, 1),
    ("MSMON_CFG_MBWU_CTL", "CEVNT_OFLW", 18, 1),
    ("MSMON_CFG_MBWU_CTL", "SCLEN", 19, 1),
    ("MSMON_CFG_MBWU_CTL", "SUBTYPE", 20, 3),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_CAPT", 23, 1),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_FRZ", 24, 1),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_INTR", 25, 1),
    ("MSMON_CFG_MBWU_CTL", "OFLOW_STATUS", 26, 1),
    ("MSMON_CFG_MBWU_CTL", "CAPT_RESET", 27, 1),
    ("MSMON_CFG_MBWU_CTL", "CAPT_EVNT", 28, 3),
    ("MSMON_CFG_MBWU_CTL", "EN", 31, 1),
    # filters
    ("MSMON_CFG_CSU_FLT", "PARTID", 0, 16),
    ("MSMON_CFG_CSU_FLT", "PMG", 16, 8),
    ("MSMON_CFG_CSU_FLT", "XCL", 31, 1),
    ("MSMON_CFG_MBWU_FLT", "PARTID", 0, 16),
    ("MSMON_CFG_MBWU_FLT", "PMG", 16, 8),
    ("MSMON_CFG_MBWU_FLT", "RWBW", 30, 2),
    # monitor values
    ("MSMON_CSU", "VALUE", 0, 31),
    ("MSMON_CSU", "NRDY", 31, 1),
    ("MSMON_CSU_CAPTURE", "VALUE", 0, 31),
    ("MSMON_CSU_CAPTURE", "NRDY", 31, 1),
    ("MSMON_MBWU", "VALUE", 0, 31),
    ("MSMON_MBWU", "NRDY", 31, 1),
    ("MSMON_MBWU_CAPTURE", "VALUE", 0, 31),
    ("MSMON_MBWU_CAPTURE", "NRDY", 31, 1),
    ("MSMON_MBWU_L", "NRDY", 63, 1),
    ("MSMON_MBWU_L_CAPTURE", "NRDY", 63, 1),
    ("MSMON_CSU_OFSR", "OFPND", 0, 32),
    ("MSMON_MBWU_OFSR", "OFPND", 0, 32),
    # MSMON_OFLOW_SR
    ("MSMON_OFLOW_SR", "RIS_PND", 0, 16),
    ("MSMON_OFLOW_SR", "CSA_OFLOW_PND", 29, 1),
    ("MSMON_OFLOW_SR", "MBWU_OFLOW_PND", 30, 1),
    ("MSMON_OFLOW_SR", "CSU_OFLOW_PND", 31, 1),
    # MPAMF_ECR, MPAMF_ESR
    ("MPAMF_ECR", "INTEN", 0, 1),
    ("MPAMF_ESR", "PARTID_MON", 0, 16),
    ("MPAMF_ESR", "PMG", 16, 8),
    ("MPAMF_ESR", "ERRCODE", 24, 4),
    ("MPAMF_ESR", "OVRWR", 31, 1),
    ("MPAMF_ESR", "RIS", 32, 4),
    # MSI registers (ERR_ and OFLOW_ share one layout)
    *[
        (f"{prefix}_{name}", fname, lsb, width)
        for prefix in ("MPAMF_ERR_MSI", "MSMON_OFLOW_MSI")
        for name, fname, lsb, width in (
            ("ADDR_L", "ADDR", 2, 30),
            ("ADDR_H", "ADDR", 0, 20),
            ("DATA", "DATA", 0, 32),
            ("ATTR", "MSIEN", 0, 1),
            ("ATTR", "MSI_MEMATTR", 24, 4),
            ("ATTR", "MSI_SH", 28, 2),
            ("MPAM", "PARTID", 0, 16),
            ("MPAM", "PMG", 16, 8),
        )
    ],
    # translation registers (B.a)
    ("MPAMF_IN_TL_IDR", "IN_PARTID_MAX", 0, 16),
    ("MPAMF_IN_TL_IDR", "HAS_BASE_MASK", 30, 1),
    ("MPAMF_IN_TL_IDR", "HAS_DIRECT_TL", 31, 1),
    ("MPAMCFG_IN_TL", "PARTID_TL", 0, 16),
    ("MPAMCFG_IN_TL", "ENABLE", 31, 1),
]


@pytest.mark.parametrize(("name", "offset", "width", "count"), REGISTER_MAP, ids=lambda x: str(x))
def test_register_offset_width_count(name: str, offset: int, width: int, count: int) -> None:
    r = reg(name)
    assert r.offset == offset
    assert r.width == width
    assert r.count == count


def test_every_table_register_is_in_the_reference_map() -> None:
    assert sorted(r.name for r in REGISTERS) == sorted(n for n, *_ in REGISTER_MAP)


def test_register_map_examples() -> None:
    """IHI0099 Table 9-8 spot checks: MBW_MAX 0x208, CPBM<3> 0x100C, MBWU_L 0x880, ESR 0xF8."""
    assert reg("MPAMCFG_MBW_MAX").offset == 0x208
    w = word_at(0x100C)
    assert w is not None and w.reg.name == "MPAMCFG_CPBM" and w.index == 3
    assert reg("MSMON_MBWU_L").offset == 0x880
    assert reg("MPAMF_ESR").offset == 0xF8


@pytest.mark.parametrize(
    ("offset", "name", "index", "half"),
    [
        (0x0000, "MPAMF_IDR", 0, 0),
        (0x0004, "MPAMF_IDR", 0, 1),
        (0x00F8, "MPAMF_ESR", 0, 0),
        (0x00FC, "MPAMF_ESR", 0, 1),
        (0x0880, "MSMON_MBWU_L", 0, 0),
        (0x0884, "MSMON_MBWU_L", 0, 1),
        (0x0890, "MSMON_MBWU_L_CAPTURE", 0, 0),
        (0x0894, "MSMON_MBWU_L_CAPTURE", 0, 1),
        (0x1000, "MPAMCFG_CPBM", 0, 0),
        (0x1FFC, "MPAMCFG_CPBM", 1023, 0),
        (0x2000, "MPAMCFG_MBW_PBM", 0, 0),
        (0x21FC, "MPAMCFG_MBW_PBM", 127, 0),
    ],
)
def test_word_at(offset: int, name: str, index: int, half: int) -> None:
    w = word_at(offset)
    assert w is not None
    assert (w.reg.name, w.index, w.half) == (name, index, half)


@pytest.mark.parametrize(
    "offset",
    [0x000C, 0x0010, 0x0058, 0x0098, 0x0104, 0x0120, 0x0210, 0x0324, 0x0604, 0x0870, 0x08F4,
     0x2200, 0x2FFC, 0x3004, 0x3100, 0x321C, 0x3FFC],
)  # fmt: skip
def test_reserved_offsets_have_no_register(offset: int) -> None:
    assert word_at(offset) is None


@pytest.mark.parametrize(("reg_name", "field_name", "lsb", "width"), FIELDS,
                         ids=lambda x: str(x))  # fmt: skip
def test_bit_field(reg_name: str, field_name: str, lsb: int, width: int) -> None:
    f = field(reg_name, field_name)
    assert (f.lsb, f.width) == (lsb, width)
    assert f.mask == ((1 << width) - 1) << lsb


@pytest.mark.parametrize("name", ["MSMON_MBWU_L", "MSMON_MBWU_L_CAPTURE"])
def test_long_counter_value_field(name: str) -> None:
    """VALUE[62:0] with LWD=1 (the widest form); bits [62:44] are RES0 when LWD=0."""
    f = field(name, "VALUE")
    assert (f.lsb, f.width) == (0, 63)


def test_no_two_registers_overlap() -> None:
    spans = sorted((r.offset, r.offset + r.count * r.width // 8, r.name) for r in REGISTERS)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        assert end <= start, f"{a} overlaps {b}"


def test_reference_map_itself_has_no_overlap() -> None:
    spans = sorted((off, off + count * width // 8, n) for n, off, width, count in REGISTER_MAP)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        assert end <= start, f"{a} overlaps {b}"


def test_registers_are_word_aligned_and_in_the_64k_block() -> None:
    for r in REGISTERS:
        assert r.offset % 4 == 0, r.name
        assert r.end <= 0x4000, r.name


@pytest.mark.parametrize("r", REGISTERS, ids=lambda r: r.name)
def test_fields_fit_and_do_not_overlap(r: Register) -> None:
    seen = 0
    for f in r.fields:
        assert f.lsb + f.width <= r.width, f"{r.name}.{f.name}"
        assert not seen & f.mask, f"{r.name}.{f.name} overlaps another field"
        seen |= f.mask


def test_access_kinds() -> None:
    """IHI0099 Table 9-8: RO ID registers, WO enable/disable, the capture trigger, the selectors."""
    for name in ("MPAMF_IDR", "MPAMF_IIDR", "MPAMF_AIDR", "MPAMF_CPOR_IDR", "MPAMF_CCAP_IDR",
                 "MPAMF_MBW_IDR", "MPAMF_PRI_IDR", "MPAMF_PARTID_NRW_IDR", "MPAMF_MSMON_IDR",
                 "MPAMF_CSUMON_IDR", "MPAMF_MBWUMON_IDR", "MSMON_OFLOW_SR"):  # fmt: skip
        assert reg(name).access is Access.RO, name
    assert reg("MPAMCFG_EN").access is Access.WO
    assert reg("MPAMCFG_DIS").access is Access.WO
    assert reg("MSMON_CAPT_EVNT").access is Access.TRIGGER
    assert reg("MPAMCFG_PART_SEL").access is Access.SELECTOR
    assert reg("MSMON_CFG_MON_SEL").access is Access.SELECTOR
    for name in ("MPAMCFG_CMAX", "MPAMCFG_MBW_MAX", "MPAMF_ECR", "MPAMF_ESR", "MSMON_MBWU"):
        assert reg(name).access is Access.RW, name


def test_scopes() -> None:
    """IHI0099's RIS rules: RIS-independent registers, per-RIS ID registers, per-PARTID and
    per-monitor."""
    for name in ("MPAMF_AIDR", "MPAMF_IIDR", "MPAMF_ECR", "MPAMF_ESR", "MPAMF_PARTID_NRW_IDR",
                 "MSMON_OFLOW_SR", "MSMON_CAPT_EVNT", "MPAMCFG_PART_SEL", "MSMON_CFG_MON_SEL",
                 "MPAMCFG_INTPARTID", "MPAMCFG_EN", "MPAMCFG_DIS", "MPAMCFG_EN_FLAGS"):  # fmt: skip
        assert reg(name).scope is Scope.MSC, name
    for name in ("MPAMF_IDR", "MPAMF_IMPL_IDR", "MPAMF_CPOR_IDR", "MPAMF_CCAP_IDR",
                 "MPAMF_MBW_IDR", "MPAMF_PRI_IDR", "MPAMF_MSMON_IDR", "MPAMF_CSUMON_IDR",
                 "MPAMF_MBWUMON_IDR"):  # fmt: skip
        assert reg(name).scope is Scope.RIS, name
    for name in ("MPAMCFG_CPBM", "MPAMCFG_CMAX", "MPAMCFG_CMIN", "MPAMCFG_CASSOC",
                 "MPAMCFG_MBW_MIN", "MPAMCFG_MBW_MAX", "MPAMCFG_MBW_PBM", "MPAMCFG_PRI",
                 "MPAMCFG_MBW_PROP"):  # fmt: skip
        assert reg(name).scope is Scope.PARTID, name
    for name in ("MSMON_CFG_CSU_FLT", "MSMON_CFG_CSU_CTL", "MSMON_CFG_MBWU_FLT",
                 "MSMON_CFG_MBWU_CTL", "MSMON_CSU", "MSMON_MBWU", "MSMON_MBWU_L",
                 "MSMON_CSU_CAPTURE", "MSMON_MBWU_CAPTURE", "MSMON_MBWU_L_CAPTURE"):  # fmt: skip
        assert reg(name).scope is Scope.MONITOR, name


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (0x0000, "MPAMF_IDR[31:0]"),
        (0x0004, "MPAMF_IDR[63:32]"),
        (0x00FC, "MPAMF_ESR[63:32]"),
        (0x0100, "MPAMCFG_PART_SEL"),
        (0x100C, "MPAMCFG_CPBM<3>"),
        (0x2004, "MPAMCFG_MBW_PBM<1>"),
        (0x0884, "MSMON_MBWU_L[63:32]"),
        (0x3FFC, "reserved"),
        (0x0102, "reserved"),
    ],
)
def test_describe(offset: int, text: str) -> None:
    assert Msc.describe(offset) == text
