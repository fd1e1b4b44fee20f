"""The resctrl tree mounted for real, through FUSE (mfusepy over libfuse3).

Only a translation: every call goes to `mpam.resctrl.fs.ResctrlFs` under the machine's lock
(the kernel's rdtgroup mutex), and a negative errno comes back to the shell as the errno
(``write error: Invalid argument``). Files are opened with direct I/O, so every read asks
the machine afresh and every write(2) is one command, as on kernfs; sizes read as 0, as
resctrl's files do.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from mfusepy import FuseOSError, Operations

from mpam.resctrl.fs import ResctrlFs

__all__ = ["ResctrlFuse", "mount"]


class ResctrlFuse(Operations):  # type: ignore[misc]
    """FUSE operations over one machine's resctrl."""

    use_ns = True

    def __init__(
        self, fs: ResctrlFs, lock: threading.Lock, after: Callable[[], None] = lambda: None
    ) -> None:
        self.fs = fs
        self.mutex = lock  # (not `lock`: that name is FUSE's file-locking operation)
        self.after = after  # the machine's safe point: interrupts and work after a command
        self.uid = os.getuid()
        self.gid = os.getgid()

    def _call(self, fn: Callable[[], Any]) -> Any:
        with self.mutex:
            result = fn()
            self.after()
        if isinstance(result, int) and result < 0:
            raise FuseOSError(-result)
        return result

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        node = self._call(lambda: self.fs.stat(path))
        kind = stat.S_IFDIR if node.is_dir else stat.S_IFREG
        return {
            "st_mode": kind | node.mode,
            "st_nlink": 2 if node.is_dir else 1,
            "st_size": 0,
            "st_uid": self.uid,
            "st_gid": self.gid,
        }

    def readdir(self, path: str, fh: Any) -> list[str]:
        names: list[str] = self._call(lambda: self.fs.listdir(path))
        return [".", "..", *names]

    def open(self, path: str, fi: Any) -> int:
        if fi.flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
            self._call(lambda: self.fs.open_write(path))
        else:
            node = self._call(lambda: self.fs.stat(path))
            if node.mode & 0o444 == 0:
                raise FuseOSError(errno.EACCES)
        fi.direct_io = True
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        text: str = self._call(lambda: self.fs.read(path))
        return text.encode()[offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        text = data.decode(errors="replace")
        self._call(lambda: self.fs.write(path, text))
        return len(data)

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        return 0  # `>` truncates before writing; resctrl files have no length to cut

    def mkdir(self, path: str, mode: int) -> int:
        return int(self._call(lambda: self.fs.mkdir(path)))

    def rmdir(self, path: str) -> int:
        return int(self._call(lambda: self.fs.rmdir(path)))

    def rename(self, old: str, new: str) -> int:
        return int(self._call(lambda: self.fs.rename(old, new)))

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}


def mount(fs: ResctrlFs, mountpoint: str, lock: threading.Lock, after: Callable[[], None]) -> None:
    """Serve the FUSE mount at `mountpoint` until it is unmounted (blocks: run it in a
    thread). Multi-threaded; the lock serialises the operations."""
    from mfusepy import FUSE

    FUSE(ResctrlFuse(fs, lock, after), mountpoint, foreground=True, nothreads=False,
         raw_fi=True, fsname="resctrl", subtype="resctrl", max_threads=16)  # fmt: skip
