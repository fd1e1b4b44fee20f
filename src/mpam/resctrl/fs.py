"""The resctrl filesystem of one machine, on kernfs (fs/resctrl/rdtgroup.c, written anew).

`ResctrlFs.mount(options)` builds the schema list, the groups and their kernfs tree, as
``rdt_get_tree`` does; `mkdir`, `rmdir` and `rename` are resctrl's kernfs syscall
operations; the files, their nodes and their handlers are `mpam.resctrl.files`. Owners,
modes, open-time checks, stale file descriptors and atomic writes are kernfs's
(mpam.kernel.kernfs), so resctrl sits on them as the kernel's does. The path functions (`stat`, `listdir`, `read`,
`write`, ...) take paths relative to the mount point, walk them as the VFS would for the
caller's credentials, and return the kernel's errno (negative) on failure, with the reason
in info/last_cmd_status. The FUSE adapter only translates.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from mpam.kernel import Kernel
from mpam.kernel.kernfs import (
    MAY_EXEC,
    MAY_WRITE,
    ROOT,
    Cred,
    KernfsNode,
    KernfsOpenFile,
    KernfsRoot,
    generic_permission,
)
from mpam.resctrl.arch import (
    CtrlDomain,
    EventId,
    MonDomain,
    RdtResource,
    ResctrlArch,
    ResourceId,
)
from mpam.resctrl.files import ResctrlFiles
from mpam.resctrl.mon_worker import MonWorker
from mpam.resctrl.monitor import MBM_EVENTS, MbmCounters
from mpam.resctrl.rdtgroup import GroupKind, RdtGroup, Rdtgroups, RmidAllocator
from mpam.resctrl.schema import SchemaList
from mpam.resctrl.status import LastCmdStatus

__all__ = ["MOUNT_OPTIONS", "ResctrlFs"]

#: The mount options resctrl parses, in the order /proc/mounts prints them.
MOUNT_OPTIONS = ("cdp", "cdpl2", "mba_MBps", "debug")


class ResctrlFs(ResctrlFiles):
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
        #: the real-time clock at boot (ns since the epoch), read once by the machine like
        #: an RTC: file timestamps are this plus simulated time, so the simulation itself
        #: never depends on the wall clock
        self.rtc_ns = 0
        #: the kernfs tree while mounted (after resctrl_exit, a dead root until unmounted)
        self.kf: KernfsRoot | None = None
        self.kn: dict[RdtGroup, KernfsNode] = {}  # rdtgrp->kn
        #: resctrl_exit has run: the filesystem type is unregistered
        self.exited = False

    # --- mount ----------------------------------------------------------------------------

    @property
    def mounted(self) -> bool:
        return self.groups is not None

    def mount(self, options: str = "") -> int:
        """Mount with comma-separated options; -EBUSY when already mounted, -ENODEV once
        resctrl_exit has unregistered the filesystem type."""
        if self.exited:
            return -errno.ENODEV
        opts = [o for o in options.split(",") if o]
        for o in opts:
            if o not in MOUNT_OPTIONS:
                # fs/fs_context.c vfs_parse_fs_param(): invalf(fc, "%s: Unknown parameter
                # '%s'", fc->fs_type->name, key), logged like every mount error. Options
                # are parsed before rdt_get_tree finds resctrl mounted.
                return self._mount_fail(f"Unknown parameter '{o}'")
        if self.mounted or self.kf is not None:
            return -errno.EBUSY
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
        self._build_tree()
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

    def umount(self) -> int:
        """Unmount: every group removed, every task and CPU back to the root, every control
        back to its default, CDP off (rdt_kill_sb)."""
        if self.groups is None:
            if self.kf is None:
                return -errno.EINVAL
            self.kf = None  # the dead tree resctrl_exit left behind; rdt_kill_sb still
            self._cdp_off()  # turns CDP off (rdt_disable_ctx)
            return 0
        self._teardown()
        for r in self.arch.resources():
            if r.alloc_capable:
                self.arch.reset_all_ctrls(r)
        self._cdp_off()
        assert self.kf is not None
        self.kf.destroy()
        self.kf = None
        return 0

    def _cdp_off(self) -> None:
        for rid in (ResourceId.L2, ResourceId.L3):
            if self.arch.get_cdp_enabled(rid):
                self.arch.set_cdp_enabled(rid, False)

    def _teardown(self) -> None:
        """rmdir_all_sub: every group goes, its tasks and CPUs back to the default group."""
        g = self.groups
        assert g is not None
        for group in list(g.ctrl_groups):
            if not group.is_root:
                self._rmdir_group(group)
        for child in list(g.root.mon_groups.values()):
            self._rmdir_group(child)
        if self.counters is not None:
            self.counters.unassign_all(g.root)
            self.counters = None
        for task in self.kernel.tasks:
            if task.pid:
                self.arch.set_closid_rmid(task.pid, 0, 0)
        for cpu in range(len(self.kernel.hw.cpus)):
            self.arch.set_cpu_default_closid_rmid(cpu, 0, 0)
            self.arch.sync_cpu_closid_rmid(cpu)
        self.groups = None
        self.options = ()
        self.kn.clear()

    def exit(self) -> None:
        """resctrl_exit, when MPAM is disabled: resctrl_fs_teardown removes every group and
        destroys the kernfs root (open files answer ENODEV, the mount shows an empty
        directory whose lookups fail), and unregister_filesystem makes a new mount fail
        with ENODEV. Nothing is reset through the arch: the driver has reset the MSCs."""
        self.exited = True
        self.worker.cancel()
        if self.groups is None:
            return
        self._teardown()
        assert self.kf is not None
        self.kf.destroy()

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

    # --- domains (called by the arch as CPUs come and go) ---------------------------------

    def online_ctrl_domain(self, r: RdtResource, d: CtrlDomain) -> int:
        """resctrl_online_ctrl_domain: `d`'s first CPU came online (on MPAM the arch calls
        this before adding `d` to `r.ctrl_domains`); schemata, size and bit_usage show it
        from then on. Its MiB/s targets start unset (mba_sc_domain_allocate)."""
        if r.rid is ResourceId.MBA:
            for key in [k for k in self.mbps if k[1] == d.id]:
                del self.mbps[key]
        return 0

    def offline_ctrl_domain(self, r: RdtResource, d: CtrlDomain) -> None:
        """resctrl_offline_ctrl_domain: `d` lost its last CPU (already off the list on
        MPAM); only mba_sc state is per domain (mba_sc_domain_destroy)."""
        if r.rid is ResourceId.MBA:
            for key in [k for k in self.mbps if k[1] == d.id]:
                del self.mbps[key]

    def online_mon_domain(self, r: RdtResource, d: MonDomain) -> int:
        """resctrl_online_mon_domain: the domain's monitoring state (every counter free,
        domain_setup_l3_mon_state) and its overflow and limbo work; while mounted its
        mon_data directories appear in every group (mkdir_mondata_subdir_allrdtgrp), their
        MBM counts starting from the hardware's current values. The fs acts on `d` itself:
        on MPAM the arch lists it only after this returns."""
        self.worker.domain_online(r, d)
        if self.counters is not None and self.counters.r is r:
            self.counters.domain_online(d)
        if self.groups is None or not self.groups.mon_capable or self.kf is None:
            return 0
        for group in self._all_groups():
            mon_data = self.kn[group].children.get("mon_data")
            if mon_data is not None:
                self._mkdir_mondata_subdir(mon_data, group, r, d, ROOT)
                for event in r.events:
                    if event in MBM_EVENTS:
                        self.arch.reset_rmid(r, d, group.closid, group.rmid, event)
        return 0

    def offline_mon_domain(self, r: RdtResource, d: MonDomain) -> None:
        """resctrl_offline_mon_domain: while mounted, the domain's mon_data directories go
        from every group (rmdir_mondata_subdir_allrdtgrp); its work is cancelled and RMIDs
        still in limbo there are freed whatever they read (__check_limbo(d, true)), mounted
        or not, since limbo outlives a mount; its counters are forgotten."""
        self.worker.domain_offline(r, d)
        if self.counters is not None and self.counters.r is r:
            self.counters.domain_offline(d)
        if self.groups is None or self.kf is None:
            return
        name = self._mon_dir_name(r, d.id)
        for group in self._all_groups():
            mon_data = self.kn[group].children.get("mon_data")
            if mon_data is not None and name in mon_data.children:
                self.kf.remove(mon_data.children[name])

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

    # --- paths, as the VFS walks them -----------------------------------------------------

    @staticmethod
    def _split(path: str) -> list[str]:
        return [p for p in path.strip("/").split("/") if p]

    def lookup(self, path: str, cred: Cred = ROOT) -> KernfsNode | int:
        """The node a path names, searched with `cred`'s permissions."""
        if self.kf is None:
            return -errno.ENOENT
        return self.kf.lookup(self._split(path), cred)

    def stat(self, path: str) -> KernfsNode | int:
        return self.lookup(path)

    def listdir(self, path: str, cred: Cred = ROOT) -> list[str] | int:
        node = self.lookup(path, cred)
        if isinstance(node, int):
            return node
        if not node.is_dir:
            return -errno.ENOTDIR
        return [c.name for c in node.visible()]

    def open(self, path: str, cred: Cred = ROOT, *, read: bool = True,
             write: bool = False) -> KernfsOpenFile | int:  # fmt: skip
        """open(2): the walk, may_open's permission check and kernfs_fop_open's."""
        node = self.lookup(path, cred)
        if isinstance(node, int):
            return node
        assert self.kf is not None
        return self.kf.open(node, cred, read, write)

    def read(self, path: str, cred: Cred = ROOT) -> str | int:
        of = self.open(path, cred)
        if isinstance(of, int):
            return of
        if of.node.is_dir:
            return -errno.EISDIR
        return of.read()

    def open_write(self, path: str, cred: Cred = ROOT) -> int:
        """kernfs open for writing: EACCES for a read-only file, even for root."""
        of = self.open(path, cred, read=False, write=True)
        return of if isinstance(of, int) else 0

    def write(self, path: str, data: str, *, pid: int = 1, euid: int = 0,
              cred: Cred | None = None) -> int:  # fmt: skip
        """One write(2) of `data` by task `pid` with effective uid `euid` (by default root's
        shell, pid 1), or with `cred`: its length on success, a negative errno otherwise."""
        if cred is None:
            cred = Cred(uid=euid, gid=0 if euid == 0 else euid, pid=pid)
        of = self.open(path, cred, read=False, write=True)
        if isinstance(of, int):
            return of
        return of.write(data.encode())

    def setattr(self, path: str, cred: Cred = ROOT, **attrs: object) -> int:
        """chmod, chown and utimes: kernfs_iop_setattr (see KernfsRoot.setattr)."""
        node = self.lookup(path, cred)
        if isinstance(node, int):
            return node
        assert self.kf is not None
        return self.kf.setattr(node, cred, **attrs)  # type: ignore[arg-type]

    def _parent_dir(self, parts: list[str], cred: Cred) -> KernfsNode | int:
        """The directory a path's last name goes in, walked with `cred`."""
        parent = self.lookup("/".join(parts[:-1]), cred)
        if isinstance(parent, int) or parent.is_dir:
            return parent
        return -errno.ENOTDIR

    def _may_create(self, path: str, cred: Cred) -> tuple[KernfsNode, str] | int:
        """The parent directory of a new name, as may_create checks it: -EEXIST if the
        name is there, -EACCES without write and search permission on the parent."""
        parts = self._split(path)
        if not parts:
            return -errno.EEXIST
        parent = self._parent_dir(parts, cred)
        if isinstance(parent, int):
            return parent
        child = parent.children.get(parts[-1])
        if child is not None and child.active:
            return -errno.EEXIST
        err = generic_permission(parent, cred, MAY_WRITE | MAY_EXEC)
        if err:
            return err
        if not parent.active:
            return -errno.ENODEV  # kernfs_iop_mkdir: kernfs_get_active(parent) failed
        return parent, parts[-1]

    def _may_delete(self, path: str, cred: Cred) -> KernfsNode | int:
        parts = self._split(path)
        if not parts:
            return -errno.EBUSY  # the mount's root
        node = self.lookup(path, cred)
        if isinstance(node, int):
            return node
        assert node.parent is not None
        err = generic_permission(node.parent, cred, MAY_WRITE | MAY_EXEC)
        return err if err else node

    # --- directories: resctrl's kernfs syscall operations ---------------------------------

    def mkdir(self, path: str, mode: int = 0o755, cred: Cred = ROOT) -> int:
        """mkdir(2) as the VFS checks it (may_create), then rdtgroup_mkdir: a CTRL_MON group
        in the root, a MON group in a mon_groups directory. The group takes `mode` (the
        caller's umask already applied) and belongs to its creator."""
        if self.groups is None:
            # after resctrl_exit: kernfs_iop_mkdir's kernfs_get_active(parent) fails
            return -errno.ENODEV if self.kf is not None else -errno.ENOENT
        where = self._may_create(path, cred)
        if isinstance(where, int):
            return where
        parent, name = where
        g = self.groups
        if "\n" in name:
            return -errno.EINVAL
        if g.alloc_capable and parent is self.kn[g.root]:
            err, group = g.mkdir_ctrl_mon(name)
        else:
            if not g.mon_capable:
                return -errno.EPERM
            prgrp = self._lock_live(parent)  # mkdir_rdt_prepare
            if prgrp is None:
                return -errno.ENODEV
            self.status.clear()
            if parent.name != "mon_groups" or name == "mon_groups":  # is_mon_groups
                return -errno.EPERM
            err, group = g.mkdir_mon(prgrp, name)
        if err or group is None:
            return err
        self._mkdir_nodes(parent, group, mode, cred)
        self._new_group(group)
        return 0

    def _mkdir_nodes(self, parent: KernfsNode, group: RdtGroup, mode: int, cred: Cred) -> None:
        """The new group's directory, its files, mon_data and (for CTRL_MON) mon_groups, in
        the order mkdir_rdt_prepare, mkdir_rdt_prepare_rmid_alloc and
        rdtgroup_mkdir_ctrl_mon create them."""
        kf = self.kf
        assert kf is not None and self.groups is not None
        kn = kf.create_dir(parent, group.name, mode, group, *self._ugid(cred))
        assert isinstance(kn, KernfsNode)
        self.kn[group] = kn
        self._add_files(kn, group, cred)
        if self.groups.mon_capable:
            self._mkdir_mondata_all(group, cred)
            if group.kind is GroupKind.CTRL_MON:
                self._mongroup_create_dir(group, cred)

    def _new_group(self, group: RdtGroup) -> None:
        """A new group's MBM counts start from zero; in mbm_event mode it gets counters."""
        if self.counters is None:
            return
        self.worker.forget(group)
        if group.kind is GroupKind.CTRL_MON:
            self.mbps_event.pop(group.closid, None)
        if self.counters.enabled:
            self.counters.assign_on_create(group)
            return
        self._reset_mbm(group)

    def _reset_mbm(self, group: RdtGroup) -> None:
        for r in self._mon_resources():
            for d in r.mon_domains:
                for event in r.events:
                    if event in MBM_EVENTS:
                        self.arch.reset_rmid(r, d, group.closid, group.rmid, event)

    def rmdir(self, path: str, cred: Cred = ROOT) -> int:
        """rmdir(2) as the VFS checks it (may_delete), then rdtgroup_rmdir: a CTRL_MON group
        in the root or a MON group in a mon_groups directory; any other directory -EPERM."""
        if self.groups is None:
            return -errno.ENOENT
        node = self._may_delete(path, cred)
        if isinstance(node, int):
            return node
        if not node.is_dir:
            return -errno.ENOTDIR
        group = self._lock_live(node)
        if group is None:
            return -errno.EPERM
        parent = node.parent
        assert parent is not None
        if group.kind is GroupKind.CTRL_MON and parent is self.kn[self.groups.root]:
            if group.is_root:
                return -errno.EPERM
            return self._rmdir_group(group)
        if (
            group.kind is GroupKind.MON
            and parent.name == "mon_groups"
            and node.name != "mon_groups"
        ):
            return self._rmdir_group(group)
        return -errno.EPERM

    def _rmdir_group(self, group: RdtGroup) -> int:
        """rmdir: counters of the group (and of its MON groups) go back first; kernfs_remove
        takes the directory and everything in it, so open files answer ENODEV."""
        assert self.groups is not None and self.kf is not None
        if group.is_root:
            return -errno.EPERM
        if self.counters is not None:
            for g in [group, *group.mon_groups.values()]:
                self.counters.unassign_all(g)
        children = list(group.mon_groups.values())
        err = self.groups.rmdir(group)
        if err:
            return err
        for g in [group, *children]:
            kn = self.kn.pop(g, None)
            if kn is not None:
                self.kf.remove(kn)
        self.worker.kick()  # a freed RMID in limbo is checked from now on
        return 0

    def rename(self, src: str, dst: str, cred: Cred = ROOT) -> int:
        """rename(2) as the VFS checks it, then rdtgroup_rename: only a MON group moves,
        between mon_groups directories, taking its new parent's CLOSID."""
        if self.groups is None:
            return -errno.ENOENT
        node = self._may_delete(src, cred)
        if isinstance(node, int):
            return node
        dp = self._split(dst)
        if not dp:
            return -errno.EBUSY
        new_parent = self._parent_dir(dp, cred)
        if isinstance(new_parent, int):
            return new_parent
        err = generic_permission(new_parent, cred, MAY_WRITE | MAY_EXEC)
        if err:
            return err
        if node.is_dir and new_parent is not node.parent:
            err = generic_permission(node, cred, MAY_WRITE)  # vfs_rename: its ".." changes
            if err:
                return err
        new_name = dp[-1]
        target = new_parent.children.get(new_name)
        if target is node:
            return 0
        if target is not None and target.active:
            if node.is_dir and not target.is_dir:
                return -errno.ENOTDIR
            if not node.is_dir and target.is_dir:
                return -errno.EISDIR
        return self._rdtgroup_rename(node, new_parent, new_name)

    def _rdtgroup_rename(self, kn: KernfsNode, new_parent: KernfsNode, new_name: str) -> int:
        assert self.kf is not None
        rdtgrp, new_prdtgrp = self._to_group(kn), self._to_group(new_parent)
        if rdtgrp is None or new_prdtgrp is None:
            return -errno.ENOENT
        self.status.clear()
        if not kn.is_dir:
            self.status.puts("Source and destination must be directories")
            return -errno.EPERM
        if (rdtgrp.kind is not GroupKind.MON or kn.parent is None
                or kn.parent.name != "mon_groups" or kn.name == "mon_groups"):  # fmt: skip
            self.status.puts("Source must be a MON group\n")
            return -errno.EPERM
        if new_parent.name != "mon_groups" or new_name == "mon_groups":
            self.status.puts("Destination must be a mon_groups subdirectory\n")
            return -errno.EPERM
        if rdtgrp.cpus and rdtgrp.parent is not new_prdtgrp:
            self.status.puts("Cannot move a MON group that monitors CPUs\n")
            return -errno.EPERM
        if new_name in new_parent.children:
            return -errno.EEXIST  # what kernfs_rename would answer, asked before the RMID
        if rdtgrp.parent is not new_prdtgrp:
            err = self._reparent_rmid(rdtgrp, new_prdtgrp)
            if err:
                return err
        err = self.kf.rename(kn, new_parent, new_name)
        assert not err
        self._mongrp_reparent(rdtgrp, new_prdtgrp, new_name)
        return 0

    def _reparent_rmid(self, group: RdtGroup, new_parent: RdtGroup) -> int:
        """Where an RMID depends on the CLOSID (MPAM: a PMG within a PARTID), the moved
        group's RMID index changes with its CLOSID. The kernel keeps the PMG and never
        checks that (new CLOSID, PMG) is free, so two groups can end up sharing it and the
        index can be freed twice (docs/resctrl.md). mpam keeps its allocator consistent:
        the group keeps its PMG if that index is free under the new CLOSID, else takes
        another free one; with none free the move is refused as alloc_rmid refuses a
        mkdir (-ENOSPC, or -EBUSY while the candidates are in limbo), "Out of RMIDs"."""
        if not self.arch.rmid_depends_on_closid:
            return 0
        assert self.groups is not None
        err, rmid = self.rmids.take(new_parent.closid, prefer=group.rmid)
        if err:
            self.status.puts("Out of RMIDs\n")
            return err
        if self.counters is not None:
            self.counters.unassign_all(group)
        self.groups.free_rmid(group)
        old = (group.closid, group.rmid)
        for task in self.kernel.tasks:
            if task.pid and self.arch.match_rmid(task.pid, *old):
                self._relabel(task.pid, new_parent.closid, rmid)
        group.closid, group.rmid = new_parent.closid, rmid
        self.worker.forget(group)
        self._reset_mbm(group)
        if self.counters is not None and self.counters.enabled:
            self.counters.assign_on_create(group)
        return 0

    def _relabel(self, pid: int, closid: int, rmid: int) -> None:
        """rdt_move_group_tasks then update_closid_rmid: a running task's CPU takes its new
        labels now, not at its next switch."""
        self.arch.set_closid_rmid(pid, closid, rmid)
        cpu = self.kernel.tasks[pid].cpu
        if cpu is not None:
            self.arch.sync_cpu_closid_rmid(cpu)

    def _mongrp_reparent(self, group: RdtGroup, new_parent: RdtGroup, new_name: str) -> None:
        """mongrp_reparent: the group joins its new parent; its tasks take the parent's
        CLOSID (their RMID already moved, where it depends on the CLOSID)."""
        old_parent = group.parent
        assert old_parent is not None
        if new_parent is not old_parent:
            for task in self.kernel.tasks:
                if task.pid and self.arch.match_rmid(task.pid, group.closid, group.rmid):
                    self._relabel(task.pid, new_parent.closid, group.rmid)
            group.closid = new_parent.closid
            if self.counters is not None and not self.arch.rmid_depends_on_closid:
                self.counters.reassign(group)
        del old_parent.mon_groups[group.name]
        group.name = new_name
        group.parent = new_parent
        new_parent.mon_groups[group.name] = group
