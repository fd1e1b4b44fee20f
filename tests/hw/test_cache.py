"""Owner-tagged caches (IHI0099 chapter 5 and its CPBM, CMAX, CMIN and CASSOC controls): the
Numba kernel against its readable twin, the controls' rules one at a time, and decoding from
MSC registers.

Caches are real `CacheArrays`; MSCs are built from the rdn2 preset (or a one-MSC TOML, see
conftest.py) and programmed through MMIO with offsets from `mpam.hw.regmap`. Property tests
run both the kernel (`access_lines`, `cache_access`) and `ReferenceCache`, so each rule is
checked against the specification and not only against the other implementation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from mpam.hw import build
from mpam.hw.cache import (
    ALL,
    ALLOCATED,
    CASSOC,
    CMAX,
    CMAX_SOFT,
    CMIN,
    DIRTY_LINES,
    DISABLED,
    HIT,
    LIMITS,
    LRU,
    NOT_ALLOCATED,
    SETS,
    SRRIP,
    WAY_MASK,
    WAYS,
    CacheArrays,
    CacheView,
    ReferenceCache,
    access_lines,
    cache_access,
    decode_controls,
    recency_order,
    store_recency_order,
    way_masks,
)
from mpam.hw.msc import Msc
from mpam.hw.regmap import field_get, field_prep, reg
from mpam.platform import load

MakeMsc = Callable[..., Msc]
Access = tuple[int, int, int, int, int]  # instance, line address, PARTID, PMG, write

NUM_PARTID, NUM_PMG = 4, 2
#: two small instances with different line sizes: (sets, ways, line bytes)
GEOMETRY = [(4, 8, 64), (2, 4, 128)]
#: 16 ways, the widest of 4-bit recency places; more than 16: (2, 20) and (1, 33)
SIXTEEN = [(2, 16, 64), (1, 16, 128)]
WIDE = [(2, 20, 64), (1, 33, 64)]
POLICY = pytest.mark.parametrize("policy", [LRU, SRRIP], ids=["lru", "srrip"])
IMPL = pytest.mark.parametrize("impl", ["kernel", "reference"])
SEEDED = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- helpers --------------------------------------------------------------------------------


def fresh(geometry: Sequence[tuple[int, int, int]] = GEOMETRY) -> CacheArrays:
    return CacheArrays.build(list(geometry), NUM_PARTID, NUM_PMG)


def limits_rule(a: CacheArrays, inst: int) -> int:
    """LIMITS as `decode_controls` sets it: any CMAX below the instance's lines, any CMIN
    above zero or any CASSOC below its ways."""
    lines, ways = a.lines(inst), int(a.inst[inst, WAYS])
    return int(
        bool((a.ctl[CMAX, inst] < lines).any())
        or bool((a.ctl[CMIN, inst] > 0).any())
        or bool((a.ctl[CASSOC, inst] < ways).any())
        or bool((a.ctl[DISABLED, inst] != 0).any())
    )


def set_controls(a: CacheArrays, inst: int, partid: int, **ctl: int) -> None:
    """Set some controls of one (instance, PARTID) and recompute LIMITS by the rule."""
    rows = {"mask": WAY_MASK, "cmax": CMAX, "soft": CMAX_SOFT, "cmin": CMIN, "cassoc": CASSOC,
            "disabled": DISABLED}  # fmt: skip
    for name, value in ctl.items():
        a.ctl[rows[name], inst, partid] = value
    a.inst[inst, LIMITS] = limits_rule(a, inst)


def random_controls(a: CacheArrays, rng: np.random.Generator, limited: Sequence[bool]) -> None:
    """Random controls per (instance, PARTID): way masks (full, restricted or empty) always;
    CMAX (hard or soft), CMIN, CASSOC and disabled PARTIDs only on the instances marked
    `limited`, with at least one limit each so that the kernel takes its Table 5-1 path
    there."""
    for i in range(len(a.inst)):
        a.unrestrict(i)
        ways, lines = int(a.inst[i, WAYS]), a.lines(i)
        full = (1 << ways) - 1
        for p in range(a.num_partid):
            r = rng.random()
            a.ctl[WAY_MASK, i, p] = full if r < 0.45 else (0 if r < 0.55 else rng.integers(1, full))
            if not limited[i]:
                continue
            if rng.random() < 0.6:
                a.ctl[CMAX, i, p] = rng.integers(0, lines + 1)
                a.ctl[CMAX_SOFT, i, p] = rng.integers(0, 2)
            if rng.random() < 0.4:
                a.ctl[CMIN, i, p] = rng.integers(1, lines + 1)
            if rng.random() < 0.4:
                a.ctl[CASSOC, i, p] = rng.integers(1, ways + 1)
            if rng.random() < 0.15:  # as decode_controls leaves a disabled PARTID
                a.ctl[[WAY_MASK, CMAX, CMIN, CASSOC], i, p] = 0
                a.ctl[DISABLED, i, p] = 1
        if limited[i] and not limits_rule(a, i):
            a.ctl[CMAX, i, rng.integers(a.num_partid)] = rng.integers(0, lines)
        a.inst[i, LIMITS] = limits_rule(a, i)
        assert a.inst[i, LIMITS] == int(limited[i])


def random_accesses(a: CacheArrays, rng: np.random.Generator, n: int, span: int) -> list[Access]:
    """`n` accesses to line addresses 0..span-1 by random labels, about a third writes."""
    insts = rng.integers(0, len(a.inst), n)
    addrs = rng.integers(0, span, n)
    partids = rng.integers(0, a.num_partid, n)
    pmgs = rng.integers(0, a.num_pmg, n)
    writes = (rng.random(n) < 0.35).astype(int)
    return [
        (int(i), int(x), int(p), int(g), int(w))
        for i, x, p, g, w in zip(insts, addrs, partids, pmgs, writes, strict=True)
    ]


def columns(accesses: Sequence[Access]) -> tuple[NDArray[np.int64], ...]:
    cols = np.array(accesses, dtype=np.int64).reshape(-1, 5).T
    return cols[0], cols[1], cols[2], cols[3], cols[4].astype(np.uint8)


def run(
    a: CacheArrays, accesses: Sequence[Access], policy: int = LRU, impl: str = "kernel"
) -> tuple[list[int], list[int]]:
    """Results and written-back lines of `accesses`, by the kernel or by the twin."""
    if impl == "kernel":
        results, rows = access_lines(a, *columns(accesses), policy=policy)
        writebacks = [-1] * len(accesses)
        for k, line in rows.tolist():
            writebacks[k] = line
        return [int(r) for r in results], writebacks
    ref = ReferenceCache(a, policy)
    out = [ref.access(i, x, p, g, bool(w)) for i, x, p, g, w in accesses]
    return [r for r, _ in out], [w for _, w in out]


def where(a: CacheArrays, inst: int, addr: int) -> int:
    """The way holding line `addr` in `inst`, or -1."""
    row = a.tags(inst)[addr % int(a.inst[inst, SETS])].tolist()
    return row.index(addr) if addr in row else -1


def all_tags(a: CacheArrays) -> NDArray[np.int64]:
    """Every line's tag, all instances."""
    return np.concatenate([a.tags(i).ravel() for i in range(len(a.inst))])


def recount(a: CacheArrays) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Occupancy (all, dirty) per (instance, label) and per (instance, PARTID), counted
    from the lines."""
    occ = np.zeros_like(a.occ)
    part = np.zeros_like(a.occ_part)
    for i in range(len(a.inst)):
        owners, dirty = a.owners(i).ravel(), a.dirty(i).ravel()
        for label, d in zip(owners, dirty, strict=True):
            if label < 0:
                continue
            occ[ALL, i, label] += 1
            occ[DIRTY_LINES, i, label] += int(d)
            part[i, label // a.num_pmg] += 1
    return occ, part


def owned_in_set(a: CacheArrays, inst: int, s: int, partid: int) -> int:
    return sum(1 for label in a.owners(inst)[s] if label >= 0 and label // a.num_pmg == partid)


# -- 1. the kernel and its twin -------------------------------------------------------------


@POLICY
@pytest.mark.parametrize("mode", ["none", "all", "mixed"])
@pytest.mark.parametrize("geometry", [GEOMETRY, SIXTEEN, WIDE], ids=["narrow", "16", "wide"])
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 2**32 - 1),
    phases=st.lists(st.integers(20, 150), min_size=1, max_size=3),
    span=st.integers(1, 80),
)
def test_kernel_matches_reference(
    policy: int,
    mode: str,
    geometry: list[tuple[int, int, int]],
    seed: int,
    phases: list[int],
    span: int,
) -> None:
    """Same seeded accesses, same controls (redrawn between phases, as software reprograms
    an MSC): identical results, write-backs and every array. "none" runs the kernel's
    fast path (LIMITS 0 everywhere, way masks still restricted), "all" its Table 5-1 path,
    "mixed" one of each. Widths 4, 8 and 16 run kernels compiled for their width; "wide"
    caches have recency stacks of 8-bit places over several words."""
    rng = np.random.default_rng(seed)
    a = fresh(geometry)
    b = copy.deepcopy(a)
    limited = {"none": [False, False], "all": [True, True], "mixed": [False, True]}[mode]
    ref = ReferenceCache(b, policy)
    for n in phases:
        random_controls(a, rng, limited)
        b.ctl[:] = a.ctl
        b.inst[:, LIMITS] = a.inst[:, LIMITS]
        accesses = random_accesses(a, rng, n, span)
        results, writebacks = run(a, accesses, policy)
        expected = [ref.access(i, x, p, g, bool(w)) for i, x, p, g, w in accesses]
        assert results == [r for r, _ in expected]
        assert writebacks == [w for _, w in expected]
        for name in ("sets", "inst", "occ", "occ_part", "ctl"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("mode", ["none", "all"])
def test_twin_sequences_reach_every_outcome(mode: str) -> None:
    """The random sequences of the twin test hit, allocate, find no way and write back."""
    rng = np.random.default_rng(7)
    a = fresh()
    seen: set[int] = set()
    writebacks = 0
    for _ in range(3):
        random_controls(a, rng, [mode == "all"] * 2)
        results, wb = run(a, random_accesses(a, rng, 150, 40))
        seen |= set(results)
        writebacks += sum(w >= 0 for w in wb)
    assert seen == {HIT, ALLOCATED, NOT_ALLOCATED}
    assert writebacks > 0


@IMPL
def test_lru_victims_follow_the_recency_stack(impl: str) -> None:
    """Hits and fills move their way to the front of the set's recency stack, and the
    next victims are the least recently used lines, in order."""
    a = fresh([(1, 4, 64)])
    run(a, [(0, x, 0, 0, 0) for x in (10, 11, 12, 13)], LRU, impl)  # ways 0, 1, 2, 3
    run(a, [(0, 11, 0, 0, 0), (0, 10, 0, 0, 0)], LRU, impl)  # recency: 10 11 13 12
    assert a.recency(0)[0].tolist() == [0, 1, 3, 2]
    assert recency_order(a.records(0)[0], 4) == [0, 1, 3, 2]
    evicted = []
    for x in (20, 21, 22, 23):
        before = set(a.tags(0)[0].tolist())
        run(a, [(0, x, 0, 0, 0)], LRU, impl)
        evicted += sorted(before - set(a.tags(0)[0].tolist()))
    assert evicted == [12, 13, 11, 10]


@IMPL
def test_srrip_fills_keep_free_ways_least_recent(impl: str) -> None:
    """The same arrays run under SRRIP, then LRU: SRRIP fills also move their way to the
    front of the recency stack, so the LRU fill after them takes a free way."""
    a = fresh([(1, 4, 64)])
    run(a, [(0, 10, 0, 0, 0)], SRRIP, impl)
    run(a, [(0, 11, 0, 0, 0)], LRU, impl)
    assert a.tags(0)[0].tolist() == [10, 11, -1, -1]


@IMPL
@pytest.mark.parametrize("ways", [5, 16, 17, 24, 62])
def test_lru_order_of_any_width(impl: str, ways: int) -> None:
    """Stacks of 4-bit places (up to 16 ways) and of 8-bit places in several words (up
    to 62): power-on fills way 0 first, and after the lines are touched in a shuffled
    order, the victims come in that order."""
    a = fresh([(1, ways, 64)])
    assert recency_order(a.records(0)[0], ways) == list(range(ways - 1, -1, -1))
    run(a, [(0, 100 + x, 0, 0, 0) for x in range(ways)], LRU, impl)
    assert a.tags(0)[0].tolist() == [100 + x for x in range(ways)]
    touched = np.random.default_rng(ways).permutation(ways).tolist()
    run(a, [(0, 100 + x, 0, 0, 0) for x in touched], LRU, impl)
    assert a.recency(0)[0].tolist() == [ways - 1 - touched.index(w) for w in range(ways)]
    evicted = []
    for x in range(ways):
        before = set(a.tags(0)[0].tolist())
        run(a, [(0, 1000 + x, 0, 0, 0)], LRU, impl)
        evicted += sorted(before - set(a.tags(0)[0].tolist()))
    assert evicted == [100 + w for w in touched]


# -- 2. the rules of the controls -----------------------------------------------------------


@IMPL
@POLICY
def test_hit_for_any_label_wherever_the_line_is(impl: str, policy: int) -> None:
    """A lookup hits whoever filled the line and whatever the requester's controls: the
    line keeps its owner, and a write makes it dirty under the owner's label."""
    a = fresh()
    set_controls(a, 0, 0, mask=1 << 7)
    assert run(a, [(0, 5, 0, 1, 0)], policy, impl)[0] == [ALLOCATED]
    assert where(a, 0, 5) == 7
    # PARTID 3 may allocate nowhere but way 0, and nothing at all by its capacity.
    set_controls(a, 0, 3, mask=1 << 0, cmax=0, cassoc=1)
    occ, part = a.occ.copy(), a.occ_part.copy()
    assert run(a, [(0, 5, 3, 1, 0), (0, 5, 2, 0, 1)], policy, impl)[0] == [HIT, HIT]
    assert where(a, 0, 5) == 7
    assert a.owners(0)[5 % 4, 7] == 0 * NUM_PMG + 1
    assert a.dirty(0)[5 % 4, 7]
    np.testing.assert_array_equal(a.occ[ALL], occ[ALL])
    np.testing.assert_array_equal(a.occ_part, part)
    assert a.occ[DIRTY_LINES, 0, 1] == 1  # the owner's label, not the writer's
    assert a.occ[DIRTY_LINES, 0].sum() == 1


@IMPL
@POLICY
@SEEDED
@given(seed=st.integers(0, 2**32 - 1), limited=st.booleans())
def test_fills_go_only_to_allowed_ways(impl: str, policy: int, seed: int, limited: bool) -> None:
    rng = np.random.default_rng(seed)
    a = fresh()
    random_controls(a, rng, [limited, limited])
    for acc in random_accesses(a, rng, 150, 40):
        inst, addr, partid, _, _ = acc
        (result,), _ = run(a, [acc], policy, impl)
        if result == ALLOCATED:
            assert (a.ctl[WAY_MASK, inst, partid] >> where(a, inst, addr)) & 1
        elif result == NOT_ALLOCATED:
            assert where(a, inst, addr) == -1


@IMPL
@POLICY
@SEEDED
@given(seed=st.integers(0, 2**32 - 1), cmax=st.integers(0, 6))
def test_hard_cmax_replaces_only_own_lines(impl: str, policy: int, seed: int, cmax: int) -> None:
    """At its hard CMAX a partition replaces only its own lines: its occupancy never goes
    above CMAX, and its misses there take no line from anybody else."""
    rng = np.random.default_rng(seed)
    a = fresh([(1, 8, 64)])
    set_controls(a, 0, 0, cmax=cmax, soft=0)
    for acc in random_accesses(a, rng, 150, 24):
        partid = acc[2]
        before = a.occ_part[0].copy()
        (result,), _ = run(a, [acc], policy, impl)
        assert a.occ_part[0, 0] <= cmax
        if partid == 0 and result != HIT and before[0] >= cmax:
            np.testing.assert_array_equal(a.occ_part[0, 1:], before[1:])
            assert result == (ALLOCATED if before[0] > 0 else NOT_ALLOCATED)


@IMPL
@POLICY
@SEEDED
@given(seed=st.integers(0, 2**32 - 1))
def test_cmax_lowered_after_warm_up(impl: str, policy: int, seed: int) -> None:
    """A partition over a newly lowered hard CMAX never grows; it shrinks as others evict
    its lines first (Table 5-1: over CMAX before between CMIN and CMAX), and once at or
    below CMAX it stays there."""
    rng = np.random.default_rng(seed)
    a = fresh([(1, 8, 64)])
    run(a, [(0, x, 0, 0, 0) for x in range(6)], policy, impl)
    assert a.occ_part[0, 0] == 6
    set_controls(a, 0, 0, cmax=3)
    low = False
    for acc in random_accesses(a, rng, 150, 24):
        before = int(a.occ_part[0, 0])
        full = bool((all_tags(a) >= 0).all())
        (result,), _ = run(a, [acc], policy, impl)
        now = int(a.occ_part[0, 0])
        assert now <= max(before, 3)
        if acc[2] != 0 and result == ALLOCATED and full and before > 3:
            assert now == before - 1  # the victim was a line over CMAX
        low = low or now <= 3
        if low:
            assert now <= 3
    assert low


@IMPL
@POLICY
def test_soft_cmax_also_takes_unallocated_lines(impl: str, policy: int) -> None:
    a = fresh([(1, 8, 64)])
    set_controls(a, 0, 0, cmax=2, soft=1)
    assert run(a, [(0, x, 0, 0, 0) for x in range(5)], policy, impl)[0] == [ALLOCATED] * 5
    assert a.occ_part[0, 0] == 5  # over CMAX, into unallocated lines
    run(a, [(0, x, 1, 0, 0) for x in range(10, 13)], policy, impl)
    assert a.occ_part[0].tolist() == [5, 3, 0, 0]  # the cache is full
    # With no unallocated line left, partition 0 replaces only its own lines.
    assert run(a, [(0, x, 0, 0, 0) for x in range(20, 30)], policy, impl)[0] == [ALLOCATED] * 10
    assert a.occ_part[0].tolist() == [5, 3, 0, 0]
    # Partition 1 evicts the lines over CMAX first, then competes with the rest by policy.
    run(a, [(0, 40, 1, 0, 0), (0, 41, 1, 0, 0), (0, 42, 1, 0, 0)], policy, impl)
    assert a.occ_part[0].tolist() == [2, 6, 0, 0]


@IMPL
@POLICY
def test_hard_cmax_leaves_unallocated_lines(impl: str, policy: int) -> None:
    a = fresh([(1, 8, 64)])
    set_controls(a, 0, 0, cmax=2, soft=0)
    assert run(a, [(0, x, 0, 0, 0) for x in range(5)], policy, impl)[0] == [ALLOCATED] * 5
    assert a.occ_part[0, 0] == 2
    assert int((all_tags(a) < 0).sum()) == 6


@IMPL
@POLICY
@SEEDED
@given(seed=st.integers(0, 2**32 - 1), cassoc=st.integers(1, 7))
def test_cassoc_caps_lines_per_set(impl: str, policy: int, seed: int, cassoc: int) -> None:
    rng = np.random.default_rng(seed)
    a = fresh([(4, 8, 64)])
    set_controls(a, 0, 0, cassoc=cassoc)
    for acc in random_accesses(a, rng, 150, 64):
        run(a, [acc], policy, impl)
        for s in range(4):
            assert owned_in_set(a, 0, s, 0) <= cassoc
    # Alone in a clean cache, the partition stops at CASSOC ways of every set.
    b = fresh([(4, 8, 64)])
    set_controls(b, 0, 0, cassoc=cassoc)
    run(b, [(0, x, 0, 0, 0) for x in range(64)], policy, impl)
    assert [owned_in_set(b, 0, s, 0) for s in range(4)] == [cassoc] * 4
    assert int((all_tags(b) < 0).sum()) == 4 * (8 - cassoc)


@IMPL
@POLICY
def test_victims_follow_table_5_1(impl: str, policy: int) -> None:
    """Unallocated lines go first, then lines over CMAX, then lines between CMIN and CMAX,
    and last the lines of a partition at or under its CMIN, whatever the policy prefers."""
    a = fresh([(1, 4, 64)])
    run(a, [(0, 0, 0, 0, 0), (0, 1, 0, 0, 0), (0, 2, 1, 0, 0)], policy, impl)
    p0 = [where(a, 0, 0), where(a, 0, 1)]
    set_controls(a, 0, 0, cmin=2)  # partition 0 is protected
    set_controls(a, 0, 1, cmax=0)  # partition 1 is over its CMAX
    run(a, [(0, 2, 1, 0, 0)], policy, impl)  # the most recently used line
    # 0: the unallocated way, though a line over CMAX is there.
    assert run(a, [(0, 10, 3, 0, 0)], policy, impl)[0] == [ALLOCATED]
    assert sorted(all_tags(a).tolist()) == [0, 1, 2, 10]
    # 2: the line over CMAX, though partition 0's lines are the least recently used.
    run(a, [(0, 11, 3, 0, 0)], policy, impl)
    assert sorted(all_tags(a).tolist()) == [0, 1, 10, 11]
    # 3: partition 3's own lines, between CMIN and CMAX; partition 0's stay.
    for x in range(12, 20):
        run(a, [(0, x, 3, 0, 0)], policy, impl)
        assert where(a, 0, 0) >= 0 and where(a, 0, 1) >= 0
    assert a.occ_part[0].tolist() == [2, 0, 0, 2]
    # 4: the protected lines, when they are all that the way mask leaves.
    set_controls(a, 0, 3, mask=(1 << p0[0]) | (1 << p0[1]))
    assert run(a, [(0, 30, 3, 0, 0)], policy, impl)[0] == [ALLOCATED]
    assert a.occ_part[0].tolist() == [1, 0, 0, 3]
    if policy == LRU:
        assert where(a, 0, 0) == -1  # the least recently used of the two


def test_dirty_eviction_reports_line_and_owner() -> None:
    """`cache_access` reports a dirty victim's address and owner label (the write-back the
    channel carries); a clean victim reports nothing."""
    a = fresh([(1, 2, 64)])
    ev = np.zeros(2, dtype=np.int64)

    def access(addr: int, partid: int, pmg: int, write: bool) -> int:
        result = cache_access(a.sets, a.inst, a.occ, a.occ_part, a.ctl, a.num_pmg, 0, addr,
                              partid, pmg, write, LRU, ev)  # fmt: skip
        return int(result)

    assert access(7, 2, 1, False) == ALLOCATED  # owner 2.1, clean
    assert access(8, 1, 0, False) == ALLOCATED
    assert access(7, 3, 0, True) == HIT  # dirtied by another label: still 2.1's line
    owner = 2 * NUM_PMG + 1
    assert a.occ[DIRTY_LINES, 0, owner] == 1
    assert access(8, 1, 0, False) == HIT  # 7 is now the least recently used
    assert ev[0] == -1
    assert access(9, 0, 0, False) == ALLOCATED
    assert ev.tolist() == [7, owner]
    assert a.occ[DIRTY_LINES, 0].sum() == 0
    assert access(10, 0, 0, True) == ALLOCATED  # evicts 8, clean
    assert ev[0] == -1
    # The batch kernel and the twin report the same write-backs, by line address.
    for impl in ("kernel", "reference"):
        b = fresh([(1, 2, 64)])
        _, wb = run(b, [(0, 1, 0, 0, 1), (0, 2, 1, 1, 0), (0, 3, 2, 0, 0), (0, 4, 2, 0, 0)],
                    LRU, impl)  # fmt: skip
        assert wb == [-1, -1, 1, -1]


@IMPL
@POLICY
@SEEDED
@given(seed=st.integers(0, 2**32 - 1), limited=st.booleans())
def test_occupancy_counts_match_the_lines(impl: str, policy: int, seed: int, limited: bool) -> None:
    rng = np.random.default_rng(seed)
    a = fresh()
    for _ in range(3):
        random_controls(a, rng, [limited, True])
        run(a, random_accesses(a, rng, 120, 48), policy, impl)
        occ, part = recount(a)
        np.testing.assert_array_equal(a.occ, occ)
        np.testing.assert_array_equal(a.occ_part, part)


@IMPL
@pytest.mark.parametrize("limits", [False, True], ids=["fast-path", "table-5-1"])
def test_not_allocated_when_no_way_is_allowed(impl: str, limits: bool) -> None:
    a = fresh()
    if limits:
        set_controls(a, 0, 2, cmin=1)
    assert a.inst[0, LIMITS] == int(limits)
    run(a, [(0, x, 1, 0, 1) for x in range(8)], LRU, impl)
    set_controls(a, 0, 0, mask=0)
    sets, occ, part = a.sets.copy(), a.occ.copy(), a.occ_part.copy()
    assert run(a, [(0, 100, 0, 0, 1), (0, 3, 0, 0, 0)], LRU, impl)[0] == [NOT_ALLOCATED, HIT]
    # The refused access changed nothing; the hit made line 3 the most recent.
    b = copy.deepcopy(a)
    b.sets[:] = sets
    record = b.records(0)[3 % 4]
    order = recency_order(record, 8)
    order.remove(where(a, 0, 3))
    store_recency_order(record, 8, [where(a, 0, 3), *order])
    np.testing.assert_array_equal(a.sets, b.sets)
    np.testing.assert_array_equal(a.occ, occ)
    np.testing.assert_array_equal(a.occ_part, part)


@IMPL
def test_not_allocated_when_limits_leave_no_way(impl: str) -> None:
    a = fresh([(1, 4, 64)])
    set_controls(a, 0, 0, cmax=0)  # hard, owns nothing
    assert run(a, [(0, 1, 0, 0, 0)], LRU, impl)[0] == [NOT_ALLOCATED]
    # At its CASSOC limit, with its own line outside the ways it may now use.
    set_controls(a, 0, 1, cassoc=1)
    assert run(a, [(0, 2, 1, 0, 0)], LRU, impl)[0] == [ALLOCATED]
    set_controls(a, 0, 1, mask=0b1111 & ~(1 << where(a, 0, 2)))
    assert run(a, [(0, 3, 1, 0, 0)], LRU, impl)[0] == [NOT_ALLOCATED]
    assert a.occ_part[0].tolist() == [0, 1, 0, 0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ((2, 5, 0, 0, 0), "access 1: instance 2 is outside 0..1"),
        ((0, -5, 0, 0, 0), "access 1: line address -5 is negative"),
        ((0, 5, 4, 0, 0), "access 1: PARTID 4 is outside 0..3"),
        ((1, 5, 0, -1, 0), "access 1: PMG -1 is outside 0..1"),
    ],
)
def test_access_lines_refuses_a_bad_batch_whole(bad: Access, message: str) -> None:
    """The checked front names the first access the kernel cannot take, and the accesses
    before it do not happen either."""
    a = fresh()
    run(a, [(0, x, 1, 0, 1) for x in range(6)])
    before = copy.deepcopy(a)
    with pytest.raises(ValueError, match=f"^{message}$"):
        run(a, [(0, 40, 2, 1, 1), bad, (0, 41, 2, 1, 0)])
    for name in ("sets", "occ", "occ_part"):
        np.testing.assert_array_equal(getattr(a, name), getattr(before, name), err_msg=name)
    i, x, p, g, w = columns([(0, 1, 0, 0, 0), (0, 2, 0, 0, 0)])
    with pytest.raises(ValueError, match=r"^pmgs has 1 entries, lines has 2$"):
        access_lines(a, i, x, p, np.zeros(1, dtype=np.int64), w)
    with pytest.raises(ValueError, match=r"^lines must be integers, not float64$"):
        access_lines(a, i, x + 0.5, p, g, w)
    # Any non-zero write flag is a write (not a byte that wraps to 0).
    access_lines(a, i, x + 50, p, g, np.array([256, 0]))
    assert a.dirty(0)[51 % 4, where(a, 0, 51)] and not a.dirty(0)[52 % 4, where(a, 0, 52)]


@pytest.mark.parametrize("mixed", [False, True], ids=["one-instance", "mixed"])
def test_a_long_bad_batch_is_undone_whole(mixed: bool) -> None:
    """A batch long against its instance's state runs without a first pass: the kernel
    stops at the bad access, and the instance's saved state is put back. One that mixes
    instances before its bad access is tested first instead; either way the error names
    the first bad access and nothing changed."""
    a = fresh()
    run(a, [(0, x, 1, 0, 1) for x in range(6)])
    before = copy.deepcopy(a)
    good = [(0, 100 + x, 2, 1, x % 2) for x in range(200)]  # evicts, writes back
    assert 4 * len(good) > a.records(0).size
    if mixed:
        good[50] = (1, 7, 0, 0, 0)
    batch = [*good[:150], (0, 5, 0, 2, 0), *good[150:], (0, -1, 0, 0, 0)]
    with pytest.raises(ValueError, match=r"^access 150: PMG 2 is outside 0\.\.1$"):
        run(a, batch)
    for name in ("sets", "occ", "occ_part"):
        np.testing.assert_array_equal(getattr(a, name), getattr(before, name), err_msg=name)
    # the same batch without its bad accesses runs, and as the twin does
    b = copy.deepcopy(a)
    assert run(a, good) == run(b, good, impl="reference")
    np.testing.assert_array_equal(a.sets, b.sets)


# -- 3. portion bitmaps to ways -------------------------------------------------------------


def cpbm_words(bits: list[int], portions: int) -> NDArray[np.uint32]:
    """One row of MPAMCFG_CPBM words with the given portion bits set."""
    words = np.zeros((1, (portions + 31) // 32), dtype=np.uint32)
    for k in bits:
        words[0, k // 32] |= np.uint32(1 << (k % 32))
    return words


def test_way_masks_one_portion_per_way() -> None:
    cpbm = np.array([[0x0], [0xFF], [0b1010_0101], [0x80]], dtype=np.uint32)
    assert way_masks(cpbm, 8, 8).tolist() == [0x0, 0xFF, 0b1010_0101, 0x80]


def test_way_masks_several_ways_per_portion() -> None:
    # 4 portions of 16 ways: portion k is ways 4k..4k+3.
    assert way_masks(cpbm_words([0], 4), 4, 16).tolist() == [0x000F]
    assert way_masks(cpbm_words([1, 3], 4), 4, 16).tolist() == [0xF0F0]
    # 3 portions of 8 ways: boundaries at 8/3 and 16/3 fall inside ways 2 and 5.
    assert way_masks(cpbm_words([0], 3), 3, 8).tolist() == [0b0000_0111]
    assert way_masks(cpbm_words([1], 3), 3, 8).tolist() == [0b0011_1100]
    assert way_masks(cpbm_words([2], 3), 3, 8).tolist() == [0b1110_0000]


def test_way_masks_several_portions_per_way() -> None:
    # 64 portions (two CPBM words) of 16 ways: way w holds portions 4w..4w+3.
    assert way_masks(cpbm_words([0], 64), 64, 16).tolist() == [0x0001]
    assert way_masks(cpbm_words([3, 4], 64), 64, 16).tolist() == [0x0003]
    assert way_masks(cpbm_words([33, 63], 64), 64, 16).tolist() == [0x8100]
    assert way_masks(cpbm_words(list(range(64)), 64), 64, 16).tolist() == [0xFFFF]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data(), portions=st.integers(1, 70), ways=st.integers(1, 62))
def test_way_masks_cover_overlapping_portions(
    data: st.DataObject, portions: int, ways: int
) -> None:
    """Way w is allowed iff a set portion k overlaps it: [k/N, (k+1)/N) meets [w/W, (w+1)/W)."""
    bits = data.draw(st.lists(st.integers(0, portions - 1), unique=True))
    (mask,) = way_masks(cpbm_words(bits, portions), portions, ways).tolist()
    for w in range(ways):
        overlap = any(k * ways < (w + 1) * portions and w * portions < (k + 1) * ways for k in bits)
        assert bool((mask >> w) & 1) == overlap, (w, bits)
    assert mask >> ways == 0


# -- 4. decoding an MSC's registers ---------------------------------------------------------


def select(msc: Msc, partid: int, internal: bool = False) -> None:
    value = field_prep("MPAMCFG_PART_SEL", "PARTID_SEL", partid)
    if internal:
        value |= field_prep("MPAMCFG_PART_SEL", "INTERNAL", 1)
    msc.write32(reg("MPAMCFG_PART_SEL").offset, value)


def cmax_word(value: int, soft: bool) -> int:
    return field_prep("MPAMCFG_CMAX", "CMAX", value) | field_prep(
        "MPAMCFG_CMAX", "SOFTLIM", int(soft)
    )


@pytest.fixture
def rdn2_slc() -> tuple[Msc, CacheArrays, int]:
    """slc0 of rdn2 in its reset state and a cache instance of one L3 slice's geometry,
    with CMAX_WD read from the MSC's MPAMF_CCAP_IDR."""
    hw = build(load("rdn2"))
    msc = hw.msc("slc0")
    assert isinstance(msc, Msc)
    l3 = next(c for c in hw.platform.caches if c.name == "L3")
    arrays = CacheArrays.build([(l3.sets // l3.slices, l3.ways, l3.line_size)], 64, 2)
    select(msc, 0)
    width = field_get("MPAMF_CCAP_IDR", "CMAX_WD", msc.read32(reg("MPAMF_CCAP_IDR").offset))
    return msc, arrays, width


def test_decode_controls_at_reset_is_unrestricted(rdn2_slc: tuple[Msc, CacheArrays, int]) -> None:
    msc, a, _ = rdn2_slc
    decode_controls(a, 0, msc, msc.ris[0], 64)
    assert (a.ctl[WAY_MASK, 0] == 0xFFFF).all()
    assert (a.ctl[CMAX, 0] == a.lines(0)).all()
    assert (a.ctl[CMAX_SOFT, 0] == 0).all()
    assert a.inst[0, LIMITS] == 0


@pytest.mark.parametrize(
    ("written", "soft"),
    [(0x3FFF, True), (0x7FFF, False), (0x0000, True), (0x0123, False), (0xFFFF, True)],
)
def test_decode_controls_from_mmio(
    rdn2_slc: tuple[Msc, CacheArrays, int], written: int, soft: bool
) -> None:
    msc, a, width = rdn2_slc
    ways, lines = int(a.inst[0, WAYS]), a.lines(0)
    cpbm_wd = field_get("MPAMF_CPOR_IDR", "CPBM_WD", msc.read32(reg("MPAMF_CPOR_IDR").offset))
    assert cpbm_wd == ways == 16  # one portion per way on rdn2's SLC
    select(msc, 5)
    msc.write32(reg("MPAMCFG_CPBM").offset, 0x00F0)
    msc.write32(reg("MPAMCFG_CMAX").offset, cmax_word(written, soft))
    select(msc, 6)
    msc.write32(reg("MPAMCFG_CPBM").offset, 0x8001)
    decode_controls(a, 0, msc, msc.ris[0], 64)
    f = written >> (16 - width)  # the implemented bits; the rest are RAZ/WI
    assert a.ctl[WAY_MASK, 0, 5] == 0x00F0
    assert a.ctl[WAY_MASK, 0, 6] == 0x8001
    assert a.ctl[CMAX, 0, 5] == (f + 1) * lines // (1 << width)
    assert a.ctl[CMAX_SOFT, 0, 5] == int(soft)
    assert a.ctl[CMAX, 0, 6] == lines and a.ctl[CMAX_SOFT, 0, 6] == 0
    others = [p for p in range(64) if p not in (5, 6)]
    assert (a.ctl[WAY_MASK, 0, others] == 0xFFFF).all()
    assert (a.ctl[CMAX, 0, others] == lines).all()
    assert a.inst[0, LIMITS] == int(f + 1 < 1 << width)
    # The decoded controls act: PARTID 5 allocates only into ways 4..7 (four lines of set 0).
    sets = int(a.inst[0, SETS])
    res, _ = access_lines(a, *columns([(0, k * sets, 5, 0, 0) for k in range(4)]))
    assert (res == ALLOCATED).all()
    assert sorted(where(a, 0, k * sets) for k in range(4)) == [4, 5, 6, 7]


def test_decode_controls_cmin_cassoc_and_narrowing(new_msc: MakeMsc) -> None:
    """CMIN is a min-type fraction of the lines, CASSOC a max-type fraction of the ways (at
    least one); with PARTID narrowing each request PARTID reads its internal PARTID's row."""
    ccap = {"cmax_wd": 8, "has_cmin": True, "has_cassoc": True, "cassoc_wd": 4}
    msc = new_msc([{"cpor": {"cpbm_wd": 8}, "ccap": ccap}], intpartid_max=3)
    a = fresh([(4, 8, 64)])
    # request PARTIDs 0..3 -> internal 0, 2, 2, 3
    for req, intp in enumerate([0, 2, 2, 3]):
        select(msc, req)
        msc.write32(
            reg("MPAMCFG_INTPARTID").offset,
            field_prep("MPAMCFG_INTPARTID", "INTPARTID", intp)
            | field_prep("MPAMCFG_INTPARTID", "INTERNAL", 1),
        )
    select(msc, 2, internal=True)
    msc.write32(reg("MPAMCFG_CMIN").offset, field_prep("MPAMCFG_CMIN", "CMIN", 0x40FF))
    msc.write32(reg("MPAMCFG_CASSOC").offset, field_prep("MPAMCFG_CASSOC", "CASSOC", 0x3FFF))
    msc.write32(reg("MPAMCFG_CPBM").offset, 0x0C)
    select(msc, 3, internal=True)
    msc.write32(reg("MPAMCFG_CASSOC").offset, 0)
    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)
    # CMIN: 0x40 of 2^8 of 32 lines (min-type: the value itself); low bits RAZ/WI.
    assert a.ctl[CMIN, 0].tolist() == [0, 8, 8, 0]
    # CASSOC: (3 + 1) / 2^4 of 8 ways = 2; a field of 0 still allows one way.
    assert a.ctl[CASSOC, 0].tolist() == [8, 2, 2, 1]
    assert a.ctl[WAY_MASK, 0].tolist() == [0xFF, 0x0C, 0x0C, 0xFF]
    assert a.inst[0, LIMITS] == 1


def test_disabled_partids_allocate_nothing_and_go_first(new_msc: MakeMsc) -> None:
    """HAS_ENDIS (IHI0099 MPAMCFG_EN/DIS): a PARTID the MSC has disabled has no portions and
    limits of 0, and its lines are the victims right after unallocated ones (Table 5-1
    priority 1), before an older line of an enabled partition; a soft CMAX may take them."""
    ccap = {"cmax_wd": 8, "has_cmax_softlim": True}
    msc = new_msc([{"cpor": {"cpbm_wd": 4}, "ccap": ccap}], has_endis=True)
    a = fresh([(1, 4, 64)])

    def enable(partid: int, on: bool) -> None:
        name = "MPAMCFG_EN" if on else "MPAMCFG_DIS"
        msc.write32(reg(name).offset, field_prep(name, "PARTID", partid))
        decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)

    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)  # at reset only PARTID 0 is enabled
    assert a.ctl[DISABLED, 0].tolist() == [0, 1, 1, 1]
    assert a.ctl[WAY_MASK, 0].tolist() == [0xF, 0, 0, 0] and a.inst[0, LIMITS] == 1
    assert run(a, [(0, 1, 1, 0, 0)])[0] == [NOT_ALLOCATED]
    for p in (1, 2, 3):
        enable(p, True)
    assert a.ctl[DISABLED, 0].tolist() == [0, 0, 0, 0] and a.inst[0, LIMITS] == 0
    # Oldest first: 10 (PARTID 2), 11 (PARTID 2), 12 (PARTID 3), 13 (PARTID 1).
    run(a, [(0, 10, 2, 0, 0), (0, 11, 2, 0, 0), (0, 12, 3, 0, 0), (0, 13, 1, 0, 0)])
    enable(3, False)
    assert a.ctl[[WAY_MASK, CMAX, DISABLED], 0, 3].tolist() == [0, 0, 1]
    assert run(a, [(0, 20, 1, 0, 0)])[0] == [ALLOCATED]
    assert where(a, 0, 12) == -1 and where(a, 0, 10) >= 0  # PARTID 3's line went first
    # A soft CMAX over its limit takes lines of disabled PARTIDs too, a hard one does not.
    run(a, [(0, 21, 3, 0, 0)])  # (nothing: PARTID 3 allocates no more)
    enable(3, True)
    run(a, [(0, 22, 3, 0, 0)])  # evicts 10, the oldest
    enable(3, False)
    select(msc, 1)
    msc.write32(reg("MPAMCFG_CMAX").offset, cmax_word(0, soft=True))
    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)
    assert a.occ_part[0, 1] >= a.ctl[CMAX, 0, 1]  # PARTID 1 is at its limit
    assert run(a, [(0, 23, 1, 0, 0)])[0] == [ALLOCATED]
    assert where(a, 0, 22) == -1  # the disabled PARTID's line, not one of PARTID 2's
    msc.write32(reg("MPAMCFG_CMAX").offset, cmax_word(0, soft=False))
    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)
    before = all_tags(a).tolist()
    assert run(a, [(0, 24, 1, 0, 0)])[0] == [ALLOCATED]  # hard: one of its own lines
    assert sorted(set(before) - set(all_tags(a).tolist())) == [13]


def test_a_disabled_partid_allocates_nothing_without_portion_controls(new_msc: MakeMsc) -> None:
    """On a cache with capacity controls only, a disabled PARTID still allocates nothing:
    not into spare lines by its SOFTLIM, nor over its own lines by a hard limit of 0."""
    msc = new_msc([{"ccap": {"cmax_wd": 8, "has_cmax_softlim": True}}], has_endis=True)
    a = fresh([(1, 4, 64)])
    for p in (2, 3):
        msc.write32(reg("MPAMCFG_EN").offset, field_prep("MPAMCFG_EN", "PARTID", p))
    select(msc, 1)
    msc.write32(reg("MPAMCFG_CMAX").offset, cmax_word(0xFFFF, soft=True))
    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)
    assert a.ctl[DISABLED, 0].tolist() == [0, 1, 0, 0]
    run(a, [(0, 20, 2, 0, 0)])
    msc.write32(reg("MPAMCFG_DIS").offset, field_prep("MPAMCFG_DIS", "PARTID", 2))
    decode_controls(a, 0, msc, msc.ris[0], NUM_PARTID)
    results, _ = run(a, [(0, 10, 1, 0, 0), (0, 21, 2, 0, 0), (0, 22, 2, 0, 0)])
    assert results == [NOT_ALLOCATED] * 3
    assert all_tags(a).tolist().count(20) == 1 and a.occ_part[0].tolist() == [0, 0, 1, 0]


# -- 5. CSU readings -------------------------------------------------------------------------


@SEEDED
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1, 4]))
def test_csu_bytes_counts_owned_lines(seed: int, scale: int) -> None:
    rng = np.random.default_rng(seed)
    a = fresh()
    random_controls(a, rng, [True, False])
    run(a, random_accesses(a, rng, 200, 48))
    for inst in range(len(a.inst)):
        view = CacheView(a, inst, scale)
        for partid in [None, *range(NUM_PARTID + 1)]:
            for pmg in [None, *range(NUM_PMG + 1)]:
                for xcl in (False, True):
                    expect = 0
                    if (partid is None or partid < NUM_PARTID) and (pmg is None or pmg < NUM_PMG):
                        owners, dirty = a.owners(inst).ravel(), a.dirty(inst).ravel()
                        for label, d in zip(owners.tolist(), dirty.tolist(), strict=True):
                            expect += int(
                                label >= 0
                                and (partid is None or label // NUM_PMG == partid)
                                and (pmg is None or label % NUM_PMG == pmg)
                                and (not xcl or d)
                            )
                    line_bytes = GEOMETRY[inst][2]
                    assert view.csu_bytes(partid, pmg, xcl) == expect * line_bytes * scale, (
                        inst, partid, pmg, xcl,
                    )  # fmt: skip
