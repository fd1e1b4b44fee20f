"""Set-associative caches whose lines carry their owner's (PARTID, PMG) label.

Every cache of the hierarchy (private L1 and L2, shared L2, the system-level cache and its
slices) is one *instance* in a single set of flat arrays, so one Numba kernel serves them
all. A lookup hits anywhere in the set, whoever filled the line. A fill follows the
controls the MSC holds for the requester's PARTID (IHI0099 chapter 5 and its MPAMCFG_*
register descriptions):

- CPBM: only the ways of the portions the partition may allocate into (portion k covers
  ways [k·W/N, (k+1)·W/N) for N portions and W ways);
- CMAX: at or above its capacity limit, a partition replaces only its own lines (hard), or
  also unallocated lines and lines of disabled PARTIDs (SOFTLIM);
- CASSOC: at its limit of ways in this set, it replaces only its own lines;
- a PARTID the MSC has disabled (HAS_ENDIS: IHI0099's MPAMCFG_EN / MPAMCFG_DIS) has no
  portions and limits of 0, so it allocates nothing;
- victims are taken by the priorities of Table 5-1: unallocated lines, lines of disabled
  PARTIDs, lines of partitions over their CMAX, lines of partitions between CMIN and CMAX,
  and last lines of partitions under their CMIN; within a priority the replacement policy
  chooses (LRU, or SRRIP with 2-bit re-reference predictions).

Each set is one record of machine words (its dirty ways, its recency stack, a tag per way, a
state word per way), so a lookup and a fill touch one short run of memory: the simulated
caches are bigger than the host's, and host cache misses set much of the pace.
Occupancy is counted per instance and label as lines are filled and evicted, so a CSU
monitor's read is a lookup, not a scan. What leaves an instance towards memory (its
egress: lines fetched on a miss, writes passed on, dirty lines written back) is recorded
with `egress_add` for the MBWU monitors of the MSC that controls it. Private caches have
no MSC: their controls stay unrestricted. Controls are decoded from the MSC's PARTID-indexed MPAMCFG arrays whenever
they change (`decode_controls`), so the kernels act on exactly what the registers hold.

`ReferenceCache` is the slow, readable twin of the kernel; tests run both on the same
seeded accesses and compare every array.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.jit import (
    LANES,
    highest_bit,
    kernel,
    lanes_equal,
    nibble_bits,
    njit,
    outline,
    prefetch,
    trailing_zeros,
    wrap64,
)
from mpam.hw.msc import Msc, RisState
from mpam.hw.regmap import field

__all__ = [
    "ALLOCATED",
    "HIT",
    "LRU",
    "NIBBLE_WAYS",
    "NOT_ALLOCATED",
    "POLICIES",
    "SRRIP",
    "CacheArrays",
    "CacheView",
    "ReferenceCache",
    "access_lines",
    "cache_access",
    "cache_fill",
    "cache_lookup",
    "cache_touch",
    "decode_controls",
    "egress_add",
    "recency_order",
    "record_words",
    "set_base",
    "set_index",
    "stack_shape",
    "stack_words",
    "store_recency_order",
    "tags_at",
    "way_masks",
]

LRU, SRRIP = 0, 1
POLICIES = {"lru": LRU, "srrip": SRRIP}
#: cache_access results
HIT, ALLOCATED, NOT_ALLOCATED = 0, 1, 2

_RRPV_MAX = 3  # 2-bit re-reference prediction values
_RRPV_INSERT = 2  # SRRIP inserts with a "long" re-reference interval
_UNLIMITED = np.iinfo(np.int64).max // 4

_CMAX = field("MPAMCFG_CMAX", "CMAX")
_SOFTLIM = field("MPAMCFG_CMAX", "SOFTLIM")
_CMIN = field("MPAMCFG_CMIN", "CMIN")
_CASSOC = field("MPAMCFG_CASSOC", "CASSOC")


# A set's record in `CacheArrays.sets`: its dirty ways (bit w: way w); its recency stack
# (which way is the most recent, the next, ..., the least recent: a lane of 4 bits per
# position up to 16 ways, of 8 bits beyond, in as many words as that takes, lanes past the
# last position all ones); the tag of each way (line address, -1 when invalid); the
# state of each way: the owner's PARTID in bits 40-55 and PMG in bits 32-39 (their own
# fields, so that no division recovers the PARTID) and SRRIP's re-reference prediction in
# the low half. Power-on leaves way 0 least recent, then way 1, and so on: a fill (under
# either policy) moves its way to the front, so the unallocated ways stay the least recent
# ones, lowest first, and the least recent allowed way is also the first unallocated one
# when there is one.
DIRTY_WAYS, STACK = range(2)
SETS, WAYS, OFF, LIMITS = range(4)  # per instance; OFF: where its set 0's record starts
WAY_MASK, CMAX, CMAX_SOFT, CMIN, CASSOC, DISABLED = range(6)  # per (instance, PARTID)
ALL, DIRTY_LINES = range(2)  # occupancy per (instance, label)

_META = 0xFFFF_FFFF
_PMG_SHIFT, _PARTID_SHIFT = 32, 40
#: ways up to which a recency stack has 4-bit lanes, all in one word
NIBBLE_WAYS = 16


@njit
def stack_shape(ways: int) -> tuple[int, int]:
    """(bits per lane, log2 of lanes per word) of a recency stack of `ways` ways."""
    return (4, 4) if ways <= NIBBLE_WAYS else (8, 3)


@njit
def stack_words(ways: int) -> int:
    """Words of a recency stack of `ways` ways."""
    return 1 if ways <= NIBBLE_WAYS else (ways + 7) >> 3


@njit
def tags_at(ways: int) -> int:
    """Where way 0's tag lies in a set's record."""
    return STACK + stack_words(ways)


@njit
def record_words(ways: int) -> int:
    """Words of one set's record."""
    return tags_at(ways) + 2 * ways


def recency_order(record: NDArray[np.int64], ways: int) -> list[int]:
    """The ways of one set's record from the most recent to the least recent."""
    bits, lg = stack_shape(ways)
    lanes, mask = 1 << lg, (1 << bits) - 1
    words = [int(w) for w in record[STACK : STACK + stack_words(ways)]]
    return [(words[j // lanes] >> (bits * (j % lanes))) & mask for j in range(ways)]


def store_recency_order(record: NDArray[np.int64], ways: int, order: list[int]) -> None:
    """Write `order` (ways from the most recent) as the record's recency stack."""
    bits, lg = stack_shape(ways)
    lanes, mask = 1 << lg, (1 << bits) - 1
    n = stack_words(ways)
    lane = order + [mask] * (n * lanes - ways)
    for q in range(n):
        word = sum(lane[q * lanes + k] << (bits * k) for k in range(lanes))
        record[STACK + q] = wrap64(word)


@dataclass
class CacheArrays:
    """The state and controls of every cache instance, packed for the kernels.

    `sets` holds every set's record (see DIRTY_WAYS, STACK above), and LANES spare words
    after the last, so that a lookup may compare a whole vector of tags; `inst` each
    instance's sets, ways, first record and whether any capacity limit (CMAX, CMIN,
    CASSOC) is set or a PARTID disabled, since victims are then chosen by Table 5-1's
    priorities instead of by the policy alone; `occ` counts lines per (instance, label),
    all and dirty; `occ_part` per (instance, PARTID); `ctl` holds the controls per
    (instance, PARTID): allowed ways (bit w = way w), CMAX and CMIN in lines, SOFTLIM,
    CASSOC in ways per set, and whether the MSC has the PARTID disabled (HAS_ENDIS).
    """

    sets: NDArray[np.int64]
    inst: NDArray[np.int64]
    occ: NDArray[np.int64]
    occ_part: NDArray[np.int64]
    ctl: NDArray[np.int64]
    line_bytes: NDArray[np.int64]
    num_pmg: int

    @classmethod
    def build(
        cls, geometry: list[tuple[int, int, int]], num_partid: int, num_pmg: int
    ) -> CacheArrays:
        """Empty caches of (sets, ways, line bytes) each, all controls unrestricted."""
        if num_partid > 1 << 16 or num_pmg > 1 << 8:
            raise ValueError("PARTIDs are 16 bits and PMGs 8 bits wide")
        n = len(geometry)
        inst = np.zeros((n, 4), dtype=np.int64)
        for i, (sets, ways, _) in enumerate(geometry):
            if ways > 62:
                raise ValueError("caches of more than 62 ways are not modelled")
            inst[i, SETS], inst[i, WAYS] = sets, ways
        sizes = inst[:, SETS] * np.array([record_words(int(w)) for w in inst[:, WAYS]])
        inst[:, OFF] = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        arrays = cls(
            sets=np.zeros(int(sizes.sum()) + LANES, dtype=np.int64),
            inst=inst,
            occ=np.zeros((2, n, num_partid * num_pmg), dtype=np.int64),
            occ_part=np.zeros((n, num_partid), dtype=np.int64),
            ctl=np.zeros((6, n, num_partid), dtype=np.int64),
            line_bytes=np.array([g[2] for g in geometry], dtype=np.int64),
            num_pmg=num_pmg,
        )
        arrays.invalidate()
        for i in range(n):
            arrays.unrestrict(i)
        return arrays

    @property
    def num_partid(self) -> int:
        return int(self.occ_part.shape[1])

    def unrestrict(self, inst: int) -> None:
        """Controls of an instance no MSC governs: every way, no limits."""
        ways = int(self.inst[inst, WAYS])
        self.ctl[WAY_MASK, inst] = (1 << ways) - 1
        self.ctl[CMAX, inst] = _UNLIMITED
        self.ctl[CMAX_SOFT, inst] = 0
        self.ctl[CMIN, inst] = 0
        self.ctl[CASSOC, inst] = ways
        self.ctl[DISABLED, inst] = 0
        self.inst[inst, LIMITS] = 0

    def lines(self, inst: int) -> int:
        """Lines of instance `inst`."""
        return int(self.inst[inst, SETS] * self.inst[inst, WAYS])

    def records(self, inst: int) -> NDArray[np.int64]:
        """Instance `inst`'s set records, one row per set (a view: writes go through)."""
        sets, ways, off = (int(v) for v in self.inst[inst, [SETS, WAYS, OFF]])
        return self.sets[off : off + sets * record_words(ways)].reshape(sets, -1)

    def tags(self, inst: int) -> NDArray[np.int64]:
        """Line address per (set, way) of `inst`, -1 where invalid (a view)."""
        ways = int(self.inst[inst, WAYS])
        return self.records(inst)[:, tags_at(ways) : tags_at(ways) + ways]

    def _states(self, inst: int) -> NDArray[np.int64]:
        ways = int(self.inst[inst, WAYS])
        return self.records(inst)[:, tags_at(ways) + ways :]

    def owners(self, inst: int) -> NDArray[np.int64]:
        """Owner label (PARTID * num_pmg + PMG) per (set, way) of `inst`, -1 where invalid."""
        state = self._states(inst)
        label = (state >> _PARTID_SHIFT) * self.num_pmg + ((state >> _PMG_SHIFT) & 0xFF)
        return np.where(self.tags(inst) >= 0, label, -1)

    def metas(self, inst: int) -> NDArray[np.int64]:
        """SRRIP's re-reference prediction per (set, way) of `inst` (0 under LRU, whose
        order is `recency`)."""
        return self._states(inst) & _META

    def recency(self, inst: int) -> NDArray[np.int64]:
        """Per (set, way) of `inst`, its place in the set's LRU order: 0 for the most
        recently used way, ways - 1 for the next victim."""
        ways = int(self.inst[inst, WAYS])
        places = np.empty((int(self.inst[inst, SETS]), ways), dtype=np.int64)
        for s, record in enumerate(self.records(inst)):
            places[s, recency_order(record, ways)] = np.arange(ways)
        return places

    def dirty(self, inst: int) -> NDArray[np.bool_]:
        """Whether each (set, way) of `inst` holds a dirty line."""
        ways = np.arange(int(self.inst[inst, WAYS]), dtype=np.int64)
        dirty: NDArray[np.bool_] = (
            self.records(inst)[:, DIRTY_WAYS : DIRTY_WAYS + 1] >> ways
        ) & 1 == 1
        return dirty

    def invalidate(self) -> None:
        """Every line invalid, every count zero (the caches at power-on)."""
        self.sets[:] = 0
        for i in range(len(self.inst)):
            self.tags(i)[:] = -1
            ways = int(self.inst[i, WAYS])
            records = self.records(i)
            store_recency_order(records[0], ways, list(range(ways - 1, -1, -1)))
            records[:, STACK : STACK + stack_words(ways)] = records[
                0, STACK : STACK + stack_words(ways)
            ]
        self.occ[:] = 0
        self.occ_part[:] = 0


# -- decoding the MSC's settings -----------------------------------------------------------


def way_masks(cpbm: NDArray[np.uint32], portions: int, ways: int) -> NDArray[np.int64]:
    """Allowed-way bitmasks from raw MPAMCFG_CPBM words, one row per PARTID.

    Portion k covers the ways that overlap [k/N, (k+1)/N) of the cache, so N portions of
    W ways map one to one when N == W, several ways per portion when N < W, and several
    portions per way when N > W.
    """
    bits = np.zeros((cpbm.shape[0], portions), dtype=bool)
    for k in range(portions):
        bits[:, k] = (cpbm[:, k // 32] >> np.uint32(k % 32)) & np.uint32(1) != 0
    masks = np.zeros(cpbm.shape[0], dtype=np.int64)
    for w in range(ways):
        first = (w * portions) // ways
        last = -(-((w + 1) * portions) // ways)  # ceil
        covered = bits[:, first:last].any(axis=1)
        masks |= np.where(covered, np.int64(1) << np.int64(w), np.int64(0))
    return masks


def _max_fraction(words: NDArray[np.uint32], width: int) -> NDArray[np.float64]:
    """A max-type control's limit: the implemented field plus one LSB (IHI0099 fixed point)."""
    f = (words.astype(np.int64) & _CMAX.mask) >> (16 - width)
    return (f + 1) / float(1 << width)


def decode_controls(
    arrays: CacheArrays, inst: int, msc: Msc, ris: RisState, num_partid: int
) -> None:
    """Load instance `inst`'s controls from the RIS's PARTID-indexed MPAMCFG words.

    Request PARTIDs beyond the MSC's range keep no settings of their own: the kernels
    see the label the MSC serves them with (`Msc.check_request`), so their rows are
    never used. With PARTID narrowing, each request PARTID reads its internal PARTID's row.
    """
    n = min(num_partid, msc.partid_max + 1)
    rows = np.array([msc.settings_row(p) for p in range(n)], dtype=np.int64)
    ways = int(arrays.inst[inst, WAYS])
    lines = arrays.lines(inst)
    f = ris.features
    arrays.unrestrict(inst)
    ctl = arrays.ctl[:, inst]
    if f.cpor is not None:
        cpbm = ris.cfg["MPAMCFG_CPBM"][rows]
        ctl[WAY_MASK, :n] = way_masks(cpbm, f.cpor.cpbm_wd, ways)
    c = f.ccap
    if c is not None and "MPAMCFG_CMAX" in ris.cfg:
        words = ris.cfg["MPAMCFG_CMAX"][rows, 0]
        ctl[CMAX, :n] = np.floor(_max_fraction(words, c.cmax_wd) * lines).astype(np.int64)
        ctl[CMAX_SOFT, :n] = (words & np.uint32(_SOFTLIM.mask)) != 0
    if c is not None and "MPAMCFG_CMIN" in ris.cfg:
        words = ris.cfg["MPAMCFG_CMIN"][rows, 0].astype(np.int64) & _CMIN.mask
        ctl[CMIN, :n] = (words * lines) >> 16  # min-type: the value as written
    if c is not None and "MPAMCFG_CASSOC" in ris.cfg:
        words = ris.cfg["MPAMCFG_CASSOC"][rows, 0] & np.uint32(_CASSOC.mask)
        limit = np.floor(_max_fraction(words, c.cassoc_wd) * ways).astype(np.int64)
        ctl[CASSOC, :n] = np.maximum(limit, 1)
    if msc.desc.has_endis:
        # A disabled PARTID's portion controls act as "no portions" and its fractional
        # controls as 0 (IHI0099, HAS_ENDIS); its lines are the first victims after
        # unallocated ones (priority 1 of IHI0099 Table 5-1).
        # Without portion controls the limits of 0 still leave it its own lines (hard) or
        # the spare ones (SOFTLIM): it is given no way at all, so that it allocates nothing.
        off = np.flatnonzero(~msc.enabled[:n])
        ctl[DISABLED, off] = 1
        ctl[WAY_MASK, off] = 0
        ctl[CMAX_SOFT, off] = 0
        if c is not None:
            if "MPAMCFG_CMAX" in ris.cfg:
                ctl[CMAX, off] = 0
            if "MPAMCFG_CASSOC" in ris.cfg:
                ctl[CASSOC, off] = 0
            ctl[CMIN, off] = 0
    arrays.inst[inst, LIMITS] = int(
        (ctl[CMAX] < lines).any()
        or (ctl[CMIN] > 0).any()
        or (ctl[CASSOC] < ways).any()
        or (ctl[DISABLED] != 0).any()
    )


class CacheView:
    """What one MSC's RIS controls: one cache instance, for its CSU monitors.

    Occupancy is reported in bytes; in set-sampled mode each simulated line stands for
    `scale` lines of the real cache.
    """

    def __init__(self, arrays: CacheArrays, inst: int, scale: int = 1) -> None:
        self.arrays = arrays
        self.inst = inst
        self.scale = scale

    def csu_bytes(self, partid: int | None, pmg: int | None, exclude_clean: bool) -> int:
        a = self.arrays
        if (partid is not None and partid >= a.num_partid) or (
            pmg is not None and pmg >= a.num_pmg
        ):
            return 0
        counts = a.occ[DIRTY_LINES if exclude_clean else ALL, self.inst].reshape(-1, a.num_pmg)
        if partid is not None:
            counts = counts[partid : partid + 1]
        if pmg is not None:
            counts = counts[:, pmg : pmg + 1]
        return int(counts.sum()) * int(a.line_bytes[self.inst]) * self.scale


# -- the kernel ---------------------------------------------------------------------------


@njit
def egress_add(
    egress: NDArray[np.int64],
    egress_row: NDArray[np.int64],
    inst: int,
    partid: int,
    pmg: int,
    rw: int,
    nbytes: int,
) -> None:
    """Record `nbytes` leaving instance `inst` towards memory (a line fetched from the next
    level on a miss, a write passed on, a dirty line written back), labelled (partid, pmg),
    read or write: for the MBWU monitors of the MSC that controls the instance (IHI0099,
    MSMON_MBWU: the bytes transferred that meet the monitor's filter). `egress_row` maps an
    instance to its row of `egress`, shaped (row, PARTID, PMG, read/write), or to -1 when no
    enabled monitor watches it (`mpam.hw.memsys.MemorySystem.arm_egress`): nothing is kept."""
    row = egress_row[inst] if inst >= 0 else -1
    if row >= 0:
        egress[row, partid, pmg, rw] += nbytes


@njit
def set_index(sets: int, addr: int) -> int:
    """The set of `sets` that line `addr` maps to. Set counts are nearly always powers of
    two, and a mask is an order of magnitude cheaper than a division."""
    return int(addr & (sets - 1) if sets & (sets - 1) == 0 else addr % sets)


@njit
def _set_of(set_mask: int, sets: int, addr: int) -> int:
    """`set_index` for a loop over one instance, which decides once whether its set count
    is a power of two (`set_mask` the count - 1, else -1)."""
    return int(addr & set_mask if set_mask >= 0 else addr % sets)


@njit
def set_base(inst_tab: NDArray[np.int64], inst: int, addr: int) -> int:
    """Index in `sets` of the record of the set `addr` maps to."""
    index = set_index(inst_tab[inst, SETS], addr)
    return int(inst_tab[inst, OFF] + index * record_words(inst_tab[inst, WAYS]))


@njit
def _at(i: int) -> np.uint64:
    """Index `i` (never negative) as an unsigned number: Numba wraps negative indices
    around, and that test in every iteration keeps the way loops from being vectorized."""
    return np.uint64(i)


@njit
def _stack_way(sets: NDArray[np.int64], r: int, ways: int, j: int) -> int:
    """The way at place `j` of the recency stack of the set at `r` (0: most recent)."""
    bits, lg = stack_shape(ways)
    word = sets[_at(r + STACK + (j >> lg))]
    return int((word >> (bits * (j & ((1 << lg) - 1)))) & ((1 << bits) - 1))


@njit
def _stack_place(sets: NDArray[np.int64], r: int, ways: int, w: int) -> int:
    """Where way `w` stands in the recency stack of the set at `r`. Each word is searched
    in one go: XOR with `w` in every lane leaves a zero lane where `w` is, and the lowest
    lane that (x - 1) & ~x marks in every lane's top bit is the first zero one."""
    bits, lg = stack_shape(ways)
    ones = 0x1111_1111_1111_1111 if bits == 4 else 0x0101_0101_0101_0101
    tops = -0x7777_7777_7777_7778 if bits == 4 else -0x7F7F_7F7F_7F7F_7F80  # ones << bits - 1
    pattern = int(w) * ones
    for q in range(stack_words(ways)):
        x = int(sets[_at(r + STACK + q)]) ^ pattern
        marks = wrap64((x - ones) & ~x & tops)
        if marks != 0:
            return (q << lg) + (trailing_zeros(marks) >> (2 if bits == 4 else 3))
    return -1  # not reached: every way has a place


@njit
def _to_front(sets: NDArray[np.int64], r: int, ways: int, j: int, w: int) -> None:
    """Move way `w`, at place `j`, to the front of the set's recency stack: the places
    before `j` move one back. Whole words shift, the word holding place `j` keeps the
    lanes above it."""
    bits, lg = stack_shape(ways)
    lane = (1 << bits) - 1
    carry = int(w)
    s = r + STACK
    for q in range(j >> lg):
        word = int(sets[_at(s + q)])
        sets[_at(s + q)] = wrap64((word << bits) | carry)
        carry = (word >> (64 - bits)) & lane
    s += j >> lg
    word = int(sets[_at(s)])
    below = (1 << (bits * (j & ((1 << lg) - 1)))) - 1
    sets[_at(s)] = wrap64((word & ~((below << bits) | lane)) | ((word & below) << bits) | carry)


@njit
def _least_recent(sets: NDArray[np.int64], r: int, ways: int, candidates: int) -> int:
    """The place of the least recent way among `candidates` (a way bitmask), or -1. Up
    to 16 ways, a partial mask tests every place at once (`nibble_bits`: a bitmask of the
    places that hold a candidate, whose highest bit is the answer), since a scan that
    stops at the first candidate mispredicts its exit whenever partitions' lines
    interleave."""
    if candidates == 0:
        return -1
    if ways <= NIBBLE_WAYS:
        stack = int(sets[_at(r + STACK)])
        if candidates == (1 << ways) - 1:
            return ways - 1  # every way allowed (no portions): the least recent of all
        places = nibble_bits(stack, candidates) & ((1 << ways) - 1)
        return highest_bit(places) if places != 0 else -1
    for j in range(ways - 1, -1, -1):
        if (candidates >> _stack_way(sets, r, ways, j)) & 1:
            return j
    return -1


@njit
def _owner(word: int, num_pmg: int) -> tuple[int, int]:
    """(PARTID, label) of the line whose state word is `word`."""
    partid = word >> _PARTID_SHIFT
    return partid, partid * num_pmg + ((word >> _PMG_SHIFT) & 0xFF)


@njit
def _priority_pool(
    sets: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    inst: int,
    r: int,
    ways: int,
    candidates: int,
) -> int:
    """The ways among `candidates` of the first non-empty class of Table 5-1's victim
    priorities: unallocated lines, lines of disabled PARTIDs, lines of partitions over
    their CMAX, those between CMIN and CMAX, and last those at or under their CMIN."""
    t = r + tags_at(ways)
    unallocated = disabled = over = between = under = 0
    for w in range(ways):
        bit = 1 << w
        if not candidates & bit:
            continue
        if sets[t + w] < 0:
            unallocated |= bit
            continue
        q = sets[t + ways + w] >> _PARTID_SHIFT
        if ctl[DISABLED, inst, q]:
            disabled |= bit
        elif occ_part[inst, q] > ctl[CMAX, inst, q]:
            over |= bit
        elif occ_part[inst, q] <= ctl[CMIN, inst, q]:
            under |= bit
        else:
            between |= bit
    return int(unallocated or disabled or over or between or under)


@outline
def _srrip_victim(sets: NDArray[np.int64], r: int, ways: int, candidates: int) -> int:
    """SRRIP's way to replace among `candidates`: the first unallocated one, else the
    first predicted distant (RRPV 3), after ageing them all until one is; -1 when there
    is no candidate."""
    t = r + tags_at(ways)
    w = -1
    best = 0
    for v in range(ways):
        if not (candidates >> v) & 1:
            continue
        if sets[t + v] < 0:
            return v
        m = sets[t + ways + v] & _META
        if w < 0 or m > best:
            w, best = v, m
    if w >= 0 and best < _RRPV_MAX:
        for v in range(ways):
            if (candidates >> v) & 1:
                sets[t + ways + v] += _RRPV_MAX - best
    return w


@njit
def cache_fill(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    r: int,
    addr: int,
    partid: int,
    pmg: int,
    write: bool,
    policy: int,
    evicted: NDArray[np.int64],
) -> int:
    """The miss half of `cache_access`, for a caller that knows `addr` is not cached in
    the set at `r` (`set_base`): allocate it if the controls allow. Returns its tag's
    index in `sets`, or -1."""
    return _fill(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst, inst_tab[inst, WAYS], r,
                 addr, partid, pmg, write, policy, evicted)  # fmt: skip


@njit
def _fill(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    ways: int,
    r: int,
    addr: int,
    partid: int,
    pmg: int,
    write: bool,
    policy: int,
    evicted: NDArray[np.int64],
) -> int:
    """`cache_fill` for an instance of `ways` ways, which a caller may know as a constant."""
    evicted[0] = -1
    pool = ctl[WAY_MASK, inst, partid]
    if inst_tab[inst, LIMITS]:
        pool = _limited_pool(sets, occ_part, ctl, inst, r, ways, partid, pool)
    if policy == LRU:
        j = _least_recent(sets, r, ways, pool)
        w = _stack_way(sets, r, ways, j) if j >= 0 else -1
    else:
        j = -1
        w = _srrip_victim(sets, r, ways, pool)
    if w < 0:
        return -1
    _install(sets, occ, occ_part, num_pmg, inst, r, ways, w, addr, partid, pmg, write,
             0 if policy == LRU else _RRPV_INSERT, evicted)  # fmt: skip
    # SRRIP does not use the order, but a fill keeps it: free ways must stay the least
    # recent ones should the arrays be run under LRU later.
    _to_front(sets, r, ways, j if policy == LRU else _stack_place(sets, r, ways, w), w)
    return int(r + tags_at(ways) + w)


@outline
def _limited_pool(
    sets: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    inst: int,
    r: int,
    ways: int,
    partid: int,
    allowed: int,
) -> int:
    """The ways a fill by `partid` may take among `allowed` when capacity limits apply:
    at its CASSOC limit in the set, only its own lines; at its CMAX, only its own lines
    (hard) or also the spare ones, unallocated or of disabled PARTIDs (SOFTLIM); then
    the first non-empty class of Table 5-1's priorities."""
    t = r + tags_at(ways)
    own = 0
    in_set = 0
    spare = 0
    for v in range(ways):
        if sets[t + v] < 0:
            spare |= 1 << v
        elif sets[t + ways + v] >> _PARTID_SHIFT == partid:
            own |= 1 << v
            in_set += 1
        elif ctl[DISABLED, inst, sets[t + ways + v] >> _PARTID_SHIFT]:
            spare |= 1 << v
    if in_set >= ctl[CASSOC, inst, partid]:
        allowed &= own
    elif occ_part[inst, partid] >= ctl[CMAX, inst, partid]:
        if ctl[CMAX_SOFT, inst, partid]:
            allowed &= own | spare
        else:
            allowed &= own
    return _priority_pool(sets, occ_part, ctl, inst, r, ways, allowed)


@njit
def _install(
    sets: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    r: int,
    ways: int,
    w: int,
    addr: int,
    partid: int,
    pmg: int,
    write: bool,
    meta: int,
    evicted: NDArray[np.int64],
) -> None:
    """Replace way `w` of the set at `r` with `addr`, owned by (partid, pmg). A line that
    replaces one of its own label's leaves the occupancy counts as they were."""
    t = _at(r + tags_at(ways) + w)
    d = _at(r + DIRTY_WAYS)
    bit = np.int64(1) << w
    owner = (partid << _PARTID_SHIFT) | (pmg << _PMG_SHIFT)
    if sets[t] >= 0:
        old_owner = sets[t + _at(ways)] & ~_META
        if sets[d] & bit or old_owner != owner:
            old_partid, old = _owner(old_owner, num_pmg)
            if sets[d] & bit:
                occ[DIRTY_LINES, inst, old] -= 1
                evicted[0] = sets[t]
                evicted[1] = old
            if old_owner != owner:
                label = partid * num_pmg + pmg
                occ[ALL, inst, old] -= 1
                occ_part[inst, old_partid] -= 1
                occ[ALL, inst, label] += 1
                occ_part[inst, partid] += 1
    else:
        occ[ALL, inst, partid * num_pmg + pmg] += 1
        occ_part[inst, partid] += 1
    sets[t] = addr
    sets[t + _at(ways)] = owner | meta
    if write:
        sets[d] |= bit
        occ[DIRTY_LINES, inst, partid * num_pmg + pmg] += 1
    elif sets[d] & bit:
        sets[d] &= ~bit


@njit
def cache_lookup(sets: NDArray[np.int64], r: int, ways: int, addr: int) -> int:
    """Where `addr` is held in the set at `r` (`set_base`) of `ways` ways (its tag's index
    in `sets`), or -1: a lookup that changes nothing, so a caller can ask before
    committing to an access. The tags are compared LANES at a time; lanes past the last
    way (the states, or the spare words after the last record) are masked off."""
    t = r + tags_at(ways)
    for q in range(0, ways, LANES):
        hits = lanes_equal(sets, t + q, addr)
        if ways - q < LANES:
            hits &= (1 << (ways - q)) - 1
        if hits != 0:
            return int(t + q + trailing_zeros(hits))
    return -1


@njit
def _mark_dirty(
    sets: NDArray[np.int64],
    occ: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    r: int,
    ways: int,
    i: int,
) -> None:
    """The line at tag index `i` of the set at `r` was written."""
    d = _at(r + DIRTY_WAYS)
    bit = np.int64(1) << (i - r - tags_at(ways))
    if not sets[d] & bit:
        sets[d] |= bit
        occ[DIRTY_LINES, inst, _owner(sets[_at(i + ways)], num_pmg)[1]] += 1


@njit
def cache_touch(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    r: int,
    i: int,
    write: bool,
    policy: int,
) -> None:
    """The hit half of `cache_access`: the line at tag index `i` of the set at `r` (from
    `cache_lookup`) was referenced, so it becomes the most recent (LRU) or predicted near
    (SRRIP), and dirty if written. Its owner stays: the spec moves no line to the PARTID
    that hits it."""
    _touch(sets, occ, num_pmg, inst, inst_tab[inst, WAYS], r, i, write, policy)


@njit
def _touch(
    sets: NDArray[np.int64],
    occ: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    ways: int,
    r: int,
    i: int,
    write: bool,
    policy: int,
) -> None:
    """`cache_touch` for an instance of `ways` ways."""
    if policy == LRU:
        w = i - r - tags_at(ways)
        _to_front(sets, r, ways, _stack_place(sets, r, ways, w), w)
    else:
        sets[_at(i + ways)] &= ~_META
    if write:
        _mark_dirty(sets, occ, num_pmg, inst, r, ways, i)


@njit
def cache_access(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    addr: int,
    partid: int,
    pmg: int,
    write: bool,
    policy: int,
    evicted: NDArray[np.int64],
) -> int:
    """One access by label (partid, pmg) to line address `addr` in instance `inst`.

    Returns HIT, ALLOCATED or NOT_ALLOCATED. When a fill evicts a dirty line, its address
    and label are stored in evicted[0] and evicted[1] (else evicted[0] is -1): the
    write-back the memory channel must carry, labelled with the line's owner.
    """
    r = set_base(inst_tab, inst, addr)
    i = cache_lookup(sets, r, inst_tab[inst, WAYS], addr)
    if i >= 0:
        evicted[0] = -1
        cache_touch(sets, inst_tab, occ, num_pmg, inst, r, i, write, policy)
        return HIT
    if cache_fill(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst, r, addr, partid, pmg,
                  write, policy, evicted) < 0:  # fmt: skip
        return NOT_ALLOCATED
    return ALLOCATED


@njit
def _unsafe(
    inst: int, addr: int, partid: int, pmg: int, n_inst: int, num_partid: int, num_pmg: int
) -> bool:
    """Whether an access has a value the kernels would index out of range with. One test
    without branches: x | (max - x) < 0 exactly when x is outside 0..max."""
    return bool(
        (inst | (n_inst - 1 - inst) | addr | partid | (num_partid - 1 - partid) | pmg
         | (num_pmg - 1 - pmg)) < 0
    )  # fmt: skip


#: How many accesses ahead `access_lines` asks the host to load a set's record.
_AHEAD = 8


@njit
def _run_lines(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    ways: int,
    insts: NDArray[np.int64],
    addrs: NDArray[np.int64],
    partids: NDArray[np.int64],
    pmgs: NDArray[np.int64],
    writes: NDArray[np.uint8],
    policy: int,
    results: NDArray[np.int8],
    writebacks: NDArray[np.int64],
    evicted: NDArray[np.int64],
) -> int:
    """The loop of `_width_kernel`'s kernels, for an instance of `ways` ways."""
    n = addrs.shape[0]
    num_partid = occ_part.shape[1]
    n_sets, off = inst_tab[inst, SETS], inst_tab[inst, OFF]
    words = record_words(ways)
    set_mask = n_sets - 1 if n_sets & (n_sets - 1) == 0 else -1  # -1: not a power of two
    # The line the previous access left in the cache: byte-address traces touch the same
    # line several times in a row, and nothing else ran since, so it is still there, and
    # already the most recent.
    last_addr, last_r, last_i = -1, -1, -1
    count = 0
    for k in range(n):
        a = k + _AHEAD
        if a < n and addrs[a] != addrs[a - 1]:
            # the record a later access will want: load it meanwhile
            ahead = off + _set_of(set_mask, n_sets, addrs[a]) * words
            for x in range(0, words, 8):
                prefetch(sets, ahead + x)
        addr, write, partid, pmg = addrs[k], writes[k] != 0, partids[k], pmgs[k]
        # `_unsafe`'s test, written out: as a call it cost this loop 7% with portions
        if (insts[k] != inst) | ((addr | partid | (num_partid - 1 - partid) | pmg
                                  | (num_pmg - 1 - pmg)) < 0):  # fmt: skip
            return -1 - k
        results[k] = HIT
        if addr == last_addr and last_i >= 0:
            if policy == LRU:
                if write:
                    _mark_dirty(sets, occ, num_pmg, inst, last_r, ways, last_i)
            else:
                _touch(sets, occ, num_pmg, inst, ways, last_r, last_i, write, policy)
            continue
        r = off + _set_of(set_mask, n_sets, addr) * words
        i = cache_lookup(sets, r, ways, addr)
        if i >= 0:
            _touch(sets, occ, num_pmg, inst, ways, r, i, write, policy)
        else:
            i = _fill(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst, ways, r, addr, partid,
                      pmg, write, policy, evicted)  # fmt: skip
            results[k] = ALLOCATED if i >= 0 else NOT_ALLOCATED
            if evicted[0] >= 0:
                writebacks[count, 0] = k
                writebacks[count, 1] = evicted[0]
                count += 1
        last_addr, last_r, last_i = addr, r, i
    return count


def _width_kernel(ways: int) -> Callable[..., int]:
    """The kernel `access_lines` runs for an instance of `ways` ways (0: of any width, read
    at run time). Caches of 4, 8 or 16 ways, the widths of the preset platforms' caches,
    each get a copy of the loop in which the ways are a constant, which the compiler folds
    into unrolled tag compares and fixed recency-stack shifts. Each compiles on first use.
    The kernel runs accesses to instance `inst` in order, puts (access, line) of each
    write-back in `writebacks` and returns their number; or returns -1 - k when access k
    is to another instance or has a value out of range, which it does not run (nor any
    after it)."""

    # Written out in full: Numba inlines no callee into a closure that takes *args.
    def run(
        sets: NDArray[np.int64],
        inst_tab: NDArray[np.int64],
        occ: NDArray[np.int64],
        occ_part: NDArray[np.int64],
        ctl: NDArray[np.int64],
        num_pmg: int,
        inst: int,
        insts: NDArray[np.int64],
        addrs: NDArray[np.int64],
        partids: NDArray[np.int64],
        pmgs: NDArray[np.int64],
        writes: NDArray[np.uint8],
        policy: int,
        results: NDArray[np.int8],
        writebacks: NDArray[np.int64],
        evicted: NDArray[np.int64],
    ) -> int:
        w = ways if ways > 0 else inst_tab[inst, WAYS]
        return _run_lines(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst, w, insts, addrs,
                          partids, pmgs, writes, policy, results, writebacks, evicted)  # fmt: skip

    run.__name__ = run.__qualname__ = f"access_lines_{ways or 'any'}_ways"
    return kernel(run)


_ACCESS_LINES = {ways: _width_kernel(ways) for ways in (0, 4, 8, 16)}


@kernel
def _first_bad(
    n_inst: int,
    num_partid: int,
    num_pmg: int,
    insts: NDArray[np.int64],
    addrs: NDArray[np.int64],
    partids: NDArray[np.int64],
    pmgs: NDArray[np.int64],
) -> tuple[int, bool]:
    """The index of the first access the kernel cannot take (-1: none), and whether the
    batch goes to more than one instance. A first pass without branches, which compiles
    to vector compares, finds whether there is a bad access at all."""
    n = addrs.shape[0]
    bad = mixed = False
    for k in range(n):
        bad |= _unsafe(insts[k], addrs[k], partids[k], pmgs[k], n_inst, num_partid, num_pmg)
        mixed |= insts[k] != insts[0]
    if bad:
        for k in range(n):
            if _unsafe(insts[k], addrs[k], partids[k], pmgs[k], n_inst, num_partid, num_pmg):
                return k, mixed
    return -1, mixed


def _refusal(a: CacheArrays, columns: tuple[NDArray[np.int64], ...], k: int) -> ValueError:
    """The error that names access `k`, which the kernel cannot take, and why."""
    i, x, p, g = (int(c[k]) for c in columns)
    if not 0 <= i < len(a.inst):
        why = f"instance {i} is outside 0..{len(a.inst) - 1}"
    elif x < 0:
        why = f"line address {x} is negative"
    elif not 0 <= p < a.num_partid:
        why = f"PARTID {p} is outside 0..{a.num_partid - 1}"
    else:
        why = f"PMG {g} is outside 0..{a.num_pmg - 1}"
    return ValueError(f"access {k}: {why}")


def _lines_kernel(a: CacheArrays, inst: int) -> Callable[..., int]:
    return _ACCESS_LINES.get(int(a.inst[inst, WAYS]), _ACCESS_LINES[0])


def access_lines(
    a: CacheArrays,
    insts: NDArray[np.integer],
    lines: NDArray[np.integer],
    partids: NDArray[np.integer],
    pmgs: NDArray[np.integer],
    writes: NDArray[np.integer] | NDArray[np.bool_],
    policy: int = LRU,
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """Run a batch of accesses: per access its result (HIT, ALLOCATED, NOT_ALLOCATED),
    and the write-backs as rows of (access index, written-back line), in access order.

    The checked front of the kernel: arrays must agree in length, instances and labels be
    in range and line addresses non-negative. A batch with a bad access is refused whole:
    no access changes the caches. A long batch to one instance runs straight away, the
    kernel testing each access before it runs it, and a copy of the instance's state is
    put back if one is refused (a copy of the instance costs less than a pass over the
    batch); other batches are tested first. Instances share no state, so a batch that
    mixes them runs as one batch per instance.
    """
    n = lines.shape[0]
    named: dict[str, NDArray[np.generic]] = {
        "insts": insts, "lines": lines, "partids": partids, "pmgs": pmgs, "writes": writes
    }  # fmt: skip
    for name, arr in named.items():
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} entries, lines has {n}")
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise ValueError(f"{name} must be integers, not {arr.dtype}")
    i, x, p, g = columns = tuple(
        np.ascontiguousarray(c, dtype=np.int64) for c in (insts, lines, partids, pmgs)
    )
    if writes.dtype == np.bool_ or writes.dtype == np.uint8:
        w = np.ascontiguousarray(writes).view(np.uint8)  # non-zero is a write: no copy
    else:
        w = (writes != 0).view(np.uint8)
    results = np.empty(n, dtype=np.int8)
    writebacks = np.empty((n, 2), dtype=np.int64)  # pages are touched only as rows are written
    evicted = np.empty(2, dtype=np.int64)
    state = (a.sets, a.inst, a.occ, a.occ_part, a.ctl, a.num_pmg)
    first = int(i[0]) if n else -1
    if 0 <= first < len(a.inst) and 4 * n > a.records(first).size:
        saved = (a.records(first).copy(), a.occ[:, first].copy(), a.occ_part[first].copy())
        done = _lines_kernel(a, first)(*state, first, i, x, p, g, w, policy, results, writebacks,
                                       evicted)  # fmt: skip
        if done >= 0:
            return results, writebacks[:done].copy()
        a.records(first)[:], a.occ[:, first], a.occ_part[first] = saved
        if i[-1 - done] == first:  # a bad access, and the first
            raise _refusal(a, columns, -1 - done)
    k, mixed = _first_bad(len(a.inst), a.num_partid, a.num_pmg, i, x, p, g)
    if k >= 0:
        raise _refusal(a, columns, k)
    if n == 0:
        return results, writebacks[:0].copy()
    if not mixed:
        done = _lines_kernel(a, first)(*state, first, i, x, p, g, w, policy, results, writebacks,
                                       evicted)  # fmt: skip
        return results, writebacks[:done].copy()
    rows = []
    for inst in np.unique(i):
        at = np.flatnonzero(i == inst)
        mine = np.empty(at.size, dtype=np.int8)
        done = _lines_kernel(a, int(inst))(*state, int(inst), i[at], x[at], p[at], g[at], w[at],
                                           policy, mine, writebacks, evicted)  # fmt: skip
        results[at] = mine
        rows.append(np.column_stack((at[writebacks[:done, 0]], writebacks[:done, 1])))
    merged = np.concatenate(rows)
    return results, merged[np.argsort(merged[:, 0], kind="stable")]


# -- the readable twin --------------------------------------------------------------------


class ReferenceCache:
    """The same cache, one Python object per line operation: the kernel's specification.

    It works on its own copy of a `CacheArrays` and must leave it in exactly the state the
    kernel leaves the original in, for any sequence of accesses.
    """

    def __init__(self, arrays: CacheArrays, policy: int = LRU) -> None:
        self.a = arrays
        self.policy = policy

    def _priority(self, inst: int, owner: int) -> int:
        """Table 5-1 priority of a line owned by `owner` (-1: unallocated)."""
        a = self.a
        if owner < 0:
            return 0
        q = owner // a.num_pmg
        if a.ctl[DISABLED, inst, q]:
            return 1
        used = a.occ_part[inst, q]
        if used > a.ctl[CMAX, inst, q]:
            return 2
        return 4 if used <= a.ctl[CMIN, inst, q] else 3

    def access(self, inst: int, addr: int, partid: int, pmg: int, write: bool) -> tuple[int, int]:
        """(result, written-back line or -1)."""
        a = self.a
        ways = int(a.inst[inst, WAYS])
        rec = a.records(inst)[addr % int(a.inst[inst, SETS])]
        tags = [int(t) for t in rec[tags_at(ways) : tags_at(ways) + ways]]
        state = rec[tags_at(ways) + ways :]
        owner = [-1] * ways
        for w in range(ways):
            if tags[w] >= 0:
                word = int(state[w])
                owner[w] = (word >> _PARTID_SHIFT) * a.num_pmg + ((word >> _PMG_SHIFT) & 0xFF)
        order = recency_order(rec, ways)  # LRU: the most recent way first

        def meta_of(w: int) -> int:
            return int(state[w]) & _META

        def set_meta(w: int, m: int) -> None:
            state[w] = (int(state[w]) & ~_META) | m

        def make_most_recent(w: int) -> None:
            order.remove(w)
            store_recency_order(rec, ways, [w, *order])

        if addr in tags:
            w = tags.index(addr)
            if self.policy == LRU:
                make_most_recent(w)
            else:
                set_meta(w, 0)
            if write and not (int(rec[DIRTY_WAYS]) >> w) & 1:
                rec[DIRTY_WAYS] |= 1 << w
                a.occ[DIRTY_LINES, inst, owner[w]] += 1
            return HIT, -1
        allowed = [w for w in range(ways) if a.ctl[WAY_MASK, inst, partid] >> w & 1]
        own = [w for w in range(ways) if owner[w] >= 0 and owner[w] // a.num_pmg == partid]
        if len(own) >= a.ctl[CASSOC, inst, partid]:
            allowed = [w for w in allowed if w in own]
        elif a.occ_part[inst, partid] >= a.ctl[CMAX, inst, partid]:
            soft = bool(a.ctl[CMAX_SOFT, inst, partid])
            allowed = [
                w for w in allowed if w in own or (soft and self._priority(inst, owner[w]) < 2)
            ]
        if not allowed:
            return NOT_ALLOCATED, -1
        prio = min(self._priority(inst, owner[w]) for w in allowed)
        pool = [w for w in allowed if self._priority(inst, owner[w]) == prio]
        if prio == 0:
            victim = pool[0]
        elif self.policy == LRU:
            victim = max(pool, key=order.index)
        else:
            while not any(meta_of(w) >= _RRPV_MAX for w in pool):
                top = max(meta_of(w) for w in pool)
                for w in pool:
                    set_meta(w, meta_of(w) + _RRPV_MAX - top)
            victim = next(w for w in pool if meta_of(w) >= _RRPV_MAX)
        written_back = -1
        if tags[victim] >= 0:
            old = owner[victim]
            a.occ[ALL, inst, old] -= 1
            a.occ_part[inst, old // a.num_pmg] -= 1
            if (int(rec[DIRTY_WAYS]) >> victim) & 1:
                a.occ[DIRTY_LINES, inst, old] -= 1
                written_back = tags[victim]
        label = partid * a.num_pmg + pmg
        rec[tags_at(ways) + victim] = addr
        meta_in = 0 if self.policy == LRU else _RRPV_INSERT
        state[victim] = (partid << _PARTID_SHIFT) | (pmg << _PMG_SHIFT) | meta_in
        make_most_recent(victim)  # under SRRIP too, so that free ways stay least recent
        if write:
            rec[DIRTY_WAYS] |= 1 << victim
            a.occ[DIRTY_LINES, inst, label] += 1
        else:
            rec[DIRTY_WAYS] &= ~(1 << victim)
        a.occ[ALL, inst, label] += 1
        a.occ_part[inst, partid] += 1
        return ALLOCATED, written_back
