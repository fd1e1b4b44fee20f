"""Shared pieces of the command line: the console and loading a platform with a clean error."""

from __future__ import annotations

import os

import click
from rich.console import Console

from mpam.platform import DEFAULT, Platform, PlatformError, load

__all__ = ["console", "load_platform", "platform_option"]

platform_option = click.option(
    "--platform",
    "-p",
    "platform_name",
    default=DEFAULT,
    show_default=True,
    metavar="NAME_OR_FILE",
    help="A preset name (see `mpam platform list`) or a platform TOML file.",
)


def console() -> Console:
    """The output console. COLUMNS fixes the width (tests use it for reproducible output);
    when writing to a pipe or a log, tables get 160 columns rather than rich's 80."""
    width = os.environ.get("COLUMNS")
    out = Console(highlight=False, soft_wrap=False)
    if width:
        out.width = int(width)
    elif not out.is_terminal:
        out.width = 160
    return out


def load_platform(name: str) -> Platform:
    try:
        return load(name)
    except PlatformError as e:
        raise click.ClickException(str(e)) from None
