"""The simulated Linux kernel: log, tasks, scheduler with the arm64 MPAM context switch,
CPU hotplug, work queues, timers and boot.

`Kernel(mpam.hw.build(platform))` and `boot()` give a booted busybox system; the pieces are
usable on their own (see docs/kernel.md). Kernel code reaches the CPUs' MPAM state only
through the hw `Cpu` system registers, and every such write is recorded in a `SysregTrace`.
"""

from mpam.kernel.boot import Kernel
from mpam.kernel.cpuhp import CpuHotplug
from mpam.kernel.irq_events import IrqEvent, IrqEvents
from mpam.kernel.klog import KernelLog
from mpam.kernel.preempt import Context, ExecutionContext
from mpam.kernel.sched import Scheduler, format_switch_debug
from mpam.kernel.sysreg import SysregTrace, SysregWrite
from mpam.kernel.tasks import Task, TaskTable, busybox, decode_regval, mpam_regval
from mpam.kernel.timer import Timers
from mpam.kernel.workqueue import Workqueue

__all__ = [
    "Context",
    "CpuHotplug",
    "ExecutionContext",
    "IrqEvent",
    "IrqEvents",
    "Kernel",
    "KernelLog",
    "Scheduler",
    "SysregTrace",
    "SysregWrite",
    "Task",
    "TaskTable",
    "Timers",
    "Workqueue",
    "busybox",
    "decode_regval",
    "format_switch_debug",
    "mpam_regval",
]
