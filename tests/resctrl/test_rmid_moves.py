"""Property: whatever sequence of mkdir, rmdir and rename of MON groups across CTRL_MON
groups a user makes, no two groups ever share an RMID index (on MPAM a (PARTID, PMG)), no
task is listed in two MON groups, no index is free twice or both free and held, and after
the last rmdir every index comes back (once limbo drains).

Follows fs/resctrl/rdtgroup.c rdtgroup_rename / mongrp_reparent and monitor.c
alloc_rmid / free_rmid; where the kernel would let a moved group share an index (its PMG
already taken under the new PARTID), mpam takes another free PMG or refuses with ENOSPC
(docs/resctrl.md).
"""

from __future__ import annotations

import errno
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mpam.machine import Machine
from mpam.resctrl.fs import ResctrlFs
from mpam.resctrl.rdtgroup import GroupKind

PARENTS = ["", "a", "b", "c"]
NAMES = ["m0", "m1", "m2"]


def _mon_dir(parent: str, name: str) -> str:
    return f"{parent}/mon_groups/{name}" if parent else f"mon_groups/{name}"


ops = st.lists(
    st.one_of(
        st.tuples(st.just("mkdir"), st.sampled_from(PARENTS), st.sampled_from(NAMES)),
        st.tuples(st.just("rmdir"), st.sampled_from(PARENTS), st.sampled_from(NAMES)),
        st.tuples(
            st.just("move"),
            st.sampled_from(PARENTS),
            st.sampled_from(NAMES),
            st.sampled_from(PARENTS),
            st.sampled_from(NAMES),
        ),
        st.tuples(st.just("task"), st.sampled_from(PARENTS), st.sampled_from(NAMES)),
    ),
    max_size=25,
)


def _check(fs: ResctrlFs, m: Machine) -> None:
    g = fs.groups
    assert g is not None
    groups = [x for c in g.ctrl_groups for x in (c, *c.mon_groups.values())]
    held = [m.resctrl_arch.rmid_idx_encode(x.closid, x.rmid) for x in groups]
    assert len(held) == len(set(held)), "two groups share an RMID index"
    free = fs.rmids.free
    assert len(free) == len(set(free)), "an index is free twice"
    assert not set(free) & set(held) and not set(fs.rmids.limbo) & set(held)
    assert not set(free) & set(fs.rmids.limbo)
    for x in groups:
        assert x.closid == (x.parent.closid if x.parent else x.closid)
    listed = Counter(
        pid
        for x in groups
        if x.kind is GroupKind.MON
        for pid in map(int, str(fs.read(_path(fs, x) + "/tasks")).split())
    )
    assert all(n == 1 for n in listed.values()), f"a task in two MON groups: {listed}"


def _path(fs: ResctrlFs, group: object) -> str:
    kn = fs.kn[group]  # type: ignore[index]
    return "/".join(kn.path())


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(ops)
# the issue's own sequence: mkdir g1 g2 g1/mon_groups/m0 g2/mon_groups/m0, then
# mv g1/mon_groups/m0 g2/mon_groups/m1, with a task in the moved group
@example([("mkdir", "a", "m0"), ("mkdir", "b", "m0"), ("task", "a", "m0"),
          ("move", "a", "m0", "b", "m1"), ("rmdir", "b", "m1"), ("mkdir", "b", "m2")])  # fmt: skip
def test_rmids_stay_unique_across_moves(steps: list[tuple[str, ...]]) -> None:
    m = Machine("rdn2").boot()
    fs = m.resctrl
    assert fs is not None and fs.mount("") == 0
    task = m.run_workload("stream", cpu=1)
    for parent in PARENTS[1:]:
        assert fs.mkdir(parent) == 0
    total = len(fs.rmids.free) + len(fs.rmids.limbo) + 4  # 4: the groups a, b, c and root
    for step in steps:
        kind, parent, name = step[0], step[1], step[2]
        if kind == "mkdir":
            err = fs.mkdir(_mon_dir(parent, name))
            assert err in (0, -errno.EEXIST, -errno.ENOSPC, -errno.EBUSY)
        elif kind == "rmdir":
            assert fs.rmdir(_mon_dir(parent, name)) in (0, -errno.ENOENT)
        elif kind == "move":
            err = fs.rename(_mon_dir(parent, name), _mon_dir(step[3], step[4]))
            assert err in (0, -errno.ENOENT, -errno.EEXIST, -errno.ENOSPC, -errno.EPERM), err
        else:
            # the task joins the parent, then the MON group (as a user would move it)
            fs.write(f"{parent}/tasks" if parent else "tasks", f"{task.pid}\n")
            fs.write(_mon_dir(parent, name) + "/tasks", f"{task.pid}\n")
        _check(fs, m)
    for parent in PARENTS:
        for name in NAMES:
            fs.rmdir(_mon_dir(parent, name))
    for parent in PARENTS[1:]:
        assert fs.rmdir(parent) == 0
    # every index is back: free, or in limbo until its occupancy falls (then free)
    assert len(fs.rmids.free) + len(fs.rmids.limbo) == total - 1  # all but root's
    assert len(set(fs.rmids.free)) == len(fs.rmids.free)
