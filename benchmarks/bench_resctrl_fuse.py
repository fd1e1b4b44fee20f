"""resctrl operations through the FUSE mount, against the same operations on a trivial
mfusepy filesystem mounted the same way (benchmarks/trivial_fuse.py), in one run.

Run: .venv/bin/python benchmarks/bench_resctrl_fuse.py [--platform rdn2 --platform large]
     [--rounds 5]

Boots each platform paused in the background, mounts its resctrl through FUSE, and mounts
the trivial filesystem (its own process, the same mfusepy options: threads, one lock,
direct I/O, no caching) laid out alike. Each round times every operation on the mount and
then on the floor, so load changes hit both; between rounds the machine steps 1 s of
simulated time, so freed groups' RMIDs leave limbo as on a running kernel. Prints, per
operation, min/median/max microseconds per operation on each side and the ratio of the
medians: what modelling the kernel costs over a filesystem that only stores bytes.
Targets (issue 19): each operation <= 2x the floor, the 1,000-pid tasks write <= 10x.
Wall-clock time: this measures the tool, not the simulated machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mpam.machine import client

HERE = Path(__file__).resolve().parent
REPS = {"1,000-pid tasks write": 10, "mkdir+rmdir": 20}  # per round; others REPS_DEFAULT
REPS_DEFAULT = 100


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _ops(root: Path, domain: str, mon: str, pids: bytes) -> dict[str, Callable[[int], object]]:
    """The operations, each taking its repetition number (a changing write alternates)."""
    masks = (f"L3:{domain}=3\n".encode(), f"L3:{domain}=f\n".encode())
    schemata, occupancy = root / "g1" / "schemata", root / "mon_data" / mon
    return {
        "schemata write, changes": lambda i: _write(schemata, masks[i % 2]),
        "schemata write, same": lambda i: _write(schemata, masks[0]),
        "schemata read": lambda i: _read(schemata),
        "mkdir+rmdir": lambda i: (os.mkdir(root / "gx"), os.rmdir(root / "gx")),
        "mon_data read": lambda i: _read(occupancy / "llc_occupancy"),
        "1,000-pid tasks write": lambda i: _write(root / "g1" / "tasks", pids),
    }


def _time(op: Callable[[int], object], reps: int) -> float:
    """Microseconds per operation over `reps` in a row."""
    start = time.perf_counter()
    for i in range(reps):
        op(i)
    return (time.perf_counter() - start) / reps * 1e6


def _floor_tree(root: Path, mon: str) -> None:
    """The trivial filesystem laid out like the resctrl files the operations touch."""
    (root / "g1").mkdir()
    (root / "mon_data" / mon).mkdir(parents=True)
    for name in ("g1/schemata", "g1/tasks", f"mon_data/{mon}/llc_occupancy"):
        (root / name).write_bytes(b"0\n")


def _wait_mounted(point: Path, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if os.path.ismount(point):
            return
        if proc.poll() is not None:
            sys.exit(f"the trivial filesystem did not start (exit {proc.returncode})")
        time.sleep(0.02)
    sys.exit("the trivial filesystem did not mount in 4 s")


def bench(platform: str, rounds: int, tmp: Path) -> None:
    point, floor = tmp / f"resctrl-{platform}", tmp / f"floor-{platform}"
    point.mkdir()
    floor.mkdir()
    machine = client.boot(platform, f"bench-{platform}", paused=True)
    proc = subprocess.Popen([sys.executable, str(HERE / "trivial_fuse.py"), str(floor)])
    try:
        assert machine.call("mount", dir=str(point), options="") == 0
        _wait_mounted(floor, proc)
        l3 = next(x for x in (point / "schemata").read_text().split() if x.startswith("L3:"))
        domain = l3[3:].split(";")[0].split("=")[0]
        mon = min(d for d in os.listdir(point / "mon_data") if d.startswith("mon_L3_"))
        os.mkdir(point / "g1")
        _floor_tree(floor, mon)
        tasks = [int(p) for p in (point / "tasks").read_text().split()]
        pids = (",".join(str(tasks[i % len(tasks)]) for i in range(1000)) + "\n").encode()
        ours, theirs = _ops(point, domain, mon, pids), _ops(floor, domain, mon, pids)
        samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ours}
        for _ in range(rounds):
            for name in ours:
                reps = REPS.get(name, REPS_DEFAULT)
                samples[name][0].append(_time(ours[name], reps))
                samples[name][1].append(_time(theirs[name], reps))
            machine.call("step", ns=1_000_000_000)  # limbo RMIDs free, as time passes
        print(f"{platform}, {rounds} rounds interleaved, microseconds per operation "
              f"(min/median/max); load {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"  {'operation':<26}{'resctrl':>24}{'trivial FUSE':>24}{'ratio':>8}")
        for name, (a, b) in samples.items():
            ma, mb = statistics.median(a), statistics.median(b)
            print(f"  {name:<26}{_mmm(a):>24}{_mmm(b):>24}{ma / mb:>7.1f}x")
        machine.call("umount", dir=str(point))
    finally:
        subprocess.run(["fusermount3", "-u", str(floor)], check=False)
        proc.wait(timeout=10)
        client.shutdown(machine)


def _mmm(xs: list[float]) -> str:
    return f"{min(xs):.0f}/{statistics.median(xs):.0f}/{max(xs):.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--platform", action="append", help="rdn2 and large unless given")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MPAM_RUNTIME_DIR"] = str(Path(tmp) / "run")
        for platform in a.platform or ["rdn2", "large"]:
            bench(platform, a.rounds, Path(tmp))


if __name__ == "__main__":
    main()
