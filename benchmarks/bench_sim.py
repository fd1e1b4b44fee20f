"""Simulated seconds per wall second on the default platform with all 16 CPUs busy.

Run: .venv/bin/python benchmarks/bench_sim.py

rdn2 boots; 16 tasks run, one per CPU: 8 streams over 64 MiB and 8 random working sets of
4 MiB, in four resctrl groups with different L3 portions and MB limits (so partitions are
enforced and the monitors count). Simulated time advances tick by tick as in a running
machine. Reported for set-sampled mode (1/64 of the sets, a running machine's default) and
1/16; the target is at least 1 simulated second per wall second in sampled mode. The peer
is the wall clock itself: a ratio of 1 is real time.
"""

from __future__ import annotations

import argparse
import time

from mpam.machine import Machine

GROUPS = {"g0": "L3:49=000f\n", "g1": "L3:49=00f0\n", "g2": "L3:49=0f00\nMB:49=50\n",
          "g3": "L3:49=f000\nMB:49=20\n"}  # fmt: skip


def rate(sample: int, seconds: float) -> tuple[float, float]:
    """(simulated s per wall s, references simulated per wall s)."""
    m = Machine("rdn2", sample=sample, seed=1).boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    for name, schemata in GROUPS.items():
        fs.mkdir(f"/{name}")
        fs.write(f"/{name}/schemata", schemata)
    for cpu in range(16):
        spec = "stream:footprint=64MiB" if cpu % 2 == 0 else "uniform:footprint=4MiB"
        task = m.run_workload(spec, cpu=cpu)
        fs.write(f"/g{cpu % 4}/tasks", str(task.pid))
    m.run(40_000_000)  # warm up: compile, fill the caches
    refs_before = sum(s.refs for s in m.sim.all_stats())
    ns = int(seconds * 1e9)
    start = time.perf_counter()
    m.run(ns)
    wall = time.perf_counter() - start
    refs = sum(s.refs for s in m.sim.all_stats()) - refs_before
    return ns / 1e9 / wall, refs / sample / wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=1.0, help="simulated seconds per mode")
    a = p.parse_args()
    for sample in (64, 16):
        sim_per_wall, refs = rate(sample, a.seconds)
        print(f"rdn2, 16 CPUs busy, sampling 1/{sample}: {sim_per_wall:.2f} simulated s per "
              f"wall s ({sim_per_wall:.2f}x real time), {refs / 1e6:.1f} M references "
              f"simulated per wall s")  # fmt: skip


if __name__ == "__main__":
    main()
