"""The mount namespace `mpam exec` runs a command in (docs/clients.md).

From the session's three FUSE mounts (mpam.machine.sessions) it builds a system whose
resctrl, CPUs and /proc files are the machine's, for the command and every process it
starts:

- a private copy of the caller's mounts (unshare(CLONE_NEWNS), everything made private so
  nothing propagates back to the host);
- a tmpfs over /sys/fs holding what was there (cgroup and the rest, moved back in as
  recursive clones) plus `resctrl`, the machine's resctrl, and `.mpam-exec`, the /proc
  overlay that /proc/self names; the tmpfs is then made read-only, as sysfs is;
- the machine's /sys/devices/system/cpu, and files of the overlay over /proc/cpuinfo and
  /proc/filesystems (bind mounts of single files, as LXCFS does) and its symlink over
  /proc/self;
- without the session's original mounts in the runtime directory or any other FUSE
  resctrl mount, so the namespace has one resctrl, at /sys/fs/resctrl (a host's own
  /sys/fs/resctrl, on a machine with resctrl, is covered like the rest of /sys/fs).

The new mount API (open_tree and move_mount, Linux 5.2) makes detached clones of mounts and
attaches them, a symlink included (/proc/self): mount(2) cannot mount on a symlink. It
takes root (CAP_SYS_ADMIN): in a user namespace the copied mounts are locked together and
the originals could not be dropped. A client meant to run unprivileged runs as its user
inside (`setpriv`, `su`).
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

__all__ = ["EXEC_DIR", "NamespaceError", "enter", "mount_points", "unescape"]

#: Where the namespace sees the /proc overlay (mpam.fuse.proc_fuse), in its tmpfs over /sys/fs.
EXEC_DIR = "/sys/fs/.mpam-exec"

_libc = ctypes.CDLL(None, use_errno=True)
_ESCAPE = re.compile(r"\\([0-7]{3})")  # seq_path's escaping of " \t\n\\" in mountinfo
# <linux/sched.h>, <linux/mount.h>, <fcntl.h>; the syscall numbers of open_tree and
# move_mount are the same on every architecture (the unified table from 5.1 on).
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_RECURSIVE = -100, 0x100, 0x8000
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 4
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT = 428, 429

_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]  # fmt: skip


class NamespaceError(Exception):
    """A step of building the namespace failed: the message says which and why."""


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise NamespaceError(f"{what}: {os.strerror(err)}")
    return ret


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:  # fmt: skip
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


def _clone(path: str, flags: int = 0) -> int:
    """A detached copy of the mount at `path` (open_tree with OPEN_TREE_CLONE)."""
    return _check(_libc.syscall(_SYS_OPEN_TREE, AT_FDCWD, os.fsencode(path),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags),
                  f"clone the mount at {path}")  # fmt: skip


def _attach(fd: int, target: str) -> None:
    """Attach a detached mount at `target` (not following a symlink there)."""
    _check(_libc.syscall(_SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(target),
                         MOVE_MOUNT_F_EMPTY_PATH), f"mount on {target}")  # fmt: skip
    os.close(fd)


def unescape(field: str) -> str:
    """A path as mountinfo prints it, with seq_path's octal escapes (\\040) undone."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of this namespace's mounts, from the real mountinfo."""
    out = []
    with open("/proc/thread-self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            sep = fields.index("-", 6)
            out.append((unescape(fields[4]), fields[sep + 1]))
    return out


def enter(session_dir: str) -> None:
    """Make this process's mount namespace the machine's system (see the module)."""
    if os.geteuid() != 0:
        raise NamespaceError(
            "it takes root to make a mount namespace: run mpam exec as root, and the client "
            "as its own user inside it (setpriv, su)"
        )
    session = Path(os.path.realpath(session_dir))
    _check(_libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    resctrl = _clone(str(session / "resctrl"))
    cpu = _clone(str(session / "cpu"))
    overlay = _clone(str(session / "proc"))
    files = {p: _clone(str(session / "proc" / Path(p).name), AT_SYMLINK_NOFOLLOW)
             for p in ("/proc/cpuinfo", "/proc/filesystems", "/proc/self")}  # fmt: skip
    ours = {"resctrl", Path(EXEC_DIR).name}
    kept = {name: _clone(f"/sys/fs/{name}", AT_RECURSIVE)
            for name in sorted(os.listdir("/sys/fs")) if name not in ours}  # fmt: skip
    # the originals go: the runtime directory's copies, any other FUSE resctrl mount and
    # what the tmpfs will cover (its clones are moved back in)
    for point, fstype in reversed(mount_points()):
        if point.startswith((f"{session}/", "/sys/fs/")) or fstype == "fuse.resctrl":
            _check(_libc.umount2(os.fsencode(point), MNT_DETACH), f"unmount {point}")
    _mount("tmpfs", "/sys/fs", "tmpfs", 0, "mode=0755")
    for name, fd in kept.items():
        os.mkdir(f"/sys/fs/{name}", 0o755)
        _attach(fd, f"/sys/fs/{name}")
    for name, fd in (("resctrl", resctrl), (Path(EXEC_DIR).name, overlay)):
        os.mkdir(f"/sys/fs/{name}", 0o755)
        _attach(fd, f"/sys/fs/{name}")
    _mount(None, "/sys/fs", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    _attach(cpu, "/sys/devices/system/cpu")
    for target, fd in files.items():
        _attach(fd, target)
