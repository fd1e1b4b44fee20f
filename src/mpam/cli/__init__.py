"""The `mpam` command. Each subcommand's --help is its manual.

Subcommands are imported only when one runs or its help is shown: a client command such as
`mpam ps` loads click and a socket, not the simulator (Numba and NumPy take a second to
import). So that `mpam --help` lists every command without importing any, the one-line
summaries live in `COMMANDS` here; each command gets its summary from there when it loads.
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

__all__ = ["COMMANDS", "EPILOG", "LazyCommand", "LazyGroup", "main"]


class LazyCommand(NamedTuple):
    """Where a command lives (module and attribute) and the summary `--help` lists."""

    module: str
    attribute: str
    summary: str


#: Every subcommand of `mpam`, by name.
COMMANDS: dict[str, LazyCommand] = {
    "acpi": LazyCommand(
        "mpam.cli.acpi", "acpi", "ACPI tables: the MPAM table, PPTT and SRAT a firmware publishes."
    ),
    "boot": LazyCommand(
        "mpam.cli.machine", "boot", "Start a machine in the background; return once it has booted."
    ),
    "cpu": LazyCommand(
        "mpam.cli.machine", "cpu", "CPU hotplug: take a CPU offline or bring it back."
    ),
    "dmesg": LazyCommand(
        "mpam.cli.machine", "dmesg", "The kernel log, with timestamps in simulated time."
    ),
    "exec": LazyCommand(
        "mpam.cli.execute", "exec_", "Run a command with the machine as its system (resctrl, CPUs)."
    ),
    "exporter": LazyCommand(
        "mpam.cli.exporter", "exporter", "Serve the machine's counters to Prometheus."
    ),
    "inject": LazyCommand(
        "mpam.cli.machine", "inject_error", "Make an MSC detect an error (fault injection)."
    ),
    "inventory": LazyCommand(
        "mpam.cli.inventory", "inventory", "List a platform's CPUs, caches, memory and MSCs."
    ),
    "kill": LazyCommand(
        "mpam.cli.sim", "kill", "End a task (its workload statistics stay in `mpam stats`)."
    ),
    "list": LazyCommand("mpam.cli.machine", "list_", "List the running machines."),
    "monitor": LazyCommand(
        "mpam.cli.monitor", "monitor", "Watch IPC, LLC occupancy and bandwidth per group, live."
    ),
    "mount": LazyCommand("mpam.cli.machine", "mount", "Mount a machine's resctrl at a directory."),
    "platform": LazyCommand(
        "mpam.cli.platforms", "platform", "Platform descriptions (machines) that mpam can build."
    ),
    "ps": LazyCommand(
        "mpam.cli.machine", "ps", "List the tasks, with the PARTID and PMG each one carries."
    ),
    "run": LazyCommand("mpam.cli.sim", "run", "Start a task running a workload; print its pid."),
    "scenario": LazyCommand(
        "mpam.cli.scenario", "scenario", "Run a scenario and report what partitioning did."
    ),
    "shutdown": LazyCommand("mpam.cli.machine", "shutdown", "Stop a running machine."),
    "stats": LazyCommand(
        "mpam.cli.sim", "stats", "What each workload has done: IPC, LLC misses, traffic."
    ),
    "status": LazyCommand(
        "mpam.cli.machine", "status", "What a running machine is: platform, CPUs, MPAM."
    ),
    "soak": LazyCommand(
        "mpam.cli.soak", "soak", "Run the reliability campaign against a machine of its own."
    ),
    "step": LazyCommand(
        "mpam.cli.sim", "step", "Advance simulated time by a duration; print the clock."
    ),
    "sysfs": LazyCommand(
        "mpam.cli.machine", "sysfs", "Mount the machine's /sys/devices/system/cpu at a directory."
    ),
    "time": LazyCommand(
        "mpam.cli.sim", "time_", "The simulated clock, and how fast it runs against the wall."
    ),
    "trace": LazyCommand(
        "mpam.cli.machine", "trace", "System-register writes and MMIO accesses, in time order."
    ),
    "umount": LazyCommand(
        "mpam.cli.machine", "umount", "Unmount a resctrl mount (every group is reset)."
    ),
}

EPILOG = """\
A first session: `mpam platform list`, `mpam boot -p tiny`, `mpam status`, `mpam ps`,
`mpam shutdown`. `mpam list` shows the machines running; `mpam COMMAND --help` is the
manual of each command.

\b
Exit status:
  0  done
  1  refused: the command cannot do what was asked; the message says why
  2  usage: an unknown command or option, a missing or malformed argument
"""


class LazyGroup(click.Group):
    """A group whose commands are imported the first time they are needed, from a table of
    `LazyCommand`s; listing them (help, shell completion) imports nothing."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, name: str) -> click.Command:
        entry = self.lazy_commands[name]
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
        if command.short_help is None:
            command.short_help = entry.summary
        return command

    def summary(self, name: str) -> str:
        """The one-line summary of command `name`, without importing it."""
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit=1000)
        return self.lazy_commands[name].summary

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.summary(name)) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=self.summary(name))
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        # The group's own options, as click.Command completes them.
        return items + click.Command.shell_complete(self, ctx, incomplete)


class _Main(LazyGroup):
    """`mpam` itself: a file the system refuses (a directory that cannot be created, a file
    that cannot be written), a machine that cannot be reached and a name that cannot name
    one are the user's to fix, so they are refusals saying what and why, not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        from mpam.machine.client import MachineError

        try:
            return super().invoke(ctx)
        except MachineError as e:  # a machine that cannot be reached, or a name that is not one
            raise click.ClickException(str(e)) from None
        except OSError as e:
            if e.errno == errno.EPIPE or e.strerror is None:
                raise  # click quiets a closed pipe itself; anything else is a bug
            where = f"{e.filename}: " if e.filename is not None else ""
            raise click.ClickException(f"{where}{e.strerror}") from None


@click.group(
    cls=_Main,
    lazy_commands=COMMANDS,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="mpam")
def main() -> None:
    """An executable Arm MPAM machine: MSC hardware, ACPI tables, the Linux driver, resctrl."""
