"""What the FUSE tests share: the skip mark, the `mpam` command as a user runs it, one
write(2) as a shell's `echo ... > file` makes it, and shutting the machines down."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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


def run_ok(*args: str) -> str:
    """`mpam ARGS...`, which must succeed: its output."""
    code, out = run_cli(*args)
    assert code == 0, out
    return out


@contextmanager
def paused_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, name: str, *, mount: str
) -> Iterator[Path]:
    """A paused machine of `platform` in a runtime directory of the test's own, with its
    resctrl (`mount="mount"`) or its sysfs (`mount="sysfs"`) mounted at a fresh directory;
    shut down afterwards."""
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    point = tmp_path / mount
    point.mkdir()
    run_ok("boot", "-p", platform, "--paused", "--name", name)
    run_ok(mount, "-n", name, str(point))
    try:
        yield point
    finally:
        shutdown_all()


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
