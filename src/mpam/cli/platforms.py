"""`mpam platform`: list and show the platform descriptions that ship with mpam."""

from __future__ import annotations

from importlib import resources

import click
from rich.table import Table

from mpam.cli.common import console, emit_json, json_option, load_platform
from mpam.platform import DEFAULT, presets

__all__ = ["platform"]


@click.group()
def platform() -> None:
    """Platform descriptions (machines) that mpam can build."""


@platform.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the preset platforms."""
    loaded = [(name, load_platform(name)) for name in presets()]
    if as_json:
        emit_json("platform list", {"platforms": [
            {"name": name, "default": name == DEFAULT, "cpus": len(p.cpus), "mscs": len(p.mscs),
             "description": p.description} for name, p in loaded]})  # fmt: skip
        return
    table = Table("name", "CPUs", "MSCs", "description", box=None)
    for name, p in loaded:
        mark = " (default)" if name == DEFAULT else ""
        table.add_row(name + mark, str(len(p.cpus)), str(len(p.mscs)), p.description)
    console().print(table)


def _complete_presets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [name for name in presets() if name.startswith(incomplete)]


@platform.command(short_help="Print a preset's TOML file, to start a platform of your own.")
@click.argument("name", shell_complete=_complete_presets)
def show(name: str) -> None:
    """Print the TOML file of preset NAME, as it ships.

    It is a starting point for a platform of your own: `mpam platform show tiny > mine.toml`,
    edit it, then `mpam boot --platform mine.toml` (docs/platform.md describes every key)."""
    if name not in presets():
        raise click.ClickException(f"no preset named {name!r}; presets: {', '.join(presets())}")
    text = (resources.files("mpam.platform") / "presets" / f"{name}.toml").read_text("utf-8")
    click.echo(text, nl=False)
