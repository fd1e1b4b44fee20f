"""The kernels' compiler options and their prefetch hint (mpam.hw.jit)."""

from __future__ import annotations

import os
from pathlib import Path

import numba
import numpy as np
import pytest

from mpam.hw import jit
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


def test_cached_kernels_are_dropped_when_a_compiled_module_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numba checks only a kernel's own file; the package drops all its cached kernels
    when any module under hw/ or sim/ changes, since kernels inline helpers from others."""
    for name in ("hw", "sim"):
        (tmp_path / name / "__pycache__").mkdir(parents=True)
        (tmp_path / name / "mod.py").write_text("x = 1\n")
    monkeypatch.setattr(jit, "_PACKAGE", tmp_path)
    cached = tmp_path / "sim" / "__pycache__" / "mod.run-1.py311.nbi"
    cached.write_bytes(b"old")
    jit._drop_stale_kernels()  # no digest yet: nothing cached can be trusted
    assert not cached.exists()
    cached.write_bytes(b"new")
    jit._drop_stale_kernels()  # nothing changed since
    assert cached.exists()
    (tmp_path / "hw" / "mod.py").write_text("x = 2\n")  # a helper's module, not the kernel's
    jit._drop_stale_kernels()
    assert not cached.exists()
