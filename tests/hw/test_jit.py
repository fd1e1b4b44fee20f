"""The kernels' compiler options and their prefetch hint (mpam.hw.jit)."""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest

from mpam.hw.jit import njit, prefetch


@njit
def _sum_with_hints(a: np.ndarray) -> int:
    total = 0
    for i in range(a.shape[0]):
        if i + 4 < a.shape[0]:
            prefetch(a, i + 4)
        total += a[i]
    return int(total)


def test_prefetch_is_a_hint_that_changes_nothing() -> None:
    a = np.arange(1000, dtype=np.int64)
    assert prefetch(a, 3) is None  # plain Python: nothing
    assert _sum_with_hints(a) == int(a.sum())


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs the compiler")
def test_prefetch_compiles_to_a_prefetch_instruction() -> None:
    entry = numba.njit(lambda a: _sum_with_hints(a))
    entry(np.arange(8, dtype=np.int64))
    (asm,) = entry.inspect_asm().values()
    assert "prefetcht0" in asm or "prfm" in asm  # x86-64 or AArch64: read, keep
