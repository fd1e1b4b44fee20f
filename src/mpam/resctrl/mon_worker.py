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
        fs = self.fs
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
        """__check_limbo: free each dirty RMID whose occupancy fell below the threshold."""
        fs = self.fs
        r = self._l3()
        if r is None:
            return
        occupancy: dict[int, dict[int, int]] = {}
        for idx, domains in fs.rmids.limbo.items():
            closid, rmid = fs.arch.rmid_idx_decode(idx)
            for d in r.mon_domains:
                if d.id not in domains:
                    continue
                err, value = fs.arch.rmid_read(r, d, closid, rmid, EventId.LLC_OCCUPANCY)
                if not err:
                    occupancy.setdefault(idx, {})[d.id] = value
        fs.rmids.check_limbo(occupancy, fs.threshold)
