"""MPAM's implementation of the resctrl arch interface (drivers/resctrl/mpam_resctrl.c).

Read for behaviour, written anew. Once the driver has enabled MPAM it offers resctrl:

- ``L3`` and ``L2`` from the cache classes of those levels that partition portions (CPBM of
  at most 32 bits) and reach every CPU: one domain per cache (the PPTT cache id);
- ``MB`` from the class nearest the L3 whose MBW_MAX can limit bandwidth and whose
  components line up with the L3s (a memory class qualifies only on a single-L3, single-node
  machine); its domains take the L3's cache ids;
- ``llc_occupancy`` monitoring from the L3 class's CSU monitors;
- ``mbm_total_bytes`` from the MBWU monitors of a class that carries the L3's traffic and
  lines up with it (picked as for MB). With a monitor for every (PARTID, PMG) they run
  free, one per label; with fewer, they are counters that resctrl assigns (mbm_event mode,
  fixed: MPAM cannot leave it), as the v7.3 counter-assignment series does. Linux v7.1
  only exposes free-running counters; v7.3 uses assignment even when there are enough.
  Under CDP a counter needs a monitor for each of its two PARTIDs, so there are half as
  many.

CLOSID = PARTID (two PARTIDs per CLOSID under CDP); RMID = PMG, indexed closid x (PMG_MAX +
1) + pmg; a task's and a CPU's labels are the kernel's thread_info word and per-CPU
default, so the next context switch carries them to MPAM0_EL1.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from mpam.driver.mpam_devices import MpamDriver
from mpam.driver.mpam_internal import Feature, MpamClass, MpamComponent, MpamConfig
from mpam.driver.mpam_msmon import MonCfg, MonType, Msmon
from mpam.firmware import ClassType
from mpam.kernel import Kernel, mpam_regval
from mpam.resctrl.arch import (
    CdpType,
    CtrlDomain,
    EventId,
    MonDomain,
    RdtResource,
    ResctrlArch,
    ResourceId,
    SchemaFormat,
    ThrottleMode,
)

__all__ = ["MpamResctrl", "mbw_max_to_percent", "percent_to_mbw_max"]


def _drc(a: int, b: int) -> int:
    """DIV_ROUND_CLOSEST for non-negative values."""
    return (a + b // 2) // b


def percent_to_mbw_max(pc: int, bwa_wd: int) -> int:
    """The MBW_MAX fraction for `pc` percent: the band whose upper bound is nearest."""
    value = _drc((pc & 0xFF) << bwa_wd, 100)
    value = max(value, 1) - 1
    return (value << (16 - bwa_wd)) & 0xFFFF


def mbw_max_to_percent(mbw_max: int, bwa_wd: int) -> int:
    """The percentage an MBW_MAX value allows: its band's upper bound, rounded."""
    value = (mbw_max >> (16 - bwa_wd)) + 1
    return _drc(value * 100, 1 << bwa_wd)


def bw_gran(bwa_wd: int) -> int:
    """info/MB/bandwidth_gran: ceil(100 / 2^bwa_wd), never below 1."""
    return max(1, -(-100 // (1 << bwa_wd)))


class MpamResctrl(ResctrlArch):
    """The resctrl resources of one booted MPAM machine."""

    rmid_depends_on_closid = True  # ARM64_MPAM_RESCTRL_FS selects it: RMID = PMG of a PARTID

    def __init__(self, driver: MpamDriver, msmon: Msmon, kernel: Kernel) -> None:
        self.driver = driver
        self.msmon = msmon
        self.kernel = kernel
        self.cdp_enabled = False  # CDP is global for CPU traffic once any resource asks
        self._cdp_rids: set[ResourceId] = set()
        self._possible = frozenset(range(len(kernel.hw.cpus)))
        self._classes: dict[ResourceId, MpamClass] = {}
        self._resources: dict[ResourceId, RdtResource] = {}
        self._mon_class: MpamClass | None = None
        self._mbm_class: MpamClass | None = None
        #: (domain id, counter id) -> (closid, rmid) it counts, in mbm_event mode
        self._cntrs: dict[tuple[int, int], tuple[int, int]] = {}
        self._l3_of_cpu: dict[int, int] = {}
        self._setup()

    # --- picking classes ------------------------------------------------------------------

    def _cache_class(self, level: int) -> MpamClass | None:
        return self.driver.classes.get((ClassType.CACHE, level))

    def _alloc_cache_ok(self, k: MpamClass) -> bool:
        p = k.props
        return p.has(Feature.cpor_part) and 0 < p.cpbm_wd <= 32 and k.affinity == self._possible

    def _setup(self) -> None:
        l3 = self._cache_class(3)
        if l3 is not None:
            for comp in l3.components.values():
                for cpu in comp.affinity:
                    self._l3_of_cpu[cpu] = comp.comp_id
        for rid, level in ((ResourceId.L3, 3), (ResourceId.L2, 2)):
            k = self._cache_class(level)
            r = RdtResource(rid, rid.name, schema_fmt=SchemaFormat.BITMAP, cdp_capable=True)
            if k is not None and self._alloc_cache_ok(k):
                self._classes[rid] = k
                r.alloc_capable = True
                r.cbm_len = k.props.cpbm_wd
                r.min_cbm_bits = 1  # mpam_devices rejects empty bitmaps
                r.shareable_bits = (1 << r.cbm_len) - 1  # unknown devices use PARTID 0
                r.arch_has_sparse_bitmasks = True
                r.ctrl_domains = self._domains(k)
            self._resources[rid] = r
        mb = RdtResource(ResourceId.MBA, "MB", schema_fmt=SchemaFormat.RANGE, delay_linear=True)
        mb.throttle_mode = ThrottleMode.UNDEFINED
        k = self._pick_mb()
        if k is not None:
            w = k.props.bwa_wd
            self._classes[ResourceId.MBA] = k
            mb.alloc_capable = True
            mb.min_bw = mbw_max_to_percent(0, w)
            mb.bw_gran = bw_gran(w)
            mb.ctrl_domains = self._domains(k)
        self._resources[ResourceId.MBA] = mb
        self._resources[ResourceId.SMBA] = RdtResource(
            ResourceId.SMBA, "SMBA", schema_fmt=SchemaFormat.RANGE
        )
        self._setup_monitors()

    def _domain_id(self, k: MpamClass, comp: MpamComponent) -> int:
        """A cache class's domains are its caches; a class that lines up with the L3 takes
        the L3's cache id; otherwise the firmware component id (a NUMA node)."""
        if k.type is ClassType.CACHE:
            return comp.comp_id
        cpus = sorted(comp.affinity)
        if cpus and cpus[0] in self._l3_of_cpu and self._matches_l3(k):
            return self._l3_of_cpu[cpus[0]]
        return comp.comp_id

    def _domains(self, k: MpamClass) -> list[CtrlDomain]:
        out = [
            CtrlDomain(self._domain_id(k, c), frozenset(c.affinity)) for c in k.components.values()
        ]
        return sorted(out, key=lambda d: d.id)

    def _matches_l3(self, k: MpamClass) -> bool:
        l3 = self._cache_class(3)
        if l3 is None:
            return False
        l3_sets = {frozenset(c.affinity) for c in l3.components.values()}
        return all(frozenset(c.affinity) in l3_sets for c in k.components.values())

    def _pick_mb(self) -> MpamClass | None:
        """The class nearest the L3 that can limit bandwidth for the L3's traffic."""
        return self._pick_l3_egress(lambda k: k.props.has(Feature.mbw_max) and k.props.bwa_wd > 0)

    def _pick_mbm(self) -> MpamClass | None:
        """The class nearest the L3 whose MBWU monitors can count the L3's traffic."""
        return self._pick_l3_egress(
            lambda k: k.props.has(Feature.msmon_mbwu) and k.props.num_mbwu_mon > 0
        )

    def _pick_l3_egress(self, usable: Callable[[MpamClass], bool]) -> MpamClass | None:
        """The usable class nearest the L3 that sees all of the L3's egress traffic: the L3
        itself, or memory behind a single L3 on a single node without memory-side caches."""
        candidates = []
        l3 = self._cache_class(3)
        for k in self.driver.classes.values():
            if k.type is ClassType.CACHE and k.level != 3:
                continue
            if k.type is ClassType.UNKNOWN:
                continue
            if not usable(k):
                continue
            if k.affinity != self._possible or not self._matches_l3(k):
                continue
            if k.type is ClassType.MEMORY:
                single_l3 = l3 is not None and len(l3.components) == 1
                nodes = len(k.components) == 1
                memory_side = any(c.type is ClassType.UNKNOWN for c in self.driver.classes.values())
                if not (single_l3 and nodes and not memory_side):
                    continue
            candidates.append(k)
        return min(candidates, key=lambda k: k.level, default=None)

    def _setup_monitors(self) -> None:
        l3 = self._cache_class(3)
        r = self._resources[ResourceId.L3]
        if l3 is None or l3.affinity != self._possible:
            return
        events = []
        if l3.props.has(Feature.msmon_csu) and l3.props.num_csu_mon >= 1:
            self._mon_class = l3
            events.append(EventId.LLC_OCCUPANCY)
        self._mbm_class = self._pick_mbm()
        if self._mbm_class is not None:
            events.append(EventId.MBM_TOTAL_BYTES)
            if self._mbm_class.props.num_mbwu_mon < self.system_num_rmid_idx():
                r.mbm_cntr_assignable = r.mbm_cntr_assign_fixed = True
                r.num_mbm_cntrs = self._mbm_class.props.num_mbwu_mon
        if not events:
            return
        r.mon_capable = True
        r.events = tuple(events)
        r.num_rmid = self.system_num_rmid_idx()
        r.mon_domains = [MonDomain(d.id, d.cpus) for d in self._domains(l3)]

    # --- sizes ----------------------------------------------------------------------------

    def resources(self) -> list[RdtResource]:
        return [self._resources[rid] for rid in sorted(self._resources)]

    def get_num_closid(self, r: RdtResource) -> int:
        return self.driver.partid_max + 1

    def system_num_rmid_idx(self) -> int:
        return (self.driver.pmg_max + 1) * (self.driver.partid_max + 1)

    def rmid_idx_encode(self, closid: int, rmid: int) -> int:
        return closid * (self.driver.pmg_max + 1) + rmid

    def rmid_idx_decode(self, idx: int) -> tuple[int, int]:
        return divmod(idx, self.driver.pmg_max + 1)

    # --- controls -------------------------------------------------------------------------

    def _partid(self, closid: int, t: CdpType) -> int:
        """resctrl_get_config_index: CODE 2c+1, DATA 2c, NONE c."""
        if t is CdpType.CODE:
            return 2 * closid + 1
        if t is CdpType.DATA:
            return 2 * closid
        return closid

    def _comp_of(self, k: MpamClass | None, dom_id: int) -> MpamComponent | None:
        """The component of class `k` behind the resctrl domain `dom_id`."""
        if k is None:
            return None
        return next((c for c in k.components.values() if self._domain_id(k, c) == dom_id), None)

    def _component(self, r: RdtResource, d: CtrlDomain) -> MpamComponent | None:
        return self._comp_of(self._classes.get(r.rid), d.id)

    def get_config(self, r: RdtResource, d: CtrlDomain, closid: int, t: CdpType) -> int:
        comp = self._component(r, d)
        if comp is None or not comp.cfg:
            return r.default_ctrl
        if self.cdp_enabled and t is CdpType.NONE:
            t = CdpType.DATA  # a resource without CDP while CDP is on reads the data PARTID
        partid = self._partid(closid, t if self.cdp_enabled else CdpType.NONE)
        cfg = comp.cfg[partid]
        if r.schema_fmt is SchemaFormat.BITMAP:
            return cfg.cpbm if Feature.cpor_part in cfg.features else r.default_ctrl
        if Feature.mbw_max in cfg.features:
            return mbw_max_to_percent(cfg.mbw_max, comp.klass.props.bwa_wd)
        return r.max_bw

    def update_one(self, r: RdtResource, d: CtrlDomain, closid: int, t: CdpType, value: int) -> int:
        comp = self._component(r, d)
        if comp is None:
            return -errno.EINVAL
        if self.cdp_enabled and t is CdpType.NONE:
            # A resource without CDP while CDP is on: both PARTIDs get the value.
            partids = [self._partid(closid, CdpType.DATA), self._partid(closid, CdpType.CODE)]
        else:
            partids = [self._partid(closid, t if self.cdp_enabled else CdpType.NONE)]
        for partid in partids:
            cfg = comp.cfg[partid].copy()
            if r.schema_fmt is SchemaFormat.BITMAP:
                cfg.features.add(Feature.cpor_part)
                cfg.cpbm = value
            else:
                cfg.features.add(Feature.mbw_max)
                cfg.mbw_max = percent_to_mbw_max(value, comp.klass.props.bwa_wd)
            err = self.driver.apply_config(comp, partid, cfg)
            if err:
                return err
        return 0

    def reset_all_ctrls(self, r: RdtResource) -> None:
        k = self._classes.get(r.rid)
        if k is None:
            return
        for comp in k.components.values():
            comp.cfg = [MpamConfig() for _ in comp.cfg]
            for vmsc in comp.vmscs:
                for ris in vmsc.ris:
                    ris.in_reset_state = False
                    self.driver.reset_ris(ris)

    def set_cdp_enabled(self, rid: ResourceId, enable: bool) -> int:
        """CDP on MPAM: code and data take separate PARTIDs for all CPU traffic; every task
        and CPU goes back to CLOSID 0, RMID 0."""
        if enable and self.driver.partid_max < 1:
            return -errno.EINVAL
        if enable:
            self.kernel.klog.log(
                "warn",
                "mpam:resctrl_arch_set_cdp_enabled: CDP is an expert feature and may cause MPAM to malfunction.",
            )
            self._cdp_rids.add(rid)
        else:
            self._cdp_rids.discard(rid)
        enable = bool(self._cdp_rids)
        self.cdp_enabled = enable
        sched = self.kernel.scheduler
        default = self._labels(0, 0)
        sched.arm64_mpam_global_default = mpam_regval(*default)
        for task in self.kernel.tasks:
            sched.mpam_set_task_partid_pmg(task, *default)
        for cpu in self._possible:
            sched.mpam_set_cpu_defaults(cpu, *default)
        self._resources[ResourceId.MBA].alloc_capable = (
            not enable and ResourceId.MBA in self._classes
        )
        l3 = self._resources[ResourceId.L3]
        if l3.mbm_cntr_assignable and self._mbm_class is not None:
            l3.num_mbm_cntrs = self._mbm_class.props.num_mbwu_mon // (2 if enable else 1)
        self._cntrs.clear()
        return 0

    def get_cdp_enabled(self, rid: ResourceId) -> bool:
        return rid in self._cdp_rids

    # --- labels ---------------------------------------------------------------------------

    def _labels(self, closid: int, rmid: int) -> tuple[int, int, int, int]:
        """(partid_d, partid_i, pmg_d, pmg_i) for a CLOSID and RMID."""
        if self.cdp_enabled:
            return 2 * closid, 2 * closid + 1, rmid, rmid
        return closid, closid, rmid, rmid

    def set_closid_rmid(self, pid: int, closid: int, rmid: int) -> None:
        task = self.kernel.tasks[pid]
        self.kernel.scheduler.mpam_set_task_partid_pmg(task, *self._labels(closid, rmid))

    def set_cpu_default_closid_rmid(self, cpu: int, closid: int, rmid: int) -> None:
        self.kernel.scheduler.mpam_set_cpu_defaults(cpu, *self._labels(closid, rmid))

    def sync_cpu_closid_rmid(self, cpu: int) -> None:
        if cpu in self.kernel.cpuhp.online_mask:
            self.kernel.scheduler.mpam_thread_switch(cpu)

    def match_closid(self, pid: int, closid: int) -> bool:
        partid = self.kernel.tasks[pid].labels.partid_d
        return (partid >> 1 if self.cdp_enabled else partid) == closid

    def match_rmid(self, pid: int, closid: int, rmid: int) -> bool:
        return self.match_closid(pid, closid) and self.kernel.tasks[pid].labels.pmg_d == rmid

    # --- monitoring -----------------------------------------------------------------------

    def _partids(self, closid: int) -> list[int]:
        return [2 * closid, 2 * closid + 1] if self.cdp_enabled else [closid]

    def _mbm_component(self, d: MonDomain) -> MpamComponent | None:
        return self._comp_of(self._mbm_class, d.id)

    def _read_sum(
        self, comp: MpamComponent, type_: MonType, mons: list[int], closid: int, rmid: int
    ) -> tuple[int, int]:
        """Sum the monitors `mons`, one per PARTID of `closid` (two under CDP), each
        matching PMG `rmid`; a failed read ends the sum with its errno."""
        total = 0
        for mon, partid in zip(mons, self._partids(closid), strict=True):
            err, value = self.msmon.read(comp, MonCfg(mon, partid, rmid, match_pmg=True), type_)
            if err:
                return err, total
            total += value
        return 0, total

    def _label_mons(self, closid: int, rmid: int) -> list[int]:
        """Free-running monitors: one per hardware (PARTID, PMG) label."""
        n = self.driver.pmg_max + 1
        return [partid * n + rmid for partid in self._partids(closid)]

    def _cntr_mons(self, cntr_id: int) -> list[int]:
        """An assignable counter's monitors: itself, or a pair under CDP."""
        return [2 * cntr_id, 2 * cntr_id + 1] if self.cdp_enabled else [cntr_id]

    def mbm_cntr_assign_enabled(self, r: RdtResource) -> bool:
        return r.mbm_cntr_assignable  # fixed: always in mbm_event mode when assignable

    def config_cntr(
        self, r: RdtResource, d: MonDomain, event: EventId, closid: int, rmid: int,
        cntr_id: int, assign: bool,
    ) -> None:  # fmt: skip
        """Point counter `cntr_id` at (closid, rmid), its count starting from zero."""
        comp = self._mbm_component(d)
        if comp is None:
            return
        if not assign:
            self._cntrs.pop((d.id, cntr_id), None)
            return
        self._cntrs[(d.id, cntr_id)] = (closid, rmid)
        for mon, partid in zip(self._cntr_mons(cntr_id), self._partids(closid), strict=True):
            self.msmon.reset_mbwu(comp, MonCfg(mon, partid, rmid, match_pmg=True))
        self._read_sum(comp, MonType.MBWU, self._cntr_mons(cntr_id), closid, rmid)  # program it now

    def cntr_read(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, cntr_id: int, event: EventId
    ) -> tuple[int, int]:
        comp = self._mbm_component(d)
        if comp is None or event is not EventId.MBM_TOTAL_BYTES:
            return -errno.EINVAL, 0
        if self._cntrs.get((d.id, cntr_id)) != (closid, rmid):
            return -errno.ENOENT, 0
        return self._read_sum(comp, MonType.MBWU, self._cntr_mons(cntr_id), closid, rmid)

    def rmid_read(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, event: EventId
    ) -> tuple[int, int]:
        if r.rid is not ResourceId.L3:
            return -errno.EINVAL, 0
        if event is EventId.MBM_TOTAL_BYTES:
            comp = self._mbm_component(d)
            if comp is None or r.mbm_cntr_assignable:
                return -errno.EINVAL, 0
            return self._read_sum(comp, MonType.MBWU, self._label_mons(closid, rmid), closid, rmid)
        k = self._mon_class
        if k is None or event is not EventId.LLC_OCCUPANCY:
            return -errno.EINVAL, 0
        comp = self._comp_of(k, d.id)
        if comp is None:
            return -errno.EINVAL, 0
        mon = self.msmon.alloc_csu_mon(k)
        if mon < 0:
            return mon, 0
        try:
            return self._read_sum(
                comp, MonType.CSU, [mon] * len(self._partids(closid)), closid, rmid
            )
        finally:
            self.msmon.free_csu_mon(k, mon)

    def reset_rmid(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, event: EventId
    ) -> None:
        """A free-running MBWU count starts again at its next read. (CSU occupancy is a
        level, not a count: nothing to reset.)"""
        comp = self._mbm_component(d)
        if event is not EventId.MBM_TOTAL_BYTES or comp is None or r.mbm_cntr_assignable:
            return
        for mon, partid in zip(self._label_mons(closid, rmid), self._partids(closid), strict=True):
            self.msmon.reset_mbwu(comp, MonCfg(mon, partid, rmid, match_pmg=True))
