"""Scenario runs shared by the scenario and report tests: each boots a real machine in the
background and drives its resctrl through a FUSE mount, so it runs once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpam.machine.scenario import ScenarioRun, run_scenario
from mpam.sim.scenario import load_scenario


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioRun]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(tmp_path_factory.mktemp("run")))
        yield run_scenario(load_scenario(name))


@pytest.fixture(scope="session")
def noisy_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioRun]:
    """The shipped noisy neighbour, as it ships."""
    yield from _run("noisy-neighbour", tmp_path_factory)


@pytest.fixture(scope="session")
def bandwidth_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioRun]:
    """The shipped bandwidth cap, as it ships."""
    yield from _run("bandwidth-cap", tmp_path_factory)
