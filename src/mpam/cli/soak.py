"""`mpam soak`: the reliability campaign at full size (mpam.machine.soak)."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from mpam.cli.common import console, find, request

__all__ = ["soak"]


@click.command()
@click.option("--ops", "operations", type=click.IntRange(min=0), default=1_000_000,
              show_default=True, help="Random resctrl operations through the mount.")  # fmt: skip
@click.option("--writers", type=click.IntRange(min=0, max=64), default=8, show_default=True,
              help="Concurrent schemata writers.")  # fmt: skip
@click.option("--seconds", type=click.FloatRange(min=0), default=600, show_default=True,
              help="How long the writers write (wall seconds).")  # fmt: skip
@click.option("--cycles", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="CPU hotplug cycles.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds every random choice.")
def soak(operations: int, writers: int, seconds: float, cycles: int, seed: int) -> None:
    """Boot rdn2 on its own, then run the campaign against it: random resctrl operations
    through the real mount checked against an in-process twin, concurrent writers, a
    hotplug storm, the registers checked after every step. Prints one row per part;
    exits 1 when any crash, register mismatch or lost write was seen."""
    from mpam.machine import client
    from mpam.machine.client import MachineError
    from mpam.machine.machine import Machine
    from mpam.machine.soak import Tally, fuzz, hotplug
    from mpam.machine.soak import writers as run_writers

    tallies: list[Tally] = []
    # SIGTERM ends the campaign as Ctrl-C does: its machine is shut down, not left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    before = os.environ.get("MPAM_RUNTIME_DIR")
    with tempfile.TemporaryDirectory(prefix="mpam-soak-") as scratch:
        # a runtime directory of its own: the campaign's machine is nobody else's
        os.environ["MPAM_RUNTIME_DIR"] = str(Path(scratch) / "run")
        mount = Path(scratch) / "resctrl"
        mount.mkdir()
        client.boot("rdn2", "soak", paused=True, seed=seed)
        machine = find("soak")
        try:
            if request(machine, "mount", dir=str(mount), options=""):
                raise click.ClickException("soak: could not mount the machine's resctrl")
            start = time.monotonic()
            twin = Machine("rdn2", seed=seed).boot()
            assert twin.resctrl is not None and twin.resctrl.mount("") == 0

            def write_concurrently() -> Tally:
                # the groups the fuzzing left go, as at a remount, for the writers' own
                request(machine, "umount", dir=str(mount))
                request(machine, "mount", dir=str(mount), options="")
                return run_writers(mount, machine, writers, seconds, seed)

            parts: list[tuple[str, Callable[[], Tally]]] = [
                ("fuzzed resctrl operations", lambda: fuzz(mount, machine, twin, operations, seed)),
                (f"{writers} concurrent writers, {seconds:g} s", write_concurrently),
                ("hotplug cycles", lambda: hotplug(machine, cycles, seed)),
            ]
            for part, run in parts:
                try:
                    tallies.append(run())
                except (OSError, MachineError, click.ClickException) as e:
                    # the campaign's own step failed: a crash of that part, told, not lost
                    failed = Tally(part)
                    failed.problem("crashes", str(e))
                    tallies.append(failed)
            elapsed = time.monotonic() - start
        finally:
            client.shutdown(machine)
            if before is None:
                os.environ.pop("MPAM_RUNTIME_DIR", None)
            else:
                os.environ["MPAM_RUNTIME_DIR"] = before
    out = console()
    out.print(f"{'PART':<32} {'OPERATIONS':>10} {'REFUSALS':>9} {'CRASHES':>8} "
              f"{'MISMATCHES':>10} {'LOST':>5}", highlight=False)  # fmt: skip
    for t in tallies:
        out.print(f"{t.part:<32} {t.operations:>10} {t.refusals:>9} {t.crashes:>8} "
                  f"{t.mismatches:>10} {t.lost:>5}", highlight=False)  # fmt: skip
    out.print(f"in {elapsed:.0f} s (seed {seed})", highlight=False)
    bad = [t for t in tallies if t.crashes or t.mismatches or t.lost]
    for t in bad:
        out.print(f"{t.part}: first problem: {t.first_problem}", highlight=False)
    if bad:
        raise SystemExit(1)
