"""Set-associative caches whose lines carry their owner's (PARTID, PMG) label.

Every cache of the hierarchy (private L1 and L2, shared L2, the system-level cache and its
slices) is one *instance* in a single set of flat arrays, so one Numba kernel serves them
all. A lookup hits anywhere in the set, whoever filled the line. A fill follows the
controls the MSC holds for the requester's PARTID (IHI0099 chapter 5; reference §2.6):

- CPBM: only the ways of the portions the partition may allocate into (portion k covers
  ways [k·W/N, (k+1)·W/N) for N portions and W ways);
- CMAX: at or above its capacity limit, a partition replaces only its own lines (hard), or
  also unallocated lines and lines of disabled PARTIDs (SOFTLIM);
- CASSOC: at its limit of ways in this set, it replaces only its own lines;
- a PARTID the MSC has disabled (HAS_ENDIS, reference §2.8) has no portions and limits of
  0, so it allocates nothing;
- victims are taken by the priorities of Table 5-1: unallocated lines, lines of disabled
  PARTIDs, lines of partitions over their CMAX, lines of partitions between CMIN and CMAX,
  and last lines of partitions under their CMIN; within a priority the replacement policy
  chooses (LRU, or SRRIP with 2-bit re-reference predictions).

Each set is one record of machine words (its clock, its dirty ways, a tag per way, a state
word per way), so a lookup and a fill touch one short run of memory: the simulated caches
are bigger than the host's, and host cache misses, not instructions, set the pace.
Occupancy is counted per instance and label as lines are filled and evicted, so a CSU
monitor's read is a lookup, not a scan. Private caches have no MSC: their controls stay
unrestricted. Controls are decoded from the MSC's PARTID-indexed MPAMCFG arrays whenever
they change (`decode_controls`), so the kernels act on exactly what the registers hold.

`ReferenceCache` is the slow, readable twin of the kernel; tests run both on the same
seeded accesses and compare every array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.jit import kernel, njit, prefetch
from mpam.hw.msc import Msc, RisState
from mpam.hw.regmap import field

__all__ = [
    "ALLOCATED",
    "CLOCK_LIMIT",
    "HIT",
    "LRU",
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
    "record_words",
    "set_base",
    "set_index",
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


# A set's record in `CacheArrays.sets`: its LRU clock, its dirty ways (bit w: way w), then
# the tag of each way (line address, -1 when invalid), then the state of each way: the
# owner's PARTID in bits 40-55 and PMG in bits 32-39 (their own fields, so that no
# division recovers the PARTID), the policy's meta in the low half (LRU: the set's clock
# at the last access; SRRIP: the re-reference prediction). An invalid way's state is 0,
# and valid LRU stamps start at 1, so the least recent allowed way of a set is also its
# first invalid one when it has any.
CLOCK, DIRTY_WAYS, TAGS = range(3)
SETS, WAYS, OFF, LIMITS = range(4)  # per instance; OFF: where its set 0's record starts
WAY_MASK, CMAX, CMAX_SOFT, CMIN, CASSOC, DISABLED = range(6)  # per (instance, PARTID)
ALL, DIRTY_LINES = range(2)  # occupancy per (instance, label)

_META = 0xFFFF_FFFF
_PMG_SHIFT, _PARTID_SHIFT = 32, 40
#: a set's clock is renumbered (stamps replaced by their ranks) when it reaches this
CLOCK_LIMIT = 1 << 31
_NEVER = 1 << 40  # above any stamp: the meta of a way a fill may not take


@njit
def record_words(ways: int) -> int:
    """Words of one set's record."""
    return TAGS + 2 * ways


@dataclass
class CacheArrays:
    """The state and controls of every cache instance, packed for the kernels.

    `sets` holds every set's record (see CLOCK, DIRTY_WAYS, TAGS above); `inst` each
    instance's sets, ways, first record and whether any capacity limit (CMAX, CMIN,
    CASSOC) is set or a PARTID disabled, since victims are then chosen by Table 5-1's
    priorities instead of by the policy alone; `occ` counts lines per (instance, label), all and dirty; `occ_part`
    per (instance, PARTID); `ctl` holds the controls per (instance, PARTID): allowed ways
    (bit w = way w), CMAX and CMIN in lines, SOFTLIM, CASSOC in ways per set, and whether
    the MSC has the PARTID disabled (HAS_ENDIS).
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
            sets=np.zeros(int(sizes.sum()), dtype=np.int64),
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
        return self.records(inst)[:, TAGS : TAGS + int(self.inst[inst, WAYS])]

    def owners(self, inst: int) -> NDArray[np.int64]:
        """Owner label (PARTID * num_pmg + PMG) per (set, way) of `inst`, -1 where invalid."""
        ways = int(self.inst[inst, WAYS])
        state = self.records(inst)[:, TAGS + ways :]
        label = (state >> _PARTID_SHIFT) * self.num_pmg + ((state >> _PMG_SHIFT) & 0xFF)
        return np.where(self.tags(inst) >= 0, label, -1)

    def metas(self, inst: int) -> NDArray[np.int64]:
        """The policy's meta per (set, way) of `inst`: LRU stamp or SRRIP prediction."""
        ways = int(self.inst[inst, WAYS])
        return self.records(inst)[:, TAGS + ways :] & _META

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
    """A max-type control's limit: the implemented field plus one LSB (reference §2.6)."""
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
        # controls as 0; its lines are the first victims after unallocated ones (§2.8).
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
def set_index(sets: int, addr: int) -> int:
    """The set of `sets` that line `addr` maps to. Set counts are nearly always powers of
    two, and a mask is an order of magnitude cheaper than a division."""
    return int(addr & (sets - 1) if sets & (sets - 1) == 0 else addr % sets)


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
def _renumber(sets: NDArray[np.int64], r: int, ways: int) -> int:
    """Replace the LRU stamps of the set at `r` by their ranks (1 for the least recent),
    which keeps their order; returns the clock to go on from. Selection by increasing
    stamp, a ranked way marked by CLOCK_LIMIT + rank until all are ranked."""
    state = r + TAGS + ways
    now = 1
    while True:
        w, best = -1, 0
        for v in range(ways):
            m = sets[state + v] & _META
            if sets[r + TAGS + v] >= 0 and m < CLOCK_LIMIT and (w < 0 or m < best):
                w, best = v, m
        if w < 0:
            break
        sets[state + w] = (sets[state + w] & ~_META) | (CLOCK_LIMIT + now)
        now += 1
    for v in range(ways):
        if sets[r + TAGS + v] >= 0:
            sets[state + v] -= CLOCK_LIMIT
    return now


@njit
def _clock(sets: NDArray[np.int64], r: int, ways: int) -> int:
    """Advance the LRU clock of the set at `r` and return it; at CLOCK_LIMIT the stamps
    are renumbered, so the state word's low half holds them however long a set lives."""
    c = _at(r + CLOCK)
    now = sets[c] + 1
    if now >= CLOCK_LIMIT:
        now = _renumber(sets, r, ways)
    sets[c] = now
    return int(now)


@njit
def _owner(word: int, num_pmg: int) -> tuple[int, int]:
    """(PARTID, label) of the line whose state word is `word`."""
    partid = word >> _PARTID_SHIFT
    return partid, partid * num_pmg + ((word >> _PMG_SHIFT) & 0xFF)


@njit
def _age(sets: NDArray[np.int64], state: int, w: int, by: int) -> None:
    """SRRIP: raise way `w`'s re-reference prediction by `by`."""
    sets[state + w] += by


@njit
def _victim(
    sets: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    inst: int,
    r: int,
    ways: int,
    candidates: int,
    policy: int,
) -> int:
    """The way to replace among `candidates` (a way bitmask) by Table 5-1's priorities:
    unallocated lines first, then lines of disabled PARTIDs, then lines of partitions over
    their CMAX, then those between CMIN and CMAX, and last those at or under their CMIN;
    within the first non-empty class, the replacement policy chooses. -1 when there is no
    candidate."""
    state = r + TAGS + ways
    unallocated = disabled = over = between = under = 0
    for w in range(ways):
        bit = 1 << w
        if not candidates & bit:
            continue
        if sets[r + TAGS + w] < 0:
            unallocated |= bit
            continue
        q = sets[state + w] >> _PARTID_SHIFT
        if ctl[DISABLED, inst, q]:
            disabled |= bit
        elif occ_part[inst, q] > ctl[CMAX, inst, q]:
            over |= bit
        elif occ_part[inst, q] <= ctl[CMIN, inst, q]:
            under |= bit
        else:
            between |= bit
    pool = unallocated or disabled or over or between or under
    return _policy_victim(sets, r, ways, pool, policy)


@njit
def _policy_victim(sets: NDArray[np.int64], r: int, ways: int, candidates: int, policy: int) -> int:
    """The way to replace among `candidates` when no capacity limit applies: the first
    invalid one, else the policy's choice; -1 when there is no candidate.

    For LRU this is one branch-free minimum: invalid ways have meta 0, below every stamp,
    and ways outside `candidates` count as _NEVER."""
    state = r + TAGS + ways
    if policy == LRU:
        w = -1
        best = _NEVER
        for v in range(ways):
            m = sets[_at(state + v)] & _META if (candidates >> v) & 1 else _NEVER
            if m < best:
                w, best = v, m
        return w
    w = -1
    best = 0
    for v in range(ways):
        if not (candidates >> v) & 1:
            continue
        if sets[r + TAGS + v] < 0:
            return v
        m = sets[state + v] & _META
        if w < 0 or m > best:
            w, best = v, m
    if w >= 0 and best < _RRPV_MAX:
        for v in range(ways):
            if (candidates >> v) & 1:
                _age(sets, state, v, _RRPV_MAX - best)
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
    evicted[0] = -1
    ways = inst_tab[inst, WAYS]
    now = _clock(sets, r, ways) if policy == LRU else 0
    candidates = ctl[WAY_MASK, inst, partid]
    if not inst_tab[inst, LIMITS]:
        w = _policy_victim(sets, r, ways, candidates, policy)
    else:
        state = r + TAGS + ways
        own = 0
        in_set = 0
        spare = 0  # unallocated lines and lines of disabled PARTIDs
        for v in range(ways):
            if sets[r + TAGS + v] < 0:
                spare |= 1 << v
            elif sets[state + v] >> _PARTID_SHIFT == partid:
                own |= 1 << v
                in_set += 1
            elif ctl[DISABLED, inst, sets[state + v] >> _PARTID_SHIFT]:
                spare |= 1 << v
        if in_set >= ctl[CASSOC, inst, partid]:
            candidates &= own
        elif occ_part[inst, partid] >= ctl[CMAX, inst, partid]:
            if ctl[CMAX_SOFT, inst, partid]:
                candidates &= own | spare
            else:
                candidates &= own
        w = _victim(sets, occ_part, ctl, inst, r, ways, candidates, policy)
    if w < 0:
        return -1
    _install(sets, occ, occ_part, num_pmg, inst, r, ways, w, addr, partid, pmg, write,
             now if policy == LRU else _RRPV_INSERT, evicted)  # fmt: skip
    return int(r + TAGS + w)


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
    t = _at(r + TAGS + w)
    d = _at(r + DIRTY_WAYS)
    bit = np.int64(1) << w
    label = partid * num_pmg + pmg
    if sets[t] >= 0:
        old_partid, old = _owner(sets[t + _at(ways)], num_pmg)
        if sets[d] & bit:
            occ[DIRTY_LINES, inst, old] -= 1
            evicted[0] = sets[t]
            evicted[1] = old
        if old != label:
            occ[ALL, inst, old] -= 1
            occ_part[inst, old_partid] -= 1
            occ[ALL, inst, label] += 1
            occ_part[inst, partid] += 1
    else:
        occ[ALL, inst, label] += 1
        occ_part[inst, partid] += 1
    sets[t] = addr
    sets[t + _at(ways)] = (partid << _PARTID_SHIFT) | (pmg << _PMG_SHIFT) | meta
    if write:
        sets[d] |= bit
        occ[DIRTY_LINES, inst, label] += 1
    else:
        sets[d] &= ~bit


@njit
def cache_lookup(sets: NDArray[np.int64], r: int, ways: int, addr: int) -> int:
    """Where `addr` is held in the set at `r` (`set_base`) of `ways` ways (its tag's index
    in `sets`), or -1: a lookup that changes nothing, so a caller can ask before
    committing to an access. The loop has no early exit, so that it compiles to a few
    vector compares."""
    t = r + TAGS
    found = -1
    for w in range(ways):
        if sets[_at(t + w)] == addr:
            found = t + w
    return int(found)


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
    `cache_lookup`) was referenced, so it becomes the most recent (LRU) or predicted near (SRRIP), and dirty
    if written. Its owner stays: the spec moves no line to the PARTID that hits it."""
    ways = inst_tab[inst, WAYS]
    meta = _clock(sets, r, ways) if policy == LRU else 0
    state = _at(i + ways)
    sets[state] = (sets[state] & ~_META) | meta
    if write:
        d = _at(r + DIRTY_WAYS)
        bit = np.int64(1) << (i - r - TAGS)
        if not sets[d] & bit:
            sets[d] |= bit
            occ[DIRTY_LINES, inst, _owner(sets[state], num_pmg)[1]] += 1


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


#: How many accesses ahead `_access_lines` asks the host to load a set's record.
_AHEAD = 4


@kernel
def _access_lines(
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    insts: NDArray[np.int64],
    addrs: NDArray[np.int64],
    partids: NDArray[np.int64],
    pmgs: NDArray[np.int64],
    writes: NDArray[np.uint8],
    policy: int,
    results: NDArray[np.int8],
    writebacks: NDArray[np.int64],
    evicted: NDArray[np.int64],
) -> None:
    n = addrs.shape[0]
    # The line the previous access left in the cache: byte-address traces touch the same
    # line several times in a row, and nothing else ran since, so it is still there.
    last_inst, last_addr, last_r, last_i = -1, -1, -1, -1
    n_sets = ways = off = words = 0  # the geometry of last_inst: batches seldom change it
    for k in range(n):
        if k + _AHEAD < n:  # the set a later access will want: load it meanwhile
            ahead = set_base(inst_tab, insts[k + _AHEAD], addrs[k + _AHEAD])
            for w in range(0, record_words(inst_tab[insts[k + _AHEAD], WAYS]), 8):
                prefetch(sets, ahead + w)
        inst, addr, write = insts[k], addrs[k], writes[k] != 0
        r, i = last_r, last_i
        if inst != last_inst:
            n_sets, ways, off = inst_tab[inst, SETS], inst_tab[inst, WAYS], inst_tab[inst, OFF]
            words = record_words(ways)
        if addr != last_addr or inst != last_inst:
            r = off + set_index(n_sets, addr) * words
            i = cache_lookup(sets, r, ways, addr)
        writebacks[k] = -1
        if i >= 0:
            cache_touch(sets, inst_tab, occ, num_pmg, inst, r, i, write, policy)
            results[k] = HIT
        else:
            i = cache_fill(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst, r, addr,
                           partids[k], pmgs[k], write, policy, evicted)  # fmt: skip
            results[k] = ALLOCATED if i >= 0 else NOT_ALLOCATED
            writebacks[k] = evicted[0]
        last_inst, last_addr, last_r, last_i = inst, addr, r, i


@kernel
def _first_bad(
    n_inst: int,
    num_partid: int,
    num_pmg: int,
    insts: NDArray[np.int64],
    addrs: NDArray[np.int64],
    partids: NDArray[np.int64],
    pmgs: NDArray[np.int64],
) -> tuple[int, int]:
    """(index, what) of the first access the kernel cannot take, or (-1, 0): one pass over
    the batch, since the kernel does not check (what: 1 instance, 2 line, 3 PARTID, 4 PMG)."""
    for k in range(addrs.shape[0]):
        if insts[k] < 0 or insts[k] >= n_inst:
            return k, 1
        if addrs[k] < 0:
            return k, 2
        if partids[k] < 0 or partids[k] >= num_partid:
            return k, 3
        if pmgs[k] < 0 or pmgs[k] >= num_pmg:
            return k, 4
    return -1, 0


def access_lines(
    a: CacheArrays,
    insts: NDArray[np.int64],
    lines: NDArray[np.int64],
    partids: NDArray[np.int64],
    pmgs: NDArray[np.int64],
    writes: NDArray[np.uint8],
    policy: int = LRU,
) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """Run a batch of accesses; per access its result and the written-back line (-1 none).

    The checked front of the kernel: arrays must agree in length, instances and labels be
    in range and line addresses non-negative, since the kernel itself does not look. A
    batch with a bad access is refused whole, before any access changes the caches.
    """
    n = lines.shape[0]
    columns: dict[str, NDArray[np.generic]] = {
        "insts": insts, "lines": lines, "partids": partids, "pmgs": pmgs, "writes": writes
    }  # fmt: skip
    for name, arr in columns.items():
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} entries, lines has {n}")
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise ValueError(f"{name} must be integers, not {arr.dtype}")
    i, x, p, g = (np.ascontiguousarray(c, dtype=np.int64) for c in (insts, lines, partids, pmgs))
    w = np.ascontiguousarray(writes != 0, dtype=np.uint8)
    k, what = _first_bad(len(a.inst), a.num_partid, a.num_pmg, i, x, p, g)
    if k >= 0:
        reason = {
            1: f"instance {i[k]} is outside 0..{len(a.inst) - 1}",
            2: f"line address {x[k]} is negative",
            3: f"PARTID {p[k]} is outside 0..{a.num_partid - 1}",
            4: f"PMG {g[k]} is outside 0..{a.num_pmg - 1}",
        }[what]
        raise ValueError(f"access {k}: {reason}")
    results = np.empty(n, dtype=np.int8)
    writebacks = np.empty(n, dtype=np.int64)
    _access_lines(a.sets, a.inst, a.occ, a.occ_part, a.ctl, a.num_pmg, i, x, p, g, w, policy,
                  results, writebacks, np.empty(2, dtype=np.int64))  # fmt: skip
    return results, writebacks


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

    def _tick(self, rec: NDArray[np.int64], tags: list[int], ways: int) -> int:
        """Advance the set's LRU clock; at CLOCK_LIMIT, stamps become their ranks."""
        now = int(rec[CLOCK]) + 1
        if now >= CLOCK_LIMIT:
            state = rec[TAGS + ways :]
            valid = [w for w in range(ways) if tags[w] >= 0]
            order = sorted(valid, key=lambda w: int(state[w]) & _META)
            for rank, w in enumerate(order, start=1):
                state[w] = (int(state[w]) & ~_META) | rank
            now = len(valid) + 1
        rec[CLOCK] = now
        return now

    def access(self, inst: int, addr: int, partid: int, pmg: int, write: bool) -> tuple[int, int]:
        """(result, written-back line or -1)."""
        a = self.a
        ways = int(a.inst[inst, WAYS])
        rec = a.records(inst)[addr % int(a.inst[inst, SETS])]
        tags = [int(t) for t in rec[TAGS : TAGS + ways]]
        state = rec[TAGS + ways :]
        owner = [-1] * ways
        for w in range(ways):
            if tags[w] >= 0:
                word = int(state[w])
                owner[w] = (word >> _PARTID_SHIFT) * a.num_pmg + ((word >> _PMG_SHIFT) & 0xFF)
        meta = state  # the policy's meta is the low half: see meta_of
        now = self._tick(rec, tags, ways) if self.policy == LRU else 0

        def meta_of(w: int) -> int:
            return int(meta[w]) & _META

        def set_meta(w: int, m: int) -> None:
            meta[w] = (int(meta[w]) & ~_META) | m

        if addr in tags:
            w = tags.index(addr)
            set_meta(w, now if self.policy == LRU else 0)
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
            victim = min(pool, key=lambda w: (meta_of(w), w))
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
        rec[TAGS + victim] = addr
        meta_in = now if self.policy == LRU else _RRPV_INSERT
        state[victim] = (partid << _PARTID_SHIFT) | (pmg << _PMG_SHIFT) | meta_in
        if write:
            rec[DIRTY_WAYS] |= 1 << victim
            a.occ[DIRTY_LINES, inst, label] += 1
        else:
            rec[DIRTY_WAYS] &= ~(1 << victim)
        a.occ[ALL, inst, label] += 1
        a.occ_part[inst, partid] += 1
        return ALLOCATED, written_back
