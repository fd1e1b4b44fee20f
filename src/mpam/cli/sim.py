"""Workloads and simulated time on a running machine: run, kill, stats, step, time.

The workload grammar (mpam.sim.workload) needs NumPy, so only `run` and `step` import it,
when they parse their argument: `mpam stats` and `mpam time` start as fast as `mpam ps`.
"""

from __future__ import annotations

from pathlib import Path

import click

from mpam.cli.common import call, console, emit_json, find, json_option, name_option, request

__all__ = ["kill", "run", "stats", "step", "time_"]


@click.command()
@name_option
@click.option("--cpu", "-c", type=int, required=True, help="The CPU the task runs on.")
@click.option("--comm", default=None, help="Task name (default: the workload's kind).")
@click.option("--uid", type=click.IntRange(0, 2**32 - 2), default=0,
              help="The task's user id (who may move it between groups; default root).")  # fmt: skip
@click.argument("spec")
def run(name: str | None, cpu: int, comm: str | None, uid: int, spec: str) -> None:
    """Start a task running a workload; print its pid.

    SPEC is KIND[:key=value,...] with KIND one of stream, uniform, zipf, chase, strided,
    trace (or lackey), and phases joined by '+': for example
    'stream:footprint=64MiB' or 'zipf:footprint=8MiB,alpha=1.1,duration=50ms+stream'.
    The task is a process like any other: move it between resctrl groups with its pid. A
    trace's path is relative to the current directory."""
    from mpam.sim.workload import WorkloadError, parse_workload

    try:
        # A bad spec is refused here with its reason; the machine gets the canonical spec,
        # with trace paths made absolute (its process has a directory of its own).
        workload = parse_workload(spec, base_dir=Path.cwd())
    except WorkloadError as e:
        raise click.ClickException(str(e)) from None
    pid = call(name, "run", spec=workload.spec, cpu=cpu, comm=comm, uid=uid)
    click.echo(pid)


@click.command()
@name_option
@click.argument("pid", type=int)
def kill(name: str | None, pid: int) -> None:
    """End a task (its workload statistics stay in `mpam stats`)."""
    call(name, "kill", pid=pid)


@click.command()
@name_option
@json_option
def stats(name: str | None, as_json: bool) -> None:
    """What each workload has done: instructions, IPC, LLC misses, memory traffic."""
    from rich.table import Table

    rows = call(name, "stats")
    if as_json:
        emit_json("stats", {"workloads": rows})
        return
    if not rows:
        click.echo("no workload has run")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("PID", "WORKLOAD", "RUN s", "INSTR", "IPC", "LLC MISS%", "MEM MB", "STALL%"):
        table.add_column(col, justify="left" if col == "WORKLOAD" else "right")
    for r in rows:
        run_s = r["run_ns"] / 1e9
        stall = 100 * r["stall_ns"] / r["run_ns"] if r["run_ns"] else 0.0
        mem_mb = (r["read_bytes"] + r["write_bytes"]) / 1e6
        table.add_row(
            str(r["pid"]), r["workload"], f"{run_s:.3f}", f"{r['instructions']:.3e}",
            f"{r['ipc']:.2f}", f"{100 * r['llc_miss_ratio']:.1f}", f"{mem_mb:.1f}",
            f"{stall:.1f}",
        )  # fmt: skip
    console().print(table)


@click.command()
@name_option
@click.argument("duration")
def step(name: str | None, duration: str) -> None:
    """Advance simulated time by DURATION (100ms, 2s, ... at most 3600s); print the
    simulated clock. Ctrl-C (or `mpam time --pause`) stops it where it has got to; the
    machine answers other commands while it runs."""
    from mpam.sim.workload import parse_duration

    try:
        ns = parse_duration(duration)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    machine = find(name)
    try:
        now = request(machine, "step", ns=ns, wait_s=None)
    except KeyboardInterrupt:
        request(machine, "step_interrupt")
        now = request(machine, "time")["now_ns"]
        click.echo(f"{now / 1e9:.6f} s (interrupted)")
        raise SystemExit(130) from None
    click.echo(f"{now / 1e9:.6f} s")


@click.command("time")
@name_option
@click.option("--pause", is_flag=True, help="Stop simulated time (and a step running).")
@click.option("--resume", is_flag=True, help="Let simulated time run again.")
def time_(name: str | None, pause: bool, resume: bool) -> None:
    """The simulated clock, and how fast it runs against the wall clock."""
    if pause and resume:
        raise click.UsageError("--pause and --resume cannot go together: say one")
    args = {"pause": True} if pause else {"pause": False} if resume else {}
    info = call(name, "time", **args)
    state = "paused" if info["paused"] else f"running at {info['rate']:.2f}x wall time"
    click.echo(f"{info['now_ns'] / 1e9:.6f} s simulated, {state} (sampling 1/{info['sample']})")
