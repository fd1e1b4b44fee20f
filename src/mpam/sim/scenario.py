"""Scenarios: a platform, tasks with workloads, and resctrl actions at simulated times.

A scenario is the script of an experiment on partitioning, written down so that it can be
run again and give the same figures. It is a TOML file (``docs/scenarios.md``)::

    [scenario]
    platform = "rdn2"
    duration = "600ms"
    interval = "20ms"          # how often the monitors and task counters are sampled

    [[task]]
    name = "victim"
    cpu = 3
    workload = "uniform:footprint=4MiB,intensity=0.02"

    [[action]]
    at = "400ms"
    mkdir = "noisy"            # resctrl paths are relative to the mount point

    [[action]]
    at = "400ms"
    write = "noisy/tasks"
    value = "{noisy}"          # {TASK} is the pid the named task got

This module only reads and checks the file: every mistake in it (an unknown key, a time
off the tick or sample grid, a task name no task has, a CPU the platform lacks, a path
leaving the mount, a write or a task bound for a group that does not exist by then, a
platform that does not exist) is reported with where it is, before anything runs; what
only resctrl can judge (a schemata value, a mount option the platform cannot serve) stops
the run when it happens. Running one (a machine booted in the background, its resctrl
mounted through FUSE) is `mpam.machine.scenario`. Shipped examples live in
``scenarios/`` here.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mpam.kernel.boot import TICK_NS
from mpam.platform import DEFAULT, PlatformError, load, presets
from mpam.sim.workload import (
    Workload,
    WorkloadError,
    format_duration,
    parse_duration,
    workload_from_toml,
)

__all__ = [
    "ACTIONS",
    "NOT_GROUPS",
    "Action",
    "Scenario",
    "ScenarioError",
    "TaskSpec",
    "group_parent",
    "load_scenario",
    "parse_scenario",
    "shipped",
    "substitute",
]

#: What an action does to the mounted resctrl, in the order a message lists them.
ACTIONS: tuple[str, ...] = ("mkdir", "rmdir", "write")
#: ``{name}`` in an action's value: the pid of the task called name.
_TASK_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SCENARIO_KEYS = {"name", "description", "platform", "duration", "interval", "sample", "seed",
                  "mount"}  # fmt: skip
_TASK_KEYS = {"name", "cpu", "workload", "start", "stop", "group"}
_ACTION_KEYS = {"at", "value", *ACTIONS}
#: Directories of the resctrl root that are not groups, nor names a group may take.
NOT_GROUPS = frozenset({"info", "mon_groups", "mon_data"})


class ScenarioError(ValueError):
    """A scenario file is malformed; the message says where."""


@dataclass(frozen=True)
class TaskSpec:
    """A task the scenario runs: on `cpu` from `start_ns` until `stop_ns` (None: the end),
    moved into the resctrl group `group` (a path under the mount) when it starts."""

    name: str
    cpu: int
    workload: Workload
    start_ns: int = 0
    stop_ns: int | None = None
    group: str | None = None


@dataclass(frozen=True)
class Action:
    """One operation on the mounted resctrl at `at_ns`: `kind` is mkdir, rmdir or write;
    `value` (write only) may name tasks as ``{TASK}``."""

    at_ns: int
    kind: str
    path: str
    value: str = ""

    def describe(self) -> str:
        """The action as the shell command that does the same."""
        if self.kind == "write":
            return f"echo {shlex.quote(self.value.rstrip(chr(10)))} > {self.path}"
        return f"{self.kind} {self.path}"


@dataclass(frozen=True)
class Scenario:
    """A checked scenario: every time is a whole number of scheduler ticks."""

    name: str
    description: str
    platform: str
    duration_ns: int
    interval_ns: int
    sample: int
    seed: int
    mount_options: str
    tasks: tuple[TaskSpec, ...]
    actions: tuple[Action, ...]

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def event_times(self) -> list[int]:
        """The times at which something happens (a task starts or stops, an action runs),
        other than 0 and the end: where the summary cuts the run into segments."""
        times = {a.at_ns for a in self.actions}
        times |= {t.start_ns for t in self.tasks}
        times |= {t.stop_ns for t in self.tasks if t.stop_ns is not None}
        return sorted(t for t in times if 0 < t < self.duration_ns)


def substitute(value: str, pids: dict[str, int]) -> str:
    """`value` with each ``{TASK}`` replaced by that task's pid."""
    return _TASK_REF.sub(lambda m: str(pids[m.group(1)]), value)


def shipped() -> list[str]:
    """Names of the example scenarios that ship with mpam."""
    folder = resources.files("mpam.sim") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))  # fmt: skip


def load_scenario(name_or_path: str | Path) -> Scenario:
    """The scenario in a TOML file, or the shipped example of that name."""
    text = str(name_or_path)
    if (
        isinstance(name_or_path, Path)
        or text.endswith(".toml")
        or "/" in text
        or (Path(text).is_file())
    ):
        path = Path(name_or_path)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
        return parse_scenario(source, source_name=str(path), base_dir=path.parent.resolve(),
                              default_name=path.stem)  # fmt: skip
    if text not in shipped():
        raise ScenarioError(f"no scenario named {text!r}; shipped: {', '.join(shipped())}")
    resource = resources.files("mpam.sim") / "scenarios" / f"{text}.toml"
    return parse_scenario(resource.read_text(encoding="utf-8"), source_name=f"scenario {text}",
                          default_name=text)  # fmt: skip


def parse_scenario(
    text: str, *, source_name: str = "<scenario>", base_dir: Path | None = None,
    default_name: str = "scenario",
) -> Scenario:  # fmt: skip
    """Check a scenario's TOML text. Relative paths (a platform file, a trace) are taken
    from `base_dir`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{source_name}: not valid TOML: {e}") from None
    try:
        return _build(doc, base_dir, default_name)
    except ScenarioError as e:
        raise ScenarioError(f"{source_name}: {e}") from None


def _build(doc: dict[str, Any], base_dir: Path | None, default_name: str) -> Scenario:
    _only(doc, {"scenario", "task", "action"}, "the file")
    head = doc.get("scenario")
    if not isinstance(head, dict):
        raise ScenarioError("needs a [scenario] table with at least duration")
    _only(head, _SCENARIO_KEYS, "[scenario]")
    if "duration" not in head:
        raise ScenarioError("[scenario]: duration is required")
    duration = _time(head["duration"], "[scenario] duration")
    interval = _time(head.get("interval", "20ms"), "[scenario] interval")
    if duration == 0 or interval == 0:
        raise ScenarioError("[scenario]: duration and interval must be longer than 0")
    if duration % interval:
        raise ScenarioError("[scenario]: duration must be a whole number of intervals")
    sample = _integer(head.get("sample", 64), "[scenario] sample", low=1)
    seed = _integer(head.get("seed", 0), "[scenario] seed", low=0)
    tasks = tuple(_task(i, t, duration, base_dir) for i, t in enumerate(_tables(doc, "task")))
    for t in tasks:
        _on_sample(t.start_ns, interval, f"task {t.name!r} start")
        if t.stop_ns is not None:
            _on_sample(t.stop_ns, interval, f"task {t.name!r} stop")
    names = [t.name for t in tasks]
    for name in names:
        if names.count(name) > 1:
            raise ScenarioError(f"two tasks are named {name!r}")
    actions = tuple(_action(i, a, duration, tasks) for i, a in enumerate(_tables(doc, "action")))
    for i, a in enumerate(actions):
        _on_sample(a.at_ns, interval, f"action[{i}] at")
    _check_groups(tasks, actions)
    name = _string(head.get("name", default_name), "[scenario] name")
    if not _NAME.match(name):
        raise ScenarioError(f"[scenario]: name {name!r} must be letters, digits, '_' or '-'")
    platform = _platform(_string(head.get("platform", DEFAULT), "[scenario] platform"), base_dir)
    try:
        cpus = len(load(platform).cpus)
    except (PlatformError, OSError) as e:
        raise ScenarioError(f"[scenario] platform: {e}") from None
    for t in tasks:
        if t.cpu >= cpus:
            raise ScenarioError(f"task {t.name!r} cpu: the platform has CPUs 0-{cpus - 1}, "
                                f"not {t.cpu}")  # fmt: skip
    return Scenario(
        name=name,
        description=_string(head.get("description", ""), "[scenario] description"),
        platform=platform,
        duration_ns=duration,
        interval_ns=interval,
        sample=sample,
        seed=seed,
        mount_options=_string(head.get("mount", ""), "[scenario] mount"),
        tasks=tasks,
        actions=tuple(sorted(actions, key=lambda a: a.at_ns)),  # stable: file order at a time
    )


def _task(i: int, table: dict[str, Any], duration: int, base_dir: Path | None) -> TaskSpec:
    where = f"task[{i}]"
    _only(table, _TASK_KEYS, where)
    for key in ("name", "cpu", "workload"):
        if key not in table:
            raise ScenarioError(f"{where}: {key} is required")
    name = _string(table["name"], f"{where} name")
    if not _NAME.match(name):
        raise ScenarioError(f"{where}: name {name!r} must be letters, digits, '_' or '-'")
    where = f"task {name!r}"
    try:
        workload = workload_from_toml(table["workload"], base_dir=base_dir)
    except WorkloadError as e:
        raise ScenarioError(f"{where}: {e}") from None
    start = _time(table.get("start", 0), f"{where} start")
    stop = _time(table["stop"], f"{where} stop") if "stop" in table else None
    if start >= duration:
        raise ScenarioError(f"{where}: starts at or after the end of the scenario")
    if stop is not None and not start < stop <= duration:
        raise ScenarioError(f"{where}: stop must be after start and not after the end")
    group = _path(table["group"], f"{where} group") if "group" in table else None
    return TaskSpec(name, _integer(table["cpu"], f"{where} cpu", low=0), workload, start, stop,
                    group or None)  # fmt: skip


def _action(i: int, table: dict[str, Any], duration: int, tasks: tuple[TaskSpec, ...]) -> Action:
    where = f"action[{i}]"
    _only(table, _ACTION_KEYS, where)
    kinds = [k for k in ACTIONS if k in table]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}: needs exactly one of {', '.join(ACTIONS)}")
    kind = kinds[0]
    if "at" not in table:
        raise ScenarioError(f"{where}: at is required")
    at = _time(table["at"], f"{where} at")
    if at >= duration:
        raise ScenarioError(f"{where}: at must be before the end of the scenario")
    path = _path(table[kind], f"{where} {kind}")
    if kind != "write" and "value" in table:
        raise ScenarioError(f"{where}: value goes with write, not {kind}")
    if kind == "write" and "value" not in table:
        raise ScenarioError(f"{where}: write needs a value")
    value = _string(table.get("value", ""), f"{where} value")
    for ref in _TASK_REF.findall(value):
        known = {t.name: t for t in tasks}
        if ref not in known:
            raise ScenarioError(f"{where}: value names no task {{{ref}}}")
        t = known[ref]
        if not t.start_ns <= at < (t.stop_ns if t.stop_ns is not None else duration + 1):
            raise ScenarioError(f"{where}: task {ref!r} does not run at {at / 1e9:g} s")
    if not path:
        raise ScenarioError(f"{where}: {kind} needs a path under the mount")
    return Action(at, kind, path, value)


def group_parent(path: str) -> str | None:
    """The group a new group `path` goes in ("" is the root), or None when resctrl makes no
    group there: control groups are NAME, monitor groups mon_groups/NAME in the root or
    NAME/mon_groups/NAME in a control group."""
    parts = path.split("/")
    if len(parts) == 1 and parts[0] not in NOT_GROUPS:
        return ""
    if parts[-1] == "mon_groups":  # the kernel's is_mon_groups(): EPERM
        return None
    if len(parts) == 2 and parts[0] == "mon_groups":
        return ""
    if len(parts) == 3 and parts[1] == "mon_groups" and parts[0] not in NOT_GROUPS:
        return parts[0]
    return None


def _check_groups(tasks: tuple[TaskSpec, ...], actions: tuple[Action, ...]) -> None:
    """Play the scenario's mkdir and rmdir in the runner's order (at each time the actions
    in file order, then the tasks that start join their groups) and refuse what would
    find no group: a write into a folder that is no group by then, a group made twice, in
    a missing parent or where resctrl makes none, a group removed that is not there, a
    task bound for a group that does not exist when it starts."""
    groups = {""}
    order = sorted(range(len(actions)), key=lambda i: actions[i].at_ns)  # stable
    times = sorted({a.at_ns for a in actions} | {t.start_ns for t in tasks})
    k = 0
    for now in times:
        when = f"at {now / 1e9:g} s"
        while k < len(order) and actions[order[k]].at_ns == now:
            i = order[k]
            a = actions[i]
            k += 1
            where = f"action[{i}] {a.kind} {a.path!r}"
            if a.kind == "write":
                folder = a.path.rpartition("/")[0]
                if folder not in groups and folder.split("/")[0] != "info":
                    raise ScenarioError(f"{where}: there is no group {folder!r} {when}")
            elif a.kind == "mkdir":
                parent = group_parent(a.path)
                if parent is None:
                    raise ScenarioError(
                        f"{where}: resctrl makes groups as NAME, NAME/mon_groups/NAME or "
                        f"mon_groups/NAME, and NAME is none of {', '.join(sorted(NOT_GROUPS))}"
                    )
                if parent not in groups:
                    raise ScenarioError(f"{where}: there is no group {parent!r} {when}")
                if a.path in groups:
                    raise ScenarioError(f"{where}: the group exists already {when}")
                groups.add(a.path)
            else:
                if a.path not in groups:
                    raise ScenarioError(f"{where}: there is no group {a.path!r} {when}")
                groups = {g for g in groups if g != a.path and not g.startswith(a.path + "/")}
        for t in tasks:
            if t.start_ns == now and t.group is not None and t.group not in groups:
                raise ScenarioError(
                    f"task {t.name!r} group: there is no group {t.group!r} {when}, "
                    "when the task starts"
                )


# -- values ---------------------------------------------------------------------------------


def _only(table: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})"
        )


def _tables(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ScenarioError(f"{key} must be an array of tables: [[{key}]]")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: expected a string, got {value!r}")
    return value


def _path(value: object, where: str) -> str:
    """A path under the mount, without leading or trailing slashes; never out of it."""
    path = _string(value, where).strip("/")
    if any(part in ("", ".", "..") for part in path.split("/")) and path:
        raise ScenarioError(f"{where}: {path!r} must name a path under the mount")
    return path


def _integer(value: object, where: str, *, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ScenarioError(f"{where}: expected an integer of at least {low}, got {value!r}")
    return value


def _time(value: object, where: str) -> int:
    """Nanoseconds from a duration string or an integer, a whole number of ticks."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScenarioError(f"{where}: expected a duration such as '100ms', got {value!r}")
    try:
        ns = parse_duration(value) if isinstance(value, str) else value
    except ValueError as e:
        raise ScenarioError(f"{where}: {e}") from None
    if ns < 0 or ns % TICK_NS:
        raise ScenarioError(
            f"{where}: {value!r} is not a whole number of {TICK_NS // 1_000_000} ms scheduler ticks"
        )
    return ns


def _on_sample(ns: int, interval: int, where: str) -> None:
    """Things happen on sample boundaries, so that every sampled interval lies within one
    segment of the run and the summary compares like with like."""
    if ns % interval:
        raise ScenarioError(
            f"{where}: not a whole number of intervals ({format_duration(interval)})"
        )


def _platform(text: str, base_dir: Path | None) -> str:
    """A preset name as it is; a platform file made absolute, so the machine finds it."""
    if text in presets():
        return text
    if not (text.endswith(".toml") or "/" in text):
        raise ScenarioError(f"[scenario] platform: no preset named {text!r}; presets: "
                            f"{', '.join(presets())}")  # fmt: skip
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return str(path.resolve())
