"""The seed walkthrough's task-scheduling story on a booted machine: once the driver has
enabled MPAM, moving a task to another label makes the context switch write MPAM0_EL1
when the label changes, and only then."""

from __future__ import annotations

from mpam.kernel import format_switch_debug
from mpam.machine import Machine


def test_two_tasks_on_one_cpu_switch_mpam0_el1() -> None:
    m = Machine("rdn2").boot()
    k = m.kernel
    sched = k.scheduler
    assert sched.mpam_enabled  # the driver turned the static key on
    start = len(k.trace)
    a = k.tasks.spawn("worker-a", ppid=1, cpus_allowed=[1])
    b = k.tasks.spawn("worker-b", ppid=1, cpus_allowed=[1])
    for t in (a, b):
        sched.wake(t)
    sched.mpam_set_task_partid_pmg(a, 1, 1, 0, 0)  # resctrl moved `a` to PARTID 1
    ran = [sched.schedule(1).pid for _ in range(6)]
    assert ran == [b.pid, a.pid] * 3
    writes = [r for r in k.trace.records[start:] if r.register == "MPAM0_EL1" and r.cpu == 1]
    # b first: its label is the one already programmed (0), so nothing is written.
    assert [(r.pid, r.before, r.after) for r in writes] == [
        (a.pid, 0, 0x10001),
        (b.pid, 0x10001, 0),
        (a.pid, 0, 0x10001),
        (b.pid, 0x10001, 0),
        (a.pid, 0, 0x10001),
    ]
    mpam1 = [r.after for r in k.trace.records[start:] if r.register == "MPAM1_EL1"]
    assert mpam1[0] == (1 << 63) | 0x10001  # MPAMEN with the task's labels
    chunk = format_switch_debug(writes[0])
    assert "regval (thread_info field)     : 10001" in chunk
    assert "SYS_MPAM0_EL1 after update     : 10001" in chunk

    # Two tasks with the same label: switching between them writes nothing.
    sched.mpam_set_task_partid_pmg(b, 1, 1, 0, 0)
    mark = len(k.trace)
    for _ in range(4):
        sched.schedule(1)
    assert [r for r in k.trace.records[mark:] if r.register == "MPAM0_EL1"] == []
