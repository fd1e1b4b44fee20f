"""Every info/last_cmd_status message of fs/resctrl (rdtgroup.c, ctrlmondata.c, monitor.c)
that an MPAM system can produce, each provoked through the in-process tree of a booted rdn2
(64 CLOSIDs, 2 PMGs, L3 id 49, MB): the errno the operation returns and the exact text,
newline included. The messages that need counter assignment are in test_mbm_assign.py;
those that cannot occur on MPAM (pseudo-locking, BMEC, io_alloc, non-linear MB, sparse-mask
refusals, "No space on", "Failed to initialize allocations") are listed at the end with
why."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from mpam.hw.msc import Msc
from mpam.machine import Machine
from mpam.resctrl.fs import ResctrlFs

Op = Callable[[ResctrlFs, Machine], int]


def _w(path: str, data: str, **kw: int) -> Op:
    return lambda fs, m: fs.write(path, data, **kw)


def _mkdir(path: str) -> Op:
    return lambda fs, m: fs.mkdir(path)


def _chown(path: str, uid: int) -> Op:
    return lambda fs, m: fs.setattr(path, uid=uid)


def _rename(src: str, dst: str) -> Op:
    return lambda fs, m: fs.rename(src, dst)


def _cpu_down(cpu: int) -> Op:
    return lambda fs, m: m.cpu_down(cpu)


# (id, setup steps, operation, errno, last_cmd_status)
CASES: list[tuple[str, list[Op], Op, int, str]] = [
    ("missing-colon", [], _w("schemata", "L3\n"), errno.EINVAL, "Missing ':'\n"),
    ("blank-line", [], _w("schemata", "L3:49=ff\n\nMB:49=50\n"), errno.EINVAL, "Missing ':'\n"),
    ("missing-value", [], _w("schemata", "L3:\n"), errno.EINVAL, "Missing 'L3' value\n"),
    ("unknown-resource", [], _w("schemata", "L2:0=f\n"), errno.EINVAL,
     "Unknown or unsupported resource name 'L2'\n"),
    ("missing-equals", [], _w("schemata", "L3:49\n"), errno.EINVAL,
     "Missing '=' or non-numeric domain\n"),
    ("non-numeric-domain", [], _w("schemata", "L3:x=f\n"), errno.EINVAL,
     "Missing '=' or non-numeric domain\n"),
    ("unknown-domain", [], _w("schemata", "L3:7=f\n"), errno.EINVAL, "ok\n"),
    ("duplicate-domain", [], _w("schemata", "L3:49=f;49=f\n"), errno.EINVAL,
     "Duplicate domain 49\n"),
    ("non-hex", [], _w("schemata", "L3:49=xyz\n"), errno.EINVAL,
     "Non-hex character in the mask xyz\n"),
    ("mask-zero", [], _w("schemata", "L3:49=0\n"), errno.EINVAL, "Mask out of range\n"),
    ("mask-too-wide", [], _w("schemata", "L3:49=1ffff\n"), errno.EINVAL, "Mask out of range\n"),
    ("mb-not-decimal", [], _w("schemata", "MB:49=abc\n"), errno.EINVAL, "Invalid MB value abc\n"),
    ("mb-out-of-range", [], _w("schemata", "MB:49=101\n"), errno.EINVAL,
     "MB value 101 out of range [0,100]\n"),
    ("exclusive", [_mkdir("g")], _w("g/mode", "exclusive\n"), errno.EINVAL,
     "Schemata overlaps\n"),
    ("unknown-mode", [], _w("mode", "bogus\n"), errno.EINVAL, "Unknown or unsupported mode\n"),
    ("pseudo-locksetup", [_mkdir("g")], _w("g/mode", "pseudo-locksetup\n"), errno.EINVAL,
     "Unknown or unsupported mode\n"),
    ("bad-cpumask", [], _w("cpus", "zz\n"), errno.EINVAL, "Bad CPU list/mask\n"),
    ("bad-cpulist", [], _w("cpus_list", "3-\n"), errno.EINVAL, "Bad CPU list/mask\n"),
    ("offline-cpu", [_mkdir("g"), _cpu_down(3)], _w("g/cpus_list", "3\n"), errno.EINVAL,
     "Can only assign online CPUs\n"),
    ("drop-from-default", [], _w("cpus_list", "0-14\n"), errno.EINVAL,
     "Can't drop CPUs from default group\n"),
    ("mon-cpus-not-parents", [_mkdir("g"), _mkdir("g/mon_groups/m")],
     _w("g/mon_groups/m/cpus_list", "2\n"), errno.EINVAL,
     "Can only add CPUs to mongroup that belong to parent\n"),
    ("pid-parse", [], _w("tasks", "abc\n"), errno.EINVAL, "Task list parsing error pid abc\n"),
    ("pid-negative", [], _w("tasks", "-5\n"), errno.EINVAL, "Invalid pid -5\n"),
    ("no-task", [_mkdir("g")], _w("g/tasks", "99999\n"), errno.ESRCH,
     "No task 99999\nError while processing task 99999\n"),
    # the group's tasks file delegated to uid 1000, who may open it but not move root's task
    ("no-permission", [_mkdir("g"), _chown("g/tasks", 1000)], _w("g/tasks", "11\n", euid=1000),
     errno.EPERM,
     "No permission to move task 11\nError while processing task 11\n"),
    ("other-control-group", [_mkdir("g"), _mkdir("g/mon_groups/m")],
     _w("g/mon_groups/m/tasks", "11\n"), errno.EINVAL,
     "Can't move task to different control group\nError while processing task 11\n"),
    ("out-of-rmids", [_mkdir("g"), _mkdir("g/mon_groups/m")], _mkdir("g/mon_groups/n"),
     errno.ENOSPC, "Out of RMIDs\n"),
    ("rename-file", [_mkdir("g"), _mkdir("g/mon_groups/m")],
     _rename("g/tasks", "g/mon_groups/t"), errno.EPERM,
     "Source and destination must be directories"),
    ("rename-ctrl-group", [_mkdir("g")], _rename("g", "h"), errno.EPERM,
     "Source must be a MON group\n"),
    ("rename-outside-mon-groups", [_mkdir("g"), _mkdir("g/mon_groups/m")],
     _rename("g/mon_groups/m", "m"), errno.EPERM,
     "Destination must be a mon_groups subdirectory\n"),
    ("rename-with-cpus", [_mkdir("g"), _mkdir("h"), _mkdir("g/mon_groups/m"),
                          _w("g/cpus_list", "4\n"), _w("g/mon_groups/m/cpus_list", "4\n")],
     _rename("g/mon_groups/m", "h/mon_groups/m"), errno.EPERM,
     "Cannot move a MON group that monitors CPUs\n"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "op", "err", "status"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_message(setup: list[Op], op: Op, err: int, status: str) -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    for step in setup:
        assert step(fs, m) >= 0
    before = _state(fs, m)
    assert op(fs, m) == -err
    assert fs.read("info/last_cmd_status") == status
    # A refused operation changes nothing: groups, schemata, tasks, CPUs and registers.
    assert _state(fs, m) == before


def _state(fs: ResctrlFs, m: Machine) -> tuple[object, ...]:
    groups = ["", *[g for g in fs.listdir("") if not isinstance(fs.stat(f"{g}/mon_groups"), int)
                    and g not in ("mon_groups",)]]  # type: ignore[union-attr]  # fmt: skip
    files = {}
    for g in groups:
        for f in ("schemata", "tasks", "cpus_list", "mode"):
            files[f"{g}/{f}"] = fs.read(f"{g}/{f}")
        for mon in fs.listdir(f"{g}/mon_groups"):  # type: ignore[union-attr]
            for f in ("tasks", "cpus_list"):
                files[f"{g}/mon_groups/{mon}/{f}"] = fs.read(f"{g}/mon_groups/{mon}/{f}")
    labels = tuple(t.mpam_partid_pmg for t in m.kernel.tasks)
    return files, labels, cfg_words(m)


def cfg_words(m: Machine) -> tuple[bytes, ...]:
    """Every MSC's PARTID-indexed configuration, as raw register words."""
    out = []
    for dev in m.hw.mscs:
        msc = dev if isinstance(dev, Msc) else dev.msc
        out += [arr.tobytes() for ris in msc.ris.values() for arr in ris.cfg.values()]
    return tuple(out)


def test_ok_after_success() -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    assert fs.write("schemata", "L3\n") == -errno.EINVAL
    assert fs.write("schemata", "L3:49=ff\n") == 9
    assert fs.read("info/last_cmd_status") == "ok\n"


def test_out_of_rmids_busy_while_in_limbo() -> None:
    """EBUSY, not ENOSPC, when the free list is empty and some RMIDs are still dirty in
    limbo; ENOSPC as long as any RMID is free, even of another CLOSID."""
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    for i in range(1, 64):
        assert fs.mkdir(f"g{i}") == 0
    assert fs.mkdir("g1/mon_groups/m") == 0
    assert fs.rmdir("g1/mon_groups/m") == 0  # its RMID goes to limbo
    for i in range(2, 64):
        assert fs.mkdir(f"g{i}/mon_groups/m") == 0
    assert fs.mkdir("g1/mon_groups/again") == -errno.ENOSPC  # the root's PMG 1 is free
    assert fs.mkdir("mon_groups/m") == 0
    assert fs.mkdir("g1/mon_groups/again") == -errno.EBUSY
    assert fs.read("info/last_cmd_status") == "Out of RMIDs\n"
    # The limbo worker reads its occupancy once a simulated second: nothing occupies the
    # cache here, so one interval later it is free again.
    m.kernel.run(999_000_000)
    assert fs.mkdir("g1/mon_groups/again") == -errno.EBUSY
    m.kernel.run(1_000_000)
    assert fs.mkdir("g1/mon_groups/again") == 0


def test_out_of_closids() -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    for i in range(1, 64):
        assert fs.mkdir(f"g{i}") == 0
    assert fs.mkdir("one-more") == -errno.ENOSPC
    assert fs.read("info/last_cmd_status") == "Out of CLOSIDs\n"


# Messages of fs/resctrl that MPAM cannot produce, and why:
# - "The mask %lx has non-consecutive 1-bits": arch_has_sparse_bitmasks is true on MPAM;
# - "Need at least %d bits in the mask": min_cbm_bits is 1, and 0 is "Mask out of range";
# - "No support for non-linear MB domains": MPAM's MB delay is linear;
# - "No space on %s:%d": no exclusive groups, so a new group always gets the full mask;
# - "Failed to initialize allocations": mpam_apply_config cannot fail;
# - pseudo-locking, BMEC (mbm_*_bytes_config) and io_alloc messages: x86 features only.
# "Cannot be exclusive without CAT/CDP" needs a platform without cache schemas: it is in
# test_ctrlmondata.py.
