"""What the FUSE tests share: the skip mark, the `mpam` command as a user runs it, one
write(2) as a shell's `echo ... > file` makes it, and shutting the machines down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.machine import client

needs_fuse = pytest.mark.skipif(
    not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing: FUSE cannot mount here"
)


def run_cli(*args: str) -> tuple[int, str]:
    """`mpam ARGS...`: its exit status and output."""
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.output


def write_once(path: Path, text: str) -> None:
    """One write(2), as `echo ... > file` makes; an OSError carries the errno."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def shutdown_all() -> None:
    """Every machine of this runtime directory shut down (their mounts go with them)."""
    for name in client.running():
        client.shutdown(client.RunningMachine(name))
