"""What the CPUs say about MPAM (arch/arm64/kernel/cpufeature.c, cpuinfo.c).

Each CPU's ID_AA64PFR0_EL1.MPAM / ID_AA64PFR1_EL1.MPAM_frac give the version and MPAMIDR_EL1
its PARTID and PMG range and optional registers. The system-wide ("sanitised") view is the
safe one over all CPUs: the lowest maxima, a feature only where every CPU has it. The
capability is detected only where firmware at the highest EL also enabled MPAM
(MPAM1_EL1.MPAMEN reads 1), as the kernel's test_has_mpam() checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mpam.hw.cpu import Cpu
from mpam.hw.sysregs import field_get

__all__ = ["MPAM_FEATURE_DESC", "CpuMpamInfo", "read_cpu_mpam", "sanitise", "test_has_mpam"]

#: The capability's description, as "CPU features: detected: ..." prints it.
MPAM_FEATURE_DESC = "Memory Partitioning And Monitoring"


@dataclass(frozen=True)
class CpuMpamInfo:
    """One CPU's (or the system's sanitised) MPAM identification."""

    version: str  # "1.0", "1.1"
    partid_max: int
    pmg_max: int
    has_hcr: bool
    vpmr_max: int
    has_tidr: bool
    has_force_ns: bool
    has_sdeflt: bool
    has_sme: bool  # MPAMSM_EL1 is implemented
    enabled: bool  # MPAM1_EL1.MPAMEN: firmware enabled MPAM on this CPU


def read_cpu_mpam(cpu: Cpu) -> CpuMpamInfo | None:
    """The CPU's MPAM identification, or None when ID_AA64PFR0_EL1.MPAM is 0 (no MPAM, or
    only v0.1, which this kernel does not use)."""
    major = field_get("ID_AA64PFR0_EL1", "MPAM", cpu.read_sysreg("ID_AA64PFR0_EL1"))
    if major == 0:
        return None
    frac = field_get("ID_AA64PFR1_EL1", "MPAM_frac", cpu.read_sysreg("ID_AA64PFR1_EL1"))
    idr = cpu.read_sysreg("MPAMIDR_EL1")

    def idr_field(name: str) -> int:
        return field_get("MPAMIDR_EL1", name, idr)

    return CpuMpamInfo(
        version=f"{major}.{frac}",
        partid_max=idr_field("PARTID_MAX"),
        pmg_max=idr_field("PMG_MAX"),
        has_hcr=bool(idr_field("HAS_HCR")),
        vpmr_max=idr_field("VPMR_MAX"),
        has_tidr=bool(idr_field("HAS_TIDR")),
        has_force_ns=bool(idr_field("HAS_FORCE_NS")),
        has_sdeflt=bool(idr_field("HAS_SDEFLT")),
        has_sme=cpu.implements("MPAMSM_EL1"),
        enabled=bool(field_get("MPAM1_EL1", "MPAMEN", cpu.read_sysreg("MPAM1_EL1"))),
    )


def sanitise(infos: Iterable[CpuMpamInfo | None]) -> CpuMpamInfo | None:
    """The system-wide view (read_sanitised_ftr_reg): None unless every CPU has MPAM."""
    items = list(infos)
    if not items or any(i is None for i in items):
        return None
    cpus = [i for i in items if i is not None]
    return CpuMpamInfo(
        version=min((i.version for i in cpus), key=lambda v: tuple(map(int, v.split(".")))),
        partid_max=min(i.partid_max for i in cpus),
        pmg_max=min(i.pmg_max for i in cpus),
        has_hcr=all(i.has_hcr for i in cpus),
        vpmr_max=min(i.vpmr_max for i in cpus),
        has_tidr=all(i.has_tidr for i in cpus),
        has_force_ns=all(i.has_force_ns for i in cpus),
        has_sdeflt=all(i.has_sdeflt for i in cpus),
        has_sme=all(i.has_sme for i in cpus),
        enabled=all(i.enabled for i in cpus),
    )


def test_has_mpam(info: CpuMpamInfo | None) -> bool:
    """The capability test: MPAM implemented and enabled by firmware."""
    return info is not None and info.enabled
