"""CPU power-on and shutdown over PSCI, and the arm64 messages they print."""

from __future__ import annotations

import mpam.hw
import mpam.platform
from mpam.hw.build import Hardware
from mpam.kernel.arm64_mpam import Arm64Mpam
from mpam.kernel.klog import KernelLog
from mpam.kernel.smp import MIDR_NEOVERSE_N2, Smp
from mpam.kernel.sysreg import SysregTrace
from mpam.kernel.tasks import TaskTable


def smp(hw: Hardware, **kw: bool) -> Smp:
    trace = SysregTrace(hw.clock)
    return Smp(
        hw.cpus,
        [c.mpidr for c in hw.platform.cpus],
        KernelLog(hw.clock),
        TaskTable(len(hw.cpus)),
        Arm64Mpam(hw.cpus, trace),
        trace,
        **kw,
    )


def test_hwids_drop_mpidr_bit_31() -> None:
    s = smp(mpam.hw.build(mpam.platform.load("two-socket")))
    assert s.hwids[:2] == [0x0, 0x100]
    assert s.hwids[16] == 0x1_0000_0000  # Aff3 = 1 for the second socket
    assert MIDR_NEOVERSE_N2 == 0x410FD490


def test_power_on_resets_the_pe_and_firmware_enables_mpam() -> None:
    hw = mpam.hw.build(mpam.platform.load("tiny"))
    s = smp(hw)
    pe = hw.cpus[2]
    pe.write_sysreg("MPAM0_EL1", 0x50005)
    assert s.boot_secondary(2) == 0
    assert pe.read_sysreg("MPAM0_EL1") == 0
    assert pe.mpam_enabled
    assert [r.register for r in s.trace] == ["MPAM0_EL1", "MPAM2_EL2", "MPAM1_EL1", "MPAMHCR_EL2"]
    assert s.trace[0].before == 0  # reset before the kernel's own write
    assert s.klog.dmesg() == "[    0.000000] Detected PIPT I-cache on CPU2\n"


def test_capability_known_means_cpu_enable_mpam_on_power_on() -> None:
    hw = mpam.hw.build(mpam.platform.load("tiny"))
    s = smp(hw)
    s.system_has_mpam = True
    s.mpam.mpam_enabled = True
    s.mpam.arm64_mpam_current[1] = 0x20002
    s.boot_secondary(1)
    assert [r.origin for r in s.trace][-2:] == ["cpu_enable_mpam"] * 2
    assert hw.cpus[1].read_sysreg("MPAM0_EL1") == 0x20002


def test_without_firmware_enable_mpam_stays_off() -> None:
    hw = mpam.hw.build(mpam.platform.load("tiny"))
    s = smp(hw, firmware_enables_mpam=False)
    s.boot_secondary(3)
    assert not hw.cpus[3].mpam_enabled


def test_messages() -> None:
    hw = mpam.hw.build(mpam.platform.load("rdn2"))
    s = smp(hw)
    s.secondary_started(5)
    s.cpu_die(5)
    assert [line.split("] ")[1] for line in s.klog.dmesg().splitlines()] == [
        "CPU5: Booted secondary processor 0x0000020100 [0x410fd490]",
        "CPU5: shutdown",
        "psci: CPU5 killed (polled 0 ms)",
    ]
    assert [r.level for r in s.klog.records] == ["info", "notice", "info"]
