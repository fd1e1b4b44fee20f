"""Booting the kernel on real preset hardware: log, CPUs, MPAM capability, initcalls,
hotplug through the kernel's own states."""

from __future__ import annotations

import errno

import pytest

import mpam.hw
import mpam.platform
from mpam.kernel import Context, Kernel
from mpam.kernel.cpuhp import CPUHP_AP_ONLINE_DYN

MPAMEN = 1 << 63


def boot(preset: str = "rdn2", **kw: bool) -> Kernel:
    k = Kernel(mpam.hw.build(mpam.platform.load(preset)), **kw)
    k.boot()
    return k


def test_boot_prologue_reads_like_an_arm64_boot(kernel: Kernel) -> None:
    lines = kernel.klog.dmesg().splitlines()
    assert lines[0] == "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd490]"
    assert lines[1].startswith("[    0.000000] Linux version ")
    assert lines[2] == "[    0.000000] Machine model: Arm Neoverse RD-N2"
    text = [line.split("] ", 1)[1] for line in lines]
    smp = text.index("smp: Bringing up secondary CPUs ...")
    assert text[smp + 1 : smp + 3] == [
        "Detected PIPT I-cache on CPU1",
        "CPU1: Booted secondary processor 0x0000000100 [0x410fd490]",
    ]
    # MPIDR 0x80070100 (cluster 7, core 1) without bit 31 (RES1)
    assert "CPU15: Booted secondary processor 0x0000070100 [0x410fd490]" in text
    assert sum(t.endswith("[0x410fd490]") and "Booted secondary" in t for t in text) == 15
    done = text.index("smp: Brought up 1 node, 16 CPUs")
    assert text[done + 1 : done + 4] == [
        "SMP: Total of 16 processors activated.",
        "CPU features: detected: Memory Partitioning And Monitoring",
        "CPU: All CPU(s) started at EL2",
    ]
    assert kernel.booted and kernel.cpuhp.online_mask == set(range(16))


def test_other_platforms_name_their_nodes_and_mpidrs() -> None:
    k = boot("two-socket")
    text = k.klog.dmesg()
    assert "smp: Brought up 2 nodes, 32 CPUs" in text
    # socket 1 has Aff3 = 1
    assert "CPU16: Booted secondary processor 0x0100000000 [0x410fd490]" in text


def test_mpam_capability_and_what_boot_wrote(kernel: Kernel) -> None:
    assert kernel.system_supports_mpam()
    assert kernel.cpu_mpam is not None
    assert (kernel.cpu_mpam.partid_max, kernel.cpu_mpam.pmg_max) == (63, 1)
    for cpu in range(16):
        writes = kernel.trace.select(cpu=cpu)
        assert [(r.origin, r.register) for r in writes] == [
            ("el2_setup", "MPAM0_EL1"),
            ("el2_setup", "MPAM2_EL2"),
            ("el2_setup", "MPAM1_EL1"),
            ("el2_setup", "MPAMHCR_EL2"),
            ("cpu_enable_mpam", "MPAM1_EL1"),
            ("cpu_enable_mpam", "MPAM0_EL1"),
        ]
        assert writes[-2].value == MPAMEN and writes[-1].value == 0
        assert all(r.pid == 0 and r.comm == f"swapper/{cpu}" for r in writes)
        assert kernel.hw.cpus[cpu].read_sysreg("MPAM1_EL1") & MPAMEN


def test_without_firmware_enabling_mpam_the_capability_is_not_detected() -> None:
    k = boot(firmware_enables_mpam=False)
    assert not k.system_supports_mpam()
    assert "Memory Partitioning And Monitoring" not in k.klog.dmesg()
    assert not k.trace.select(origin="cpu_enable_mpam")
    assert len(k.trace.select(origin="el2_setup")) == 16 * 4


def test_process_table_after_boot(kernel: Kernel) -> None:
    assert kernel.tasks[1].comm == "sh"
    assert kernel.tasks[23].proc_comm == "kworker/2:0H-ev"
    assert kernel.tasks.find("cpuhp/15")[0].cpus_allowed == {15}
    assert kernel.klog.dmesg().splitlines()[-1].endswith("Run /bin/sh as init process")


def test_initcalls_run_in_order_at_the_end_of_boot_in_task_context() -> None:
    k = Kernel(mpam.hw.build(mpam.platform.load("tiny")))
    seen: list[tuple[str, Context, int, int, bool]] = []

    def initcall(name: str):  # type: ignore[no-untyped-def]
        def call() -> None:
            seen.append((name, k.ctx.context, k.ctx.smp_processor_id(), len(k.tasks), k.booted))
            if name == "mpam_msc_driver_init":
                k.workqueue.queue_work(lambda: seen.append(("mpam_enable", *seen[-1][1:])))

        return call

    k.initcalls.append(initcall("arm64_mpam_register_cpus"))
    k.initcalls.append(initcall("mpam_msc_driver_init"))
    k.boot()
    assert [s[0] for s in seen] == ["arm64_mpam_register_cpus", "mpam_msc_driver_init",
                                    "mpam_enable"]  # fmt: skip
    assert all(s[1] is Context.TASK and s[2] == 0 for s in seen)
    assert all(s[3] > 20 and not s[4] for s in seen)  # tasks exist; boot not finished
    assert k.booted


def test_boot_only_once(kernel: Kernel) -> None:
    with pytest.raises(RuntimeError):
        kernel.boot()


def test_hotplug_logs_what_arm64_prints(kernel: Kernel) -> None:
    kernel.clock.advance_to(100_000_000_000)
    assert kernel.cpu_down(3) == 0
    assert kernel.klog.dmesg().splitlines()[-2:] == [
        "[  100.000000] CPU3: shutdown",
        "[  100.000000] psci: CPU3 killed (polled 0 ms)",
    ]
    assert 3 not in kernel.scheduler.online
    assert all(t.state == "P" for t in kernel.tasks if t.cpus_allowed == {3})
    kernel.clock.advance(1_000_000)
    assert kernel.cpu_up(3) == 0
    assert kernel.klog.dmesg().splitlines()[-2:] == [
        "[  100.001000] Detected PIPT I-cache on CPU3",
        "[  100.001000] CPU3: Booted secondary processor 0x0000010100 [0x410fd490]",
    ]
    assert 3 in kernel.scheduler.online
    assert not any(t.state == "P" for t in kernel.tasks)


def test_hotplug_refusals_through_the_kernel() -> None:
    k = boot("tiny")
    assert k.cpu_down(9) == -errno.EINVAL
    for cpu in (1, 2, 3):
        assert k.cpu_down(cpu) == 0
    assert k.cpu_down(0) == -errno.EBUSY
    assert k.klog.dmesg().count("shutdown") == 3


def test_a_cpu_coming_back_gets_its_mpam_state_again(kernel: Kernel) -> None:
    s = kernel.scheduler
    s.mpam_enabled = True
    t = kernel.tasks[11]
    s.set_cpus_allowed(t, {5, 6})
    s.migrate(t, 5)
    s.mpam_set_task_partid_pmg(t, 4, 4, 1, 1)
    s.wake(t)
    assert s.arm64_mpam_current[5] == 4 | 4 << 16 | 1 << 32 | 1 << 40
    s.mpam_set_cpu_defaults(5, 9, 9, 0, 0)  # CPU 5 now belongs to a resctrl group
    assert kernel.cpu_down(5) == 0
    # The idle task (root group: the CPU default) took over before the CPU died.
    assert t.cpu == 6 and s.current(6) is t
    last = kernel.trace.select(cpu=5)[-1]
    assert (last.origin, last.pid, last.after) == ("thread_switch", 0, 9 | 9 << 16)
    mark = len(kernel.trace)
    assert kernel.cpu_up(5) == 0
    back = kernel.trace.records[mark:]
    assert [r.origin for r in back] == ["el2_setup"] * 4 + ["cpu_enable_mpam"] * 2
    assert back[0].before == 0  # the PE was reset: its registers were lost
    pe = kernel.hw.cpus[5]
    assert pe.read_sysreg("MPAM0_EL1") == 9 | 9 << 16 == s.arm64_mpam_current[5]
    assert pe.read_sysreg("MPAM1_EL1") == 9 | 9 << 16 | MPAMEN  # EL3 enabled it again
    # Registers and arm64_mpam_current agree, so a root-group task switching in writes nothing.
    s.wake(kernel.tasks.find("ksoftirqd/5")[0])
    assert s.current(5).comm == "ksoftirqd/5"
    assert len(kernel.trace) == mark + 6


def test_driver_hotplug_state_runs_between_bringup_and_shutdown(kernel: Kernel) -> None:
    order: list[str] = []
    state = kernel.cpuhp.setup_state(
        "mpam:online",
        lambda cpu: order.append(f"online {cpu}") or 0,
        lambda cpu: order.append(f"offline {cpu}") or 0,
    )
    assert state == CPUHP_AP_ONLINE_DYN
    assert order == [f"online {c}" for c in range(16)]
    order.clear()
    kernel.cpu_down(7)
    kernel.cpu_up(7)
    assert order == ["offline 7", "online 7"]
    assert [line.split("] ")[1] for line in kernel.klog.dmesg().splitlines()[-4:]] == [
        "CPU7: shutdown",
        "psci: CPU7 killed (polled 0 ms)",
        "Detected PIPT I-cache on CPU7",
        "CPU7: Booted secondary processor 0x0000030100 [0x410fd490]",
    ]


def test_run_advances_time_fires_timers_runs_work_and_schedules(kernel: Kernel) -> None:
    fired: list[int] = []
    t = kernel.tasks[11]
    kernel.scheduler.wake(t)
    start = kernel.clock.now_ns
    kernel.timers.add_timer(start + 10_000_000, lambda: fired.append(kernel.clock.now_ns))
    kernel.timers.add_timer(
        start + 5_000_000, lambda: kernel.workqueue.queue_work(lambda: fired.append(-1))
    )
    kernel.run(12_000_000)
    assert kernel.clock.now_ns == start + 12_000_000
    assert fired == [-1, start + 10_000_000]
    assert t.runtime_ns == 12_000_000
    with pytest.raises(ValueError):
        kernel.run(-1)


def test_boot_is_deterministic() -> None:
    a, b = boot(), boot()
    assert a.klog.dmesg() == b.klog.dmesg()
    assert a.trace.records == b.trace.records
    assert a.tasks.ps() == b.tasks.ps()
