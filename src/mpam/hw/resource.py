"""What an MSC controls and measures: the interface between MSCs and caches or memory.

A controlled resource reads its controls from the MSC's PARTID-indexed arrays (there is no
second copy), and reports to the MSC's monitors what they measure: cache storage per
(PARTID, PMG) for CSU monitors, bytes moved per (PARTID, PMG, read/write) for MBWU
monitors. `ReferenceResource` is the simple, exact implementation used by tests; the fast
caches and memory channels of the performance model implement the same interface.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["READ", "WRITE", "ControlledResource", "ReferenceResource"]

READ, WRITE = 0, 1


class ControlledResource(Protocol):
    """A cache or memory channel as seen by the monitors of the RIS that controls it."""

    def csu_bytes(self, partid: int | None, pmg: int | None, exclude_clean: bool) -> int:
        """Bytes of storage held by lines whose owner matches (None matches any)."""
        ...


class ReferenceResource:
    """Exact per-(PARTID, PMG) bookkeeping, fed directly by tests and simple workloads.

    Occupancy is kept as clean and dirty bytes per label; traffic is pushed to the RIS's
    monitors by the caller through `Ris.count_mbwu` (see `mpam.hw.msc`).
    """

    def __init__(self, num_partid: int, num_pmg: int) -> None:
        shape = (num_partid, num_pmg)
        self.clean: NDArray[np.int64] = np.zeros(shape, dtype=np.int64)
        self.dirty: NDArray[np.int64] = np.zeros(shape, dtype=np.int64)

    def set_occupancy(self, partid: int, pmg: int, clean: int, dirty: int = 0) -> None:
        self.clean[partid, pmg] = clean
        self.dirty[partid, pmg] = dirty

    def csu_bytes(self, partid: int | None, pmg: int | None, exclude_clean: bool) -> int:
        parts = slice(None) if partid is None else partid
        groups = slice(None) if pmg is None else pmg
        if partid is not None and partid >= self.dirty.shape[0]:
            return 0
        if pmg is not None and pmg >= self.dirty.shape[1]:
            return 0
        total = int(self.dirty[parts, groups].sum())
        if not exclude_clean:
            total += int(self.clean[parts, groups].sum())
        return total
