"""The CPU hotplug state machine: ordering, rollback, refusals, contexts."""

from __future__ import annotations

import errno

import pytest

from mpam.hw.clock import Clock
from mpam.kernel.cpuhp import (
    CPUHP_AP_ONLINE,
    CPUHP_AP_ONLINE_DYN,
    CPUHP_AP_ONLINE_DYN_END,
    CPUHP_AP_SCHED_STARTING,
    CPUHP_BRINGUP_CPU,
    CPUHP_OFFLINE,
    CPUHP_ONLINE,
    CpuHotplug,
)
from mpam.kernel.klog import KernelLog
from mpam.kernel.preempt import Context, ExecutionContext


class Recorder:
    """Callbacks that record (event, state name, cpu) and can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.fail: set[tuple[str, str, int]] = set()

    def cb(self, event: str, name: str, result: int = -errno.EIO):  # type: ignore[no-untyped-def]
        def call(cpu: int) -> int:
            self.calls.append((event, name, cpu))
            return result if (event, name, cpu) in self.fail else 0

        return call

    def install(self, hp: CpuHotplug, name: str, **kw: int) -> int:
        return hp.setup_state(name, self.cb("up", name), self.cb("down", name), **kw)


def hotplug(n: int = 4, online: list[int] | None = None) -> CpuHotplug:
    return CpuHotplug(n, KernelLog(Clock()), online=online)


def test_dynamic_states_count_up_from_online_dyn_and_start_on_online_cpus() -> None:
    hp = hotplug(4, online=[0, 2, 3])
    rec = Recorder()
    first = rec.install(hp, "mpam:online")
    second = rec.install(hp, "other:online")
    assert (first, second) == (CPUHP_AP_ONLINE_DYN, CPUHP_AP_ONLINE_DYN + 1)
    assert rec.calls == [
        ("up", "mpam:online", 0),
        ("up", "mpam:online", 2),
        ("up", "mpam:online", 3),
        ("up", "other:online", 0),
        ("up", "other:online", 2),
        ("up", "other:online", 3),
    ]
    assert hp.states() == [(first, "mpam:online"), (second, "other:online")]


def test_setup_without_invoke_calls_nothing() -> None:
    hp = hotplug()
    rec = Recorder()
    assert rec.install(hp, "quiet:online", invoke=False) == CPUHP_AP_ONLINE_DYN
    assert rec.calls == []


def test_down_runs_teardowns_in_reverse_and_up_startups_in_order() -> None:
    hp = hotplug()
    rec = Recorder()
    rec.install(hp, "bringup", state=CPUHP_BRINGUP_CPU, invoke=False)
    rec.install(hp, "starting", state=CPUHP_AP_SCHED_STARTING, invoke=False)
    rec.install(hp, "a:online")
    rec.install(hp, "b:online")
    rec.calls.clear()
    assert hp.cpu_down(2) == 0
    assert rec.calls == [
        ("down", "b:online", 2),
        ("down", "a:online", 2),
        ("down", "starting", 2),
        ("down", "bringup", 2),
    ]
    assert hp.state(2) == CPUHP_OFFLINE and not hp.cpu_online(2)
    assert hp.online_mask == {0, 1, 3}
    rec.calls.clear()
    assert hp.cpu_up(2) == 0
    assert rec.calls == [
        ("up", "bringup", 2),
        ("up", "starting", 2),
        ("up", "a:online", 2),
        ("up", "b:online", 2),
    ]
    assert hp.state(2) == CPUHP_ONLINE and hp.online_mask == {0, 1, 2, 3}


def test_failing_startup_rolls_the_cpu_back_offline() -> None:
    hp = hotplug(4, online=[0, 1, 2])
    rec = Recorder()
    rec.install(hp, "bringup", state=CPUHP_BRINGUP_CPU, invoke=False)
    rec.install(hp, "a:online")
    rec.install(hp, "b:online")
    rec.install(hp, "c:online")
    rec.calls.clear()
    rec.fail.add(("up", "b:online", 3))
    assert hp.cpu_up(3) == -errno.EIO
    assert rec.calls == [
        ("up", "bringup", 3),
        ("up", "a:online", 3),
        ("up", "b:online", 3),
        ("down", "a:online", 3),  # only the states it completed, newest first
        ("down", "bringup", 3),
    ]
    assert hp.state(3) == CPUHP_OFFLINE and 3 not in hp.online_mask


def test_positive_errors_are_returned_negative() -> None:
    hp = hotplug(2, online=[0])
    rec = Recorder()
    hp.setup_state("x:online", rec.cb("up", "x", result=errno.ENOMEM), None)
    rec.fail.add(("up", "x", 1))
    assert hp.cpu_up(1) == -errno.ENOMEM


def test_failing_startup_at_registration_undoes_the_others() -> None:
    hp = hotplug(4)
    rec = Recorder()
    rec.fail.add(("up", "bad:online", 2))
    assert rec.install(hp, "bad:online") == -errno.EIO
    assert rec.calls == [
        ("up", "bad:online", 0),
        ("up", "bad:online", 1),
        ("up", "bad:online", 2),
        ("down", "bad:online", 0),
        ("down", "bad:online", 1),
    ]
    assert hp.states() == []
    assert rec.install(hp, "good:online") == CPUHP_AP_ONLINE_DYN  # the id is free again


def test_failing_teardown_brings_the_cpu_back() -> None:
    hp = hotplug()
    rec = Recorder()
    rec.install(hp, "bringup", state=CPUHP_BRINGUP_CPU, invoke=False)
    rec.install(hp, "a:online")
    rec.install(hp, "b:online")
    rec.calls.clear()
    rec.fail.add(("down", "a:online", 1))
    assert hp.cpu_down(1) == -errno.EIO
    assert rec.calls == [("down", "b:online", 1), ("down", "a:online", 1), ("up", "b:online", 1)]
    assert hp.state(1) == CPUHP_ONLINE and hp.cpu_online(1)


def test_remove_state_tears_down_on_online_cpus() -> None:
    hp = hotplug(3, online=[0, 2])
    rec = Recorder()
    state = rec.install(hp, "x:online")
    rec.calls.clear()
    hp.remove_state(state)
    assert rec.calls == [("down", "x:online", 0), ("down", "x:online", 2)]
    assert hp.states() == []
    with pytest.raises(KeyError):
        hp.remove_state(state)


def test_refusals() -> None:
    hp = hotplug(2)
    assert hp.cpu_down(7) == -errno.EINVAL
    assert hp.cpu_up(-1) == -errno.EINVAL
    assert "can't online cpu -1" in hp.klog.dmesg()
    assert hp.cpu_down(1) == 0
    assert hp.cpu_down(1) == 0  # already offline: nothing to do
    assert hp.cpu_down(0) == -errno.EBUSY  # the last online CPU
    assert hp.online_mask == {0}
    assert hp.cpu_up(1) == 0 and hp.cpu_up(1) == 0
    assert hp.setup_state("", None, None) == -errno.EINVAL
    assert hp.setup_state("fixed", None, None, state=CPUHP_BRINGUP_CPU) == CPUHP_BRINGUP_CPU
    assert hp.setup_state("again", None, None, state=CPUHP_BRINGUP_CPU) == -errno.EBUSY
    assert hp.setup_state("bad", None, None, state=CPUHP_ONLINE) == -errno.EINVAL


def test_dynamic_range_runs_out() -> None:
    hp = hotplug(1)
    ids = [hp.setup_state(f"s{i}:online", None, None) for i in range(40)]
    assert ids == list(range(CPUHP_AP_ONLINE_DYN, CPUHP_AP_ONLINE_DYN_END))
    assert hp.setup_state("one:more", None, None) == -errno.ENOSPC


def test_callbacks_run_in_the_context_and_on_the_cpu_linux_uses() -> None:
    ctx = ExecutionContext(cpu=0)
    hp = CpuHotplug(4, KernelLog(Clock()), ctx=ctx)
    seen: list[tuple[str, Context, int, bool]] = []

    def probe(name: str):  # type: ignore[no-untyped-def]
        def call(cpu: int) -> None:
            seen.append((name, ctx.context, ctx.smp_processor_id(), hp.cpu_online(cpu)))

        return call

    for name, state in (("bringup", CPUHP_BRINGUP_CPU), ("starting", CPUHP_AP_SCHED_STARTING)):
        hp.setup_state(name, probe(name), probe(name), state=state, invoke=False)
    hp.setup_state("x:online", probe("online"), probe("online"))
    seen.clear()
    hp.cpu_down(3)
    assert seen == [
        ("online", Context.TASK, 3, True),  # on the dying CPU's hotplug thread, still online
        ("starting", Context.ATOMIC, 3, False),  # dying: IRQs off, already out of the mask
        ("bringup", Context.TASK, 0, False),  # the control CPU sees it dead
    ]
    seen.clear()
    hp.cpu_up(3)
    assert seen == [
        ("bringup", Context.TASK, 0, False),
        ("starting", Context.ATOMIC, 3, False),
        ("online", Context.TASK, 3, True),
    ]
    assert ctx.context is Context.TASK and ctx.smp_processor_id() == 0
    assert CPUHP_AP_SCHED_STARTING < CPUHP_AP_ONLINE < CPUHP_AP_ONLINE_DYN
