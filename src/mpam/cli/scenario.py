"""`mpam scenario`: run a scenario to its end and report what partitioning did."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mpam.cli.common import console
from mpam.machine.report import Metrics, Segment, segments, write_results
from mpam.machine.scenario import ScenarioFailed, ScenarioRun, run_scenario
from mpam.sim.scenario import ScenarioError, load_scenario, shipped

__all__ = ["scenario"]


@click.command()
@click.argument("source", required=False, metavar="FILE_OR_NAME")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Directory for the results (default: NAME-results).")  # fmt: skip
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Simulate 1/N of the cache sets instead of the scenario's choice.")  # fmt: skip
@click.option("--seed", type=int, default=None, help="Seed instead of the scenario's.")
@click.option("--list", "list_", is_flag=True, help="List the scenarios that ship with mpam.")
def scenario(
    source: str | None, out: Path | None, sample: int | None, seed: int | None, list_: bool
) -> None:
    """Run a scenario: a platform, tasks with workloads, resctrl actions at simulated times.

    FILE_OR_NAME is a scenario TOML file or the name of a shipped one (see --list). The
    machine boots in the background, its resctrl is mounted through FUSE, and the
    scenario's actions are file operations on that mount. At the end: a summary per
    segment (the run cut at each event), and per-task and per-group time series in
    tasks.csv, groups.csv, results.json and a PNG plot."""
    if list_:
        for name in shipped():
            click.echo(f"{name}: {load_scenario(name).description}")
        return
    if source is None:
        raise click.UsageError("give a scenario file or name (see --list)")
    try:
        spec = load_scenario(source)
    except ScenarioError as e:
        raise click.ClickException(str(e)) from None
    spec = dataclasses.replace(
        spec,
        sample=spec.sample if sample is None else sample,
        seed=spec.seed if seed is None else seed,
    )
    out_dir = out if out is not None else Path(f"{spec.name}-results")
    term = console()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[now]}"),
        TimeElapsedColumn(), console=term, disable=not term.is_terminal,
    )  # fmt: skip
    with progress:
        bar = progress.add_task(spec.name, total=spec.duration_ns, now="0.000 s")
        try:
            run = run_scenario(
                spec,
                progress=lambda ns: progress.update(bar, completed=ns, now=f"{ns / 1e9:.3f} s"),
            )
        except ScenarioFailed as e:
            raise click.ClickException(f"{spec.name}: {e}") from None
    files = write_results(run, out_dir)
    _summary(run)
    term.print(f"wrote {', '.join(str(f) for f in files)}")


def _summary(run: ScenarioRun) -> None:
    s = run.scenario
    term = console()
    term.print(f"{s.name}: {s.duration_ns / 1e9:g} s simulated on {s.platform} "
               f"(sampling 1/{s.sample}, seed {s.seed})")  # fmt: skip
    for t, what in run.events:
        term.print(f"  {t / 1e9:7.3f} s  {what}")
    segs = segments(run)
    tasks = Table(box=None, pad_edge=False)
    for col in ("TASK", "TIME s", "GROUP", "IPC", "LLC MISS%", "MPKI", "MEM GB/s", "STALL%"):
        tasks.add_column(col, justify="left" if col in ("TASK", "TIME s", "GROUP") else "right")
    for ts in run.tasks:
        for seg in segs:
            m = seg.tasks[ts.spec.name]
            if m is not None:
                tasks.add_row(ts.spec.name, _span(seg), seg.task_groups[ts.spec.name] or "-",
                              _num(m, "ipc", 1, ".3f"), _num(m, "llc_miss_ratio", 100, ".1f"),
                              _num(m, "llc_mpki", 1, ".2f"), _num(m, "mem_bytes_per_s", 1e-9, ".2f"),
                              _num(m, "stall_fraction", 100, ".1f"))  # fmt: skip
    groups = Table(box=None, pad_edge=False)
    for col in ("GROUP", "TIME s", "LLC OCCUPANCY MiB", "MBM TOTAL GB/s"):
        groups.add_column(col, justify="left" if col in ("GROUP", "TIME s") else "right")
    for name in run.groups:
        for seg in segs:
            g = seg.groups[name]
            if g is not None:
                groups.add_row(name, _span(seg), _num(g, "llc_occupancy_bytes", 2**-20, ".2f"),
                               _num(g, "mbm_total_bytes_per_s", 1e-9, ".2f"))  # fmt: skip
    term.print(tasks)
    term.print(groups)


def _span(seg: Segment) -> str:
    return f"{seg.start_ns / 1e9:.3f}-{seg.end_ns / 1e9:.3f}"


def _num(m: Metrics, key: str, scale: float, fmt: str) -> str:
    v = m[key]
    return "-" if v is None else format(v * scale, fmt)
