"""What `mpam monitor` shows each interval: per resctrl group (or per task) IPC, LLC misses,
LLC occupancy and memory bandwidth.

Group figures come through resctrl's own files, as a monitoring agent reads them: the
group's `tasks`, and `mon_data/mon_<domain>/{llc_occupancy,mbm_total_bytes,mbm_local_bytes}`
summed over the domains; rates are the change over the interval of simulated time. IPC and
LLC misses come from the machine's per-task statistics (what an agent would read from
perf), summed over the group's tasks. A paused machine is stepped by the interval; a running
one is followed by its clock.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpam.machine.client import RunningMachine

__all__ = ["FIELDS", "Monitor", "find_mount", "resctrl_groups"]

#: The figures of a row, each named with its unit.
FIELDS = ("ipc", "llc_misses_per_s", "llc_occupancy_bytes", "mbm_total_bytes_per_s",
          "mbm_local_bytes_per_s")  # fmt: skip
_EVENTS = ("llc_occupancy", "mbm_total_bytes", "mbm_local_bytes")


def resctrl_groups(mount: Path) -> list[tuple[str, str, Path]]:
    """(control group, MON group, directory) of every group of a mounted resctrl: the
    root ("/") and its MON groups first, then each control group by name and its own (the
    MON group is "" for a control group itself)."""
    ctrl = [("/", mount)] + [(e.name, e) for e in sorted(mount.iterdir())
                             if e.is_dir() and (e / "tasks").is_file()]  # fmt: skip
    out = []
    for name, directory in ctrl:
        out.append((name, "", directory))
        mon = directory / "mon_groups"
        if mon.is_dir():
            out += [(name, m.name, m) for m in sorted(mon.iterdir())]
    return out


def _groups(mount: Path) -> list[tuple[str, Path]]:
    """(name, directory) of every group, named by its path: "/", "g1", "g1/mon_groups/m"."""
    out = []
    for ctrl, mon, directory in resctrl_groups(mount):
        prefix = "" if ctrl == "/" else f"{ctrl}/"
        out.append((f"{prefix}mon_groups/{mon}" if mon else ctrl, directory))
    return out


def _counter(directory: Path, event: str) -> int | None:
    """An event summed over the group's monitoring domains; None where no domain has it
    (or every read said Unavailable / Error)."""
    total, seen = 0, False
    mon_data = directory / "mon_data"
    if not mon_data.is_dir():
        return None
    for domain in sorted(mon_data.iterdir()):
        try:
            text = (domain / event).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total, seen = total + int(text), True
    return total if seen else None


@dataclass
class _Snapshot:
    time_ns: int
    counters: dict[str, dict[str, int | None]]  # group -> event -> value
    tasks: dict[str, list[int]]  # group -> pids
    stats: dict[int, dict[str, Any]]  # pid -> cumulative statistics


class Monitor:
    """Samples a machine through its mounted resctrl, one interval at a time."""

    def __init__(self, machine: RunningMachine, mount: Path, interval_ns: int) -> None:
        self.machine = machine
        self.mount = mount
        self.interval_ns = interval_ns
        self._last = self._snapshot()

    def _snapshot(self) -> _Snapshot:
        counters: dict[str, dict[str, int | None]] = {}
        tasks: dict[str, list[int]] = {}
        for name, directory in _groups(self.mount):
            counters[name] = {e: _counter(directory, e) for e in _EVENTS}
            try:
                tasks[name] = [int(p) for p in (directory / "tasks").read_text().split()]
            except OSError:
                tasks[name] = []  # it went between the listing and the read
        stats = {int(s["pid"]): s for s in self.machine.call("stats")}
        now = int(self.machine.call("time")["now_ns"])
        return _Snapshot(now, counters, tasks, stats)

    def _advance(self) -> None:
        """Let an interval of simulated time pass: step a paused machine, wait for a
        running one (the wall clock only paces the polling)."""
        clock = self.machine.call("time")
        if clock["paused"]:
            self.machine.call("step", ns=self.interval_ns, wait_s=None)
            return
        until = self._last.time_ns + self.interval_ns
        while int(self.machine.call("time")["now_ns"]) < until:
            time.sleep(0.02)

    def sample(self, *, per_task: bool = False) -> list[dict[str, Any]]:
        """One interval's rows: per group (or per task with a workload)."""
        self._advance()
        before, now = self._last, self._snapshot()
        self._last = now
        seconds = (now.time_ns - before.time_ns) / 1e9 or float("nan")
        if per_task:
            return [self._task_row(now, before, pid, seconds) for pid in sorted(now.stats)]
        rows = []
        for group, counters in now.counters.items():
            old = before.counters.get(group, {})
            row: dict[str, Any] = {"time_ns": now.time_ns, "group": group}
            row.update(self._task_figures(now, before, now.tasks.get(group, []), seconds))
            row["llc_occupancy_bytes"] = counters["llc_occupancy"]
            for event in ("mbm_total_bytes", "mbm_local_bytes"):
                new, was = counters[event], old.get(event)
                row[f"{event}_per_s"] = (
                    None if new is None or was is None else max(new - was, 0) / seconds
                )
            rows.append(row)
        return rows

    @staticmethod
    def _task_figures(now: _Snapshot, before: _Snapshot, pids: list[int],
                      seconds: float) -> dict[str, float | None]:  # fmt: skip
        instr = cycles = misses = 0.0
        for pid in pids:
            s, b = now.stats.get(pid), before.stats.get(pid, {})
            if s is None:
                continue
            instr += s["instructions"] - b.get("instructions", 0.0)
            cycles += (s["run_ns"] - b.get("run_ns", 0.0)) * s["frequency_ghz"]
            misses += s["llc_misses"] - b.get("llc_misses", 0.0)
        return {"ipc": instr / cycles if cycles else None,
                "llc_misses_per_s": misses / seconds if cycles else None}  # fmt: skip

    def _task_row(self, now: _Snapshot, before: _Snapshot, pid: int,
                  seconds: float) -> dict[str, Any]:  # fmt: skip
        s, b = now.stats[pid], before.stats.get(pid, {})
        moved = (s["read_bytes"] + s["write_bytes"]
                 - b.get("read_bytes", 0.0) - b.get("write_bytes", 0.0))  # fmt: skip
        group = next((g for g, pids in now.tasks.items()
                      if pid in pids and "mon_groups" not in g), "/")  # fmt: skip
        return {"time_ns": now.time_ns, "pid": pid, "workload": s["workload"], "group": group,
                **self._task_figures(now, before, [pid], seconds),
                "memory_bytes_per_s": moved / seconds}  # fmt: skip


def find_mount(info: dict[str, Any]) -> Path | None:
    """The machine's resctrl mount, if it has one (its `status`)."""
    mounts = list(info.get("mounts", {}))
    return Path(mounts[0]) if mounts and os.path.isdir(mounts[0]) else None
