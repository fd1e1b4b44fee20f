"""Bitmaps as text, both ways: lib/bitmap-str.c's ``bitmap_parse`` (behind ``cpumask_parse``)
and ``bitmap_parselist`` (behind ``cpulist_parse``), and lib/vsprintf.c's ``%*pb`` and
``%*pbl``. Written anew from the kernel's behaviour, quirks included.

resctrl's ``cpus`` and ``cpus_list`` files are these parsers and printers, and clients write
what the kernel accepts rather than what it documents: pqos writes the mask ``02,`` (an
empty grouping). So this is the kernel's code path by path, returning the set of bits or
the negative errno the kernel returns. ``cpumask_parse`` and ``cpulist_parse`` pass
``nr_cpumask_bits``, which recent kernels define as ``nr_cpu_ids`` (older ones used
NR_CPUS unless CONFIG_CPUMASK_OFFSTACK).

The mask grammar (``bitmap_parse``): the text ends at the first newline or NUL (anything
after is ignored); it is read from the end in 32-bit chunks of at most 8 hex digits,
separated by runs of commas and whitespace, so empty groupings (``1,,5``, ``,44``, ``,``,
``02,``) and leading, embedded and trailing whitespace are accepted. More chunks than
nbits holds, a 9th hex digit in a chunk, or a set bit at nbits or above is -EOVERFLOW; any
other character is -EINVAL.

The list grammar (``bitmap_parselist``): regions separated by commas and whitespace
(newlines included), each ``a``, ``a-b``, ``all`` (any case), or one of the last two
followed by ``:used/group`` (``a:u/g`` is -EINVAL); a number is decimal or ``N`` (nbits -
1). ``a-b:u/g`` sets the first `u` bits of every `g`-bit group from `a` to `b`. A malformed region is -EINVAL, as
is ``a > b``, ``g == 0`` or ``u > g``; a bit at nbits or above is -ERANGE; a number past
UINT_MAX is -EOVERFLOW. Regions are checked one at a time, left to right.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from mpam.kernel.kstrtox import INT_MAX, KSTRTOX_OVERFLOW, UINT_MAX, cstr, isspace, parse_integer

__all__ = ["bitmap_parse", "bitmap_parselist", "format_bitmap", "format_bitmap_list"]

_CHUNK = 32
_U32 = UINT_MAX


def _check_nbits(nbits: int) -> None:
    """The kernel's nmaskbits is an int: a caller passing more, or less than 0, is a bug."""
    if not 0 <= nbits <= INT_MAX:
        raise ValueError(f"nbits {nbits} is not 0..INT_MAX")


def _hex(c: str) -> int:
    """lib/hexdump.c ``hex_to_bin``: 0-15, or -1 for a character that is no hex digit."""
    if len(c) == 1 and c in "0123456789abcdefABCDEF":
        return int(c, 16)
    return -1


def _separator(c: str) -> bool:
    """``__end_of_region``: whitespace or a comma."""
    return c == "," or isspace(c)


# --- bitmap_parse: a hex mask ------------------------------------------------------------


def _chunk_reverse(text: str, end: int) -> tuple[int, int]:
    """``bitmap_get_x32_reverse``: up to 8 hex digits ending at `text[end]`, read right to
    left; ``(value, index before them)`` or ``(-errno, _)``.

    A chunk stops at a separator or at the start. After 8 digits a 9th hex digit is
    -EOVERFLOW, but any other character there is skipped unread (so ``x00000001`` is bit 0)."""
    value = 0
    for shift in range(0, _CHUNK, 4):
        digit = _hex(text[end])
        end -= 1
        if digit < 0:
            return -errno.EINVAL, end
        value |= digit << shift
        if end < 0 or _separator(text[end]):
            return value, end
    if _hex(text[end]) >= 0:
        return -errno.EOVERFLOW, end
    return value, end - 1


def bitmap_parse(buf: str, nbits: int) -> set[int] | int:
    """lib/bitmap-str.c ``bitmap_parse`` (buflen UINT_MAX, as ``cpumask_parse`` passes):
    the set bits of the hex mask in `buf`, or -EINVAL / -EOVERFLOW (module docstring)."""
    _check_nbits(nbits)
    text = cstr(buf).partition("\n")[0]
    chunks_left = (nbits + _CHUNK - 1) // _CHUNK
    chunks: list[int] = []
    end = len(text) - 1
    while True:
        while end >= 0 and _separator(text[end]):
            end -= 1
        if end < 0:
            break
        if chunks_left == 0:
            return -errno.EOVERFLOW
        chunks_left -= 1
        value, end = _chunk_reverse(text, end)
        if value < 0:
            return value
        chunks.append(value)
    mask = sum(value << (_CHUNK * i) for i, value in enumerate(chunks))
    if mask >> nbits:
        return -errno.EOVERFLOW  # set bits in the last chunk, past nbits
    return {bit for bit in range(mask.bit_length()) if mask >> bit & 1}


# --- bitmap_parselist: a list of regions -------------------------------------------------


class _Region:
    """struct region: `start`-`end`, the first `off` bits of every `group_len` bits."""

    __slots__ = ("end", "group_len", "off", "start")

    def __init__(self) -> None:
        self.start = self.end = self.off = self.group_len = 0


def _at(text: str, pos: int) -> str:
    """The character at `pos`, or "" (the C string's NUL) past the end."""
    return text[pos] if pos < len(text) else ""


def _end_of_region(c: str) -> bool:
    """``end_of_region``: a separator, a newline, or the end of the string."""
    return c == "" or _separator(c)


def _getnum(text: str, pos: int, lastbit: int) -> tuple[int, int]:
    """``bitmap_getnum``: ``N`` or a decimal number at `pos`; ``(value, next pos)`` or
    ``(-errno, _)``: -EINVAL without a digit, -EOVERFLOW past UINT_MAX."""
    if _at(text, pos) == "N":
        return lastbit, pos + 1
    rv, value = parse_integer(text, 10, pos)
    if rv == 0:
        return -errno.EINVAL, pos
    if rv & KSTRTOX_OVERFLOW or value > _U32:
        return -errno.EOVERFLOW, pos
    return value, pos + rv


def _parse_region(text: str, pos: int, r: _Region, lastbit: int) -> tuple[int, int | None]:
    """``bitmap_parse_region``: one region at `pos` into `r`. Returns ``(0, where the next
    search starts, or None when the string ended)`` or ``(-errno, None)``.

    The kernel's quirk is kept: after a ``:used/group`` suffix it does not require the
    region to end, so ``0-3:1/2N`` is read as ``0-3:1/2`` then ``N``, and a newline after
    the suffix does not end the list as a newline after a plain region does."""
    word = text[pos : pos + 3]
    if word.isascii() and word.lower() == "all":  # strncasecmp: ASCII case folding
        r.start, r.end = 0, lastbit
        pos += 3
    else:
        r.start, pos = _getnum(text, pos, lastbit)
        if r.start < 0:
            return r.start, None
        if _end_of_region(_at(text, pos)):
            r.end = r.start
            return _no_pattern(text, pos, r)
        if _at(text, pos) != "-":
            return -errno.EINVAL, None
        r.end, pos = _getnum(text, pos + 1, lastbit)
        if r.end < 0:
            return r.end, None
    if _end_of_region(_at(text, pos)):
        return _no_pattern(text, pos, r)
    if _at(text, pos) != ":":
        return -errno.EINVAL, None
    r.off, pos = _getnum(text, pos + 1, lastbit)
    if r.off < 0:
        return r.off, None
    if _at(text, pos) != "/":
        return -errno.EINVAL, None
    r.group_len, pos = _getnum(text, pos + 1, lastbit)
    if r.group_len < 0:
        return r.group_len, None
    return 0, pos


def _no_pattern(text: str, pos: int, r: _Region) -> tuple[int, int | None]:
    # Unsigned arithmetic: a region ending at UINT_MAX gets a group of 0 (then -EINVAL).
    r.off = r.group_len = (r.end + 1) & _U32
    return 0, None if _at(text, pos) in ("", "\n") else pos


def _check_region(r: _Region, nbits: int) -> int:
    """``bitmap_check_region``."""
    if r.start > r.end or r.group_len == 0 or r.off > r.group_len:
        return -errno.EINVAL
    if r.end >= nbits:
        return -errno.ERANGE
    return 0


def bitmap_parselist(buf: str, nbits: int) -> set[int] | int:
    """lib/bitmap-str.c ``bitmap_parselist``: the set bits of the list in `buf`, or
    -EINVAL / -ERANGE / -EOVERFLOW for the first bad region (module docstring)."""
    _check_nbits(nbits)
    text = cstr(buf)
    lastbit = (nbits - 1) & _U32
    bits: set[int] = set()
    r = _Region()
    pos: int | None = 0
    while pos is not None:
        while pos < len(text) and _separator(text[pos]):  # bitmap_find_region
            pos += 1
        if pos >= len(text):
            break
        err, pos = _parse_region(text, pos, r, lastbit)
        if err:
            return err
        err = _check_region(r, nbits)
        if err:
            return err
        _set_region(r, bits)
    return bits


def _set_region(r: _Region, bits: set[int]) -> None:
    """``bitmap_set_region``. The group start is an unsigned int, so a group near UINT_MAX
    wraps it backwards: ``5-10:1/4294967295`` sets 5, 4, 3, 2, 1 and 0 (this ends while
    nbits <= INT_MAX, which `_check_nbits` holds to)."""
    first = r.start
    while first <= r.end:
        bits.update(range(first, first + min(r.end - first + 1, r.off)))
        first = (first + r.group_len) & _U32


# --- printing ----------------------------------------------------------------------------


def format_bitmap(bits: Iterable[int], nbits: int) -> str:
    """lib/vsprintf.c ``bitmap_string``, ``%*pb``: hex in 32-bit chunks, most significant
    first, comma separated, each chunk zero-padded to the digits its bits need."""
    value = 0
    for bit in bits:
        value |= 1 << bit
    chunks = []
    for start in range(0, nbits, _CHUNK):
        width = min(_CHUNK, nbits - start)
        chunks.append(f"{(value >> start) & ((1 << width) - 1):0{(width + 3) // 4}x}")
    return ",".join(reversed(chunks))


def format_bitmap_list(bits: Iterable[int], nbits: int) -> str:
    """lib/vsprintf.c ``bitmap_list_string``, ``%*pbl``: the runs of set bits below
    `nbits` as ``a`` or ``a-b``, comma separated."""
    out: list[str] = []
    run: list[int] = []
    for bit in sorted(b for b in set(bits) if 0 <= b < nbits):
        if run and bit == run[1] + 1:
            run[1] = bit
            continue
        if run:
            out.append(f"{run[0]}" if run[0] == run[1] else f"{run[0]}-{run[1]}")
        run = [bit, bit]
    if run:
        out.append(f"{run[0]}" if run[0] == run[1] else f"{run[0]}-{run[1]}")
    return ",".join(out)
