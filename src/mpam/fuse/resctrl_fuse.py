"""The resctrl tree mounted for real, through FUSE (mfusepy over libfuse3).

Only a translation: every call goes to `mpam.resctrl.fs.ResctrlFs` (kernfs underneath) under
the machine's lock (the kernel's rdtgroup mutex), as the calling process's credentials, and
a negative errno comes back to the shell as the errno (``write error: Invalid argument``).

- The kernel checks permissions itself (``default_permissions``) against the owners and
  modes kernfs reports, exactly as the VFS checks a kernfs inode (generic_permission), and
  the mount is shared (``allow_other``) so any user may read what the modes allow, as on
  the kernel's resctrl. kernfs's own open-time check (the read and write bits, even for
  root) runs here.
- The machine's root is its owner: a machine booted by root shows root's files as uid 0; a
  machine booted by a user maps uid 0 to that user (and back), as a user namespace would,
  so the owner can drive the machine without privilege.
- Files are opened with direct I/O and nothing is cached by the kernel (attribute and entry
  timeouts of 0): every read asks the machine afresh, every write(2) reaches kernfs whole
  and once, and a file descriptor keeps its node, so after its group's rmdir it answers
  ENODEV. A read at offset 0 renders the file, later offsets continue that text, as
  seq_file does. Sizes read as 0, as kernfs's files do.
- A mount made for `mpam exec` (`pidns`) is resctrl as seen from the host's pid namespace:
  its callers are host processes, the pids they write and read are host pids, and a host
  process written to `tasks` joins the machine (docs/clients.md). Other mounts are the
  machine's own namespace: pids are the machine's, and the writer is its shell, pid 1.
- Writes of zero bytes never reach a FUSE filesystem (the kernel's FUSE client answers 0
  itself), so resctrl's handlers cannot refuse them here as they do on kernfs.
"""

from __future__ import annotations

import errno
import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

from mfusepy import FuseOSError, Operations, fuse_get_context

from mpam.kernel.kernfs import Cred, KernfsNode, KernfsOpenFile
from mpam.kernel.tasks import HostPidNamespace
from mpam.machine.host import proc_status
from mpam.resctrl.fs import ResctrlFs

__all__ = ["ResctrlFuse", "fuse_options", "mount"]

# include/uapi/linux/stat.h: utimensat's special nanosecond values
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


class ResctrlFuse(Operations):  # type: ignore[misc]
    """FUSE operations over one machine's resctrl."""

    use_ns = True

    def __init__(
        self,
        fs: ResctrlFs,
        lock: threading.Lock,
        after: Callable[[], None] = lambda: None,
        pidns: HostPidNamespace | None = None,
    ) -> None:
        self.fs = fs
        self.pidns = pidns
        self.mutex = lock  # (not `lock`: that name is FUSE's file-locking operation)
        self.after = after  # the machine's safe point: interrupts and work after a command
        self.owner_uid = os.getuid()
        self.owner_gid = os.getgid()
        self.files: dict[int, tuple[KernfsOpenFile, list[bytes]]] = {}
        self._fh = itertools.count(1)

    # --- identities -----------------------------------------------------------------------

    def _cred(self) -> Cred:
        """The caller as the machine sees it: its owner is root. Its supplementary groups
        come from /proc, as the host kernel's default_permissions check used them."""
        uid, gid, tid = fuse_get_context()
        groups, tgid = _status(tid)
        # in the machine's namespace the writing task is its shell, pid 1; in the host's,
        # the calling process itself
        return Cred(uid=self._machine_id(uid, self.owner_uid),
                    gid=self._machine_id(gid, self.owner_gid),
                    groups=frozenset(self._machine_id(g, self.owner_gid) for g in groups),
                    pid=1 if self.pidns is None else tgid, pidns=self.pidns)  # fmt: skip

    def _host_uid(self, uid: int) -> int:
        return self.owner_uid if uid == 0 else uid

    def _host_gid(self, gid: int) -> int:
        return self.owner_gid if gid == 0 else gid

    def _machine_id(self, host: int, owner: int) -> int:
        return 0 if host == owner else host

    # --- calls ----------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any]) -> Any:
        with self.mutex:
            result = fn()
            self.after()
        if isinstance(result, int) and result < 0:
            raise FuseOSError(-result)
        return result

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        node: KernfsNode = self._call(lambda: self.fs.stat(path))
        return {
            "st_mode": node.mode,
            "st_nlink": node.nlink,
            "st_size": 0,
            "st_uid": self._host_uid(node.uid),
            "st_gid": self._host_gid(node.gid),
            "st_atime": node.atime,
            "st_mtime": node.mtime,
            "st_ctime": node.ctime,
        }

    def readdir(self, path: str, fh: Any) -> list[str]:
        names: list[str] = self._call(lambda: self.fs.listdir(path))
        return [".", "..", *names]

    def open(self, path: str, fi: Any) -> int:
        acc = fi.flags & os.O_ACCMODE
        cred = self._cred()
        read, write = acc != os.O_WRONLY, acc in (os.O_WRONLY, os.O_RDWR)
        of: KernfsOpenFile = self._call(lambda: self.fs.open(path, cred, read=read, write=write))
        fh = next(self._fh)
        self.files[fh] = (of, [])
        fi.fh = fh
        fi.direct_io = True
        return 0

    def release(self, path: str, fi: Any) -> int:
        self.files.pop(fi.fh, None)
        return 0

    def _open_file(self, fi: Any) -> tuple[KernfsOpenFile, list[bytes]]:
        found = self.files.get(fi.fh)
        if found is None:
            raise FuseOSError(errno.EBADF)
        return found

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        of, cache = self._open_file(fi)

        def render() -> bytes | int:
            # under the machine's lock, so concurrent reads of one descriptor share a text
            if offset == 0 or not cache:
                text = of.read()
                if isinstance(text, int):
                    return text
                cache[:] = [text.encode()]
            return cache[0][offset : offset + size]

        data: bytes = self._call(render)
        return data

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        of, _ = self._open_file(fi)
        # the task writing now (not the one that opened) is what `0` in tasks means
        writer = self._cred() if self.pidns is not None else None
        return int(self._call(lambda: of.write(data, writer)))

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        return 0  # `>` truncates before writing; kernfs files have no length to cut

    def chmod(self, path: str, mode: int) -> int:
        cred = self._cred()
        return int(self._call(lambda: self.fs.setattr(path, cred, mode=mode)))

    def chown(self, path: str, uid: int, gid: int) -> int:
        cred = self._cred()
        # -1 (as the unsigned 32-bit value libfuse passes) leaves the id as it is
        new_uid = None if uid in (-1, 0xFFFFFFFF) else self._machine_id(uid, self.owner_uid)
        new_gid = None if gid in (-1, 0xFFFFFFFF) else self._machine_id(gid, self.owner_gid)
        return int(self._call(lambda: self.fs.setattr(path, cred, uid=new_uid, gid=new_gid)))

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        cred = self._cred()
        if times is None or times == (UTIME_NOW, UTIME_NOW):
            return int(self._call(lambda: self.fs.setattr(path, cred, touch=True)))

        def apply() -> int:
            node = self.fs.stat(path)
            if isinstance(node, int):
                return node
            now = self.fs.realtime_ns()

            def resolve(value: int, current: int) -> int:
                return now if value == UTIME_NOW else current if value == UTIME_OMIT else value

            atime, mtime = resolve(times[0], node.atime), resolve(times[1], node.mtime)
            return self.fs.setattr(path, cred, times=(atime, mtime))

        return int(self._call(apply))

    def mkdir(self, path: str, mode: int) -> int:
        cred = self._cred()
        return int(self._call(lambda: self.fs.mkdir(path, mode & 0o7777, cred)))

    def rmdir(self, path: str) -> int:
        cred = self._cred()
        return int(self._call(lambda: self.fs.rmdir(path, cred)))

    def rename(self, old: str, new: str) -> int:
        cred = self._cred()
        return int(self._call(lambda: self.fs.rename(old, new, cred)))

    # The VFS's answers for operations kernfs does not have (fs/namei.c): vfs_create gives
    # EACCES, vfs_mknod / vfs_link / vfs_symlink / vfs_unlink give EPERM.

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        raise FuseOSError(errno.EACCES)

    def mknod(self, path: str, mode: int, dev: int) -> int:
        raise FuseOSError(errno.EPERM)

    def link(self, target: str, source: str) -> int:
        raise FuseOSError(errno.EPERM)

    def symlink(self, target: str, source: str) -> int:
        raise FuseOSError(errno.EPERM)

    def unlink(self, path: str) -> int:
        raise FuseOSError(errno.EPERM)

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}


def _status(tid: int) -> tuple[list[int], int]:
    """The supplementary groups and the process (tgid) of host thread `tid` (FUSE names
    the calling thread); no groups and `tid` if it has gone."""
    status = proc_status(tid)
    return [int(g) for g in status.get("Groups", "").split()], int(status.get("Tgid", tid))


def fuse_options() -> dict[str, Any]:
    """The mount's options: the kernel checks permissions; the mount is shared with other
    users when FUSE allows it (always for root; for others only with user_allow_other in
    /etc/fuse.conf, without which only the owner can enter the mount)."""
    options: dict[str, Any] = {"default_permissions": True, "attr_timeout": 0,
                               "entry_timeout": 0, "negative_timeout": 0}  # fmt: skip
    if os.geteuid() == 0 or _user_allow_other():
        options["allow_other"] = True
    return options


def _user_allow_other() -> bool:
    try:
        with open("/etc/fuse.conf", encoding="utf-8") as conf:
            return any(line.split("#")[0].strip() == "user_allow_other" for line in conf)
    except OSError:
        return False


def mount(fs: ResctrlFs, mountpoint: str, lock: threading.Lock, after: Callable[[], None],
          pidns: HostPidNamespace | None = None) -> None:  # fmt: skip
    """Serve the FUSE mount at `mountpoint` until it is unmounted (blocks: run it in a
    thread). Multi-threaded; the lock serialises the operations. With `pidns`, callers are
    in the host's pid namespace (a mount for `mpam exec`)."""
    from mfusepy import FUSE

    class _Fuse(FUSE):  # type: ignore[misc]
        def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
            """renameat2's flags (RENAME_NOREPLACE, RENAME_EXCHANGE) reach the filesystem:
            kernfs_iop_rename refuses any with EINVAL (mfusepy would drop them)."""
            if flags:
                return -errno.EINVAL
            return int(super().rename_fuse_3(old, new, flags))

    _Fuse(ResctrlFuse(fs, lock, after, pidns), mountpoint, foreground=True, nothreads=False,
          raw_fi=True, fsname="resctrl", subtype="resctrl", max_threads=16,
          **fuse_options())  # fmt: skip
