"""Timers on simulated time."""

from __future__ import annotations

from mpam.hw.clock import Clock
from mpam.kernel.preempt import Context, ExecutionContext
from mpam.kernel.timer import Timers


def timers(now: int = 0) -> Timers:
    return Timers(Clock(now), ExecutionContext())


def test_a_timer_fires_only_once_the_clock_passes_it() -> None:
    t = timers()
    fired: list[int] = []
    timer = t.add_timer(1_000, lambda: fired.append(t.clock.now_ns))
    assert t.run_timers() == 0 and fired == [] and timer.pending
    t.clock.advance(999)
    assert t.run_timers() == 0
    t.clock.advance(1)
    assert t.run_timers() == 1 and fired == [1_000] and not timer.pending
    assert t.run_timers() == 0  # once only


def test_timers_fire_in_expiry_order_then_arming_order() -> None:
    t = timers()
    order: list[str] = []
    for name, when in (("c", 300), ("a", 100), ("b1", 200), ("b2", 200)):
        t.add_timer(when, lambda name=name: order.append(name))
    assert t.next_expiry() == 100
    t.clock.advance(1_000)
    assert t.run_timers() == 4
    assert order == ["a", "b1", "b2", "c"]
    assert t.next_expiry() is None


def test_del_and_mod_timer() -> None:
    t = timers()
    fired: list[str] = []
    gone = t.add_timer(100, lambda: fired.append("gone"))
    moved = t.add_timer(100, lambda: fired.append("moved"))
    assert t.del_timer(gone) and not t.del_timer(gone)
    assert t.mod_timer(moved, 500)
    t.clock.advance(200)
    assert t.run_timers() == 0
    assert t.next_expiry() == 500
    t.clock.advance(300)
    assert t.run_timers() == 1 and fired == ["moved"]
    assert not t.mod_timer(gone, 600)  # re-arming a deleted timer
    t.clock.advance(100)
    t.run_timers()
    assert fired == ["moved", "gone"]


def test_timer_callbacks_are_atomic_on_their_cpu() -> None:
    ctx = ExecutionContext(cpu=0)
    t = Timers(Clock(), ctx)
    seen: list[tuple[Context, int, bool]] = []

    def cb() -> None:
        seen.append((ctx.context, ctx.smp_processor_id(), ctx.in_atomic()))

    t.add_timer(10, cb, cpu=6)
    with ctx.enter(Context.TASK, cpu=2):
        t.add_timer(10, cb)
    t.clock.advance(10)
    t.run_timers()
    assert seen == [(Context.ATOMIC, 6, True), (Context.ATOMIC, 2, True)]
    assert ctx.in_task()


def test_run_until_stops_the_clock_at_each_expiry() -> None:
    t = timers()
    stamps: list[int] = []

    def periodic() -> None:
        stamps.append(t.clock.now_ns)
        if len(stamps) < 5:
            t.add_timer(t.clock.now_ns + 250, periodic)

    t.add_timer(100, periodic)
    assert t.run_until(1_000) == 4
    assert stamps == [100, 350, 600, 850]
    assert t.clock.now_ns == 1_000
    assert t.next_expiry() == 1_100


def test_a_timer_armed_in_the_past_fires_at_the_next_run() -> None:
    t = timers(now=5_000)
    fired: list[int] = []
    t.add_timer(10, lambda: fired.append(1))
    assert t.run_timers() == 1 and fired == [1]
