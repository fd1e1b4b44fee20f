"""One PE's MPAM registers (MRS/MSR) and label generation (the Arm ARM's MPAM system
registers and its GenMPAMAtEL pseudocode; the rules are numbered as `Cpu.label` lists them).

Register values here are written with literal shifts from the Arm ARM's field positions
(PARTID_I [15:0], PARTID_D [31:16], PMG_I [39:32], PMG_D [47:40], MPAMEN 63, ...), so the
tests do not lean on the table they check.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpam.hw.cpu import Access, Cpu, Label, UndefinedInstruction
from mpam.platform.model import CpuMpam

D = Access.DATA
I = Access.INSTRUCTION  # noqa: E741

MPAMEN = 1 << 63
TRAPLOWER = 1 << 62
SDEFLT = 1 << 61
FORCE_NS = 1 << 60
FORCED_NS = 1 << 60  # MPAM1_EL1
EL0_VPMEN = 1 << 0
EL1_VPMEN = 1 << 1
GSTAPP_PLK = 1 << 8
ALL_ONES = (1 << 64) - 1


def labels(partid_i: int = 0, partid_d: int = 0, pmg_i: int = 0, pmg_d: int = 0) -> int:
    """An MPAMn_ELx value from its four label fields."""
    return partid_i | partid_d << 16 | pmg_i << 32 | pmg_d << 40


def vpm(p0: int = 0, p1: int = 0, p2: int = 0, p3: int = 0) -> int:
    """An MPAMVPM<n>_EL2 value: PhyPARTID(4n+k) in bits [16k+15:16k]."""
    return p0 | p1 << 16 | p2 << 32 | p3 << 48


def make(**kw: Any) -> Cpu:
    return Cpu(0, CpuMpam(**kw))


def enabled(**kw: Any) -> Cpu:
    """A PE whose highest EL has set MPAMEN, as firmware does at boot."""
    cpu = make(**kw)
    top = "MPAM3_EL3" if cpu.mpam.el3 else "MPAM2_EL2" if cpu.mpam.el2 else "MPAM1_EL1"
    cpu.write_sysreg(top, MPAMEN)
    return cpu


# -- construction, ID registers ---------------------------------------------------------


def test_mpamidr_built_from_cpumpam() -> None:
    cpu = make()  # partid_max 63, pmg_max 1, has_hcr, vpmr_max 7
    assert cpu.read_sysreg("MPAMIDR_EL1") == 63 | 1 << 17 | 7 << 18 | 1 << 32


def test_mpamidr_feature_bits() -> None:
    cpu = make(
        partid_max=0xFFFF,
        pmg_max=0xFF,
        has_hcr=False,
        vpmr_max=3,
        has_sdeflt=True,
        has_force_ns=True,
        has_tidr=True,
    )
    value = cpu.read_sysreg("MPAMIDR_EL1")
    assert value & 0xFFFF == 0xFFFF
    assert value >> 32 & 0xFF == 0xFF
    assert not value >> 17 & 1  # HAS_HCR
    assert value >> 18 & 7 == 0  # VPMR_MAX means nothing without HAS_HCR
    assert value >> 61 & 1  # HAS_SDEFLT
    assert value >> 60 & 1  # HAS_FORCE_NS
    assert value >> 58 & 1  # HAS_TIDR
    for bit in (21, 22, 56, 57, 59):  # not modelled: read as 0
        assert not value >> bit & 1


def test_features_need_their_el() -> None:
    """A feature whose control sits in an absent EL's register is not advertised."""
    cpu = make(el2=False, el3=False, has_hcr=True, has_sdeflt=True, has_force_ns=True)
    value = cpu.read_sysreg("MPAMIDR_EL1")
    assert value & (1 << 17 | 1 << 60 | 1 << 61) == 0


def test_cpumpam_that_does_not_fit_mpamidr() -> None:
    with pytest.raises(ValueError, match="PARTID_MAX"):
        make(partid_max=0x10000)
    with pytest.raises(ValueError, match="PMG_MAX"):
        make(pmg_max=256)
    with pytest.raises(ValueError, match="version"):
        make(version="2.0")


@pytest.mark.parametrize(
    ("version", "pfr0", "pfr1"),
    [("1.0", 1 << 40, 0), ("1.1", 1 << 40, 1 << 16), ("0.1", 0, 1 << 16)],
)
def test_id_registers(version: str, pfr0: int, pfr1: int) -> None:
    cpu = make(version=version)
    assert cpu.id_aa64pfr0_el1 == pfr0
    assert cpu.id_aa64pfr1_el1 == pfr1
    assert cpu.read_sysreg("ID_AA64PFR0_EL1") == pfr0
    assert cpu.read_sysreg("ID_AA64PFR1_EL1") == pfr1


# -- reset ------------------------------------------------------------------------------

RW_REGS = [
    "MPAM0_EL1",
    "MPAM1_EL1",
    "MPAM2_EL2",
    "MPAM3_EL3",
    "MPAMHCR_EL2",
    "MPAMVPMV_EL2",
    *(f"MPAMVPM{n}_EL2" for n in range(8)),
    "MPAMSM_EL1",
]


@pytest.mark.parametrize("reg", RW_REGS)
def test_reset_values_are_zero(reg: str) -> None:
    cpu = make(has_sme=True)
    assert cpu.read_sysreg(reg) == 0


def test_reset_gives_default_labels() -> None:
    cpu = make()
    assert not cpu.mpam_enabled
    for el in range(4):
        for access in Access:
            assert cpu.label(access, el) == Label(0, 0, "S" if el == 3 else "NS", False)


def test_reset_method_clears_everything() -> None:
    cpu = enabled(has_sme=True)
    for reg in RW_REGS:
        cpu.write_sysreg(reg, ALL_ONES)
    cpu.reset()
    for reg in RW_REGS:
        assert cpu.read_sysreg(reg) == 0
    assert cpu.read_sysreg("MPAMIDR_EL1") == 63 | 1 << 17 | 7 << 18 | 1 << 32


# -- absent registers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "absent"),
    [
        ({"el3": False}, "MPAM3_EL3"),
        ({"el2": False}, "MPAM2_EL2"),
        ({"el2": False}, "MPAMHCR_EL2"),
        ({"el2": False}, "MPAMVPMV_EL2"),
        ({"el2": False}, "MPAMVPM0_EL2"),
        ({"has_hcr": False}, "MPAMHCR_EL2"),
        ({"has_hcr": False}, "MPAMVPMV_EL2"),
        ({"has_hcr": False}, "MPAMVPM0_EL2"),
        ({"vpmr_max": 1}, "MPAMVPM2_EL2"),
        ({"vpmr_max": 0}, "MPAMVPM7_EL2"),
        ({"has_sme": False}, "MPAMSM_EL1"),
    ],
)
def test_absent_register_is_undefined(kw: dict[str, Any], absent: str) -> None:
    cpu = make(**kw)
    assert not cpu.implements(absent)
    with pytest.raises(UndefinedInstruction, match=absent) as exc:
        cpu.read_sysreg(absent)
    assert exc.value.register == absent
    assert exc.value.cpu == 0
    with pytest.raises(UndefinedInstruction, match=absent):
        cpu.write_sysreg(absent, 0)


def test_present_registers() -> None:
    cpu = make(vpmr_max=1, has_hcr=True, el3=False, has_sme=True)
    for reg in ("MPAM0_EL1", "MPAM1_EL1", "MPAM2_EL2", "MPAMHCR_EL2", "MPAMVPMV_EL2"):
        assert cpu.implements(reg)
    assert cpu.implements("MPAMVPM0_EL2")
    assert cpu.implements("MPAMVPM1_EL2")
    assert cpu.implements("MPAMSM_EL1")
    assert not cpu.implements("MPAMVPM2_EL2")
    # MPAM2_EL2 exists without MPAMHCR_EL2
    assert make(has_hcr=False).implements("MPAM2_EL2")


def test_unknown_register_name() -> None:
    cpu = make()
    with pytest.raises(KeyError, match="MPAM9_EL1"):
        cpu.read_sysreg("MPAM9_EL1")
    with pytest.raises(KeyError, match="MPAM9_EL1"):
        cpu.write_sysreg("MPAM9_EL1", 0)


# -- read-only and RES0 bits ------------------------------------------------------------


def test_read_only_registers_are_undefined_to_write() -> None:
    cpu = make()
    before = cpu.read_sysreg("MPAMIDR_EL1")
    for reg in ("MPAMIDR_EL1", "ID_AA64PFR0_EL1", "ID_AA64PFR1_EL1"):
        with pytest.raises(UndefinedInstruction, match="read-only"):
            cpu.write_sysreg(reg, 0)
    assert cpu.read_sysreg("MPAMIDR_EL1") == before


def test_value_must_be_64_bit() -> None:
    cpu = make()
    with pytest.raises(ValueError):
        cpu.write_sysreg("MPAM0_EL1", 1 << 64)
    with pytest.raises(ValueError):
        cpu.write_sysreg("MPAM0_EL1", -1)


@pytest.mark.parametrize(
    ("kw", "reg", "readback"),
    [
        ({}, "MPAM0_EL1", 0x0000_FFFF_FFFF_FFFF),
        # EL3 above: MPAMEN is a view of MPAM3_EL3.MPAMEN (0); FORCED_NS, ALTSP_FRCD RO
        ({}, "MPAM1_EL1", 0x0000_FFFF_FFFF_FFFF),
        # EL1 is the highest EL: MPAMEN is writable there
        ({"el2": False, "el3": False}, "MPAM1_EL1", 0x8000_FFFF_FFFF_FFFF),
        # EL3 above: MPAM2_EL2.MPAMEN is a view; TIDR/EnMPAMSM absent without features
        ({}, "MPAM2_EL2", 0x0003_FFFF_FFFF_FFFF),
        ({"has_tidr": True, "has_sme": True}, "MPAM2_EL2", 0x0407_FFFF_FFFF_FFFF),
        ({"el3": False}, "MPAM2_EL2", 0x8003_FFFF_FFFF_FFFF),
        ({}, "MPAM3_EL3", 0xC000_FFFF_FFFF_FFFF),
        ({"has_sdeflt": True, "has_force_ns": True}, "MPAM3_EL3", 0xF000_FFFF_FFFF_FFFF),
        ({}, "MPAMHCR_EL2", 0x8000_0103),
        ({}, "MPAMVPMV_EL2", 0xFFFF_FFFF),
        ({"vpmr_max": 0}, "MPAMVPMV_EL2", 0xF),  # only vPARTIDs 0..3 have entries
        ({"vpmr_max": 2}, "MPAMVPMV_EL2", 0xFFF),
        ({}, "MPAMVPM5_EL2", ALL_ONES),
        ({"has_sme": True}, "MPAMSM_EL1", 0x0000_FF00_FFFF_0000),
    ],
)
def test_write_all_ones_reads_back_implemented_bits(
    kw: dict[str, Any], reg: str, readback: int
) -> None:
    cpu = make(**kw)
    cpu.write_sysreg(reg, ALL_ONES)
    assert cpu.read_sysreg(reg) == readback
    cpu.write_sysreg(reg, 0)
    assert cpu.read_sysreg(reg) == 0


def test_mpam1_mpamen_is_a_view_of_the_highest_el() -> None:
    cpu = make()
    cpu.write_sysreg("MPAM1_EL1", MPAMEN)  # ignored: EL3 owns the enable
    assert not cpu.mpam_enabled
    cpu.write_sysreg("MPAM3_EL3", MPAMEN)
    assert cpu.mpam_enabled
    assert cpu.read_sysreg("MPAM1_EL1") == MPAMEN
    assert cpu.read_sysreg("MPAM2_EL2") == MPAMEN
    cpu.write_sysreg("MPAM1_EL1", 0)  # does not clear it either
    cpu.write_sysreg("MPAM2_EL2", 0)
    assert cpu.mpam_enabled
    assert cpu.read_sysreg("MPAM1_EL1") == MPAMEN


def test_mpamen_owned_by_el2_without_el3() -> None:
    cpu = make(el3=False)
    cpu.write_sysreg("MPAM1_EL1", MPAMEN)
    assert not cpu.mpam_enabled
    cpu.write_sysreg("MPAM2_EL2", MPAMEN)
    assert cpu.mpam_enabled
    assert cpu.read_sysreg("MPAM1_EL1") == MPAMEN


def test_mpamen_owned_by_el1_when_highest() -> None:
    cpu = make(el2=False, el3=False)
    cpu.write_sysreg("MPAM1_EL1", MPAMEN | labels(partid_d=2))
    assert cpu.mpam_enabled
    assert cpu.label(D, 1) == Label(2, 0, "NS", False)


def test_forced_ns_reflects_mpam3_force_ns() -> None:
    cpu = make(has_force_ns=True)
    cpu.write_sysreg("MPAM1_EL1", FORCED_NS)  # RO: ignored
    assert cpu.read_sysreg("MPAM1_EL1") == 0
    cpu.write_sysreg("MPAM3_EL3", FORCE_NS)
    assert cpu.read_sysreg("MPAM1_EL1") == FORCED_NS


def test_mpam3_trap_bits_stored() -> None:
    cpu = make()
    cpu.write_sysreg("MPAM3_EL3", TRAPLOWER | SDEFLT | FORCE_NS)
    assert cpu.read_sysreg("MPAM3_EL3") == TRAPLOWER  # SDEFLT/FORCE_NS RES0 by default


def test_mpamsm_is_read_write_and_does_not_label() -> None:
    cpu = enabled(has_sme=True)
    cpu.write_sysreg("MPAMSM_EL1", labels(partid_d=9, pmg_d=1))
    assert cpu.read_sysreg("MPAMSM_EL1") == labels(partid_d=9, pmg_d=1)
    assert cpu.label(D, 0) == Label(0, 0, "NS", False)


@settings(max_examples=50)
@given(reg=st.sampled_from(RW_REGS), value=st.integers(min_value=0, max_value=ALL_ONES))
def test_write_then_read_keeps_only_writable_bits(reg: str, value: int) -> None:
    cpu = make(has_sme=True)
    cpu.write_sysreg(reg, ALL_ONES)
    mask = cpu.read_sysreg(reg)
    cpu.write_sysreg(reg, value)
    assert cpu.read_sysreg(reg) == value & mask


# -- rule 1: enable ---------------------------------------------------------------------


def test_mpamen_off_gives_default() -> None:
    cpu = make()
    cpu.write_sysreg("MPAM0_EL1", labels(5, 6, 1, 1))
    cpu.write_sysreg("MPAM1_EL1", labels(7, 8, 1, 1))
    assert cpu.label(D, 0) == Label(0, 0, "NS", False)
    assert cpu.label(I, 1) == Label(0, 0, "NS", False)
    assert cpu.label(D, 1, secure=True) == Label(0, 0, "S", False)
    cpu.write_sysreg("MPAM3_EL3", MPAMEN)
    assert cpu.label(D, 0) == Label(6, 1, "NS", False)


# -- the RD-N2 walkthrough ---------------------------------------------------------------


def test_seed_walkthrough_value() -> None:
    """MPAM0_EL1 = 0x10001 (PARTID_I = PARTID_D = 1, PMG 0) labels EL0 traffic PARTID 1."""
    cpu = enabled()
    cpu.write_sysreg("MPAM0_EL1", 0x10001)
    assert cpu.label(D, 0) == Label(1, 0, "NS", False)
    assert cpu.label(I, 0) == Label(1, 0, "NS", False)
    # EL1 (the kernel) still uses MPAM1_EL1, which Linux leaves at 0
    assert cpu.label(D, 1) == Label(0, 0, "NS", False)
    cpu.write_sysreg("MPAM0_EL1", 0)
    assert cpu.label(D, 0) == Label(0, 0, "NS", False)


# -- rule 3: register choice ------------------------------------------------------------


def test_data_versus_instruction_fields() -> None:
    cpu = enabled()
    cpu.write_sysreg("MPAM0_EL1", labels(partid_i=3, partid_d=5, pmg_i=1, pmg_d=0))
    assert cpu.label(D, 0) == Label(5, 0, "NS", False)
    assert cpu.label(I, 0) == Label(3, 1, "NS", False)


def test_register_by_el() -> None:
    cpu = enabled()
    cpu.write_sysreg("MPAM0_EL1", labels(1, 2))
    cpu.write_sysreg("MPAM1_EL1", labels(3, 4))
    cpu.write_sysreg("MPAM2_EL2", labels(5, 6))
    cpu.write_sysreg("MPAM3_EL3", MPAMEN | labels(7, 8))
    assert cpu.label(D, 0).partid == 2
    assert cpu.label(I, 0).partid == 1
    assert cpu.label(D, 1).partid == 4
    assert cpu.label(I, 1).partid == 3
    assert cpu.label(D, 2).partid == 6
    assert cpu.label(I, 2).partid == 5
    assert cpu.label(D, 3) == Label(8, 0, "S", False)
    assert cpu.label(I, 3) == Label(7, 0, "S", False)


def test_gstapp_plk_uses_el1_labels_for_guest_el0() -> None:
    cpu = enabled()
    cpu.write_sysreg("MPAM0_EL1", labels(partid_d=2, pmg_d=1))
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=9, pmg_d=0))
    cpu.write_sysreg("MPAMHCR_EL2", GSTAPP_PLK)
    assert cpu.label(D, 0) == Label(9, 0, "NS", False)
    # in the host (HCR_EL2.TGE = 1) EL0 keeps its own register
    assert cpu.label(D, 0, hcr_tge=True) == Label(2, 1, "NS", False)
    # EL1 itself is unaffected
    assert cpu.label(D, 1) == Label(9, 0, "NS", False)
    cpu.write_sysreg("MPAMHCR_EL2", 0)
    assert cpu.label(D, 0) == Label(2, 1, "NS", False)


def test_label_rejects_unimplemented_el() -> None:
    with pytest.raises(ValueError, match="EL2"):
        make(el2=False).label(D, 2)
    with pytest.raises(ValueError, match="EL3"):
        make(el3=False).label(D, 3)
    with pytest.raises(ValueError, match="EL4"):
        make().label(D, 4)


# -- rule 4: PARTID range check ---------------------------------------------------------


def test_partid_above_partid_max_is_default_with_error() -> None:
    cpu = enabled(partid_max=63, pmg_max=1)
    cpu.write_sysreg("MPAM0_EL1", labels(partid_d=64, pmg_d=1, partid_i=63, pmg_i=1))
    # the PMG is CONSTRAINED UNPREDICTABLE after a PARTID error: the default, as GenPMG
    assert cpu.label(D, 0) == Label(0, 0, "NS", True)
    assert cpu.label(I, 0) == Label(63, 1, "NS", False)


# -- rule 5: virtual PARTID mapping -----------------------------------------------------


def virt(**kw: Any) -> Cpu:
    cpu = enabled(**kw)
    cpu.write_sysreg("MPAMHCR_EL2", EL0_VPMEN | EL1_VPMEN)
    return cpu


def test_virtual_partid_mapped() -> None:
    cpu = virt()
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p2=17))
    cpu.write_sysreg("MPAMVPM1_EL2", vpm(p1=33))  # PhyPARTID5
    cpu.write_sysreg("MPAMVPMV_EL2", 1 << 2 | 1 << 5)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=2, pmg_d=1, partid_i=5))
    assert cpu.label(D, 1) == Label(17, 1, "NS", False)
    assert cpu.label(I, 1) == Label(33, 0, "NS", False)


def test_virtual_partid_last_entry() -> None:
    cpu = virt()
    cpu.write_sysreg("MPAMVPM7_EL2", vpm(p3=62))  # PhyPARTID31
    cpu.write_sysreg("MPAMVPMV_EL2", 1 << 31)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=31))
    assert cpu.label(D, 1) == Label(62, 0, "NS", False)


def test_virtual_mapping_needs_vpmen() -> None:
    cpu = enabled()
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p1=40))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b10)
    cpu.write_sysreg("MPAM0_EL1", labels(partid_d=1))
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=1))
    assert cpu.label(D, 0).partid == 1
    assert cpu.label(D, 1).partid == 1
    cpu.write_sysreg("MPAMHCR_EL2", EL1_VPMEN)
    assert cpu.label(D, 0).partid == 1
    assert cpu.label(D, 1).partid == 40
    cpu.write_sysreg("MPAMHCR_EL2", EL0_VPMEN)
    assert cpu.label(D, 0).partid == 40
    assert cpu.label(D, 1).partid == 1
    # EL0 in the host is never virtualised
    assert cpu.label(D, 0, hcr_tge=True).partid == 1
    # nor are EL2 and EL3
    cpu.write_sysreg("MPAM2_EL2", labels(partid_d=1))
    assert cpu.label(D, 2).partid == 1


def test_gstapp_plk_then_el1_mapping() -> None:
    """A locked guest application gets EL1's vPARTID, mapped by EL1_VPMEN."""
    cpu = enabled()
    cpu.write_sysreg("MPAMHCR_EL2", GSTAPP_PLK | EL1_VPMEN)
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p3=21))
    cpu.write_sysreg("MPAMVPMV_EL2", 1 << 3)
    cpu.write_sysreg("MPAM0_EL1", labels(partid_d=1))
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=3))
    assert cpu.label(D, 0) == Label(21, 0, "NS", False)


def test_virtual_partid_modulo_reduction() -> None:
    """vpmr_max = 0: four virtual PARTIDs, so vPARTID 5 is reduced to 1."""
    cpu = virt(vpmr_max=0)
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p0=4, p1=9))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b11)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5))
    assert cpu.label(D, 1) == Label(9, 0, "NS", False)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=8))  # 8 mod 4 = 0
    assert cpu.label(D, 1) == Label(4, 0, "NS", False)


def test_virtual_partid_modulo_with_two_registers() -> None:
    cpu = virt(vpmr_max=1)  # vpartid_max = 7
    cpu.write_sysreg("MPAMVPM1_EL2", vpm(p2=12))  # PhyPARTID6
    cpu.write_sysreg("MPAMVPMV_EL2", 1 << 6)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=14))  # 14 mod 8 = 6
    assert cpu.label(D, 1) == Label(12, 0, "NS", False)


def test_invalid_mapping_falls_back_to_vpartid_0() -> None:
    cpu = virt()
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p0=7, p3=30))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b1)  # only vPARTID 0 is valid
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=3, pmg_d=1))
    # MAP_vPARTID: the fallback to PhyPARTID(0) is not an error
    assert cpu.label(D, 1) == Label(7, 1, "NS", False)


def test_invalid_mapping_without_fallback_is_default_with_error() -> None:
    cpu = virt()
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p0=7, p3=30))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b10)  # vPARTID 1 only
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=3, pmg_d=1))
    assert cpu.label(D, 1) == Label(0, 0, "NS", True)
    cpu.write_sysreg("MPAMVPMV_EL2", 0)
    assert cpu.label(D, 1) == Label(0, 0, "NS", True)


def test_mapped_partid_above_partid_max_is_default_with_error() -> None:
    cpu = virt(partid_max=63)
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p1=64, p2=63))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b110)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=1, partid_i=2, pmg_d=1, pmg_i=1))
    assert cpu.label(D, 1) == Label(0, 0, "NS", True)
    assert cpu.label(I, 1) == Label(63, 1, "NS", False)


def test_mapped_fallback_above_partid_max_is_default_with_error() -> None:
    cpu = virt(partid_max=15)
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p0=16))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b1)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=2))
    assert cpu.label(D, 1) == Label(0, 0, "NS", True)


def test_vpartid_range_checked_before_mapping() -> None:
    """Rule 4 comes first: a vPARTID above PARTID_MAX is an error, not reduced."""
    cpu = virt(partid_max=15, vpmr_max=0)
    cpu.write_sysreg("MPAMVPM0_EL2", vpm(p0=3, p1=4))
    cpu.write_sysreg("MPAMVPMV_EL2", 0b11)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=17))  # 17 mod 4 = 1, but 17 > 15
    assert cpu.label(D, 1) == Label(0, 0, "NS", True)


def test_no_mapping_without_hcr() -> None:
    cpu = enabled(has_hcr=False)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5))
    assert cpu.label(D, 1) == Label(5, 0, "NS", False)


# -- rule 6: PMG range check ------------------------------------------------------------


def test_pmg_above_pmg_max_is_default_with_error() -> None:
    cpu = enabled(pmg_max=1)
    cpu.write_sysreg("MPAM0_EL1", labels(partid_d=4, pmg_d=2, partid_i=4, pmg_i=1))
    assert cpu.label(D, 0) == Label(4, 0, "NS", True)
    assert cpu.label(I, 0) == Label(4, 1, "NS", False)


# -- rules 2 and 7: Secure default, PARTID space ----------------------------------------


def test_sdeflt_gives_secure_requests_the_default() -> None:
    cpu = enabled(has_sdeflt=True)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5, pmg_d=1))
    assert cpu.label(D, 1, secure=True) == Label(5, 1, "S", False)
    cpu.write_sysreg("MPAM3_EL3", MPAMEN | SDEFLT | labels(partid_d=6))
    assert cpu.label(D, 1, secure=True) == Label(0, 0, "S", False)
    assert cpu.label(D, 3) == Label(0, 0, "S", False)
    # Non-secure requests are not affected
    assert cpu.label(D, 1) == Label(5, 1, "NS", False)


def test_sdeflt_needs_has_sdeflt() -> None:
    cpu = enabled(has_sdeflt=False)
    cpu.write_sysreg("MPAM3_EL3", MPAMEN | SDEFLT)  # RES0 here
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5))
    assert cpu.label(D, 1, secure=True) == Label(5, 0, "S", False)


def test_space_follows_security_state() -> None:
    cpu = enabled()
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5))
    assert cpu.label(D, 1).space == "NS"
    assert cpu.label(D, 1, secure=True).space == "S"
    assert cpu.label(D, 3).space == "S"  # EL3 is always Secure
    assert cpu.label(D, 3, secure=False).space == "S"


def test_force_ns_puts_secure_requests_in_ns_space() -> None:
    cpu = enabled(has_force_ns=True)
    cpu.write_sysreg("MPAM1_EL1", labels(partid_d=5))
    cpu.write_sysreg("MPAM3_EL3", MPAMEN | FORCE_NS)
    assert cpu.label(D, 1, secure=True) == Label(5, 0, "NS", False)
    assert cpu.label(D, 3).space == "NS"
    assert cpu.label(D, 1) == Label(5, 0, "NS", False)
    # it also holds while MPAM is disabled: the default partition of the NS space
    cpu.write_sysreg("MPAM3_EL3", FORCE_NS)
    assert cpu.label(D, 1, secure=True) == Label(0, 0, "NS", False)


def test_force_ns_needs_has_force_ns() -> None:
    cpu = enabled(has_force_ns=False)
    cpu.write_sysreg("MPAM3_EL3", MPAMEN | FORCE_NS)  # RES0 here
    assert cpu.label(D, 1, secure=True).space == "S"


# -- properties -------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    partid_max=st.integers(min_value=0, max_value=0xFFFF),
    pmg_max=st.integers(min_value=0, max_value=0xFF),
    vpmr_max=st.integers(min_value=0, max_value=7),
    values=st.lists(st.integers(min_value=0, max_value=ALL_ONES), min_size=14, max_size=14),
    access=st.sampled_from(list(Access)),
    el=st.integers(min_value=0, max_value=3),
    secure=st.booleans(),
    hcr_tge=st.booleans(),
)
def test_label_always_in_range(
    partid_max: int,
    pmg_max: int,
    vpmr_max: int,
    values: list[int],
    access: Access,
    el: int,
    secure: bool,
    hcr_tge: bool,
) -> None:
    cpu = make(
        partid_max=partid_max,
        pmg_max=pmg_max,
        vpmr_max=vpmr_max,
        has_sdeflt=True,
        has_force_ns=True,
    )
    regs = [
        "MPAM0_EL1",
        "MPAM1_EL1",
        "MPAM2_EL2",
        "MPAM3_EL3",
        "MPAMHCR_EL2",
        "MPAMVPMV_EL2",
        *(f"MPAMVPM{n}_EL2" for n in range(8)),
    ]
    for reg, value in zip(regs, values, strict=True):
        if cpu.implements(reg):
            cpu.write_sysreg(reg, value)
    label = cpu.label(access, el, secure=secure, hcr_tge=hcr_tge)
    assert 0 <= label.partid <= partid_max
    assert 0 <= label.pmg <= pmg_max
    assert label.space in ("NS", "S")
    if label.error:
        assert label.partid == 0 or label.pmg == 0
