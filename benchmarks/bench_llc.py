"""LLC kernel accesses per second against pycachesim's C backend, on the same trace.

Run: .venv/bin/python benchmarks/bench_llc.py
(the peer needs its own venv first: bash benchmarks/peer_env.sh; pycachesim is AGPL and
never a dependency of mpam, so it runs in a separate process from that venv)

The trace is make_llc_trace.py's (4M byte addresses over 32 MiB, half streaming, half
random); the geometry is rdn2's L3 as one cache: 8192 sets x 16 ways x 64 B, LRU. mpam's
kernel runs it as a PARTID-tagged cache that checks each fill against the PARTID's
portion bitmap and counts every line's owner (the state llc_occupancy reads), in three
settings:

  shared       one PARTID allowed every way: hits and misses must equal the peer's
  partitioned  the trace's runs alternate between two PARTIDs with 8 ways each
  limited      as shared, plus CMAX at half the cache: victims by Table 5-1 priority

Each is timed best of --repeat from an empty cache through the checked public front
(`access_lines`: every access checked, the kernel for 16 ways, results and write-backs
returned). Prints each rate and its ratio to the peer's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from make_llc_trace import make_trace

from mpam.hw.cache import ALL, CMAX, LIMITS, LRU, WAY_MASK, CacheArrays, access_lines

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE / ".peer-venv" / "bin" / "python"
SETS, WAYS, LINE = 8192, 16, 64
RUN = 4096  # make_llc_trace's run length: the partitioned setting switches PARTID per run


def ours(lines: np.ndarray, setting: str, repeat: int) -> tuple[float, int, int, int]:
    """Best seconds, hits, misses and lines counted as owned, for one setting."""
    n = lines.size
    partids = np.ones(n, dtype=np.int64)
    if setting == "partitioned":
        partids = 1 + (np.arange(n) // RUN) % 2
    zeros = np.zeros(n, dtype=np.int64)
    writes = np.zeros(n, dtype=np.uint8)
    best = float("inf")
    hits = misses = owned = 0
    for _ in range(repeat + 1):  # the first run compiles (or loads the cached kernel)
        a = CacheArrays.build([(SETS, WAYS, LINE)], num_partid=4, num_pmg=2)
        if setting == "partitioned":
            a.ctl[WAY_MASK, 0, 1] = 0x00FF
            a.ctl[WAY_MASK, 0, 2] = 0xFF00
        if setting == "limited":
            a.ctl[CMAX, 0, 1] = SETS * WAYS // 2
            a.inst[0, LIMITS] = 1
        start = time.perf_counter()
        results, _ = access_lines(a, zeros, lines, partids, zeros, writes, LRU)
        best = min(best, time.perf_counter() - start)
        hits = int((results == 0).sum())
        misses = n - hits
        owned = int(a.occ[ALL, 0].sum())
    return best, hits, misses, owned


def peer(trace_path: Path, repeat: int) -> dict[str, float] | None:
    if not PEER_PYTHON.exists():
        return None
    out = subprocess.run(
        [str(PEER_PYTHON), str(HERE / "peer_pycachesim.py"), "--trace", str(trace_path),
         "--sets", str(SETS), "--ways", str(WAYS), "--line", str(LINE), "--policy", "LRU",
         "--repeat", str(repeat)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    trace = make_trace(4 * 1024 * 1024, 32 * 1024 * 1024, 0.5, 8, RUN, 1)
    lines = trace // LINE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.npy"
        np.save(path, trace)
        theirs = peer(path, a.repeat)
    n = trace.size
    if theirs is None:
        print("peer: pycachesim not installed (bash benchmarks/peer_env.sh); no ratio")
    else:
        print(f"peer pycachesim {theirs.get('api', '')}: {theirs['accesses_per_s'] / 1e6:7.2f} M "
              f"accesses/s, {int(theirs['hits'])} hits, {int(theirs['misses'])} misses")  # fmt: skip
    for setting in ("shared", "partitioned", "limited"):
        seconds, hits, misses, owned = ours(lines, setting, a.repeat)
        rate = n / seconds
        line = (f"mpam {setting:<11}: {rate / 1e6:7.2f} M accesses/s, {hits} hits, "
                f"{misses} misses, {owned} lines owned")  # fmt: skip
        if theirs is not None:
            line += f"; {rate / theirs['accesses_per_s']:.2f}x the peer"
            if setting == "shared" and (hits, misses) != (theirs["hits"], theirs["misses"]):
                sys.exit(f"{line}\nshared: hits and misses differ from the peer's")
        print(line)


if __name__ == "__main__":
    main()
