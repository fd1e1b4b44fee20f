"""MBM counter assignment, the "mbm_event" mode of fs/resctrl (monitor.c and rdtgroup.c, and
Documentation/filesystems/resctrl.rst; read for behaviour, written anew).

Hardware with fewer bandwidth counters than RMIDs (AMD's ABMC, MPAM's finite MBWU monitors)
counts an MBM event of a group only while a counter of the monitoring domain is assigned to
that (group, event). Each domain has `num_mbm_cntrs` counters, handed out lowest index
first; new groups get one per event and domain when `mbm_assign_on_mkdir` is on (failures
are reported but do not fail the mkdir); rmdir gives them back; `mbm_L3_assignments`
shows and changes a group's assignments. A read of an event without a counter is
`Unassigned`.

Counters belong to a domain and live as long as it does (fs/resctrl/rdtgroup.c
domain_setup_l3_mon_state / domain_destroy_l3_mon_state): when the domain's last CPU goes
offline its counter table is dropped, with no call to the arch; when a CPU of it comes
back the table starts with every counter free, so no group holds a counter there (its
events read `Unassigned` and mbm_L3_assignments shows `_`) until one is assigned again.
"""

from __future__ import annotations

import errno

from mpam.kernel.kstrtox import LLONG_MAX, ULONG_MAX, kstrtobool, kstrtoul, strim
from mpam.resctrl.arch import EventId, MonDomain, RdtResource, ResctrlArch
from mpam.resctrl.rdtgroup import RdtGroup
from mpam.resctrl.status import LastCmdStatus

__all__ = ["MBM_EVENTS", "TRANSACTIONS", "MbmCounters"]

#: The events a counter can be assigned to, in event id order.
MBM_EVENTS = (EventId.MBM_TOTAL_BYTES, EventId.MBM_LOCAL_BYTES)

#: event_filter's memory transaction names, bit 0 upward (the BMEC bits).
TRANSACTIONS = (
    "local_reads",
    "remote_reads",
    "local_non_temporal_writes",
    "remote_non_temporal_writes",
    "local_reads_slow_memory",
    "remote_reads_slow_memory",
    "dirty_victim_writes_all",
)

_NOT_ENABLED = "mbm_event counter assignment mode is not enabled\n"


class MbmCounters:
    """The counters of every monitoring domain of one resource, and who holds them."""

    def __init__(self, arch: ResctrlArch, r: RdtResource, status: LastCmdStatus) -> None:
        self.arch = arch
        self.r = r
        self.status = status
        #: per domain id, per counter id: the (group, event) it counts for, or None
        self.cntrs: dict[int, list[tuple[RdtGroup, EventId] | None]] = {}
        self.assign_on_mkdir = True
        self.reset()

    # --- state ----------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.r.mbm_cntr_assignable and self.arch.mbm_cntr_assign_enabled(self.r)

    def events(self) -> list[EventId]:
        return [e for e in MBM_EVENTS if e in self.r.events]

    def reset(self) -> None:
        """Every counter free (mount, and a change of mode)."""
        self.cntrs = {d.id: [None] * self.r.num_mbm_cntrs for d in self.r.mon_domains}

    def domain_online(self, d: MonDomain) -> None:
        """domain_setup_l3_mon_state, from resctrl_online_mon_domain: the domain's counter
        configurations are allocated zeroed, so every counter of it is free, whoever held
        one before it went offline; assign-on-mkdir is not replayed for existing groups."""
        self.cntrs[d.id] = [None] * self.r.num_mbm_cntrs

    def domain_offline(self, d: MonDomain) -> None:
        """domain_destroy_l3_mon_state, from resctrl_offline_mon_domain: the domain's
        counter configurations are freed with it. The arch is not asked to unassign them:
        it drops its own state for the domain as it frees the domain."""
        self.cntrs.pop(d.id, None)

    def _domain(self, dom_id: int) -> MonDomain | None:
        return next((d for d in self.r.mon_domains if d.id == dom_id), None)

    def get(self, d: MonDomain, group: RdtGroup, event: EventId) -> int:
        """mbm_cntr_get: the counter of `d` assigned to (group, event), or -1."""
        for i, holder in enumerate(self.cntrs.get(d.id, [])):
            if holder is not None and holder[0] is group and holder[1] is event:
                return i
        return -1

    def available(self, d: MonDomain) -> int:
        return sum(1 for holder in self.cntrs.get(d.id, []) if holder is None)

    # --- assigning ------------------------------------------------------------------------

    def assign(self, d: MonDomain, group: RdtGroup, event: EventId) -> int:
        """rdtgroup_alloc_assign_cntr: a no-op when already assigned; -ENOSPC (with the
        reason in last_cmd_status) when every counter of the domain is taken."""
        if self.get(d, group, event) >= 0:
            return 0
        # A listed domain without a table came online unannounced: all its counters free.
        slots = self.cntrs.setdefault(d.id, [None] * self.r.num_mbm_cntrs)
        cntr_id = next((i for i, holder in enumerate(slots) if holder is None), -1)
        if cntr_id < 0:
            self.status.puts(f"Failed to allocate counter for {event.file_name} in domain {d.id}\n")
            return -errno.ENOSPC
        slots[cntr_id] = (group, event)
        self.arch.config_cntr(self.r, d, event, group.closid, group.rmid, cntr_id, True)
        return 0

    def unassign(self, d: MonDomain, group: RdtGroup, event: EventId) -> None:
        cntr_id = self.get(d, group, event)
        if cntr_id >= 0:
            self.arch.config_cntr(self.r, d, event, group.closid, group.rmid, cntr_id, False)
            self.cntrs[d.id][cntr_id] = None

    def assign_on_create(self, group: RdtGroup) -> None:
        """rdtgroup_assign_cntrs: at mkdir (and for the default group at mount), every
        event in every domain; a domain without a free counter is skipped, not fatal."""
        if not (self.enabled and self.assign_on_mkdir):
            return
        for event in self.events():
            for d in self.r.mon_domains:
                self.assign(d, group, event)

    def unassign_all(self, group: RdtGroup) -> None:
        """rdtgroup_unassign_cntrs: at rmid free, every counter of the group goes back."""
        for event in self.events():
            for d in self.r.mon_domains:
                self.unassign(d, group, event)

    def reassign(self, group: RdtGroup) -> None:
        """A MON group moved to another CTRL_MON group: its counters follow its new CLOSID."""
        for d in self.r.mon_domains:
            for event in self.events():
                cntr_id = self.get(d, group, event)
                if cntr_id >= 0:
                    self.arch.config_cntr(self.r, d, event, group.closid, group.rmid, cntr_id, True)

    # --- reading events -------------------------------------------------------------------

    def read(self, d: MonDomain, group: RdtGroup, event: EventId) -> tuple[int, int]:
        """An MBM event of one group (not its children): -ENOENT without a counter."""
        cntr_id = self.get(d, group, event)
        if cntr_id < 0:
            return -errno.ENOENT, 0
        return self.arch.cntr_read(self.r, d, group.closid, group.rmid, cntr_id, event)

    # --- info/L3_MON files ------------------------------------------------------------------

    def show_mode(self) -> str:
        """mbm_assign_mode: the current mode in brackets, then the other unless fixed."""
        if not self.r.mbm_cntr_assignable:
            return "[default]\n"
        current, other = ("mbm_event", "default") if self.enabled else ("default", "mbm_event")
        out = f"[{current}]\n"
        if not self.r.mbm_cntr_assign_fixed:
            out += f"{other}\n"
        return out

    def write_mode(self, data: str) -> int:
        if not data.endswith("\n"):
            return -errno.EINVAL
        self.status.clear()
        mode = data[:-1]
        if mode not in ("default", "mbm_event"):
            self.status.puts("Unsupported assign mode\n")
            return -errno.EINVAL
        if mode == "mbm_event" and not self.r.mbm_cntr_assignable:
            self.status.puts("mbm_event mode is not supported\n")
            return -errno.EINVAL
        if (mode == "mbm_event") == self.enabled:
            return 0
        if self.r.mbm_cntr_assign_fixed:
            self.status.puts("Counter assignment mode is not configurable\n")
            return -errno.EINVAL
        err = self.arch.mbm_cntr_assign_set(self.r, mode == "mbm_event")
        if err:
            return err
        self.reset()
        self.assign_on_mkdir = mode == "mbm_event"
        return 0

    def _need_enabled(self) -> int:
        self.status.clear()
        if not self.enabled:
            self.status.puts(_NOT_ENABLED)
            return -errno.EINVAL
        return 0

    def show_num(self) -> str:
        return ";".join(f"{d.id}={self.r.num_mbm_cntrs}" for d in self.r.mon_domains) + "\n"

    def show_available(self) -> str | int:
        err = self._need_enabled()
        if err:
            return err
        return ";".join(f"{d.id}={self.available(d)}" for d in self.r.mon_domains) + "\n"

    def show_on_mkdir(self) -> str | int:
        err = self._need_enabled()
        return err if err else f"{int(self.assign_on_mkdir)}\n"

    def write_on_mkdir(self, data: str) -> int:
        err, value = kstrtobool(data)
        if err:
            return err
        err = self._need_enabled()
        if err:
            return err
        self.assign_on_mkdir = value
        return 0

    def show_event_filter(self, event: EventId) -> str | int:
        err = self._need_enabled()
        if err:
            return err
        mask = self.r.mbm_cfg_mask
        return ",".join(name for bit, name in enumerate(TRANSACTIONS) if mask >> bit & 1) + "\n"

    # --- mbm_L3_assignments -----------------------------------------------------------------

    def show_assignments(self, group: RdtGroup) -> str | int:
        err = self._need_enabled()
        if err:
            return err
        lines = []
        for event in self.events():
            states = ";".join(
                f"{d.id}={'e' if self.get(d, group, event) >= 0 else '_'}"
                for d in self.r.mon_domains
            )
            lines.append(f"{event.file_name}:{states}\n")
        return "".join(lines)

    def write_assignments(self, group: RdtGroup, data: str) -> int:
        """mbm_L3_assignments write: `<event>:<domain>=<e|_>[;<domain>=<e|_>...]` lines, or
        `<event>:*=<e|_>` for every domain; stops at the first failure."""
        if not data.endswith("\n"):
            return -errno.EINVAL
        self.status.clear()
        if not self.enabled:
            self.status.puts("mbm_event mode is not enabled\n")
            return -errno.EINVAL
        for line in data[:-1].split("\n"):
            name, colon, rest = line.partition(":")
            err = self._parse_line(group, name, rest if colon else None)
            if err:
                return err
        return 0

    def _parse_line(self, group: RdtGroup, name: str, tok: str | None) -> int:
        event = next((e for e in self.events() if e.file_name == name), None)
        if event is None:
            self.status.puts(f"Invalid event {name}\n")
            return -errno.ENOENT
        while tok:
            dom_str, _, tok = tok.partition(";")
            id_str, eq, state_str = strim(dom_str).partition("=")
            state = state_str if eq else None
            shown = state if state is not None else "(null)"  # printk's "%s" of NULL
            if id_str.startswith("*"):
                err = self._modify(group, event, None, state)
                if err:
                    self.status.puts(f"Assign operation '{name}:*={shown}' failed\n")
                return err
            err, dom_id = kstrtoul(id_str, 10)
            if err:
                self.status.puts("Missing domain id\n")
                return -errno.EINVAL
            d = self._domain(dom_id)
            if d is None:
                shown_id = dom_id - (ULONG_MAX + 1) if dom_id > LLONG_MAX else dom_id  # "%ld"
                self.status.puts(f"Invalid domain id {shown_id}\n")
                return -errno.EINVAL
            err = self._modify(group, event, d, state)
            if err:
                self.status.puts(f"Assign operation '{name}:{dom_id}={shown}' failed\n")
                return err
        return 0

    def _modify(
        self, group: RdtGroup, event: EventId, d: MonDomain | None, state: str | None
    ) -> int:
        """rdtgroup_modify_assign_state: `e` assigns, `_` unassigns, in one or all domains."""
        if state not in ("e", "_"):
            return -errno.EINVAL
        domains = self.r.mon_domains if d is None else [d]
        for dom in domains:
            if state == "_":
                self.unassign(dom, group, event)
                continue
            err = self.assign(dom, group, event)
            if err:
                return err
        return 0
