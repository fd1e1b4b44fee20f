"""The kernel's number parsers: lib/kstrtox.c, and the two character helpers they are used
with (lib/ctype.c ``isspace``, lib/string.c ``strim``). Written anew from the kernel's
behaviour.

Every resctrl file that takes a number parses it with one of these, so a client sees the
kernel's answer to ``+5``, ``0x1f``, ``010``, ``5\\n``, `` 5`` or ``99999999999``: which
inputs are accepted, and whether a rejection is EINVAL or ERANGE. Python's ``int()``
accepts too much (spaces, ``_``, other bases' prefixes, Unicode digits) to stand in.

Each function returns ``(err, value)``, the kernel's ``int kstrtoX(s, base, &res)``: `err`
is 0 or a negative errno, and `value` is meaningful only when `err` is 0. (A plain "value
or negative errno" cannot work for the signed parsers: ``-22`` is a valid ``int``.)

Strings are C strings: parsing stops at the first NUL, as the kernel's does, because a
write(2) buffer may carry one. arm64 is LP64: ``unsigned long`` is 64 bits.
"""

from __future__ import annotations

import errno

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "KSTRTOX_OVERFLOW",
    "LLONG_MAX",
    "LLONG_MIN",
    "UINT_MAX",
    "ULLONG_MAX",
    "ULONG_MAX",
    "cstr",
    "isspace",
    "kstrtobool",
    "kstrtoint",
    "kstrtoll",
    "kstrtou32",
    "kstrtouint",
    "kstrtoul",
    "kstrtoull",
    "parse_integer",
    "strim",
]

ULLONG_MAX = (1 << 64) - 1
ULONG_MAX = ULLONG_MAX  # LP64
UINT_MAX = (1 << 32) - 1
LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
#: lib/kstrtox.h: the flag _parse_integer ORs into its count when the value overflowed.
KSTRTOX_OVERFLOW = 1 << 31

# lib/ctype.c marks 9-13, 32 and 160 as _S. Text reaches resctrl decoded as UTF-8, where a
# lone 0xA0 byte becomes U+FFFD and U+00A0 arrives as the two bytes C2 A0, whose first byte
# the kernel does not take for a space either: so only the ASCII ones count here.
_SPACE = frozenset(" \t\n\v\f\r")


def cstr(s: str) -> str:
    """The C string `s` holds: everything before its first NUL."""
    nul = s.find("\0")
    return s if nul < 0 else s[:nul]


def isspace(c: str) -> bool:
    """lib/ctype.c ``isspace`` for one character (see `_SPACE` for 0xA0)."""
    return c in _SPACE


def strim(s: str) -> str:
    """lib/string.c ``strim``: `s` without leading and trailing whitespace."""
    start, end = 0, len(s)
    while end > start and isspace(s[end - 1]):
        end -= 1
    while start < end and isspace(s[start]):
        start += 1
    return s[start:end]


def _digit(c: str) -> int:
    """The value of a digit character in bases up to 16, or 16 for anything else (the
    kernel's ``c | 0x20`` folds exactly A-F onto a-f)."""
    if "0" <= c <= "9":
        return ord(c) - ord("0")
    lc = chr(ord(c) | 0x20)
    if "a" <= lc <= "f":
        return ord(lc) - ord("a") + 10
    return 16


def _isxdigit(c: str) -> bool:
    return len(c) == 1 and _digit(c) < 16


def parse_integer(s: str, base: int, pos: int = 0) -> tuple[int, int]:
    """lib/kstrtox.c ``_parse_integer``: the digits of `base` starting at `s[pos]`.

    Returns ``(rv, value)``: `rv` is the number of characters consumed, ORed with
    `KSTRTOX_OVERFLOW` if the value passed ULLONG_MAX (the kernel keeps counting digits
    after an overflow; the value it then holds is meaningless and is not kept here)."""
    value = 0
    count = 0
    overflow = False
    for c in s[pos:]:
        val = _digit(c)
        if val >= base:
            break
        if not overflow:
            value = value * base + val
            overflow = value > ULLONG_MAX
        count += 1
    return (count | KSTRTOX_OVERFLOW if overflow else count), value


def _fixup_radix(s: str, base: int) -> tuple[str, int]:
    """lib/kstrtox.c ``_parse_integer_fixup_radix``: base 0 is 16 after ``0x`` followed by
    a hex digit, 8 after a leading ``0``, else 10; base 16 skips a ``0x``/``0X``."""
    hex_prefix = s[:1] == "0" and s[1:2] in ("x", "X")
    if base == 0 and hex_prefix and _isxdigit(s[2:3]):
        base = 16
    elif base == 0:
        base = 8 if s[:1] == "0" else 10
    if base == 16 and hex_prefix:
        s = s[2:]
    return s, base


def _kstrtoull(s: str, base: int) -> tuple[int, int]:
    """lib/kstrtox.c ``_kstrtoull``: digits, at most one newline, then the end. Overflow
    (ERANGE) is checked before "no digits" and before trailing characters (EINVAL)."""
    if base != 0 and not 2 <= base <= 16:
        raise ValueError(f"base {base}: the kernel supports 0 and 2..16")
    s, base = _fixup_radix(s, base)
    rv, value = parse_integer(s, base)
    if rv & KSTRTOX_OVERFLOW:
        return -errno.ERANGE, 0
    if rv == 0:
        return -errno.EINVAL, 0
    rest = s[rv:]
    if rest[:1] == "\n":
        rest = rest[1:]
    if rest:
        return -errno.EINVAL, 0
    return 0, value


def kstrtoull(s: str, base: int) -> tuple[int, int]:
    """lib/kstrtox.c ``kstrtoull``: an optional leading ``+``, no ``-``, no whitespace but
    one trailing newline; base 0 auto-detects ``0x`` and ``0``. -ERANGE past ULLONG_MAX,
    -EINVAL for anything else that is not a number."""
    s = cstr(s)
    if s[:1] == "+":
        s = s[1:]
    return _kstrtoull(s, base)


def kstrtoul(s: str, base: int) -> tuple[int, int]:
    """``kstrtoul`` (include/linux/kstrtox.h): kstrtoull, as unsigned long is 64-bit."""
    return kstrtoull(s, base)


def kstrtouint(s: str, base: int) -> tuple[int, int]:
    """lib/kstrtox.c ``kstrtouint``: kstrtoull, then -ERANGE past UINT_MAX."""
    err, value = kstrtoull(s, base)
    if err:
        return err, 0
    if value > UINT_MAX:
        return -errno.ERANGE, 0
    return 0, value


kstrtou32 = kstrtouint  # include/linux/kstrtox.h: kstrtou32 is kstrtouint


def kstrtoll(s: str, base: int) -> tuple[int, int]:
    """lib/kstrtox.c ``kstrtoll``: a leading ``-`` (then no ``+``) or ``+``; -ERANGE
    outside LLONG_MIN..LLONG_MAX."""
    s = cstr(s)
    if s[:1] == "-":
        err, mag = _kstrtoull(s[1:], base)
        if err:
            return err, 0
        if mag > -LLONG_MIN:
            return -errno.ERANGE, 0
        return 0, -mag
    err, mag = kstrtoull(s, base)
    if err:
        return err, 0
    if mag > LLONG_MAX:
        return -errno.ERANGE, 0
    return 0, mag


def kstrtoint(s: str, base: int) -> tuple[int, int]:
    """lib/kstrtox.c ``kstrtoint``: kstrtoll, then -ERANGE outside INT_MIN..INT_MAX."""
    err, value = kstrtoll(s, base)
    if err:
        return err, 0
    if not INT_MIN <= value <= INT_MAX:
        return -errno.ERANGE, 0
    return 0, value


_TRUE = frozenset("eEyYtT1")  # enabled, yes, true, 1
_FALSE = frozenset("dDnNfF0")  # disabled, no, false, 0


def kstrtobool(s: str) -> tuple[int, bool]:
    """lib/kstrtox.c ``kstrtobool``: only the first character decides (``e``/``y``/``t``/
    ``1`` true, ``d``/``n``/``f``/``0`` false, either case), except that ``o`` needs a
    second, ``n`` (on) or ``f`` (off). Everything after is ignored: ``yellow`` is true.

    e/d came with commit ae5b3500856f ("kstrtox: add support for enabled and disabled in
    kstrtobool()"), t/f in 2022; older kernels answer -EINVAL to them."""
    s = cstr(s)
    first, second = s[:1], s[1:2]
    if first and first in _TRUE:
        return 0, True
    if first and first in _FALSE:
        return 0, False
    if first in ("o", "O"):
        if second in ("n", "N"):
            return 0, True
        if second in ("f", "F"):
            return 0, False
    return -errno.EINVAL, False
