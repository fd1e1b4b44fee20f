"""The FUSE floor of bench_resctrl_fuse.py: a trivial mfusepy filesystem, served the way
mpam serves resctrl, so a ratio to it is what modelling the kernel costs over FUSE itself.

Run: .venv/bin/python benchmarks/trivial_fuse.py MOUNTPOINT   (until unmounted)

It keeps files as bytes in a dict and directories as names, with the options mpam's mount
uses (multi-threaded, one lock around every call, direct I/O, no attribute or entry
caching, default_permissions): each operation crosses the kernel and libfuse exactly as a
resctrl operation does, and then does the least a filesystem can.
"""

from __future__ import annotations

import errno
import stat
import sys
import threading
import time
from typing import Any

from mfusepy import FUSE, FuseOSError, Operations


class TrivialFs(Operations):  # type: ignore[misc]
    """Files and directories in memory; nothing else."""

    use_ns = True

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.dirs: set[str] = {"/"}
        self.files: dict[str, bytes] = {}
        self.now = time.time_ns()

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        with self.mutex:
            if path in self.dirs:
                mode, nlink = stat.S_IFDIR | 0o755, 2
            elif path in self.files:
                mode, nlink = stat.S_IFREG | 0o644, 1
            else:
                raise FuseOSError(errno.ENOENT)
        t = self.now
        return {"st_mode": mode, "st_nlink": nlink, "st_size": 0, "st_uid": 0, "st_gid": 0,
                "st_atime": t, "st_mtime": t, "st_ctime": t}  # fmt: skip

    def readdir(self, path: str, fh: Any) -> list[str]:
        with self.mutex:
            prefix = path.rstrip("/") + "/"
            names = [p[len(prefix) :] for p in (*self.dirs, *self.files) if p != "/"]
        return [".", "..", *(n for n in names if n and "/" not in n)]

    def open(self, path: str, fi: Any) -> int:
        with self.mutex:
            if path not in self.files:
                raise FuseOSError(errno.ENOENT)
        fi.direct_io = True
        return 0

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        with self.mutex:
            self.files[path] = b""
        if fi is not None:
            fi.direct_io = True
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        with self.mutex:
            return self.files[path][offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        with self.mutex:
            self.files[path] = data if offset == 0 else self.files[path][:offset] + data
        return len(data)

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        with self.mutex:
            if path in self.dirs:
                raise FuseOSError(errno.EEXIST)
            self.dirs.add(path)
        return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            self.dirs.discard(path)
        return 0

    def utimens(self, path: str, times: Any = None) -> int:
        return 0


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: trivial_fuse.py MOUNTPOINT")
    FUSE(TrivialFs(), sys.argv[1], foreground=True, nothreads=False, raw_fi=True,
         fsname="trivial", subtype="trivial", max_threads=16, default_permissions=True,
         attr_timeout=0, entry_timeout=0, negative_timeout=0)  # fmt: skip


if __name__ == "__main__":
    main()
