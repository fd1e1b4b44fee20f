"""A whole MPAM machine: hardware, firmware tables, kernel, driver; in-process or running
in the background.

`Machine` is imported on first use (PEP 562): `from mpam.machine import client` is what every
client command loads, and it must not pull in the simulator, Numba and NumPy with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpam.machine.machine import Machine

__all__ = ["Machine"]


def __getattr__(name: str) -> Any:
    if name == "Machine":
        from mpam.machine.machine import Machine

        return Machine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
