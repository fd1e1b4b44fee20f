"""What a simulated task runs: a sequence of phases, each a memory behaviour.

MPAM only matters under contention, and contention depends on what the tasks do with memory.
The simulation engine therefore needs a small, precise description of each task's memory
behaviour rather than real programs: how large its working set is, how the working set is
walked (a stream, random references, a Zipf-skewed hot set, a dependent pointer chase, a
strided walk, or a recorded address trace), how many instructions separate references, and
how many misses may overlap. This module is that description, validated once, so that the
fast engine can trust every record it reads.

A workload is written in a one-line grammar, convenient on the command line::

    stream:footprint=64MiB,cpi=0.5
    stream:footprint=64MiB,duration=10ms+chase:footprint=4MiB
    trace:path=ls.lackey,intensity=0.3

Each phase is ``KIND[:key=value,...]``; phases are joined with ``+``. Every phase but the
last needs a ``duration``; the last phase runs until the end of the simulation, or, when it
has a duration too, the workload starts over with its first phase. `Workload.spec` is the
canonical form of that text (only the non-default keys, in a fixed order), so that
``parse_workload(w.spec) == w``.

Traces are read from a file of native ``R|W|I ADDRESS`` lines or from the output of
``valgrind --tool=lackey --trace-mem=yes``; `sample_trace` selects the references a
set-sampled simulation keeps. Pure Python and NumPy: the engine compiles its own loops.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpam.platform.reader import parse_size

__all__ = [
    "KINDS",
    "LINE",
    "MAX_CPI",
    "MAX_DURATION_NS",
    "MAX_FOOTPRINT",
    "MAX_MLP",
    "TRACE_INSTR",
    "TRACE_WRITE",
    "Phase",
    "Trace",
    "Workload",
    "WorkloadError",
    "chase_cycle",
    "format_duration",
    "format_size",
    "mix64",
    "parse_duration",
    "parse_workload",
    "read_trace",
    "sample_trace",
    "workload_from_toml",
    "zipf_cdf",
]

#: The workload kinds, in the order error messages list them.
KINDS: tuple[str, ...] = ("stream", "uniform", "zipf", "chase", "strided", "trace")
#: Bytes per line reference: every address a workload produces is a cache line.
LINE = 64
#: `Trace.flags` bit: the reference is a write.
TRACE_WRITE = 1
#: `Trace.flags` bit: the reference is an instruction fetch.
TRACE_INSTR = 2

#: Kind names accepted by the grammar in addition to `KINDS`, and what they stand for.
_ALIASES = {"lackey": "trace"}
#: Misses that overlap, by kind: streams prefetch deeply, a pointer chase cannot overlap.
_DEFAULT_MLP = {
    "stream": 32.0,
    "strided": 16.0,
    "uniform": 8.0,
    "zipf": 8.0,
    "chase": 1.0,
    "trace": 4.0,
}
_DEFAULT_FOOTPRINT = 64 << 20
#: The largest footprint: what a 48-bit virtual address space (arm64's) can map.
MAX_FOOTPRINT = 1 << 48
#: Beyond any real program: cycles per instruction, misses in flight.
MAX_CPI = 1e6
MAX_MLP = 1024
#: The longest phase: 10^9 s, well inside a 64-bit count of nanoseconds.
MAX_DURATION_NS = 10**18
#: Canonical key order of `Workload.spec`.
_KEY_ORDER = (
    "path",
    "footprint",
    "stride",
    "alpha",
    "writes",
    "cpi",
    "intensity",
    "mlp",
    "duration",
)
_COMMON_KEYS = frozenset({"cpi", "intensity", "mlp", "duration"})
_KIND_KEYS = {
    "stream": frozenset({"footprint", "writes"}),
    "uniform": frozenset({"footprint", "writes"}),
    "zipf": frozenset({"footprint", "alpha", "writes"}),
    "chase": frozenset({"footprint", "writes"}),
    "strided": frozenset({"footprint", "stride", "writes"}),
    "trace": frozenset({"path"}),
}
_KEY_ALIASES = {"write_ratio": "writes"}


class WorkloadError(ValueError):
    """A workload spec, table or trace file is malformed."""


# ---------------------------------------------------------------------------- quantities

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Zµμ]*)\s*$")
_DURATION_UNITS = {"": 1, "ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9}
_DURATION_FORMAT = (("s", 10**9), ("ms", 10**6), ("us", 10**3))
_SIZE_FORMAT = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def parse_duration(text: str) -> int:
    """Nanoseconds from ``"10ms"``, ``"1.5s"``, ``"250us"``, ``"5ns"`` or a plain integer (ns)."""
    m = _DURATION.match(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _DURATION_UNITS:
        raise ValueError(f"not a duration: {text!r} (use e.g. '10ms', '1s', '250us', '5ns')")
    try:
        ns = Decimal(m.group(1)) * _DURATION_UNITS[unit]
    except InvalidOperation:  # pragma: no cover - the pattern only admits decimals
        raise ValueError(f"not a duration: {text!r}") from None
    if ns != ns.to_integral_value():
        raise ValueError(f"not a whole number of nanoseconds: {text!r}")
    return int(ns)


def format_duration(ns: int) -> str:
    """The shortest exact text of a duration: ``10ms``, ``1500us``, ``7ns``."""
    for unit, scale in _DURATION_FORMAT:
        if ns and ns % scale == 0:
            return f"{ns // scale}{unit}"
    return f"{ns}ns"


def format_size(size: int) -> str:
    """A byte count in its largest exact binary unit: ``64MiB``, ``4KiB``, ``100B``."""
    for unit, scale in _SIZE_FORMAT:
        if size and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"


def _format_float(x: float) -> str:
    """Minimal round-trip text of a float, without ``+`` (it joins phases): ``0.5``, ``32``."""
    s = repr(float(x))
    if s.endswith(".0"):
        s = s[:-2]
    return s.replace("e+", "e")


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False, repr=False)
class Trace:
    """A recorded address trace: one entry per line reference.

    `lines` are line addresses (byte address // `LINE`); `flags` has `TRACE_WRITE` set for a
    write and `TRACE_INSTR` for an instruction fetch. Two traces are equal when their path
    and contents are.
    """

    lines: NDArray[np.int64]
    flags: NDArray[np.uint8]
    path: str

    def __post_init__(self) -> None:
        if self.lines.dtype != np.int64 or self.lines.ndim != 1:
            raise WorkloadError(f"{self.path}: trace lines must be a 1-D int64 array")
        if self.flags.dtype != np.uint8 or self.flags.shape != self.lines.shape:
            raise WorkloadError(f"{self.path}: trace flags must be a uint8 array like lines")

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (
            self.path == other.path
            and np.array_equal(self.lines, other.lines)
            and np.array_equal(self.flags, other.flags)
        )

    def __hash__(self) -> int:
        return hash((self.path, len(self)))

    def __repr__(self) -> str:
        return f"Trace(path={self.path!r}, references={len(self)})"


@dataclass(frozen=True)
class Phase:
    """One behaviour of a workload, lasting `duration_ns` of simulated time (0: to the end).

    `mlp` left at 0 takes the kind's default (stream 32, strided 16, uniform 8, zipf 8,
    chase 1, trace 4). Fields that do not apply to the kind must keep their defaults;
    every value is checked here, so an engine can trust any `Phase`.
    """

    kind: str
    footprint: int = _DEFAULT_FOOTPRINT
    stride: int = 1
    alpha: float = 0.99
    cpi: float = 0.5
    intensity: float = 0.05
    mlp: float = 0.0
    write_ratio: float = 0.0
    duration_ns: int = 0
    trace: Trace | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in KINDS:
            raise WorkloadError(f"unknown workload kind {kind!r} (one of {', '.join(KINDS)})")

        def fail(message: str) -> WorkloadError:
            return WorkloadError(f"{kind}: {message}")

        for name in ("footprint", "stride", "duration_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail(f"{_spec_key(name)} must be an integer, got {value!r}")
        for name in ("alpha", "cpi", "intensity", "mlp", "write_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(f"{_spec_key(name)} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise fail(f"{_spec_key(name)} must be a finite number, got {value}")
            object.__setattr__(self, name, float(value))
        if self.mlp == 0.0:
            object.__setattr__(self, "mlp", _DEFAULT_MLP[kind])

        allowed = _KIND_KEYS[kind] | _COMMON_KEYS
        for key in _KEY_ORDER:
            if key not in allowed and _value_of(self, key) != _default_of(kind, key):
                raise fail(f"key '{key}' does not apply to {kind}")

        if self.footprint < LINE:
            raise fail(f"footprint must be at least one line ({LINE}B), got {self.footprint}B")
        if self.footprint % LINE:
            raise fail(f"footprint must be a multiple of {LINE}B, got {self.footprint}B")
        if self.footprint > MAX_FOOTPRINT:
            raise fail(f"footprint must be at most {format_size(MAX_FOOTPRINT)} (a 48-bit "
                       f"virtual address space), got {format_size(self.footprint)}")  # fmt: skip
        if self.stride < 1:
            raise fail(f"stride must be >= 1, got {self.stride}")
        if self.stride * LINE > self.footprint:
            raise fail(
                f"footprint ({format_size(self.footprint)}) must cover at least one stride "
                f"({self.stride} lines = {format_size(self.stride * LINE)})"
            )
        if self.alpha <= 0:
            raise fail(f"alpha must be > 0, got {_format_float(self.alpha)}")
        if not 0 < self.cpi <= MAX_CPI:
            raise fail(f"cpi must be in (0, {MAX_CPI:g}], got {_format_float(self.cpi)}")
        if not 0 < self.intensity <= 1:
            raise fail(
                f"intensity must be in (0, 1] (line references per instruction), "
                f"got {_format_float(self.intensity)}"
            )
        if not 1 <= self.mlp <= MAX_MLP:
            raise fail(f"mlp must be in [1, {MAX_MLP}] (misses a core keeps in flight), "
                       f"got {_format_float(self.mlp)}")  # fmt: skip
        if not 0 <= self.write_ratio <= 1:
            raise fail(f"writes must be in [0, 1], got {_format_float(self.write_ratio)}")
        if not 0 <= self.duration_ns <= MAX_DURATION_NS:
            raise fail(f"duration must be 0 to {format_duration(MAX_DURATION_NS)}, "
                       f"got {format_duration(self.duration_ns)}")  # fmt: skip
        if kind == "trace" and not isinstance(self.trace, Trace):
            raise fail("needs path=FILE (the trace to replay)")

    def spec(self) -> str:
        """This phase in the workload grammar, with only its non-default keys."""
        parts = []
        for key in _KEY_ORDER:
            value = _value_of(self, key)
            if value == _default_of(self.kind, key):
                continue
            if key == "path":
                assert self.trace is not None
                text = self.trace.path
            elif key == "footprint":
                text = format_size(self.footprint)
            elif key == "duration":
                text = format_duration(self.duration_ns)
            elif key == "stride":
                text = str(self.stride)
            else:
                assert isinstance(value, float)
                text = _format_float(value)
            parts.append(f"{key}={text}")
        return f"{self.kind}:{','.join(parts)}" if parts else self.kind


_FIELD_OF_KEY = {"writes": "write_ratio", "duration": "duration_ns", "path": "trace"}


def _spec_key(field_name: str) -> str:
    return {"write_ratio": "writes", "duration_ns": "duration"}.get(field_name, field_name)


def _value_of(phase: Phase, key: str) -> object:
    return getattr(phase, _FIELD_OF_KEY.get(key, key))


def _default_of(kind: str, key: str) -> object:
    if key == "mlp":
        return _DEFAULT_MLP[kind]
    return Phase.__dataclass_fields__[_FIELD_OF_KEY.get(key, key)].default


@dataclass(frozen=True)
class Workload:
    """What one task runs: its phases in order, the canonical `spec` and the task's `comm`.

    A workload whose last phase has a duration starts over with its first phase when that
    duration ends; otherwise the last phase runs until the end of the simulation.
    """

    phases: tuple[Phase, ...]
    spec: str = field(init=False)
    comm: str = field(init=False)

    def __post_init__(self) -> None:
        phases = tuple(self.phases)
        if not phases:
            raise WorkloadError("a workload needs at least one phase")
        for i, phase in enumerate(phases):
            if not isinstance(phase, Phase):
                raise WorkloadError(f"phase {i + 1}: not a Phase: {phase!r}")
            if i < len(phases) - 1 and phase.duration_ns <= 0:
                raise WorkloadError(
                    f"phase {i + 1}: {phase.kind}: needs a duration > 0 "
                    "(every phase but the last does)"
                )
        object.__setattr__(self, "phases", phases)
        object.__setattr__(self, "spec", "+".join(p.spec() for p in phases))
        object.__setattr__(self, "comm", phases[0].kind if len(phases) == 1 else "phased")

    @property
    def repeats(self) -> bool:
        """True when the sequence starts over (the last phase has a duration too)."""
        return self.phases[-1].duration_ns > 0


# ---------------------------------------------------------------------------- grammar

#: `+` joins phases; one followed by a digit is a float exponent's sign (``1e+5``).
_PHASE_SPLIT = re.compile(r"\+(?!\d)")


def parse_workload(spec: str, *, base_dir: Path | None = None) -> Workload:
    """The `Workload` a spec such as ``stream:footprint=64MiB,duration=10ms+chase`` describes.

    Relative trace paths are resolved against `base_dir` (default: the current directory).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise WorkloadError("empty workload spec")
    texts = [t.strip() for t in _PHASE_SPLIT.split(spec.strip())]
    phases = []
    for i, text in enumerate(texts):
        with _phase_context(i, len(texts)):
            if not text:
                raise WorkloadError("empty phase (two '+' in a row, or one at an end)")
            kind, _, rest = text.partition(":")
            items: list[tuple[str, object]] = []
            if rest.strip():
                for item in rest.split(","):
                    key, eq, value = item.partition("=")
                    if not eq or not key.strip():
                        raise WorkloadError(
                            f"{kind.strip()}: expected key=value, got {item.strip()!r}"
                        )
                    items.append((key.strip(), value.strip()))
            phases.append(_make_phase(kind.strip(), items, base_dir))
    return Workload(tuple(phases))


def workload_from_toml(value: str | dict[str, Any], *, base_dir: Path | None = None) -> Workload:
    """A `Workload` from a TOML value: a spec string, one phase's table, or ``{phases=[...]}``.

    A phase table holds ``kind`` and the grammar's keys, e.g.
    ``{kind = "zipf", footprint = "64MiB", alpha = 1.2}``; sizes and durations may be strings
    or integers (bytes, nanoseconds).
    """
    if isinstance(value, str):
        return parse_workload(value, base_dir=base_dir)
    if not isinstance(value, dict):
        raise WorkloadError(f"a workload must be a string or a table, got {value!r}")
    if "phases" in value:
        extra = sorted(set(value) - {"phases"})
        if extra:
            raise WorkloadError(f"a table with phases takes no other keys, got {', '.join(extra)}")
        tables = value["phases"]
        if not isinstance(tables, list) or not tables:
            raise WorkloadError("phases must be a non-empty array of tables")
    else:
        tables = [value]
    phases = []
    for i, table in enumerate(tables):
        with _phase_context(i, len(tables)):
            if not isinstance(table, dict):
                raise WorkloadError(f"a phase must be a table, got {table!r}")
            kind = table.get("kind")
            if not isinstance(kind, str):
                raise WorkloadError(f"a phase table needs kind = one of {', '.join(KINDS)}")
            items = [(str(k), v) for k, v in table.items() if k != "kind"]
            phases.append(_make_phase(kind, items, base_dir))
    return Workload(tuple(phases))


@contextmanager
def _phase_context(index: int, count: int) -> Iterator[None]:
    """Prefixes ``phase N: `` to the errors raised inside when a workload has several phases."""
    try:
        yield
    except WorkloadError as e:
        if count > 1:
            raise WorkloadError(f"phase {index + 1}: {e}") from None
        raise


def _make_phase(kind: str, items: list[tuple[str, object]], base_dir: Path | None) -> Phase:
    """A `Phase` from a kind and its key/value pairs (strings from a spec, or TOML values)."""
    kind = _ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise WorkloadError(f"unknown workload kind {kind!r} (one of {', '.join(KINDS)})")

    def fail(message: str) -> WorkloadError:
        return WorkloadError(f"{kind}: {message}")

    allowed = _KIND_KEYS[kind] | _COMMON_KEYS
    seen: set[str] = set()
    kwargs: dict[str, Any] = {}
    for raw_key, value in items:
        key = _KEY_ALIASES.get(raw_key, raw_key)
        if key not in _KEY_ORDER:
            raise fail(f"unknown key {raw_key!r}")
        if key not in allowed:
            raise fail(f"key {raw_key!r} does not apply to {kind}")
        if key in seen:
            raise fail(f"key {key!r} given twice")
        seen.add(key)
        try:
            if key == "footprint":
                kwargs["footprint"] = parse_size(value)
            elif key == "stride":
                kwargs["stride"] = _to_int(value)
            elif key == "duration":
                if isinstance(value, int) and not isinstance(value, bool):
                    kwargs["duration_ns"] = value
                elif isinstance(value, str):
                    kwargs["duration_ns"] = parse_duration(value)
                else:
                    raise ValueError(f"not a duration: {value!r}")
            elif key == "path":
                kwargs["trace"] = read_trace(_resolve(value, base_dir))
            else:
                kwargs[_FIELD_OF_KEY.get(key, key)] = _to_float(value)
        except WorkloadError:
            raise
        except ValueError as e:
            raise fail(f"{key}: {e}") from None
    if kind == "trace" and "trace" not in kwargs:
        raise fail("needs path=FILE (the trace to replay)")
    return Phase(kind, **kwargs)


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def _to_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"not a number: {value!r}")


def _resolve(value: object, base_dir: Path | None) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a file name: {value!r}")
    path = Path(value)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return path


# ---------------------------------------------------------------------------- traces

_BLANK = r"[ \t]*\r?$|[ \t]*#|=="
_NATIVE = r"[ \t]*([RWIrwi])[ \t]+(0[xX][0-9a-fA-F]+|[0-9]+)[ \t]*(?:#[^\n]*)?\r?$"
_LACKEY = r"[ \t]*([ILSM])[ \t]+([0-9a-fA-F]+),[ \t]*([0-9]+)[ \t]*\r?$"
_NATIVE_RE = re.compile("^" + _NATIVE, re.M)
_LACKEY_RE = re.compile("^" + _LACKEY, re.M)
_NATIVE_BAD = re.compile(f"^(?!{_BLANK}|{_NATIVE}).*$", re.M)
_LACKEY_BAD = re.compile(f"^(?!{_BLANK}|{_LACKEY}).*$", re.M)
_FIRST_DATA = re.compile(f"^(?!{_BLANK}).*$", re.M)
_NATIVE_FLAGS = {"R": 0, "W": TRACE_WRITE, "I": TRACE_INSTR}
_LACKEY_CODES = {"I": 0, "L": 1, "S": 2, "M": 3}


def read_trace(path: str | Path) -> Trace:
    """The `Trace` in a file: native ``R|W|I ADDRESS`` lines or valgrind lackey output.

    The format is told from the first line that is not blank, a ``#`` comment or a valgrind
    ``==`` message. Lackey's ``M`` (modify) gives a read then a write; an access that spans
    lines gives a reference to each. Errors name ``FILE:LINENO``.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise WorkloadError(f"{name}: cannot read trace: {e.strerror or e}") from None
    first = _FIRST_DATA.search(text)
    if first is None:
        raise WorkloadError(f"{name}: empty trace (no references)")
    line = first.group(0)
    if re.fullmatch(_LACKEY, line):
        return _read_lackey(name, text)
    if re.fullmatch(_NATIVE, line):
        return _read_native(name, text)
    raise WorkloadError(
        f"{name}:{_lineno(text, first.start())}: not a trace line: {line.strip()!r} "
        "(expected 'R|W|I ADDRESS', e.g. 'R 0x7ff000', or valgrind lackey output)"
    )


def _lineno(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _check_lines(name: str, text: str, bad: re.Pattern[str], expected: str) -> None:
    m = bad.search(text)
    if m is not None:
        raise WorkloadError(
            f"{name}:{_lineno(text, m.start())}: not a trace line: {m.group(0).strip()!r} "
            f"(expected {expected})"
        )


def _addresses(
    name: str, text: str, pattern: re.Pattern[str], values: list[int]
) -> NDArray[np.uint64]:
    """Addresses as uint64, or an error naming the first that does not fit in 64 bits."""
    try:
        return np.array(values, dtype=np.uint64)
    except OverflowError:
        index = next(i for i, v in enumerate(values) if v >= 1 << 64)
        m = next(m for i, m in enumerate(pattern.finditer(text)) if i == index)
        raise WorkloadError(
            f"{name}:{_lineno(text, m.start())}: address does not fit in 64 bits"
        ) from None


def _read_native(name: str, text: str) -> Trace:
    _check_lines(name, text, _NATIVE_BAD, "'R|W|I ADDRESS', e.g. 'W 0x7ff040'")
    found = _NATIVE_RE.findall(text)
    if not found:
        raise WorkloadError(f"{name}: empty trace (no references)")
    values = [int(a, 16) if a[1:2] in ("x", "X") else int(a) for _, a in found]
    addrs = _addresses(name, text, _NATIVE_RE, values)
    flags = np.array([_NATIVE_FLAGS[op.upper()] for op, _ in found], dtype=np.uint8)
    return Trace((addrs >> np.uint64(6)).astype(np.int64), flags, name)


def _read_lackey(name: str, text: str) -> Trace:
    _check_lines(name, text, _LACKEY_BAD, "a valgrind lackey line, e.g. ' L 1ffefffd68,8'")
    found = _LACKEY_RE.findall(text)
    if not found:
        raise WorkloadError(f"{name}: empty trace (no references)")
    addrs = _addresses(name, text, _LACKEY_RE, [int(a, 16) for _, a, _ in found])
    sizes = np.maximum(np.array([int(s) for _, _, s in found], dtype=np.int64), 1)
    codes = np.array([_LACKEY_CODES[op] for op, _, _ in found], dtype=np.uint8)
    first = (addrs >> np.uint64(6)).astype(np.int64)
    offset = (addrs & np.uint64(LINE - 1)).astype(np.int64)
    nlines = (offset + sizes - 1) // LINE + 1
    passes = np.where(codes == _LACKEY_CODES["M"], 2, 1)
    refs = nlines * passes
    record = np.repeat(np.arange(len(found)), refs)
    start = np.cumsum(refs) - refs
    k = np.arange(int(refs.sum()), dtype=np.int64) - start[record]
    per = nlines[record]
    lines = first[record] + k % per
    code = codes[record]
    second_pass = k >= per  # the store half of a modify
    flags = np.zeros(lines.shape, dtype=np.uint8)
    flags[code == _LACKEY_CODES["I"]] = TRACE_INSTR
    flags[(code == _LACKEY_CODES["S"]) | ((code == _LACKEY_CODES["M"]) & second_pass)] = TRACE_WRITE
    return Trace(lines.astype(np.int64), flags, name)


# ---------------------------------------------------------------------------- helpers


def mix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser over an array: a fixed, well-mixed 64-bit hash of each value."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_trace(trace: Trace, sample: int) -> Trace:
    """The references a 1/`sample` set-sampled simulation keeps, renamed into its space.

    From each aligned block of `sample` consecutive lines one position, chosen by a hash of
    the block number, is kept (line L stays iff ``L % sample == mix64(L // sample) % sample``)
    and renamed ``L // sample``, so distinct kept lines stay distinct. A short trace may keep
    nothing. `sample` 1 returns `trace` itself.
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise WorkloadError(f"sample must be an integer >= 1, got {sample!r}")
    if sample == 1:
        return trace
    s = np.uint64(sample)
    lines = trace.lines.astype(np.uint64)
    block = lines // s
    keep = (lines % s) == (mix64(block) % s)
    return Trace(block[keep].astype(np.int64), trace.flags[keep], trace.path)


def zipf_cdf(n: int, alpha: float) -> NDArray[np.float64]:
    """Cumulative probabilities of ranks 0..n-1 under Zipf(`alpha`); the last is exactly 1.0.

    Rank k has probability ``(k + 1) ** -alpha / H(n, alpha)``; rank 0 is the most popular.
    """
    if n < 1:
        raise ValueError(f"zipf_cdf needs n >= 1, got {n}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"zipf_cdf needs alpha > 0, got {alpha}")
    weights = np.arange(1, n + 1, dtype=np.float64) ** -float(alpha)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def chase_cycle(n: int, seed: int) -> NDArray[np.int64]:
    """A next-pointer array that is one random cycle through all `n` entries.

    Sattolo's algorithm driven by ``np.random.default_rng(seed)``: following ``next[i]``
    from any entry visits every entry once before coming back.
    """
    if n < 1:
        raise ValueError(f"chase_cycle needs n >= 1, got {n}")
    rng = np.random.default_rng(seed)
    perm = list(range(n))
    if n > 1:
        # i runs n-1 .. 1 and swaps with a j drawn uniformly from [0, i): never itself.
        picks = rng.integers(0, np.arange(n - 1, 0, -1, dtype=np.int64)).tolist()
        for i, j in zip(range(n - 1, 0, -1), picks, strict=True):
            perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)
