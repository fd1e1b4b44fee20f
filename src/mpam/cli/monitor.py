"""`mpam monitor`: a live view of a machine's groups (or tasks), interval by interval."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from mpam.cli.common import console, find, name_option, request

__all__ = ["monitor", "resctrl_mount"]


@contextmanager
def resctrl_mount(machine: Any) -> Iterator[Path]:
    """The machine's resctrl mount: the one it has, or one made for the monitor."""
    from mpam.machine.monitor import find_mount

    found = find_mount(request(machine, "status"))
    if found is not None:
        yield found
        return
    with tempfile.TemporaryDirectory(prefix="mpam-monitor-") as scratch:
        ret = request(machine, "mount", dir=scratch, options="")
        if ret:
            raise click.ClickException("monitor: the machine's resctrl could not be mounted")
        try:
            yield Path(scratch)
        finally:
            request(machine, "umount", dir=scratch)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


@click.command()
@name_option
@click.option("--interval", default="100ms", show_default=True,
              help="Simulated time between refreshes (10ms, 1s, ...).")  # fmt: skip
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop after N refreshes (default: until Ctrl-C).")  # fmt: skip
@click.option("--tasks/--groups", "per_task", default=False,
              help="One row per task running a workload, or per resctrl group (the default).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "jsonl"]), default=None,
              help="text on a terminal (a live screen), else one record per row: csv or jsonl "
                   "(the default when piped).")  # fmt: skip
def monitor(name: str | None, interval: str, count: int | None, per_task: bool,
            fmt: str | None) -> None:  # fmt: skip
    """Watch IPC, LLC misses, LLC occupancy and memory bandwidth per resctrl group (through
    its mon_data files) or per task, refreshed every interval of simulated time: a paused
    machine is stepped by it, a running one followed."""
    from mpam.machine.monitor import Monitor
    from mpam.sim.workload import parse_duration

    try:
        interval_ns = parse_duration(interval)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if interval_ns <= 0:
        raise click.ClickException("monitor: the interval must be longer than 0")
    per_task = bool(per_task)
    out = console()
    fmt = fmt or ("text" if out.is_terminal else "jsonl")
    machine = find(name)
    with resctrl_mount(machine) as mount:
        mon = Monitor(machine, mount, interval_ns)
        n = 0
        writer: Any = None
        try:
            if fmt == "text" and out.is_terminal:
                from rich.live import Live

                with Live(console=out, auto_refresh=False) as live:
                    while count is None or n < count:
                        live.update(_table(mon.sample(per_task=per_task)), refresh=True)
                        n += 1
                return
            while count is None or n < count:
                rows = mon.sample(per_task=per_task)
                n += 1
                if fmt == "jsonl":
                    for row in rows:
                        click.echo(json.dumps(row, sort_keys=True))
                elif fmt == "csv":
                    if writer is None:
                        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
                        writer.writeheader()
                    writer.writerows(rows)
                    sys.stdout.flush()
                else:
                    out.print(_table(rows))
        except KeyboardInterrupt:
            return


def _table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    units = {"ipc": "IPC", "llc_misses_per_s": "LLC MISS/s", "llc_occupancy_bytes": "LLC OCC B",
             "mbm_total_bytes_per_s": "MBM TOTAL B/s", "mbm_local_bytes_per_s": "MBM LOCAL B/s",
             "memory_bytes_per_s": "MEM B/s", "time_ns": "TIME s"}  # fmt: skip
    table = Table(box=None, pad_edge=False)
    keys = list(rows[0]) if rows else []
    for key in keys:
        table.add_column(
            units.get(key, key.upper()), justify="left" if key in ("group", "workload") else "right"
        )
    for row in rows:
        table.add_row(*(f"{row[k] / 1e9:.3f}" if k == "time_ns"
                        else f"{row[k]:.2f}" if k == "ipc" and row[k] is not None
                        else _cell(row[k]) for k in keys))  # fmt: skip
    return table
