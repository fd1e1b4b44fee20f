"""One tiny machine, booted paused in a runtime directory of its own, shared by the CLI
tests that need a machine to refuse something (booting one takes a second or two)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mpam.machine import client

#: The shared machine's name: a name of its own, so tests can tell it from the default.
NAME = "err"


@pytest.fixture(scope="session")
def tiny_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The runtime directory of a running, paused `tiny` machine called NAME."""
    runtime = tmp_path_factory.mktemp("tiny-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(runtime))
        client.boot("tiny", NAME, paused=True)
    yield runtime
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(runtime))
        for name in client.running():
            client.shutdown(client.RunningMachine(name))
