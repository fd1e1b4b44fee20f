"""/proc/<pid>/mountinfo and /proc/<pid>/mounts as the kernel would print them for a
namespace whose resctrl is the machine's.

The machine's resctrl is a FUSE mount (type `fuse.resctrl`); clients find resctrl by a line
of type `resctrl` (runc's moby/sys/mountinfo filter, goresctrl's /proc/mounts scan). The
kernel prints a resctrl mount as ``... - resctrl resctrl rw[,cdp][,cdpl2][,mba_MBps][,debug]``
in mountinfo (show_mountinfo: mount options, then the superblock's: "rw" and the
filesystem's show_options, rdtgroup_show_options for resctrl) and as ``resctrl <dir>
resctrl rw,relatime[,...] 0 0`` in mounts (show_vfsmnt). The lines of the mounts that only
make up the namespace (the overlays on /proc and /sys) are left out, so the namespace
reads like a system that simply has resctrl mounted.
"""

from __future__ import annotations

from collections.abc import Callable

from mpam.machine.mountns import unescape

__all__ = ["kernel_mountinfo", "kernel_mounts"]

Hidden = Callable[[str, str], bool]  # (mount point, filesystem type) -> left out


def kernel_mountinfo(text: str, resctrl_options: str, hidden: Hidden) -> str:
    """`text` (a real mountinfo) with each `fuse.resctrl` line printed as resctrl's own and
    the `hidden` mounts left out; a mount on a hidden one names the hidden one's parent as
    its own, so every parent id still names a listed mount (or the namespace's root)."""
    rows = [line.split(" ") for line in text.splitlines()]
    parent_of: dict[str, str] = {}  # hidden mount id -> its parent's id
    for fields in rows:
        sep = fields.index("-", 6) if "-" in fields[6:] else None
        if sep is not None and hidden(unescape(fields[4]), fields[sep + 1]):
            parent_of[fields[0]] = fields[1]
    out = []
    for fields in rows:
        if fields[0] in parent_of or "-" not in fields[6:]:
            if fields[0] not in parent_of:
                out.append(" ".join(fields))
            continue
        sep = fields.index("-", 6)
        parent = fields[1]
        while parent in parent_of:
            parent = parent_of[parent]
        fields[1] = parent
        if fields[sep + 1] == "fuse.resctrl":
            access = fields[5].split(",")[0]
            fields[5] = f"{access},relatime"
            fields[sep + 1 : sep + 4] = ["resctrl", "resctrl", f"{access}{resctrl_options}"]
        out.append(" ".join(fields))
    return "".join(f"{line}\n" for line in out)


def kernel_mounts(text: str, resctrl_options: str, hidden: Hidden) -> str:
    """`text` (a real /proc/<pid>/mounts) rewritten as `kernel_mountinfo` rewrites."""
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 4:
            out.append(line)
            continue
        mount_point, fstype = unescape(fields[1]), fields[2]
        if hidden(mount_point, fstype):
            continue
        if fstype == "fuse.resctrl":
            access = fields[3].split(",")[0]
            fields[0], fields[2] = "resctrl", "resctrl"
            fields[3] = f"{access},relatime{resctrl_options}"
        out.append(" ".join(fields))
    return "".join(f"{line}\n" for line in out)
