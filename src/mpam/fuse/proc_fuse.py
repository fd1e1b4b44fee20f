"""The /proc files an `mpam exec` namespace reads from the machine, served through FUSE.

In the way LXCFS serves /proc files to containers, the namespace has files of this
filesystem bound over /proc/cpuinfo (the machine's CPUs, arm64's format) and
/proc/filesystems (the host's list, with `nodev	resctrl`), and its symlink `self` mounted
over /proc/self. Reading that symlink names the caller's own directory here,
``EXEC_DIR/<tgid>``: FUSE tells which thread asks, and symlinks are not cached, so each
process (and every process it starts) reaches its own. In that directory `mountinfo` and
`mounts` are the real ones as the kernel would print them with the machine's resctrl
(fuse.mountinfo); every other entry is a symlink to the real /proc/<tgid>/<entry>, so
/proc/self/fd, /proc/self/status or /proc/self/ns/mnt work as ever, and the magic links
(`exe`, `cwd`, `root`, `fd/N`) keep their kernel meaning when opened or executed, even for
a binary run from a memfd or a detached mount, as runc runs itself. What differs: readlink
of /proc/self is a path (``/sys/fs/.mpam-exec/<pid>``, not the number) and readlink of
/proc/self/exe is ``/proc/<pid>/exe`` (follow it once more for the binary's path).
/proc/mounts is a link to self/mounts, so it follows. A process that reads another's
/proc/<pid>/mountinfo by number sees the real one. A process reaches only its own
directory here (the daemon reads /proc with its own rights: it must not lend them), and a
file's text is rendered once per open, so a read in several pieces is never torn.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from mfusepy import FuseOSError, Operations, fuse_get_context

from mpam.fuse.mountinfo import kernel_mountinfo, kernel_mounts
from mpam.fuse.resctrl_fuse import fuse_options
from mpam.machine.host import proc_status
from mpam.machine.mountns import EXEC_DIR  # where the namespace sees this filesystem

__all__ = ["EXEC_DIR", "OVERLAID", "ProcFuse", "hidden_mount", "mount_proc"]

#: The mount points that make up an exec namespace, left out of its mountinfo.
OVERLAID = frozenset({"/proc/self", "/proc/cpuinfo", "/proc/filesystems",
                      "/sys/devices/system/cpu", EXEC_DIR})  # fmt: skip
_REWRITTEN = frozenset({"mountinfo", "mounts"})
_FILES = ("cpuinfo", "filesystems")


def hidden_mount(mount_point: str, fstype: str) -> bool:
    """The namespace's own plumbing: the overlays, the tmpfs over /sys/fs and the binds
    that put sysfs's own /sys/fs/<name> directories back on it."""
    if mount_point in OVERLAID or (mount_point == "/sys/fs" and fstype == "tmpfs"):
        return True
    return fstype == "sysfs" and mount_point.startswith("/sys/fs/") and mount_point.count("/") == 3


def _caller() -> int:
    """The calling process (FUSE names the calling thread)."""
    tid = fuse_get_context()[2]
    return int(proc_status(tid).get("Tgid", tid))


class ProcFuse(Operations):  # type: ignore[misc]
    """FUSE operations: cpuinfo, filesystems, `self` and the per-process directories."""

    use_ns = True

    def __init__(self, render: Callable[[], dict[str, str]], options: Callable[[], str],
                 lock: threading.Lock) -> None:  # fmt: skip
        self.render = render  # {"cpuinfo": text, "filesystems": text}, under the lock
        self.options = options  # resctrl's show_options, under the lock
        self.mutex = lock
        self.uid, self.gid = os.getuid(), os.getgid()
        self.texts: dict[int, bytes] = {}  # open file -> its text, rendered at open
        self._fh = itertools.count(1)

    @staticmethod
    def _split(path: str) -> list[str]:
        return [p for p in path.split("/") if p]

    @staticmethod
    def _pid(name: str) -> int | None:
        """The process of directory `name`: the caller's own, and only that one."""
        if name.isdigit() and int(name) == _caller() and os.path.isdir(f"/proc/{name}"):
            return int(name)
        return None

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        parts = self._split(path)
        base = {"st_uid": self.uid, "st_gid": self.gid, "st_size": 0, "st_nlink": 1}
        if not parts:
            return {**base, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        if parts == ["self"]:
            return {**base, "st_mode": stat.S_IFLNK | 0o777}
        if len(parts) == 1 and parts[0] in _FILES:
            return {**base, "st_mode": stat.S_IFREG | 0o444}
        pid = self._pid(parts[0])
        if pid is None or len(parts) > 2:
            raise FuseOSError(errno.ENOENT)
        try:
            real = os.lstat(f"/proc/{pid}/{parts[1]}" if len(parts) == 2 else f"/proc/{pid}")
        except OSError as e:
            raise FuseOSError(e.errno or errno.ENOENT) from None
        owner = {"st_uid": real.st_uid, "st_gid": real.st_gid}
        if len(parts) == 1:
            return {**base, **owner, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        if parts[1] in _REWRITTEN:
            return {**base, **owner, "st_mode": stat.S_IFREG | 0o444}
        return {**base, **owner, "st_mode": stat.S_IFLNK | 0o777}

    def readdir(self, path: str, fh: Any) -> list[str]:
        parts = self._split(path)
        if not parts:
            return [".", "..", *_FILES, "self"]
        pid = self._pid(parts[0])
        if pid is None or len(parts) != 1:
            raise FuseOSError(errno.ENOTDIR)
        try:
            return [".", "..", *sorted(os.listdir(f"/proc/{pid}"))]
        except OSError as e:
            raise FuseOSError(e.errno or errno.ENOENT) from None

    def readlink(self, path: str) -> str:
        parts = self._split(path)
        if parts == ["self"]:
            return f"{EXEC_DIR}/{_caller()}"
        pid = self._pid(parts[0]) if len(parts) == 2 else None
        if pid is None:
            raise FuseOSError(errno.EINVAL)
        return f"/proc/{pid}/{parts[1]}"  # procfs checks the access (ptrace) when followed

    def open(self, path: str, fi: Any) -> int:
        if fi.flags & os.O_ACCMODE != os.O_RDONLY:
            raise FuseOSError(errno.EACCES)
        text = self._text(path).encode(errors="surrogateescape")
        fi.fh = next(self._fh)
        self.texts[fi.fh] = text
        fi.direct_io = True
        return 0

    def release(self, path: str, fi: Any) -> int:
        self.texts.pop(fi.fh, None)
        return 0

    def _text(self, path: str) -> str:
        parts = self._split(path)
        if len(parts) == 1 and parts[0] in _FILES:
            with self.mutex:
                return self.render()[parts[0]]
        pid = self._pid(parts[0]) if len(parts) == 2 else None
        if pid is None or parts[1] not in _REWRITTEN:
            raise FuseOSError(errno.ENOENT)
        try:
            with open(f"/proc/{pid}/{parts[1]}", encoding="utf-8", errors="surrogateescape") as f:
                real = f.read()
        except OSError as e:
            raise FuseOSError(e.errno or errno.ENOENT) from None
        with self.mutex:
            options = self.options()
        rewrite = kernel_mountinfo if parts[1] == "mountinfo" else kernel_mounts
        return rewrite(real, options, hidden_mount)

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        text = self.texts.get(fi.fh)
        if text is None:
            raise FuseOSError(errno.EBADF)
        return text[offset : offset + size]


def mount_proc(render: Callable[[], dict[str, str]], options: Callable[[], str], mountpoint: str,
               lock: threading.Lock) -> None:  # fmt: skip
    """Serve the filesystem at `mountpoint` until it is unmounted (blocks: run it in a
    thread)."""
    from mfusepy import FUSE

    FUSE(ProcFuse(render, options, lock), mountpoint, foreground=True, nothreads=False,
         raw_fi=True, fsname="mpam-exec", subtype="mpam-exec", max_threads=8,
         **fuse_options())  # fmt: skip
