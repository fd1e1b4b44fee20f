"""resctrl's files: which a directory holds, the kernfs nodes resctrl creates for them, and
their show and write functions (fs/resctrl/rdtgroup.c's rftype tables, rdtgroup_add_files,
rdtgroup_create_info_dir, mkdir_mondata_all, and the *_show / *_write functions; read for
behaviour, written anew).

The group files, their modes and where they appear are declared once, in the `FILES` table,
as the kernel's res_common_files table does; info files per directory. `ResctrlFiles` is
the half of `mpam.resctrl.fs.ResctrlFs` that builds and serves them; the other half mounts,
walks paths and makes, removes and moves groups.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Flag, auto

from mpam.kernel import Kernel
from mpam.kernel.kernfs import ROOT, Cred, KernfsNode, KernfsOps, KernfsRoot
from mpam.kernel.kstrtox import kstrtouint
from mpam.resctrl import ctrlmondata
from mpam.resctrl.arch import EventId, MonDomain, RdtResource, ResctrlArch, ResourceId, SchemaFormat
from mpam.resctrl.monitor import MBM_EVENTS, MbmCounters
from mpam.resctrl.rdtgroup import GroupKind, RdtGroup, Rdtgroups
from mpam.resctrl.schema import SchemaList
from mpam.resctrl.status import LastCmdStatus

__all__ = ["FILES", "GroupFile", "MonDir", "ResctrlFiles", "Where"]


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
FILES = (
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


#: The info files of a control schema, by format, and of a monitoring resource.
_BITMAP_INFO = ("bit_usage", "cbm_mask", "min_cbm_bits", "num_closids", "shareable_bits",
                "sparse_masks")  # fmt: skip
_MB_INFO = ("bandwidth_gran", "delay_linear", "min_bandwidth", "num_closids")
_MON_INFO = (("max_threshold_occupancy", 0o644), ("mbm_assign_mode", 0o644),
             ("mon_features", 0o444), ("num_rmids", 0o444))  # fmt: skip
_CNTR_INFO = (("available_mbm_cntrs", 0o444), ("mbm_assign_on_mkdir", 0o644),
              ("num_mbm_cntrs", 0o444))  # fmt: skip


@dataclass(frozen=True)
class MonDir:
    """The private data of a mon_<resource>_<id> directory (struct mon_data's domain)."""

    group: RdtGroup
    r: RdtResource
    dom_id: int


class ResctrlFiles:
    """The files of a mounted resctrl: built into the kernfs tree, read and written."""

    # the state they read, kept by ResctrlFs
    arch: ResctrlArch
    kernel: Kernel
    cache_size: Callable[[int], int]
    status: LastCmdStatus
    schemas: SchemaList
    groups: Rdtgroups | None
    options: tuple[str, ...]
    modes: dict[int, str]
    threshold: int
    counters: MbmCounters | None
    mbps: dict[tuple[int, int], int]
    mbps_event: dict[int, EventId]
    kf: KernfsRoot | None
    kn: dict[RdtGroup, KernfsNode]
    rtc_ns: int

    def realtime_ns(self) -> int:
        """ktime_get_real_ns: what kernfs stamps nodes with."""
        return self.rtc_ns + self.kernel.clock.now_ns

    @property
    def mba_sc(self) -> bool:
        """Mounted with mba_MBps: MB is a MiB/s target the software controller meets."""
        return "mba_MBps" in self.options

    def l3_size(self) -> int:
        """Bytes of the smallest L3 (the realloc limit), from the kernel's cacheinfo."""
        return self.cache_size(3)

    # --- the kernfs tree ------------------------------------------------------------------

    def _build_tree(self) -> None:
        """rdt_get_tree: the root's files, info, and (when monitoring) mon_groups and
        mon_data, as rdtgroup_setup_root, rdtgroup_create_info_dir, mongroup_create_dir
        and mkdir_mondata_all create them."""
        g = self.groups
        assert g is not None
        self.kf = KernfsRoot(self.realtime_ns, root_priv=g.root)
        self.kn = {g.root: self.kf.kn}
        self._add_files(self.kf.kn, g.root, ROOT)
        self._create_info_dir(self.kf.kn)
        if g.mon_capable:
            self._mongroup_create_dir(g.root, ROOT)
            self._mkdir_mondata_all(g.root, ROOT)

    def _ugid(self, cred: Cred) -> tuple[int, int]:
        """rdtgroup_kn_set_ugid: nodes a user creates are theirs (root's stay root's)."""
        return cred.uid, cred.gid

    def _add_files(self, parent: KernfsNode, group: RdtGroup, cred: Cred) -> None:
        """rdtgroup_add_files: the files of a group directory (the counter assignment file
        whenever counters can be assigned; in default mode reading it says so)."""
        kf = self.kf
        assert kf is not None
        uid, gid = self._ugid(cred)
        ops = KernfsOps(self._show_group_file, self._write_group_file)
        for f in self._files(group):
            kf.create_file(parent, f.name, f.mode, ops, f, uid, gid)

    def _create_info_dir(self, root: KernfsNode) -> None:
        kf = self.kf
        assert kf is not None
        info = kf.create_dir(root, "info", root.mode)
        assert isinstance(info, KernfsNode)
        ops = KernfsOps(self._show_info, self._write_info)
        kf.create_file(info, "last_cmd_status", 0o444, ops)
        for name in self._info_dirs():
            sub = kf.create_dir(info, name, info.mode)
            assert isinstance(sub, KernfsNode)
            for file, mode in self._info_files(name):
                kf.create_file(sub, file, mode, ops)
            if name == "L3_MON" and self._assignable():
                self._mkdir_event_configs(sub, ops)

    def _mkdir_event_configs(self, l3_mon: KernfsNode, ops: KernfsOps) -> None:
        """info/L3_MON/event_configs/<event>/event_filter, while counters are assignable."""
        kf = self.kf
        assert kf is not None and self.counters is not None
        top = kf.create_dir(l3_mon, "event_configs", l3_mon.mode)
        assert isinstance(top, KernfsNode)
        mode = 0o644 if self.counters.r.mbm_cntr_configurable else 0o444
        for event in self.counters.events():
            sub = kf.create_dir(top, event.file_name, top.mode, event)
            assert isinstance(sub, KernfsNode)
            kf.create_file(sub, "event_filter", mode, ops)

    def _mongroup_create_dir(self, group: RdtGroup, cred: Cred) -> None:
        """mongroup_create_dir: mon_groups takes its group directory's mode."""
        kf = self.kf
        assert kf is not None
        parent = self.kn[group]
        kf.create_dir(parent, "mon_groups", parent.mode, group, *self._ugid(cred))

    def _mkdir_mondata_all(self, group: RdtGroup, cred: Cred) -> None:
        """mkdir_mondata_all: mon_data, then one directory per monitoring domain."""
        kf = self.kf
        assert kf is not None
        parent = self.kn[group]
        mon_data = kf.create_dir(parent, "mon_data", parent.mode, group, *self._ugid(cred))
        assert isinstance(mon_data, KernfsNode)
        for r in self._mon_resources():
            for d in r.mon_domains:
                self._mkdir_mondata_subdir(mon_data, group, r, d, cred)

    def _mkdir_mondata_subdir(self, mon_data: KernfsNode, group: RdtGroup, r: RdtResource,
                              d: MonDomain, cred: Cred) -> None:  # fmt: skip
        """mkdir_mondata_subdir: mon_<resource>_<id> with one 0444 file per event."""
        kf = self.kf
        assert kf is not None
        uid, gid = self._ugid(cred)
        sub = kf.create_dir(mon_data, self._mon_dir_name(r, d.id), mon_data.mode,
                            MonDir(group, r, d.id), uid, gid)  # fmt: skip
        if isinstance(sub, int):
            return  # already there
        ops = KernfsOps(self._show_event)
        for event in r.events:
            kf.create_file(sub, event.file_name, 0o444, ops, event, uid, gid)

    @staticmethod
    def _mon_dir_name(r: RdtResource, dom_id: int) -> str:
        return f"mon_{r.name}_{dom_id:02d}"

    def _all_groups(self) -> Iterator[RdtGroup]:
        g = self.groups
        assert g is not None
        for c in g.ctrl_groups:
            yield c
            yield from c.mon_groups.values()

    @staticmethod
    def _to_group(node: KernfsNode) -> RdtGroup | None:
        """kernfs_to_rdtgroup: a directory's own group, a file's parent's; info and its
        subdirectories have none."""
        holder = node if node.is_dir else node.parent
        priv = holder.priv if holder is not None else None
        if isinstance(priv, MonDir):
            return priv.group
        return priv if isinstance(priv, RdtGroup) and not priv.deleted else None

    def _lock_live(self, node: KernfsNode) -> RdtGroup | None:
        """rdtgroup_kn_lock_live: the node's live group; as in the newest trees (tip, 2026:
        see docs/resctrl.md), taking it clears last_cmd_status, so reading a group file
        does too. Info files are not group files and never clear it."""
        group = self._to_group(node)
        if group is not None:
            self.status.clear()
        return group

    # --- what a group directory holds -----------------------------------------------------

    def _files(self, group: RdtGroup) -> list[GroupFile]:
        """The files of a group directory (rdtgroup_add_files: every flag must be held)."""
        g = self.groups
        assert g is not None

        def wanted(f: GroupFile) -> bool:
            if Where.DEBUG in f.where and "debug" not in self.options:
                return False
            if Where.CNTR in f.where and not self._assignable():
                return False
            if Where.MBPS in f.where and not self.mba_sc:
                return False
            if Where.CTRL in f.where and group.kind is not GroupKind.CTRL_MON:
                return False
            return not (Where.MON in f.where and not g.mon_capable)

        return [f for f in FILES if wanted(f)]

    def _mon_resources(self) -> list[RdtResource]:
        return [r for r in self.arch.resources() if r.mon_capable]

    def _info_dirs(self) -> list[str]:
        return [s.name for s in reversed(self.schemas.schemas)] + [
            f"{r.name}_MON" for r in self._mon_resources()
        ]

    def _info_files(self, name: str) -> list[tuple[str, int]]:
        s = self.schemas.find(name)
        if s is not None:
            names = _BITMAP_INFO if s.resource.schema_fmt is SchemaFormat.BITMAP else _MB_INFO
            return [(n, 0o444) for n in names]
        files = list(_MON_INFO)
        if name == "L3_MON" and self._assignable():
            files += _CNTR_INFO
        return files

    def _assignable(self) -> bool:
        return self.counters is not None and self.counters.r.mbm_cntr_assignable

    def _read_group_file(self, group: RdtGroup, name: str, cred: Cred) -> str | int:
        g = self.groups
        assert g is not None
        if name in ("cpus", "cpus_list"):
            return g.cpus_show(group, as_list=name == "cpus_list")
        if name == "tasks":
            return g.tasks_show(group, cred.pidns)
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

    def _show_info(self, node: KernfsNode, cred: Cred) -> str | int:
        parts = node.path()[1:]
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

    def _show_event(self, node: KernfsNode, cred: Cred) -> str | int:
        """rdtgroup_mondata_show: the group's count (with its MON groups' for a CTRL_MON
        group) in one domain."""
        assert node.parent is not None
        where = node.parent.priv
        assert isinstance(where, MonDir)
        group, r, event = where.group, where.r, node.priv
        if self._lock_live(node) is None:
            return -errno.ENOENT
        d = next((x for x in r.mon_domains if x.id == where.dom_id), None)
        if d is None:
            return -errno.ENOENT
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

    def _write_info(self, node: KernfsNode, data: str, cred: Cred) -> int:
        name = node.name
        if name == "max_threshold_occupancy":
            return self._write_threshold(data)
        if self.counters is None:
            return -errno.EINVAL
        if name == "mbm_assign_mode":
            return self.counters.write_mode(data)
        if name == "mbm_assign_on_mkdir":
            return self.counters.write_on_mkdir(data)
        return -errno.EINVAL  # no write function (rdtgroup_file_write)

    def _write_threshold(self, data: str) -> int:
        """rdtgroup_max_threshold_occ_write: kstrtouint, at most the realloc limit."""
        err, value = kstrtouint(data, 0)
        if err:
            return err
        if value > self.l3_size():
            return -errno.EINVAL
        self.threshold = value
        return 0

    # --- file handlers (the rftype show and write functions) ------------------------------

    def _show_group_file(self, node: KernfsNode, cred: Cred) -> str | int:
        group = self._lock_live(node)
        if group is None:
            return -errno.ENOENT  # rdtgroup_kn_lock_live found the group deleted
        return self._read_group_file(group, node.name, cred)

    def _write_group_file(self, node: KernfsNode, data: str, cred: Cred) -> int:
        """rdtgroup_file_write: the file's own write function, as `cred`'s task."""
        group = self._lock_live(node)
        if group is None:
            return -errno.ENOENT
        g = self.groups
        assert g is not None
        name = node.name
        if name in ("cpus", "cpus_list"):
            return g.cpus_write(group, data, as_list=name == "cpus_list")
        if name == "tasks":
            return g.tasks_write(group, data, writer_pid=cred.pid, euid=cred.uid,
                                 pidns=cred.pidns)  # fmt: skip
        if name == "schemata":
            others = {c: self.modes.get(c, "shareable") for c in self._allocated()}
            return ctrlmondata.schemata_write(self.schemas, self.arch, self.status, group.closid,
                                              data, mode=self.modes.get(group.closid, "shareable"),
                                              closid_modes=others, allocated=self._allocated(),
                                              mbps=self.mbps if self.mba_sc else None)  # fmt: skip
        if name == "mode":
            err, mode = ctrlmondata.mode_write(self.schemas, self.arch, self.status, group.closid, data,
                                               current=self.modes.get(group.closid, "shareable"),
                                               allocated=self._allocated())  # fmt: skip
            if not err:
                self.modes[group.closid] = mode
            return err
        if name == "mba_MBps_event":
            return self._write_mbps_event(group, data)
        if name == "mbm_L3_assignments":
            assert self.counters is not None
            return self.counters.write_assignments(group, data)
        return -errno.EINVAL  # no write function (rdtgroup_file_write)
