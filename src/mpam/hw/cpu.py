"""One PE's MPAM state: its system registers and the labels they give memory requests.

Software reaches the PE's MPAM state only through `read_sysreg` / `write_sysreg`, the model
of MRS/MSR; every memory request the PE makes is tagged with the `Label` that `Cpu.label`
computes from those registers, following the Arm ARM MPAM pseudocode (GenMPAMAtEL, GenPARTID,
GenPMG, MAP_vPARTID; gem5's src/arch/arm/mpam.cc implements the same), taken as the seven
rules `Cpu.label` lists. Positions and masks all come from `mpam.hw.sysregs`.

Not modelled: the traps (TRAPLOWER, TRAPMPAM0EL1, TRAPMPAM1EL1, TRAP_MPAMIDR_EL1, EnMPAMSM
are stored but never trap: register accesses here are made with full privilege), the
alternative PARTID spaces (ALTSP) and the Realm/Root spaces of RME.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mpam.hw import sysregs
from mpam.hw.sysregs import REG_WIDTH, field_get, field_prep, phypartid_location
from mpam.platform.model import CpuMpam

__all__ = [
    "DEFAULT_PARTID",
    "DEFAULT_PMG",
    "Access",
    "Cpu",
    "Label",
    "UndefinedInstruction",
]

#: The PARTID and PMG of the default partition (Arm ARM DEFAULT_PARTID / DEFAULT_PMG).
DEFAULT_PARTID = 0
DEFAULT_PMG = 0

_REG_MASK = (1 << REG_WIDTH) - 1

#: ID_AA64PFR0_EL1.MPAM and ID_AA64PFR1_EL1.MPAM_frac for each supported version.
_VERSIONS: dict[str, tuple[int, int]] = {"0.1": (0, 1), "1.0": (1, 0), "1.1": (1, 1)}

#: MPAMn_ELx, the register whose fields label requests made at ELn.
_MPAMN = ("MPAM0_EL1", "MPAM1_EL1", "MPAM2_EL2", "MPAM3_EL3")


class UndefinedInstruction(Exception):
    """An MRS/MSR to a system register this PE does not implement (UNDEFINED on hardware)."""

    def __init__(self, register: str, cpu: int, why: str) -> None:
        super().__init__(f"CPU{cpu}: access to {register} is UNDEFINED: {why}")
        self.register = register
        self.cpu = cpu


class Access(Enum):
    """The kind of memory request: it selects the _D or the _I fields of MPAMn_ELx."""

    DATA = "data"
    INSTRUCTION = "instruction"


@dataclass(frozen=True)
class Label:
    """The MPAM information a memory request carries to every MSC on its way.

    `error` is set when the PE had to substitute the default PARTID or PMG because the
    programmed value was out of range or the virtual PARTID had no valid mapping; the
    request still goes out, labelled with the default.
    """

    partid: int
    pmg: int
    space: str  # PARTID space: "NS" or "S"
    error: bool = False


class Cpu:
    """One PE's MPAM system registers, built from the platform's `CpuMpam`.

    Which registers exist follows the implemented ELs and features (`SysReg.requires`);
    an access to any other raises `UndefinedInstruction`. All RW fields reset to 0, so
    MPAMEN is 0 and every request gets the default PARTID 0 / PMG 0 until firmware at the
    highest EL enables MPAM.
    """

    def __init__(self, index: int, mpam: CpuMpam) -> None:
        if mpam.version not in _VERSIONS:
            raise ValueError(
                f"unsupported MPAM version {mpam.version!r} (one of {', '.join(_VERSIONS)})"
            )
        self.index = index
        self.mpam = mpam
        self.highest_el = 3 if mpam.el3 else 2 if mpam.el2 else 1
        # Effective feature flags: a feature whose control lives in an absent EL's register
        # is not implemented either, so MPAMIDR_EL1 never advertises a register that
        # would UNDEFINED.
        self._features: dict[str, bool] = {
            "el2": mpam.el2,
            "el3": mpam.el3,
            "has_hcr": mpam.has_hcr and mpam.el2,
            "has_tidr": mpam.has_tidr and mpam.el2,
            "has_sdeflt": mpam.has_sdeflt and mpam.el3,
            "has_force_ns": mpam.has_force_ns and mpam.el3,
            "has_sme": mpam.has_sme,
        }
        self._vpartid_max = self._vpmr_max * 4 + 3
        self._wmask: dict[str, int] = {
            r.name: self._implemented_writable(r)
            for r in sysregs.REGISTERS.values()
            if self._exists(r)
        }
        self._fixed: dict[str, int] = self._fixed_values()
        self._values: dict[str, int] = {}
        self._labels: dict[tuple[object, ...], Label] = {}
        self.reset()

    def __repr__(self) -> str:
        return f"Cpu({self.index}, {self.mpam!r})"

    # -- which registers and bits exist -------------------------------------------------

    @property
    def _vpmr_max(self) -> int:
        return self.mpam.vpmr_max if self._features["has_hcr"] else 0

    def _exists(self, reg: sysregs.SysReg) -> bool:
        if not all(self._features[req] for req in reg.requires):
            return False
        return reg.vpm is None or reg.vpm <= self._vpmr_max

    def _implemented_writable(self, reg: sysregs.SysReg) -> int:
        mask = 0
        for f in reg.fields:
            if f.access is not sysregs.AccessKind.RW:
                continue
            if f.requires is not None and not self._features[f.requires]:
                continue  # RES0 without the feature
            if f.name == "MPAMEN" and reg.name != _MPAMN[self.highest_el]:
                continue  # a read-only view of the highest EL's MPAMEN
            mask |= f.mask
        if reg.name == "MPAMVPMV_EL2":
            # VPM_V<m> exists only for the implemented mapping entries, m <= vpartid_max.
            mask &= (1 << (self._vpartid_max + 1)) - 1
        return mask if not reg.read_only else 0

    def _fixed_values(self) -> dict[str, int]:
        """The read-only registers, which the PE's build fixes once."""
        m = self.mpam
        pfr0, frac = _VERSIONS[m.version]
        try:
            idr = (
                field_prep("MPAMIDR_EL1", "PARTID_MAX", m.partid_max)
                | field_prep("MPAMIDR_EL1", "PMG_MAX", m.pmg_max)
                | field_prep("MPAMIDR_EL1", "HAS_HCR", int(self._features["has_hcr"]))
                | field_prep("MPAMIDR_EL1", "VPMR_MAX", self._vpmr_max)
                | field_prep("MPAMIDR_EL1", "HAS_TIDR", int(self._features["has_tidr"]))
                | field_prep("MPAMIDR_EL1", "HAS_FORCE_NS", int(self._features["has_force_ns"]))
                | field_prep("MPAMIDR_EL1", "HAS_SDEFLT", int(self._features["has_sdeflt"]))
            )
        except ValueError as e:
            raise ValueError(f"CpuMpam does not fit MPAMIDR_EL1: {e}") from None
        return {
            "MPAMIDR_EL1": idr,
            "ID_AA64PFR0_EL1": field_prep("ID_AA64PFR0_EL1", "MPAM", pfr0),
            "ID_AA64PFR1_EL1": field_prep("ID_AA64PFR1_EL1", "MPAM_frac", frac),
        }

    def implements(self, name: str) -> bool:
        """Whether `name` exists on this PE (KeyError for a name no PE has)."""
        sysregs.register(name)
        return name in self._wmask

    def _check(self, name: str) -> None:
        if name not in self._wmask:
            reg = sysregs.register(name)  # KeyError for a name that is no register at all
            needs = [req for req in reg.requires if not self._features[req]]
            if reg.vpm is not None and reg.vpm > self._vpmr_max:
                needs.append(f"vpmr_max >= {reg.vpm}")
            raise UndefinedInstruction(
                name, self.index, f"not implemented (needs {' and '.join(needs)})"
            )

    # -- MRS / MSR -----------------------------------------------------------------------

    def reset(self) -> None:
        """Warm reset: every RW field to 0, MPAMEN included (IHI0099 §3.7: MPAMEN resets to 0)."""
        self._values = {name: 0 for name in self._wmask if name not in self._fixed}

    def read_sysreg(self, name: str) -> int:
        """MRS: the register's value, with RES0 bits 0 and views filled in."""
        self._check(name)
        if name in self._fixed:
            return self._fixed[name]
        value = self._values[name]
        if name in ("MPAM1_EL1", "MPAM2_EL2") and name != _MPAMN[self.highest_el]:
            value |= field_prep(name, "MPAMEN", int(self.mpam_enabled))
        if name == "MPAM1_EL1" and self._features["has_force_ns"]:
            force_ns = field_get("MPAM3_EL3", "FORCE_NS", self._values["MPAM3_EL3"])
            value |= field_prep(name, "FORCED_NS", force_ns)
        return value

    def write_sysreg(self, name: str, value: int) -> None:
        """MSR: RW bits take `value`; RES0 and read-only bits ignore it.

        A register with no MSR encoding (MPAMIDR_EL1, the ID registers) is UNDEFINED to
        write, as on hardware.
        """
        self._check(name)
        if not 0 <= value <= _REG_MASK:
            raise ValueError(f"{value:#x} is not a 64-bit register value")
        if name in self._fixed:
            raise UndefinedInstruction(name, self.index, "the register is read-only")
        mask = self._wmask[name]
        self._values[name] = (self._values[name] & ~mask) | (value & mask)

    @property
    def id_aa64pfr0_el1(self) -> int:
        """ID_AA64PFR0_EL1 with only its MPAM field [43:40] (major version)."""
        return self._fixed["ID_AA64PFR0_EL1"]

    @property
    def id_aa64pfr1_el1(self) -> int:
        """ID_AA64PFR1_EL1 with only its MPAM_frac field [19:16] (minor version)."""
        return self._fixed["ID_AA64PFR1_EL1"]

    # -- labelling (Arm ARM MPAM pseudocode: GenMPAMAtEL and its helpers) --------------

    def _get(self, reg: str, name: str) -> int:
        return field_get(reg, name, self._values[reg])

    @property
    def mpam_enabled(self) -> bool:
        """MPAMIsEnabled(): the highest implemented EL's MPAMEN (rule 1)."""
        return bool(self._get(_MPAMN[self.highest_el], "MPAMEN"))

    def label(
        self, access: Access, el: int, *, secure: bool = False, hcr_tge: bool = False
    ) -> Label:
        """The label of a request made at `el` (the Arm ARM's GenMPAMAtEL, as rules 1-7).

        The rules, as the code below numbers them: 1 labels are the default until the
        highest EL's MPAMEN is set; 2 Secure requests take the default when SDEFLT says so;
        3 the register is the current EL's (or EL1's under GSTAPP_PLK), _I fields for
        instruction fetches and _D for data; 4 a PARTID above PARTID_MAX is an error and
        becomes the default; 5 a virtual PARTID is mapped through MPAMVPM<n>_EL2; 6 a PMG
        above PMG_MAX is an error and becomes the default; 7 the PARTID space follows the
        Security state unless FORCE_NS is set.

        `secure` is the Security state (EL3 is always Secure). `hcr_tge` is HCR_EL2.TGE;
        HCR_EL2.E2H is taken as 1 (VHE, as Linux runs), so EL0 is "in host" exactly when
        TGE is 1. EL2 counts as enabled whenever it is implemented (in Secure state that
        means Secure EL2; SCR_EL3 is not modelled).

        MPAMSM_EL1 takes no part: SME streaming-mode requests are not modelled as a
        separate access kind, so its labels are only stored.

        The label is a pure function of the arguments and the registers, and the traffic
        model asks for every CPU's labels at every tick: answers are remembered by both.
        """
        key = (access, el, secure, hcr_tge, *self._values.values())
        known = self._labels.get(key)
        if known is None:
            if len(self._labels) >= 256:
                self._labels.clear()
            known = self._labels[key] = self._label(access, el, secure, hcr_tge)
        return known

    def _label(self, access: Access, el: int, secure: bool, hcr_tge: bool) -> Label:
        if el not in range(4) or el > self.highest_el or (el == 2 and not self.mpam.el2):
            raise ValueError(f"CPU{self.index} does not implement EL{el}")
        secure = secure or el == 3
        # Rule 7: the PARTID space follows the Security state, unless EL3 forces NS.
        space = "S" if secure else "NS"
        if secure and self._features["has_force_ns"] and self._get("MPAM3_EL3", "FORCE_NS"):
            space = "NS"
        # Rule 2: Secure requests may be forced to the default partition.
        if secure and self._features["has_sdeflt"] and self._get("MPAM3_EL3", "SDEFLT"):
            return Label(DEFAULT_PARTID, DEFAULT_PMG, space)
        # Rule 1: until the highest EL enables MPAM, everything is default.
        if not self.mpam_enabled:
            return Label(DEFAULT_PARTID, DEFAULT_PMG, space)
        # Rule 3: GSTAPP_PLK locks a guest's applications to its EL1 labels.
        el2_enabled = self.mpam.el2
        if (
            el == 0
            and el2_enabled
            and self._features["has_hcr"]
            and self._get("MPAMHCR_EL2", "GSTAPP_PLK")
            and not hcr_tge
        ):
            el = 1
        reg = _MPAMN[el]
        instr = access is Access.INSTRUCTION
        partid, error = self._gen_partid(
            el, self._get(reg, "PARTID_I" if instr else "PARTID_D"), hcr_tge
        )
        # Rule 6. After a PARTID error the PMG is CONSTRAINED UNPREDICTABLE; like the Arm
        # ARM pseudocode (GenPMG) the model then uses the default PMG.
        pmg = DEFAULT_PMG
        if not error:
            pmg = self._get(reg, "PMG_I" if instr else "PMG_D")
            if pmg > self.mpam.pmg_max:
                pmg, error = DEFAULT_PMG, True
        return Label(partid, pmg, space, error)

    def _gen_partid(self, el: int, partid: int, hcr_tge: bool) -> tuple[int, bool]:
        """GenPARTID(): range-check, then map a virtual PARTID (rules 4 and 5)."""
        if partid > self.mpam.partid_max:
            return DEFAULT_PARTID, True
        if self._is_virtual(el, hcr_tge):
            return self._map_vpartid(partid)
        return partid, False

    def _is_virtual(self, el: int, hcr_tge: bool) -> bool:
        """MPAMIsVirtual(): EL1, or EL0 outside the host, with its VPMEN set."""
        if not self._features["has_hcr"]:
            return False
        if el == 1:
            return bool(self._get("MPAMHCR_EL2", "EL1_VPMEN"))
        if el == 0:
            return not hcr_tge and bool(self._get("MPAMHCR_EL2", "EL0_VPMEN"))
        return False

    def _map_vpartid(self, vpartid: int) -> tuple[int, bool]:
        """MAP_vPARTID(): the hypervisor's virtual → physical PARTID map (rule 5).

        An invalid entry falls back to vPARTID 0's mapping when that one is valid; the Arm
        ARM pseudocode treats that fallback as no error.
        """
        if vpartid > self._vpartid_max:
            vpartid %= self._vpartid_max + 1
        valid = self._get("MPAMVPMV_EL2", "VPM_V")
        if (valid >> vpartid) & 1:
            partid, error = self._phypartid(vpartid), False
        elif valid & 1:
            partid, error = self._phypartid(0), False
        else:
            return DEFAULT_PARTID, True
        if partid > self.mpam.partid_max:
            return DEFAULT_PARTID, True
        return partid, error

    def _phypartid(self, vpartid: int) -> int:
        reg, name = phypartid_location(vpartid)
        return self._get(reg, name)
