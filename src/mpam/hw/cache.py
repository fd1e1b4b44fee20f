"""Set-associative caches whose lines carry their owner's (PARTID, PMG) label.

Every cache of the hierarchy (private L1 and L2, shared L2, the system-level cache and its
slices) is one *instance* in a single set of flat arrays, so one Numba kernel serves them
all. A lookup hits anywhere in the set, whoever filled the line. A fill follows the
controls the MSC holds for the requester's PARTID (IHI0099 chapter 5; reference §2.6):

- CPBM: only the ways of the portions the partition may allocate into (portion k covers
  ways [k·W/N, (k+1)·W/N) for N portions and W ways);
- CMAX: at or above its capacity limit, a partition replaces only its own lines (hard), or
  also unallocated lines (SOFTLIM);
- CASSOC: at its limit of ways in this set, it replaces only its own lines;
- victims are taken by the priorities of Table 5-1: unallocated lines, lines of partitions
  over their CMAX, lines of partitions between CMIN and CMAX, and last lines of partitions
  under their CMIN; within a priority the replacement policy chooses (LRU, or SRRIP with
  2-bit re-reference predictions).

Occupancy is counted per instance and label as lines are filled and evicted, so a CSU
monitor's read is a lookup, not a scan. Private caches have no MSC: their controls stay
unrestricted. Controls are decoded from the MSC's PARTID-indexed MPAMCFG arrays at each
tick (`decode_controls`), so the kernels act on exactly what the registers hold.

`ReferenceCache` is the slow, readable twin of the kernel; tests run both on the same
seeded accesses and compare every array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.jit import kernel, njit
from mpam.hw.msc import Msc, RisState
from mpam.hw.regmap import field

__all__ = [
    "ALLOCATED",
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
    "decode_controls",
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


# Rows of the packed arrays the kernels take (few arrays: each array argument of a kernel
# call is passed as several machine words, and a lookup is a handful of instructions).
TAG, META, OWNER, DIRTY = range(4)  # per line
SETS, WAYS, OFF, STAMP, LIMITS = range(5)  # per instance
WAY_MASK, CMAX, CMAX_SOFT, CMIN, CASSOC = range(5)  # per (instance, PARTID)
ALL, DIRTY_LINES = range(2)  # occupancy per (instance, label)


@dataclass
class CacheArrays:
    """The state and controls of every cache instance, packed for the kernels.

    `line` rows are indexed by `off + set * ways + way` (tag: the line address or -1;
    meta: LRU stamp or SRRIP prediction; owner: label PARTID * num_pmg + PMG, or -1;
    dirty). `inst` has each instance's sets, ways, offset, LRU clock and whether any
    capacity limit (CMAX, CMIN, CASSOC) is set, since victims are then chosen by
    Table 5-1's priorities instead of by the policy alone; `occ` counts
    lines per (instance, label), all and dirty; `occ_part` per (instance, PARTID); `ctl`
    holds the controls per (instance, PARTID): allowed ways (bit w = way w), CMAX and
    CMIN in lines, SOFTLIM, CASSOC in ways per set.
    """

    line: NDArray[np.int64]
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
        n = len(geometry)
        inst = np.zeros((n, 5), dtype=np.int64)
        for i, (sets, ways, _) in enumerate(geometry):
            if ways > 62:
                raise ValueError("caches of more than 62 ways are not modelled")
            inst[i, SETS], inst[i, WAYS] = sets, ways
        sizes = inst[:, SETS] * inst[:, WAYS]
        inst[:, OFF] = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        arrays = cls(
            line=np.zeros((4, int(sizes.sum())), dtype=np.int64),
            inst=inst,
            occ=np.zeros((2, n, num_partid * num_pmg), dtype=np.int64),
            occ_part=np.zeros((n, num_partid), dtype=np.int64),
            ctl=np.zeros((5, n, num_partid), dtype=np.int64),
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
        self.inst[inst, LIMITS] = 0

    def lines(self, inst: int) -> int:
        """Lines of instance `inst`."""
        return int(self.inst[inst, SETS] * self.inst[inst, WAYS])

    def invalidate(self) -> None:
        """Every line invalid, every count zero (the caches at power-on)."""
        self.line[TAG] = -1
        self.line[META] = 0
        self.line[OWNER] = -1
        self.line[DIRTY] = 0
        self.inst[:, STAMP] = 0
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
    if f.cpor is not None:
        cpbm = ris.cfg["MPAMCFG_CPBM"][rows]
        arrays.ctl[WAY_MASK, inst, :n] = way_masks(cpbm, f.cpor.cpbm_wd, ways)
    c = f.ccap
    if c is None:
        return
    if "MPAMCFG_CMAX" in ris.cfg:
        words = ris.cfg["MPAMCFG_CMAX"][rows, 0]
        arrays.ctl[CMAX, inst, :n] = np.floor(_max_fraction(words, c.cmax_wd) * lines).astype(
            np.int64
        )
        arrays.ctl[CMAX_SOFT, inst, :n] = (words & np.uint32(_SOFTLIM.mask)) != 0
    if "MPAMCFG_CMIN" in ris.cfg:
        words = ris.cfg["MPAMCFG_CMIN"][rows, 0].astype(np.int64) & _CMIN.mask
        arrays.ctl[CMIN, inst, :n] = (words * lines) >> 16  # min-type: the value as written
    if "MPAMCFG_CASSOC" in ris.cfg:
        words = ris.cfg["MPAMCFG_CASSOC"][rows, 0] & np.uint32(_CASSOC.mask)
        limit = np.floor(_max_fraction(words, c.cassoc_wd) * ways).astype(np.int64)
        arrays.ctl[CASSOC, inst, :n] = np.maximum(limit, 1)
    arrays.inst[inst, LIMITS] = int(
        (arrays.ctl[CMAX, inst] < lines).any()
        or (arrays.ctl[CMIN, inst] > 0).any()
        or (arrays.ctl[CASSOC, inst] < ways).any()
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
def set_base(inst_tab: NDArray[np.int64], inst: int, addr: int) -> int:
    """Index in `line` of way 0 of the set `addr` maps to. Set counts are nearly always
    powers of two, and a mask is an order of magnitude cheaper than a division."""
    sets = inst_tab[inst, SETS]
    index = addr & (sets - 1) if sets & (sets - 1) == 0 else addr % sets
    return int(inst_tab[inst, OFF] + index * inst_tab[inst, WAYS])


@njit
def _priority(
    line: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    inst: int,
    i: int,
    num_pmg: int,
) -> int:
    """Victim priority of line `i` (Table 5-1; lower goes first)."""
    if line[TAG, i] < 0:
        return 0
    q = line[OWNER, i] // num_pmg
    if occ_part[inst, q] > ctl[CMAX, inst, q]:
        return 2
    if occ_part[inst, q] <= ctl[CMIN, inst, q]:
        return 4
    return 3


@njit
def _victim(
    line: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    inst: int,
    base: int,
    ways: int,
    candidates: int,
    num_pmg: int,
    policy: int,
) -> int:
    """The way to replace among `candidates` (a way bitmask): lowest Table 5-1 priority
    first, then the replacement policy; -1 when there is no candidate."""
    best_prio = 5
    for w in range(ways):
        if (candidates >> w) & 1:
            prio = _priority(line, occ_part, ctl, inst, base + w, num_pmg)
            if prio == 0:
                return w  # the first unallocated way
            best_prio = min(best_prio, prio)
    if best_prio == 5:
        return -1
    while True:
        victim = -1
        best = 0
        for w in range(ways):
            if not (candidates >> w) & 1:
                continue
            i = base + w
            if _priority(line, occ_part, ctl, inst, i, num_pmg) != best_prio:
                continue
            m = line[META, i]
            if policy == LRU:
                if victim < 0 or m < best:
                    victim, best = w, m
            elif m >= _RRPV_MAX:
                return w
            elif victim < 0 or m > best:
                victim, best = w, m
        if policy == LRU:
            return victim
        # SRRIP: age this priority's lines until one is predicted re-referenced last.
        for w in range(ways):
            i = base + w
            if (candidates >> w) & 1 and _priority(
                line, occ_part, ctl, inst, i, num_pmg
            ) == best_prio:
                line[META, i] += _RRPV_MAX - best


@njit
def cache_fill(
    line: NDArray[np.int64],
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
    """The miss half of `cache_access`: allocate `addr` if the controls allow."""
    ways = inst_tab[inst, WAYS]
    base = set_base(inst_tab, inst, addr)
    candidates = ctl[WAY_MASK, inst, partid]
    if not inst_tab[inst, LIMITS]:
        # No capacity limits: the first unallocated allowed way, else the policy's choice.
        w = -1
        best = 0
        for v in range(ways):
            if not (candidates >> v) & 1:
                continue
            i = base + v
            if line[TAG, i] < 0:
                w = v
                break
            m = line[META, i]
            if policy == LRU:
                if w < 0 or m < best:
                    w, best = v, m
            elif w < 0 or m > best:
                w, best = v, m
        if w >= 0 and policy != LRU and line[TAG, base + w] >= 0 and best < _RRPV_MAX:
            for v in range(ways):
                if (candidates >> v) & 1:
                    line[META, base + v] += _RRPV_MAX - best
        return _install(line, inst_tab, occ, occ_part, num_pmg, inst, base, w, addr,
                        partid, pmg, write, policy, evicted)  # fmt: skip
    own = 0
    in_set = 0
    invalid = 0
    for w in range(ways):
        i = base + w
        if line[TAG, i] < 0:
            invalid |= 1 << w
        elif line[OWNER, i] // num_pmg == partid:
            own |= 1 << w
            in_set += 1
    if in_set >= ctl[CASSOC, inst, partid]:
        candidates &= own
    elif occ_part[inst, partid] >= ctl[CMAX, inst, partid]:
        if ctl[CMAX_SOFT, inst, partid]:
            candidates &= own | invalid
        else:
            candidates &= own
    w = _victim(line, occ_part, ctl, inst, base, ways, candidates, num_pmg, policy)
    return _install(line, inst_tab, occ, occ_part, num_pmg, inst, base, w, addr, partid,
                    pmg, write, policy, evicted)  # fmt: skip


@njit
def _install(
    line: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    num_pmg: int,
    inst: int,
    base: int,
    w: int,
    addr: int,
    partid: int,
    pmg: int,
    write: bool,
    policy: int,
    evicted: NDArray[np.int64],
) -> int:
    """Replace way `w` of the set at `base` (-1: nothing to replace) with `addr`."""
    if w < 0:
        return NOT_ALLOCATED
    i = base + w
    if line[TAG, i] >= 0:
        old = line[OWNER, i]
        occ[ALL, inst, old] -= 1
        occ_part[inst, old // num_pmg] -= 1
        if line[DIRTY, i]:
            occ[DIRTY_LINES, inst, old] -= 1
            evicted[0] = line[TAG, i]
            evicted[1] = old
    label = partid * num_pmg + pmg
    line[TAG, i] = addr
    line[OWNER, i] = label
    line[DIRTY, i] = 1 if write else 0
    line[META, i] = inst_tab[inst, STAMP] if policy == LRU else _RRPV_INSERT
    occ[ALL, inst, label] += 1
    occ_part[inst, partid] += 1
    if write:
        occ[DIRTY_LINES, inst, label] += 1
    return ALLOCATED


@njit
def cache_lookup(line: NDArray[np.int64], inst_tab: NDArray[np.int64], inst: int, addr: int) -> int:
    """Where `addr` is held in instance `inst` (its index in `line`), or -1: a lookup that
    changes nothing, so a caller can ask before committing to an access."""
    ways = inst_tab[inst, WAYS]
    base = set_base(inst_tab, inst, addr)
    for w in range(ways):
        if line[TAG, base + w] == addr:
            return int(base + w)
    return -1


@njit
def cache_access(
    line: NDArray[np.int64],
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
    evicted[0] = -1
    inst_tab[inst, STAMP] += 1
    i = cache_lookup(line, inst_tab, inst, addr)
    if i >= 0:
        line[META, i] = inst_tab[inst, STAMP] if policy == LRU else 0
        if write and not line[DIRTY, i]:
            line[DIRTY, i] = 1
            occ[DIRTY_LINES, inst, line[OWNER, i]] += 1
        return HIT
    return cache_fill(line, inst_tab, occ, occ_part, ctl, num_pmg, inst, addr, partid, pmg,
                      write, policy, evicted)  # fmt: skip


@kernel
def _access_lines(
    line: NDArray[np.int64],
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
    for k in range(addrs.shape[0]):
        results[k] = cache_access(line, inst_tab, occ, occ_part, ctl, num_pmg, insts[k],
                                  addrs[k], partids[k], pmgs[k], writes[k] != 0, policy,
                                  evicted)  # fmt: skip
        writebacks[k] = evicted[0]


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

    The checked front of the kernel: arrays must agree in length and labels must be in
    range, since the kernel itself does not look.
    """
    n = lines.shape[0]
    for name, arr in (("insts", insts), ("partids", partids), ("pmgs", pmgs), ("writes", writes)):
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} entries, lines has {n}")
    if n and (int(partids.max()) >= a.num_partid or int(partids.min()) < 0):
        raise ValueError(f"a PARTID is outside 0..{a.num_partid - 1}")
    if n and (int(pmgs.max()) >= a.num_pmg or int(pmgs.min()) < 0):
        raise ValueError(f"a PMG is outside 0..{a.num_pmg - 1}")
    if n and (int(insts.max()) >= len(a.inst) or int(insts.min()) < 0):
        raise ValueError("an instance index is out of range")
    if n and int(lines.min()) < 0:
        raise ValueError("line addresses are non-negative")
    results = np.empty(n, dtype=np.int8)
    writebacks = np.empty(n, dtype=np.int64)
    _access_lines(
        a.line, a.inst, a.occ, a.occ_part, a.ctl, a.num_pmg, insts.astype(np.int64),
        lines.astype(np.int64), partids.astype(np.int64), pmgs.astype(np.int64),
        writes.astype(np.uint8), policy, results, writebacks, np.empty(2, dtype=np.int64),
    )  # fmt: skip
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

    def _priority(self, inst: int, i: int) -> int:
        a = self.a
        if a.line[TAG, i] < 0:
            return 0
        q = int(a.line[OWNER, i]) // a.num_pmg
        used = a.occ_part[inst, q]
        if used > a.ctl[CMAX, inst, q]:
            return 2
        return 4 if used <= a.ctl[CMIN, inst, q] else 3

    def access(self, inst: int, addr: int, partid: int, pmg: int, write: bool) -> tuple[int, int]:
        """(result, written-back line or -1)."""
        a = self.a
        tag, meta, owner, dirty = a.line
        ways = int(a.inst[inst, WAYS])
        base = int(a.inst[inst, OFF] + (addr % a.inst[inst, SETS]) * ways)
        slots = range(base, base + ways)
        label = partid * a.num_pmg + pmg
        a.inst[inst, STAMP] += 1
        now = a.inst[inst, STAMP]
        for i in slots:
            if tag[i] == addr:
                meta[i] = now if self.policy == LRU else 0
                if write and not dirty[i]:
                    dirty[i] = 1
                    a.occ[DIRTY_LINES, inst, owner[i]] += 1
                return HIT, -1
        allowed = [i for i in slots if a.ctl[WAY_MASK, inst, partid] >> (i - base) & 1]
        own = [i for i in slots if tag[i] >= 0 and owner[i] // a.num_pmg == partid]
        if len(own) >= a.ctl[CASSOC, inst, partid]:
            allowed = [i for i in allowed if i in own]
        elif a.occ_part[inst, partid] >= a.ctl[CMAX, inst, partid]:
            soft = bool(a.ctl[CMAX_SOFT, inst, partid])
            allowed = [i for i in allowed if i in own or (soft and tag[i] < 0)]
        if not allowed:
            return NOT_ALLOCATED, -1
        prio = min(self._priority(inst, i) for i in allowed)
        pool = [i for i in allowed if self._priority(inst, i) == prio]
        if prio == 0:
            victim = pool[0]
        elif self.policy == LRU:
            victim = min(pool, key=lambda i: (meta[i], i))
        else:
            while not any(meta[i] >= _RRPV_MAX for i in pool):
                top = max(int(meta[i]) for i in pool)
                for i in pool:
                    meta[i] += _RRPV_MAX - top
            victim = next(i for i in pool if meta[i] >= _RRPV_MAX)
        written_back = -1
        if tag[victim] >= 0:
            old = int(owner[victim])
            a.occ[ALL, inst, old] -= 1
            a.occ_part[inst, old // a.num_pmg] -= 1
            if dirty[victim]:
                a.occ[DIRTY_LINES, inst, old] -= 1
                written_back = int(tag[victim])
        tag[victim] = addr
        owner[victim] = label
        dirty[victim] = int(write)
        meta[victim] = now if self.policy == LRU else _RRPV_INSERT
        a.occ[ALL, inst, label] += 1
        a.occ_part[inst, partid] += 1
        if write:
            a.occ[DIRTY_LINES, inst, label] += 1
        return ALLOCATED, written_back
