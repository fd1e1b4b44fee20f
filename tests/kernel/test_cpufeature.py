"""CPU MPAM identification and the capability test."""

from __future__ import annotations

from mpam.hw.cpu import Cpu
from mpam.kernel import cpufeature
from mpam.kernel.cpufeature import CpuMpamInfo, read_cpu_mpam, sanitise
from mpam.platform.model import CpuMpam


def test_read_cpu_mpam_from_the_id_registers() -> None:
    cpu = Cpu(0, CpuMpam(version="1.1", partid_max=63, pmg_max=1, has_tidr=True))
    info = read_cpu_mpam(cpu)
    assert info == CpuMpamInfo(
        version="1.1",
        partid_max=63,
        pmg_max=1,
        has_hcr=True,
        vpmr_max=7,
        has_tidr=True,
        has_force_ns=False,
        has_sdeflt=False,
        has_sme=False,
        enabled=False,  # EL3 firmware has not set MPAMEN yet
    )
    cpu.write_sysreg("MPAM3_EL3", 1 << 63)
    info = read_cpu_mpam(cpu)
    assert info is not None and info.enabled and cpufeature.test_has_mpam(info)


def test_no_mpam_without_id_aa64pfr0_mpam() -> None:
    assert read_cpu_mpam(Cpu(0, CpuMpam(version="0.1"))) is None
    assert not cpufeature.test_has_mpam(None)


def test_sanitise_takes_the_safe_value_of_every_cpu() -> None:
    a = read_cpu_mpam(Cpu(0, CpuMpam(version="1.1", partid_max=63, pmg_max=3, has_sme=True)))
    b = read_cpu_mpam(Cpu(1, CpuMpam(version="1.0", partid_max=31, pmg_max=7, has_hcr=False)))
    merged = sanitise([a, b])
    assert merged is not None
    assert (merged.version, merged.partid_max, merged.pmg_max) == ("1.0", 31, 3)
    assert not merged.has_hcr and not merged.has_sme and merged.vpmr_max == 0
    assert sanitise([a, None]) is None
    assert sanitise([]) is None
