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

Domains follow CPU hotplug, as mpam_resctrl_online_cpu / mpam_resctrl_offline_cpu keep
them: each resource's domains hold their online CPUs only. The first CPU of a component to
come online creates its domains (mpam_resctrl_alloc_domain): the filesystem is told
(resctrl_online_ctrl_domain, then resctrl_online_mon_domain) before each is inserted in
the resource's list, by id; once every resource has its domain, resctrl_online_cpu. Going
down, resctrl_offline_cpu comes first; then, for a domain whose last CPU this was, it
leaves the list and the filesystem is told (resctrl_offline_ctrl_domain,
resctrl_offline_mon_domain). A domain that comes back takes its controls from the
component's configuration, which the driver kept and wrote back to the MSCs when their
first CPU returned (mpam_reprogram_msc): the CLOSIDs' previous values, not defaults.

Once the driver has disabled MPAM (mpam_is_enabled() false), nothing here touches an MSC:
controls read as defaults and refuse updates (-EINVAL), monitors read -EINVAL, resets do
nothing, as drivers/resctrl/mpam_resctrl.c checks in each resctrl_arch_ call.
"""

from __future__ import annotations

import errno
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

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
    ResctrlFsOps,
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


@dataclass(eq=False)
class _Dom:
    """struct mpam_resctrl_dom: the resctrl domains one component gives a resource."""

    #: the CPUs of the component (online or not): which CPUs belong to this domain
    affinity: frozenset[int]
    #: the component the controls program (None for a monitor-only L3)
    ctrl_comp: MpamComponent | None
    ctrl: CtrlDomain | None = None
    mon: MonDomain | None = None
    #: per event, the component of its monitor class that counts for this domain
    mon_comps: dict[EventId, MpamComponent] = field(default_factory=dict)


_D = TypeVar("_D", CtrlDomain, MonDomain)


def _leave(d: _D | None, cpu: int, domains: list[_D]) -> bool:
    """`cpu` leaves domain `d`; True when that was its last CPU (or there is no `d`), and
    then `d` is off the resource's list already, as mpam_resctrl_offline_cpu takes it."""
    if d is None:
        return True
    d.cpus.discard(cpu)
    if d.cpus:
        return False
    domains.remove(d)
    return True


def _insert(domains: list[_D], d: _D) -> None:
    """mpam_resctrl_domain_insert: keep the list sorted by id (resctrl_find_domain)."""
    insort(domains, d, key=lambda x: x.id)


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
        #: the domains of each resource, one per component with an online CPU
        self._doms: dict[ResourceId, list[_Dom]] = {rid: [] for rid in ResourceId}
        #: the filesystem, once resctrl_init registered it (mpam_resctrl.c resctrl_enabled)
        self.fs: ResctrlFsOps | None = None
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

    def _event_classes(self) -> list[tuple[EventId, MpamClass]]:
        """mpam_resctrl_counters: the class behind each monitor event."""
        out = []
        if self._mon_class is not None:
            out.append((EventId.LLC_OCCUPANCY, self._mon_class))
        if self._mbm_class is not None:
            out.append((EventId.MBM_TOTAL_BYTES, self._mbm_class))
        return out

    # --- resctrl_init / resctrl_exit ------------------------------------------------------

    def resctrl_init(self, fs: ResctrlFsOps) -> None:
        """The end of mpam_resctrl_setup: resctrl_init() registered the filesystem, which
        the domain and CPU calls go to from now on. No domain exists yet: they come online
        with the CPUs, when the driver installs its cpuhp callbacks."""
        self.fs = fs

    def exit(self) -> None:
        """mpam_resctrl_exit: resctrl_exit(), once. The driver calls it from mpam_disable,
        after removing its cpuhp state has taken every domain offline."""
        fs, self.fs = self.fs, None
        if fs is not None:
            fs.exit()

    def teardown_class(self, klass: MpamClass) -> None:
        """mpam_resctrl_teardown_class: the driver is letting go of `klass`; a resource or
        event that used it has no class any more."""
        for rid in [rid for rid, k in self._classes.items() if k is klass]:
            del self._classes[rid]
        if self._mon_class is klass:
            self._mon_class = None
        if self._mbm_class is klass:
            self._mbm_class = None

    # --- CPU hotplug: domains -------------------------------------------------------------

    def _res_class(self, rid: ResourceId) -> MpamClass | None:
        """mpam_resctrl_res.class: the class behind a resource's domains. A monitor-only
        L3 takes its counters' class ("Faking L3 MSC to enable counters")."""
        k = self._classes.get(rid)
        if k is None and rid is ResourceId.L3 and self._resources[rid].mon_capable:
            k = self._mon_class or self._mbm_class
        return k

    def _dom_of_cpu(self, rid: ResourceId, cpu: int) -> _Dom | None:
        """mpam_resctrl_get_domain_from_cpu."""
        return next((dom for dom in self._doms[rid] if cpu in dom.affinity), None)

    def _alloc_domain(self, cpu: int, r: RdtResource, k: MpamClass) -> int:
        """mpam_resctrl_alloc_domain: the first CPU of a component is online; its control
        and monitor domains are created, each offered to the filesystem before it joins
        the resource's list (the arch side of it exists already, so the filesystem's
        hooks may call the arch about it). A refusal undoes what was done and is
        returned.

        The kernel asks r->alloc_capable here and when the CPUs go, which CDP clears for
        MB between the two; the model asks whether the resource has a control class, so
        MB keeps its domains (and their CPUs) while CDP hides it and has them when it
        shows again. Nothing else differs: the schema list only holds capable resources."""
        comp = next((c for c in k.components.values() if cpu in c.affinity), None)
        if comp is None:
            return -errno.EINVAL  # the class has no component for this CPU
        has_ctrls = r.rid in self._classes
        dom = _Dom(frozenset(comp.affinity), comp if has_ctrls else None)
        self._doms[r.rid].append(dom)
        if has_ctrls:
            dom.ctrl = CtrlDomain(self._domain_id(k, comp), {cpu})
            err = self.fs.online_ctrl_domain(r, dom.ctrl) if self.fs is not None else 0
            if err:
                self._doms[r.rid].remove(dom)
                return err
            _insert(r.ctrl_domains, dom.ctrl)
        if r.mon_capable:
            any_mon: tuple[MpamClass, MpamComponent] | None = None
            for event, mk in self._event_classes():
                mc = next((c for c in mk.components.values() if cpu in c.affinity), None)
                if mc is not None:
                    dom.mon_comps[event] = mc
                    any_mon = (mk, mc)
            err = -errno.EFAULT  # no monitor class has a component for this CPU
            if any_mon is not None:
                dom.mon = MonDomain(self._domain_id(*any_mon), {cpu})
                err = self.fs.online_mon_domain(r, dom.mon) if self.fs is not None else 0
            if err or dom.mon is None:
                if dom.ctrl is not None:
                    r.ctrl_domains.remove(dom.ctrl)
                    if self.fs is not None:
                        self.fs.offline_ctrl_domain(r, dom.ctrl)
                self._doms[r.rid].remove(dom)
                return err
            _insert(r.mon_domains, dom.mon)
        return 0

    def online_cpu(self, cpu: int) -> int:
        """mpam_resctrl_online_cpu: `cpu` joins its domain of every resource (creating the
        domain if it is the first), then resctrl_online_cpu. 0 or a negative errno, which
        fails the CPU's bring-up."""
        for rid in ResourceId:
            k = self._res_class(rid)
            if k is None:
                continue  # a dummy resource
            r = self._resources[rid]
            dom = self._dom_of_cpu(rid, cpu)
            if dom is None:
                err = self._alloc_domain(cpu, r, k)
                if err:
                    return err
                continue
            if dom.ctrl is not None:
                dom.ctrl.cpus.add(cpu)
            if dom.mon is not None:
                dom.mon.cpus.add(cpu)
        if self.fs is not None:
            self.fs.online_cpu(cpu)
        return 0

    def offline_cpu(self, cpu: int) -> None:
        """mpam_resctrl_offline_cpu: resctrl_offline_cpu first; then `cpu` leaves its domain
        of every resource, and a domain it was the last CPU of leaves the resource's list
        before the filesystem is told (resctrl_offline_ctrl_domain, then
        resctrl_offline_mon_domain). The arch's per-domain counter state goes with it."""
        if self.fs is not None:
            self.fs.offline_cpu(cpu)
        for rid in ResourceId:
            if self._res_class(rid) is None:
                continue
            r = self._resources[rid]
            dom = self._dom_of_cpu(rid, cpu)
            if dom is None:
                continue  # WARN_ON_ONCE in the kernel
            ctrl_empty = _leave(dom.ctrl, cpu, r.ctrl_domains)
            if ctrl_empty and dom.ctrl is not None and self.fs is not None:
                self.fs.offline_ctrl_domain(r, dom.ctrl)
            mon_empty = _leave(dom.mon, cpu, r.mon_domains)
            if mon_empty and dom.mon is not None and self.fs is not None:
                self.fs.offline_mon_domain(r, dom.mon)
            if ctrl_empty and mon_empty:  # kfree(dom): the arch's side of it goes too
                self._doms[rid].remove(dom)
                if dom.mon is not None:
                    for key in [key for key in self._cntrs if key[0] == dom.mon.id]:
                        del self._cntrs[key]

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

    def _component(self, r: RdtResource, d: CtrlDomain) -> MpamComponent | None:
        """dom->ctrl_comp: the component behind an online control domain (None for a
        domain object that is no longer, or never was, one of the resource's)."""
        dom = next((x for x in self._doms[r.rid] if x.ctrl is d), None)
        return dom.ctrl_comp if dom is not None else None

    def get_config(self, r: RdtResource, d: CtrlDomain, closid: int, t: CdpType) -> int:
        if not self.driver.enabled:
            return r.default_ctrl  # resctrl_arch_get_config: !mpam_is_enabled()
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
        if not self.driver.enabled:
            return -errno.EINVAL  # resctrl_arch_update_one: !mpam_is_enabled()
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
        if k is None or not self.driver.enabled:
            return  # resctrl_arch_reset_all_ctrls: nothing once MPAM is disabled
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

    def _mon_component(self, d: MonDomain, event: EventId) -> MpamComponent | None:
        """dom->mon_comp[event]: the component counting `event` for an online domain."""
        dom = next((x for x in self._doms[ResourceId.L3] if x.mon is d), None)
        return dom.mon_comps.get(event) if dom is not None else None

    def _mbm_component(self, d: MonDomain) -> MpamComponent | None:
        if not self.driver.enabled or self._mbm_class is None:
            return None
        return self._mon_component(d, EventId.MBM_TOTAL_BYTES)

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
        if r.rid is not ResourceId.L3 or not self.driver.enabled:
            return -errno.EINVAL, 0  # resctrl_arch_rmid_read: !mpam_is_enabled()
        if event is EventId.MBM_TOTAL_BYTES:
            comp = self._mbm_component(d)
            if comp is None or r.mbm_cntr_assignable:
                return -errno.EINVAL, 0
            return self._read_sum(comp, MonType.MBWU, self._label_mons(closid, rmid), closid, rmid)
        k = self._mon_class
        if k is None or event is not EventId.LLC_OCCUPANCY:
            return -errno.EINVAL, 0
        comp = self._mon_component(d, EventId.LLC_OCCUPANCY)
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
