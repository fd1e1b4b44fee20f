"""MMIO accesses per second on the default platform (rdn2).

Run: .venv/bin/python benchmarks/bench_mmio.py

The workload is the driver's typical mix: select a PARTID, program a portion bitmap and a
bandwidth limit, read ID registers, select a monitor and read it. The peer is a bare Python
dict used as a register file (what a static register mock costs): the ratio says how much
the checks, selection and error rules of the real model cost over doing nothing.
"""

from __future__ import annotations

import time

from mpam.hw import build
from mpam.hw.regmap import reg
from mpam.platform import load

N = 200_000


def workload(read32, write32, n: int) -> int:  # type: ignore[no-untyped-def]
    part_sel = reg("MPAMCFG_PART_SEL").offset
    cpbm = reg("MPAMCFG_CPBM").offset
    idr = reg("MPAMF_IDR").offset
    mon_sel = reg("MSMON_CFG_MON_SEL").offset
    csu = reg("MSMON_CSU").offset
    ops = 0
    for i in range(n // 5):
        write32(part_sel, i & 63)
        write32(cpbm, 0xFF)
        read32(idr)
        write32(mon_sel, i & 15)
        read32(csu)
        ops += 5
    return ops


def rate(read32, write32) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    ops = workload(read32, write32, N)
    return ops / (time.perf_counter() - start)


def main() -> None:
    hw = build(load("rdn2"))
    msc = hw.msc("slc0")
    model = rate(msc.read32, msc.write32)
    regs: dict[int, int] = {}
    peer = rate(lambda off: regs.get(off, 0), regs.__setitem__)
    print(f"mpam MSC model (rdn2 slc0): {model:,.0f} MMIO accesses/s")
    print(f"peer, bare dict register file: {peer:,.0f} accesses/s")
    print(f"ratio model/peer: {model / peer:.3f}")


if __name__ == "__main__":
    main()
