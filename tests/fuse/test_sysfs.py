"""`mpam sysfs DIR`: the machine's /sys/devices/system/cpu through a real FUSE mount, read by
any user, read-only, following CPU hotplug (drivers/base/cpu.c, cacheinfo.c)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, paused_machine, run_ok

pytestmark = needs_fuse


_ok = run_ok


@pytest.fixture
def cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with paused_machine(tmp_path, monkeypatch, "rdn2", "sysfs", mount="sysfs") as point:
        yield point


def test_the_tree_follows_hotplug(cpu: Path) -> None:
    assert (cpu / "online").read_text() == "0-15\n"
    assert (cpu / "cpu0" / "cache" / "index3" / "id").read_text() == "49\n"
    assert (cpu / "cpu0" / "cache" / "index3" / "size").read_text() == "8192K\n"
    assert sorted(os.listdir(cpu / "cpu0" / "cache")) == [f"index{i}" for i in range(4)]
    with pytest.raises(OSError) as e:
        os.open(cpu / "online", os.O_WRONLY)
    assert e.value.errno == errno.EACCES
    _ok("cpu", "offline", "7")
    assert (cpu / "online").read_text() == "0-6,8-15\n"
    assert (cpu / "cpu7" / "online").read_text() == "0\n"
    assert not (cpu / "cpu7" / "cache").exists()
    _ok("umount", str(cpu))
    assert not os.path.ismount(cpu)
