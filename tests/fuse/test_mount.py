"""resctrl mounted for real through FUSE, driven with plain file operations, as a shell or
a container runtime would."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, run_cli, shutdown_all, write_once

pytestmark = needs_fuse
_run = run_cli
_write = write_once


@pytest.fixture
def mnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    point = tmp_path / "resctrl"
    point.mkdir()
    code, out = _run("mount", str(point))  # boots the default platform first
    assert code == 0, out
    yield point
    shutdown_all()


def test_files_read_and_write(mnt: Path) -> None:
    assert sorted(os.listdir(mnt)) == [
        "cpus", "cpus_list", "info", "mbm_L3_assignments", "mode", "mon_data", "mon_groups", "schemata", "size", "tasks",
    ]  # fmt: skip
    assert (mnt / "schemata").read_text() == "    MB:49=100\n    L3:49=ffff\n"
    assert (mnt / "info" / "L3_MON" / "num_rmids").read_text() == "128\n"
    os.mkdir(mnt / "g1")
    _write(mnt / "g1" / "schemata", "L3:49=f0\n")
    assert (mnt / "g1" / "schemata").read_text() == "    MB:49=100\n    L3:49=f0\n"
    with pytest.raises(OSError) as e:
        _write(mnt / "g1" / "schemata", "L3:49=0\n")
    assert e.value.errno == errno.EINVAL
    assert (mnt / "info" / "last_cmd_status").read_text() == "Mask out of range\n"
    assert (mnt / "g1" / "schemata").read_text() == "    MB:49=100\n    L3:49=f0\n"
    _write(mnt / "g1" / "tasks", "11\n")
    assert (mnt / "g1" / "tasks").read_text() == "11\n"
    os.mkdir(mnt / "g1" / "mon_groups" / "m1")
    with pytest.raises(OSError) as e:
        os.mkdir(mnt / "g1" / "mon_groups" / "m2")
    assert e.value.errno == errno.ENOSPC
    assert (mnt / "mon_data" / "mon_L3_49" / "llc_occupancy").read_text() == "0\n"
    os.rmdir(mnt / "g1")
    assert "g1" not in os.listdir(mnt)


def test_permissions_and_errors(mnt: Path) -> None:
    assert (mnt / "size").stat().st_mode & 0o777 == 0o444
    with pytest.raises(PermissionError):
        os.open(mnt / "size", os.O_WRONLY)
    with pytest.raises(OSError) as e:
        os.rmdir(mnt / "info")
    assert e.value.errno == errno.EPERM
    with pytest.raises(OSError) as e:
        os.mkdir(mnt / "info" / "x")
    assert e.value.errno == errno.ENODEV


def test_second_mount_and_umount(mnt: Path, tmp_path: Path) -> None:
    other = tmp_path / "again"
    other.mkdir()
    code, out = _run("mount", str(other))
    assert code == 1 and "Device or resource busy (EBUSY)" in out
    os.mkdir(mnt / "g")
    assert _run("umount", str(mnt)) == (0, "")
    assert not os.path.ismount(mnt) and os.listdir(mnt) == []
    code, out = _run("mount", "-o", "cdp", str(mnt))
    assert code == 0, out
    assert (mnt / "schemata").read_text() == "L3DATA:49=ffff\nL3CODE:49=ffff\n"
    assert "g" not in os.listdir(mnt)  # unmount removed every group


def test_counter_assignment_and_mount_refusal(mnt: Path, tmp_path: Path) -> None:
    """Counter assignment through the mount: errors arrive as the kernel's errno; and a
    refused mba_MBps mount names the kernel's reason."""
    os.mkdir(mnt / "g")
    assert (mnt / "g" / "mbm_L3_assignments").read_text() == "mbm_total_bytes:49=e\n"
    _write(mnt / "g" / "mbm_L3_assignments", "mbm_total_bytes:49=_\n")
    assert (mnt / "info" / "L3_MON" / "available_mbm_cntrs").read_text() == "49=15\n"
    assert (mnt / "g" / "mon_data" / "mon_L3_49" / "mbm_total_bytes").read_text() == "Unassigned\n"
    with pytest.raises(OSError) as e:
        _write(mnt / "g" / "mbm_L3_assignments", "mbm_local_bytes:49=e\n")
    assert e.value.errno == errno.ENOENT
    assert (mnt / "info" / "last_cmd_status").read_text() == "Invalid event mbm_local_bytes\n"
    assert (
        mnt / "info" / "L3_MON" / "event_configs" / "mbm_total_bytes" / "event_filter"
    ).stat().st_mode & 0o777 == 0o444
    other = tmp_path / "other"
    other.mkdir()
    assert _run("umount", str(mnt))[0] == 0
    code, out = _run("mount", "-o", "mba_MBps", str(other))
    assert code != 0
    assert "Invalid argument (EINVAL): mba_MBps requires MBM (mbm_event mode not supported)" in out
