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
from mpam.resctrl.arch import EventId, RdtResource, ResctrlArch, ResourceId, SchemaFormat
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

    # --- mount ----------------------------------------------------------------------------

    @property
    def mounted(self) -> bool:
        return self.groups is not None

    def mount(self, options: str = "") -> int:
        """Mount with comma-separated options; -EBUSY when already mounted."""
        if self.mounted:
            return -errno.EBUSY
        opts = [o for o in options.split(",") if o]
        if any(o not in MOUNT_OPTIONS for o in opts):
            return -errno.EINVAL
        resources = {r.rid: r for r in self.arch.resources()}
        if not any(r.alloc_capable or r.mon_capable for r in resources.values()):
            return -errno.EOPNOTSUPP
        if "mba_MBps" in opts:
            return -errno.EINVAL  # no MBM event backs the software controller on MPAM
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
        self.status.clear()
        return 0

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
                g.rmdir(group)
        for child in list(g.root.mon_groups.values()):
            g.rmdir(child)
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
            return [("max_threshold_occupancy", 0o644), ("mbm_assign_mode", 0o444),
                    ("mon_features", 0o444), ("num_rmids", 0o444)]  # fmt: skip
        return []

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
            return -errno.ENOENT
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
            return [n for n, _ in self._info_files(parts[1])]
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
            return ctrlmondata.schemata_show(self.schemas, self.arch, group.closid)
        if name == "mode":
            return self.modes.get(group.closid, "shareable") + "\n"
        if name == "size":
            return ctrlmondata.size_show(self.schemas, self.arch, group.closid, self._domain_size)
        if name == "ctrl_hw_id":
            return f"{group.closid}\n"
        if name == "mon_hw_id":
            return f"{group.rmid}\n"
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
        if name == "mbm_assign_mode":
            return "[default]\n"
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
            err, value = self.arch.rmid_read(r, d, t.closid, t.rmid, event)
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
            return self._write_threshold(data)
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
                                             closid_modes=others, allocated=self._allocated())  # fmt: skip
        elif name == "mode":
            err, mode = ctrlmondata.mode_write(self.schemas, self.arch, self.status, group.closid, data,
                                               current=self.modes.get(group.closid, "shareable"),
                                               allocated=self._allocated())  # fmt: skip
            if not err:
                self.modes[group.closid] = mode
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
            err, _ = g.mkdir_ctrl_mon(name)
            return err
        if parent_parts[0] == "info":
            return -errno.ENODEV if len(parent_parts) == 1 else -errno.EPERM
        group, rest = self._group_at(parent_parts)
        if group is None:
            return -errno.ENOENT
        if rest != ["mon_groups"] or group.kind is not GroupKind.CTRL_MON:
            self.status.clear()
            return -errno.EPERM
        err, _ = g.mkdir_mon(group, name)
        return err

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
        return self.groups.rmdir(group)

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
        del old_parent.mon_groups[group.name]
        group.name = dp[-1]
        group.parent = parent
        parent.mon_groups[group.name] = group
        return 0
