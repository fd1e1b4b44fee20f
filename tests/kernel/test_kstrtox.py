"""The kernel's number parsers, case by case from lib/kstrtox.c.

The cases follow the code: ``_parse_integer_fixup_radix`` (base 0 auto-detection, the
``0x`` prefix), ``_parse_integer`` (digits, the overflow flag), ``_kstrtoull`` (the order
of ERANGE before EINVAL, one trailing newline), ``kstrtoull`` (a leading ``+``),
``kstrtoll`` (a leading ``-``, LLONG_MIN), the width checks of ``kstrtouint`` and
``kstrtoint``, and ``kstrtobool``'s first-character table. Properties then check the
parsers against Python's own formatting of integers.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpam.kernel.kstrtox import (
    INT_MAX,
    INT_MIN,
    KSTRTOX_OVERFLOW,
    LLONG_MAX,
    LLONG_MIN,
    UINT_MAX,
    ULLONG_MAX,
    cstr,
    isspace,
    kstrtobool,
    kstrtoint,
    kstrtoll,
    kstrtou32,
    kstrtouint,
    kstrtoul,
    kstrtoull,
    parse_integer,
    strim,
)

EINVAL, ERANGE = -errno.EINVAL, -errno.ERANGE

# --- kstrtoull: _parse_integer_fixup_radix, _parse_integer, _kstrtoull --------------------

ULL_CASES = [
    # decimal, and the one newline _kstrtoull allows before the end
    ("0", 0, (0, 0)),
    ("5", 0, (0, 5)),
    ("5\n", 0, (0, 5)),
    ("5\n\n", 0, (EINVAL, 0)),
    ("5 ", 0, (EINVAL, 0)),
    (" 5", 0, (EINVAL, 0)),
    ("\n", 0, (EINVAL, 0)),
    ("", 0, (EINVAL, 0)),
    ("5x", 10, (EINVAL, 0)),
    ("1_000", 10, (EINVAL, 0)),
    ("\u0665", 10, (EINVAL, 0)),  # an Arabic-Indic five is no digit to the kernel
    # kstrtoull: one leading '+', never '-'
    ("+5", 0, (0, 5)),
    ("++5", 0, (EINVAL, 0)),
    ("-5", 0, (EINVAL, 0)),
    ("+", 0, (EINVAL, 0)),
    # _parse_integer_fixup_radix: base 0
    ("0x1f", 0, (0, 31)),
    ("0X1F", 0, (0, 31)),
    ("0x", 0, (EINVAL, 0)),  # no hex digit after 0x: base 8, then 'x' is trailing junk
    ("0xg", 0, (EINVAL, 0)),
    ("010", 0, (0, 8)),
    ("08", 0, (EINVAL, 0)),  # octal: '8' ends the digits, then is junk
    ("00", 0, (0, 0)),
    ("+0x10", 0, (0, 16)),
    # explicit bases: 16 skips an optional 0x; 10 and 8 do not
    ("0x10", 16, (0, 16)),
    ("10", 16, (0, 16)),
    ("0x", 16, (EINVAL, 0)),
    ("0x10", 10, (EINVAL, 0)),
    ("010", 10, (0, 10)),
    ("777", 8, (0, 511)),
    ("101", 2, (0, 5)),
    ("ff", 10, (EINVAL, 0)),
    # _parse_integer's overflow flag: ERANGE, and before any EINVAL for what follows
    (str(ULLONG_MAX), 0, (0, ULLONG_MAX)),
    (str(ULLONG_MAX + 1), 0, (ERANGE, 0)),
    ("0x" + "f" * 16, 0, (0, ULLONG_MAX)),
    ("0x1" + "0" * 16, 0, (ERANGE, 0)),
    ("9" * 30 + "junk", 0, (ERANGE, 0)),
    # C strings: a NUL ends the text
    ("5\0junk", 0, (0, 5)),
    ("\0" + "5", 0, (EINVAL, 0)),
]


@pytest.mark.parametrize(("text", "base", "expected"), ULL_CASES)
def test_kstrtoull(text: str, base: int, expected: tuple[int, int]) -> None:
    assert kstrtoull(text, base) == expected
    assert kstrtoul(text, base) == expected  # LP64


def test_base_must_be_one_the_kernel_supports() -> None:
    with pytest.raises(ValueError):
        kstrtoull("5", 17)
    with pytest.raises(ValueError):
        kstrtoull("5", 1)


def test_parse_integer_counts_and_flags() -> None:
    """_parse_integer: the count of digits consumed, ORed with the overflow flag (digits
    are still counted after an overflow); it does not look at signs or prefixes."""
    assert parse_integer("123abc", 10) == (3, 123)
    assert parse_integer("123abc", 16) == (6, 0x123ABC)
    assert parse_integer("x12", 10) == (0, 0)
    assert parse_integer("a12", 10, pos=1) == (2, 12)
    rv, _ = parse_integer("1" + "0" * 25 + "z", 10)
    assert rv == 26 | KSTRTOX_OVERFLOW


# --- kstrtouint, kstrtoll, kstrtoint: the width checks -----------------------------------

WIDTH_CASES = [
    # text, kstrtouint, kstrtoll, kstrtoint
    (str(UINT_MAX), (0, UINT_MAX), (0, UINT_MAX), (ERANGE, 0)),
    (str(UINT_MAX + 1), (ERANGE, 0), (0, UINT_MAX + 1), (ERANGE, 0)),
    (str(INT_MAX), (0, INT_MAX), (0, INT_MAX), (0, INT_MAX)),
    (str(INT_MIN), (EINVAL, 0), (0, INT_MIN), (0, INT_MIN)),
    (str(INT_MIN - 1), (EINVAL, 0), (0, INT_MIN - 1), (ERANGE, 0)),
    (str(LLONG_MAX), (ERANGE, 0), (0, LLONG_MAX), (ERANGE, 0)),
    (str(LLONG_MAX + 1), (ERANGE, 0), (ERANGE, 0), (ERANGE, 0)),
    (str(LLONG_MIN), (EINVAL, 0), (0, LLONG_MIN), (ERANGE, 0)),
    (str(LLONG_MIN - 1), (EINVAL, 0), (ERANGE, 0), (ERANGE, 0)),
    # kstrtoll: '-' then no '+', and the radix hints work after the sign
    ("-0", (EINVAL, 0), (0, 0), (0, 0)),
    ("-0x10", (EINVAL, 0), (0, -16), (0, -16)),
    ("-010\n", (EINVAL, 0), (0, -8), (0, -8)),
    ("-+5", (EINVAL, 0), (EINVAL, 0), (EINVAL, 0)),
    ("+-5", (EINVAL, 0), (EINVAL, 0), (EINVAL, 0)),
    ("--5", (EINVAL, 0), (EINVAL, 0), (EINVAL, 0)),
    ("-", (EINVAL, 0), (EINVAL, 0), (EINVAL, 0)),
    ("-" + "9" * 30, (EINVAL, 0), (ERANGE, 0), (ERANGE, 0)),
]


@pytest.mark.parametrize(("text", "uint", "ll", "int_"), WIDTH_CASES)
def test_width_checks(
    text: str, uint: tuple[int, int], ll: tuple[int, int], int_: tuple[int, int]
) -> None:
    assert kstrtouint(text, 0) == uint
    assert kstrtou32(text, 0) == uint
    assert kstrtoll(text, 0) == ll
    assert kstrtoint(text, 0) == int_


# --- kstrtobool ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *((c, (0, True)) for c in "eEyYtT1"),
        *((c, (0, False)) for c in "dDnNfF0"),
        ("yellow", (0, True)),  # only the first character is read
        ("1\n", (0, True)),
        ("on", (0, True)),
        ("ON\n", (0, True)),
        ("oN", (0, True)),
        ("of", (0, False)),
        ("off", (0, False)),
        ("OFF\n", (0, False)),
        ("o", (EINVAL, False)),
        ("ox", (EINVAL, False)),
        ("", (EINVAL, False)),
        ("\n", (EINVAL, False)),
        (" y", (EINVAL, False)),
        ("2", (EINVAL, False)),
        ("\0y", (EINVAL, False)),
    ],
)
def test_kstrtobool(text: str, expected: tuple[int, bool]) -> None:
    assert kstrtobool(text) == expected


# --- the helpers: lib/ctype.c isspace, lib/string.c strim ----------------------------------


def test_isspace_strim_and_cstr() -> None:
    assert all(isspace(c) for c in " \t\n\v\f\r")
    assert not any(isspace(c) for c in "\0\x1c\x85\xa0x,")  # Python's str.isspace says yes to some
    assert strim(" \t 12 \n") == "12"
    assert strim("\x1c12\x1c") == "\x1c12\x1c"
    assert strim("  ") == ""
    assert cstr("ab\0cd") == "ab" and cstr("abc") == "abc"


# --- properties -------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=ULLONG_MAX), st.booleans())
def test_unsigned_round_trip(value: int, newline: bool) -> None:
    nl = "\n" if newline else ""
    assert kstrtoull(f"{value}{nl}", 0) == (0, value)
    assert kstrtoull(f"{value:#x}{nl}", 0) == (0, value)
    assert kstrtoull(f"{value:x}{nl}", 16) == (0, value)
    assert kstrtoull(f"0{value:o}{nl}", 0) == (0, value)
    assert kstrtoull(f"+{value}{nl}", 10) == (0, value)
    assert kstrtouint(f"{value}", 0) == ((0, value) if value <= UINT_MAX else (ERANGE, 0))


@given(st.integers(min_value=-(1 << 70), max_value=1 << 70))
def test_signed_ranges(value: int) -> None:
    ll = (0, value) if LLONG_MIN <= value <= LLONG_MAX else (ERANGE, 0)
    assert kstrtoll(str(value), 0) == ll
    assert kstrtoll(f"{value}\n", 10) == ll
    int_ = (0, value) if INT_MIN <= value <= INT_MAX else (ERANGE, 0)
    assert kstrtoint(str(value), 0) == int_


@given(st.text(alphabet="0123456789abcdefxX+- \n\0", max_size=12), st.sampled_from([0, 8, 10, 16]))
def test_the_parsers_agree(text: str, base: int) -> None:
    """Built on one another as in the kernel: the signed parser reads an unsigned text as
    kstrtoull does (within range), and the narrower ones only add ERANGE."""
    err, value = kstrtoull(text, base)
    if not cstr(text).startswith("-"):
        expected = (err, value) if err or value <= LLONG_MAX else (ERANGE, 0)
        assert kstrtoll(text, base) == expected
    err_ll, ll = kstrtoll(text, base)
    assert kstrtoint(text, base) == (
        (err_ll, 0) if err_ll else ((0, ll) if INT_MIN <= ll <= INT_MAX else (ERANGE, 0))
    )
    uerr, uval = kstrtouint(text, base)
    assert (uerr, uval) == ((err, 0) if err else ((0, value) if value <= UINT_MAX else (ERANGE, 0)))
