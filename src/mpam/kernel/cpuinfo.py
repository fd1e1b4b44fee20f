"""/proc/cpuinfo as arm64's c_show (arch/arm64/kernel/cpuinfo.c) prints it.

One stanza per online CPU: `processor`, `BogoMIPS`, `Features` (the hwcaps the kernel found),
then the fields of the CPU's MIDR_EL1 (implementer, architecture, variant, part, revision)
and a blank line. There is no x86 `flags` line: a client that looks for `cat_l3` or `mba`
there (runc's intelrdt) finds none on an MPAM machine, as on real arm64 hardware. Field
names and formats read from the kernel, written anew.

BogoMIPS on arm64 is the architected timer's rate: loops_per_jiffy is the timer rate over HZ,
and c_show prints lpj / (500000 / HZ), so a 100 MHz CNTFRQ (the RD-N2 FVP's) gives 200.00.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NEOVERSE_N2_HWCAPS", "TIMER_FREQ_HZ", "cpuinfo"]

#: CNTFRQ_EL0 of the Arm reference design FVPs.
TIMER_FREQ_HZ = 100_000_000

#: The hwcaps (hwcap_str order) Linux reports on an Armv9.0-A Neoverse N2 with SVE2,
#: crypto, BF16 and I8MM, as its ID registers advertise them.
NEOVERSE_N2_HWCAPS = (
    "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt "
    "fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs "
    "sb paca pacg dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint "
    "svei8mm svebf16 i8mm bf16 dgh bti"
)


def _midr_fields(midr: int) -> tuple[int, int, int, int, int]:
    """MIDR_EL1: Implementer [31:24], Variant [23:20], Architecture [19:16], PartNum [15:4],
    Revision [3:0]."""
    return (
        (midr >> 24) & 0xFF,
        (midr >> 20) & 0xF,
        (midr >> 16) & 0xF,
        (midr >> 4) & 0xFFF,
        midr & 0xF,
    )


def cpuinfo(online: Iterable[int], midr: int, features: str = NEOVERSE_N2_HWCAPS,
            timer_hz: int = TIMER_FREQ_HZ) -> str:  # fmt: skip
    """The text of /proc/cpuinfo for these online CPUs, all with the same MIDR."""
    implementer, variant, _, part, revision = _midr_fields(midr)
    hz = 100  # CONFIG_HZ; it cancels out of BogoMIPS but keeps the kernel's integer maths
    lpj = timer_hz // hz
    bogomips = f"{lpj // (500000 // hz)}.{(lpj // (5000 // hz)) % 100:02d}"
    out = []
    for cpu in sorted(online):
        out.append(
            f"processor\t: {cpu}\n"
            f"BogoMIPS\t: {bogomips}\n"
            f"Features\t: {features}\n"
            f"CPU implementer\t: 0x{implementer:02x}\n"
            "CPU architecture: 8\n"  # c_show prints 8 for every AArch64 CPU
            f"CPU variant\t: 0x{variant:x}\n"
            f"CPU part\t: 0x{part:03x}\n"
            f"CPU revision\t: {revision}\n\n"
        )
    return "".join(out)
