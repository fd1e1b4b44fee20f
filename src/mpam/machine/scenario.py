"""Run a scenario on a real running machine, through its mounted resctrl.

The scenario runner is a resctrl client like any other: it boots a machine in the
background (paused, so that simulated time moves only when the runner steps it), mounts
its resctrl through FUSE in a temporary directory, and does everything a script on real
hardware would do there with plain file I/O: ``mkdir`` groups, write ``schemata`` and
``tasks``, read ``mon_data``. Tasks start with the machine's ``run`` request; their
counters (instructions, cycles, LLC references and misses, bytes) come from its ``stats``,
the way ``perf stat`` would give them. Nothing here reaches into the machine's objects: a
scenario measures what a user could measure.

Every interval the runner samples each task's counters and each group's monitors; the
result (`ScenarioRun`) keeps the raw per-interval deltas, from which `mpam.machine.report`
derives rates, segment summaries, files and plots.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mpam.machine import client
from mpam.sim.scenario import NOT_GROUPS, Action, Scenario, TaskSpec, group_parent, substitute

__all__ = [
    "GROUP_FIELDS",
    "TASK_FIELDS",
    "GroupSeries",
    "ScenarioFailed",
    "ScenarioRun",
    "TaskSeries",
    "read_groups",
    "run_scenario",
]

#: The counters sampled from `stats` for each task, as per-interval deltas.
TASK_FIELDS: tuple[str, ...] = ("instructions", "run_ns", "llc_refs", "llc_misses",
                                "read_bytes", "write_bytes", "stall_ns")  # fmt: skip
#: The monitor files sampled for each group, summed over the L3 monitoring domains.
GROUP_FIELDS: tuple[str, ...] = ("llc_occupancy", "mbm_total_bytes", "mbm_local_bytes")
#: The longest simulated time one step request asks for (whole ticks).
_STEP_NS = 100_000_000


class ScenarioFailed(RuntimeError):
    """The machine refused something the scenario does (a write resctrl rejects, a CPU
    that does not exist): the message says what, when, and resctrl's reason."""


@dataclass
class TaskSeries:
    """One task's counters over each interval (None where it did not exist)."""

    spec: TaskSpec
    pid: int | None = None
    group: list[str | None] = field(default_factory=list)
    deltas: dict[str, list[float | None]] = field(
        default_factory=lambda: {f: [] for f in TASK_FIELDS}
    )
    frequency_ghz: float = 1.0


@dataclass
class GroupSeries:
    """One resctrl group's monitors: occupancy at each sample, bytes over each interval
    (None where the group did not exist or the counter could not be read)."""

    path: str
    occupancy: list[int | None] = field(default_factory=list)
    total_bytes: list[int | None] = field(default_factory=list)
    local_bytes: list[int | None] = field(default_factory=list)
    seconds: list[float | None] = field(default_factory=list)  # time each delta covers


@dataclass
class ScenarioRun:
    """What a scenario run measured: the sample times (end of each interval) and the
    series, plus the events in the order they happened."""

    scenario: Scenario
    times_ns: list[int]
    tasks: list[TaskSeries]
    groups: dict[str, GroupSeries]
    events: list[tuple[int, str]]


def read_groups(mount: Path) -> dict[str, Path]:
    """Every resctrl group under a mount: ``/`` for the default group, ``NAME`` for a
    control group, ``[NAME/]mon_groups/M`` for a monitor group."""
    found = {"/": mount}
    parents = [("", mount)]
    for entry in sorted(os.listdir(mount)):
        path = mount / entry
        if entry not in NOT_GROUPS and path.is_dir():
            found[entry] = path
            parents.append((entry + "/", path))
    for prefix, path in parents:
        mon = path / "mon_groups"
        if mon.is_dir():
            for entry in sorted(os.listdir(mon)):
                found[f"{prefix}mon_groups/{entry}"] = mon / entry
    return found


def _monitors(group: Path) -> dict[str, int | None]:
    """A group's monitor files summed over the L3 domains; None when a file is missing or
    reads ``Unavailable``/``Unassigned``/``Error`` in any domain."""
    out: dict[str, int | None] = {}
    domains = sorted((group / "mon_data").glob("mon_L3_*"))
    for name in GROUP_FIELDS:
        total: int | None = 0 if domains else None
        for d in domains:
            try:
                text = (d / name).read_text().strip()
            except OSError:
                total = None
                break
            if not text.isdigit():
                total = None
                break
            assert total is not None
            total += int(text)
        out[name] = total
    return out


def _members(groups: dict[str, Path]) -> dict[int, str]:
    """Which group each pid is in: a monitor group's tasks are also its parent's, and the
    more specific group wins."""
    where: dict[int, str] = {}
    for name in sorted(groups, key=lambda g: "mon_groups" in g):
        for line in (groups[name] / "tasks").read_text().split():
            where[int(line)] = name
    return where


class _Runner:
    def __init__(self, scenario: Scenario, machine: client.RunningMachine, mount: Path) -> None:
        self.s = scenario
        self.machine = machine
        self.mount = mount
        self.now = 0
        self.pids: dict[str, int] = {}
        self.events: list[tuple[int, str]] = []
        self.tasks = [TaskSeries(t) for t in scenario.tasks]
        self.groups: dict[str, GroupSeries] = {}
        self.last_stats: dict[int, dict[str, float]] = {}
        self.last_bytes: dict[str, tuple[int, int | None, int | None]] = {}
        self.samples = 0

    # -- events -----------------------------------------------------------------------

    def happen(self) -> None:
        """Everything due now, in an order that lets each part use the one before:
        stops, starts, actions (which may name the started pids), moves into groups."""
        count = len(self.events)
        for t in self.s.tasks:
            if t.stop_ns == self.now:
                self.machine.call("kill", pid=self.pids[t.name])
                self.events.append((self.now, f"stop {t.name} (pid {self.pids[t.name]})"))
        started = [t for t in self.s.tasks if t.start_ns == self.now]
        for t in started:
            try:
                pid = self.machine.call("run", spec=t.workload.spec, cpu=t.cpu, comm=t.name)
            except client.MachineError as e:
                raise ScenarioFailed(f"{self.when()}: start {t.name}: {e}") from None
            self.pids[t.name] = int(pid)
            self.events.append((self.now, f"start {t.name} (pid {pid}) on CPU {t.cpu}"))
        for a in self.s.actions:
            if a.at_ns == self.now:
                done = dataclasses.replace(a, value=substitute(a.value, self.pids))
                self._act(done.kind, done.path, done.value)
                self.events.append((self.now, done.describe()))
        for t in started:
            if t.group is None:
                continue
            # A task joins a monitor group only from its parent control group: the
            # kernel refuses the move otherwise ("Can't move task to different control
            # group"), so a task bound for one goes through its parent first.
            parent = group_parent(t.group)  # "" for a control group or the root's monitors
            steps = [parent, t.group] if parent else [t.group]
            for group in steps:
                self._act("write", f"{group}/tasks", str(self.pids[t.name]))
                self.events.append((self.now, f"echo {self.pids[t.name]} > {group}/tasks"))
        if len(self.events) > count or not self.last_bytes:
            self._baseline()

    def _act(self, kind: str, path: str, value: str) -> None:
        target = self.mount / path
        try:
            if kind == "mkdir":
                os.mkdir(target)
            elif kind == "rmdir":
                os.rmdir(target)
            else:
                with open(target, "w") as f:  # one write(2), like echo
                    f.write(value if value.endswith("\n") else value + "\n")
        except OSError as e:
            status = "; ".join(
                (self.mount / "info" / "last_cmd_status").read_text().split("\n")[:-1]
            )
            what = Action(self.now, kind, path, value).describe()
            reason = f" (last_cmd_status: {status})" if status and status != "ok" else ""
            raise ScenarioFailed(f"{self.when()}: {what}: {e.strerror}{reason}") from None

    def when(self) -> str:
        return f"at {self.now / 1e9:g} s"

    def _baseline(self) -> None:
        """Count bytes from now on, for every group: a new group starts here, and a control
        group's counters, which sum its monitor groups', drop when one is removed (as the
        kernel's do), so no delta may span a change of the tree."""
        present = read_groups(self.mount)
        self.last_bytes.clear()
        for name, path in present.items():
            m = _monitors(path)
            self.last_bytes[name] = (self.now, m["mbm_total_bytes"], m["mbm_local_bytes"])
            self.groups.setdefault(name, self._empty_group(name))

    def _empty_group(self, name: str) -> GroupSeries:
        g = GroupSeries(name)
        for series in (g.occupancy, g.total_bytes, g.local_bytes, g.seconds):
            series.extend([None] * self.samples)
        return g

    # -- sampling ---------------------------------------------------------------------

    def sample(self) -> None:
        present = read_groups(self.mount)
        members = _members(present)
        stats = {int(r["pid"]): r for r in self.machine.call("stats")}
        for ts in self.tasks:
            pid = self.pids.get(ts.spec.name)
            row = stats.get(pid) if pid is not None else None
            before = self.last_stats.get(pid, {}) if pid is not None else {}
            # Counted while the task exists, whether or not it got the CPU: a rate over
            # an interval then means the same for a task as for its group.
            stop = ts.spec.stop_ns
            alive = row is not None and (stop is None or self.now <= stop)
            for f in TASK_FIELDS:
                value = float(row[f]) - before.get(f, 0.0) if alive and row is not None else None
                ts.deltas[f].append(value)
            ts.group.append(members.get(pid) if pid is not None else None)
            if row is not None and pid is not None:
                ts.pid = pid
                ts.frequency_ghz = float(row["frequency_ghz"])
                self.last_stats[pid] = {f: float(row[f]) for f in TASK_FIELDS}
        for name, g in self.groups.items():
            if name not in present:
                for series in (g.occupancy, g.total_bytes, g.local_bytes, g.seconds):
                    series.append(None)
                continue
            m = _monitors(present[name])
            since, total, local = self.last_bytes[name]
            g.occupancy.append(m["llc_occupancy"])
            g.total_bytes.append(_delta(m["mbm_total_bytes"], total))
            g.local_bytes.append(_delta(m["mbm_local_bytes"], local))
            g.seconds.append((self.now - since) / 1e9)
            self.last_bytes[name] = (self.now, m["mbm_total_bytes"], m["mbm_local_bytes"])
        self.samples += 1

    def step_to(self, target: int) -> None:
        """Advance to `target` in steps of at most _STEP_NS, so that no single request
        runs long enough for the client to give up on it."""
        while target > self.now:
            ns = min(target - self.now, _STEP_NS)
            self.machine.call("step", ns=ns)
            self.now += ns


def _delta(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


def run_scenario(
    scenario: Scenario,
    *,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScenarioRun:
    """Boot the scenario's platform in the background, mount its resctrl, play the
    scenario to its end and return what was measured. The machine is shut down and the
    mount removed whatever happens; whatever fails is a ScenarioFailed saying when."""
    name = name or f"scenario-{os.getpid()}"
    mount = Path(tempfile.mkdtemp(prefix="mpam-resctrl-"))
    try:
        machine = client.boot(scenario.platform, name, paused=True, sample=scenario.sample,
                              seed=scenario.seed)  # fmt: skip
    except client.MachineError as e:
        shutil.rmtree(mount, ignore_errors=True)
        raise ScenarioFailed(str(e)) from None
    run = _Runner(scenario, machine, mount)
    try:
        ret = machine.call("mount", dir=str(mount), options=scenario.mount_options)
        if ret:
            reason = machine.call("status").get("mount_error", "")
            raise ScenarioFailed(
                f"mount resctrl: {os.strerror(-ret)}" + (f": {reason}" if reason else "")
            )
        run.happen()
        times: list[int] = []
        for k in range(1, scenario.duration_ns // scenario.interval_ns + 1):
            run.step_to(k * scenario.interval_ns)
            run.sample()
            times.append(run.now)
            if run.now < scenario.duration_ns:
                run.happen()
            if progress is not None:
                progress(run.now)
        return ScenarioRun(scenario, times, run.tasks, run.groups, run.events)
    except (client.MachineError, OSError) as e:
        raise ScenarioFailed(f"{run.when()}: {e}") from None
    finally:
        _tear_down(machine, mount)


def _tear_down(machine: client.RunningMachine, mount: Path) -> None:
    """Shut the machine down (which unmounts its resctrl), then make sure no mount is
    left: each step runs even when the one before failed."""
    # A machine already gone took its mounts along, or left them for the lazy detach below.
    with contextlib.suppress(client.MachineError, OSError):
        client.shutdown(machine)
    if os.path.ismount(mount):
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], check=False, capture_output=True)
    shutil.rmtree(mount, ignore_errors=True)
