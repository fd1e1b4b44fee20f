"""What a scenario run measured, as rates, segment summaries, CSV, JSON and plots.

A run keeps raw counter deltas (`mpam.machine.scenario`); every figure here is derived
from sums of them, so that a segment's IPC is its instructions over its cycles rather
than an average of ratios. The run is cut into segments at the scenario's events (a task
starts or stops, an action changes resctrl): the summary compares the segments, which is
where partitioning shows.
"""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpam.machine.scenario import GroupSeries, ScenarioRun, TaskSeries

__all__ = [
    "GROUP_METRICS",
    "TASK_METRICS",
    "Metrics",
    "Segment",
    "group_metrics",
    "plot",
    "segments",
    "task_metrics",
    "to_json",
    "write_results",
]

#: Per-task figures, in the order files list them.
TASK_METRICS: tuple[str, ...] = ("ipc", "llc_miss_ratio", "llc_mpki", "mem_bytes_per_s",
                                 "stall_fraction")  # fmt: skip
#: Per-group figures, in the order files list them.
GROUP_METRICS: tuple[str, ...] = ("llc_occupancy_bytes", "mbm_total_bytes_per_s",
                                  "mbm_local_bytes_per_s")  # fmt: skip

Metrics = dict[str, float | None]


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _task_figures(ts: TaskSeries, idx: list[int], interval_s: float) -> Metrics | None:
    """A task's figures over the intervals `idx` in which it ran; None if it never ran."""
    ran = [i for i in idx if ts.deltas["run_ns"][i] is not None]
    if not ran:
        return None
    total = {f: sum(v for i in ran if (v := ts.deltas[f][i]) is not None) for f in ts.deltas}
    cycles = total["run_ns"] * ts.frequency_ghz
    moved = total["read_bytes"] + total["write_bytes"]
    return {
        "ipc": _ratio(total["instructions"], cycles),
        "llc_miss_ratio": _ratio(total["llc_misses"], total["llc_refs"]),
        "llc_mpki": _ratio(1000 * total["llc_misses"], total["instructions"]),
        "mem_bytes_per_s": moved / (len(ran) * interval_s),
        "stall_fraction": _ratio(total["stall_ns"], total["run_ns"]),
    }


def _group_figures(g: GroupSeries, idx: list[int]) -> Metrics | None:
    """A group's mean occupancy and its bandwidth over the intervals `idx`."""
    occ = [v for i in idx if (v := g.occupancy[i]) is not None]
    secs = [i for i in idx if g.seconds[i]]
    if not occ and not secs:
        return None

    def rate(series: list[int | None]) -> float | None:
        pairs = [(series[i], g.seconds[i]) for i in secs if series[i] is not None]
        seconds = sum(s for _, s in pairs if s)
        return sum(b for b, _ in pairs if b is not None) / seconds if seconds else None

    return {
        "llc_occupancy_bytes": sum(occ) / len(occ) if occ else None,
        "mbm_total_bytes_per_s": rate(g.total_bytes),
        "mbm_local_bytes_per_s": rate(g.local_bytes),
    }


def task_metrics(run: ScenarioRun, ts: TaskSeries) -> list[Metrics | None]:
    """A task's figures in each interval."""
    interval_s = run.scenario.interval_ns / 1e9
    return [_task_figures(ts, [i], interval_s) for i in range(len(run.times_ns))]


def group_metrics(g: GroupSeries) -> list[Metrics | None]:
    """A group's figures in each interval."""
    return [_group_figures(g, [i]) for i in range(len(g.occupancy))]


@dataclass(frozen=True)
class Segment:
    """The part of a run between two events, with each task's and group's figures in it
    (None: the task did not run, the group did not exist)."""

    start_ns: int
    end_ns: int
    events: tuple[str, ...]
    tasks: dict[str, Metrics | None]
    task_groups: dict[str, str | None]
    groups: dict[str, Metrics | None]


def segments(run: ScenarioRun) -> list[Segment]:
    """The run cut at its events."""
    cuts = [0, *run.scenario.event_times(), run.scenario.duration_ns]
    interval_s = run.scenario.interval_ns / 1e9
    out = []
    for start, end in itertools.pairwise(cuts):
        idx = [i for i, t in enumerate(run.times_ns) if start < t <= end]
        groups_in = {ts.spec.name: ts.group[idx[-1]] if idx else None for ts in run.tasks}
        out.append(
            Segment(
                start,
                end,
                tuple(what for t, what in run.events if t == start),
                {ts.spec.name: _task_figures(ts, idx, interval_s) for ts in run.tasks},
                groups_in,
                {name: _group_figures(g, idx) for name, g in run.groups.items()},
            )
        )
    return out


# -- files ----------------------------------------------------------------------------------


def to_json(run: ScenarioRun) -> dict[str, Any]:
    """Everything measured, as one JSON-ready document."""
    s = run.scenario
    times = [t / 1e9 for t in run.times_ns]
    return {
        "scenario": {
            "name": s.name,
            "description": s.description,
            "platform": s.platform,
            "duration_s": s.duration_ns / 1e9,
            "interval_s": s.interval_ns / 1e9,
            "sample": s.sample,
            "seed": s.seed,
        },
        "events": [{"time_s": t / 1e9, "what": what} for t, what in run.events],
        "time_s": times,
        "tasks": [
            {
                "name": ts.spec.name,
                "pid": ts.pid,
                "cpu": ts.spec.cpu,
                "workload": ts.spec.workload.spec,
                "group": ts.group,
                **_columns(task_metrics(run, ts), TASK_METRICS),
            }
            for ts in run.tasks
        ],
        "groups": [
            {"path": name, **_columns(group_metrics(g), GROUP_METRICS)}
            for name, g in run.groups.items()
        ],
        "segments": [
            {
                "start_s": seg.start_ns / 1e9,
                "end_s": seg.end_ns / 1e9,
                "events": list(seg.events),
                "tasks": {
                    n: (None if m is None else {"group": seg.task_groups[n], **m})
                    for n, m in seg.tasks.items()
                },
                "groups": seg.groups,
            }
            for seg in segments(run)
        ],
    }


def _columns(rows: list[Metrics | None], names: tuple[str, ...]) -> dict[str, list[float | None]]:
    return {n: [None if r is None else r[n] for r in rows] for n in names}


def _cell(value: float | str | None) -> str:
    """A CSV cell that reads back as the value it was: counts and whole byte figures as
    integers, other numbers in the shortest text that round-trips (never rounded)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def write_results(run: ScenarioRun, out: Path) -> list[Path]:
    """Write tasks.csv, groups.csv, results.json and NAME.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    times = [t / 1e9 for t in run.times_ns]
    tasks_csv = out / "tasks.csv"
    with tasks_csv.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "task", "pid", "group", *TASK_METRICS])
        for ts in run.tasks:
            for i, m in enumerate(task_metrics(run, ts)):
                if m is not None:
                    w.writerow([_cell(times[i]), ts.spec.name, ts.pid, ts.group[i] or "",
                                *(_cell(m[n]) for n in TASK_METRICS)])  # fmt: skip
    groups_csv = out / "groups.csv"
    with groups_csv.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "group", *GROUP_METRICS])
        for name, g in run.groups.items():
            for i, gm in enumerate(group_metrics(g)):
                if gm is not None:
                    w.writerow([_cell(times[i]), name, *(_cell(gm[n]) for n in GROUP_METRICS)])
    results = out / "results.json"
    results.write_text(json.dumps(to_json(run), indent=1) + "\n")
    png = out / f"{run.scenario.name}.png"
    plot(run, png)
    return [tasks_csv, groups_csv, results, png]


def plot(run: ScenarioRun, path: Path) -> None:
    """Four panels over simulated time: each task's IPC and LLC miss ratio, each group's
    LLC occupancy and memory bandwidth; the events are marked where they happen."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, the same pixels everywhere
    import matplotlib.pyplot as plt

    s = run.scenario
    edges = [0.0] + [t / 1e9 for t in run.times_ns]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(9, 10), constrained_layout=True)
    for ts in run.tasks:
        rows = task_metrics(run, ts)
        label = f"{ts.spec.name} (CPU {ts.spec.cpu})"
        axes[0].stairs(_y(rows, "ipc", 1), edges, label=label, linewidth=1.5, baseline=None)
        axes[1].stairs(
            _y(rows, "llc_miss_ratio", 100), edges, label=label, linewidth=1.5, baseline=None
        )
    for name, g in run.groups.items():
        rows = group_metrics(g)
        axes[2].stairs(
            _y(rows, "llc_occupancy_bytes", 2**-20), edges, label=name, linewidth=1.5, baseline=None
        )
        axes[3].stairs(
            _y(rows, "mbm_total_bytes_per_s", 1e-9), edges, label=name, linewidth=1.5, baseline=None
        )
    titles = ("IPC", "LLC miss ratio (%)", "llc_occupancy (MiB)", "mbm_total_bytes (GB/s)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_ylabel(title)
        ax.set_ylim(0, ax.get_ylim()[1] * (1.4 if ax is axes[0] else 1.05))  # room for notes
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, title="task" if ax in axes[:2] else "group",
                  title_fontsize=8)  # fmt: skip
    for t in s.event_times():
        what = [w for et, w in run.events if et == t]
        for ax in axes:
            ax.axvline(t / 1e9, color="grey", linestyle=":", linewidth=1)
        axes[0].annotate("\n".join(what), (t / 1e9, 1), xycoords=("data", "axes fraction"),
                         xytext=(3, -3), textcoords="offset points", va="top", fontsize=7)  # fmt: skip
    axes[-1].set_xlabel("simulated time (s)")
    axes[-1].set_xlim(0, s.duration_ns / 1e9)
    fig.suptitle(f"{s.name}: {s.platform}, sampling 1/{s.sample}, seed {s.seed}")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _y(rows: list[Metrics | None], name: str, scale: float) -> list[float]:
    """A plotted series: missing points become NaN so the line breaks there."""
    out = []
    for r in rows:
        v = None if r is None else r[name]
        out.append(float("nan") if v is None else v * scale)
    return out
