"""Shared builders for the kernel tests: real hardware from the presets, no mocks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import mpam.hw
import mpam.platform
from mpam.hw.build import Hardware
from mpam.kernel import Kernel, KernelLog, Scheduler, busybox

_MPAMEN = 1 << 63  # MPAM3_EL3.MPAMEN, from the Arm ARM


def _firmware_enabled(preset: str) -> Hardware:
    """A preset's hardware after EL3 firmware set MPAM3_EL3.MPAMEN on every PE."""
    hw = mpam.hw.build(mpam.platform.load(preset))
    for cpu in hw.cpus:
        cpu.write_sysreg("MPAM3_EL3", _MPAMEN)
    return hw


def _busybox_scheduler(preset: str = "rdn2", online: list[int] | None = None) -> Scheduler:
    hw = _firmware_enabled(preset)
    n = len(hw.cpus)
    return Scheduler(hw.cpus, busybox(n), hw.clock, KernelLog(hw.clock), online=online)


@pytest.fixture
def new_hw() -> Callable[[str], Hardware]:
    """`new_hw(preset)`: firmware-enabled hardware of a preset."""
    return _firmware_enabled


@pytest.fixture
def new_sched() -> Callable[..., Scheduler]:
    """`new_sched(preset="rdn2", online=None)`: a scheduler over the busybox table."""
    return _busybox_scheduler


@pytest.fixture
def sched() -> Scheduler:
    """A scheduler over the rdn2 CPUs and the busybox process table, MPAM not enabled."""
    return _busybox_scheduler()


@pytest.fixture
def kernel() -> Kernel:
    """A booted rdn2 kernel."""
    k = Kernel(mpam.hw.build(mpam.platform.load("rdn2")))
    k.boot()
    return k
