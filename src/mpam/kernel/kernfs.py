"""kernfs: the tree of nodes behind sysfs, cgroupfs and resctrl (fs/kernfs/, written anew).

resctrl does not own its files: it asks kernfs to create directories and files, each with a
mode, an owner, a private pointer and its operations, and kernfs answers the VFS with them.
Modelling that layer once gives resctrl the kernel's behaviour at the edges a client touches
first:

- every node has a mode, an owner and a group (root's unless the creator set them, as
  ``rdtgroup_kn_set_ugid`` does), and timestamps from the real-time clock: its creation's,
  a directory's changing as children come and go; ``setattr`` changes them as
  ``kernfs_iop_setattr`` does after the VFS's ``setattr_prepare`` checks;
- ``permission`` is ``generic_permission`` (fs/namei.c), which is what ``kernfs_iop_permission``
  calls: owner, group, then other bits, with root's CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH;
- ``open`` adds the root's ``KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK`` (``kernfs_fop_open``): a
  file opened for writing needs a write bit and a write operation, for reading a read bit
  and a show operation, whoever opens it (root too);
- a removed node is deactivated at once (``kernfs_remove`` drains active references): a file
  descriptor opened before answers ENODEV to read and write (``kernfs_get_active`` fails);
- a write of more than the operation's ``atomic_write_len`` is refused with E2BIG before the
  operation sees it (``kernfs_fop_write_iter``), and each write is handed over whole, once;
- a directory's link count is 2 plus its subdirectories (``kernfs_refresh_inode``).
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpam.kernel.tasks import HostPidNamespace

__all__ = [
    "MAY_EXEC",
    "MAY_READ",
    "MAY_WRITE",
    "PAGE_SIZE",
    "ROOT",
    "Cred",
    "KernfsNode",
    "KernfsOpenFile",
    "KernfsOps",
    "KernfsRoot",
    "generic_permission",
]

PAGE_SIZE = 4096

# include/linux/fs.h
MAY_EXEC = 0o1
MAY_WRITE = 0o2
MAY_READ = 0o4


@dataclass(frozen=True)
class Cred:
    """The calling task as a file operation sees it: its credentials (struct cred: fsuid,
    fsgid, supplementary groups), its pid (what a tasks write of pid 0 means) and its pid
    namespace (None: the machine's own; pids are read and shown in it)."""

    uid: int = 0
    gid: int = 0
    groups: frozenset[int] = frozenset()
    pid: int = 0
    pidns: HostPidNamespace | None = None

    @property
    def privileged(self) -> bool:
        """Holds CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN (root in the initial namespace)."""
        return self.uid == 0

    def in_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups


#: root, as the machine's shell (pid 1): who writes when no caller is named
ROOT = Cred(pid=1)


@dataclass(frozen=True)
class KernfsOps:
    """struct kernfs_ops: the file's show and write handlers (None: the file has none) and
    the largest write handed over whole (0: writes are cut to a page instead)."""

    show: Callable[[KernfsNode, Cred], str | int] | None = None
    write: Callable[[KernfsNode, str, Cred], int] | None = None
    atomic_write_len: int = PAGE_SIZE


@dataclass(eq=False)
class KernfsNode:
    """struct kernfs_node: a directory or a file."""

    name: str
    parent: KernfsNode | None
    mode: int  # S_IFDIR / S_IFREG and the permission bits
    uid: int
    gid: int
    ctime: int  # ns of the real-time clock
    priv: Any = None
    ops: KernfsOps | None = None
    children: dict[str, KernfsNode] = field(default_factory=dict)
    active: bool = True
    atime: int = 0
    mtime: int = 0

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def perm(self) -> int:
        return stat.S_IMODE(self.mode)

    @property
    def subdirs(self) -> int:
        return sum(1 for c in self.children.values() if c.is_dir)

    @property
    def nlink(self) -> int:
        return 2 + self.subdirs if self.is_dir else 1

    def visible(self) -> Iterator[KernfsNode]:
        """The children readdir and lookup see: the active ones."""
        return (c for c in self.children.values() if c.active)

    def path(self) -> list[str]:
        parts: list[str] = []
        node: KernfsNode | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return parts[::-1]


def generic_permission(node: KernfsNode, cred: Cred, mask: int) -> int:
    """fs/namei.c generic_permission: 0 or -EACCES for the MAY_* bits in `mask`."""
    mode = node.perm
    if cred.uid == node.uid:
        mode >>= 6
    elif cred.in_group(node.gid):
        mode >>= 3
    if not (mask & ~mode & (MAY_READ | MAY_WRITE | MAY_EXEC)):
        return 0
    if cred.privileged:
        if node.is_dir:
            return 0  # CAP_DAC_OVERRIDE covers every access to a directory
        if not mask & MAY_EXEC or node.perm & 0o111:
            return 0
    return -errno.EACCES


@dataclass(eq=False)
class KernfsOpenFile:
    """struct kernfs_open_file: what a file descriptor holds."""

    node: KernfsNode
    readable: bool
    writable: bool
    cred: Cred

    def read(self) -> str | int:
        """kernfs_fop_read_iter / seq_read: the show handler's text, or -ENODEV once the node
        has been removed."""
        ops = self.node.ops
        if not self.node.active or ops is None:
            return -errno.ENODEV
        if ops.show is None:
            return -errno.EINVAL
        return ops.show(self.node, self.cred)

    def write(self, data: bytes, writer: Cred | None = None) -> int:
        """kernfs_fop_write_iter: E2BIG past atomic_write_len (or the write is cut to a
        page), -ENODEV once removed; the handler sees the whole buffer once, with the
        opener's credentials and the writing task (`writer`, default the opener) as
        `current`: what a tasks write of pid 0 means."""
        ops = self.node.ops
        if ops is None:
            return -errno.ENODEV
        if ops.atomic_write_len:
            if len(data) > ops.atomic_write_len:
                return -errno.E2BIG  # before kernfs_get_active, as kernfs_fop_write_iter
        else:
            data = data[:PAGE_SIZE]
        if not self.node.active:
            return -errno.ENODEV
        if ops.write is None:
            return -errno.EINVAL
        cred = self.cred if writer is None else replace(self.cred, pid=writer.pid)
        err = ops.write(self.node, data.decode(errors="replace"), cred)
        return err if err < 0 else len(data)


class KernfsRoot:
    """struct kernfs_root: one tree and its clock for timestamps. Its open-time check is
    KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK's, the flag resctrl's root is created with."""

    def __init__(self, now_ns: Callable[[], int], root_priv: Any = None) -> None:
        self.now_ns = now_ns
        # kernfs_create_root: the root directory is S_IRUGO | S_IXUGO, owned by root
        self.kn = self._new(None, "", stat.S_IFDIR | 0o555, root_priv, None, 0, 0)

    def _new(self, parent: KernfsNode | None, name: str, mode: int, priv: Any,
             ops: KernfsOps | None, uid: int, gid: int) -> KernfsNode:  # fmt: skip
        now = self.now_ns()
        node = KernfsNode(name, parent, mode, uid, gid, now, priv, ops, atime=now, mtime=now)
        if parent is not None:
            parent.children[name] = node
            parent.mtime = parent.ctime = now
        return node

    # --- creation and removal -------------------------------------------------------------

    def create_dir(self, parent: KernfsNode, name: str, mode: int, priv: Any = None,
                   uid: int = 0, gid: int = 0) -> KernfsNode | int:  # fmt: skip
        """kernfs_create_dir_ns: -EEXIST if the name is taken, -ENOENT under a removed dir."""
        if not parent.active:
            return -errno.ENOENT
        if name in parent.children:
            return -errno.EEXIST
        return self._new(parent, name, stat.S_IFDIR | stat.S_IMODE(mode), priv, None, uid, gid)

    def create_file(self, parent: KernfsNode, name: str, mode: int, ops: KernfsOps,
                    priv: Any = None, uid: int = 0, gid: int = 0) -> KernfsNode | int:  # fmt: skip
        """__kernfs_create_file."""
        if not parent.active:
            return -errno.ENOENT
        if name in parent.children:
            return -errno.EEXIST
        return self._new(parent, name, stat.S_IFREG | stat.S_IMODE(mode), priv, ops, uid, gid)

    def remove(self, node: KernfsNode) -> None:
        """kernfs_remove: the node and everything below it are deactivated and unlinked."""
        stack = [node]
        while stack:
            n = stack.pop()
            n.active = False
            stack.extend(n.children.values())
        if node.parent is not None and node.parent.children.get(node.name) is node:
            del node.parent.children[node.name]
            node.parent.mtime = node.parent.ctime = self.now_ns()

    def destroy(self) -> None:
        """kernfs_destroy_root: every node goes; the root itself is left dead and empty."""
        for child in list(self.kn.children.values()):
            self.remove(child)
        self.kn.active = False

    def rename(self, node: KernfsNode, new_parent: KernfsNode, new_name: str) -> int:
        """kernfs_rename_ns."""
        if node.parent is None:
            return -errno.EINVAL
        if not node.active or not new_parent.active:
            return -errno.ENOENT
        if node.parent is new_parent and node.name == new_name:
            return 0
        if new_name in new_parent.children:
            return -errno.EEXIST
        now = self.now_ns()
        del node.parent.children[node.name]
        node.parent.mtime = node.parent.ctime = now
        node.parent, node.name = new_parent, new_name
        new_parent.children[new_name] = node
        new_parent.mtime = new_parent.ctime = node.ctime = now
        return 0

    # --- lookup ---------------------------------------------------------------------------

    def lookup(self, parts: list[str], cred: Cred = ROOT) -> KernfsNode | int:
        """Path walk: each directory on the way needs search (exec) permission; -ENOENT for a
        name that is not there, -ENOTDIR through a file."""
        node = self.kn
        if not node.active:
            return -errno.ENOENT if parts else node
        for name in parts:
            if not node.is_dir:
                return -errno.ENOTDIR
            err = generic_permission(node, cred, MAY_EXEC)
            if err:
                return err
            child = node.children.get(name)
            if child is None or not child.active:
                return -errno.ENOENT
            node = child
        return node

    # --- files ----------------------------------------------------------------------------

    def open(self, node: KernfsNode, cred: Cred, read: bool, write: bool) -> KernfsOpenFile | int:
        """may_open's permission check, then kernfs_fop_open's extra check."""
        if node.is_dir:
            if write:
                return -errno.EISDIR
            err = generic_permission(node, cred, MAY_READ)
            return err if err else KernfsOpenFile(node, False, False, cred)
        mask = (MAY_READ if read else 0) | (MAY_WRITE if write else 0)
        err = generic_permission(node, cred, mask)
        if err:
            return err
        ops = node.ops
        if not node.active or ops is None:
            return -errno.ENODEV
        if write and (not node.perm & 0o222 or ops.write is None):
            return -errno.EACCES
        if read and (not node.perm & 0o444 or ops.show is None):
            return -errno.EACCES
        return KernfsOpenFile(node, read, write, cred)

    # --- attributes -----------------------------------------------------------------------

    def setattr(self, node: KernfsNode, cred: Cred, *, mode: int | None = None,
                uid: int | None = None, gid: int | None = None,
                times: tuple[int, int] | None = None, touch: bool = False) -> int:  # fmt: skip
        """notify_change: setattr_prepare's checks (fs/attr.c), then __kernfs_setattr.

        `times` sets (atime, mtime) explicitly, which needs ownership; `touch` sets both to
        now, which write permission also allows."""
        owner = cred.uid == node.uid or cred.privileged
        # chown_ok: the owner may "change" the uid to itself; only CAP_CHOWN changes it
        if uid is not None and not cred.privileged and (cred.uid != node.uid or uid != node.uid):
            return -errno.EPERM
        # chgrp_ok: the owner, to a group it is in (or the same one); or CAP_CHOWN
        if (
            gid is not None
            and not cred.privileged
            and (cred.uid != node.uid or not (gid == node.gid or cred.in_group(gid)))
        ):
            return -errno.EPERM
        if mode is not None and not owner:
            return -errno.EPERM
        if times is not None and not owner:
            return -errno.EPERM
        if touch and not owner and generic_permission(node, cred, MAY_WRITE):
            return -errno.EACCES
        now = self.now_ns()
        if mode is not None:
            node.mode = stat.S_IFMT(node.mode) | stat.S_IMODE(mode)
        if uid is not None:
            node.uid = uid
        if gid is not None:
            node.gid = gid
        if times is not None:
            node.atime, node.mtime = times
        if touch:
            node.atime = node.mtime = now
        node.ctime = now
        return 0
