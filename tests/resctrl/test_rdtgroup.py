"""Groups on a booted MPAM machine: CLOSID/RMID allocation (cleanest CLOSID, PMGs within a
PARTID, limbo), tasks and CPUs moving between groups with the kernel's messages."""

from __future__ import annotations

import errno

import pytest

from mpam.kernel.bitmap import bitmap_parse, bitmap_parselist, format_bitmap
from mpam.machine import Machine
from mpam.resctrl.rdtgroup import Rdtgroups, RmidAllocator
from mpam.resctrl.status import LastCmdStatus


def _groups(m: Machine) -> Rdtgroups:
    arch = m.resctrl_arch
    assert arch is not None
    l3 = next(r for r in arch.resources() if r.name == "L3")
    return Rdtgroups(arch, m.kernel, LastCmdStatus(), RmidAllocator(arch),
                     arch.get_num_closid(l3), alloc_capable=True, mon_capable=True)  # fmt: skip


@pytest.fixture
def rdn2() -> Machine:
    return Machine("rdn2").boot()


def test_cpumask_formats() -> None:
    """The cpus files' printers and parsers (mpam.kernel.bitmap; tests/kernel has them all)."""
    assert format_bitmap(range(8), 8) == "ff"
    assert format_bitmap([0], 8) == "01"
    assert format_bitmap(range(6), 6) == "3f"
    assert format_bitmap(range(64), 64) == "ffffffff,ffffffff"
    assert format_bitmap(range(40), 40) == "ff,ffffffff"
    assert format_bitmap([], 8) == "00"
    assert bitmap_parse("ff,ffffffff", 40) == set(range(40))
    assert bitmap_parse("1ff", 8) == -errno.EOVERFLOW and bitmap_parse("xyz", 8) == -errno.EINVAL
    assert bitmap_parselist("0-3,8", 16) == {0, 1, 2, 3, 8}
    assert bitmap_parselist("3-1", 16) == -errno.EINVAL
    assert bitmap_parselist("16", 16) == -errno.ERANGE


def test_closids_rmids_and_limbo(rdn2: Machine) -> None:
    g = _groups(rdn2)
    err, a = g.mkdir_ctrl_mon("a")
    assert err == 0 and a is not None and (a.closid, a.rmid) == (1, 0)
    err, b = g.mkdir_ctrl_mon("b")
    assert b is not None and (b.closid, b.rmid) == (2, 0)
    err, m1 = g.mkdir_mon(a, "m1")
    assert m1 is not None and (m1.closid, m1.rmid) == (1, 1)  # the next PMG of PARTID 1
    assert g.mkdir_mon(a, "m2") == (-errno.ENOSPC, None)  # rdn2 has 2 PMGs
    assert g.status.show() == "Out of RMIDs\n"
    assert g.rmdir(a) == 0
    # a's RMIDs wait in limbo until their occupancy is read below the threshold, so the
    # cleanest free CLOSID is 3, not 1.
    assert g.rmids.dirty(1) == 2
    err, c = g.mkdir_ctrl_mon("c")
    assert c is not None and c.closid == 3
    idx = g.arch.rmid_idx_encode(1, 0)
    g.rmids.check_limbo({idx: {49: 0}}, threshold=1)
    assert g.rmids.dirty(1) == 1 and idx == g.rmids.free[-1]


def test_out_of_closids() -> None:
    m = Machine("tiny").boot()  # 16 PARTIDs
    g = _groups(m)
    for i in range(15):
        assert g.mkdir_ctrl_mon(f"g{i}")[0] == 0
    assert g.mkdir_ctrl_mon("one-too-many") == (-errno.ENOSPC, None)
    assert g.status.show() == "Out of CLOSIDs\n"
    assert g.mkdir_ctrl_mon("bad\nname") == (-errno.EINVAL, None)


def test_tasks_move_and_errors(rdn2: Machine) -> None:
    g = _groups(rdn2)
    _, a = g.mkdir_ctrl_mon("a")
    assert a is not None
    assert g.tasks_write(a, "11") == 0
    task = rdn2.kernel.tasks[11]
    assert (task.labels.partid_d, task.labels.pmg_d) == (1, 0)
    assert g.tasks_show(a) == "11\n"
    assert "11\n" not in g.tasks_show(g.root)
    assert g.tasks_write(a, "abc") == -errno.EINVAL
    assert g.status.show() == "Task list parsing error pid abc\n"
    assert g.tasks_write(a, "-3") == -errno.EINVAL
    assert g.status.show() == "Invalid pid -3\n"
    assert g.tasks_write(a, "12,9999,13") == -errno.ESRCH
    assert g.status.show() == "No task 9999\nError while processing task 9999\n"
    assert g.tasks_show(a) == "11\n12\n"  # 12 moved before the failure; 13 did not
    _, m1 = g.mkdir_mon(g.root, "m1")
    assert m1 is not None
    assert g.tasks_write(m1, "11") == -errno.EINVAL
    assert g.status.show() == (
        "Can't move task to different control group\nError while processing task 11\n"
    )
    assert g.tasks_write(m1, "0x0e") == 0  # base 0: pid 14
    assert g.tasks_show(m1) == "14\n"
    assert g.rmdir(a) == 0
    assert (task.labels.partid_d, task.labels.pmg_d) == (0, 0)


def test_cpus(rdn2: Machine) -> None:
    g = _groups(rdn2)
    _, a = g.mkdir_ctrl_mon("a")
    assert a is not None
    assert g.cpus_show(g.root, as_list=False) == "ffff\n"
    assert g.cpus_write(g.root, "00ff", as_list=False) == -errno.EINVAL
    assert g.status.show() == "Can't drop CPUs from default group\n"
    assert g.cpus_write(a, "2-3", as_list=True) == 0
    assert g.cpus_show(g.root, as_list=True) == "0-1,4-15\n"
    assert g.cpus_show(a, as_list=False) == "000c\n"
    sched = rdn2.kernel.scheduler
    assert sched.arm64_mpam_default[2] == (1 << 16) | 1  # CLOSID 1 on CPU 2
    _, m1 = g.mkdir_mon(a, "m1")
    assert m1 is not None
    assert g.cpus_write(m1, "4", as_list=True) == -errno.EINVAL
    assert g.status.show() == "Can only add CPUs to mongroup that belong to parent\n"
    assert g.cpus_write(m1, "3", as_list=True) == 0
    assert sched.arm64_mpam_default[3] == (1 << 40) | (1 << 32) | (1 << 16) | 1
    assert g.cpus_write(a, "zz", as_list=False) == -errno.EINVAL
    assert g.status.show() == "Bad CPU list/mask\n"
    assert g.rmdir(a) == 0
    assert g.root.cpus == set(range(16)) and sched.arm64_mpam_default[2] == 0


def test_cpus_write_checks_in_the_kernels_order(rdn2: Machine) -> None:
    """rdtgroup_cpus_write: the parser's errno with "Bad CPU list/mask", before the online
    check; an empty grouping (pqos's `02,`) is a valid mask."""
    g = _groups(rdn2)
    _, a = g.mkdir_ctrl_mon("a")
    assert a is not None
    assert rdn2.cpu_down(3) == 0
    assert g.cpus_write(a, "16\n", as_list=True) == -errno.ERANGE
    assert g.status.show() == "Bad CPU list/mask\n"
    assert g.cpus_write(a, "10000\n", as_list=False) == -errno.EOVERFLOW
    assert g.cpus_write(a, "3\n", as_list=True) == -errno.EINVAL
    assert g.status.show() == "Can only assign online CPUs\n"
    assert g.cpus_write(a, "02,", as_list=False) == 0
    assert g.cpus_show(a, as_list=True) == "1\n"


def test_tasks_pid_zero_is_the_writer(rdn2: Machine) -> None:
    """rdtgroup_move_task: pid 0 is `current`; the kernel's messages name the pid as
    written (0) except where they name the task itself."""
    g = _groups(rdn2)
    _, a = g.mkdir_ctrl_mon("a")
    assert a is not None
    assert g.tasks_write(a, "0\n", writer_pid=11) == 0
    assert g.tasks_show(a) == "11\n"
    assert g.tasks_write(a, "0", writer_pid=12, euid=1000) == -errno.EPERM
    assert g.status.show() == "No permission to move task 12\nError while processing task 0\n"
    assert g.tasks_write(a, "99999999999") == -errno.EINVAL  # kstrtoint's ERANGE is EINVAL here
    assert g.status.show() == "Task list parsing error pid 99999999999\n"
