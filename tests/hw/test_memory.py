"""Memory channels (IHI0099 MBW controls: MIN, MAX, PBM, PROP, WINWD): the arbiter's grants,
decoding the MBW_* controls from an MSC's registers, and the loaded-latency curve.

`arbitrate` is called directly with real arrays (`ChannelArrays`), the way the traffic
engine calls it: each step's grants are then added to `used`, the bytes moved in the
current accounting window. MSCs come from the rdn2 preset (or a one-MSC TOML, see
conftest.py) and are programmed through MMIO with offsets from `mpam.hw.regmap`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from mpam.hw import build
from mpam.hw.memory import ChannelArrays, arbitrate, decode_mbw_controls, loaded_latency
from mpam.hw.msc import Msc
from mpam.hw.regmap import field_get, field_prep, reg
from mpam.platform import load

MakeMsc = Callable[..., Msc]

PEAK = 10.0  # bytes per ns
DT = 100.0  # ns per step: a capacity of 1000 bytes


def channels(num_partid: int, peak: float = PEAK, window_ns: float = DT) -> ChannelArrays:
    a = ChannelArrays.build([peak], [90.0], num_partid)
    a.window_ns[:] = window_ns
    return a


def step(
    a: ChannelArrays, demand: NDArray[np.float64] | list[float], t0: float, dt: float = DT
) -> NDArray[np.float64]:
    """One arbitration step; the grants are then consumed, as the traffic engine does."""
    d = np.array(demand, dtype=np.float64).reshape(a.max_frac.shape)
    grant = np.zeros_like(d)
    n_p = d.shape[1]
    arbitrate(a.peak, a.max_frac, a.min_frac, a.pbm_frac, a.weight, a.hard, a.window_ns,
              a.used, a.window, d, t0, dt, grant, np.zeros(n_p), np.zeros((3, n_p)))  # fmt: skip
    a.used += grant
    return grant


# -- arbitrate: invariants ------------------------------------------------------------------


@dataclass
class Setup:
    arrays: ChannelArrays
    dt: float
    demands: list[NDArray[np.float64]]  # per step, (channel, PARTID)


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    n_ch = draw(st.integers(1, 2))
    n_p = draw(st.integers(1, 5))
    dt = draw(st.sampled_from([50.0, 100.0, 250.0]))
    peaks = draw(st.lists(st.floats(0.5, 50.0), min_size=n_ch, max_size=n_ch))
    a = ChannelArrays.build(peaks, [90.0] * n_ch, n_p)
    fracs = st.lists(
        st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
        min_size=n_ch * n_p,
        max_size=n_ch * n_p,
    )

    def grid(values: list[float]) -> NDArray[np.float64]:
        return np.array(values, dtype=np.float64).reshape(n_ch, n_p)

    a.max_frac[:] = grid([max(f, 1.0 / 256) for f in draw(fracs)])
    a.min_frac[:] = grid(draw(fracs))
    a.pbm_frac[:] = grid(draw(fracs))
    a.weight[:] = grid([1.0 / s for s in draw(st.lists(st.integers(1, 16), min_size=n_ch * n_p,
                                                        max_size=n_ch * n_p))])  # fmt: skip
    a.hard[:] = grid(draw(st.lists(st.booleans(), min_size=n_ch * n_p, max_size=n_ch * n_p)))
    windows = st.sampled_from([dt / 2, dt, 3 * dt, 10 * dt])
    a.window_ns[:] = grid(draw(st.lists(windows, min_size=n_ch * n_p, max_size=n_ch * n_p)))
    steps = draw(st.integers(1, 12))
    demands = []
    for _ in range(steps):
        shares = draw(st.lists(st.floats(0.0, 1.5), min_size=n_ch * n_p, max_size=n_ch * n_p))
        demands.append(grid(shares) * (a.peak * dt)[:, None])
    return Setup(a, dt, demands)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(setup=setups())
def test_grants_respect_capacity_demand_and_limits(setup: Setup) -> None:
    """Every step: grants are within demand and the channel's capacity, within HARDLIM and
    portion caps of the window budget, MBW_MIN shares are met when they fit, and no
    bandwidth idles while a grantable demand is left (work conservation). Over each
    accounting window, a HARDLIM PARTID moves at most max_frac of the window's budget."""
    a, dt = setup.arrays, setup.dt
    moved: dict[tuple[int, int, int], float] = defaultdict(float)
    for k, demand in enumerate(setup.demands):
        t0 = k * dt
        grant = step(a, demand, t0, dt)
        used = a.used - grant  # what the window held when the step was arbitrated
        window = np.maximum(a.window_ns, dt)
        budget = a.peak[:, None] * window
        capacity = a.peak * dt
        tol = 1e-6 * budget
        assert (grant >= -tol).all()
        assert (grant <= demand + tol).all()
        assert (grant.sum(axis=1) <= capacity * (1 + 1e-9)).all()
        cap = demand.copy()
        over_pbm = a.pbm_frac < 1.0
        pbm_left = np.maximum(0.0, a.pbm_frac * budget - used)
        cap[over_pbm] = np.minimum(cap, pbm_left)[over_pbm]
        hard = a.hard.astype(bool)
        max_left = np.maximum(0.0, a.max_frac * budget - used)
        cap[hard] = np.minimum(cap, max_left)[hard]
        assert (grant <= cap + tol).all()
        np.testing.assert_allclose(
            grant.sum(axis=1), np.minimum(capacity, cap.sum(axis=1)), rtol=1e-6, atol=1e-6
        )
        floor = np.minimum(cap, np.maximum(0.0, a.min_frac * budget - used))
        for c in range(a.peak.shape[0]):
            if floor[c].sum() <= capacity[c] * (1 - 1e-9):
                assert (grant[c] >= floor[c] - tol[c]).all()
        for c, p in zip(*np.nonzero(hard), strict=True):
            moved[(int(c), int(p), int(a.window[c, p]))] += float(grant[c, p])
    for (c, p, _), total in moved.items():
        limit = a.max_frac[c, p] * a.peak[c] * max(a.window_ns[c, p], dt)
        assert total <= limit * (1 + 1e-9) + 1e-6


# -- arbitrate: the controls one at a time --------------------------------------------------


def test_hardlim_caps_each_window() -> None:
    """HARDLIM: at most max_frac of a window's budget over the window's steps, even with
    the channel otherwise idle; the next window brings a new budget."""
    a = channels(1, window_ns=10 * DT)
    a.max_frac[0, 0] = 0.3
    a.hard[0, 0] = 1
    for w in range(3):
        grants = [step(a, [PEAK * DT], (10 * w + k) * DT)[0, 0] for k in range(10)]
        assert sum(grants) == pytest.approx(0.3 * PEAK * 10 * DT)
        assert grants[:3] == pytest.approx([PEAK * DT] * 3)  # a burst, then nothing
        assert grants[3:] == pytest.approx([0.0] * 7)


def test_soft_max_alone_takes_the_whole_channel() -> None:
    a = channels(1, window_ns=10 * DT)
    a.max_frac[0, 0] = 0.3
    grants = [step(a, [PEAK * DT], k * DT)[0, 0] for k in range(10)]
    assert grants == pytest.approx([PEAK * DT] * 10)


@pytest.mark.parametrize("other", [0.0, 0.2, 0.5, 0.9, 1.0, 3.0])
def test_soft_over_max_gets_only_what_others_leave(other: float) -> None:
    """A soft PARTID that has used its MBW_MAX in this window competes last: another
    PARTID's demand is served in full first, the soft one takes the rest."""
    a = channels(2, window_ns=10 * DT)
    a.max_frac[0, 0] = 0.05
    step(a, [2 * PEAK * DT, 0.0], 0.0)  # PARTID 0 takes the whole first step, alone
    assert a.used[0, 0] > 0.05 * PEAK * 10 * DT
    capacity = PEAK * DT
    grant = step(a, [capacity, other * capacity], DT)
    assert grant[0, 1] == pytest.approx(min(other, 1.0) * capacity)
    assert grant[0, 0] == pytest.approx(capacity - grant[0, 1])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    max_frac=st.floats(1 / 256, 1.0),
    other=st.floats(0.0, 2.0),
    stride=st.integers(1, 8),
)
def test_excess_over_a_soft_max_costs_nobody(max_frac: float, other: float, stride: int) -> None:
    """Contended: a soft PARTID's demand beyond its MBW_MAX does not reduce the others'
    grants (they get what they would get were it hard-limited), and takes the leftover."""
    capacity = PEAK * DT
    grants = []
    for hard in (0, 1):
        a = channels(2)
        a.max_frac[0, 0] = max_frac
        a.hard[0, 0] = hard
        a.weight[0, 1] = 1.0 / stride
        grants.append(step(a, [2 * capacity, other * capacity], 0.0)[0])
    soft, hard_ = grants
    assert soft[1] == pytest.approx(hard_[1], abs=1e-6)
    assert hard_[0] <= max_frac * capacity * (1 + 1e-9)
    assert soft[0] == pytest.approx(capacity - soft[1], abs=1e-6)


def test_min_is_served_first() -> None:
    """Below MBW_MIN a PARTID is served before the others, whatever its PROP weight."""
    a = channels(4)
    a.min_frac[0, 0] = 0.4
    a.weight[0, 0] = 1.0 / 8
    capacity = PEAK * DT
    grant = step(a, [capacity] * 4, 0.0)[0]
    assert grant[0] >= 0.4 * capacity - 1e-9
    assert grant.sum() == pytest.approx(capacity)
    # Without the minimum the same weight leaves it far less.
    a.min_frac[0, 0] = 0.0
    grant = step(a, [capacity] * 4, DT)[0]
    assert grant[0] == pytest.approx(capacity * (1 / 8) / (1 / 8 + 3))


def test_min_counts_the_window() -> None:
    """The minimum is a share of the window: once moved, it gives no more preference."""
    a = channels(2, window_ns=4 * DT)
    a.min_frac[0, 0] = 0.25  # one step's worth of a 4-step window
    capacity = PEAK * DT
    assert step(a, [capacity, 0.0], 0.0)[0, 0] == pytest.approx(capacity)
    a.weight[0, 0] = 1.0 / 3
    grant = step(a, [capacity, capacity], DT)[0]
    assert grant == pytest.approx([capacity / 4, 3 * capacity / 4])


@pytest.mark.parametrize(
    ("strides", "demand", "expect"),
    [
        ([1, 2, 4], [1.0, 1.0, 1.0], [4 / 7, 2 / 7, 1 / 7]),
        ([1, 1, 1], [1.0, 1.0, 1.0], [1 / 3, 1 / 3, 1 / 3]),
        ([1, 2, 4], [1.0, 1.0, 0.01], [0.99 * 2 / 3, 0.99 / 3, 0.01]),  # leftover re-split
        ([1, 3], [0.1, 1.0], [0.1, 0.9]),  # a heavy weight wanting little keeps little
    ],
)
def test_prop_weights_split_contended_bandwidth(
    strides: list[int], demand: list[float], expect: list[float]
) -> None:
    a = channels(len(strides))
    a.weight[0] = [1.0 / s for s in strides]
    capacity = PEAK * DT
    grant = step(a, [d * capacity for d in demand], 0.0)[0]
    assert grant == pytest.approx([e * capacity for e in expect])


@pytest.mark.parametrize("hard", [0, 1])
def test_pbm_caps_at_its_portion_share(hard: int) -> None:
    """MBW_PBM with 4 of 16 portions: a quarter of each window, even on an idle channel."""
    a = channels(1, window_ns=8 * DT)
    a.pbm_frac[0, 0] = 4 / 16
    a.hard[0, 0] = hard
    grants = [step(a, [PEAK * DT], k * DT)[0, 0] for k in range(16)]
    budget = PEAK * 8 * DT
    assert sum(grants[:8]) == pytest.approx(budget / 4)
    assert sum(grants[8:]) == pytest.approx(budget / 4)


def test_window_rollover_resets_used() -> None:
    a = channels(2, window_ns=10 * DT)
    a.window[0] = 0
    a.used[0] = [500.0, 700.0]
    a.window_ns[0, 1] = 5 * DT
    step(a, [0.0, 0.0], 4 * DT)  # both still in window 0
    assert a.used[0].tolist() == [500.0, 700.0]
    step(a, [0.0, 0.0], 5 * DT)  # PARTID 1's window is half as long: its window 1 starts
    assert a.used[0].tolist() == [500.0, 0.0]
    assert a.window[0].tolist() == [0, 1]
    step(a, [0.0, 0.0], 10 * DT)
    assert a.used[0].tolist() == [0.0, 0.0]
    assert a.window[0].tolist() == [1, 2]


def test_window_shorter_than_a_step_accounts_by_step() -> None:
    a = channels(1, window_ns=DT / 4)
    a.max_frac[0, 0] = 0.5
    a.hard[0, 0] = 1
    grants = [step(a, [PEAK * DT], k * DT)[0, 0] for k in range(3)]
    assert grants == pytest.approx([0.5 * PEAK * DT] * 3)


# -- decoding an MSC's MBW_* registers ------------------------------------------------------


def select(msc: Msc, partid: int) -> None:
    msc.write32(
        reg("MPAMCFG_PART_SEL").offset, field_prep("MPAMCFG_PART_SEL", "PARTID_SEL", partid)
    )


def write(msc: Msc, name: str, **fields: int) -> None:
    value = 0
    for f, v in fields.items():
        value |= field_prep(name, f, v)
    msc.write32(reg(name).offset, value)


def mbw_idr(msc: Msc, name: str) -> int:
    return field_get("MPAMF_MBW_IDR", name, msc.read32(reg("MPAMF_MBW_IDR").offset))


@pytest.fixture
def ddr0() -> Msc:
    msc = build(load("rdn2")).msc("ddr0")
    assert isinstance(msc, Msc)
    return msc


def test_decode_mbw_controls_from_mmio(ddr0: Msc) -> None:
    msc = ddr0
    wd, pbm_wd = mbw_idr(msc, "BWA_WD"), mbw_idr(msc, "BWPBM_WD")
    assert (wd, pbm_wd) == (8, 16)
    select(msc, 3)
    write(msc, "MPAMCFG_MBW_MAX", MAX=0x3FFF, HARDLIM=1)
    write(msc, "MPAMCFG_MBW_MIN", MIN=0x12FF)  # the bits below BWA_WD are RAZ/WI
    msc.write32(reg("MPAMCFG_MBW_PBM").offset, 0x00FF)
    write(msc, "MPAMCFG_MBW_PROP", EN=1, STRIDEM1=3)
    write(msc, "MPAMCFG_MBW_WINWD", US_INT=2, US_FRAC=0x80)
    select(msc, 4)
    write(msc, "MPAMCFG_MBW_MAX", MAX=0x7FFF)
    write(msc, "MPAMCFG_MBW_MIN", MIN=0)
    msc.write32(reg("MPAMCFG_MBW_PBM").offset, 0x8421)
    write(msc, "MPAMCFG_MBW_PROP", EN=0, STRIDEM1=3)  # not enabled: no weighting
    write(msc, "MPAMCFG_MBW_WINWD", US_INT=0, US_FRAC=0x40)
    select(msc, 0)
    reset_min = field_get("MPAMCFG_MBW_MIN", "MIN", msc.read32(reg("MPAMCFG_MBW_MIN").offset))
    a = ChannelArrays.build([25.6], [90.0], 64)
    decode_mbw_controls(a, 0, msc, msc.ris[0], 64)
    scale = float(1 << wd)
    assert a.max_frac[0, 3] == (0x3F + 1) / scale and a.hard[0, 3] == 1
    assert a.max_frac[0, 4] == (0x7F + 1) / scale and a.hard[0, 4] == 0
    assert a.min_frac[0, 3] == 0x12 / scale
    assert a.min_frac[0, 4] == 0.0
    assert a.pbm_frac[0, 3] == 8 / pbm_wd
    assert a.pbm_frac[0, 4] == 4 / pbm_wd
    assert a.weight[0, 3] == 1 / 4
    assert a.weight[0, 4] == 1.0
    assert a.window_ns[0, 3] == 2500.0  # 2.5 µs
    assert a.window_ns[0, 4] == 250.0  # 0x40 / 256 µs
    # Untouched PARTIDs decode their reset values: no limits, the default window.
    others = [p for p in range(64) if p not in (3, 4)]
    assert (a.max_frac[0, others] == 1.0).all() and (a.hard[0, others] == 0).all()
    assert (a.min_frac[0, others] == (reset_min >> (16 - wd)) / scale).all()
    assert (a.pbm_frac[0, others] == 1.0).all() and (a.weight[0, others] == 1.0).all()
    winwd_us = msc.ris[0].features.mbw.winwd_us  # type: ignore[union-attr]
    assert (a.window_ns[0, others] == winwd_us * 1000.0).all()


def test_a_disabled_partid_gets_no_bandwidth_controls(new_msc: MakeMsc) -> None:
    """HAS_ENDIS (IHI0099 MPAMCFG_EN/DIS): a disabled PARTID's fractional controls act as 0 and its
    portion bitmap as none; enabling it brings back what its registers hold."""
    mbw = {"bwa_wd": 8, "has_max": True, "has_min": True, "has_pbm": True, "bwpbm_wd": 8}
    msc = new_msc([{"mbw": mbw}], has_endis=True)
    select(msc, 2)
    write(msc, "MPAMCFG_MBW_MIN", MIN=0x4000)
    a = ChannelArrays.build([25.6], [90.0], 4)
    decode_mbw_controls(a, 0, msc, msc.ris[0], 4)  # at reset only PARTID 0 is enabled
    assert a.max_frac[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert a.pbm_frac[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert a.min_frac[0, 2] == 0.0
    msc.write32(reg("MPAMCFG_EN").offset, field_prep("MPAMCFG_EN", "PARTID", 2))
    decode_mbw_controls(a, 0, msc, msc.ris[0], 4)
    assert (a.max_frac[0, 2], a.pbm_frac[0, 2], a.min_frac[0, 2]) == (1.0, 1.0, 0.25)
    assert a.max_frac[0, 3] == 0.0


@pytest.mark.parametrize(("max_lim", "written", "hard"), [
    ("both", 0, 0), ("both", 1, 1), ("soft", 1, 0), ("hard", 0, 1),
])  # fmt: skip
def test_decode_hardlim_follows_max_lim(
    new_msc: MakeMsc, max_lim: str, written: int, hard: int
) -> None:
    """HARDLIM is RW, RAZ/WI (soft only) or RAO/WI (hard only) by MBW_IDR.MAX_LIM; with a
    6-bit BWA_WD, MAX 0x7FFF keeps field 0x1F: (0x1F + 1) / 64 = 50%. A WINWD that is
    not writable keeps the implementation's window."""
    msc = new_msc([{"mbw": {"bwa_wd": 6, "has_max": True, "max_lim": max_lim}}])
    select(msc, 2)
    write(msc, "MPAMCFG_MBW_MAX", MAX=0x7FFF, HARDLIM=written)
    write(msc, "MPAMCFG_MBW_WINWD", US_INT=1)
    a = ChannelArrays.build([10.0], [90.0], 4)
    decode_mbw_controls(a, 0, msc, msc.ris[0], 4)
    assert a.max_frac[0, 2] == 0.5
    assert a.hard[0, 2] == hard
    assert a.window_ns[0, 2] == 1e6


def test_decoded_controls_drive_the_arbiter(ddr0: Msc) -> None:
    """End to end: a 25% HARDLIM written through MMIO holds a PARTID to a quarter of the
    channel over a window."""
    select(ddr0, 1)
    write(ddr0, "MPAMCFG_MBW_MAX", MAX=0x3FFF, HARDLIM=1)
    write(ddr0, "MPAMCFG_MBW_WINWD", US_INT=1)  # 1 µs: ten steps
    a = ChannelArrays.build([PEAK], [90.0], 64)
    decode_mbw_controls(a, 0, ddr0, ddr0.ris[0], 64)
    demand = np.zeros((1, 64))
    demand[0, 1] = PEAK * DT
    total = sum(step(a, demand, k * DT)[0, 1] for k in range(10))
    assert total == pytest.approx(0.25 * PEAK * 1000.0)


# -- latency ----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    base=st.floats(1.0, 500.0),
    u1=st.floats(-0.5, 1.5),
    u2=st.floats(-0.5, 1.5),
)
def test_loaded_latency_is_monotone(base: float, u1: float, u2: float) -> None:
    lo, hi = sorted((u1, u2))
    assert loaded_latency(base, lo) <= loaded_latency(base, hi)
    assert base <= loaded_latency(base, lo) <= loaded_latency(base, 1.0)


def test_loaded_latency_at_the_ends() -> None:
    assert loaded_latency(90.0, 0.0) == 90.0
    assert loaded_latency(90.0, -1.0) == 90.0
    assert loaded_latency(90.0, 1.0) == pytest.approx(90.0 * 1.6)
    assert loaded_latency(90.0, 2.0) == loaded_latency(90.0, 1.0)
    assert loaded_latency(90.0, 0.5) > 90.0
