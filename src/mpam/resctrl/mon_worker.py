"""The once-a-second monitoring work of fs/resctrl/monitor.c (read for behaviour, written
anew).

- mbm_handle_overflow, while mounted with an MBM event: reads every group's MBM counts so
  the arch sees each counter wrap, and measures each group's bandwidth over the interval
  (MiB: the byte delta >> 20). Under ``mba_MBps`` it then runs the feedback controller:
  a CTRL_MON group (with its MON groups) above its MiB/s target has its MB throttled one
  bandwidth granule harder; below it, and likely to stay below with one granule more,
  eased one granule.
- cqm_handle_limbo, while any freed RMID is still dirty: reads each one's llc_occupancy in
  the domains where it was busy and frees it once it is below max_threshold_occupancy. It
  keeps running after unmount, as the kernel's does.

Both run as delayed work on simulated time: a timer every MBM_OVERFLOW_INTERVAL /
CQM_LIMBOCHECK_INTERVAL (1000 ms) queues the work, which runs in task context.

The kernel keeps this work per monitoring domain (d->mbm_over, d->cqm_limbo); here one
timer serves every online domain, and each pass visits the L3's domains as they are at
that moment. Domains follow CPU hotplug (resctrl_online_mon_domain /
resctrl_offline_mon_domain, which the filesystem forwards to `domain_online` and
`domain_offline`): a domain going offline loses its bandwidth history, has every RMID
still dirty only in it freed at once (__check_limbo(d, true): nothing can tell whether its
cache was flushed, and waiting could leak the RMID forever) and its work cancelled; a
domain coming online starts with no history and no busy RMID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpam.resctrl.arch import CdpType, EventId, MonDomain, RdtResource, ResourceId
from mpam.resctrl.ctrlmondata import MBA_MAX_MBPS
from mpam.resctrl.monitor import MBM_EVENTS
from mpam.resctrl.rdtgroup import RdtGroup

if TYPE_CHECKING:
    from mpam.kernel.timer import Timer
    from mpam.resctrl.fs import ResctrlFs

__all__ = ["INTERVAL_NS", "MonWorker"]

#: MBM_OVERFLOW_INTERVAL and CQM_LIMBOCHECK_INTERVAL, 1000 ms.
INTERVAL_NS = 1_000_000_000


class MonWorker:
    """The overflow and limbo workers of one resctrl filesystem."""

    def __init__(self, fs: ResctrlFs) -> None:
        self.fs = fs
        self.timer: Timer | None = None
        #: bytes at the last interval, and MiB moved in it, by (closid, rmid, domain id)
        self.prev_bytes: dict[tuple[int, int, int], int] = {}
        self.prev_bw: dict[tuple[int, int, int], int] = {}
        self.runs = 0

    # --- scheduling -----------------------------------------------------------------------

    def _wanted(self) -> bool:
        """Work is due: some L3 monitoring domain is online, and either MBM counts need
        reading (mounted with an MBM event) or an RMID is in limbo."""
        fs = self.fs
        r = self._l3()
        if r is None or not r.mon_domains:
            return False
        mbm = fs.mounted and any(e in MBM_EVENTS for e in fs.arch.enabled_events())
        return mbm or bool(fs.rmids.limbo)

    def kick(self) -> None:
        """Arm the interval timer if some work is due and it is not already armed."""
        if self.timer is not None and self.timer.pending:
            return
        if not self._wanted():
            return
        timers = self.fs.kernel.timers
        self.timer = timers.add_timer(self.fs.kernel.clock.now_ns + INTERVAL_NS, self._expire)

    def _expire(self) -> None:
        self.fs.kernel.workqueue.queue_work(self.run)

    def cancel(self) -> None:
        """cancel_delayed_work: neither the timer nor a queued pass runs (resctrl_exit has
        every domain offline first, so no work is left to do)."""
        if self.timer is not None and self.timer.pending:
            self.fs.kernel.timers.del_timer(self.timer)
        self.timer = None
        self.fs.kernel.workqueue.cancel_work(self.run)

    # --- domains --------------------------------------------------------------------------

    def domain_online(self, r: RdtResource, d: MonDomain) -> None:
        """The worker part of resctrl_online_mon_domain: the domain's MBM state starts
        zeroed (domain_setup_l3_mon_state) and, while mounted with an MBM event, the
        overflow work covers it (mbm_setup_overflow_handler); the limbo work is only
        initialised, as a domain coming online has no busy RMID."""
        self._drop_domain(d.id)
        self.kick()

    def domain_offline(self, r: RdtResource, d: MonDomain) -> None:
        """The worker part of resctrl_offline_mon_domain: the domain's overflow work is
        cancelled and its MBM state freed; with llc_occupancy, every RMID still busy in it
        is checked once more and freed whatever it reads (__check_limbo(d, true)), and its
        limbo work cancelled. `d` may already have left `r.mon_domains`. The timer stops
        when no work is left (no domain online, or nothing to do)."""
        self._drop_domain(d.id)
        if EventId.LLC_OCCUPANCY in r.events and self._busy(d):
            self.check_limbo(r, d, force_free=True)
        if not self._wanted():
            self.cancel()

    def _drop_domain(self, dom_id: int) -> None:
        for table in (self.prev_bytes, self.prev_bw):
            for key in [k for k in table if k[2] == dom_id]:
                del table[key]

    def run(self) -> None:
        """One interval's work (the queued work item), then the timer again if needed."""
        self.runs += 1
        if self.fs.mounted:
            self.handle_overflow()
        if self.fs.rmids.limbo:
            self.handle_limbo()
        self.timer = None
        self.kick()

    # --- MBM ------------------------------------------------------------------------------

    def _l3(self) -> RdtResource | None:
        return next(
            (r for r in self.fs.arch.resources() if r.rid is ResourceId.L3 and r.mon_capable),
            None,
        )

    def handle_overflow(self) -> None:
        fs = self.fs
        r = self._l3()
        g = fs.groups
        if r is None or g is None or EventId.MBM_TOTAL_BYTES not in r.events:
            return
        for d in r.mon_domains:
            for ctrl in g.ctrl_groups:
                for group in [ctrl, *ctrl.mon_groups.values()]:
                    self._bw_count(r, d, group)
                if fs.mba_sc and not ctrl.deleted:
                    self._update_mba_bw(d, ctrl)

    def _bw_count(self, r: RdtResource, d: MonDomain, group: RdtGroup) -> None:
        """mbm_update + mbm_bw_count: read the count, keep the MiB moved since last time."""
        err, value = self.fs.read_mbm(r, d, group, EventId.MBM_TOTAL_BYTES)
        key = (group.closid, group.rmid, d.id)
        if err:
            return
        prev = self.prev_bytes.get(key)
        if prev is not None and value >= prev:
            self.prev_bw[key] = (value - prev) >> 20
        self.prev_bytes[key] = value

    def forget(self, group: RdtGroup) -> None:
        """A new or removed group's (closid, rmid) starts its bandwidth history afresh."""
        for table in (self.prev_bytes, self.prev_bw):
            for key in [k for k in table if k[:2] == (group.closid, group.rmid)]:
                del table[key]

    def _update_mba_bw(self, d: MonDomain, ctrl: RdtGroup) -> None:
        """update_mba_bw: one granule towards the group's MiB/s target in the MB domain
        whose id matches the monitoring domain (MPAM's MB domains take the L3 ids)."""
        fs = self.fs
        mb = next((r for r in fs.arch.resources() if r.rid is ResourceId.MBA), None)
        if mb is None or not mb.alloc_capable:
            return
        dom = next((x for x in mb.ctrl_domains if x.id == d.id), None)
        if dom is None:
            return
        cur_bw = sum(
            self.prev_bw.get((grp.closid, grp.rmid, d.id), 0)
            for grp in [ctrl, *ctrl.mon_groups.values()]
        )
        user_bw = fs.mbps.get((ctrl.closid, dom.id), MBA_MAX_MBPS)
        cur = fs.arch.get_config(mb, dom, ctrl.closid, CdpType.NONE)
        if cur > mb.min_bw and user_bw < cur_bw:
            new = cur - mb.bw_gran
        elif cur < mb.max_bw and (cur == 0 or user_bw > cur_bw * (cur + mb.min_bw) // cur):
            # The kernel divides by the current percentage; at 0% (possible when min_bw is
            # 0, as with 8-bit MPAM fractions) it would divide by zero: here it eases.
            new = cur + mb.bw_gran
        else:
            return
        fs.arch.update_one(mb, dom, ctrl.closid, CdpType.NONE, max(mb.min_bw, min(mb.max_bw, new)))

    # --- limbo ----------------------------------------------------------------------------

    def handle_limbo(self) -> None:
        """cqm_handle_limbo: __check_limbo in every online domain, freeing each dirty RMID
        whose occupancy fell below the threshold everywhere it was busy."""
        r = self._l3()
        if r is None:
            return
        for d in list(r.mon_domains):
            self.check_limbo(r, d)

    def _busy(self, d: MonDomain) -> list[int]:
        """has_busy_rmid: the RMID indexes still dirty in `d`, ascending."""
        return sorted(idx for idx, domains in self.fs.rmids.limbo.items() if d.id in domains)

    def check_limbo(self, r: RdtResource, d: MonDomain, *, force_free: bool = False) -> None:
        """__check_limbo(d, force_free): read the llc_occupancy of each RMID busy in `d`; one
        below max_threshold_occupancy is no longer busy there (a failed read keeps it busy),
        and with `force_free` none is, whatever it read. An RMID busy nowhere any more
        leaves limbo for the free list."""
        fs = self.fs
        occupancy: dict[int, dict[int, int]] = {}
        for idx in self._busy(d):
            closid, rmid = fs.arch.rmid_idx_decode(idx)
            err, value = fs.arch.rmid_read(r, d, closid, rmid, EventId.LLC_OCCUPANCY)
            if force_free:
                occupancy[idx] = {d.id: 0}  # counts as clean, below any threshold of 1 up
            elif not err:
                occupancy[idx] = {d.id: value}
        fs.rmids.check_limbo(occupancy, max(fs.threshold, 1) if force_free else fs.threshold)
