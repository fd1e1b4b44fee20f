"""Memory channels: peak bandwidth, loaded latency and per-PARTID bandwidth regulation.

Each channel of a NUMA node serves the misses of the caches above it. Its MSC's
PARTID-indexed controls regulate how many bytes each partition may move per accounting
window (MPAMCFG_MBW_WINWD), as IHI0099's MPAMCFG_MBW_* register descriptions give them:

- below MBW_MIN a partition is served first;
- up to MBW_MAX it competes with the others;
- above MBW_MAX it gets nothing more with HARDLIM set, and otherwise only bandwidth that
  nobody below their maximum wants (the idle bandwidth);
- MBW_PBM gives the partition a share of the bandwidth portions, a hard cap of
  popcount/BWPBM_WD of the window;
- MBW_PROP (when enabled) weights its share by 1/stride among partitions competing at
  the same level;
- a PARTID the MSC has disabled (HAS_ENDIS) has a maximum and minimum of 0 and no
  portions.

The arbiter hands out grants for each short step of simulated time from the demand seen in
the step before (`arbitrate`); requesters that use up their grant wait for the next step.
Latency grows with the channel's utilisation, 1 + 0.6ρ², a smooth loaded-latency curve
for the queueing below saturation; beyond it, the grants are what slow requesters down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.jit import njit
from mpam.hw.msc import Msc, RisState
from mpam.hw.regmap import field

__all__ = ["ChannelArrays", "arbitrate", "decode_mbw_controls", "loaded_latency"]

_MAX = field("MPAMCFG_MBW_MAX", "MAX")
_HARDLIM = field("MPAMCFG_MBW_MAX", "HARDLIM")
_MIN = field("MPAMCFG_MBW_MIN", "MIN")
_STRIDE = field("MPAMCFG_MBW_PROP", "STRIDEM1")
_PROP_EN = field("MPAMCFG_MBW_PROP", "EN")
_WINWD = field("MPAMCFG_MBW_WINWD", "US_INT").mask | field("MPAMCFG_MBW_WINWD", "US_FRAC").mask
_LATENCY_RISE = 0.6


@dataclass
class ChannelArrays:
    """Every memory channel's figures, controls (channel, PARTID) and window state."""

    peak: NDArray[np.float64]  # bytes per ns
    latency: NDArray[np.float64]  # unloaded ns
    max_frac: NDArray[np.float64]
    min_frac: NDArray[np.float64]
    pbm_frac: NDArray[np.float64]
    weight: NDArray[np.float64]
    hard: NDArray[np.uint8]
    window_ns: NDArray[np.float64]
    used: NDArray[np.float64]  # bytes moved in the current window
    window: NDArray[np.int64]  # index of the current window
    util: NDArray[np.float64]  # utilisation of the last step

    @classmethod
    def build(cls, peaks: list[float], latencies: list[float], num_partid: int) -> ChannelArrays:
        n = len(peaks)
        shape = (n, num_partid)
        arrays = cls(
            peak=np.array(peaks, dtype=np.float64),
            latency=np.array(latencies, dtype=np.float64),
            max_frac=np.ones(shape),
            min_frac=np.zeros(shape),
            pbm_frac=np.ones(shape),
            weight=np.ones(shape),
            hard=np.zeros(shape, dtype=np.uint8),
            window_ns=np.full(shape, 1e6),
            used=np.zeros(shape),
            window=np.full(shape, -1, dtype=np.int64),
            util=np.zeros(n),
        )
        return arrays

    @property
    def num_partid(self) -> int:
        return int(self.max_frac.shape[1])

    def unrestrict(self, ch: int) -> None:
        self.max_frac[ch] = 1.0
        self.min_frac[ch] = 0.0
        self.pbm_frac[ch] = 1.0
        self.weight[ch] = 1.0
        self.hard[ch] = 0


def decode_mbw_controls(
    arrays: ChannelArrays, ch: int, msc: Msc, ris: RisState, num_partid: int
) -> None:
    """Load channel `ch`'s controls from the RIS's PARTID-indexed MPAMCFG_MBW_* words."""
    n = min(num_partid, msc.partid_max + 1)
    rows = np.array([msc.settings_row(p) for p in range(n)], dtype=np.int64)
    arrays.unrestrict(ch)
    b = ris.features.mbw
    if b is None:
        return
    wd = b.bwa_wd
    cfg = ris.cfg
    if "MPAMCFG_MBW_MAX" in cfg:
        words = cfg["MPAMCFG_MBW_MAX"][rows, 0].astype(np.int64)
        arrays.max_frac[ch, :n] = (((words & _MAX.mask) >> (16 - wd)) + 1) / float(1 << wd)
        arrays.hard[ch, :n] = (words & _HARDLIM.mask) != 0
    if "MPAMCFG_MBW_MIN" in cfg:
        words = cfg["MPAMCFG_MBW_MIN"][rows, 0].astype(np.int64) & _MIN.mask
        arrays.min_frac[ch, :n] = (words >> (16 - wd)) / float(1 << wd)
    if "MPAMCFG_MBW_PBM" in cfg:
        words = cfg["MPAMCFG_MBW_PBM"][rows]
        ones = np.zeros(n, dtype=np.int64)
        for k in range(b.bwpbm_wd):
            ones += ((words[:, k // 32] >> np.uint32(k % 32)) & np.uint32(1)).astype(np.int64)
        arrays.pbm_frac[ch, :n] = ones / float(b.bwpbm_wd)
    if "MPAMCFG_MBW_PROP" in cfg:
        words = cfg["MPAMCFG_MBW_PROP"][rows, 0].astype(np.int64)
        stride = (words & _STRIDE.mask) + 1
        arrays.weight[ch, :n] = np.where((words & _PROP_EN.mask) != 0, 1.0 / stride, 1.0)
    if "MPAMCFG_MBW_WINWD" in cfg:
        raw = cfg["MPAMCFG_MBW_WINWD"][rows, 0].astype(np.int64) & _WINWD
        arrays.window_ns[ch, :n] = raw * 1000.0 / 256.0  # microseconds, 8 fraction bits
    if msc.desc.has_endis:
        # A disabled PARTID's fractional controls act as 0 and its portions as none (IHI0099,
        # HAS_ENDIS):
        # it is guaranteed nothing, and its maximum is nothing.
        off = np.flatnonzero(~msc.enabled[:n])
        arrays.min_frac[ch, off] = 0.0
        if "MPAMCFG_MBW_MAX" in cfg:
            arrays.max_frac[ch, off] = 0.0
        if "MPAMCFG_MBW_PBM" in cfg:
            arrays.pbm_frac[ch, off] = 0.0


@njit
def loaded_latency(latency: float, util: float) -> float:
    """Access latency of a channel at utilisation `util` (0..1)."""
    u = min(max(util, 0.0), 1.0)
    return latency * (1.0 + _LATENCY_RISE * u * u)


@njit
def _water_fill(
    want: NDArray[np.float64], weight: NDArray[np.float64], grant: NDArray[np.float64],
    capacity: float,
) -> float:  # fmt: skip
    """Share `capacity` among `want` by weight (max-min fairness); add to `grant`;
    return what is left."""
    left = capacity
    while left > 1e-9:
        total_w = 0.0
        for p in range(want.shape[0]):
            if want[p] > 0.0:
                total_w += weight[p]
        if total_w <= 0.0:
            break
        share = left / total_w
        satisfied = False
        for p in range(want.shape[0]):
            if want[p] > 0.0 and want[p] <= share * weight[p]:
                satisfied = True
        given = 0.0
        for p in range(want.shape[0]):
            if want[p] <= 0.0:
                continue
            if satisfied:
                # First serve everyone whose whole want fits; share the rest next round.
                if want[p] <= share * weight[p]:
                    grant[p] += want[p]
                    given += want[p]
                    want[p] = 0.0
            else:
                g = share * weight[p]
                grant[p] += g
                want[p] -= g
                given += g
        left -= given
        if not satisfied:
            break
    return max(left, 0.0)


@njit
def arbitrate(
    peak: NDArray[np.float64],
    max_frac: NDArray[np.float64],
    min_frac: NDArray[np.float64],
    pbm_frac: NDArray[np.float64],
    weight: NDArray[np.float64],
    hard: NDArray[np.uint8],
    window_ns: NDArray[np.float64],
    used: NDArray[np.float64],
    window: NDArray[np.int64],
    demand: NDArray[np.float64],
    t0: float,
    dt: float,
    grant: NDArray[np.float64],
    want: NDArray[np.float64],
    lvl: NDArray[np.float64],
) -> None:
    """Grants (bytes) for the step [t0, t0 + dt) of every (channel, PARTID), from each
    one's demand: minimums first, then up to the maximums, then (soft limits only) the
    idle rest. Starts a new accounting window for a PARTID when t0 has entered one.
    `want` (PARTIDs) and `lvl` (3, PARTIDs) are scratch space."""
    n_ch, n_p = demand.shape
    for c in range(n_ch):
        capacity = peak[c] * dt
        for p in range(n_p):
            w = window_ns[c, p]
            if w < dt or w <= 0.0:
                w = dt  # a window shorter than a step: account step by step
            idx = np.int64(t0 // w)
            if idx != window[c, p]:
                window[c, p] = idx
                used[c, p] = 0.0
            budget = peak[c] * w
            cap = demand[c, p]
            if pbm_frac[c, p] < 1.0:
                cap = min(cap, max(0.0, pbm_frac[c, p] * budget - used[c, p]))
            upto_max = max(0.0, max_frac[c, p] * budget - used[c, p])
            if hard[c, p]:
                cap = min(cap, upto_max)
            lvl[0, p] = min(cap, max(0.0, min_frac[c, p] * budget - used[c, p]))
            lvl[1, p] = max(min(cap, upto_max), lvl[0, p])
            lvl[2, p] = cap
            grant[c, p] = 0.0
        left = capacity
        for level in range(3):
            for p in range(n_p):
                want[p] = max(0.0, lvl[level, p] - grant[c, p])
            left = _water_fill(want, weight[c], grant[c], left)
