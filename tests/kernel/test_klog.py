"""The kernel log and its dmesg rendering."""

from __future__ import annotations

import pytest

from mpam.hw.clock import Clock
from mpam.kernel.klog import LEVELS, KernelLog, format_timestamp


def test_timestamp_format_is_printk_s() -> None:
    assert format_timestamp(0) == "[    0.000000]"
    assert format_timestamp(274_393_977_123) == "[  274.393977]"  # sub-µs truncated
    assert format_timestamp(123_456_789_000_000) == "[123456.789000]"  # wider than %5lu


def test_dmesg_lines_are_stamped_with_simulated_time() -> None:
    clock = Clock()
    log = KernelLog(clock)
    log.pr_info("Booting Linux on physical CPU 0x0000000000 [0x410fd490]")
    clock.advance(31_735_000)
    log.pr_info("CPU1: Booted secondary processor 0x0000000100 [0x410fd490]")
    assert log.dmesg() == (
        "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd490]\n"
        "[    0.031735] CPU1: Booted secondary processor 0x0000000100 [0x410fd490]\n"
    )
    assert [(r.time_ns, r.level) for r in log.records] == [(0, "info"), (31_735_000, "info")]


def test_multi_line_text_is_one_record_with_one_stamp_per_line() -> None:
    clock = Clock(5_000_000_000)
    log = KernelLog(clock)
    log.pr_info("first\nsecond\n\nfourth\n")
    assert len(log.records) == 1
    assert log.dmesg().splitlines() == [
        "[    5.000000] first",
        "[    5.000000] second",
        "[    5.000000]",
        "[    5.000000] fourth",
    ]


def test_debug_is_recorded_but_shown_only_when_asked() -> None:
    log = KernelLog(Clock())
    log.pr_debug("mpam: probing")
    log.pr_info("visible")
    assert log.records[0].level == "debug"
    assert "probing" not in log.dmesg()
    assert "probing" in log.dmesg(min_level="debug")
    assert log.dmesg() == "[    0.000000] visible\n"


def test_min_level_filters_by_severity() -> None:
    log = KernelLog(Clock())
    for level in LEVELS:
        log.log(level, level)
    assert [line.split()[-1] for line in log.lines("err")] == ["emerg", "alert", "crit", "err"]
    assert len(log.lines("debug")) == 8
    assert len(log.lines()) == 7


def test_convenience_methods_set_their_level() -> None:
    log = KernelLog(Clock())
    log.pr_err("e")
    log.pr_warn("w")
    log.pr_notice("n")
    log.pr_crit("c")
    log.pr_emerg("m")
    log.pr_info("i")
    log.pr_debug("d")
    assert [r.level for r in log.records] == [
        "err", "warn", "notice", "crit", "emerg", "info", "debug",
    ]  # fmt: skip


def test_unknown_levels_are_refused() -> None:
    log = KernelLog(Clock())
    with pytest.raises(ValueError, match="unknown log level"):
        log.log("verbose", "x")
    with pytest.raises(ValueError):
        log.dmesg(min_level="warning")
    assert log.records == []


def test_grep_and_clear() -> None:
    log = KernelLog(Clock())
    log.pr_info("CPU3: shutdown")
    log.pr_debug("CPU3: debug")
    assert [r.text for r in log.grep("CPU3")] == ["CPU3: shutdown", "CPU3: debug"]
    assert [r.text for r in log.grep("CPU3", min_level="info")] == ["CPU3: shutdown"]
    log.clear()
    assert log.dmesg() == ""
