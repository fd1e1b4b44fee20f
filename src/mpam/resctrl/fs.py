"""The resctrl tree: paths, files and directories of a mounted resctrl, without FUSE.

`ResctrlFs.mount(options)` builds the schema list and the groups; then `read`, `write`,
`mkdir`, `rmdir`, `rename`, `listdir` and `stat` take paths relative to the mount point
and return the kernel's errno (negative) on failure, with the reason in
info/last_cmd_status. The files a directory holds, their modes and their handlers are
declared once, in the `_FILES` table, as the kernel's res_common_files table does; the
FUSE adapter only translates.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from enum import Flag, auto

from mpam.kernel import Kernel
from mpam.resctrl import ctrlmondata
from mpam.resctrl.arch import EventId, MonDomain, RdtResource, ResctrlArch, ResourceId, SchemaFormat
from mpam.resctrl.mon_worker import MonWorker
from mpam.resctrl.monitor import MBM_EVENTS, MbmCounters
from mpam.resctrl.rdtgroup import GroupKind, RdtGroup, Rdtgroups, RmidAllocator
from mpam.resctrl.schema import SchemaList
from mpam.resctrl.status import LastCmdStatus

__all__ = ["MOUNT_OPTIONS", "Node", "ResctrlFs"]

#: The mount options resctrl parses, in the order /proc/mounts prints them.
MOUNT_OPTIONS = ("cdp", "cdpl2", "mba_MBps", "debug")


class Where(Flag):
    """Which directories a file appears in (the kernel's RFTYPE_* flags)."""

    CTRL = auto()  # CTRL_MON groups (root included)
    MON = auto()  # groups with monitoring (CTRL_MON when mon capable, and MON groups)
    BASE = auto()  # every group
    DEBUG = auto()  # only with -o debug
    CNTR = auto()  # only while MBM counters are assigned (mbm_event mode)
    MBPS = auto()  # only with -o mba_MBps


@dataclass(frozen=True)
class GroupFile:
    name: str
    mode: int
    where: Where


#: Group files in the order the kernel creates them.
_FILES = (
    GroupFile("cpus", 0o644, Where.BASE),
    GroupFile("cpus_list", 0o644, Where.BASE),
    GroupFile("tasks", 0o644, Where.BASE),
    GroupFile("schemata", 0o644, Where.CTRL),
    GroupFile("mode", 0o644, Where.CTRL),
    GroupFile("size", 0o444, Where.CTRL),
    GroupFile("ctrl_hw_id", 0o444, Where.CTRL | Where.DEBUG),
    GroupFile("mon_hw_id", 0o444, Where.MON | Where.DEBUG),
    GroupFile("mbm_L3_assignments", 0o644, Where.MON | Where.CNTR),
    GroupFile("mba_MBps_event", 0o644, Where.CTRL | Where.MBPS),
)


@dataclass(frozen=True)
class Node:
    """What a path names: a directory or a file, and its permission bits."""

    is_dir: bool
    mode: int


class ResctrlFs:
    """The resctrl filesystem of one machine."""

    def __init__(self, arch: ResctrlArch, kernel: Kernel, cache_size: Callable[[int], int]) -> None:
        self.arch = arch
        self.kernel = kernel
        self.cache_size = cache_size  # bytes of one cache of a level, from cacheinfo
        self.status = LastCmdStatus()
        self.schemas = SchemaList()
        self.rmids = RmidAllocator(arch)  # kept across mounts, as the kernel keeps it
        self.groups: Rdtgroups | None = None
        self.options: tuple[str, ...] = ()
        self.modes: dict[int, str] = {}
        self.threshold = 0
        #: MBM counter assignment of the L3 monitoring resource, when the arch needs it
        self.counters: MbmCounters | None = None
        #: why the last mount failed (the fs_context log), or ""
        self.mount_error = ""
        #: mba_MBps: each group's MiB/s target per MB domain (unset: no limit), and the
        #: MBM event it is measured with
        self.mbps: dict[tuple[int, int], int] = {}
        self.mbps_event: dict[int, EventId] = {}
        self.worker = MonWorker(self)

    # --- mount ----------------------------------------------------------------------------

    @property
    def mounted(self) -> bool:
        return self.groups is not None

    @property
    def mba_sc(self) -> bool:
        """Mounted with mba_MBps: MB is a MiB/s target the software controller meets."""
        return "mba_MBps" in self.options

    def mount(self, options: str = "") -> int:
        """Mount with comma-separated options; -EBUSY when already mounted."""
        if self.mounted:
            return -errno.EBUSY
        opts = [o for o in options.split(",") if o]
        for o in opts:
            if o not in MOUNT_OPTIONS:
                # fs/fs_context.c vfs_parse_fs_param(): invalf(fc, "%s: Unknown parameter
                # '%s'", fc->fs_type->name, key), logged like every mount error
                return self._mount_fail(f"Unknown parameter '{o}'")
        resources = {r.rid: r for r in self.arch.resources()}
        if not any(r.alloc_capable or r.mon_capable for r in resources.values()):
            return -errno.EOPNOTSUPP
        self.mount_error = ""
        enabled: list[ResourceId] = []
        for opt, rid in (("cdpl2", ResourceId.L2), ("cdp", ResourceId.L3)):
            if opt in opts:
                if not resources[rid].cdp_capable or not resources[rid].alloc_capable:
                    self._undo_cdp(enabled)
                    return -errno.EINVAL
                err = self.arch.set_cdp_enabled(rid, True)
                if err:
                    self._undo_cdp(enabled)
                    return err
                enabled.append(rid)
        # set_mba_sc runs after CDP is on (which takes MB away on MPAM).
        if "mba_MBps" in opts and not self._supports_mba_mbps(resources):
            self._undo_cdp(enabled)
            return self._mount_fail(
                "mba_MBps requires MBM (mbm_event mode not supported) and linear scale MBA at L3 scope"
            )
        self.options = tuple(o for o in MOUNT_OPTIONS if o in opts)
        self.schemas.build(self.arch)
        mon = [r for r in self.arch.resources() if r.mon_capable]
        alloc = any(r.alloc_capable for r in self.arch.resources())
        self.groups = Rdtgroups(self.arch, self.kernel, self.status, self.rmids,
                                self.schemas.num_closids() or 1, alloc, bool(mon))  # fmt: skip
        self.groups.init_alloc = self._init_alloc
        self.modes = {0: "shareable"}
        if mon and not self.threshold:
            self.threshold = self._default_threshold()
        l3 = resources[ResourceId.L3]
        self.counters = None
        if l3.mon_capable:
            self.counters = MbmCounters(self.arch, l3, self.status)
            self.counters.assign_on_create(self.groups.root)
        self.mbps.clear()
        self.status.clear()
        self.worker.kick()
        return 0

    def _supports_mba_mbps(self, resources: dict[ResourceId, RdtResource]) -> bool:
        """supports_mba_mbps: an MBM event to measure with (not an assigned counter, which
        may be taken away), and a linear MB controlled at L3 scope to act with."""
        l3, mb = resources[ResourceId.L3], resources[ResourceId.MBA]
        mbm = l3.mon_capable and any(e in l3.events for e in MBM_EVENTS)
        scope = {d.id for d in mb.ctrl_domains} == {d.id for d in l3.mon_domains}
        return (mbm and not l3.mbm_cntr_assignable and mb.alloc_capable and mb.delay_linear
                and scope)  # fmt: skip

    def _mount_fail(self, reason: str) -> int:
        """errorfc(): the reason goes to the mount's fs_context log (dmesg for mount(2))."""
        self.mount_error = reason
        self.kernel.klog.log("err", f"resctrl: {reason}")
        return -errno.EINVAL

    def _undo_cdp(self, rids: list[ResourceId]) -> None:
        for rid in rids:
            self.arch.set_cdp_enabled(rid, False)

    def _default_threshold(self) -> int:
        size = self.l3_size()
        n = self.arch.system_num_rmid_idx()
        return size // n if n else 0

    def l3_size(self) -> int:
        """Bytes of the smallest L3 (the realloc limit), from the kernel's cacheinfo."""
        return self.cache_size(3)

    def umount(self) -> int:
        """Unmount: every group removed, every task and CPU back to the root, every control
        back to its default, CDP off."""
        if self.groups is None:
            return -errno.EINVAL
        g = self.groups
        for group in list(g.ctrl_groups):
            if not group.is_root:
                self._rmdir_group(group)
        for child in list(g.root.mon_groups.values()):
            self._rmdir_group(child)
        if self.counters is not None:
            self.counters.unassign_all(g.root)
            self.counters = None
        for r in self.arch.resources():
            if r.alloc_capable:
                self.arch.reset_all_ctrls(r)
        for rid in (ResourceId.L2, ResourceId.L3):
            if self.arch.get_cdp_enabled(rid):
                self.arch.set_cdp_enabled(rid, False)
        for task in self.kernel.tasks:
            if task.pid:
                self.arch.set_closid_rmid(task.pid, 0, 0)
        for cpu in range(len(self.kernel.hw.cpus)):
            self.arch.set_cpu_default_closid_rmid(cpu, 0, 0)
            self.arch.sync_cpu_closid_rmid(cpu)
        self.groups = None
        self.options = ()
        return 0

    # --- CPU hotplug ----------------------------------------------------------------------

    def online_cpu(self, cpu: int) -> None:
        """resctrl_online_cpu, called by the arch: the CPU joins the default group and its
        default labels go back to CLOSID 0, RMID 0 (clear_closid_rmid)."""
        if self.groups is not None:
            self.groups.online_cpu(cpu)
        self.arch.set_cpu_default_closid_rmid(cpu, 0, 0)

    def offline_cpu(self, cpu: int) -> None:
        """resctrl_offline_cpu, called by the arch before the CPU goes."""
        if self.groups is not None:
            self.groups.offline_cpu(cpu)

    def _init_alloc(self, closid: int) -> int:
        """rdtgroup_init_alloc: a new CLOSID starts with every resource's default control
        (on MPAM, where every bit is hardware-shareable, the full mask and 100%)."""
        for s in self.schemas.schemas:
            for d in s.resource.ctrl_domains:
                err = self.arch.update_one(
                    s.resource, d, closid, s.conf_type, s.resource.default_ctrl
                )
                if err:
                    self.status.puts("Failed to initialize allocations\n")
                    return err
        self.modes[closid] = "shareable"
        for key in [k for k in self.mbps if k[0] == closid]:
            del self.mbps[key]  # rdtgroup_init_mba: MBA_MAX_MBPS
        return 0

    # --- path resolution ------------------------------------------------------------------

    def _split(self, path: str) -> list[str]:
        return [p for p in path.strip("/").split("/") if p]

    def _group_at(self, parts: list[str]) -> tuple[RdtGroup | None, list[str]]:
        """The group a path is inside, and the rest of the path below the group."""
        g = self.groups
        assert g is not None
        group = g.root
        rest = parts
        root_names = {"info", "mon_groups", "mon_data"} | {f.name for f in _FILES}
        if rest and rest[0] not in root_names:
            found = next((c for c in g.ctrl_groups if c.name == rest[0] and not c.is_root), None)
            if found is None:
                return None, rest
            group, rest = found, rest[1:]
        if len(rest) >= 2 and rest[0] == "mon_groups":
            mon = group.mon_groups.get(rest[1])
            if mon is None:
                return None, rest
            group, rest = mon, rest[2:]
        return group, rest

    def _files(self, group: RdtGroup) -> list[GroupFile]:
        """The files of a group directory (rdtgroup_add_files: every flag must be held)."""
        g = self.groups
        assert g is not None

        def wanted(f: GroupFile) -> bool:
            if Where.DEBUG in f.where and "debug" not in self.options:
                return False
            if Where.CNTR in f.where and not (self.counters and self.counters.enabled):
                return False
            if Where.MBPS in f.where and not self.mba_sc:
                return False
            if Where.CTRL in f.where and group.kind is not GroupKind.CTRL_MON:
                return False
            return not (Where.MON in f.where and not g.mon_capable)

        return [f for f in _FILES if wanted(f)]

    def _group_dir(self, group: RdtGroup) -> list[str]:
        g = self.groups
        assert g is not None
        names = [f.name for f in self._files(group)]
        if group.is_root:
            names.append("info")
        if g.mon_capable:
            names.append("mon_data")
            if group.kind is GroupKind.CTRL_MON:
                names.append("mon_groups")
        if group.is_root:
            names += [c.name for c in reversed(g.ctrl_groups) if not c.is_root]
        return names

    def _mon_resources(self) -> list[RdtResource]:
        return [r for r in self.arch.resources() if r.mon_capable]

    def _info_dirs(self) -> list[str]:
        return [s.name for s in reversed(self.schemas.schemas)] + [
            f"{r.name}_MON" for r in self._mon_resources()
        ]

    def _info_files(self, name: str) -> list[tuple[str, int]]:
        s = self.schemas.find(name)
        if s is not None:
            if s.resource.schema_fmt is SchemaFormat.BITMAP:
                return [("bit_usage", 0o444), ("cbm_mask", 0o444), ("min_cbm_bits", 0o444),
                        ("num_closids", 0o444), ("shareable_bits", 0o444), ("sparse_masks", 0o444)]  # fmt: skip
            files = [("bandwidth_gran", 0o444), ("delay_linear", 0o444), ("min_bandwidth", 0o444),
                     ("num_closids", 0o444)]  # fmt: skip
            return files
        if name.endswith("_MON") and any(r.name == name[:-4] for r in self._mon_resources()):
            files = [("max_threshold_occupancy", 0o644), ("mbm_assign_mode", 0o644),
                     ("mon_features", 0o444), ("num_rmids", 0o444)]  # fmt: skip
            if name == "L3_MON" and self._assignable():
                files += [("available_mbm_cntrs", 0o444), ("mbm_assign_on_mkdir", 0o644),
                          ("num_mbm_cntrs", 0o444)]  # fmt: skip
            return files
        return []

    def _assignable(self) -> bool:
        return self.counters is not None and self.counters.r.mbm_cntr_assignable

    def _event_configs(self, parts: list[str]) -> Node | list[str] | None:
        """info/L3_MON/event_configs/<event>/event_filter, while counters are assignable:
        the directory listing, the node, or None when the path is not there."""
        if not self._assignable() or parts[:2] != ["L3_MON", "event_configs"]:
            return None
        assert self.counters is not None
        events = [e.file_name for e in self.counters.events()]
        mode = 0o644 if self.counters.r.mbm_cntr_configurable else 0o444
        if len(parts) == 2:
            return events
        if parts[2] not in events:
            return None
        if len(parts) == 3:
            return ["event_filter"]
        if parts[3:] == ["event_filter"]:
            return Node(False, mode)
        return None

    def stat(self, path: str) -> Node | int:
        if self.groups is None:
            return -errno.ENOENT
        parts = self._split(path)
        if not parts:
            return Node(True, 0o755)
        if parts[0] == "info":
            if len(parts) == 1:
                return Node(True, 0o555)
            if len(parts) == 2:
                if parts[1] == "last_cmd_status":
                    return Node(False, 0o444)
                return Node(True, 0o555) if parts[1] in self._info_dirs() else -errno.ENOENT
            if len(parts) == 3:
                for name, mode in self._info_files(parts[1]):
                    if name == parts[2]:
                        return Node(False, mode)
            found = self._event_configs(parts[1:])
            if isinstance(found, Node):
                return found
            return Node(True, 0o555) if found is not None else -errno.ENOENT
        group, rest = self._group_at(parts)
        if group is None:
            return -errno.ENOENT
        if not rest:
            return Node(True, 0o755)
        if rest[0] == "mon_groups" and len(rest) == 1 and group.kind is GroupKind.CTRL_MON:
            return Node(True, 0o755)
        if rest[0] == "mon_data" and self.groups.mon_capable:
            if len(rest) == 1:
                return Node(True, 0o555)
            dom = self._mon_domain(rest[1])
            if dom is None:
                return -errno.ENOENT
            if len(rest) == 2:
                return Node(True, 0o555)
            if len(rest) == 3 and rest[2] in [e.file_name for e in dom[0].events]:
                return Node(False, 0o444)
            return -errno.ENOENT
        if len(rest) == 1:
            for f in self._files(group):
                if f.name == rest[0]:
                    return Node(False, f.mode)
        return -errno.ENOENT

    def _mon_domain(self, name: str) -> tuple[RdtResource, int] | None:
        for r in self._mon_resources():
            for d in r.mon_domains:
                if name == f"mon_{r.name}_{d.id:02d}":
                    return r, d.id
        return None

    def listdir(self, path: str) -> list[str] | int:
        node = self.stat(path)
        if isinstance(node, int):
            return node
        if not node.is_dir:
            return -errno.ENOTDIR
        assert self.groups is not None
        parts = self._split(path)
        if parts and parts[0] == "info":
            if len(parts) == 1:
                return ["last_cmd_status", *self._info_dirs()]
            if len(parts) == 2:
                names = [n for n, _ in self._info_files(parts[1])]
                if parts[1] == "L3_MON" and self._assignable():
                    names.append("event_configs")
                return names
            found = self._event_configs(parts[1:])
            assert isinstance(found, list)
            return found
        group, rest = self._group_at(parts)
        assert group is not None
        if not rest:
            return self._group_dir(group)
        if rest[0] == "mon_groups":
            return list(group.mon_groups)
        if len(rest) == 1:
            return [
                f"mon_{r.name}_{d.id:02d}" for r in self._mon_resources() for d in r.mon_domains
            ]
        dom = self._mon_domain(rest[1])
        assert dom is not None
        return [e.file_name for e in dom[0].events]

    # --- reads ----------------------------------------------------------------------------

    def read(self, path: str) -> str | int:
        node = self.stat(path)
        if isinstance(node, int):
            return node
        if node.is_dir:
            return -errno.EISDIR
        assert self.groups is not None
        parts = self._split(path)
        if parts[0] == "info":
            return self._read_info(parts[1:])
        group, rest = self._group_at(parts)
        assert group is not None
        if rest[0] == "mon_data":
            return self._read_event(group, rest[1], rest[2])
        return self._read_group_file(group, rest[0])

    def _read_group_file(self, group: RdtGroup, name: str) -> str | int:
        g = self.groups
        assert g is not None
        if name in ("cpus", "cpus_list"):
            return g.cpus_show(group, as_list=name == "cpus_list")
        if name == "tasks":
            return g.tasks_show(group)
        if name == "schemata":
            mbps = self.mbps if self.mba_sc else None
            return ctrlmondata.schemata_show(self.schemas, self.arch, group.closid, mbps)
        if name == "mba_MBps_event":
            return f"{self.mbps_event.get(group.closid, EventId.MBM_TOTAL_BYTES).file_name}\n"
        if name == "mode":
            return self.modes.get(group.closid, "shareable") + "\n"
        if name == "size":
            return ctrlmondata.size_show(self.schemas, self.arch, group.closid, self._domain_size)
        if name == "ctrl_hw_id":
            return f"{group.closid}\n"
        if name == "mon_hw_id":
            return f"{group.rmid}\n"
        if name == "mbm_L3_assignments":
            assert self.counters is not None
            return self.counters.show_assignments(group)
        return -errno.EACCES

    def _domain_size(self, r: RdtResource, domain_id: int) -> int:
        return self.cache_size(3 if r.rid is ResourceId.L3 else 2)

    def _read_info(self, parts: list[str]) -> str | int:
        if parts == ["last_cmd_status"]:
            return self.status.show()
        s = self.schemas.find(parts[0])
        name = parts[1]
        if s is not None:
            r = s.resource
            values = {
                "num_closids": f"{s.num_closid}",
                "cbm_mask": f"{r.default_ctrl:x}",
                "min_cbm_bits": f"{r.min_cbm_bits}",
                "shareable_bits": f"{r.shareable_bits:x}",
                "sparse_masks": f"{int(r.arch_has_sparse_bitmasks)}",
                "min_bandwidth": f"{r.min_bw}",
                "bandwidth_gran": f"{r.bw_gran}",
                "delay_linear": f"{int(r.delay_linear)}",
            }
            if name == "bit_usage":
                return ctrlmondata.bit_usage_show(s, self.arch, self._allocated(), self.modes)
            return values[name] + "\n"
        r = next(x for x in self._mon_resources() if f"{x.name}_MON" == parts[0])
        if name == "mon_features":
            return "".join(f"{e.file_name}\n" for e in r.events)
        if name == "num_rmids":
            return f"{r.num_rmid}\n"
        if name == "max_threshold_occupancy":
            return f"{self.threshold}\n"
        c = self.counters
        assert c is not None
        if name == "mbm_assign_mode":
            return c.show_mode()
        if name == "num_mbm_cntrs":
            return c.show_num()
        if name == "available_mbm_cntrs":
            return c.show_available()
        if name == "mbm_assign_on_mkdir":
            return c.show_on_mkdir()
        if name == "event_configs":
            return c.show_event_filter(EventId[parts[2].upper()])
        return -errno.ENOENT

    def _allocated(self) -> set[int]:
        assert self.groups is not None
        return {c.closid for c in self.groups.ctrl_groups}

    def _read_event(self, group: RdtGroup, dom_name: str, event_name: str) -> str | int:
        dom = self._mon_domain(dom_name)
        assert dom is not None
        r, dom_id = dom
        d = next(x for x in r.mon_domains if x.id == dom_id)
        event = EventId[event_name.upper()]
        targets = (
            [group, *group.mon_groups.values()] if group.kind is GroupKind.CTRL_MON else [group]
        )
        total, errs, ok = 0, [], False
        for t in targets:
            err, value = self.read_mbm(r, d, t, event)
            if err:
                errs.append(err)
            else:
                ok = True
                total += value
        err = 0 if ok else (errs[-1] if errs else 0)
        if err == -errno.EIO:
            return "Error\n"
        if err == -errno.EINVAL:
            return "Unavailable\n"
        if err == -errno.ENOENT:
            return "Unassigned\n"
        return f"{total}\n"

    def read_mbm(
        self, r: RdtResource, d: MonDomain, group: RdtGroup, event: EventId
    ) -> tuple[int, int]:
        """One event of one group (not its children): through its assigned counter in
        mbm_event mode, else the arch's per-RMID count."""
        c = self.counters
        if c is not None and c.enabled and event in MBM_EVENTS and r is c.r:
            return c.read(d, group, event)
        return self.arch.rmid_read(r, d, group.closid, group.rmid, event)

    # --- writes ---------------------------------------------------------------------------

    def open_write(self, path: str) -> int:
        """kernfs open for writing: EACCES for a read-only file, even for root."""
        node = self.stat(path)
        if isinstance(node, int):
            return node
        if node.is_dir:
            return -errno.EISDIR
        return 0 if node.mode & 0o200 else -errno.EACCES

    def write(self, path: str, data: str, *, pid: int = 1, euid: int = 0) -> int:
        """Write `data` as task `pid` with effective uid `euid` (by default root's shell,
        pid 1); its length on success, a negative errno otherwise."""
        err = self.open_write(path)
        if err:
            return err
        assert self.groups is not None
        g = self.groups
        parts = self._split(path)
        if parts[0] == "info":
            return self._write_info(parts[1:], data)
        group, rest = self._group_at(parts)
        assert group is not None
        name = rest[0]
        if name in ("cpus", "cpus_list"):
            err = g.cpus_write(group, data, as_list=name == "cpus_list")
        elif name == "tasks":
            err = g.tasks_write(group, data, writer_pid=pid, euid=euid)
        elif name == "schemata":
            others = {c: self.modes.get(c, "shareable") for c in self._allocated()}
            err = ctrlmondata.schemata_write(self.schemas, self.arch, self.status, group.closid, data,
                                             mode=self.modes.get(group.closid, "shareable"),
                                             closid_modes=others, allocated=self._allocated(),
                                             mbps=self.mbps if self.mba_sc else None)  # fmt: skip
        elif name == "mode":
            err, mode = ctrlmondata.mode_write(self.schemas, self.arch, self.status, group.closid, data,
                                               current=self.modes.get(group.closid, "shareable"),
                                               allocated=self._allocated())  # fmt: skip
            if not err:
                self.modes[group.closid] = mode
        elif name == "mba_MBps_event":
            err = self._write_mbps_event(group, data)
        elif name == "mbm_L3_assignments":
            assert self.counters is not None
            err = self.counters.write_assignments(group, data)
        else:
            return -errno.EACCES
        return err if err else len(data.encode())

    def _write_mbps_event(self, group: RdtGroup, data: str) -> int:
        """rdtgroup_mba_mbps_event_write: which enabled MBM event the controller follows."""
        if not data.endswith("\n"):
            return -errno.EINVAL
        self.status.clear()
        name = data[:-1]
        event = next((e for e in MBM_EVENTS if e.file_name == name), None)
        if event is None or event not in self.arch.enabled_events():
            self.status.puts(f"Unsupported event id '{name}'\n")
            return -errno.EINVAL
        self.mbps_event[group.closid] = event
        return 0

    def _write_info(self, parts: list[str], data: str) -> int:
        name = parts[-1]
        if name == "max_threshold_occupancy":
            return self._write_threshold(data)
        assert self.counters is not None
        if name == "mbm_assign_mode":
            err = self.counters.write_mode(data)
        elif name == "mbm_assign_on_mkdir":
            err = self.counters.write_on_mkdir(data)
        else:
            return -errno.EACCES
        return err if err else len(data.encode())

    def _write_threshold(self, data: str) -> int:
        text = data.strip()
        try:
            value = int(text, 0)
        except ValueError:
            return -errno.EINVAL
        if value < 0 or value > self.l3_size():
            return -errno.EINVAL
        self.threshold = value
        return len(data.encode())

    # --- directories ----------------------------------------------------------------------

    def mkdir(self, path: str) -> int:
        if self.groups is None:
            return -errno.ENOENT
        g = self.groups
        parts = self._split(path)
        if not parts:
            return -errno.EEXIST
        if self.stat(path) != -errno.ENOENT:
            return -errno.EEXIST
        name = parts[-1]
        parent_parts = parts[:-1]
        if not parent_parts:
            # In the root: a CTRL_MON group, which needs allocation (a monitor-only system
            # keeps its MON groups in the root's mon_groups).
            if not g.alloc_capable:
                return -errno.EPERM
            err, group = g.mkdir_ctrl_mon(name)
            self._new_group(group)
            return err
        if parent_parts[0] == "info":
            return -errno.ENODEV if len(parent_parts) == 1 else -errno.EPERM
        group, rest = self._group_at(parent_parts)
        if group is None:
            return -errno.ENOENT
        if rest != ["mon_groups"] or group.kind is not GroupKind.CTRL_MON:
            self.status.clear()
            return -errno.EPERM
        err, mon = g.mkdir_mon(group, name)
        self._new_group(mon)
        return err

    def _new_group(self, group: RdtGroup | None) -> None:
        """A new group's MBM counts start from zero; in mbm_event mode it gets counters."""
        if group is None or self.counters is None:
            return
        self.worker.forget(group)
        if group.kind is GroupKind.CTRL_MON:
            self.mbps_event.pop(group.closid, None)
        if self.counters.enabled:
            self.counters.assign_on_create(group)
            return
        for r in self._mon_resources():
            for d in r.mon_domains:
                for event in r.events:
                    if event in MBM_EVENTS:
                        self.arch.reset_rmid(r, d, group.closid, group.rmid, event)

    def rmdir(self, path: str) -> int:
        if self.groups is None:
            return -errno.ENOENT
        parts = self._split(path)
        if not parts or parts[0] == "info":
            return -errno.EPERM
        group, rest = self._group_at(parts)
        if group is None:
            return -errno.ENOENT
        if rest:
            node = self.stat(path)
            if isinstance(node, int):
                return node
            return -errno.EPERM if node.is_dir else -errno.ENOTDIR
        return self._rmdir_group(group)

    def _rmdir_group(self, group: RdtGroup) -> int:
        """rmdir: counters of the group (and of its MON groups) go back first."""
        assert self.groups is not None
        if group.is_root:
            return -errno.EPERM
        if self.counters is not None:
            for g in [group, *group.mon_groups.values()]:
                self.counters.unassign_all(g)
        err = self.groups.rmdir(group)
        self.worker.kick()  # a freed RMID in limbo is checked from now on
        return err

    def rename(self, src: str, dst: str) -> int:
        """Only a MON group moves, between mon_groups directories (rdtgroup_rename)."""
        if self.groups is None:
            return -errno.ENOENT
        self.status.clear()
        sp, dp = self._split(src), self._split(dst)
        src_node = self.stat(src)
        if isinstance(src_node, int):
            return src_node
        group, rest = self._group_at(sp)
        if not src_node.is_dir:
            self.status.puts("Source and destination must be directories")
            return -errno.EPERM
        if group is None or rest or group.kind is not GroupKind.MON:
            self.status.puts("Source must be a MON group\n")
            return -errno.EPERM
        parent, prest = self._group_at(dp[:-1]) if dp else (None, [])
        if parent is None or prest != ["mon_groups"] or parent.kind is not GroupKind.CTRL_MON:
            self.status.puts("Destination must be a mon_groups subdirectory\n")
            return -errno.EPERM
        if dp[-1] in parent.mon_groups:
            return -errno.EEXIST
        old_parent = group.parent
        assert old_parent is not None
        if parent is not old_parent:
            if group.cpus:
                self.status.puts("Cannot move a MON group that monitors CPUs\n")
                return -errno.EPERM
            for task in self.kernel.tasks:
                if task.pid and self.arch.match_rmid(task.pid, group.closid, group.rmid):
                    self.arch.set_closid_rmid(task.pid, parent.closid, group.rmid)
            group.closid = parent.closid
            if self.counters is not None:
                self.counters.reassign(group)
        del old_parent.mon_groups[group.name]
        group.name = dp[-1]
        group.parent = parent
        parent.mon_groups[group.name] = group
        return 0
