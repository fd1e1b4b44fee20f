"""What the client tests share: finding an installed client, a paused machine of the test's
own, and commands run under `mpam exec` as a user types them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .helpers import run_ok, shutdown_all


def client(program: str) -> str:
    """The installed client's path. `./scripts/test.sh` installs every client first
    (scripts/install_clients.sh) and sets MPAM_REQUIRE_CLIENTS, so there a missing one
    fails; elsewhere its tests are skipped."""
    found = shutil.which(program, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        message = f"{program} is not installed (scripts/install_clients.sh installs it)"
        if os.environ.get("MPAM_REQUIRE_CLIENTS"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@contextmanager
def machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, name: str
) -> Iterator[str]:
    """A paused machine of `platform` in a runtime directory of the test's own."""
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    run_ok("boot", "-p", platform, "--paused", "--name", name)
    try:
        yield name
    finally:
        shutdown_all()


def mpam_exec(name: str, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`mpam exec -n NAME -- sh -c SCRIPT`: its status and output."""
    argv = [sys.executable, "-m", "mpam.cli", "exec", "-n", name, "--", "sh", "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def mpam(*args: str) -> str:
    """The `mpam` command line for SCRIPTs run under `mpam exec` (the venv's, by path)."""
    return " ".join([sys.executable, "-m", "mpam.cli", *args])
