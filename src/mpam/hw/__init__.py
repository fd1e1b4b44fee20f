"""The silicon: MSCs and their registers, monitors, the controlled caches and memory, and
the CPUs' MPAM system registers. Nothing here knows about Linux.

`build(platform)` gives a machine's `Hardware` in its reset state: `.mscs` (each reached
only through `read32`/`write32`) and `.cpus` (each with its system registers).
"""

from mpam.hw.build import Hardware, build
from mpam.hw.clock import Clock
from mpam.hw.msc import AccessContext, ErrorCode, MmioError, Msc
from mpam.hw.pcc import PccMsc

__all__ = ["AccessContext", "Clock", "ErrorCode", "Hardware", "MmioError", "Msc", "PccMsc", "build"]
