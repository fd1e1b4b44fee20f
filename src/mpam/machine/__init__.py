"""A whole MPAM machine: hardware, firmware tables, kernel, driver; in-process or running
in the background."""

from __future__ import annotations

from mpam.machine.machine import Machine

__all__ = ["Machine"]
