"""The one place Numba is imported: a typed `njit` for the traffic kernels, a `prefetch`
hint they may give the host CPU, and `lanes_equal`, one vector compare of eight words.

Numba's decorator is untyped; this wrapper keeps each kernel's own signature for mypy.
Kernels are cached on disk (`cache=True`) so a machine compiles them once per install, and
`NUMBA_DISABLE_JIT=1` turns them back into the plain Python they are written in (CI runs
the kernel tests that way too, so the readable code is the tested code).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.cpython.unsafe.numbers import leading_zeros as _ctlz
from numba.cpython.unsafe.numbers import trailing_zeros as _cttz
from numba.extending import intrinsic, overload

# No Numba runtime (NRT): kernels allocate nothing, their callers pass every array in, so
# calls pass arrays without reference counting. NumPy's error model: a division does not
# test its divisor for zero to raise ZeroDivisionError (the kernels divide only by
# quantities they have checked, and the plain-Python run of the tests would raise).
_OPTIONS: dict[str, Any] = {"nogil": True, "_nrt": False, "error_model": "numpy"}

__all__ = [
    "LANES",
    "highest_bit",
    "kernel",
    "lanes_equal",
    "nibble_bits",
    "njit",
    "outline",
    "prefetch",
    "trailing_zeros",
    "wrap64",
]

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = Path(__file__).resolve().parent.parent
#: the packages whose modules hold compiled code (kernels and the helpers they inline)
_COMPILED = ("hw", "sim")


def _drop_stale_kernels() -> None:
    """Delete the package's cached kernels when any module of `_COMPILED` has changed since
    they were compiled. Numba checks only a kernel's own file, and a kernel carries the
    helpers it inlines from other modules: after an update that changes only
    `mpam.hw.cache`, the cached traffic kernel would still run the old cache layout on the
    new arrays. The sources' digest is kept beside the caches; where the package is not
    writable, Numba does not cache there either."""
    digest = hashlib.sha256()
    for path in sorted(p for name in _COMPILED for p in (_PACKAGE / name).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    stamp = _PACKAGE / "__pycache__" / "kernel-sources.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for name in _COMPILED:
            for cached in (_PACKAGE / name / "__pycache__").glob("*.nb[ic]"):
                cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:
        pass


_drop_stale_kernels()


def njit(fn: F) -> F:
    """A helper for kernels: inlined into each kernel that calls it, at Numba's level
    (`inline="always"`). Left to LLVM, a large helper such as `cache_fill` stayed a call,
    and a call passes each array argument as seven machine words: a 4-way L1 fill took
    twice as long."""
    return cast(F, numba.njit(inline="always", **_OPTIONS)(fn))


def outline(fn: F) -> F:
    """A helper for a path too rare to pay for its code in every kernel that may take it:
    compiled once and called, not inlined (the Table 5-1 victim classes, SRRIP). Each
    call passes its arrays whole, so a hot path must not use one."""
    return cast(F, numba.njit(**_OPTIONS)(fn))


def kernel(fn: F) -> F:
    """An entry point called from Python: like `njit`, and cached on disk so a machine
    compiles it once per install. Only entry points are cached: a cached function is
    linked, not inlined, into its callers, which made a cache lookup eight times slower.
    Numba keys the disk cache on the kernel's own file only; `_drop_stale_kernels` drops
    every cached kernel when a module they inline from changes."""
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


def _splat(builder: Any, vty: Any, value: Any) -> Any:
    """`value` in every lane of a vector of type `vty`."""
    i32 = ir.IntType(32)
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    zeros = ir.Constant(ir.VectorType(i32, vty.count), [0] * vty.count)
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), zeros)


#: Words `lanes_equal` compares at once.
LANES = 8


def lanes_equal(array: Any, index: int, value: int) -> int:
    """Bitmask of which of array[index : index + LANES] equal `value` (bit k: element
    index + k). Compiled, it is one vector compare: a cache lookup compares every tag of a
    set, and LLVM does not vectorize that loop by itself. The caller makes sure the eight
    elements exist and ignores the bits it does not own."""
    return sum(1 << k for k in range(LANES) if array[int(index) + k] == value)


@intrinsic
def _llvm_lanes_equal(typingctx: Any, array: Any, index: Any, value: Any) -> Any:
    """An unaligned load of <LANES x i64>, icmp eq against `value` splatted, the <LANES x
    i1> result bitcast to an integer."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, aryty, ary, [args[1]], wraparound=False
        )
        vty = ir.VectorType(ir.IntType(64), LANES)
        words = builder.load(builder.bitcast(ptr, vty.as_pointer()), align=8)
        equal = builder.icmp_signed("==", words, _splat(builder, vty, args[2]))
        bits = builder.bitcast(equal, ir.IntType(LANES))
        return builder.zext(bits, ir.IntType(64))

    return types.int64(array, types.int64, types.int64), codegen


@overload(lanes_equal, inline="always")
def _lanes_equal_compiled(array: Any, index: Any, value: Any) -> Any:
    if not (isinstance(array, types.Array) and array.dtype == types.int64):
        return None

    def impl(array: Any, index: Any, value: Any) -> int:
        return _llvm_lanes_equal(array, index, value)  # type: ignore[call-arg]

    return impl


def nibble_bits(word: int, bits: int) -> int:
    """Bitmask whose bit j is bit `v` of `bits`, where v is the 4-bit lane j of `word` (j =
    0..15): which lanes of a packed list of small indices name a member of the set `bits`.
    Compiled, it is a few vector shifts and one compare, without a branch."""
    word = int(word)
    return sum(((int(bits) >> ((word >> (4 * j)) & 0xF)) & 1) << j for j in range(16))


@intrinsic
def _llvm_nibble_bits(typingctx: Any, word: Any, bits: Any) -> Any:
    """<16 x i64>: lanes = (word >> 4j) & 15, then bit 0 of bits >> lanes, as an i16."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        vty = ir.VectorType(ir.IntType(64), 16)
        shifts = ir.Constant(vty, [4 * j for j in range(16)])
        lanes = builder.and_(builder.lshr(_splat(builder, vty, args[0]), shifts),
                             ir.Constant(vty, [0xF] * 16))  # fmt: skip
        picked = builder.lshr(_splat(builder, vty, args[1]), lanes)
        odd = builder.trunc(picked, ir.VectorType(ir.IntType(1), 16))  # bit 0 of each lane
        return builder.zext(builder.bitcast(odd, ir.IntType(16)), ir.IntType(64))

    return types.int64(types.int64, types.int64), codegen


@overload(nibble_bits, inline="always")
def _nibble_bits_compiled(word: Any, bits: Any) -> Any:
    def impl(word: Any, bits: Any) -> int:
        return _llvm_nibble_bits(word, bits)  # type: ignore[call-arg]

    return impl


def trailing_zeros(x: int) -> int:
    """Index of the lowest set bit of `x` (not 0): one instruction when compiled."""
    x = int(x)
    return (x & -x).bit_length() - 1


@overload(trailing_zeros, inline="always")
def _trailing_zeros_compiled(x: Any) -> Any:
    def impl(x: Any) -> int:
        return int(_cttz(x))  # type: ignore[call-arg]

    return impl


def highest_bit(x: int) -> int:
    """Index of the highest set bit of `x` (positive): one instruction when compiled."""
    return int(x).bit_length() - 1


@overload(highest_bit, inline="always")
def _highest_bit_compiled(x: Any) -> Any:
    def impl(x: Any) -> int:
        return 63 - int(_ctlz(x))  # type: ignore[call-arg]

    return impl


def wrap64(x: int) -> int:
    """`x` reduced to a signed 64-bit word, as compiled integer arithmetic leaves it. Bit
    tricks on machine words overflow on purpose; plain Python's integers do not wrap, so
    the plain-Python run of a kernel wraps where it stores such a word."""
    return ((int(x) + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)


@overload(wrap64, inline="always")
def _wrap64_compiled(x: Any) -> Any:
    def impl(x: Any) -> int:
        return x  # type: ignore[no-any-return]

    return impl
