"""Scenario files: what they mean, and every mistake refused with where it is."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mpam.sim.scenario import (
    Action,
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped,
    substitute,
)

GOOD = """
[scenario]
name = "demo"
platform = "rdn2"
duration = "120ms"
interval = "40ms"
sample = 16
seed = 7
mount = "debug"

[[task]]
name = "victim"
cpu = 3
workload = "uniform:footprint=4MiB"
group = "/lat/"

[[task]]
name = "noisy"
cpu = 2
workload = { kind = "stream", footprint = "32MiB" }
start = "40ms"
stop = "80ms"

[[action]]
at = "40ms"
write = "noisy/tasks"
value = "{noisy}"

[[action]]
at = 0
mkdir = "lat"

[[action]]
at = 0
mkdir = "noisy"
"""


def test_a_scenario_reads_as_written() -> None:
    s = parse_scenario(GOOD)
    assert (s.name, s.platform, s.duration_ns, s.interval_ns) == (
        "demo",
        "rdn2",
        120_000_000,
        40_000_000,
    )
    assert (s.sample, s.seed, s.mount_options) == (16, 7, "debug")
    victim, noisy = s.tasks
    assert (victim.cpu, victim.group, victim.start_ns, victim.stop_ns) == (3, "lat", 0, None)
    assert noisy.workload.spec == "stream:footprint=32MiB"
    assert (noisy.start_ns, noisy.stop_ns, noisy.group) == (40_000_000, 80_000_000, None)
    # Actions in time order; at one time, in the file's order.
    assert s.actions == (
        Action(0, "mkdir", "lat"),
        Action(0, "mkdir", "noisy"),
        Action(40_000_000, "write", "noisy/tasks", "{noisy}"),
    )
    assert s.event_times() == [40_000_000, 80_000_000]


def test_defaults() -> None:
    s = parse_scenario('[scenario]\nduration = "1s"\n', default_name="x")
    assert (s.name, s.platform, s.interval_ns, s.sample, s.seed) == ("x", "rdn2", 20_000_000, 64, 0)
    assert s.tasks == () and s.actions == () and s.event_times() == []


def test_actions_describe_themselves_as_shell_commands() -> None:
    assert Action(0, "mkdir", "g1").describe() == "mkdir g1"
    assert Action(0, "write", "g1/schemata", "L3:49=3\n").describe() == "echo L3:49=3 > g1/schemata"
    assert Action(0, "write", "g1/schemata", "L3:49=3;50=f").describe() == (
        "echo 'L3:49=3;50=f' > g1/schemata"
    )


def test_substitute_names_pids() -> None:
    assert substitute("{a},{b-2}", {"a": 106, "b-2": 7}) == "106,7"
    assert substitute("L3:49=ff", {}) == "L3:49=ff"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("duration = \"120ms\"", "duration = \"122ms\""), "[scenario] duration: '122ms' is not a whole number of 4 ms scheduler ticks"),
        (("interval = \"40ms\"", "interval = \"32ms\""), "[scenario]: duration must be a whole number of intervals"),
        (("seed = 7", "seed = -1"), "[scenario] seed: expected an integer of at least 0, got -1"),
        (("sample = 16", "sample = 0"), "[scenario] sample: expected an integer of at least 1, got 0"),
        (("mount = \"debug\"", "mout = \"debug\""), "[scenario]: unknown key 'mout'"),
        (("cpu = 3", "cpu = \"3\""), "task 'victim' cpu: expected an integer of at least 0, got '3'"),
        (("cpu = 3\n", ""), "task[0]: cpu is required"),
        (("uniform:footprint=4MiB", "unifrm"), "task 'victim': unknown workload kind 'unifrm'"),
        (("name = \"noisy\"", "name = \"victim\""), "two tasks are named 'victim'"),
        (("name = \"noisy\"", "name = \"no isy\""), "task[1]: name 'no isy' must be letters"),
        (("stop = \"80ms\"", "stop = \"40ms\""), "task 'noisy': stop must be after start"),
        (("stop = \"80ms\"", "stop = \"160ms\""), "task 'noisy': stop must be after start and not after the end"),
        (("start = \"40ms\"", "start = \"20ms\""), "task 'noisy' start: not a whole number of intervals (40ms)"),
        (("value = \"{noisy}\"", "value = \"{noisey}\""), "action[0]: value names no task {noisey}"),
        (("at = \"40ms\"\nwrite", "at = 0\nwrite"), "action[0]: task 'noisy' does not run at 0 s"),
        (("at = 0\nmkdir", "at = \"120ms\"\nmkdir"), "action[1]: at must be before the end of the scenario"),
        (("at = 0\nmkdir", "at = \"1.5ms\"\nmkdir"), "action[1] at: '1.5ms' is not a whole number of 4 ms"),
        (("mkdir = \"lat\"", "mkdir = \"lat\"\nrmdir = \"x\""), "action[1]: needs exactly one of mkdir, rmdir, write"),
        (("mkdir = \"lat\"", "mkdir = \"lat\"\nvalue = \"x\""), "action[1]: value goes with write, not mkdir"),
        (("value = \"{noisy}\"", ""), "action[0]: write needs a value"),
        (("mkdir = \"lat\"", "mkdir = \"/\""), "action[1]: mkdir needs a path under the mount"),
        (('mkdir = "lat"', 'mkdir = "../../x"'), "action[1] mkdir: '../../x' must name a path under the mount"),
        (('group = "/lat/"', 'group = "lat/../../x"'), "task 'victim' group: 'lat/../../x' must name a path"),
        (('name = "demo"', 'name = "../demo"'), "[scenario]: name '../demo' must be letters"),
        (('platform = "rdn2"', 'platform = "rdn3"'), "[scenario] platform: no preset named 'rdn3'; presets: "),
        (('platform = "rdn2"', 'platform = "no/such.toml"'), "[scenario] platform: "),
        (("cpu = 3", "cpu = 16"), "task 'victim' cpu: the platform has CPUs 0-15, not 16"),
        # The groups, played in the runner's order: a write or a task needs its group by then.
        (('at = 0\nmkdir = "noisy"', 'at = "80ms"\nmkdir = "noisy"'), "action[0] write 'noisy/tasks': there is no group 'noisy' at 0.04 s"),
        (('mkdir = "lat"', 'mkdir = "lot"'), "task 'victim' group: there is no group 'lat' at 0 s, when the task starts"),
        (('mkdir = "noisy"', 'mkdir = "lat"'), "action[2] mkdir 'lat': the group exists already at 0 s"),
        (('mkdir = "noisy"', 'mkdir = "info"'), "action[2] mkdir 'info': resctrl makes groups as NAME, NAME/mon_groups/NAME or mon_groups/NAME"),
        (('mkdir = "noisy"', 'mkdir = "lat/sub"'), "action[2] mkdir 'lat/sub': resctrl makes groups as"),
        (('mkdir = "noisy"', 'mkdir = "mon_groups/mon_groups"'), "action[2] mkdir 'mon_groups/mon_groups': resctrl makes groups as"),
        (('mkdir = "noisy"', 'mkdir = "x/mon_groups/m"'), "action[2] mkdir 'x/mon_groups/m': there is no group 'x' at 0 s"),
        (('mkdir = "noisy"', 'rmdir = "noisy"'), "action[2] rmdir 'noisy': there is no group 'noisy' at 0 s"),
        (('mkdir = "lat"', 'rmdir = ""'), "action[1]: rmdir needs a path under the mount"),
    ],
)  # fmt: skip
def test_mistakes_are_refused_with_where_they_are(edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in GOOD
    with pytest.raises(ScenarioError) as e:
        parse_scenario(GOOD.replace(old, new, 1), source_name="demo.toml")
    assert str(e.value).startswith("demo.toml: ")
    assert message in str(e.value)


def test_groups_follow_mkdir_and_rmdir() -> None:
    """Monitor groups go in the root or in a control group; removing a control group takes
    its monitor groups along; info/ is always there to write to."""
    head = '[scenario]\nduration = "120ms"\ninterval = "40ms"\n'

    def act(at: str, kind: str, path: str, value: str = "") -> str:
        extra = f'value = "{value}"\n' if value else ""
        return f'[[action]]\nat = "{at}"\n{kind} = "{path}"\n{extra}'

    good = head + "".join([
        act("0ms", "mkdir", "g"),
        act("0ms", "mkdir", "g/mon_groups/m"),
        act("0ms", "mkdir", "mon_groups/r"),
        act("0ms", "write", "info/L3_MON/max_threshold_occupancy", "65536"),
        act("40ms", "write", "g/mon_groups/m/cpus_list", "1"),
        act("80ms", "rmdir", "g"),
        act("80ms", "mkdir", "g"),
    ])  # fmt: skip
    assert [a.kind for a in parse_scenario(good).actions] == [
        "mkdir",
        "mkdir",
        "mkdir",
        "write",
        "write",
        "rmdir",
        "mkdir",
    ]
    gone = good + act("80ms", "write", "g/mon_groups/m/cpus_list", "1")
    with pytest.raises(
        ScenarioError, match=r"action\[7\] write .*no group 'g/mon_groups/m' at 0.08 s"
    ):
        parse_scenario(gone)


def test_not_toml_and_no_scenario_table() -> None:
    with pytest.raises(ScenarioError, match=r"^x.toml: not valid TOML"):
        parse_scenario("[scenario\n", source_name="x.toml")
    with pytest.raises(ScenarioError, match="needs a \\[scenario\\] table"):
        parse_scenario("[[task]]\nname='a'\n")
    with pytest.raises(ScenarioError, match="duration is required"):
        parse_scenario("[scenario]\nname='a'\n")
    with pytest.raises(ScenarioError, match="task must be an array of tables"):
        parse_scenario("task = 1\n[scenario]\nduration='1s'\n")


def test_files_resolve_relative_paths_from_their_folder(tmp_path: Path) -> None:
    trace = tmp_path / "t.trace"
    trace.write_text("R 0x1000\nW 0x2040\n")
    preset = resources.files("mpam.platform") / "presets" / "rdn2.toml"
    (tmp_path / "my.toml").write_text(preset.read_text(encoding="utf-8"))
    (tmp_path / "s.toml").write_text(
        '[scenario]\nduration = "40ms"\nplatform = "my.toml"\n'
        '[[task]]\nname = "t"\ncpu = 0\nworkload = "trace:path=t.trace"\n'
    )
    s = load_scenario(tmp_path / "s.toml")
    assert s.name == "s"  # the file's stem
    assert s.platform == str(tmp_path / "my.toml")
    assert str(trace) in s.tasks[0].workload.spec
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_shipped_scenarios_load() -> None:
    assert {"noisy-neighbour", "bandwidth-cap"} <= set(shipped())
    for name in shipped():
        s = load_scenario(name)
        assert s.name == name and s.description and s.tasks and s.actions
    with pytest.raises(ScenarioError, match="no scenario named 'nope'; shipped: "):
        load_scenario("nope")


def test_the_documented_file_format_parses() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    s = parse_scenario(block, source_name="docs/scenarios.md")
    assert s.name == "noisy-neighbour" and s.tasks[0].stop_ns == 500_000_000
    assert [(a.kind, a.path) for a in s.actions] == [("mkdir", "g1"), ("mkdir", "noisy"),
                                                      ("write", "noisy/tasks")]  # fmt: skip


def test_a_file_without_the_toml_suffix_is_still_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "myexp").write_text('[scenario]\nduration = "40ms"\n')
    monkeypatch.chdir(tmp_path)
    assert load_scenario("myexp").name == "myexp"
