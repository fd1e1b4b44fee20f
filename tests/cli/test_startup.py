"""The command line's shape: client commands start without the simulator, `mpam --help` lists
every command from its lazy table, options mean one thing everywhere, summaries are whole
sentences, and shell completion answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mpam.cli import COMMANDS, main
from mpam.cli.common import DEFAULT_PLATFORM
from mpam.platform import DEFAULT, presets

#: Modules a client command must not import: each takes a good part of a second.
HEAVY = ("numba", "numpy", "llvmlite", "mpam.sim", "mpam.hw", "mpam.kernel", "mpam.driver")
#: Lighter still: what a command needs not import unless it prints a table (rich) or
#: formats a CPU list (`status`, with mpam.platform's formatter).
NOT_NEEDED = {"rich": ("stats",), "mpam.platform": ("status",)}
MPAM = Path(sys.executable).with_name("mpam")


def _imports(args: list[str], runtime: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m mpam.cli ARGS`; the names of the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mpam.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MPAM_RUNTIME_DIR": str(runtime)},
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc, modules


@pytest.mark.parametrize(
    "args", [["ps"], ["status"], ["dmesg"], ["list"], ["stats"], ["time"], ["--help"]]
)
def test_client_commands_import_no_simulator(args: list[str], tiny_machine: Path) -> None:
    proc, modules = _imports(args, tiny_machine)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout  # the command ran to its end, not to an early refusal
    assert "mpam.machine.client" in modules or args == ["--help"]
    assert sorted(m for m in modules if m.startswith(HEAVY)) == []
    for prefix, users in NOT_NEEDED.items():
        if args[0] not in users:
            assert sorted(m for m in modules if m.startswith(prefix)) == [], prefix


def test_help_lists_every_command_without_importing_it(tiny_machine: Path) -> None:
    proc, modules = _imports(["--help"], tiny_machine)
    assert not [m for m in modules if m.startswith("mpam.cli.")]
    lines = proc.stdout.splitlines()
    for name, entry in COMMANDS.items():
        assert f"  {name:<10} {entry.summary}" in lines
    assert "Exit status:" in proc.stdout and "2  usage:" in proc.stdout


def _all_commands() -> dict[str, click.Command]:
    """Every command and subcommand by its full name, loading them all."""
    ctx = click.Context(main)
    out: dict[str, click.Command] = {}
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None, name
        out[name] = command
        if isinstance(command, click.Group):
            for sub, subcommand in command.commands.items():
                out[f"{name} {sub}"] = subcommand
    return out


def test_the_lazy_table_is_what_each_command_says() -> None:
    commands = _all_commands()
    for name, entry in COMMANDS.items():
        assert commands[name].get_short_help_str() == entry.summary
        assert entry.summary.endswith("."), name


@pytest.mark.parametrize("group", ["", "cpu", "platform"])
def test_summaries_are_whole_sentences(group: str) -> None:
    result = CliRunner().invoke(main, [*group.split(), "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    listing = result.output.split("Commands:\n", 1)[1].split("\n\n")[0]
    assert "..." not in listing
    rows = [line for line in listing.splitlines() if line.startswith("  ") and line[2] != " "]
    assert rows and all(row.rstrip().endswith(".") for row in rows), listing


def test_options_mean_one_thing_everywhere() -> None:
    for name, command in _all_commands().items():
        for param in command.params:
            opts = [*param.opts, *getattr(param, "secondary_opts", [])]
            if "-o" in opts:
                assert name in ("mount", "exec"), f"{name}: -o is for mount options only"
            assert "--output" not in opts, name
            if "--out" in opts:
                assert opts == ["--out"], f"{name}: --out has no short form"
            if "-n" in opts:
                assert opts == ["--name", "-n"], name
            if "-p" in opts:
                assert opts == ["--platform", "-p"], name
    assert "--name" in [o for p in _all_commands()["umount"].params for o in p.opts]


def test_platform_show_prints_the_preset_file() -> None:
    from importlib import resources

    for name in presets():
        result = CliRunner().invoke(main, ["platform", "show", name])
        text = (resources.files("mpam.platform") / "presets" / f"{name}.toml").read_text()
        assert (result.exit_code, result.output) == (0, text)


def test_the_default_platform_is_the_platform_package_s() -> None:
    boot = _all_commands()["boot"]
    platform = next(p for p in boot.params if p.name == "platform_name")
    assert platform.default == DEFAULT == DEFAULT_PLATFORM


def _complete(words: str, runtime: Path) -> list[str]:
    """What bash completion offers for the command line `words` (the last word being typed)."""
    env = {**os.environ, "MPAM_RUNTIME_DIR": str(runtime), "_MPAM_COMPLETE": "bash_complete"}
    env |= {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    proc = subprocess.run([str(MPAM)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_shell_completion(tiny_machine: Path) -> None:
    source = subprocess.run(
        [str(MPAM)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "_MPAM_COMPLETE": "bash_source"},
    ).stdout  # fmt: skip
    assert "complete -o nosort -F _mpam_completion mpam" in source
    assert _complete("mpam st", tiny_machine) == ["plain,stats", "plain,status", "plain,step"]
    assert _complete("mpam ps --name ", tiny_machine) == ["plain,err"]
    assert _complete("mpam boot -p t", tiny_machine) == ["file,t", "plain,tiny", "plain,two-socket"]
    assert _complete("mpam platform show r", tiny_machine) == ["plain,rdn2"]
    assert _complete("mpam mount -", tiny_machine)[:2] == ["plain,--name", "plain,-n"]
