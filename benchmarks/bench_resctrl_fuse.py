"""resctrl operations through the FUSE mount, against the same operations on tmpfs.

Run: .venv/bin/python benchmarks/bench_resctrl_fuse.py

Boots the default platform in the background, mounts its resctrl through FUSE, and times
each operation in the same run on the mount and on a plain tmpfs directory (/dev/shm) laid
out the same way: the ratio is what modelling the kernel (and crossing FUSE and the
machine's process) costs over a file that only stores bytes. Wall-clock time: this measures
the tool, not the simulated machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mpam.machine import client

ROUNDS = 200


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _time(fn: Callable[[], object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


def _ops(root: Path, pids: str) -> dict[str, Callable[[], object]]:
    return {
        "schemata write": lambda: _write(root / "g1" / "schemata", "L3:49=3ff\n"),
        "schemata read": lambda: (root / "g1" / "schemata").read_text(),
        "mkdir+rmdir": lambda: (os.mkdir(root / "gx"), os.rmdir(root / "gx")),
        "1,000-pid tasks write": lambda: _write(root / "g1" / "tasks", pids),
        "mon_data read": lambda: (root / "mon_data" / "mon_L3_49" / "llc_occupancy").read_text(),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MPAM_RUNTIME_DIR"] = str(Path(tmp) / "run")
        point = Path(tmp) / "resctrl"
        point.mkdir()
        machine = client.boot("rdn2", "bench")
        try:
            assert machine.call("mount", dir=str(point), options="") == 0
            os.mkdir(point / "g1")
            tasks = [int(p) for p in (point / "tasks").read_text().split()]
            pids = ",".join(str(tasks[i % len(tasks)]) for i in range(1000)) + "\n"
            shm = Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
            (shm / "g1").mkdir()
            (shm / "mon_data" / "mon_L3_49").mkdir(parents=True)
            for name in ("g1/schemata", "mon_data/mon_L3_49/llc_occupancy"):
                _write(shm / name, "x\n")
            fuse_ops, shm_ops = _ops(point, pids), _ops(shm, pids)
            print(f"{'operation':<24}{'FUSE (us)':>12}{'tmpfs (us)':>12}{'ratio':>10}")
            for name in fuse_ops:
                # A freed group's RMID waits in limbo (no limbo worker runs while simulated
                # time stands still), so rdn2's 63 free CLOSIDs bound mkdir+rmdir rounds, as
                # on real hardware within one limbo interval.
                rounds = {"1,000-pid tasks write": ROUNDS // 10, "mkdir+rmdir": 40}.get(
                    name, ROUNDS
                )
                f = _time(fuse_ops[name], rounds) * 1e6
                t = _time(shm_ops[name], rounds) * 1e6
                print(f"{name:<24}{f:>12.1f}{t:>12.1f}{f / t:>10.1f}")
            machine.call("umount", dir=str(point))
        finally:
            client.shutdown(machine)


if __name__ == "__main__":
    main()
