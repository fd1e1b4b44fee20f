"""The PE's MPAM system registers, declared once as data.

Every encoding and field position here is the Arm ARM's (its MPAM system-register
descriptions; the encodings agree with gem5's src/arch/arm/regs/misc_types.hh and QEMU's CPU
MPAM support); the CPU model and everything above it name registers and fields
and derive shifts and masks from this table, so a bit position is written down exactly once.

Each field has an access kind (`AccessKind`): RW bits are stored by a write, RO bits are
computed by the PE and ignore writes; bits that no field covers are RES0. A field may also
name the `CpuMpam` feature it needs (`requires`): without that feature it is RES0 too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "REGISTERS",
    "REG_WIDTH",
    "AccessKind",
    "Encoding",
    "Field",
    "SysReg",
    "field",
    "field_get",
    "field_prep",
    "field_set",
    "phypartid_location",
    "register",
    "register_by_encoding",
    "writable_mask",
]

#: Every MPAM system register is 64 bits wide.
REG_WIDTH = 64
_REG_MASK = (1 << REG_WIDTH) - 1


class AccessKind(Enum):
    """How software may access a field (the closed set the CPU model implements)."""

    RW = "RW"  # stored by MSR, returned by MRS
    RO = "RO"  # computed by the PE (ID values, views of other registers); writes ignored


@dataclass(frozen=True)
class Encoding:
    """An MRS/MSR system-register encoding (op0, op1, CRn, CRm, op2)."""

    op0: int
    op1: int
    crn: int
    crm: int
    op2: int

    def __str__(self) -> str:
        """The assembler's generic name, e.g. ``S3_0_C10_C5_1`` (what `msr_s` spells out)."""
        return f"S{self.op0}_{self.op1}_C{self.crn}_C{self.crm}_{self.op2}"


@dataclass(frozen=True)
class Field:
    """A bit field ``[lsb + width - 1 : lsb]`` of a system register."""

    name: str
    lsb: int
    width: int = 1
    access: AccessKind = AccessKind.RW
    requires: str | None = None  # CpuMpam attribute that must be true, else the field is RES0

    def __post_init__(self) -> None:
        if self.width < 1 or self.lsb < 0 or self.lsb + self.width > REG_WIDTH:
            raise ValueError(f"field {self.name} [{self.msb}:{self.lsb}] outside 64 bits")

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def mask(self) -> int:
        """The field's bits in place in the register."""
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class SysReg:
    """One system register: name, encoding, fields and when it exists.

    `requires` lists the `CpuMpam` attributes that must all be true for the register to be
    implemented (an access to it is UNDEFINED otherwise). `vpm` is n for MPAMVPM<n>_EL2,
    which exists only when n <= MPAMIDR_EL1.VPMR_MAX. A register whose `read_only` is set
    has no MSR encoding at all.
    """

    name: str
    encoding: Encoding
    fields: tuple[Field, ...]
    requires: tuple[str, ...] = ()
    read_only: bool = False
    vpm: int | None = None

    def __post_init__(self) -> None:
        seen = 0
        for f in self.fields:
            if seen & f.mask:
                raise ValueError(f"{self.name}.{f.name} overlaps another field")
            seen |= f.mask
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError(f"{self.name} has two fields with one name")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def writable_mask(self) -> int:
        """Bits an MSR can change when every optional feature is implemented."""
        if self.read_only:
            return 0
        mask = 0
        for f in self.fields:
            if f.access is AccessKind.RW:
                mask |= f.mask
        return mask


def _enc(op0: int, op1: int, crn: int, crm: int, op2: int) -> Encoding:
    return Encoding(op0, op1, crn, crm, op2)


def _labels(*extra: Field) -> tuple[Field, ...]:
    """PARTID_I[15:0], PARTID_D[31:16], PMG_I[39:32], PMG_D[47:40]: shared by MPAMn_ELx."""
    return (
        Field("PARTID_I", 0, 16),
        Field("PARTID_D", 16, 16),
        Field("PMG_I", 32, 8),
        Field("PMG_D", 40, 8),
        *extra,
    )


_RO = AccessKind.RO

_TABLE: tuple[SysReg, ...] = (
    SysReg(
        "MPAM0_EL1",
        _enc(3, 0, 10, 5, 1),
        _labels(),
    ),
    SysReg(
        "MPAM1_EL1",
        _enc(3, 0, 10, 5, 0),
        _labels(
            # RW only when EL1 is the highest EL; otherwise the CPU model presents it as a
            # read-only view of the highest EL's MPAMEN.
            Field("MPAMEN", 63),
            Field("FORCED_NS", 60, access=_RO),  # reflects MPAM3_EL3.FORCE_NS
            # ALTSP_FRCD: Arm ARM only, not confirmed by gem5; no ALTSP support, so it reads 0.
            Field("ALTSP_FRCD", 54, access=_RO),
        ),
    ),
    SysReg(
        "MPAM2_EL2",
        _enc(3, 4, 10, 5, 0),
        _labels(
            Field("MPAMEN", 63),  # a read-only view of MPAM3_EL3.MPAMEN when EL3 exists
            Field("TIDR", 58, requires="has_tidr"),
            Field("EnMPAMSM", 50, requires="has_sme"),
            Field("TRAPMPAM0EL1", 49),
            Field("TRAPMPAM1EL1", 48),
            # ALTSP_HFC (~56), ALTSP_EL2 (~55) and ALTSP_FRCD (~54) are left out: their bit
            # positions are unconfirmed (unlike the fields above, no second source such as
            # gem5 agrees on them); they read as 0.
        ),
        requires=("el2",),
    ),
    SysReg(
        "MPAM3_EL3",
        _enc(3, 6, 10, 5, 0),
        _labels(
            Field("MPAMEN", 63),
            Field("TRAPLOWER", 62),
            Field("SDEFLT", 61, requires="has_sdeflt"),
            Field("FORCE_NS", 60, requires="has_force_ns"),
            # ALTSP_HEN (~57), ALTSP_HFC (~56), ALTSP_EL3 (~55) and RT_ALTSP_NS (~52) are
            # left out: their bit positions are unconfirmed (unlike the fields above, no
            # second source such as gem5 agrees on them); they read as 0.
        ),
        requires=("el3",),
    ),
    SysReg(
        "MPAMIDR_EL1",
        _enc(3, 0, 10, 4, 4),
        (
            Field("PARTID_MAX", 0, 16, _RO),
            Field("HAS_HCR", 17, access=_RO),
            Field("VPMR_MAX", 18, 3, _RO),
            # HAS_ALT_ID .. SP4: from the Arm ARM's XML register listing, not confirmed by
            # a second source (gem5 confirms the other fields).
            Field("HAS_ALT_ID", 21, access=_RO),
            Field("HAS_INSTR_ALT_ID", 22, access=_RO),
            Field("PMG_MAX", 32, 8, _RO),
            Field("HAS_BW_CTRL", 56, access=_RO),
            Field("HAS_ALTSP", 57, access=_RO),
            Field("HAS_TIDR", 58, access=_RO),
            Field("SP4", 59, access=_RO),
            Field("HAS_FORCE_NS", 60, access=_RO),
            Field("HAS_SDEFLT", 61, access=_RO),
        ),
        read_only=True,
    ),
    SysReg(
        "MPAMHCR_EL2",
        _enc(3, 4, 10, 4, 0),
        (
            Field("EL0_VPMEN", 0),
            Field("EL1_VPMEN", 1),
            Field("GSTAPP_PLK", 8),
            Field("TRAP_MPAMIDR_EL1", 31),
        ),
        requires=("el2", "has_hcr"),
    ),
    SysReg(
        "MPAMVPMV_EL2",
        _enc(3, 4, 10, 4, 1),
        # VPM_V<m> is bit m; bits above the implemented vPARTID range are RES0 in the model.
        (Field("VPM_V", 0, 32),),
        requires=("el2", "has_hcr"),
    ),
    *(
        SysReg(
            f"MPAMVPM{n}_EL2",
            _enc(3, 4, 10, 6, n),
            # PhyPARTID(4n+k) sits in bits [16k+15:16k].
            tuple(Field(f"PhyPARTID{4 * n + k}", 16 * k, 16) for k in range(4)),
            requires=("el2", "has_hcr"),
            vpm=n,
        )
        for n in range(8)
    ),
    SysReg(
        "MPAMSM_EL1",
        _enc(3, 0, 10, 5, 3),
        (Field("PARTID_D", 16, 16), Field("PMG_D", 40, 8)),
        requires=("has_sme",),
    ),
    # The feature ID registers: only their MPAM fields are modelled (other bits read 0).
    # Their encodings and MPAM field positions are the Arm ARM's.
    SysReg(
        "ID_AA64PFR0_EL1",
        _enc(3, 0, 0, 4, 0),
        (Field("MPAM", 40, 4, _RO),),
        read_only=True,
    ),
    SysReg(
        "ID_AA64PFR1_EL1",
        _enc(3, 0, 0, 4, 1),
        (Field("MPAM_frac", 16, 4, _RO),),
        read_only=True,
    ),
)

#: Every register of the table by name.
REGISTERS: Mapping[str, SysReg] = MappingProxyType({r.name: r for r in _TABLE})

_BY_ENCODING: Mapping[Encoding, SysReg] = MappingProxyType({r.encoding: r for r in _TABLE})
if len(_BY_ENCODING) != len(_TABLE):  # pragma: no cover - a table typo
    raise AssertionError("two system registers share an encoding")

_FIELDS: Mapping[tuple[str, str], Field] = MappingProxyType(
    {(r.name, f.name): f for r in _TABLE for f in r.fields}
)

_PHYPARTID: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        int(f.name.removeprefix("PhyPARTID")): (r.name, f.name)
        for r in _TABLE
        if r.vpm is not None
        for f in r.fields
    }
)


def register(name: str) -> SysReg:
    """The register called `name` (KeyError names it when the table has no such register)."""
    try:
        return REGISTERS[name]
    except KeyError:
        raise KeyError(f"no MPAM system register {name!r}") from None


def register_by_encoding(encoding: Encoding) -> SysReg:
    """The register an MRS/MSR encoding names, so a decoder needs no table of its own."""
    try:
        return _BY_ENCODING[encoding]
    except KeyError:
        raise KeyError(f"no MPAM system register at {encoding}") from None


def field(reg_name: str, field_name: str) -> Field:
    """The field `reg_name.field_name`."""
    try:
        return _FIELDS[(reg_name, field_name)]
    except KeyError:
        register(reg_name)  # a clearer error when the register itself is unknown
        raise KeyError(f"{reg_name} has no field {field_name!r}") from None


def field_get(reg_name: str, field_name: str, value: int) -> int:
    """Extract `reg_name.field_name` from a register value (FIELD_GET)."""
    f = field(reg_name, field_name)
    return (value >> f.lsb) & ((1 << f.width) - 1)


def field_prep(reg_name: str, field_name: str, fieldvalue: int) -> int:
    """Shift `fieldvalue` into place for `reg_name.field_name` (FIELD_PREP).

    Raises ValueError when the value does not fit, instead of silently truncating it: a
    PARTID that loses its top bits would label traffic for another partition.
    """
    f = field(reg_name, field_name)
    if not 0 <= fieldvalue < (1 << f.width):
        raise ValueError(f"{fieldvalue:#x} does not fit {reg_name}.{field_name} [{f.msb}:{f.lsb}]")
    return fieldvalue << f.lsb


def field_set(reg_name: str, field_name: str, value: int, fieldvalue: int) -> int:
    """`value` with `reg_name.field_name` replaced by `fieldvalue` (read-modify-write)."""
    f = field(reg_name, field_name)
    return (value & ~f.mask & _REG_MASK) | field_prep(reg_name, field_name, fieldvalue)


def writable_mask(reg_name: str) -> int:
    """Bits of `reg_name` an MSR can change when every optional feature is implemented.

    The CPU model narrows this further for features a given PE lacks (`Field.requires`)
    and for bits that are views of another EL's register.
    """
    return register(reg_name).writable_mask


def phypartid_location(vpartid: int) -> tuple[str, str]:
    """(register, field) holding PhyPARTID(vpartid): MPAMVPM<vpartid / 4>_EL2."""
    try:
        return _PHYPARTID[vpartid]
    except KeyError:
        raise ValueError(f"virtual PARTID {vpartid} has no mapping entry (0..31)") from None
