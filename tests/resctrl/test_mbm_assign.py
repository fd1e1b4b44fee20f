"""mbm_total_bytes on MPAM (drivers/resctrl/mpam_resctrl.c), and counter assignment (the
mbm_event mode of fs/resctrl/monitor.c and rdtgroup.c).

rdn2's DDR MSCs have 16 MBWU monitors for 128 (PARTID, PMG) labels, so resctrl assigns them
as counters (mbm_event mode, fixed); a platform with a monitor per label runs them free.
Bytes are fed to the hardware monitors directly (as the memory channel will), and what
`mbm_total_bytes` reads is checked against them."""

from __future__ import annotations

import errno
from importlib import resources

import numpy as np
import pytest

from mpam.hw.msc import Msc
from mpam.machine import Machine
from mpam.platform import from_toml_text
from mpam.resctrl.arch import CdpType
from mpam.resctrl.fs import ResctrlFs


@pytest.fixture
def m() -> Machine:
    return Machine("rdn2").boot()


@pytest.fixture
def fs(m: Machine) -> ResctrlFs:
    assert m.resctrl is not None and m.resctrl.mount("") == 0
    return m.resctrl


def _traffic(m: Machine, partid: int, pmg: int, nbytes: int) -> None:
    """`nbytes` read by (partid, pmg) through each DDR MSC."""
    for dev in m.hw.mscs:
        msc = dev if isinstance(dev, Msc) else dev.msc
        for ris in msc.ris.values():
            if ris.mbwu is not None:
                t = np.zeros((msc.partid_max + 1, msc.pmg_max + 1, 2), dtype=np.int64)
                t[partid, pmg, 0] = nbytes
                ris.count_mbwu(t)


def _status(fs: ResctrlFs) -> str:
    return fs.read("info/last_cmd_status")  # type: ignore[return-value]


def test_counters_are_assigned_on_mkdir_until_none_is_left(fs: ResctrlFs) -> None:
    assert fs.read("info/L3_MON/num_mbm_cntrs") == "49=16\n"
    for i in range(1, 16):
        assert fs.mkdir(f"g{i}") == 0
        assert _status(fs) == "ok\n"
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "49=0\n"
    # The 17th group is made, without a counter; the reason is in last_cmd_status.
    assert fs.mkdir("g16") == 0
    assert _status(fs) == "Failed to allocate counter for mbm_total_bytes in domain 49\n"
    assert fs.read("g16/mbm_L3_assignments") == "mbm_total_bytes:49=_\n"
    assert fs.read("g16/mon_data/mon_L3_49/mbm_total_bytes") == "Unassigned\n"
    assert fs.read("g16/mon_data/mon_L3_49/llc_occupancy") == "0\n"
    # Taking one away and giving it to g16.
    assert fs.write("g3/mbm_L3_assignments", "mbm_total_bytes:49=_\n") == 21
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "49=1\n"
    assert fs.write("g16/mbm_L3_assignments", "mbm_total_bytes:*=e\n") == 20
    assert fs.read("g16/mbm_L3_assignments") == "mbm_total_bytes:49=e\n"
    # rmdir gives counters back, of the group and of its MON groups.
    assert fs.rmdir("g1") == 0
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "49=1\n"
    assert fs.umount() == 0 and fs.mount("") == 0
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "49=15\n"


ASSIGN_ERRORS = [
    ("mbm_total_bytes:49=e", errno.EINVAL, "ok\n"),  # no trailing newline: silent
    ("bogus:49=e\n", errno.ENOENT, "Invalid event bogus\n"),
    ("mbm_local_bytes:49=e\n", errno.ENOENT, "Invalid event mbm_local_bytes\n"),
    ("mbm_total_bytes:x=e\n", errno.EINVAL, "Missing domain id\n"),
    ("mbm_total_bytes:7=e\n", errno.EINVAL, "Invalid domain id 7\n"),
    ("mbm_total_bytes:49=x\n", errno.EINVAL, "Assign operation 'mbm_total_bytes:49=x' failed\n"),
    ("mbm_total_bytes:49\n", errno.EINVAL, "Assign operation 'mbm_total_bytes:49=(null)' failed\n"),
    ("mbm_total_bytes:*=ee\n", errno.EINVAL, "Assign operation 'mbm_total_bytes:*=ee' failed\n"),
]


@pytest.mark.parametrize(("data", "err", "status"), ASSIGN_ERRORS)
def test_assignment_write_errors(fs: ResctrlFs, data: str, err: int, status: str) -> None:
    assert fs.mkdir("g") == 0
    assert fs.write("g/mbm_L3_assignments", data) == -err
    assert _status(fs) == status
    assert fs.read("g/mbm_L3_assignments") == "mbm_total_bytes:49=e\n"


def test_assignment_when_every_counter_is_taken(fs: ResctrlFs) -> None:
    assert fs.write("info/L3_MON/mbm_assign_on_mkdir", "0\n") == 2
    assert fs.read("info/L3_MON/mbm_assign_on_mkdir") == "0\n"
    assert fs.mkdir("late") == 0 and _status(fs) == "ok\n"
    assert fs.read("late/mbm_L3_assignments") == "mbm_total_bytes:49=_\n"
    for i in range(15):
        assert fs.mkdir(f"g/mon_groups/m{i}" if i else "g") == 0
        assert fs.write(f"g/mon_groups/m{i}/mbm_L3_assignments" if i else "g/mbm_L3_assignments",
                        "mbm_total_bytes:49=e\n") == 21  # fmt: skip
        if i == 1:
            break
    for i in range(2, 15):
        assert fs.mkdir(f"h{i}") == 0
        assert fs.write(f"h{i}/mbm_L3_assignments", "mbm_total_bytes:49=e\n") == 21
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "49=0\n"
    assert fs.write("late/mbm_L3_assignments", "mbm_total_bytes:49=e\n") == -errno.ENOSPC
    assert _status(fs) == (
        "Failed to allocate counter for mbm_total_bytes in domain 49\n"
        "Assign operation 'mbm_total_bytes:49=e' failed\n"
    )
    assert fs.write("info/L3_MON/mbm_assign_on_mkdir", "maybe") == -errno.EINVAL


def test_assign_mode_is_fixed(fs: ResctrlFs) -> None:
    assert fs.read("info/L3_MON/mbm_assign_mode") == "[mbm_event]\n"
    assert fs.write("info/L3_MON/mbm_assign_mode", "mbm_event\n") == 10
    assert _status(fs) == "ok\n"
    assert fs.write("info/L3_MON/mbm_assign_mode", "default\n") == -errno.EINVAL
    assert _status(fs) == "Counter assignment mode is not configurable\n"
    assert fs.write("info/L3_MON/mbm_assign_mode", "abmc\n") == -errno.EINVAL
    assert _status(fs) == "Unsupported assign mode\n"
    assert fs.write("info/L3_MON/mbm_assign_mode", "default") == -errno.EINVAL


def test_counts_are_the_bytes_the_labels_moved(fs: ResctrlFs, m: Machine) -> None:
    """Two DDR MSCs: the count is the sum over both; a CTRL_MON group adds its MON groups';
    a counter assigned again starts from zero."""
    assert fs.mkdir("g") == 0 and fs.mkdir("g/mon_groups/m") == 0
    _traffic(m, 1, 0, 1000)  # g (PARTID 1, PMG 0)
    _traffic(m, 1, 1, 300)  # g/mon_groups/m (PARTID 1, PMG 1)
    _traffic(m, 2, 0, 999)  # nobody's
    assert fs.read("g/mon_groups/m/mon_data/mon_L3_49/mbm_total_bytes") == "600\n"
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "2600\n"
    # An unassigned parent still shows its MON group's count.
    assert fs.write("g/mbm_L3_assignments", "mbm_total_bytes:49=_\n") == 21
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "600\n"
    assert fs.write("g/mbm_L3_assignments", "mbm_total_bytes:49=e\n") == 21
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "600\n"
    _traffic(m, 1, 0, 50)
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "700\n"


def test_cdp_halves_the_counters(m: Machine) -> None:
    fs = m.resctrl
    assert fs is not None and fs.mount("cdp") == 0
    assert fs.read("info/L3_MON/num_mbm_cntrs") == "49=8\n"
    assert fs.mkdir("g") == 0
    _traffic(m, 2, 0, 100)  # g's data PARTID
    _traffic(m, 3, 0, 10)  # g's code PARTID
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "220\n"


def test_mba_mbps_refused_with_assigned_counters(m: Machine) -> None:
    fs = m.resctrl
    assert fs is not None
    assert fs.mount("mba_MBps") == -errno.EINVAL
    reason = "mba_MBps requires MBM (mbm_event mode not supported) and linear scale MBA at L3 scope"
    assert fs.mount_error == reason
    assert f"resctrl: {reason}" in m.dmesg()


def free_running_rdn2() -> Machine:
    """rdn2 with 128 MBWU monitors on each DDR MSC: one per (PARTID, PMG) label."""
    text = (resources.files("mpam.platform") / "presets" / "rdn2.toml").read_text()
    assert "mbwu = { num_mon = 16," in text
    text = text.replace("mbwu = { num_mon = 16,", "mbwu = { num_mon = 128,")
    return Machine(from_toml_text(text)).boot()


def test_free_running_monitors() -> None:
    """Enough monitors: no assignment files, counts from the group's creation on."""
    m = free_running_rdn2()
    fs = m.resctrl
    assert fs is not None and fs.mount("debug") == 0
    assert fs.read("info/L3_MON/mbm_assign_mode") == "[default]\n"
    assert fs.write("info/L3_MON/mbm_assign_mode", "mbm_event\n") == -errno.EINVAL
    assert _status(fs) == "mbm_event mode is not supported\n"
    assert "num_mbm_cntrs" not in fs.listdir("info/L3_MON")  # type: ignore[operator]
    assert "mbm_L3_assignments" not in fs.listdir("")  # type: ignore[operator]
    assert fs.read("mon_data/mon_L3_49/mbm_total_bytes") == "0\n"
    _traffic(m, 0, 0, 64)
    assert fs.read("mon_data/mon_L3_49/mbm_total_bytes") == "128\n"
    _traffic(m, 1, 0, 64)  # PARTID 1 before its group exists: not the group's bytes
    assert fs.mkdir("g") == 0 and fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "0\n"
    assert fs.read("g/ctrl_hw_id") == "1\n"
    _traffic(m, 1, 0, 32)
    assert fs.read("g/mon_data/mon_L3_49/mbm_total_bytes") == "64\n"


def test_mba_mbps_software_controller() -> None:
    """With free-running counters mba_MBps mounts: MB is a MiB/s target, and once a second
    the controller throttles a group that moves more than its target, one granule at a
    time, and eases it again when it moves less."""
    m = free_running_rdn2()
    fs = m.resctrl
    assert fs is not None and fs.mount("mba_MBps,debug") == 0
    assert fs.read("schemata") == "    MB:49=4294967295\n    L3:49=ffff\n"
    assert fs.mkdir("g") == 0 and fs.read("g/ctrl_hw_id") == "1\n"
    assert fs.read("g/mba_MBps_event") == "mbm_total_bytes\n"
    assert fs.write("g/mba_MBps_event", "mbm_local_bytes\n") == -errno.EINVAL
    assert _status(fs) == "Unsupported event id 'mbm_local_bytes'\n"
    assert fs.write("g/schemata", "MB:49=100\n") == 10
    assert fs.read("g/schemata") == "    MB:49=100\n    L3:49=ffff\n"
    assert fs.read("g/size") == "    MB:49=100\n    L3:49=8388608\n"  # the hardware's %
    mb = next(r for r in m.resctrl_arch.resources() if r.name == "MB")  # type: ignore[union-attr]
    d = mb.ctrl_domains[0]
    hw = [fs.arch.get_config(mb, d, 1, CdpType.NONE)]
    for _ in range(4):  # 200 MiB/s through each DDR MSC: 400 MiB/s against a 100 target
        _traffic(m, 1, 0, 200 << 20)
        m.kernel.run(1_000_000_000)
        hw.append(fs.arch.get_config(mb, d, 1, CdpType.NONE))
    assert hw[0] == 100 and hw[1] == 100  # the first interval only sets the baseline
    assert hw[2] < hw[1] and hw[3] < hw[2] and hw[4] < hw[3]
    assert hw[1] - hw[2] == mb.bw_gran
    assert fs.write("g/schemata", "MB:49=1000\n") == 11
    _traffic(m, 1, 0, 10 << 20)
    m.kernel.run(1_000_000_000)
    assert fs.arch.get_config(mb, d, 1, CdpType.NONE) == hw[4] + mb.bw_gran
