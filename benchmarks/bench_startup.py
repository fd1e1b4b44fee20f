"""Start-up of the client commands, against the interpreter starting and doing nothing.

Run: .venv/bin/python benchmarks/bench_startup.py

Boots a paused tiny machine in a runtime directory of its own, then times the wall clock of
`mpam ps`, `mpam status`, `mpam list` and `mpam dmesg` (each a fresh process of the
installed `mpam`, as a user types it) and of `python -c pass` with the same interpreter.
Rounds are interleaved: each round runs every command once, so a slow moment of the machine
falls on all of them alike. The ratio of medians says what the command line costs over
Python itself; the target is a client command in under 0.3 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mpam.machine import client

ROUNDS = 7
MPAM = Path(sys.executable).with_name("mpam")
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mpam ps": [str(MPAM), "ps"],
    "mpam status": [str(MPAM), "status"],
    "mpam list": [str(MPAM), "list"],
    "mpam dmesg": [str(MPAM), "dmesg"],
}


def _wall(argv: list[str]) -> float:
    """Seconds from starting `argv` to its exit (its output is discarded, not measured)."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MPAM_RUNTIME_DIR"] = str(Path(tmp) / "run")
        machine = client.boot("tiny", "bench", paused=True)
        try:
            for argv in COMMANDS.values():  # warm the page cache and .pyc files first
                _wall(argv)
            times: dict[str, list[float]] = {name: [] for name in COMMANDS}
            for _ in range(ROUNDS):
                for name, argv in COMMANDS.items():
                    times[name].append(_wall(argv))
        finally:
            client.shutdown(machine)
    base = statistics.median(times["python -c pass"])
    print(f"{ROUNDS} rounds, wall clock per start (ms)")
    print(f"{'command':<16}{'min':>8}{'median':>8}{'max':>8}{'x python':>10}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<16}{min(samples) * 1e3:>8.0f}{med * 1e3:>8.0f}"
              f"{max(samples) * 1e3:>8.0f}{med / base:>10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
