"""mpam: an executable Arm MPAM machine.

Layers, bottom up (see docs/design.md §2): `platform` (descriptions), `hw` (MSCs, CPUs, caches and
memory), `firmware` (ACPI tables), `kernel`, `sim`, `resctrl`, `driver`, `machine`, and the
faces `cli` and `fuse`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
