"""A read-only tree of text files mounted through FUSE: the machine's sysfs.

The tree is rendered afresh ({path: text}) for every look, under the machine's lock, so a
CPU taken offline disappears at once. Files are 0444 and directories 0555, root's (the
machine's owner, as for resctrl), with no caching by the kernel; opening for writing gets
EACCES, as sysfs's read-only attributes give (kernfs_fop_open).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from mfusepy import FuseOSError, Operations

from mpam.fuse.resctrl_fuse import fuse_options

__all__ = ["TreeFuse", "mount_tree"]


class TreeFuse(Operations):  # type: ignore[misc]
    """FUSE operations over a rendered tree of read-only files."""

    use_ns = True

    def __init__(self, render: Callable[[], dict[str, str]], lock: threading.Lock) -> None:
        self.render = render
        self.mutex = lock
        self.uid, self.gid = os.getuid(), os.getgid()

    def _tree(self) -> dict[str, str]:
        with self.mutex:
            return self.render()

    @staticmethod
    def _key(path: str) -> str:
        return path.strip("/")

    def _children(self, tree: dict[str, str], key: str) -> set[str]:
        prefix = f"{key}/" if key else ""
        return {k[len(prefix) :].split("/")[0] for k in tree if k.startswith(prefix)}

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        tree, key = self._tree(), self._key(path)
        base = {"st_uid": self.uid, "st_gid": self.gid, "st_size": 0}
        if key in tree:
            return {**base, "st_mode": stat.S_IFREG | 0o444, "st_nlink": 1}
        children = self._children(tree, key)
        if not key or children:
            subdirs = sum(1 for c in children if f"{key}/{c}".strip("/") not in tree)
            return {**base, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2 + subdirs}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *sorted(self._children(self._tree(), self._key(path)))]

    def open(self, path: str, fi: Any) -> int:
        if fi.flags & os.O_ACCMODE != os.O_RDONLY:
            raise FuseOSError(errno.EACCES)
        if self._key(path) not in self._tree():
            raise FuseOSError(errno.ENOENT)
        fi.direct_io = True
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        text = self._tree().get(self._key(path))
        if text is None:
            raise FuseOSError(errno.ENODEV)  # the node went (a CPU offline) while open
        return text.encode()[offset : offset + size]


def mount_tree(render: Callable[[], dict[str, str]], mountpoint: str, lock: threading.Lock) -> None:
    """Serve the tree at `mountpoint` until it is unmounted (blocks: run it in a thread)."""
    from mfusepy import FUSE

    FUSE(TreeFuse(render, lock), mountpoint, foreground=True, nothreads=False, raw_fi=True,
         fsname="sysfs", subtype="sysfs", max_threads=4, **fuse_options())  # fmt: skip
