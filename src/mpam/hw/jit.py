"""The one place Numba is imported: a typed `njit` for the traffic kernels, and a
`prefetch` hint they may give the host CPU.

Numba's decorator is untyped; this wrapper keeps each kernel's own signature for mypy.
Kernels are cached on disk (`cache=True`) so a machine compiles them once per install, and
`NUMBA_DISABLE_JIT=1` turns them back into the plain Python they are written in (CI runs
the kernel tests that way too, so the readable code is the tested code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

# No Numba runtime (NRT): kernels allocate nothing, their callers pass every array in, so
# calls pass arrays without reference counting. NumPy's error model: a division does not
# test its divisor for zero to raise ZeroDivisionError (the kernels divide only by
# quantities they have checked, and the plain-Python run of the tests would raise).
_OPTIONS: dict[str, Any] = {"nogil": True, "_nrt": False, "error_model": "numpy"}

__all__ = ["kernel", "njit", "prefetch"]

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


def prefetch(array: Any, index: int) -> None:
    """Ask the host CPU to start loading `array[index]` into its caches (a compiled kernel's
    hint: the simulated caches outgrow the host's, and a kernel that knows the accesses
    ahead overlaps their misses). In plain Python it does nothing."""


@intrinsic
def _llvm_prefetch(typingctx: Any, array: Any, index: Any) -> Any:
    """llvm.prefetch (read, high locality, data) of the element's address."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, aryty, ary, [args[1]], wraparound=False
        )
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
            builder.module, fnty, "llvm.prefetch.p0i8"
        )
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])  # fmt: skip
        return context.get_dummy_value()

    return types.void(array, index), codegen


@overload(prefetch, inline="always")
def _prefetch_compiled(array: Any, index: Any) -> Any:
    def impl(array: Any, index: Any) -> None:
        _llvm_prefetch(array, index)  # type: ignore[call-arg]

    return impl
