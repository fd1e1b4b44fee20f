"""`mpam platform`: list and show the platform descriptions that ship with mpam."""

from __future__ import annotations

import click
from rich.table import Table

from mpam.cli.common import console, load_platform
from mpam.platform import DEFAULT, presets

__all__ = ["platform"]


@click.group()
def platform() -> None:
    """Platform descriptions (machines) that mpam can build."""


@platform.command("list")
def list_() -> None:
    """List the preset platforms."""
    table = Table("name", "CPUs", "MSCs", "description", box=None)
    for name in presets():
        p = load_platform(name)
        mark = " (default)" if name == DEFAULT else ""
        table.add_row(name + mark, str(len(p.cpus)), str(len(p.mscs)), p.description)
    console().print(table)
