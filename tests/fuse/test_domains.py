"""Domains through the real FUSE mount on two-socket: they leave schemata, size, bit_usage
and mon_data when their last CPU goes offline and come back with the values the kernel
restores (drivers/resctrl/mpam_resctrl.c mpam_resctrl_offline_cpu / _online_cpu,
fs/resctrl/rdtgroup.c resctrl_offline_mon_domain / resctrl_online_mon_domain); and resctrl
goes away when an MSC error disables MPAM (mpam_disable -> resctrl_exit)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, paused_machine, run_cli, run_ok, write_once

pytestmark = needs_fuse

NAME = "domains"


_ok = run_ok


@pytest.fixture
def mnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with paused_machine(tmp_path, monkeypatch, "two-socket", NAME, mount="mount") as point:
        yield point


def _line(path: Path, schema: str) -> str:
    """One schema's line of a schemata or size file, without its padding."""
    return next(ln.strip() for ln in path.read_text().splitlines() if ln.strip().startswith(schema))


def _cpus(state: str, cpus: range) -> None:
    for cpu in cpus:
        _ok("cpu", state, "-n", NAME, str(cpu))


def test_a_socket_offline_and_back(mnt: Path) -> None:
    os.mkdir(mnt / "g1")
    write_once(mnt / "g1" / "schemata", "L3:1=f0\n")
    assert _line(mnt / "g1" / "schemata", "L3:") == "L3:0=ffff;1=f0"
    assert sorted(os.listdir(mnt / "mon_data")) == ["mon_L3_00", "mon_L3_01"]
    _cpus("offline", range(16, 32))
    assert _line(mnt / "g1" / "schemata", "L3:") == "L3:0=ffff"
    # socket 1's L2s (528-531) went with it
    assert _line(mnt / "g1" / "schemata", "L2:") == "L2:512=ff;513=ff;514=ff;515=ff"
    assert ";1=" not in _line(mnt / "g1" / "size", "L3:")
    assert "1=" not in (mnt / "info" / "L3" / "bit_usage").read_text()
    assert os.listdir(mnt / "mon_data") == ["mon_L3_00"]
    assert os.listdir(mnt / "g1" / "mon_data") == ["mon_L3_00"]
    # parse_line: a domain that is not on the list fails, with no message
    with pytest.raises(OSError) as e:
        write_once(mnt / "g1" / "schemata", "L3:1=3\n")
    assert e.value.errno == errno.EINVAL
    assert (mnt / "info" / "last_cmd_status").read_text() == "ok\n"
    _cpus("online", range(20, 21))
    # the component kept its configuration: the domain returns with the group's mask
    assert _line(mnt / "g1" / "schemata", "L3:") == "L3:0=ffff;1=f0"
    assert sorted(os.listdir(mnt / "g1" / "mon_data")) == ["mon_L3_00", "mon_L3_01"]
    assert (mnt / "g1" / "mon_data" / "mon_L3_01" / "llc_occupancy").read_text().strip().isdigit()


def test_resctrl_goes_away_with_mpam(mnt: Path) -> None:
    os.mkdir(mnt / "g1")
    fd = os.open(mnt / "g1" / "schemata", os.O_RDWR)
    try:
        out = _ok("inject", "-n", NAME, "l3-p0", "REQ_PARTID_RANGE", "--partid", "70")
        assert "MPAM disabled (hardware error interrupt)" in out
        assert os.listdir(mnt) == []
        with pytest.raises(OSError) as e:
            os.pread(fd, 100, 0)
        assert e.value.errno == errno.ENODEV
        with pytest.raises(OSError) as e:
            write_once(mnt / "schemata", "L3:0=3\n")
        assert e.value.errno == errno.ENOENT
        with pytest.raises(OSError) as e:
            os.mkdir(mnt / "g2")
        assert e.value.errno == errno.ENODEV
    finally:
        os.close(fd)
    _ok("umount", str(mnt))
    code, out = run_cli("mount", "-n", NAME, str(mnt))
    assert code != 0 and "No such device" in out, out
