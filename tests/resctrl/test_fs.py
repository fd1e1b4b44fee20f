"""The resctrl tree of a booted rdn2 machine, path by path, without FUSE: the layout, file
modes, what reads show and what writes, mkdir, rmdir and rename do (as fs/resctrl/rdtgroup.c
and drivers/resctrl/mpam_resctrl.c make them)."""

from __future__ import annotations

import errno

import pytest

from mpam.kernel import mpam_regval
from mpam.machine import Machine
from mpam.resctrl.fs import ResctrlFs


@pytest.fixture
def m() -> Machine:
    return Machine("rdn2").boot()


@pytest.fixture
def fs(m: Machine) -> ResctrlFs:
    assert m.resctrl is not None
    assert m.resctrl.mount("") == 0
    return m.resctrl


def test_layout_and_info(fs: ResctrlFs) -> None:
    assert sorted(fs.listdir("")) == [  # type: ignore[arg-type]
        "cpus", "cpus_list", "info", "mbm_L3_assignments", "mode", "mon_data", "mon_groups", "schemata", "size", "tasks",
    ]  # fmt: skip
    assert fs.read("schemata") == "    MB:49=100\n    L3:49=ffff\n"
    assert fs.read("size") == "    MB:49=100\n    L3:49=8388608\n"
    assert (fs.read("mode"), fs.read("cpus"), fs.read("cpus_list")) == (
        "shareable\n",
        "ffff\n",
        "0-15\n",
    )
    info = {
        f"{d}/{f}": fs.read(f"info/{d}/{f}")
        for d in ("L3", "MB", "L3_MON")
        for f in fs.listdir(f"info/{d}")  # type: ignore[union-attr]
    }
    assert info == {
        "L3/bit_usage": "49=XXXXXXXXXXXXXXXX\n", "L3/cbm_mask": "ffff\n",
        "L3/min_cbm_bits": "1\n", "L3/num_closids": "64\n", "L3/shareable_bits": "ffff\n",
        "L3/sparse_masks": "1\n", "MB/bandwidth_gran": "1\n", "MB/delay_linear": "1\n",
        "MB/min_bandwidth": "0\n", "MB/num_closids": "64\n",
        "L3_MON/max_threshold_occupancy": "65536\n", "L3_MON/mbm_assign_mode": "[mbm_event]\n",
        "L3_MON/mon_features": "llc_occupancy\nmbm_total_bytes\n", "L3_MON/num_rmids": "128\n",
        # 16 MBWU monitors for 128 labels: counters are assigned; the root group holds one
        "L3_MON/num_mbm_cntrs": "49=16\n", "L3_MON/available_mbm_cntrs": "49=15\n",
        "L3_MON/mbm_assign_on_mkdir": "1\n", "L3_MON/event_configs": -errno.EISDIR,
    }  # fmt: skip
    assert fs.read("info/last_cmd_status") == "ok\n"
    assert fs.listdir("info/L3_MON/event_configs") == ["mbm_total_bytes"]
    assert fs.read("info/L3_MON/event_configs/mbm_total_bytes/event_filter") == "\n"
    assert fs.open_write("info/L3_MON/event_configs/mbm_total_bytes/event_filter") == -errno.EACCES
    assert fs.listdir("mon_data") == ["mon_L3_49"]
    assert fs.listdir("mon_data/mon_L3_49") == ["llc_occupancy", "mbm_total_bytes"]
    assert fs.read("mon_data/mon_L3_49/llc_occupancy") == "0\n"
    assert fs.read("mon_data/mon_L3_49/mbm_total_bytes") == "0\n"
    assert fs.read("mbm_L3_assignments") == "mbm_total_bytes:49=e\n"


def test_modes_and_permissions(fs: ResctrlFs) -> None:
    assert fs.stat("schemata").perm == 0o644  # type: ignore[union-attr]
    assert fs.stat("size").perm == 0o444  # type: ignore[union-attr]
    assert fs.open_write("size") == -errno.EACCES
    assert fs.open_write("info/L3/cbm_mask") == -errno.EACCES
    assert fs.open_write("info/L3_MON/max_threshold_occupancy") == 0
    assert fs.write("info/L3_MON/max_threshold_occupancy", "0x100") == 5
    assert fs.read("info/L3_MON/max_threshold_occupancy") == "256\n"
    # rdtgroup_max_threshold_occ_write: kstrtouint's ERANGE past 32 bits, EINVAL past the L3
    assert fs.write("info/L3_MON/max_threshold_occupancy", "9999999999") == -errno.ERANGE
    assert fs.write("info/L3_MON/max_threshold_occupancy", f"{fs.l3_size() + 1}") == -errno.EINVAL
    assert fs.read("nope") == -errno.ENOENT
    assert fs.read("info") == -errno.EISDIR


def test_groups(fs: ResctrlFs, m: Machine) -> None:
    assert fs.mkdir("g1") == 0
    assert fs.read("g1/schemata") == "    MB:49=100\n    L3:49=ffff\n"
    assert fs.mkdir("g1/mon_groups/m1") == 0
    assert fs.mkdir("g1/mon_groups/m2") == -errno.ENOSPC
    assert fs.read("info/last_cmd_status") == "Out of RMIDs\n"
    assert fs.write("g1/mode", "exclusive\n") == -errno.EINVAL
    assert fs.read("info/last_cmd_status") == "Schemata overlaps\n"
    assert fs.write("g1/schemata", "L3:49=f0f0\n") == 11
    assert fs.write("g1/schemata", "MB:49=37\n") == 9
    assert fs.read("g1/schemata") == "    MB:49=37\n    L3:49=f0f0\n"
    regs = m.driver.regs[8]
    regs.part_sel(0, 1)
    assert regs.read("MPAMCFG_MBW_MAX") == 0x5E00
    assert fs.write("g1/tasks", "11") == 2
    assert fs.read("g1/tasks") == "11\n"
    assert sorted(fs.listdir("g1")) == [  # type: ignore[arg-type]
        "cpus", "cpus_list", "mbm_L3_assignments", "mode", "mon_data", "mon_groups", "schemata",
        "size", "tasks",
    ]  # fmt: skip
    assert sorted(fs.listdir("g1/mon_groups/m1")) == [
        "cpus",
        "cpus_list",
        "mbm_L3_assignments",
        "mon_data",
        "tasks",
    ]  # type: ignore[arg-type]
    # mkdir where the kernel refuses it
    assert fs.mkdir("g1/x") == -errno.EPERM
    assert fs.mkdir("info/x") == -errno.ENODEV
    assert fs.mkdir("g1") == -errno.EEXIST
    # the mount point itself is busy (do_rmdir); info has no group (rdtgroup_rmdir)
    assert fs.rmdir("") == -errno.EBUSY and fs.rmdir("info") == -errno.EPERM
    assert fs.rmdir("g1/mon_data") == -errno.EPERM
    # rename: only MON groups, between mon_groups directories
    assert fs.mkdir("g2") == 0
    assert fs.rename("g1", "g3") == -errno.EPERM
    assert fs.read("info/last_cmd_status") == "Source must be a MON group\n"
    assert fs.rename("g1/mon_groups/m1", "g2/x") == -errno.EPERM
    assert fs.read("info/last_cmd_status") == "Destination must be a mon_groups subdirectory\n"
    assert fs.rename("g1/mon_groups/m1", "g2/mon_groups/moved") == 0
    assert fs.listdir("g2/mon_groups") == ["moved"] and fs.listdir("g1/mon_groups") == []
    # rmdir sends tasks home; a freed CLOSID starts again from the defaults
    assert fs.rmdir("g1") == 0
    assert "11\n" in fs.read("tasks")  # type: ignore[operator]
    assert fs.mkdir("g4") == 0 and fs.read("g4/schemata") == "    MB:49=100\n    L3:49=ffff\n"


def test_mount_options_and_unmount(m: Machine) -> None:
    fs = m.resctrl
    assert fs is not None
    assert fs.mount("debug,bogus") == -errno.EINVAL
    assert fs.mount_error == "Unknown parameter 'bogus'"  # fs_context's own words
    assert m.kernel.klog.grep("resctrl: Unknown parameter 'bogus'")
    assert fs.mount("mba_MBps") == -errno.EINVAL
    assert fs.mount("cdp,debug") == 0
    assert fs.mount("") == -errno.EBUSY
    assert fs.read("schemata") == "L3DATA:49=ffff\nL3CODE:49=ffff\n"
    assert fs.listdir("info") == ["last_cmd_status", "L3CODE", "L3DATA", "L3_MON"]
    assert fs.mkdir("g") == 0
    assert fs.read("g/ctrl_hw_id") == "1\n" and fs.read("g/mon_hw_id") == "0\n"
    assert fs.write("g/schemata", "L3CODE:49=f\n") == 12
    assert fs.write("g/tasks", "11") == 2
    task = m.kernel.tasks[11]
    assert (task.labels.partid_d, task.labels.partid_i) == (2, 3)
    assert fs.umount() == 0
    assert (task.labels.partid_d, task.labels.partid_i) == (0, 0)
    assert fs.mount("") == 0
    assert fs.read("schemata") == "    MB:49=100\n    L3:49=ffff\n"
    assert fs.mkdir("g") == 0 and fs.read("g/schemata") == "    MB:49=100\n    L3:49=ffff\n"


def test_cpu_hotplug_moves_cpus_between_groups(fs: ResctrlFs, m: Machine) -> None:
    """resctrl_offline_cpu drops a CPU from its group (and MON group); resctrl_online_cpu
    returns it to the default group with CLOSID 0, RMID 0 as its default labels."""
    assert fs.mkdir("g") == 0 and fs.mkdir("g/mon_groups/m") == 0
    assert fs.write("g/cpus_list", "4-5\n") == 4
    assert fs.write("g/mon_groups/m/cpus_list", "5\n") == 2
    default = m.kernel.scheduler.mpam.arm64_mpam_default
    assert default[5] == mpam_regval(1, 1, 1, 1)
    assert m.cpu_down(5) == 0
    assert fs.read("g/cpus_list") == "4\n" and fs.read("g/mon_groups/m/cpus_list") == "\n"
    assert fs.read("cpus_list") == "0-3,6-15\n"
    assert m.cpu_up(5) == 0
    assert fs.read("cpus_list") == "0-3,5-15\n" and fs.read("g/cpus_list") == "4\n"
    assert default[5] == 0


def test_a_name_taken_only_with_debug() -> None:
    """rdtgroup_mkdir_ctrl_mon -> kernfs_create_dir: EEXIST for a name the root already
    holds, which for ctrl_hw_id is only so with -o debug (RFTYPE_DEBUG); nothing is
    allocated by the refusal."""
    fs = Machine("tiny").boot().resctrl
    assert fs is not None and fs.mount("debug") == 0
    free = list(fs.rmids.free)
    assert fs.mkdir("ctrl_hw_id") == -errno.EEXIST
    assert fs.rmids.free == free and fs.groups is not None and len(fs.groups.ctrl_groups) == 1
    assert fs.umount() == 0 and fs.mount("") == 0
    assert fs.mkdir("ctrl_hw_id") == 0 and fs.read("ctrl_hw_id/mode") == "shareable\n"
