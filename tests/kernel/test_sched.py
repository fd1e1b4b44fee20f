"""The scheduler and the arm64 MPAM context switch (arch/arm64/include/asm/mpam.h, the walkthrough's
debug log).

Register values are written with literal shifts from the Arm ARM field positions
(PARTID_I [15:0], PARTID_D [31:16], PMG_I [39:32], PMG_D [47:40], MPAMEN 63), so the tests
do not lean on the table the code derives them from.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from mpam.hw.build import Hardware
from mpam.hw.clock import Clock
from mpam.hw.cpu import Cpu
from mpam.kernel import KernelLog, Scheduler, TaskTable, busybox, format_switch_debug
from mpam.kernel.sysreg import SysregWrite
from mpam.platform.model import CpuMpam

MPAMEN = 1 << 63


def word(partid_d: int = 0, partid_i: int = 0, pmg_d: int = 0, pmg_i: int = 0) -> int:
    return partid_i | partid_d << 16 | pmg_i << 32 | pmg_d << 40


# The debug log of the RD-N2 walkthrough, as captured (four chunks on CPU 1 at ~274 s).
SEED_LOG = """\
[  274.393977] oldregval (arm64_mpam_current) : 0         //chunk 1
[  274.393977] regval (thread_info field)     : 10001
[  274.393981] pid                            : 11
[  274.393981] tgid                           : 11
[  274.393981] cpu id                         : 1
[  274.393984] SYS_MPAM0_EL1 before update    : 0
[  274.393987] SYS_MPAM0_EL1 after update     : 10001
[  274.393987]
[  274.393991] oldregval (arm64_mpam_current) : 10001     //chunk 2
[  274.393993] regval (thread_info field)     : 0
[  274.393996] pid                            : 0
[  274.393999] tgid                           : 0
[  274.393999] cpu id                         : 1
[  274.401977] SYS_MPAM0_EL1 before update    : 10001
[  274.401980] SYS_MPAM0_EL1 after update     : 0
[  274.401983]
[  274.401985] oldregval (arm64_mpam_current) : 0         //chunk 3
[  274.401985] regval (thread_info field)     : 10001
[  274.401990] pid                            : 11
[  274.401992] tgid                           : 11
[  274.401995] cpu id                         : 1
[  274.401998] SYS_MPAM0_EL1 before update    : 0
[  274.401998] SYS_MPAM0_EL1 after update     : 10001
[  274.409975]
[  274.409978] oldregval (arm64_mpam_current) : 10001     //chunk 4
[  274.409980] regval (thread_info field)     : 0
[  274.409983] pid                            : 0
[  274.409983] tgid                           : 0
[  274.409987] cpu id                         : 1
[  274.409990] SYS_MPAM0_EL1 before update    : 10001
[  274.409992] SYS_MPAM0_EL1 after update     : 0
[  274.409995]
"""


def seed_chunks() -> str:
    """The walkthrough's log without its timestamps and the author's //chunk notes."""
    lines = [re.sub(r"^\[\s*\d+\.\d+\] ?", "", line) for line in SEED_LOG.splitlines()]
    return "".join(re.sub(r"\s+//chunk \d$", "", line) + "\n" for line in lines)


def switch_records(records: list[SysregWrite]) -> list[SysregWrite]:
    return [r for r in records if r.origin == "thread_switch" and r.register == "MPAM0_EL1"]


# -- the walkthrough's story ---------------------------------------------------------------


def test_seed_context_switch_story_is_reproduced_from_the_trace(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    t11 = sched.tasks[11]
    assert t11.comm == "rcu_preempt"
    sched.migrate(t11, 1)
    # echo 11 > partid_space_2/tasks: PARTID 1 for data and code, PMG 0.
    sched.mpam_set_task_partid_pmg(t11, 1, 1, 0, 0)
    assert t11.mpam_partid_pmg == 0x10001
    sched.clock.advance_to(274_393_977_000)
    for _ in range(2):  # rcu_preempt wakes on CPU 1, runs, sleeps; the idle task returns
        sched.wake(t11)
        assert sched.current(1) is t11
        sched.sleep(t11, "I")
        assert sched.current(1).pid == 0
    chunks = "".join(format_switch_debug(r) for r in switch_records(sched.trace.records))
    assert chunks == seed_chunks()
    assert sched.arm64_mpam_current[1] == 0
    assert sched.cpus[1].read_sysreg("MPAM0_EL1") == 0


def test_format_switch_debug_line_layout() -> None:
    record = SysregWrite(
        time_ns=0,
        cpu=7,
        pid=1234,
        tgid=1200,
        comm="x",
        register="MPAM0_EL1",
        value=0xABCD,
        before=0x5,
        after=0xABCD,
        origin="thread_switch",
        oldregval=0x5,
        regval=0,
    )
    text = format_switch_debug(record)
    assert text.split("\n") == [
        "oldregval (arm64_mpam_current) : 5",
        "regval (thread_info field)     : 0",
        "pid                            : 1234",
        "tgid                           : 1200",
        "cpu id                         : 7",
        "SYS_MPAM0_EL1 before update    : 5",
        "SYS_MPAM0_EL1 after update     : abcd",
        "",  # the chunk's closing empty line
        "",
    ]


def test_format_switch_debug_refuses_other_writes(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    t = sched.tasks[11]
    sched.mpam_set_task_partid_pmg(t, 2, 2, 0, 0)
    sched.wake(t)
    mpam1 = [r for r in sched.trace.records if r.register == "MPAM1_EL1"]
    assert mpam1
    with pytest.raises(ValueError):
        format_switch_debug(mpam1[0])


def test_switch_debug_can_go_to_the_log(sched: Scheduler) -> None:
    sched.mpam.log_switches = True
    sched.mpam_enabled = True
    t = sched.tasks[11]
    sched.mpam_set_task_partid_pmg(t, 1, 1, 0, 0)
    sched.wake(t)
    assert "regval (thread_info field)     : 10001" in sched.klog.dmesg()


# -- the switch rule --------------------------------------------------------------------


def test_mpam1_el1_is_written_with_mpamen(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    t = sched.tasks[11]
    sched.mpam_set_task_partid_pmg(t, 3, 4, 1, 0)
    sched.wake(t)
    cpu = t.cpu
    writes = [r for r in sched.trace.records if r.origin == "thread_switch"]
    assert [r.register for r in writes] == ["MPAM1_EL1", "MPAM0_EL1"]  # no SME on rdn2
    assert writes[0].value == word(3, 4, 1, 0) | MPAMEN
    assert sched.cpus[cpu].read_sysreg("MPAM1_EL1") == word(3, 4, 1, 0) | MPAMEN
    assert sched.cpus[cpu].read_sysreg("MPAM0_EL1") == word(3, 4, 1, 0)


def test_tasks_of_one_label_switch_without_writes(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    a, b = sched.tasks[11], sched.tasks[9]
    for t in (a, b):
        sched.set_cpus_allowed(t, {2})
        sched.mpam_set_task_partid_pmg(t, 5, 5, 1, 1)
    sched.wake(a)
    sched.wake(b)
    written = len(sched.trace)
    assert written == 2  # the idle -> a switch: MPAM1_EL1 and MPAM0_EL1
    seen = []
    switches = sched.nr_switches
    for _ in range(4):
        sched.tick()
        seen.append(sched.current(2).pid)
    assert seen == [9, 11, 9, 11]  # round robin on CPU 2
    assert sched.nr_switches == switches + 4
    assert len(sched.trace) == written
    sched.sleep(a)
    sched.sleep(b)  # back to the idle task, default label: written again
    assert len(sched.trace) == written + 2


def test_default_label_task_takes_the_cpu_default(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    sched.mpam_set_cpu_defaults(3, 5, 5, 1, 1)
    t = sched.tasks[11]
    sched.set_cpus_allowed(t, {3})
    assert t.mpam_partid_pmg == 0  # root group: the global default
    sched.wake(t)
    rec = switch_records(sched.trace.records)[-1]
    assert (rec.cpu, rec.regval, rec.after) == (3, 0, word(5, 5, 1, 1))
    assert sched.cpus[3].read_sysreg("MPAM0_EL1") == word(5, 5, 1, 1)
    # A task in a group of its own keeps its own label on that CPU.
    u = sched.tasks[9]
    sched.set_cpus_allowed(u, {3})
    sched.mpam_set_task_partid_pmg(u, 7, 7, 0, 0)
    sched.sleep(t)
    sched.wake(u)
    assert sched.cpus[3].read_sysreg("MPAM0_EL1") == word(7, 7)


def test_global_default_decides_what_counts_as_default(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    sched.arm64_mpam_global_default = word(0, 1)  # CDP: code PARTID 1, data PARTID 0
    sched.mpam_set_cpu_defaults(4, 8, 9, 0, 0)
    t, u = sched.tasks[11], sched.tasks[9]
    for task in (t, u):
        sched.set_cpus_allowed(task, {4})
    sched.mpam_set_task_partid_pmg(t, 0, 1, 0, 0)  # the root group under CDP
    sched.wake(t)
    assert sched.cpus[4].read_sysreg("MPAM0_EL1") == word(8, 9)
    sched.sleep(t)
    sched.wake(u)  # word 0 is no longer the default: it is programmed as it is
    assert sched.cpus[4].read_sysreg("MPAM0_EL1") == 0
    assert sched.arm64_mpam_current[4] == 0


def test_no_writes_before_mpam_is_enabled(sched: Scheduler) -> None:
    t = sched.tasks[11]
    sched.set_cpus_allowed(t, {1})
    sched.mpam_set_task_partid_pmg(t, 1, 1, 0, 0)
    for _ in range(3):
        sched.wake(t)
        sched.sleep(t)
    assert sched.nr_switches == 6
    assert len(sched.trace) == 0
    assert sched.cpus[1].read_sysreg("MPAM0_EL1") == 0
    sched.mpam_enabled = True  # static_branch_enable(&mpam_enabled)
    sched.wake(t)
    assert sched.cpus[1].read_sysreg("MPAM0_EL1") == 0x10001


def test_sync_of_a_running_task_relabels_its_cpu(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    t = sched.tasks[11]
    sched.set_cpus_allowed(t, {6})
    sched.wake(t)
    sched.mpam_set_task_partid_pmg(t, 2, 2, 1, 1)
    assert sched.cpus[6].read_sysreg("MPAM0_EL1") == 0  # not until the next switch or sync
    assert sched.mpam_thread_switch(6) is not None
    assert sched.cpus[6].read_sysreg("MPAM0_EL1") == word(2, 2, 1, 1)
    assert sched.mpam_thread_switch(6) is None  # already programmed


def test_mpamsm_el1_gets_only_the_data_labels() -> None:
    clock = Clock()
    cpus = [Cpu(i, CpuMpam(has_sme=True)) for i in range(2)]
    for cpu in cpus:
        cpu.write_sysreg("MPAM3_EL3", MPAMEN)
    sched = Scheduler(cpus, busybox(2), clock, KernelLog(clock))
    sched.mpam_enabled = True
    t = sched.tasks[1]
    sched.mpam_set_task_partid_pmg(t, 3, 4, 1, 0)
    sched.wake(t)
    assert [r.register for r in sched.trace.records] == ["MPAM1_EL1", "MPAMSM_EL1", "MPAM0_EL1"]
    assert cpus[t.cpu].read_sysreg("MPAMSM_EL1") == 3 << 16 | 1 << 40


# -- scheduling ---------------------------------------------------------------------------


def test_round_robin_and_idle(sched: Scheduler) -> None:
    tasks = [sched.tasks[p] for p in (3, 4, 8)]
    for t in tasks:
        sched.set_cpus_allowed(t, {5})
        sched.wake(t)
    assert sched.current(5).pid == 3
    assert [t.pid for t in sched.runnable(5)] == [4, 8]
    order = []
    for _ in range(4):
        order.append(sched.schedule(5).pid)
    assert order == [4, 8, 3, 4]
    for t in tasks:
        sched.sleep(t)
    assert sched.current(5) is sched.tasks.idle(5)
    assert sched.nr_running(5) == 0


def test_wake_honours_affinity_and_last_cpu(sched: Scheduler) -> None:
    ks = sched.tasks.find("ksoftirqd/7")[0]
    sched.wake(ks)
    assert sched.current(7) is ks
    assert not sched.wake(ks)  # already running
    t = sched.tasks[11]
    sched.migrate(t, 9)
    sched.wake(t)
    assert t.cpu == 9 and sched.current(9) is t
    with pytest.raises(ValueError):
        sched.migrate(ks, 3)  # bound to CPU 7


def test_migrating_a_running_task(sched: Scheduler) -> None:
    t = sched.tasks[11]
    sched.migrate(t, 2)
    sched.wake(t)
    sched.migrate(t, 3)
    assert sched.current(2).pid == 0
    assert sched.current(3) is t and t.cpu == 3


def test_runtime_is_accounted_in_simulated_time(sched: Scheduler) -> None:
    t = sched.tasks[11]
    sched.wake(t)
    sched.clock.advance(2_500_000_000)
    sched.sleep(t)
    assert t.runtime_ns == 2_500_000_000
    assert "   11 0         0:02 [rcu_preempt]" in sched.tasks.ps()


def test_exit_takes_a_running_task_off_its_cpu(sched: Scheduler) -> None:
    t = sched.tasks[11]
    sched.wake(t)
    cpu = t.cpu
    sched.exit(t)
    assert 11 not in sched.tasks
    assert sched.current(cpu).pid == 0
    with pytest.raises(ValueError):
        sched.wake(t)


def test_bad_sleep_states_are_refused(sched: Scheduler) -> None:
    with pytest.raises(ValueError):
        sched.sleep(sched.tasks[11], "R")
    with pytest.raises(ValueError):
        sched.sleep(sched.tasks.idle(0))


def test_scheduler_needs_a_table_of_its_cpus(new_hw: Callable[[str], Hardware]) -> None:
    hw = new_hw("rdn2")
    with pytest.raises(ValueError):
        Scheduler(hw.cpus, TaskTable(4), hw.clock, KernelLog(hw.clock))


# -- hotplug --------------------------------------------------------------------------------


def test_cpu_offline_moves_tasks_and_parks_bound_kthreads(sched: Scheduler) -> None:
    sched.mpam_enabled = True
    t, u = sched.tasks[11], sched.tasks[9]
    for task in (t, u):
        sched.migrate(task, 4)
        sched.wake(task)
    sched.mpam_set_task_partid_pmg(t, 1, 1, 0, 0)
    ks = sched.tasks.find("ksoftirqd/4")[0]
    assert ks.state == "S"
    sched.cpu_offline(4)
    assert 4 not in sched.online
    assert sched.current(4).pid == 0
    assert t.cpu != 4 and u.cpu != 4
    assert {sched.current(t.cpu), sched.current(u.cpu)} == {t, u}
    bound = [x for x in sched.tasks if x.cpus_allowed == {4}]
    assert len(bound) == 5 and all(x.state == "P" for x in bound)
    assert not sched.wake(ks)  # parked kthreads do not run
    sched.cpu_online(4)
    assert ks.state == "S" and all(x.state != "P" for x in bound)
    assert sched.wake(ks) and sched.current(4) is ks


def test_a_task_pinned_to_a_dead_cpu_loses_its_affinity(sched: Scheduler) -> None:
    sh = sched.tasks[1]
    sched.set_cpus_allowed(sh, {6})
    sched.wake(sh)
    sched.cpu_offline(6)
    assert "process 1 (sh) no longer affine to cpu6" in sched.klog.dmesg()
    assert sh.cpu != 6 and sched.current(sh.cpu) is sh


def test_the_last_cpu_cannot_go(new_sched: Callable[..., Scheduler]) -> None:
    sched = new_sched("tiny", online=[0])
    with pytest.raises(RuntimeError):
        sched.cpu_offline(0)


def test_busybox_scheduler_is_deterministic(new_sched: Callable[..., Scheduler]) -> None:
    def story() -> list[tuple[int, int, str, int]]:
        s = new_sched()
        s.mpam_enabled = True
        for pid in (3, 4, 8, 9, 11):
            s.mpam_set_task_partid_pmg(s.tasks[pid], pid, pid, 0, 0)
            s.wake(s.tasks[pid])
        for _ in range(5):
            s.tick()
        return [(r.time_ns, r.cpu, r.register, r.value) for r in s.trace]

    assert story() == story()
