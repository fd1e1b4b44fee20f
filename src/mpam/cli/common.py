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
    """The output console; COLUMNS fixes the width so output is reproducible in tests."""
    width = os.environ.get("COLUMNS")
    return Console(width=int(width) if width else None, highlight=False, soft_wrap=False)


def load_platform(name: str) -> Platform:
    try:
        return load(name)
    except PlatformError as e:
        raise click.ClickException(str(e)) from None
