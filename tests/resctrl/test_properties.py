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
from mpam.firmware import ClassType
from mpam.machine import Machine
from mpam.machine.soak import register_mismatches
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


def _check(fs: ResctrlFs, m: Machine) -> None:
    assert m.driver.classes[(ClassType.MEMORY, 255)].props.has(Feature.mbw_max)
    assert fs is m.resctrl
    assert register_mismatches(m) == []


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
