"""Bitmaps as text, case by case from lib/bitmap-str.c, and the %*pb / %*pbl printers of
lib/vsprintf.c.

``bitmap_parse`` (what ``cpumask_parse`` calls for resctrl's ``cpus``) is covered path by
path: the cut at the first newline (``strnchrnul``), ``bitmap_find_region_reverse``
skipping commas and whitespace, ``bitmap_get_x32_reverse`` (8 digits, the 9th) and the
final check against nbits. ``bitmap_parselist`` (``cpulist_parse``, for ``cpus_list``)
follows its doc comment's grammar and errnos through ``bitmap_find_region``,
``bitmap_parse_region``, ``bitmap_getnum`` and ``bitmap_check_region``. Hypothesis then
checks that what the printers write, the parsers read back.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpam.kernel.bitmap import bitmap_parse, bitmap_parselist, format_bitmap, format_bitmap_list

EINVAL, ERANGE, EOVERFLOW = -errno.EINVAL, -errno.ERANGE, -errno.EOVERFLOW

# --- bitmap_parse --------------------------------------------------------------------------

MASK_CASES = [
    # the doc comment's own examples of accepted groupings: "1,,5", ",44", ",", ""
    ("1,,5", 64, {0, 2, 32}),
    (",44", 16, {2, 6}),
    (",", 16, set()),
    ("", 16, set()),
    # pqos's trailing comma, and empty groupings at either end
    ("02,", 16, {1}),
    (",02", 16, {1}),
    (",,02,,", 16, {1}),
    # leading, embedded and trailing whitespace (embedded whitespace separates chunks)
    (" 02", 16, {1}),
    ("02 \t", 16, {1}),
    ("1 0", 64, {32}),
    ("1 0", 16, EOVERFLOW),  # two chunks do not fit 16 bits
    # strnchrnul: the text ends at the first newline; what follows is never read
    ("02\n", 16, {1}),
    ("02\n\n", 16, {1}),
    ("02\nzz", 16, {1}),
    ("\n02", 16, set()),
    ("02\0zz", 16, {1}),
    # chunks: 32 bits each, the least significant last, zeros implied on the left
    ("ff,ffffffff", 40, set(range(40))),
    ("ffffffff,ffffffff", 64, set(range(64))),
    ("1,00000000", 64, {32}),
    ("00000001", 16, {0}),
    ("0000000000000001", 64, EOVERFLOW),  # a 9th hex digit in one chunk
    ("ABCDEF", 32, {0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 14, 15, 16, 17, 19, 21, 23}),
    # bitmap_get_x32_reverse: after 8 digits a non-hex character is skipped unread
    ("x00000001", 16, {0}),
    ("zz00000001", 64, EINVAL),
    ("zz00000001", 16, EOVERFLOW),  # the second chunk has no room before it is read
    # more chunks than nbits holds: -EOVERFLOW, before the extra chunk's characters are read
    ("xyz,01", 16, EOVERFLOW),
    ("xyz,01", 40, EINVAL),
    # set bits at nbits or above, in the last chunk
    ("1ff", 8, EOVERFLOW),
    ("10000", 16, EOVERFLOW),
    ("ffff", 16, set(range(16))),
    ("0000ffff", 16, set(range(16))),
    # anything else is -EINVAL
    ("zz", 16, EINVAL),
    ("0x2", 16, EINVAL),
    ("-1", 16, EINVAL),
    ("2;", 16, EINVAL),
    # nbits 0: only an empty mask
    ("", 0, set()),
    ("0", 0, EOVERFLOW),
]


@pytest.mark.parametrize(("text", "nbits", "expected"), MASK_CASES)
def test_bitmap_parse(text: str, nbits: int, expected: set[int] | int) -> None:
    assert bitmap_parse(text, nbits) == expected


# --- bitmap_parselist ----------------------------------------------------------------------

LIST_CASES = [
    # the doc comment's grammar: numbers and ranges, comma separated
    ("0-3,8", 16, {0, 1, 2, 3, 8}),
    ("5", 16, {5}),
    ("0-1023:2/256", 1024, {0, 1, 256, 257, 512, 513, 768, 769}),  # the doc's example
    ("0-3:2/4", 16, {0, 1}),
    ("0-15:1/4", 16, {0, 4, 8, 12}),
    ("2-9:3/4", 16, {2, 3, 4, 6, 7, 8}),
    ("0-3:0/4", 16, set()),  # 0 used bits is allowed, and sets nothing
    ("8:1/1", 16, EINVAL),  # a single number may not take the suffix; "all" may
    # N, the last bit (uppercase only), and "all" (any case, alone or with a suffix)
    ("N", 16, {15}),
    ("0-N", 16, set(range(16))),
    ("N-N", 1, {0}),
    ("0-N:1/N", 16, {0, 15}),
    ("n", 16, EINVAL),
    ("all", 16, set(range(16))),
    ("ALL:1/2", 8, {0, 2, 4, 6}),
    ("allx", 16, EINVAL),
    # bitmap_find_region: commas and whitespace (newlines too) before a region
    ("", 16, set()),
    (",", 16, set()),
    ("\n", 16, set()),
    (",,0,,3,,", 16, {0, 3}),
    ("  1 \t 2  ", 16, {1, 2}),
    ("\n1", 16, {1}),
    ("0, \n 1", 16, {0, 1}),
    ("0\0" + "1", 16, {0}),
    # bitmap_parse_region: a newline right after a plain region ends the list...
    ("0\n1", 16, {0}),
    ("0\nzz", 16, {0}),
    # ...but the region after a :used/group suffix is not required to end at all
    ("0-3:1/2\n5", 16, {0, 2, 5}),
    ("0-3:1/2N", 16, {0, 2, 15}),
    ("0-3:1/2x", 16, EINVAL),
    # bitmap_getnum: decimal only, no sign; -EOVERFLOW past UINT_MAX
    ("010", 16, {10}),
    ("0x1", 16, EINVAL),
    ("-1", 16, EINVAL),
    ("+1", 16, EINVAL),
    ("1-", 16, EINVAL),
    ("1--2", 16, EINVAL),
    ("1:2", 16, EINVAL),
    ("0-3:1", 16, EINVAL),
    ("0-3/1", 16, EINVAL),
    ("0-3:1/", 16, EINVAL),
    ("4294967296", 16, EOVERFLOW),
    ("0-99999999999999999999999", 16, EOVERFLOW),
    # bitmap_check_region: -EINVAL for the shape, then -ERANGE for bits past nbits
    ("3-1", 16, EINVAL),
    ("N-0", 16, EINVAL),
    ("0-3:1/0", 16, EINVAL),
    ("0-3:5/4", 16, EINVAL),
    ("16", 16, ERANGE),
    ("0-16", 16, ERANGE),
    ("4294967294", 16, ERANGE),
    ("4294967295", 16, EINVAL),  # end + 1 wraps: a group of 0 bits
    ("20-10", 16, EINVAL),  # the shape is checked before the range
    # regions are checked one at a time, left to right
    ("0-100,zz", 16, ERANGE),
    ("zz,0-100", 16, EINVAL),
    ("1,2,x", 16, EINVAL),
    # bitmap_set_region: the unsigned group start wraps backwards near UINT_MAX
    ("5-10:1/4294967295", 16, {0, 1, 2, 3, 4, 5}),
]


@pytest.mark.parametrize(("text", "nbits", "expected"), LIST_CASES)
def test_bitmap_parselist(text: str, nbits: int, expected: set[int] | int) -> None:
    assert bitmap_parselist(text, nbits) == expected


def test_nbits_must_be_an_int() -> None:
    """The kernel's nmaskbits is an int."""
    with pytest.raises(ValueError):
        bitmap_parse("1", -1)
    with pytest.raises(ValueError):
        bitmap_parselist("1", 1 << 31)


# --- %*pb and %*pbl (lib/vsprintf.c bitmap_string, bitmap_list_string) -------------------


def test_format_bitmap() -> None:
    """Chunks of 32 bits, most significant first; the first padded to its own width."""
    assert format_bitmap([1], 16) == "0002"
    assert format_bitmap(range(40), 40) == "ff,ffffffff"
    assert format_bitmap([32], 33) == "1,00000000"
    assert format_bitmap([], 1) == "0"
    assert format_bitmap([], 0) == ""


def test_format_bitmap_list() -> None:
    assert format_bitmap_list([0, 1, 2, 3, 8, 10, 11], 16) == "0-3,8,10-11"
    assert format_bitmap_list([], 16) == ""
    assert format_bitmap_list([3, 20], 16) == "3"  # only bits below nbits are printed


# --- properties: printed text parses back ------------------------------------------------


@st.composite
def bitmaps(draw: st.DrawFn) -> tuple[set[int], int]:
    nbits = draw(st.integers(min_value=1, max_value=200))
    return draw(st.sets(st.integers(min_value=0, max_value=nbits - 1))), nbits


@given(bitmaps(), st.sampled_from(["", "\n", ",", ",\n", " \n"]), st.sampled_from(["", ",", " "]))
def test_mask_round_trip(bm: tuple[set[int], int], tail: str, head: str) -> None:
    bits, nbits = bm
    assert bitmap_parse(head + format_bitmap(bits, nbits) + tail, nbits) == bits


@given(bitmaps(), st.sampled_from(["", "\n", ",", ",\n", " \n"]), st.sampled_from(["", ",", " "]))
def test_list_round_trip(bm: tuple[set[int], int], tail: str, head: str) -> None:
    bits, nbits = bm
    assert bitmap_parselist(head + format_bitmap_list(bits, nbits) + tail, nbits) == bits


@given(bitmaps())
def test_mask_and_list_agree(bm: tuple[set[int], int]) -> None:
    """The mask of a set, read as a mask, equals its list read as a list; and the set's
    bits one by one, comma separated, are the same list."""
    bits, nbits = bm
    as_list = ",".join(str(b) for b in sorted(bits))
    assert bitmap_parselist(as_list, nbits) == bitmap_parse(format_bitmap(bits, nbits), nbits)


@given(st.integers(min_value=1, max_value=100), st.integers(min_value=0, max_value=200))
def test_bits_past_nbits_are_refused(nbits: int, bit: int) -> None:
    mask = format_bitmap([bit], max(nbits, bit + 1))
    assert bitmap_parse(mask, nbits) == ({bit} if bit < nbits else EOVERFLOW)
    assert bitmap_parselist(str(bit), nbits) == ({bit} if bit < nbits else ERANGE)


@given(
    st.integers(min_value=0, max_value=63),
    st.integers(min_value=0, max_value=63),
    st.integers(min_value=1, max_value=16),
    st.integers(min_value=0, max_value=16),
)
def test_regions_match_their_definition(a: int, b: int, group: int, used: int) -> None:
    """``a-b:used/group``: from a to b, the first `used` bits of every `group` bits."""
    got = bitmap_parselist(f"{a}-{b}:{used}/{group}", 64)
    if a > b or used > group:
        assert got == EINVAL
    else:
        assert got == {i for i in range(a, b + 1) if (i - a) % group < used}
