"""/proc/<pid>/mountinfo and mounts as an `mpam exec` namespace shows them: the FUSE
resctrl printed as the kernel prints a resctrl mount, the namespace's plumbing left out and
its children re-parented (fs/proc_namespace.c show_mountinfo, show_vfsmnt; fs/resctrl
rdtgroup_show_options)."""

from __future__ import annotations

from mpam.fuse.mountinfo import kernel_mountinfo, kernel_mounts
from mpam.fuse.proc_fuse import hidden_mount

FUSE_OPTS = "rw,user_id=0,group_id=0,default_permissions,allow_other"
MOUNTINFO = f"""\
22 1 0:20 / /sys rw,relatime shared:7 - sysfs sysfs rw
23 1 0:21 / /proc rw,relatime - proc proc rw
70 22 0:50 / /sys/fs ro,relatime - tmpfs tmpfs ro,mode=755
71 70 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw
72 70 0:40 / /sys/fs/resctrl rw,nosuid,nodev,relatime - fuse.resctrl resctrl {FUSE_OPTS}
73 70 0:22 /fs/ext4 /sys/fs/ext4 rw,relatime - sysfs sysfs rw
74 70 0:41 / /sys/fs/.mpam-exec rw,nosuid,nodev,relatime - fuse.mpam-exec mpam-exec rw
75 23 0:41 /self /proc/self rw,nosuid,nodev,relatime - fuse.mpam-exec mpam-exec rw
76 23 0:41 /cpuinfo /proc/cpuinfo rw,nosuid,nodev,relatime - fuse.mpam-exec mpam-exec rw
77 22 0:42 / /sys/devices/system/cpu rw,nosuid,nodev,relatime - fuse.sysfs sysfs rw
78 1 0:43 / /mnt/my\\040dir rw,nosuid,nodev,relatime - fuse.resctrl resctrl {FUSE_OPTS}
"""


def test_mountinfo_shows_resctrl_as_the_kernel_and_hides_the_plumbing() -> None:
    assert kernel_mountinfo(MOUNTINFO, ",cdp,debug", hidden_mount) == (
        "22 1 0:20 / /sys rw,relatime shared:7 - sysfs sysfs rw\n"
        "23 1 0:21 / /proc rw,relatime - proc proc rw\n"
        "71 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n"  # on /sys now
        "72 22 0:40 / /sys/fs/resctrl rw,relatime - resctrl resctrl rw,cdp,debug\n"
        "78 1 0:43 / /mnt/my\\040dir rw,relatime - resctrl resctrl rw,cdp,debug\n"
    )


def test_mounts_shows_resctrl_as_the_kernel() -> None:
    mounts = (
        "sysfs /sys sysfs rw,relatime 0 0\n"
        "tmpfs /sys/fs tmpfs ro,relatime,mode=755 0 0\n"
        f"resctrl /sys/fs/resctrl fuse.resctrl rw,nosuid,nodev,relatime,{FUSE_OPTS[3:]} 0 0\n"
        "mpam-exec /proc/self fuse.mpam-exec rw,nosuid,nodev,relatime 0 0\n"
    )
    assert kernel_mounts(mounts, "", hidden_mount) == (
        "sysfs /sys sysfs rw,relatime 0 0\nresctrl /sys/fs/resctrl resctrl rw,relatime 0 0\n"
    )
