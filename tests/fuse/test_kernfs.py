"""resctrl through the real FUSE mount behaves as kernfs serves it: owners and modes, who
may read and write, chmod/chown/utime, link counts and timestamps, the VFS's errnos for
operations kernfs lacks, stale file descriptors and atomic writes, names and places.

Each test names the kernel code it follows. The unprivileged cases run as `nobody` with
setpriv, as a monitoring agent would run.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import run_cli, shutdown_all, write_once

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs /dev/fuse, root (to act as another user) and setpriv",
)

NOBODY = 65534


_run = run_cli
_write = write_once


@pytest.fixture
def mnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The default platform mounted where any user can reach it (tmp_path is private)."""
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    point = Path(tempfile.mkdtemp(prefix="mpam-kernfs-"))
    point.chmod(0o755)
    code, out = _run("mount", str(point))
    assert code == 0, out
    yield point
    shutdown_all()
    point.rmdir()


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def _errno(fn: object, *args: object) -> int:
    try:
        fn(*args)  # type: ignore[operator]
    except OSError as e:
        return e.errno or 0
    return 0


def test_owners_and_modes(mnt: Path) -> None:
    """kernfs_create_root makes the root S_IRUGO|S_IXUGO; info, mon_groups, mon_data and
    mon_L3_* take their parent's mode (rdtgroup_create_info_dir, mongroup_create_dir,
    mkdir_mondata_subdir); files take their rftype's mode (rdtgroup_add_file); mon_data
    files are 0444 (mon_addfile). Everything is root's."""
    modes = {
        "": 0o40555, "info": 0o40555, "info/L3": 0o40555, "info/last_cmd_status": 0o100444,
        "info/L3_MON/max_threshold_occupancy": 0o100644, "mon_groups": 0o40555,
        "mon_data": 0o40555, "mon_data/mon_L3_49": 0o40555,
        "mon_data/mon_L3_49/mbm_total_bytes": 0o100444, "schemata": 0o100644,
        "size": 0o100444, "tasks": 0o100644,
    }  # fmt: skip
    for rel, mode in modes.items():
        st = os.stat(mnt / rel)
        assert (rel, st.st_mode, st.st_uid, st.st_gid) == (rel, mode, 0, 0)


def test_mkdir_mode_and_umask(mnt: Path) -> None:
    """mkdir_rdt_prepare: kernfs_create_dir(parent, name, mode) with the mode mkdir(2)
    passes less the umask; the group's mon_groups, mon_data and mon_L3_* follow it."""
    os.mkdir(mnt / "g1", 0o750)
    for rel in ("g1", "g1/mon_groups", "g1/mon_data", "g1/mon_data/mon_L3_49"):
        assert stat.S_IMODE(os.stat(mnt / rel).st_mode) == 0o750, rel
    assert stat.S_IMODE(os.stat(mnt / "g1" / "tasks").st_mode) == 0o644
    old = os.umask(0o077)
    try:
        os.mkdir(mnt / "g2", 0o777)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(mnt / "g2").st_mode) == 0o700


def test_link_counts_and_times(mnt: Path) -> None:
    """kernfs_refresh_inode: a directory's nlink is 2 plus its subdirectories; nodes carry
    the real-time clock of their creation (kernfs_iattrs), not the epoch."""
    subdirs = sum(1 for p in mnt.iterdir() if p.is_dir())
    assert os.stat(mnt).st_nlink == 2 + subdirs
    os.mkdir(mnt / "g1")
    assert os.stat(mnt).st_nlink == 3 + subdirs
    assert os.stat(mnt / "tasks").st_nlink == 1
    for rel in ("", "tasks", "g1", "g1/schemata"):
        assert abs(os.stat(mnt / rel).st_mtime - time.time()) < 3600, rel


def test_any_user_reads_only_root_writes(mnt: Path) -> None:
    """kernfs_iop_permission is generic_permission: other users read 0444/0644 files and
    list 0555 directories, and are refused writes with EACCES."""
    listing = _as_nobody("ls", str(mnt / "info"))
    assert listing.returncode == 0 and "last_cmd_status" in listing.stdout
    read = _as_nobody("cat", str(mnt / "schemata"))
    assert (read.returncode, read.stdout) == (0, (mnt / "schemata").read_text())
    occupancy = _as_nobody("cat", str(mnt / "mon_data" / "mon_L3_49" / "llc_occupancy"))
    assert occupancy.returncode == 0 and occupancy.stdout.strip().isdigit()
    refused = _as_nobody("bash", "-c", f"echo 1 > {mnt}/tasks")
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    refused = _as_nobody("mkdir", str(mnt / "mine"))
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    assert not (mnt / "mine").exists()


def test_group_delegated_to_a_user(mnt: Path) -> None:
    """chown through kernfs_iop_setattr delegates a group: its owner writes its tasks, and
    rdtgroup_task_write_permission lets them move their own task but not root's."""
    os.mkdir(mnt / "g1")
    code, out = _run("run", "--cpu", "1", "--uid", str(NOBODY), "stream")
    assert code == 0, out
    pid = int(out)
    for rel in ("g1", "g1/tasks"):
        os.chown(mnt / rel, NOBODY, NOBODY)
        assert os.stat(mnt / rel).st_uid == NOBODY
    moved = _as_nobody("bash", "-c", f"echo {pid} > {mnt}/g1/tasks")
    assert moved.returncode == 0, moved.stderr
    assert (mnt / "g1" / "tasks").read_text() == f"{pid}\n"
    refused = _as_nobody("bash", "-c", f"echo 1 > {mnt}/g1/tasks")
    assert "Operation not permitted" in refused.stderr
    status = (mnt / "info" / "last_cmd_status").read_text()
    assert status == "No permission to move task 1\nError while processing task 1\n"
    # setattr_prepare: only root changes an owner; the owner may chmod, others may not
    assert "Operation not permitted" in _as_nobody("chown", "0", str(mnt / "g1/tasks")).stderr
    assert _as_nobody("chmod", "600", str(mnt / "g1" / "tasks")).returncode == 0
    assert stat.S_IMODE(os.stat(mnt / "g1" / "tasks").st_mode) == 0o600
    assert "Operation not permitted" in _as_nobody("chmod", "666", str(mnt / "tasks")).stderr
    assert _as_nobody("touch", str(mnt / "g1" / "tasks")).returncode == 0


def test_open_checks_bits_even_for_root(mnt: Path) -> None:
    """kernfs_fop_open with KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK (rdtgroup_setup_root): no
    read bit, no read; no write bit (or no write op: mon_data), no write; root included."""
    os.mkdir(mnt / "g1")
    os.chmod(mnt / "g1" / "schemata", 0o200)
    assert _errno(open, mnt / "g1" / "schemata") == errno.EACCES
    os.chmod(mnt / "g1" / "tasks", 0o444)
    assert _errno(_write, mnt / "g1" / "tasks", "1\n") == errno.EACCES
    assert _errno(_write, mnt / "size", "x\n") == errno.EACCES
    os.chmod(mnt / "mon_data" / "mon_L3_49" / "mbm_total_bytes", 0o644)
    assert _errno(_write, mnt / "mon_data" / "mon_L3_49" / "mbm_total_bytes", "0\n") == errno.EACCES
    os.chmod(mnt / "g1" / "tasks", 0o644)
    _write(mnt / "g1" / "tasks", "1\n")
    assert "1\n" in (mnt / "g1" / "tasks").read_text()


def test_operations_kernfs_lacks(mnt: Path) -> None:
    """fs/namei.c: without ->create, open(O_CREAT) and mknod of a regular file give EACCES
    (vfs_create); without ->mknod, ->link, ->symlink or ->unlink, those give EPERM."""
    assert _errno(os.open, mnt / "new", os.O_CREAT | os.O_WRONLY) == errno.EACCES
    assert _errno(os.mknod, mnt / "node") == errno.EACCES
    assert _errno(os.mknod, mnt / "fifo", stat.S_IFIFO | 0o644) == errno.EPERM
    assert _errno(os.link, mnt / "tasks", mnt / "tasks2") == errno.EPERM
    assert _errno(os.symlink, "tasks", mnt / "link") == errno.EPERM
    assert _errno(os.unlink, mnt / "tasks") == errno.EPERM
    assert (mnt / "tasks").exists() and not (mnt / "new").exists()


def test_stale_descriptor_gets_enodev(mnt: Path) -> None:
    """kernfs_remove deactivates the group's nodes: kernfs_get_active fails in
    kernfs_fop_read_iter / kernfs_fop_write_iter, which answer ENODEV."""
    os.mkdir(mnt / "g1")
    fd = os.open(mnt / "g1" / "schemata", os.O_RDWR)
    try:
        os.rmdir(mnt / "g1")
        assert _errno(os.pread, fd, 100, 0) == errno.ENODEV
        assert _errno(os.write, fd, b"L3:49=f\n") == errno.ENODEV
    finally:
        os.close(fd)


def test_write_longer_than_a_page_is_refused_whole(mnt: Path) -> None:
    """kernfs_fop_write_iter: rdtgroup_kf_single_ops has atomic_write_len = PAGE_SIZE, so a
    longer write is E2BIG before rdtgroup_tasks_write sees any of it."""
    os.mkdir(mnt / "g1")
    assert _errno(_write, mnt / "g1" / "tasks", "1\n" * 2049) == errno.E2BIG
    assert (mnt / "g1" / "tasks").read_text() == ""
    _write(mnt / "g1" / "tasks", "1" + " " * 4094 + "\n")  # exactly a page: one command
    assert (mnt / "g1" / "tasks").read_text() == "1\n"


def test_names_and_places(mnt: Path) -> None:
    """rdtgroup_mkdir / mkdir_rdt_prepare: info and its subdirectories have no group
    (kernfs_to_rdtgroup: ENODEV); a MON group only in mon_groups and not named so
    (is_mon_groups: EPERM); rdtgroup_rename: ENOENT for info, EPERM with its message for a
    MON group renamed to mon_groups. A name like a file that exists only with -o debug is a
    group's name without it."""
    assert _errno(os.mkdir, mnt / "info" / "x") == errno.ENODEV
    assert _errno(os.mkdir, mnt / "info" / "L3" / "x") == errno.ENODEV
    os.mkdir(mnt / "g1")
    assert _errno(os.mkdir, mnt / "g1" / "x") == errno.EPERM
    assert _errno(os.mkdir, mnt / "g1" / "mon_groups" / "mon_groups") == errno.EPERM
    assert _errno(os.rename, mnt / "info" / "last_cmd_status", mnt / "info" / "y") == errno.ENOENT
    os.mkdir(mnt / "g1" / "mon_groups" / "m")
    m = mnt / "g1" / "mon_groups"
    assert _errno(os.rename, m / "m", m / "mon_groups") == errno.EPERM
    status = (mnt / "info" / "last_cmd_status").read_text()
    assert status == "Destination must be a mon_groups subdirectory\n"
    os.mkdir(mnt / "ctrl_hw_id")
    assert (mnt / "ctrl_hw_id" / "schemata").exists()


def test_unknown_option_while_mounted(mnt: Path, tmp_path: Path) -> None:
    """vfs_parse_fs_param refuses an unknown option (EINVAL) before rdt_get_tree would find
    resctrl mounted (EBUSY)."""
    other = tmp_path / "other"
    other.mkdir()
    code, out = _run("mount", "-o", "bogus", str(other))
    assert code != 0 and "Unknown parameter 'bogus'" in out, out
    code, out = _run("mount", str(other))
    assert code != 0 and "busy" in out.lower(), out


def test_moved_mon_group_keeps_its_tasks_alone(mnt: Path) -> None:
    """rdtgroup_rename / mongrp_reparent across CTRL_MON groups: the moved group's task is
    listed once, in the moved group, under its new parent. On MPAM the RMID is a PMG within
    the PARTID: rdn2 has two PMGs per PARTID, so once g3 and g3's own MON group hold both,
    a third group cannot move in: refused (ENOSPC, "Out of RMIDs") where the kernel would
    let two groups share one (docs/resctrl.md), and nothing changes."""
    for rel in ("g1", "g2", "g1/mon_groups/m0"):
        os.mkdir(mnt / rel)
    code, out = _run("run", "--cpu", "1", "stream")
    assert code == 0, out
    pid = int(out)
    _write(mnt / "g1" / "tasks", f"{pid}\n")  # a MON group takes tasks of its parent only
    _write(mnt / "g1" / "mon_groups" / "m0" / "tasks", f"{pid}\n")
    os.rename(mnt / "g1" / "mon_groups" / "m0", mnt / "g2" / "mon_groups" / "m1")
    assert (mnt / "g2" / "mon_groups" / "m1" / "tasks").read_text() == f"{pid}\n"
    assert f"{pid}\n" in (mnt / "g2" / "tasks").read_text()
    assert f"{pid}\n" not in (mnt / "g1" / "tasks").read_text()
    os.mkdir(mnt / "g3")
    os.mkdir(mnt / "g3" / "mon_groups" / "x")  # g3 and x hold both of PARTID 3's PMGs
    m1 = mnt / "g2" / "mon_groups" / "m1"
    assert _errno(os.rename, m1, mnt / "g3" / "mon_groups" / "y") == errno.ENOSPC
    assert (mnt / "info" / "last_cmd_status").read_text() == "Out of RMIDs\n"
    assert m1.exists() and (m1 / "tasks").read_text() == f"{pid}\n"


def test_an_unprivileged_agent_reads_every_groups_mon_data(mnt: Path) -> None:
    """A monitoring agent as `nobody` walks every group's mon_data and reads each event file
    (mode 0444 through 0755/0555 directories), as it would on the kernel's resctrl."""
    for rel in ("g1", "g1/mon_groups/m1", "g2"):
        os.mkdir(mnt / rel)
    files = sorted(str(p) for p in mnt.rglob("mon_data/*/*"))
    assert len(files) == 4 * 2  # root, g1, m1, g2: llc_occupancy and mbm_total_bytes
    read = _as_nobody("sh", "-c", 'for f in "$@"; do cat "$f" || exit 1; done', "agent", *files)
    assert read.returncode == 0, read.stderr
    values = read.stdout.split()
    assert len(values) == len(files)
    assert all(v.isdigit() or v in ("Unavailable", "Unassigned") for v in values)


def test_rename_flags_are_refused(mnt: Path) -> None:
    """kernfs_iop_rename: renameat2 with any flag (RENAME_NOREPLACE here) is EINVAL."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_noreplace = -100, 1
    os.mkdir(mnt / "g1")
    os.mkdir(mnt / "g1" / "mon_groups" / "m")
    old = str(mnt / "g1" / "mon_groups" / "m").encode()
    new = str(mnt / "g1" / "mon_groups" / "n").encode()
    assert libc.renameat2(at_fdcwd, old, at_fdcwd, new, rename_noreplace) == -1
    assert ctypes.get_errno() == errno.EINVAL
    assert libc.renameat2(at_fdcwd, old, at_fdcwd, new, 0) == 0
    assert (mnt / "g1" / "mon_groups" / "n").is_dir()
