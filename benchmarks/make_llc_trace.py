"""Write a deterministic LLC load trace: an int64 .npy array of byte addresses.

Run: .venv/bin/python benchmarks/make_llc_trace.py --out /tmp/llc_trace.npy

The trace is a sequence of runs of --run accesses each. A run is, with probability
--stream-fraction, sequential streaming (a cursor advancing by --stride bytes, wrapping at the
end of the region, carried over from one streaming run to the next), and otherwise uniform
random byte addresses. Both kinds cover the same --region bytes starting at address 0.
Defaults: 4M accesses over 32 MiB, half streaming at an 8-byte stride, seed 1.
"""

from __future__ import annotations

import argparse

import numpy as np


def make_trace(
    n: int, region: int, stream_fraction: float, stride: int, run: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n_runs = -(-n // run)
    streaming = rng.random(n_runs) < stream_fraction
    out = rng.integers(0, region, size=n_runs * run, dtype=np.int64).reshape(n_runs, run)
    steps = np.arange(run, dtype=np.int64) * stride
    cursor = 0
    for i in np.flatnonzero(streaming):
        out[i] = (cursor + steps) % region
        cursor = (cursor + run * stride) % region
    return out.reshape(-1)[:n].copy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=4 * 1024 * 1024)
    p.add_argument("--region", type=int, default=32 * 1024 * 1024, help="bytes")
    p.add_argument("--stream-fraction", type=float, default=0.5)
    p.add_argument("--stride", type=int, default=8, help="streaming stride in bytes")
    p.add_argument("--run", type=int, default=4096, help="accesses per run")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    trace = make_trace(a.n, a.region, a.stream_fraction, a.stride, a.run, a.seed)
    np.save(a.out, trace)
    print(
        f"{a.out}: {trace.size} accesses, {np.unique(trace >> 6).size} distinct 64 B lines, "
        f"sum {int(trace.sum())}"
    )


if __name__ == "__main__":
    main()
