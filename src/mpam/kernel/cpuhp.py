"""CPU hotplug as a state machine (kernel/cpu.c): ordered states with startup/teardown
callbacks, run in order as a CPU comes up and in reverse as it goes down.

Bringing a CPU up walks it from CPUHP_OFFLINE to CPUHP_ONLINE calling each installed state's
startup; taking it down walks back calling teardowns. A failing startup rolls the CPU back to
where it started (offline) and returns the error; a failing teardown brings it back online.
Drivers register "name:online" states with `setup_state`, which hands out ids from
CPUHP_AP_ONLINE_DYN upward and, like cpuhp_setup_state(), calls the startup on every CPU
already online (a failure there undoes the others and removes the state).

Callbacks take the CPU number and return 0 (or None) or a negative errno. States below
CPUHP_BRINGUP_CPU and the bring-up itself run on the controlling CPU; the STARTING/DYING
section up to CPUHP_AP_ONLINE runs on the target CPU with interrupts off (atomic); the
online section runs on the target's cpuhp thread (task context). The arm64 messages of a
bring-up and a shutdown come from the callbacks the kernel installs (`mpam.kernel.smp`).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mpam.kernel.klog import KernelLog
from mpam.kernel.preempt import Context, ExecutionContext

__all__ = [
    "CPUHP_AP_ACTIVE",
    "CPUHP_AP_ONLINE",
    "CPUHP_AP_ONLINE_DYN",
    "CPUHP_AP_ONLINE_DYN_END",
    "CPUHP_AP_SCHED_STARTING",
    "CPUHP_BRINGUP_CPU",
    "CPUHP_OFFLINE",
    "CPUHP_ONLINE",
    "CpuHotplug",
    "CpuhpStep",
]

# The states the model uses, in Linux's order (the numbers are the model's own).
CPUHP_OFFLINE = 0
CPUHP_BRINGUP_CPU = 10  # the control CPU powers the target on / has it killed
CPUHP_AP_SCHED_STARTING = 20  # on the target, IRQs off: the scheduler takes it in / out
CPUHP_AP_ONLINE = 30  # the target is marked online
CPUHP_AP_ONLINE_DYN = 40  # dynamically allocated "...:online" states
CPUHP_AP_ONLINE_DYN_END = CPUHP_AP_ONLINE_DYN + 40
CPUHP_AP_ACTIVE = 90  # the scheduler may place tasks on it
CPUHP_ONLINE = 100

Callback = Callable[[int], int | None]


@dataclass
class CpuhpStep:
    """One installed state: its name and callbacks (either may be None)."""

    name: str
    startup: Callback | None
    teardown: Callback | None


def _result(ret: int | None) -> int:
    """A callback's result as 0 or a negative errno."""
    if not ret:
        return 0
    return ret if ret < 0 else -ret


class CpuHotplug:
    """The hotplug state of `num_cpus` CPUs; all online unless `online` says otherwise."""

    def __init__(
        self,
        num_cpus: int,
        klog: KernelLog,
        *,
        ctx: ExecutionContext | None = None,
        online: Iterable[int] | None = None,
    ) -> None:
        self.num_cpus = num_cpus
        self.klog = klog
        self.ctx = ctx if ctx is not None else ExecutionContext()
        up = set(range(num_cpus) if online is None else online)
        if not up:
            raise ValueError("at least one CPU is online")
        self._state = [CPUHP_ONLINE if c in up else CPUHP_OFFLINE for c in range(num_cpus)]
        self._steps: dict[int, CpuhpStep] = {}
        self._online: frozenset[int] | None = None  # cpu_online_mask, rebuilt after a change

    def _set(self, cpu: int, state: int) -> None:
        self._state[cpu] = state
        self._online = None

    # -- queries ---------------------------------------------------------------------

    def state(self, cpu: int) -> int:
        """How far `cpu` is (CPUHP_OFFLINE .. CPUHP_ONLINE)."""
        return self._state[cpu]

    def cpu_online(self, cpu: int) -> bool:
        """cpu_online(): set from CPUHP_AP_ONLINE on the way up, until its teardown."""
        return 0 <= cpu < self.num_cpus and self._state[cpu] >= CPUHP_AP_ONLINE

    @property
    def online_mask(self) -> frozenset[int]:
        """cpu_online_mask (kept between changes: every group operation asks for it)."""
        if self._online is None:
            self._online = frozenset(c for c in range(self.num_cpus) if self.cpu_online(c))
        return self._online

    def num_online_cpus(self) -> int:
        return len(self.online_mask)

    def states(self) -> list[tuple[int, str]]:
        """The installed states in order (/sys/devices/system/cpu/hotplug/states)."""
        return [(s, self._steps[s].name) for s in sorted(self._steps)]

    # -- callbacks -------------------------------------------------------------------

    def _context(self, state: int, cpu: int) -> tuple[Context, int]:
        if state <= CPUHP_BRINGUP_CPU:
            control = self.ctx.smp_processor_id()
            if control == cpu:
                control = min((c for c in self.online_mask if c != cpu), default=cpu)
            return Context.TASK, control
        if state < CPUHP_AP_ONLINE:
            return Context.ATOMIC, cpu
        return Context.TASK, cpu

    def _invoke(self, state: int, cpu: int, bringup: bool) -> int:
        step = self._steps.get(state)
        cb = None if step is None else step.startup if bringup else step.teardown
        if cb is None:
            return 0
        context, on = self._context(state, cpu)
        with self.ctx.enter(context, on):
            return _result(cb(cpu))

    def setup_state(
        self,
        name: str,
        startup: Callback | None,
        teardown: Callback | None,
        *,
        state: int = CPUHP_AP_ONLINE_DYN,
        invoke: bool = True,
    ) -> int:
        """cpuhp_setup_state(): install callbacks; the state id, or a negative errno.

        With `state` CPUHP_AP_ONLINE_DYN (the default) the next free dynamic id is taken
        (-ENOSPC when none is left); otherwise the fixed state `state` (-EBUSY if taken).
        With `invoke`, `startup` runs on every CPU already at or past the state, in CPU
        order; if one fails, the CPUs done so far get `teardown`, nothing is installed and
        the error is returned.
        """
        if not name:
            return -errno.EINVAL
        if state == CPUHP_AP_ONLINE_DYN:
            free = [
                s
                for s in range(CPUHP_AP_ONLINE_DYN, CPUHP_AP_ONLINE_DYN_END)
                if s not in self._steps
            ]
            if not free:
                return -errno.ENOSPC
            state = free[0]
        elif not CPUHP_OFFLINE < state < CPUHP_ONLINE or (
            CPUHP_AP_ONLINE_DYN < state < CPUHP_AP_ONLINE_DYN_END
        ):
            return -errno.EINVAL
        elif state in self._steps:
            return -errno.EBUSY
        self._steps[state] = CpuhpStep(name, startup, teardown)
        if invoke and startup is not None:
            done: list[int] = []
            for cpu in range(self.num_cpus):
                if self._state[cpu] < state:
                    continue
                ret = self._invoke(state, cpu, True)
                if ret:
                    for undo in done:  # cpuhp_rollback_install
                        self._invoke(state, undo, False)
                    del self._steps[state]
                    return ret
                done.append(cpu)
        return state

    def remove_state(self, state: int, *, invoke: bool = True) -> None:
        """cpuhp_remove_state(): teardown on every CPU at or past the state, then forget it."""
        if state not in self._steps:
            raise KeyError(f"no hotplug state {state}")
        if invoke:
            for cpu in range(self.num_cpus):
                if self._state[cpu] >= state:
                    self._invoke(state, cpu, False)
        del self._steps[state]

    # -- transitions -----------------------------------------------------------------

    def cpu_up(self, cpu: int) -> int:
        """Bring `cpu` online: 0, or the negative errno of the startup that failed (the
        CPU is then rolled back offline)."""
        if not 0 <= cpu < self.num_cpus:
            self.klog.pr_err(
                f"can't online cpu {cpu} because it is not configured as may-hotadd at boot time"
            )
            return -errno.EINVAL
        prev = self._state[cpu]
        if prev == CPUHP_ONLINE:
            return 0
        for state in sorted(s for s in self._steps if prev < s < CPUHP_ONLINE):
            if state > CPUHP_AP_ONLINE:  # set_cpu_online() came before this state
                self._set(cpu, max(self._state[cpu], CPUHP_AP_ONLINE))
            ret = self._invoke(state, cpu, True)
            if ret:
                self._rollback(cpu, to=prev)
                return ret
            self._set(cpu, state)
        self._set(cpu, CPUHP_ONLINE)
        return 0

    def _rollback(self, cpu: int, to: int) -> None:
        """Tear down the states `cpu` completed above `to`, newest first."""
        done = self._state[cpu]
        for state in sorted((s for s in self._steps if to < s <= done), reverse=True):
            self._teardown(cpu, state)
        self._set(cpu, to)

    def _teardown(self, cpu: int, state: int) -> int:
        if state < CPUHP_AP_ONLINE:  # __cpu_disable() came before this state
            self._set(cpu, min(self._state[cpu], CPUHP_AP_ONLINE - 1))
        ret = self._invoke(state, cpu, False)
        if not ret:
            self._set(cpu, min(self._state[cpu], state - 1))
        return ret

    def cpu_down(self, cpu: int) -> int:
        """Take `cpu` offline: 0, -EINVAL for a CPU the machine lacks, -EBUSY for the last
        online CPU, or the negative errno of a failing teardown (the CPU stays online)."""
        if not 0 <= cpu < self.num_cpus:
            return -errno.EINVAL
        prev = self._state[cpu]
        if prev == CPUHP_OFFLINE:
            return 0
        if self.online_mask <= {cpu}:
            return -errno.EBUSY
        torn: list[int] = []
        for state in sorted((s for s in self._steps if CPUHP_OFFLINE < s <= prev), reverse=True):
            ret = self._teardown(cpu, state)
            if ret:
                for redo in reversed(torn):  # undo_cpu_down
                    if redo > CPUHP_AP_ONLINE:
                        self._set(cpu, max(self._state[cpu], CPUHP_AP_ONLINE))
                    self._invoke(redo, cpu, True)
                self._set(cpu, prev)
                return ret
            torn.append(state)
        self._set(cpu, CPUHP_OFFLINE)
        return 0
