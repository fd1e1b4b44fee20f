"""The memory system of a platform: its caches and memory channels, wired to their MSCs.

Built from the description (the silicon is what it is; the driver still discovers it from
firmware tables): every cache instance and slice becomes an instance of `CacheArrays`, every
channel of every NUMA node a row of `ChannelArrays`. Each MSC RIS that controls one of them
is bound to it, so that:

- `refresh()` decodes the controls from the RIS's MPAMCFG arrays (once per tick);
- CSU monitors read the instance's owner occupancy (`CacheView`);
- `count()` feeds a tick's bytes, by (PARTID, PMG, read/write), to the MBWU monitors of
  every channel, and of every cache instance whose MSC has MBWU monitors: a cache's MBWU
  monitors count its egress, the bytes that cross it towards memory (`mpam.hw.monitors`).

A cache's egress is recorded by the traffic kernel (`mpam.hw.cache.egress_add`) only for
the instances `arm_egress()` marks at the start of a tick, those with an enabled MBWU
monitor, so that a machine nobody monitors this way pays one test per reference. A RIS
with MBWU monitors is bound to a cache's egress when it controls the cache (a processor
cache RIS) or when it is a memory-side-cache RIS whose reference is the cache's PPTT id at
its level (two-socket's L2 bandwidth RIS): both measure the traffic the cache draws.

Set sampling (`sample` > 1) keeps 1/sample of every cache's sets: the traffic kernels then
simulate the addresses that map to them, each reference standing for `sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.build import Hardware
from mpam.hw.cache import SETS, WAYS, CacheArrays, CacheView, decode_controls
from mpam.hw.memory import ChannelArrays, decode_mbw_controls
from mpam.hw.msc import Msc, RisState
from mpam.hw.pcc import PccMsc
from mpam.platform.model import Platform, ResourceKind

__all__ = ["DEFAULT_LATENCY_CYCLES", "Binding", "MemorySystem"]

#: Hit latency by cache level when the description gives none (Neoverse-class cores).
DEFAULT_LATENCY_CYCLES = {1: 4, 2: 11, 3: 60, 4: 90}


@dataclass(frozen=True)
class Binding:
    """One RIS and what it controls: a cache instance or a memory channel."""

    msc: Msc
    ris: RisState
    index: int  # cache instance or channel


class MemorySystem:
    """Caches and channels of one machine, in the arrays the traffic kernels use."""

    def __init__(self, platform: Platform, hw: Hardware, *, sample: int = 1) -> None:
        if sample < 1:
            raise ValueError("the sampling ratio is a positive integer")
        self.platform = platform
        self.sample = sample
        self.num_partid = platform.cpu_mpam.partid_max + 1
        self.num_pmg = platform.cpu_mpam.pmg_max + 1
        self.frequency_ghz = platform.topology.frequency_mhz / 1000.0
        ncpu = len(platform.cpus)
        levels = sorted({c.level for c in platform.caches})
        self.num_levels = len(levels)
        #: per CPU and level: first instance index and slice count of the data path
        self.path_base = np.full((ncpu, max(1, self.num_levels)), -1, dtype=np.int64)
        self.path_slices = np.ones((ncpu, max(1, self.num_levels)), dtype=np.int64)
        self.l1i_base = np.full(ncpu, -1, dtype=np.int64)
        self.latency_cycles = np.zeros(max(1, self.num_levels), dtype=np.float64)
        geometry: list[tuple[int, int, int]] = []
        #: (cache name, instance, slice) -> instance index
        self.instances: dict[tuple[str, int, int], int] = {}
        self.names: list[str] = []
        #: (level, PPTT cache id) -> its instance indexes (every slice)
        self._by_cache_id: dict[tuple[int, int], list[int]] = {}
        for k, level in enumerate(levels):
            for cache in (c for c in platform.caches if c.level == level):
                lat = cache.latency_cycles or DEFAULT_LATENCY_CYCLES.get(level, 90)
                self.latency_cycles[k] = lat
                sets = cache.sets // cache.slices
                if sets % sample:
                    raise ValueError(
                        f"sampling 1/{sample} of the sets needs a divisor of the {sets} sets "
                        f"of each {cache.name}"
                    )
                for n, inst in enumerate(cache.instances):
                    base = len(geometry)
                    self._by_cache_id.setdefault((level, inst.cache_id), []).extend(
                        range(base, base + cache.slices)
                    )
                    for s in range(cache.slices):
                        self.instances[(cache.name, n, s)] = len(geometry)
                        self.names.append(
                            f"{cache.name}#{n}" + (f".{s}" if cache.slices > 1 else "")
                        )
                        geometry.append((sets // sample, cache.ways, cache.line_size))
                    for cpu in inst.cpus:
                        if cache.type == "instruction":
                            self.l1i_base[cpu] = base
                        else:
                            self.path_base[cpu, k] = base
                            self.path_slices[cpu, k] = cache.slices
        self.caches = CacheArrays.build(geometry, self.num_partid, self.num_pmg)
        # Memory: the channels of every node; a CPU's memory is on its own node.
        peaks: list[float] = []
        latencies: list[float] = []
        self.channel_of: dict[tuple[int, int], int] = {}
        self.cpu_channels = np.zeros((ncpu, 2), dtype=np.int64)  # first, count
        for node in platform.numa:
            first = len(peaks)
            for c in range(node.channels):
                self.channel_of[(node.node, c)] = len(peaks)
                peaks.append(node.bandwidth / node.channels / 1e9)
                latencies.append(float(node.latency_ns))
            for cpu in node.cpus:
                self.cpu_channels[cpu] = (first, node.channels)
        if not peaks:  # no NUMA description: one unregulated channel
            peaks, latencies = [25.6], [90.0]
            self.cpu_channels[:] = (0, 1)
        self.channels = ChannelArrays.build(peaks, latencies, self.num_partid)
        self.cache_bindings: list[Binding] = []
        self.channel_bindings: list[Binding] = []
        #: RISes whose MBWU monitors count a cache instance's egress
        self.egress_bindings: list[Binding] = []
        self._decoded: dict[tuple[str, int], bytes] = {}
        self._bind(hw)
        watched = sorted({b.index for b in self.egress_bindings})
        #: cache instance -> its row of `egress`
        self.egress_rows = {inst: k for k, inst in enumerate(watched)}
        #: one tick's egress bytes by (row, PARTID, PMG, read/write), for the traffic kernel
        self.egress = np.zeros((len(watched), self.num_partid, self.num_pmg, 2), dtype=np.int64)
        #: per cache instance: its row of `egress` while an MBWU monitor watches it, else -1
        self.egress_row = np.full(max(1, len(self.names)), -1, dtype=np.int64)
        self._armed: list[Binding] = []

    def _bind(self, hw: Hardware) -> None:
        self._connect(hw)
        bound = [b.msc for b in (*self.cache_bindings, *self.channel_bindings)]
        self._common_partid_max = min((m.partid_max for m in bound), default=1 << 16)
        self._common_pmg_max = min((m.pmg_max for m in bound), default=1 << 8)

    def _connect(self, hw: Hardware) -> None:
        for msc in hw.mscs:
            regs = msc.msc if isinstance(msc, PccMsc) else msc  # PCC wraps the registers
            for rs in regs.ris.values():
                r = rs.desc.resource
                if r.kind is ResourceKind.CACHE and r.cache is not None:
                    key = (r.cache, r.instance, r.slice or 0)
                    inst = self.instances.get(key)
                    if inst is None:
                        continue
                    self.cache_bindings.append(Binding(regs, rs, inst))
                    rs.attach(CacheView(self.caches, inst, self.sample))
                    if rs.mbwu is not None:
                        self.egress_bindings.append(Binding(regs, rs, inst))
                elif (
                    r.kind is ResourceKind.MEMORY_SIDE_CACHE
                    and rs.mbwu is not None
                    and r.level is not None
                    and r.reference is not None
                ):
                    for inst in self._by_cache_id.get((r.level, r.reference), []):
                        self.egress_bindings.append(Binding(regs, rs, inst))
                elif r.kind is ResourceKind.MEMORY and r.node is not None:
                    ch = self.channel_of.get((r.node, r.channel or 0))
                    if ch is not None:
                        self.channel_bindings.append(Binding(regs, rs, ch))

    @property
    def lines(self) -> int:
        return int((self.caches.inst[:, SETS] * self.caches.inst[:, WAYS]).sum())

    def instance(self, name: str, instance: int = 0, slice_: int = 0) -> int:
        return self.instances[(name, instance, slice_)]

    def refresh(self) -> None:
        """Decode every bound RIS's controls from its registers' arrays, for each cache
        instance or channel whose RISes changed since the last refresh (software
        reprograms an MSC rarely; this runs every tick). Each decoder starts from "no
        limits", so all the RISes of an instance are decoded again, in their order."""
        for index, mine in self._stale("cache", self.cache_bindings):
            for b in mine:
                decode_controls(self.caches, index, b.msc, b.ris, self.num_partid)
        for index, mine in self._stale("channel", self.channel_bindings):
            for b in mine:
                decode_mbw_controls(self.channels, index, b.msc, b.ris, self.num_partid)

    def _stale(self, kind: str, bindings: list[Binding]) -> list[tuple[int, list[Binding]]]:
        """The instances (or channels) whose RISes' settings differ from the last look,
        each with its RISes in order; the look is remembered."""
        out = []
        for index in sorted({b.index for b in bindings}):
            mine = [b for b in bindings if b.index == index]
            key = b"".join(self._settings(b) for b in mine)
            if self._decoded.get((kind, index)) != key:
                self._decoded[(kind, index)] = key
                out.append((index, mine))
        return out

    @staticmethod
    def _settings(b: Binding) -> bytes:
        """What decoding reads: the RIS's MPAMCFG arrays, the narrowing table, which
        PARTIDs are enabled and the PARTID range."""
        cfg = b.ris.cfg
        key = b"".join(cfg[name].tobytes() for name in sorted(cfg))
        key += b.msc.intpartid.tobytes() + b.msc.enabled.tobytes()
        return key + b.msc.partid_max.to_bytes(4, "little")

    def arm_egress(self) -> None:
        """Before a tick: mark in `egress_row` the cache instances an enabled MBWU monitor
        watches (a disabled monitor collects nothing: MSMON_CFG_MBWU_CTL.EN), and clear
        their rows of `egress`; the others' egress is not recorded."""
        if not self.egress_bindings:
            return
        self.egress_row[:] = -1
        self._armed = []
        for b in self.egress_bindings:
            if b.ris.mbwu is not None and b.ris.mbwu.any_enabled():
                self.egress_row[b.index] = self.egress_rows[b.index]
                self._armed.append(b)
        if self._armed:
            self.egress[:] = 0

    def count(self, traffic: NDArray[np.int64]) -> None:
        """Feed one tick's bytes, shaped (channel, PARTID, PMG, read/write), to the MBWU
        monitors of each channel's RIS, and the egress the traffic kernel recorded in
        `egress` to the MBWU monitors of the caches `arm_egress` marked."""
        for b in self.channel_bindings:
            b.ris.count_mbwu(_as_served(traffic[b.index], b.msc))
        for b in self._armed:
            b.ris.count_mbwu(_as_served(self.egress[self.egress_rows[b.index]], b.msc))
        self._armed = []

    def check_label(self, partid: int, pmg: int) -> None:
        """Requests with a label an MSC cannot hold raise its error (IHI0099 Table 7-1: 2, 4)."""
        if partid <= self._common_partid_max and pmg <= self._common_pmg_max:
            return  # every MSC holds it: the common case, asked per CPU per tick
        for b in (*self.cache_bindings, *self.channel_bindings):
            if partid > b.msc.partid_max or pmg > b.msc.pmg_max:
                b.msc.check_request(partid, pmg)


def _as_served(t: NDArray[np.int64], msc: Msc) -> NDArray[np.int64]:
    """Bytes by (PARTID, PMG, read/write) as an MSC sees them: labels beyond its range
    arrive as the default label it serves them with."""
    np_, ng = msc.partid_max + 1, msc.pmg_max + 1
    if t.shape[0] > np_ or t.shape[1] > ng:
        folded = t[:np_, :ng].copy()
        folded[0, 0] += t.sum(axis=(0, 1)) - t[:np_, :ng].sum(axis=(0, 1))
        return folded
    return t
