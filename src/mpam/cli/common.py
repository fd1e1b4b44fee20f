"""Shared pieces of the command line: the console, the options every command spells the same
way, and errors that tell the user what to do.

Client commands import this module, so it stays light: no simulator, no NumPy, and not even
the platform package or rich (40 and 30 ms) until a command needs them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from mpam.machine import client

if TYPE_CHECKING:
    from click.decorators import FC
    from click.shell_completion import CompletionItem
    from rich.console import Console

    from mpam.platform import Platform

__all__ = [
    "DEFAULT_PLATFORM",
    "call",
    "console",
    "emit_json",
    "errno_text",
    "find",
    "json_option",
    "load_platform",
    "machine_name_option",
    "name_option",
    "platform_option",
    "request",
    "working",
]


#: mpam.platform.DEFAULT, spelled out so that a client command need not import the platform
#: package for it; tests/cli/test_startup.py checks that the two agree.
DEFAULT_PLATFORM = "rdn2"


def _complete_platforms(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Preset names, else files: a platform is either. (The file item comes first: bash's
    script clears the replies when it meets one, then adds the names after it.)"""
    from click.shell_completion import CompletionItem

    from mpam.platform import presets

    items = [CompletionItem(p) for p in presets() if p.startswith(incomplete)]
    return [CompletionItem(incomplete, type="file"), *items]


def _complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """The machines running, to complete --name."""
    return [n for n in client.running() if n.startswith(incomplete)]


platform_option = click.option(
    "--platform",
    "-p",
    "platform_name",
    default=DEFAULT_PLATFORM,
    show_default=True,
    metavar="NAME_OR_FILE",
    shell_complete=_complete_platforms,
    help="A preset name (see `mpam platform list`) or a platform TOML file.",
)


def machine_name_option(
    help: str = "Which running machine (default: the only one running; see `mpam list`).",
) -> Callable[[FC], FC]:
    """--name/-n: the machine a command talks to, completed from the machines running."""
    return click.option(
        "--name", "-n", default=None, metavar="NAME", shell_complete=_complete_names, help=help
    )


name_option = machine_name_option()

#: The version every --json document carries: it changes when a schema changes in a way a
#: script would notice (docs/monitoring.md; the schemas are mpam/cli/schemas/*.json).
JSON_VERSION = 1

json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print one JSON document (its schema: docs/monitoring.md) instead of text.",
)  # fmt: skip


def emit_json(command: str, body: dict[str, Any]) -> None:
    """Print `body` as the --json document of `command`: {"version", "command", ...}."""
    import json

    click.echo(json.dumps({"version": JSON_VERSION, "command": command, **body}, sort_keys=True))


def console() -> Console:
    """The output console. COLUMNS fixes the width (tests use it for reproducible output);
    when writing to a pipe or a log, tables get 160 columns rather than rich's 80."""
    from rich.console import Console

    width = os.environ.get("COLUMNS")
    out = Console(highlight=False, soft_wrap=False)
    if width:
        out.width = int(width)
    elif not out.is_terminal:
        out.width = 160
    return out


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner saying `message` while something slow runs, on a terminal only: piped or
    captured output stays the command's own."""
    out = console()
    if not out.is_terminal:
        yield
        return
    with out.status(message):
        yield


def load_platform(name: str) -> Platform:
    """The platform `name` (a preset or a file), or a click error saying what is wrong."""
    from mpam.platform import PlatformError, load

    try:
        return load(name)
    except PlatformError as e:
        raise click.ClickException(str(e)) from None


def find(name: str | None) -> client.RunningMachine:
    """The running machine `name` (or the only one), or a click error naming the others."""
    try:
        return client.find(name)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None


def call(name: str | None, op: str, **args: Any) -> Any:
    """Send one request to a running machine; a click error when it fails."""
    return request(find(name), op, **args)


def request(machine: client.RunningMachine, op: str, **args: Any) -> Any:
    """Send one request to `machine`; a click error with the machine's reason when it fails."""
    try:
        return machine.call(op, **args)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None


def errno_text(ret: int) -> str:
    """A negative errno as strerror and its symbol: `Device or resource busy (EBUSY)`."""
    return f"{os.strerror(-ret)} ({errno.errorcode.get(-ret, ret)})"
