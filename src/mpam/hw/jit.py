"""The one place Numba is imported: a typed `njit` for the traffic kernels.

Numba's decorator is untyped; this wrapper keeps each kernel's own signature for mypy.
Kernels are cached on disk (`cache=True`) so a machine compiles them once per install, and
`NUMBA_DISABLE_JIT=1` turns them back into the plain Python they are written in (CI runs
the kernel tests that way too, so the readable code is the tested code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

# No Numba runtime (NRT): kernels allocate nothing, their callers pass every array in, so
# calls pass arrays without reference counting. NumPy's error model: a division does not
# test its divisor for zero to raise ZeroDivisionError (the kernels divide only by
# quantities they have checked, and the plain-Python run of the tests would raise).
_OPTIONS: dict[str, Any] = {"nogil": True, "_nrt": False, "error_model": "numpy"}

__all__ = ["kernel", "njit"]

F = TypeVar("F", bound=Callable[..., Any])


def njit(fn: F) -> F:
    """A helper for kernels: inlined into each kernel that calls it, at Numba's level
    (`inline="always"`). Left to LLVM, a large helper such as `cache_fill` stayed a call,
    and a call passes each array argument as seven machine words: a 4-way L1 fill took
    twice as long."""
    return cast(F, numba.njit(inline="always", **_OPTIONS)(fn))


def kernel(fn: F) -> F:
    """An entry point called from Python: like `njit`, and cached on disk so a machine
    compiles it once per install. Only entry points are cached: a cached function is
    linked, not inlined, into its callers, which made a cache lookup eight times slower.
    The disk cache is keyed on the kernel's own file: after changing only a helper in
    another module, delete the `__pycache__/*.nbi` and `*.nbc` files."""
    return cast(F, numba.njit(cache=True, **_OPTIONS)(fn))
