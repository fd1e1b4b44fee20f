"""A checked view of a parsed TOML table, so that every error names the offending key.

Descriptions are written by people; a typo must be reported as
``msc[3].ris[0].features.cpor.cpbm_wd: must be 1..32768, got 0`` rather than surface later
as a wrong register value.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "PlatformError",
    "Reader",
    "format_cpulist",
    "parse_bandwidth",
    "parse_cpulist",
    "parse_size",
]


class PlatformError(ValueError):
    """A platform description is malformed or inconsistent."""


_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KIB": 1 << 10,
    "MIB": 1 << 20,
    "GIB": 1 << 30,
    "TIB": 1 << 40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def _quantity(text: str, what: str) -> int:
    m = _QUANTITY.match(text)
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"not a {what}: {text!r} (use e.g. '64KiB', '8MiB', '51.2GB')")
    return round(float(m.group(1)) * _SIZE_UNITS[unit])


def parse_size(value: object) -> int:
    """Bytes from an integer or a string such as ``"8MiB"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        size = _quantity(value, "size")
    else:
        raise ValueError(f"not a size: {value!r}")
    if size < 1:
        raise ValueError(f"must be positive, got {value!r}")
    return size


def parse_bandwidth(value: object) -> int:
    """Bytes per second from an integer or a string such as ``"51.2GB/s"``."""
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("/s"):
            raise ValueError(f"not a bandwidth: {value!r} (use e.g. '51.2GB/s')")
        rate = _quantity(text[:-2], "bandwidth")
        if rate < 1:
            raise ValueError(f"must be at least 1B/s, got {value!r}")
        return rate
    return parse_size(value)


def parse_cpulist(value: object) -> tuple[int, ...]:
    """CPU numbers from a list of integers or a Linux cpulist string (``"0-3,8"``)."""
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        return tuple(value)
    if isinstance(value, str):
        cpus: list[int] = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            lo, dash, hi = part.partition("-")
            if not lo.isdigit() or (dash and (not hi.isdigit() or int(hi) < int(lo))):
                raise ValueError(f"not a cpulist: {value!r}")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
        return tuple(cpus)
    raise ValueError(f"not a cpulist: {value!r}")


def format_cpulist(cpus: tuple[int, ...] | list[int]) -> str:
    """The Linux cpulist of a set of CPU numbers: ``0-3,8``."""
    out: list[str] = []
    start = prev = None
    for c in [*sorted(cpus), None]:
        if c is not None and prev is not None and c == prev + 1:
            prev = c
            continue
        if start is not None:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = c
    return ",".join(out)


class Reader:
    """Typed, range-checked access to one TOML table; `done()` refuses unknown keys."""

    def __init__(self, table: dict[str, Any], path: str) -> None:
        if not isinstance(table, dict):
            raise PlatformError(f"{path}: must be a table, got {type(table).__name__}")
        self.table = table
        self.path = path
        self._seen: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> PlatformError:
        return PlatformError(f"{self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.table

    def raw(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        self._seen.add(key)
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        return self.table[key]

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        lo: int = 0,
        hi: int = (1 << 64) - 1,
        required: bool = False,
    ) -> int:
        value = self.raw(key, default, required=required or default is None)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise self.error(key, f"must be {lo}..{hi}, got {value}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str:
        value = self.raw(key, default, required=default is None)
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def size(self, key: str, default: int | None = None) -> int:
        value = self.raw(key, default, required=default is None)
        try:
            return parse_size(value)
        except ValueError as e:
            raise self.error(key, str(e)) from None

    def bandwidth(self, key: str) -> int:
        try:
            return parse_bandwidth(self.raw(key, required=True))
        except ValueError as e:
            raise self.error(key, str(e)) from None

    def sub(self, key: str, *, required: bool = False) -> Reader | None:
        value = self.raw(key, required=required)
        if value is None:
            return None
        return Reader(value, self.where(key))

    def items(self, key: str, *, required: bool = False) -> list[Reader]:
        value = self.raw(key, [] if not required else None, required=required)
        if not isinstance(value, list):
            raise self.error(key, "must be an array of tables")
        return [Reader(v, f"{self.where(key)}[{i}]") for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.table) - self._seen)
        if unknown:
            raise PlatformError(f"{self.path or 'top level'}: unknown key(s) {', '.join(unknown)}")
