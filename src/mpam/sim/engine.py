"""The engine that advances simulated time: tasks run workloads through the memory system.

Each scheduler tick: the engine reads which task each online CPU is running and the
labels its MPAM registers give that task's requests (data and instruction), decodes the
MSCs' controls, and makes one call to the traffic kernel (`mpam.sim.traffic.run_tick`),
which also moves each workload from phase to phase at the reference that ends a phase.
Then the MBWU monitors count the tick's bytes (a channel's, or a cache's egress), and the
kernel model lets the tick pass (timers fire, work runs, every CPU schedules, and context
switches relabel the next tick's traffic).

A workload belongs to a task (`attach`); its state lives in a *slot* that follows the task
from CPU to CPU. Everything is a function of the seed and the order of operations: the
wall clock is never read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mpam.hw.build import Hardware
from mpam.hw.cache import POLICIES
from mpam.hw.cpu import Access
from mpam.hw.memsys import MemorySystem
from mpam.kernel.boot import TICK_NS, Kernel
from mpam.kernel.tasks import Task
from mpam.platform.model import Platform
from mpam.sim.traffic import (
    CPU_FIELDS,
    KIND_CODES,
    PHASE_FLOAT_FIELDS,
    PHASE_INT_FIELDS,
    STAT_FIELDS,
    WL_FLOAT_FIELDS,
    WL_INT_FIELDS,
    run_tick,
)
from mpam.sim.workload import LINE, Phase, Workload, chase_cycle, sample_trace, zipf_cdf

__all__ = ["STEPS_PER_TICK", "Engine", "TaskStats"]

#: Steps of a tick at which the memory channels re-arbitrate (250 µs at HZ=250).
STEPS_PER_TICK = 16

_I = {name: i for i, name in enumerate(WL_INT_FIELDS)}
_F = {name: i for i, name in enumerate(WL_FLOAT_FIELDS)}
_C = {name: i for i, name in enumerate(CPU_FIELDS)}


@dataclass
class TaskStats:
    """What a task's workload has done so far (counts scaled to the real machine)."""

    pid: int
    workload: str
    instructions: float = 0.0
    run_ns: float = 0.0
    refs: float = 0.0
    l1_misses: float = 0.0
    llc_refs: float = 0.0
    llc_misses: float = 0.0
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    stall_ns: float = 0.0
    frequency_ghz: float = 1.0

    @property
    def ipc(self) -> float:
        cycles = self.run_ns * self.frequency_ghz
        return self.instructions / cycles if cycles else 0.0

    @property
    def llc_miss_ratio(self) -> float:
        return self.llc_misses / self.llc_refs if self.llc_refs else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {"pid": self.pid, "workload": self.workload}
        for name in STAT_FIELDS:
            out[name] = getattr(self, name)
        out["frequency_ghz"] = self.frequency_ghz
        out["ipc"] = self.ipc
        out["llc_miss_ratio"] = self.llc_miss_ratio
        return out


@dataclass
class _Slot:
    task: Task
    workload: Workload
    index: int
    done: bool = False


class Engine:
    """Workloads, the memory system and the kernel's clock, advanced tick by tick."""

    def __init__(
        self,
        platform: Platform,
        hw: Hardware,
        kernel: Kernel,
        *,
        sample: int = 1,
        policy: str = "lru",
        seed: int = 0,
        tick_ns: int = TICK_NS,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"replacement policy {policy!r} is not one of {sorted(POLICIES)}")
        self.platform = platform
        self.hw = hw
        self.kernel = kernel
        self.mem = MemorySystem(platform, hw, sample=sample)
        self.sample = sample
        self.policy = POLICIES[policy]
        self.seed = seed
        self.tick_ns = tick_ns
        ncpu = len(hw.cpus)
        nch = len(self.mem.channels.peak)
        self.cpu_i = np.full((ncpu, len(CPU_FIELDS)), 0, dtype=np.int64)
        self.cpu_t = np.zeros(ncpu)
        self._last_slot = np.full(ncpu, -1, dtype=np.int64)
        self.demand_cpu = np.zeros((ncpu, nch))
        self.wl_i = np.zeros((0, len(WL_INT_FIELDS)), dtype=np.int64)
        self.wl_f = np.zeros((0, len(WL_FLOAT_FIELDS)))
        #: every workload's phases, one row each; the traffic kernel starts them in turn
        self.ph_i = np.zeros((0, len(PHASE_INT_FIELDS)), dtype=np.int64)
        self.ph_f = np.zeros((0, len(PHASE_FLOAT_FIELDS)))
        self.rng = np.zeros(0, dtype=np.uint64)
        self.stats = np.zeros((0, len(STAT_FIELDS)))
        self.pool_i = np.zeros(1, dtype=np.int64)
        self.pool_f = np.zeros(1)
        self.pool_u8 = np.zeros(1, dtype=np.uint8)
        self.slots: dict[int, _Slot] = {}
        #: bytes moved by (channel, PARTID, PMG, read/write) since boot
        self.traffic_total = np.zeros(
            (nch, self.mem.num_partid, self.mem.num_pmg, 2), dtype=np.int64
        )
        self.ticks = 0
        npart = self.mem.num_partid
        self._scratch = (
            np.zeros((3, nch, npart)),
            np.zeros((ncpu, nch)),
            np.zeros((4, nch)),
            np.zeros((4, npart)),
            np.zeros(2 + 2 * self.mem.path_base.shape[1], dtype=np.int64),
        )

    # -- workloads ---------------------------------------------------------------------

    def attach(self, task: Task, workload: Workload) -> None:
        """Make `task` run `workload` from now on, and wake it."""
        if task.is_idle or task.kthread:
            raise ValueError(f"task {task.pid} ({task.comm}) cannot run a workload")
        if task.pid in self.slots:
            raise ValueError(f"task {task.pid} already runs a workload")
        index = len(self.wl_i)
        slot = _Slot(task, workload, index)
        self.slots[task.pid] = slot
        self.wl_i = np.vstack([self.wl_i, np.zeros((1, len(WL_INT_FIELDS)), dtype=np.int64)])
        self.wl_f = np.vstack([self.wl_f, np.zeros((1, len(WL_FLOAT_FIELDS)))])
        self.stats = np.vstack([self.stats, np.zeros((1, len(STAT_FIELDS)))])
        # A per-task random stream: the seed and the pid decide it.
        mixed = (self.seed * 0x9E3779B1 + task.pid * 0x85EBCA77 + 1) & 0xFFFF_FFFF_FFFF_FFFF
        self.rng = np.append(self.rng, np.uint64(mixed or 1))
        first = len(self.ph_i)
        rows_i = np.zeros((len(workload.phases), len(PHASE_INT_FIELDS)), dtype=np.int64)
        rows_f = np.zeros((len(workload.phases), len(PHASE_FLOAT_FIELDS)))
        for k, phase in enumerate(workload.phases):
            self._phase_row(rows_i[k], rows_f[k], phase, task, self._add_table(phase, task.pid + k))
        self.ph_i = np.vstack([self.ph_i, rows_i])
        self.ph_f = np.vstack([self.ph_f, rows_f])
        row, frow = self.wl_i[index], self.wl_f[index]
        row[: len(PHASE_INT_FIELDS)] = rows_i[0]
        frow[: len(PHASE_FLOAT_FIELDS)] = rows_f[0]
        row[_I["phase_first"]], row[_I["phase_count"]] = first, len(workload.phases)
        self.kernel.scheduler.wake(task)

    def _add_table(self, phase: Phase, seed: int) -> tuple[int, int]:
        """Append the phase's lookup table to the pools: (offset, entries)."""
        n = self._lines(phase)
        if phase.kind == "zipf":
            table_f = zipf_cdf(n, phase.alpha)
            offset = len(self.pool_f)
            self.pool_f = np.concatenate([self.pool_f, table_f])
            return offset, n
        if phase.kind == "chase":
            perm = chase_cycle(n, self.seed * 7919 + seed)
            offset = len(self.pool_i)
            self.pool_i = np.concatenate([self.pool_i, perm])
            self.pool_u8 = np.concatenate([self.pool_u8, np.zeros(n, dtype=np.uint8)])
            return offset, n
        if phase.kind == "trace":
            assert phase.trace is not None
            trace = sample_trace(phase.trace, self.sample)
            offset = len(self.pool_i)
            self.pool_i = np.concatenate([self.pool_i, trace.lines.astype(np.int64)])
            self.pool_u8 = np.concatenate([self.pool_u8, trace.flags.astype(np.uint8)])
            return offset, len(trace.lines)
        return 0, 0

    def _lines(self, phase: Phase) -> int:
        return max(1, phase.footprint // LINE // self.sample)

    def _phase_row(
        self,
        row: NDArray[np.int64],
        frow: NDArray[np.float64],
        phase: Phase,
        task: Task,
        table: tuple[int, int],
    ) -> None:
        """The state a phase starts from (PHASE_INT_FIELDS, PHASE_FLOAT_FIELDS)."""
        offset, entries = table
        row[_I["kind"]] = KIND_CODES[phase.kind]
        row[_I["lines"]] = entries if phase.kind == "trace" else self._lines(phase)
        row[_I["stride"]] = max(1, phase.stride)
        # Each process has its own memory; threads share their process's.
        row[_I["base"]] = (task.tgid + 1) << 36
        row[_I["table"]] = offset
        row[_I["table_len"]] = max(entries, 1)
        frow[_F["cpi"]] = phase.cpi
        frow[_F["inst_per_ref"]] = 1.0 / phase.intensity
        frow[_F["mlp"]] = phase.mlp
        frow[_F["write_ratio"]] = phase.write_ratio
        frow[_F["duration_ns"]] = float(phase.duration_ns)

    def detach(self, pid: int) -> None:
        """The task stops running its workload (it keeps its statistics)."""
        slot = self.slots.get(pid)
        if slot is not None:
            slot.done = True

    def task_stats(self, pid: int) -> TaskStats:
        slot = self.slots[pid]
        row = self.stats[slot.index]
        values = {name: float(row[i]) for i, name in enumerate(STAT_FIELDS)}
        return TaskStats(pid, slot.workload.spec, frequency_ghz=self.mem.frequency_ghz, **values)

    def all_stats(self) -> list[TaskStats]:
        return [self.task_stats(pid) for pid in sorted(self.slots)]

    # -- time --------------------------------------------------------------------------

    def _prepare_cpus(self, t_start: float) -> None:
        sched = self.kernel.scheduler
        online = sched.online
        for c, cpu in enumerate(self.hw.cpus):
            task = sched.current(c)
            slot = self.slots.get(task.pid) if not task.is_idle else None
            if c not in online or slot is None or slot.done or slot.task is not task:
                self.cpu_i[c, _C["slot"]] = -1
                self._last_slot[c] = -1
                continue
            if self._last_slot[c] != slot.index:
                self.cpu_t[c] = t_start  # a new task starts on this CPU
                self._last_slot[c] = slot.index
            d = cpu.label(Access.DATA, 0, hcr_tge=True)
            i = cpu.label(Access.INSTRUCTION, 0, hcr_tge=True)
            for label in (d, i):
                if label.partid >= self.mem.num_partid or label.pmg >= self.mem.num_pmg:
                    raise RuntimeError("a CPU produced a label beyond its own MPAMIDR limits")
                self.mem.check_label(label.partid, label.pmg)
            self.cpu_i[c] = (slot.index, d.partid, d.pmg, i.partid, i.pmg)

    def tick(self) -> None:
        """Simulate one scheduler tick of traffic, then let the kernel's tick pass."""
        clock = self.kernel.clock
        t_start = float(clock.now_ns)
        self._prepare_cpus(t_start)
        if (self.cpu_i[:, _C["slot"]] >= 0).any():
            self.mem.refresh()
            self.mem.arm_egress()
            traffic = np.zeros_like(self.traffic_total)
            c, ch = self.mem.caches, self.mem.channels
            run_tick(
                c.sets, c.inst, c.occ, c.occ_part, c.ctl, c.num_pmg, self.policy,
                self.mem.path_base, self.mem.path_slices,
                self.mem.l1i_base, self.mem.latency_cycles / self.mem.frequency_ghz,
                ch.peak, ch.latency, ch.max_frac, ch.min_frac, ch.pbm_frac, ch.weight,
                ch.hard, ch.window_ns, ch.used, ch.window, ch.util, self.mem.cpu_channels,
                self.cpu_i, self.cpu_t, self.demand_cpu, self.wl_i, self.wl_f, self.ph_i,
                self.ph_f, self.rng,
                self.pool_i, self.pool_f, self.pool_u8, t_start, float(self.tick_ns),
                STEPS_PER_TICK, self.mem.frequency_ghz, self.sample, self.stats, traffic,
                self.mem.egress_row, self.mem.egress, *self._scratch,
            )  # fmt: skip
            self.traffic_total += traffic
            self.mem.count(traffic)
        self.kernel.run(self.tick_ns, tick_ns=self.tick_ns)
        self.ticks += 1

    def run(self, ns: int) -> None:
        """Advance simulated time by `ns` (whole ticks; a remainder passes without traffic)."""
        if ns < 0:
            raise ValueError("time only moves forward")
        ticks, rest = divmod(ns, self.tick_ns)
        for _ in range(ticks):
            self.tick()
        if rest:
            self.kernel.run(rest, tick_ns=rest)

    def label_bytes(self, partid: int, pmg: int) -> int:
        """Bytes moved to and from memory with this label since boot, every channel."""
        return int(self.traffic_total[:, partid, pmg].sum())
