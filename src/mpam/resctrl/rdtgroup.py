"""Resource groups: CTRL_MON and MON groups, their CLOSIDs and RMIDs, tasks and CPUs.

Mirrors the group half of fs/resctrl/rdtgroup.c and the RMID allocator of monitor.c (read
for behaviour, written anew). Every operation returns 0 or a negative errno and leaves its
reason in last_cmd_status with the kernel's words; a failed operation changes nothing it
had not already done in the kernel too (a task list stops at the first bad pid).

RMIDs are managed by index (`arch.rmid_idx_encode`): one free list kept in LRU order for
the life of the machine, across mounts. On an architecture whose RMIDs depend on the CLOSID
(MPAM: RMID = PMG within the PARTID), a group takes the first free index of its own CLOSID,
and a new CTRL_MON group takes the cleanest free CLOSID: the one with the fewest RMIDs still
in limbo (freed, but their cache occupancy not yet below max_threshold_occupancy).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from mpam.kernel import Kernel
from mpam.kernel.bitmap import bitmap_parse, bitmap_parselist, format_bitmap, format_bitmap_list
from mpam.kernel.kstrtox import cstr, kstrtoint, strim
from mpam.kernel.tasks import HostPidNamespace
from mpam.resctrl.arch import EventId, ResctrlArch
from mpam.resctrl.status import LastCmdStatus

__all__ = ["GroupKind", "RdtGroup", "Rdtgroups", "RmidAllocator"]


class GroupKind(Enum):
    CTRL_MON = "ctrl_mon"
    MON = "mon"


@dataclass(eq=False)
class RdtGroup:
    """struct rdtgroup."""

    name: str
    kind: GroupKind
    closid: int
    rmid: int
    parent: RdtGroup | None = None
    cpus: set[int] = field(default_factory=set)
    mode: str = "shareable"
    mon_groups: dict[str, RdtGroup] = field(default_factory=dict)
    deleted: bool = False

    @property
    def is_root(self) -> bool:
        return self.parent is None and self.kind is GroupKind.CTRL_MON and self.name == ""


class RmidAllocator:
    """The RMID index free list (LRU order), limbo, and dirty counts per CLOSID."""

    def __init__(self, arch: ResctrlArch) -> None:
        self.arch = arch
        n = arch.system_num_rmid_idx()
        reserved = arch.rmid_idx_encode(0, 0)
        self.free: list[int] = [i for i in range(n) if i != reserved]
        self.limbo: dict[int, set[int]] = {}  # idx -> mon domain ids where still busy

    def dirty(self, closid: int) -> int:
        return sum(1 for idx in self.limbo if self.arch.rmid_idx_decode(idx)[0] == closid)

    def alloc(self, closid: int) -> int:
        """alloc_rmid: the first free index of this CLOSID; -ENOSPC, or -EBUSY when the
        only candidates are in limbo."""
        for idx in self.free:
            c, rmid = self.arch.rmid_idx_decode(idx)
            if not self.arch.rmid_depends_on_closid or c == closid:
                self.free.remove(idx)
                return rmid
        if not self.free and self.limbo:
            return -errno.EBUSY
        return -errno.ENOSPC

    def take(self, closid: int, prefer: int) -> tuple[int, int]:
        """A free index of `closid` for a MON group that moves there: (closid, `prefer`)
        if it is free, else the first free one; (err, rmid) as alloc_rmid answers."""
        idx = self.arch.rmid_idx_encode(closid, prefer)
        if idx in self.free:
            self.free.remove(idx)
            return 0, prefer
        rmid = self.alloc(closid)
        return (rmid, 0) if rmid < 0 else (0, rmid)

    def release(self, closid: int, rmid: int, busy_domains: Iterable[int]) -> None:
        """free_rmid: to limbo while its occupancy may still be counted, else straight back."""
        idx = self.arch.rmid_idx_encode(closid, rmid)
        if idx == self.arch.rmid_idx_encode(0, 0):
            return
        busy = set(busy_domains)
        if busy:
            self.limbo[idx] = busy
        else:
            self.free.append(idx)

    def check_limbo(self, occupancy: dict[int, dict[int, int]], threshold: int) -> None:
        """__check_limbo: an index leaves limbo once every domain reads it below the
        threshold (`occupancy[idx][domain]`; a missing value means the read failed)."""
        for idx in list(self.limbo):
            for dom in list(self.limbo[idx]):
                value = occupancy.get(idx, {}).get(dom)
                if value is not None and value < threshold:
                    self.limbo[idx].discard(dom)
            if not self.limbo[idx]:
                del self.limbo[idx]
                self.free.append(idx)


class Rdtgroups:
    """The groups of one mounted resctrl, and the operations on them."""

    def __init__(
        self,
        arch: ResctrlArch,
        kernel: Kernel,
        status: LastCmdStatus,
        rmids: RmidAllocator,
        num_closids: int,
        alloc_capable: bool,
        mon_capable: bool,
    ) -> None:
        self.arch = arch
        self.kernel = kernel
        self.status = status
        self.rmids = rmids
        self.num_closids = num_closids
        self.alloc_capable = alloc_capable
        self.mon_capable = mon_capable
        self.nr_cpu_ids = len(kernel.hw.cpus)
        self.root = RdtGroup("", GroupKind.CTRL_MON, 0, 0, cpus=set(kernel.cpuhp.online_mask))
        self.ctrl_groups: list[RdtGroup] = [self.root]  # new groups go to the head
        self.closid_free = set(range(1, num_closids))
        #: rdtgroup_init_alloc: program a new CLOSID's default controls (set by the
        #: filesystem, which knows the schemas); 0 or a negative errno.
        self.init_alloc: Callable[[int], int] = lambda closid: 0

    # --- CLOSIDs --------------------------------------------------------------------------

    def _closid_alloc(self) -> int:
        if not self.closid_free:
            return -errno.ENOSPC
        if self.arch.rmid_depends_on_closid and EventId.LLC_OCCUPANCY in self.arch.enabled_events():
            return min(self.closid_free, key=lambda c: (self.rmids.dirty(c), c))
        return min(self.closid_free)

    # --- mkdir / rmdir --------------------------------------------------------------------

    def mkdir_ctrl_mon(self, name: str) -> tuple[int, RdtGroup | None]:
        """A CTRL_MON group in the root."""
        self.status.clear()
        if "\n" in name:
            return -errno.EINVAL, None
        if not self.alloc_capable:
            return -errno.EPERM, None
        if any(g.name == name for g in self.ctrl_groups) or name in (
            "info",
            "mon_groups",
            "mon_data",
        ):
            return -errno.EEXIST, None
        closid = self._closid_alloc()
        if closid < 0:
            self.status.puts("Out of CLOSIDs\n")
            return closid, None
        rmid = 0
        if self.mon_capable:
            rmid = self.rmids.alloc(closid)
            if rmid < 0:
                self.status.puts("Out of RMIDs\n")
                return rmid, None
        err = self.init_alloc(closid)
        if err:
            if self.mon_capable:
                self.rmids.release(closid, rmid, ())
            return err, None
        self.closid_free.discard(closid)
        group = RdtGroup(name, GroupKind.CTRL_MON, closid, rmid)
        self.ctrl_groups.insert(0, group)
        return 0, group

    def mkdir_mon(self, parent: RdtGroup, name: str) -> tuple[int, RdtGroup | None]:
        """A MON group in `parent`'s mon_groups."""
        self.status.clear()
        if "\n" in name:
            return -errno.EINVAL, None
        if not self.mon_capable or name == "mon_groups":
            return -errno.EPERM, None
        if name in parent.mon_groups:
            return -errno.EEXIST, None
        rmid = self.rmids.alloc(parent.closid)
        if rmid < 0:
            self.status.puts("Out of RMIDs\n")
            return rmid, None
        group = RdtGroup(name, GroupKind.MON, parent.closid, rmid, parent=parent)
        parent.mon_groups[name] = group
        return 0, group

    def free_rmid(self, group: RdtGroup) -> None:
        """free_rmid of a group's (CLOSID, RMID): to limbo where occupancy is counted."""
        busy: list[int] = []
        if self.mon_capable and EventId.LLC_OCCUPANCY in self.arch.enabled_events():
            busy = [d.id for r in self.arch.resources() if r.mon_capable for d in r.mon_domains]
        self.rmids.release(group.closid, group.rmid, busy)

    def rmdir(self, group: RdtGroup) -> int:
        """rmdir of a group: its tasks and CPUs go back where the kernel sends them."""
        if group.is_root:
            return -errno.EPERM
        if group.kind is GroupKind.MON:
            parent = group.parent
            assert parent is not None
            self._move_matching(lambda pid: self.arch.match_rmid(pid, group.closid, group.rmid),
                                parent.closid, parent.rmid)  # fmt: skip
            for cpu in group.cpus:
                self.arch.set_cpu_default_closid_rmid(cpu, parent.closid, parent.rmid)
            del parent.mon_groups[group.name]
            self.free_rmid(group)
        else:
            self._move_matching(lambda pid: self.arch.match_closid(pid, group.closid), 0, 0)
            self.root.cpus |= group.cpus
            for cpu in group.cpus:
                self.arch.set_cpu_default_closid_rmid(cpu, 0, 0)
            for child in group.mon_groups.values():
                self.free_rmid(child)
                child.deleted = True
            self.ctrl_groups.remove(group)
            self.free_rmid(group)
            self.closid_free.add(group.closid)
        self._sync_cpus(range(self.nr_cpu_ids))
        group.deleted = True
        return 0

    def _move_matching(self, match: Callable[[int], bool], closid: int, rmid: int) -> None:
        for task in self.kernel.tasks:
            if task.pid and match(task.pid):
                self.arch.set_closid_rmid(task.pid, closid, rmid)

    def _sync_cpus(self, cpus: Iterable[int]) -> None:
        for cpu in cpus:
            self.arch.sync_cpu_closid_rmid(cpu)

    # --- tasks ----------------------------------------------------------------------------

    def tasks_show(self, group: RdtGroup, pidns: HostPidNamespace | None = None) -> str:
        """show_rdt_tasks: each task of the group by its pid in the reader's namespace
        (`pidns`, None for the machine's own), skipping those that have none there."""
        pids = []
        for task in self.kernel.tasks:
            pid = task.pid if pidns is None else pidns.vnr(task)
            if not pid:
                continue
            if group.kind is GroupKind.CTRL_MON:
                if self.alloc_capable and self.arch.match_closid(task.pid, group.closid):
                    pids.append(pid)
            elif self.mon_capable and self.arch.match_rmid(task.pid, group.closid, group.rmid):
                pids.append(pid)
        return "".join(f"{pid}\n" for pid in pids)

    def tasks_write(self, group: RdtGroup, text: str, writer_pid: int = 1, euid: int = 0,
                    pidns: HostPidNamespace | None = None) -> int:  # fmt: skip
        """rdtgroup_tasks_write: move each listed task; stop at the first failure. The
        writer (`writer_pid`, what pid 0 means, with effective uid `euid`) must be root or
        own the task. Pids are read in the writer's namespace (`pidns`; None for the
        machine's own), as find_task_by_vpid does.

        Tokenised as the kernel does: ``strsep`` on commas until the rest is empty or
        starts with a newline, each token ``strim``-ed and read by ``kstrtoint`` base 0
        (``0x0e`` is 14, ``010`` is 8). So ``1,2\n`` and `` 1 , 2`` are two pids, but
        ``1\n2`` is one bad token and ``1,,2`` fails at the empty one."""
        if group.deleted:
            return -errno.ENOENT
        self.status.clear()
        buf: str | None = cstr(text)
        while buf and buf[0] != "\n":
            token, comma, rest = buf.partition(",")
            buf = rest if comma else None
            pid_str = strim(token)
            err, pid = kstrtoint(pid_str, 0)
            if err:
                self.status.puts(f"Task list parsing error pid {pid_str}\n")
                return -errno.EINVAL
            if pid < 0:
                self.status.puts(f"Invalid pid {pid}\n")
                return -errno.EINVAL
            err = self._move_task(group, pid or writer_pid, euid, pidns)
            if err:
                self.status.puts(f"Error while processing task {pid}\n")
                return err
        return 0

    def _move_task(self, group: RdtGroup, nr: int, euid: int,
                   pidns: HostPidNamespace | None) -> int:  # fmt: skip
        try:
            task = self.kernel.tasks.get(nr) if pidns is None else pidns.find_task_by_vpid(nr, euid)
        except PermissionError:  # a host process the writer may not move: it stays out
            self.status.puts(f"No permission to move task {nr}\n")
            return -errno.EPERM
        if task is None or task.is_idle:
            self.status.puts(f"No task {nr}\n")
            return -errno.ESRCH
        pid = task.pid
        if euid != 0 and euid != task.uid:
            self.status.puts(f"No permission to move task {pid}\n")  # task->pid, as the kernel
            return -errno.EPERM
        if group.kind is GroupKind.MON:
            parent = group.parent
            assert parent is not None
            if not self.arch.match_closid(pid, parent.closid):
                self.status.puts("Can't move task to different control group\n")
                return -errno.EINVAL
        if self.arch.match_rmid(pid, group.closid, group.rmid):
            return 0
        self.arch.set_closid_rmid(pid, group.closid, group.rmid)
        if task.cpu is not None:
            self.arch.sync_cpu_closid_rmid(task.cpu)
        return 0

    # --- CPUs -----------------------------------------------------------------------------

    def online_cpu(self, cpu: int) -> None:
        """resctrl_online_cpu: a CPU that comes online belongs to the default group."""
        self.root.cpus.add(cpu)

    def offline_cpu(self, cpu: int) -> None:
        """resctrl_offline_cpu: the CPU leaves whichever group (and MON group) held it."""
        for group in self.ctrl_groups:
            if cpu in group.cpus:
                group.cpus.discard(cpu)
                for mon in group.mon_groups.values():
                    mon.cpus.discard(cpu)
                break

    def cpus_show(self, group: RdtGroup, as_list: bool) -> str:
        """rdtgroup_cpus_show: ``%*pbl`` or ``%*pb`` over nr_cpu_ids bits."""
        if as_list:
            return format_bitmap_list(group.cpus, self.nr_cpu_ids) + "\n"
        return format_bitmap(group.cpus, self.nr_cpu_ids) + "\n"

    def cpus_write(self, group: RdtGroup, text: str, as_list: bool) -> int:
        """rdtgroup_cpus_write: ``cpulist_parse`` or ``cpumask_parse`` over nr_cpu_ids
        bits; a parse error is the parser's own errno (EINVAL, EOVERFLOW or ERANGE)."""
        if group.deleted:
            return -errno.ENOENT
        self.status.clear()
        parse = bitmap_parselist if as_list else bitmap_parse
        new = parse(text, self.nr_cpu_ids)
        if isinstance(new, int):
            self.status.puts("Bad CPU list/mask\n")
            return new
        if not new <= set(self.kernel.cpuhp.online_mask):
            self.status.puts("Can only assign online CPUs\n")
            return -errno.EINVAL
        if group.kind is GroupKind.MON:
            return self._cpus_mon(group, new)
        return self._cpus_ctrl(group, new)

    def _cpus_ctrl(self, group: RdtGroup, new: set[int]) -> int:
        dropped = group.cpus - new
        if dropped and group.is_root:
            self.status.puts("Can't drop CPUs from default group\n")
            return -errno.EINVAL
        added = new - group.cpus
        if dropped:
            self.root.cpus |= dropped
            for cpu in dropped:
                self.arch.set_cpu_default_closid_rmid(cpu, 0, 0)
        for other in self.ctrl_groups:
            if other is not group:
                other.cpus -= added
                for mon in other.mon_groups.values():
                    mon.cpus -= added
        group.cpus = set(new)
        for mon in group.mon_groups.values():
            mon.cpus.clear()
        for cpu in new:
            self.arch.set_cpu_default_closid_rmid(cpu, group.closid, group.rmid)
        self._sync_cpus(dropped | added)
        return 0

    def _cpus_mon(self, group: RdtGroup, new: set[int]) -> int:
        parent = group.parent
        assert parent is not None
        if not new <= parent.cpus:
            self.status.puts("Can only add CPUs to mongroup that belong to parent\n")
            return -errno.EINVAL
        dropped, added = group.cpus - new, new - group.cpus
        for cpu in dropped:
            self.arch.set_cpu_default_closid_rmid(cpu, parent.closid, parent.rmid)
        for sibling in parent.mon_groups.values():
            if sibling is not group:
                sibling.cpus -= added
        group.cpus = set(new)
        for cpu in added:
            self.arch.set_cpu_default_closid_rmid(cpu, group.closid, group.rmid)
        self._sync_cpus(dropped | added)
        return 0
