"""The kernel log (printk's ring buffer) and its `dmesg` rendering.

Everything the simulated kernel says goes here, stamped with simulated time, so a run's log
is reproducible and reads like the real kernel's: `[%5lu.%06lu] text`, one line per line of
text. Debug messages are recorded (as with dynamic debug switched on) but, as with the
console's default loglevel, shown only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from mpam.hw.clock import Clock

__all__ = ["LEVELS", "KernelLog", "LogRecord", "format_timestamp"]

#: The printk levels, most severe first, with their KERN_<LEVEL> numbers.
LEVELS = MappingProxyType(
    {
        "emerg": 0,
        "alert": 1,
        "crit": 2,
        "err": 3,
        "warn": 4,
        "notice": 5,
        "info": 6,
        "debug": 7,
    }
)

_NS_PER_SEC = 1_000_000_000


@dataclass(frozen=True)
class LogRecord:
    """One printk: when (simulated ns), at which level, and what."""

    time_ns: int
    level: str
    text: str


def format_timestamp(time_ns: int) -> str:
    """The `[%5lu.%06lu]` prefix printk puts before every line."""
    seconds, rem = divmod(time_ns, _NS_PER_SEC)
    return f"[{seconds:5d}.{rem // 1000:06d}]"


def _level(name: str) -> int:
    try:
        return LEVELS[name]
    except KeyError:
        raise ValueError(f"unknown log level {name!r} (one of {', '.join(LEVELS)})") from None


class KernelLog:
    """The records of one machine's kernel, stamped by its clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.records: list[LogRecord] = []

    def log(self, level: str, text: str) -> LogRecord:
        """printk at `level`; a text with newlines stays one record (as printk keeps it)."""
        _level(level)
        record = LogRecord(self.clock.now_ns, level, text.removesuffix("\n"))
        self.records.append(record)
        return record

    def pr_emerg(self, text: str) -> LogRecord:
        return self.log("emerg", text)

    def pr_crit(self, text: str) -> LogRecord:
        return self.log("crit", text)

    def pr_err(self, text: str) -> LogRecord:
        return self.log("err", text)

    def pr_warn(self, text: str) -> LogRecord:
        return self.log("warn", text)

    def pr_notice(self, text: str) -> LogRecord:
        return self.log("notice", text)

    def pr_info(self, text: str) -> LogRecord:
        return self.log("info", text)

    def pr_debug(self, text: str) -> LogRecord:
        return self.log("debug", text)

    def lines(self, min_level: str = "info") -> list[str]:
        """The dmesg lines of every record at `min_level` or more severe."""
        limit = _level(min_level)
        out: list[str] = []
        for r in self.records:
            if LEVELS[r.level] > limit:
                continue
            stamp = format_timestamp(r.time_ns)
            # Every line of a multi-line record gets the record's stamp; an empty line is
            # the bare stamp, as the console shows it.
            out += [f"{stamp} {line}".rstrip(" ") for line in r.text.split("\n")]
        return out

    def dmesg(self, min_level: str = "info") -> str:
        """The log as `dmesg` prints it: debug lines only with ``min_level="debug"``."""
        lines = self.lines(min_level)
        return "\n".join(lines) + "\n" if lines else ""

    def grep(self, text: str, min_level: str = "debug") -> list[LogRecord]:
        """Records whose text contains `text` (a test's and a user's way to find a line)."""
        limit = _level(min_level)
        return [r for r in self.records if text in r.text and LEVELS[r.level] <= limit]

    def clear(self) -> None:
        """dmesg -C."""
        self.records.clear()
