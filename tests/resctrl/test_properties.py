"""Property: whatever sequence of schemata, tasks and cpus writes a user makes (valid or
not), the hardware never drifts from what resctrl shows. After every write, for every
control group: each SLC slice's MPAMCFG_CPBM and each DDR MSC's MPAMCFG_MBW_MAX for the
group's PARTID, read through MMIO, match its `schemata`; every task's MPAM label matches the
group whose `tasks` lists it; every CPU's default label matches the group whose `cpus_list`
holds it."""

from __future__ import annotations

import errno

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpam.driver.mpam_internal import Feature
from mpam.driver.mpam_resctrl import mbw_max_to_percent
from mpam.firmware import ClassType
from mpam.kernel import mpam_regval
from mpam.machine import Machine
from mpam.resctrl.fs import ResctrlFs

GROUPS = ["", "a", "b", "a/mon_groups/m", "b/mon_groups/n"]
PIDS = [1, 2, 11, 12, 13, 23, 24, 99999]

masks = st.one_of(st.integers(0, 0x1FFFF).map(lambda v: f"{v:x}"), st.sampled_from(["", "z", "0"]))
mb = st.one_of(st.integers(0, 120).map(str), st.sampled_from(["", "x", "-1"]))
schemata_line = st.one_of(
    masks.map(lambda v: f"L3:49={v}"),
    mb.map(lambda v: f"MB:49={v}"),
    st.sampled_from(["L3:48=f", "L2:0=1", "L3", "", "  L3 :49=f0"]),
)
schemata = st.lists(schemata_line, min_size=1, max_size=3).map(lambda ls: "\n".join(ls) + "\n")
tasks = st.lists(st.sampled_from(PIDS), min_size=1, max_size=3).map(
    lambda ps: ",".join(map(str, ps)) + "\n"
)
cpus = st.one_of(
    st.sets(st.integers(0, 15)).map(lambda s: ",".join(map(str, sorted(s))) + "\n"),
    st.sampled_from(["0-15\n", "bad\n", "16\n"]),
)
op = st.one_of(
    st.tuples(st.sampled_from(GROUPS[:3]), st.just("schemata"), schemata),
    st.tuples(st.sampled_from(GROUPS), st.just("tasks"), tasks),
    st.tuples(st.sampled_from(GROUPS), st.just("cpus_list"), cpus),
)


def _ctrl_regs(m: Machine, level_or_memory: tuple[ClassType, int]) -> list[tuple[object, int]]:
    k = m.driver.classes[level_or_memory]
    return [(m.driver.regs[ris.msc.id], ris.ris_idx)
            for comp in k.components.values() for v in comp.vmscs for ris in v.ris]  # fmt: skip


def _check(fs: ResctrlFs, m: Machine) -> None:
    slc = _ctrl_regs(m, (ClassType.CACHE, 3))
    ddr = _ctrl_regs(m, (ClassType.MEMORY, 255))
    bwa_wd = m.driver.classes[(ClassType.MEMORY, 255)].props.bwa_wd
    assert m.driver.classes[(ClassType.MEMORY, 255)].props.has(Feature.mbw_max)
    groups = fs.groups
    assert groups is not None
    task_owner: dict[int, int] = {}
    cpu_owner: dict[int, int] = {}
    for g in groups.ctrl_groups:
        path = g.name
        lines = dict(
            line.strip().split(":")
            for line in fs.read(f"{path}/schemata").splitlines()  # type: ignore[union-attr]
        )
        cpbm = int(lines["L3"].split("=")[1], 16)
        mbp = int(lines["MB"].split("=")[1])
        for regs, ris in slc:
            regs.part_sel(ris, g.closid)  # type: ignore[attr-defined]
            assert regs.read("MPAMCFG_CPBM") == cpbm  # type: ignore[attr-defined]
        for regs, ris in ddr:
            regs.part_sel(ris, g.closid)  # type: ignore[attr-defined]
            assert mbw_max_to_percent(regs.read("MPAMCFG_MBW_MAX") & 0xFFFF, bwa_wd) == mbp  # type: ignore[attr-defined]
        for grp in [g, *g.mon_groups.values()]:
            prefix = path if grp is g else f"{path}/mon_groups/{grp.name}"
            word = mpam_regval(grp.closid, grp.closid, grp.rmid, grp.rmid)
            for line in fs.read(f"{prefix}/tasks").splitlines():  # type: ignore[union-attr]
                task_owner[int(line)] = word
            if grp is g or grp.cpus:
                for cpu in sorted(grp.cpus):
                    cpu_owner[cpu] = word
    for task in m.kernel.tasks:
        if task.pid:
            assert task.mpam_partid_pmg == task_owner[task.pid]
    assert sorted(cpu_owner) == list(range(16))
    for cpu, word in cpu_owner.items():
        assert m.kernel.scheduler.mpam.arm64_mpam_default[cpu] == word


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.lists(op, min_size=1, max_size=12))
def test_registers_follow_schemata_tasks_and_cpus(ops: list[tuple[str, str, str]]) -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    for path in ("a", "b", "a/mon_groups/m", "b/mon_groups/n"):
        assert fs.mkdir(path) == 0
    _check(fs, m)
    for group, name, data in ops:
        path = f"{group}/{name}" if group else name
        ret = fs.write(path, data)
        assert ret == len(data.encode()) or ret in (
            -errno.EINVAL,
            -errno.ESRCH,
            -errno.ERANGE,
            -errno.EOVERFLOW,
        )
        _check(fs, m)
