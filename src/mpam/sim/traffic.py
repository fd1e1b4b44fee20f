"""The traffic kernel: one scheduler tick of every running workload, in one Numba call.

A tick is cut into steps. At each step the memory channels' arbiter grants bandwidth by
PARTID (`mpam.hw.memory.arbitrate`), then every CPU with a running workload issues line
references until its time in the step is spent: each reference goes through the private
caches and on to the shared ones (`mpam.hw.cache.cache_access`, labelled with the CPU's
PARTID and PMG for data, or for instructions), and a miss in the last level reads the line
from the channel its address maps to. A CPU whose grant on a channel is spent borrows
capacity nobody was granted, or that CPUs before it left unspent, when its partition may
use it (within its limits, counting what its other CPUs were granted), else it waits for
the next step.

Time per reference (ns): the workload's instructions per reference at its CPI, plus the
hit latency of the level that served it, divided by the misses the core overlaps (MLP); a
memory access adds the channel's loaded latency. Writes are written through to the last
level, which allocates and keeps them dirty until a write-back. In set-sampled mode each
reference stands for `sample` references: its time and its bytes count `sample` times.

What crosses a cache towards memory is its egress, which the MBWU monitors of the MSC
that controls it count (`mpam.hw.cache.egress_add`, for the instances the memory system
armed): at an inner level, each miss's line fetched from the next level and each write
(written through); at the last level, what its channel carries for it: lines read on a
miss (or read back for ownership), writes it did not allocate, and dirty lines written
back, labelled with their owner. Hits move nothing past the cache.

A workload of several phases moves to the next at the reference that completes the
running phase's duration (run time, stalls included), from the phase's row in the phase
table: the phase starts afresh, as a new loop of a program would.

Python calls this once per tick; nothing here runs once per reference in Python.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mpam.hw.cache import (
    HIT,
    WAYS,
    cache_access,
    cache_fill,
    cache_lookup,
    cache_touch,
    egress_add,
    set_base,
)
from mpam.hw.jit import kernel, njit
from mpam.hw.memory import arbitrate, loaded_latency

__all__ = [
    "CPU_FIELDS",
    "KIND_CODES",
    "PHASE_FLOAT_FIELDS",
    "PHASE_INT_FIELDS",
    "STAT_FIELDS",
    "WL_FLOAT_FIELDS",
    "WL_INT_FIELDS",
    "run_tick",
]

KIND_CODES = {"stream": 0, "uniform": 1, "zipf": 2, "chase": 3, "strided": 4, "trace": 5}
_STREAM, _UNIFORM, _ZIPF, _CHASE, _STRIDED, _TRACE = range(6)

#: columns of a phase's integer workload state (a phase table row starts a phase with them)
PHASE_INT_FIELDS = ("kind", "lines", "stride", "base", "cursor", "table", "table_len")
#: columns of the per-slot integer state: the running phase's, then the slot's own
WL_INT_FIELDS = (*PHASE_INT_FIELDS, "pending_line", "pending_flags", "has_pending",
                 "phase_first", "phase_count", "phase")  # fmt: skip
_KIND, _LINES, _STRIDE_, _BASE, _CURSOR, _TABLE, _TLEN = range(7)
_PLINE, _PFLAGS, _HASP, _PH_FIRST, _PH_COUNT, _PHASE = range(7, 13)
#: columns of a phase's float parameters, and of the per-slot floats (those, then the
#: run time spent in the running phase)
PHASE_FLOAT_FIELDS = ("cpi", "inst_per_ref", "mlp", "write_ratio", "duration_ns")
WL_FLOAT_FIELDS = (*PHASE_FLOAT_FIELDS, "phase_ns")
_CPI, _IPR, _MLP, _WRATIO, _DURATION, _PHASE_NS = range(6)
#: columns of the per-CPU integer inputs
CPU_FIELDS = ("slot", "partid_d", "pmg_d", "partid_i", "pmg_i")
_SLOT, _PD, _GD, _PI, _GI = range(5)
#: columns of the per-slot statistics (all counts already scaled by the sampling ratio)
STAT_FIELDS = ("instructions", "run_ns", "refs", "l1_misses", "llc_refs", "llc_misses",
               "read_bytes", "write_bytes", "stall_ns")  # fmt: skip
_INSTR, _RUN, _REFS, _L1M, _LLCR, _LLCM, _RB, _WB, _STALL = range(9)

_WRITE_FLAG, _INSTR_FLAG = 1, 2
_READ, _WRITE = 0, 1


@njit
def _next_random(rng: NDArray[np.uint64], s: int) -> np.uint64:
    x = rng[s]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    rng[s] = x
    return np.uint64(x)


@njit
def _below(x: np.uint64, n: int) -> int:
    """A random 64-bit `x` mapped onto 0..n-1: the high half times `n`, which costs a
    multiplication where a remainder costs a division (bias below 2^-32 of a line)."""
    if n <= 0xFFFF_FFFF:
        return np.int64(((x >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))  # type: ignore[return-value]
    return np.int64(x % np.uint64(n))  # type: ignore[return-value]


@njit
def _uniform01(rng: NDArray[np.uint64], s: int) -> float:
    return float(_next_random(rng, s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit
def _generate(
    wl_i: NDArray[np.int64],
    wl_f: NDArray[np.float64],
    rng: NDArray[np.uint64],
    pool_i: NDArray[np.int64],
    pool_f: NDArray[np.float64],
    pool_u8: NDArray[np.uint8],
    s: int,
) -> tuple[int, int]:
    """The next (line, flags) of slot `s`'s workload."""
    kind = wl_i[s, _KIND]
    n = wl_i[s, _LINES]
    cur = wl_i[s, _CURSOR]
    flags = 0
    if kind == _STREAM:
        off = cur
        wl_i[s, _CURSOR] = cur + 1 if cur + 1 < n else 0
    elif kind == _STRIDED:
        off = cur
        wl_i[s, _CURSOR] = (cur + wl_i[s, _STRIDE_]) % n
    elif kind == _UNIFORM:
        off = _below(_next_random(rng, s), n)
    elif kind == _ZIPF:
        u = _uniform01(rng, s)
        lo = wl_i[s, _TABLE]
        hi = lo + n - 1
        while lo < hi:  # first rank whose cumulative probability reaches u
            mid = (lo + hi) // 2
            if pool_f[mid] < u:
                lo = mid + 1
            else:
                hi = mid
        off = lo - wl_i[s, _TABLE]
    elif kind == _CHASE:
        off = pool_i[wl_i[s, _TABLE] + cur]
        wl_i[s, _CURSOR] = off
    else:  # trace
        t = wl_i[s, _TABLE] + cur
        wl_i[s, _CURSOR] = (cur + 1) % wl_i[s, _TLEN]
        return wl_i[s, _BASE] + pool_i[t], int(pool_u8[t])
    if wl_f[s, _WRATIO] > 0.0 and _uniform01(rng, s) < wl_f[s, _WRATIO]:
        flags = _WRITE_FLAG
    return wl_i[s, _BASE] + off, flags


@njit
def _next_phase(
    wl_i: NDArray[np.int64],
    wl_f: NDArray[np.float64],
    ph_i: NDArray[np.int64],
    ph_f: NDArray[np.float64],
    s: int,
) -> None:
    """Start slot `s`'s next phase (after the last, the first again) from its table row:
    a phase starts afresh each time, its cursor at 0. (The caller keeps the time spent in
    the running phase.)"""
    k = wl_i[s, _PHASE] + 1
    if k >= wl_i[s, _PH_COUNT]:
        k = 0
    wl_i[s, _PHASE] = k
    row = wl_i[s, _PH_FIRST] + k
    for j in range(ph_i.shape[1]):
        wl_i[s, j] = ph_i[row, j]
    for j in range(ph_f.shape[1]):
        wl_f[s, j] = ph_f[row, j]


@njit
def _hash(line: int) -> int:
    """Slice and channel selector of a line address: two multiply-xorshift rounds on the
    folded address, so that it is independent of the set index bits (a selector tied to
    them leaves (slice, set) pairs a contiguous buffer never reaches). Every product fits
    in 63 bits, so the Python twin and the JIT agree."""
    h = (line ^ (line >> 32)) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return h ^ (h >> 16)


@njit
def _pick(h: int, n: int) -> int:
    """One of `n` slices or channels for hash `h` (>= 0): a mask when `n` is a power of two,
    as it nearly always is, since a division costs an order of magnitude more."""
    return h & (n - 1) if n & (n - 1) == 0 else h % n


@njit
def _instance(
    path_base: NDArray[np.int64],
    path_slices: NDArray[np.int64],
    l1i_base: NDArray[np.int64],
    c: int,
    lv: int,
    instr: bool,
    h: int,
) -> int:
    """The cache instance (slice included) CPU `c` reaches at level `lv`, -1 if none:
    instruction fetches use the L1I where there is one."""
    b = l1i_base[c] if (lv == 0 and instr and l1i_base[c] >= 0) else path_base[c, lv]
    return -1 if b < 0 else b + _pick(h, path_slices[c, lv])


@njit
def _write_back(
    traffic: NDArray[np.int64],
    served: NDArray[np.float64],
    evicted: NDArray[np.int64],
    ch_first: int,
    ch_count: int,
    num_pmg: int,
    line_bytes: int,
    egress: NDArray[np.int64],
    egress_row: NDArray[np.int64],
    inst: int,
) -> None:
    """Send the dirty line a fill of last-level instance `inst` evicted (if any) to its
    channel, labelled with its owner: the channel's traffic and the instance's egress."""
    if evicted[0] < 0:
        return
    ch = ch_first + _pick(_hash(evicted[0]) >> 8, ch_count)
    p, g = evicted[1] // num_pmg, evicted[1] % num_pmg
    traffic[ch, p, g, _WRITE] += line_bytes
    served[ch, p] += line_bytes
    egress_add(egress, egress_row, inst, p, g, _WRITE, line_bytes)


@kernel
def run_tick(
    # caches (see mpam.hw.cache.CacheArrays)
    sets: NDArray[np.int64],
    inst_tab: NDArray[np.int64],
    occ: NDArray[np.int64],
    occ_part: NDArray[np.int64],
    ctl: NDArray[np.int64],
    num_pmg: int,
    policy: int,
    path_base: NDArray[np.int64],
    path_slices: NDArray[np.int64],
    l1i_base: NDArray[np.int64],
    level_ns: NDArray[np.float64],
    # memory (see mpam.hw.memory.ChannelArrays)
    peak: NDArray[np.float64],
    mem_latency: NDArray[np.float64],
    max_frac: NDArray[np.float64],
    min_frac: NDArray[np.float64],
    pbm_frac: NDArray[np.float64],
    weight: NDArray[np.float64],
    hard: NDArray[np.uint8],
    window_ns: NDArray[np.float64],
    used: NDArray[np.float64],
    window: NDArray[np.int64],
    util: NDArray[np.float64],
    cpu_channels: NDArray[np.int64],
    # CPUs and workloads
    cpu_i: NDArray[np.int64],
    cpu_t: NDArray[np.float64],
    demand_cpu: NDArray[np.float64],
    wl_i: NDArray[np.int64],
    wl_f: NDArray[np.float64],
    ph_i: NDArray[np.int64],
    ph_f: NDArray[np.float64],
    rng: NDArray[np.uint64],
    pool_i: NDArray[np.int64],
    pool_f: NDArray[np.float64],
    pool_u8: NDArray[np.uint8],
    # time, scaling, outputs and scratch space
    t_start: float,
    tick_ns: float,
    steps: int,
    freq_ghz: float,
    sample: int,
    stats: NDArray[np.float64],
    traffic: NDArray[np.int64],
    egress_row: NDArray[np.int64],
    egress: NDArray[np.int64],
    scratch_ch_p: NDArray[np.float64],
    scratch_cpu_ch: NDArray[np.float64],
    scratch_ch: NDArray[np.float64],
    scratch_p: NDArray[np.float64],
    scratch_i: NDArray[np.int64],
) -> None:
    """Advance every CPU through [t_start, t_start + tick_ns); see the module docstring.

    `cpu_t` holds each CPU's own clock (a reference may end past a step's end; the excess
    is carried). `traffic` (channel, PARTID, PMG, read/write) and `stats` accumulate, and so
    does `egress` (row, PARTID, PMG, read/write) for each cache instance `egress_row` maps
    to a row: the bytes that left it towards memory (see the module docstring).
    Scratch arrays: (3, channels, PARTIDs), (CPUs, channels), (4, channels), (4, PARTIDs),
    and 2 + 2 * levels integers: the line a fill evicted (address, label), then the
    instance each level of the current reference's path reaches, then its set there.
    """
    n_cpu = cpu_i.shape[0]
    n_ch = peak.shape[0]
    n_p = max_frac.shape[1]
    n_levels = path_base.shape[1]
    dt = tick_ns / steps
    line_bytes = 64 * sample
    demand, grant, served = scratch_ch_p[0], scratch_ch_p[1], scratch_ch_p[2]
    grant_cpu = scratch_cpu_ch
    moved, free, latency = scratch_ch[0], scratch_ch[1], scratch_ch[2]
    want, lvl = scratch_p[0], scratch_p[1:4]
    probe = 4.0 * line_bytes
    watch = False  # does an MBWU monitor watch a cache's egress? (else nothing to record)
    for x in range(egress_row.shape[0]):
        watch |= egress_row[x] >= 0
    for step in range(steps):
        t0 = t_start + step * dt
        t1 = t0 + dt
        demand[:] = 0.0
        for c in range(n_cpu):
            if cpu_i[c, _SLOT] >= 0:
                for ch in range(cpu_channels[c, 0], cpu_channels[c, 0] + cpu_channels[c, 1]):
                    demand[ch, cpu_i[c, _PD]] += demand_cpu[c, ch]
        arbitrate(peak, max_frac, min_frac, pbm_frac, weight, hard, window_ns, used, window,
                  demand, t0, dt, grant, want, lvl)  # fmt: skip
        for ch in range(n_ch):
            free[ch] = peak[ch] * dt - grant[ch].sum()
            latency[ch] = loaded_latency(mem_latency[ch], util[ch])
        for c in range(n_cpu):
            p = cpu_i[c, _PD]
            for ch in range(n_ch):
                d = demand[ch, p]
                grant_cpu[c, ch] = grant[ch, p] * demand_cpu[c, ch] / d if d > 0.0 else 0.0
        served[:] = 0.0
        for k in range(n_cpu):
            c = (k + step) % n_cpu  # rotate who borrows idle bandwidth first
            s = cpu_i[c, _SLOT]
            if s < 0:
                continue
            p = cpu_i[c, _PD]
            ch_first, ch_count = cpu_channels[c, 0], cpu_channels[c, 1]
            moved[:] = 0.0
            t = max(cpu_t[c], t0)
            t_begin = t
            blocked = -1
            cpi, ipr, mlp = wl_f[s, _CPI], wl_f[s, _IPR], wl_f[s, _MLP]
            base_ns = cpi * ipr / freq_ghz * sample
            duration, phase_ns = wl_f[s, _DURATION], wl_f[s, _PHASE_NS]
            # counted here and added to `stats` once the CPU's step is done
            refs = l1_misses = llc_refs = llc_misses = lines_read = lines_written = 0
            instructions, refs_before = 0.0, 0  # those of the phases that ended in the step
            pending = wl_i[s, _HASP]  # a reference refused bandwidth before, to retry
            while t < t1:
                if pending:
                    addr, flags = wl_i[s, _PLINE], wl_i[s, _PFLAGS]
                    pending = 0
                else:
                    addr, flags = _generate(wl_i, wl_f, rng, pool_i, pool_f, pool_u8, s)
                write = (flags & _WRITE_FLAG) != 0
                instr = (flags & _INSTR_FLAG) != 0
                partid = cpu_i[c, _PI] if instr else p
                pmg = cpu_i[c, _GI] if instr else cpu_i[c, _GD]
                h = _hash(addr)
                # Would this reference need the memory channel? Look before touching
                # anything, so that a reference refused bandwidth changes no state.
                served_at = n_levels  # level that hits; n_levels = memory
                hit_inst, hit_r, hit_i = -1, -1, -1
                for lv in range(n_levels):
                    inst = _instance(path_base, path_slices, l1i_base, c, lv, instr, h)
                    scratch_i[2 + lv] = inst
                    if inst >= 0:
                        r = set_base(inst_tab, inst, addr)
                        scratch_i[2 + n_levels + lv] = r
                        hit_i = cache_lookup(sets, r, inst_tab[inst, WAYS], addr)
                        if hit_i >= 0:
                            served_at, hit_inst, hit_r = lv, inst, r
                            break
                need_memory = served_at == n_levels
                ch = ch_first + _pick(h >> 8, ch_count)
                if need_memory:
                    if grant_cpu[c, ch] >= line_bytes:
                        grant_cpu[c, ch] -= line_bytes
                        grant[ch, p] -= line_bytes  # what p's CPUs may still spend
                    elif (
                        free[ch] >= line_bytes
                        and (
                            not hard[ch, p]
                            or used[ch, p] + served[ch, p] + grant[ch, p] + line_bytes
                            <= max_frac[ch, p] * peak[ch] * max(window_ns[ch, p], dt)
                        )
                        and (
                            pbm_frac[ch, p] >= 1.0
                            or used[ch, p] + served[ch, p] + grant[ch, p] + line_bytes
                            <= pbm_frac[ch, p] * peak[ch] * max(window_ns[ch, p], dt)
                        )
                    ):
                        free[ch] -= line_bytes
                    else:
                        wl_i[s, _PLINE], wl_i[s, _PFLAGS] = addr, flags
                        pending = 1
                        blocked = ch
                        break
                refs += 1
                cost = base_ns
                if served_at > 0:
                    l1_misses += 1
                if served_at >= n_levels - 1 and n_levels > 1:
                    llc_refs += 1
                # The level that hit makes the line its most recent (and dirty, if it is
                # the last and this is a write); the levels that missed (inner ones) fill
                # it, and a write goes through to the last.
                last = n_levels - 1
                if hit_inst >= 0:
                    cache_touch(sets, inst_tab, occ, num_pmg, hit_inst, hit_r, hit_i,
                                write and served_at == last, policy)  # fmt: skip
                for lv in range(min(served_at, n_levels)):
                    inst = scratch_i[2 + lv]
                    if inst < 0:
                        continue
                    i = cache_fill(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst,
                                   scratch_i[2 + n_levels + lv], addr, partid, pmg,
                                   write and lv == last, policy, scratch_i)  # fmt: skip
                    if lv == last:
                        _write_back(traffic, served, scratch_i, ch_first, ch_count, num_pmg,
                                    line_bytes, egress, egress_row, inst)  # fmt: skip
                    elif watch:  # an inner level's miss fetched the line from the next
                        egress_add(egress, egress_row, inst, partid, pmg, _READ, line_bytes)
                    if lv == last and i < 0 and write:
                        traffic[ch, partid, pmg, _WRITE] += line_bytes
                        lines_written += 1
                        served[ch, partid] += line_bytes
                        if watch:  # not allocated: the write goes on to memory
                            egress_add(egress, egress_row, inst, partid, pmg, _WRITE,
                                       line_bytes)  # fmt: skip
                if write and watch:
                    # written through: the write crosses every inner level on its way
                    for lv in range(last):
                        inst = _instance(path_base, path_slices, l1i_base, c, lv, instr, h)
                        egress_add(egress, egress_row, inst, partid, pmg, _WRITE, line_bytes)
                if write and not need_memory and served_at < last:
                    # a write hit in an inner level still dirties the last level's line
                    inst = _instance(path_base, path_slices, l1i_base, c, last, instr, h)
                    if inst >= 0:
                        r = cache_access(sets, inst_tab, occ, occ_part, ctl, num_pmg, inst,
                                         addr, partid, pmg, True, policy, scratch_i)  # fmt: skip
                        if r != HIT:
                            # the line had left the last level: read it back for ownership
                            traffic[ch, partid, pmg, _READ] += line_bytes
                            lines_read += 1
                            served[ch, partid] += line_bytes
                            moved[ch - ch_first] += line_bytes
                            if watch:
                                egress_add(egress, egress_row, inst, partid, pmg, _READ,
                                           line_bytes)  # fmt: skip
                        _write_back(traffic, served, scratch_i, ch_first, ch_count, num_pmg,
                                    line_bytes, egress, egress_row, inst)  # fmt: skip
                if need_memory:
                    llc_misses += 1
                    if watch:
                        egress_add(egress, egress_row, scratch_i[2 + last], partid, pmg, _READ,
                                   line_bytes)  # fmt: skip
                    traffic[ch, partid, pmg, _READ] += line_bytes
                    lines_read += 1
                    served[ch, partid] += line_bytes
                    moved[ch - ch_first] += line_bytes
                    if not write:
                        cost += (level_ns[last] + latency[ch]) / mlp * sample
                elif served_at > 0 and not write:
                    cost += level_ns[served_at] / mlp * sample
                t += cost
                if duration > 0.0:
                    # Phases change at the reference that ends one, not at the tick.
                    phase_ns += cost
                    if phase_ns >= duration:
                        instructions += (refs - refs_before) * ipr
                        refs_before = refs
                        phase_ns = 0.0
                        _next_phase(wl_i, wl_f, ph_i, ph_f, s)
                        cpi, ipr, mlp = wl_f[s, _CPI], wl_f[s, _IPR], wl_f[s, _MLP]
                        base_ns = cpi * ipr / freq_ghz * sample
                        duration = wl_f[s, _DURATION]
            wl_i[s, _HASP] = pending
            if blocked >= 0 and duration > 0.0:
                phase_ns += t1 - t  # waiting for bandwidth is run time too
            wl_f[s, _PHASE_NS] = phase_ns
            stats[s, _REFS] += refs * sample
            stats[s, _INSTR] += (instructions + (refs - refs_before) * ipr) * sample
            stats[s, _L1M] += l1_misses * sample
            stats[s, _LLCR] += llc_refs * sample
            stats[s, _LLCM] += llc_misses * sample
            stats[s, _RB] += lines_read * line_bytes
            stats[s, _WB] += lines_written * line_bytes
            if blocked >= 0:
                stats[s, _STALL] += t1 - t
                active = t - t_begin
                cpu_t[c] = t1
            else:
                active = t - t_begin
                cpu_t[c] = t
            stats[s, _RUN] += max(min(t, t1) - t_begin, 0.0) + (t1 - t if blocked >= 0 else 0.0)
            for ch in range(n_ch):  # what this CPU left of its grant is idle bandwidth now
                grant[ch, p] -= grant_cpu[c, ch]
                free[ch] += grant_cpu[c, ch]
            for j in range(ch_count):
                ch = ch_first + j
                # its rate while it ran: stalls are excluded, so this is its demand
                rate = moved[j] * dt / active if active > 0.0 else 0.0
                demand_cpu[c, ch] = max(rate, probe)
        for ch in range(n_ch):
            total = 0.0
            for q in range(n_p):
                used[ch, q] += served[ch, q]
                total += served[ch, q]
            util[ch] = total / (peak[ch] * dt)
