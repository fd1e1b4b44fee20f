"""Fuzz the ACPI MPAM and PPTT decoders with corrupted real tables.

Why: `mpam acpi decode` and the Linux model read whatever bytes a firmware dump holds, so the
contract is that no byte pattern crashes or hangs them: every table is either decoded or
refused with a `TableError` that names an offset inside the data. Random bytes would be
refused by the header check and never reach the body parsers, so every case starts from a
valid table (the ACPI testdata and the built tables of every preset), corrupts it where
corruption matters (header, lengths, counts, references), and usually repairs the header
length and checksum afterwards so the corruption reaches the structure walks.

Each case runs the whole pipeline: for MPAM the parser, the checker, the JSON export, the
strict listing, Linux's two MSC passes and the resource parse of every device (against the
matching valid PPTT); for the PPTT the parser, the checker, the cacheinfo walk, the from-id
and container helpers, the JSON export and the listing. When a table decodes, the structural
invariants are checked too (offsets inside the table, lengths adding up, the two MPAM passes
agreeing with the parser).

4 tests x 5,000 hypothesis examples, derandomized (the same cases on every run, about 45 s on
two cores). Hypothesis picks the seed table and a salt that drives the mutations, so a failing
case prints its seed, salt and every mutation step. Tables larger than `BODY_BUDGET` are
usually cut to a prefix of whole structures, which is itself a valid table, to keep a case to
a few milliseconds; the whole table is still used now and then.
"""

from __future__ import annotations

import errno
import random
import signal
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from mpam import platform
from mpam.firmware import (
    CacheNode,
    CacheTopology,
    ClassType,
    MpamTable,
    Pptt,
    ProcessorNode,
    TableError,
    build_tables,
    check_mpam,
    check_pptt,
    disassemble_mpam,
    disassemble_pptt,
    mpam_to_dict,
    parse_mpam,
    parse_msc_devices,
    parse_pptt,
    parse_resources,
    pptt_to_dict,
)
from mpam.firmware.acpi_mpam import ResourceParse, count_msc
from mpam.firmware.mpam_table import FUNC_DEP, MSC_NODE, RESOURCE_NODE
from mpam.firmware.pptt import CACHE_ID, CACHE_NODE, PROCESSOR_NODE, SUBTABLE
from mpam.firmware.sdt import HEADER, checksum

ACPI_TESTDATA = Path(__file__).resolve().parents[1] / "data" / "acpi"

EXAMPLES = 5_000  # per test; 4 tests
#: Table bodies above this size are usually cut to a prefix of whole structures.
BODY_BUDGET = 1_400
#: Any single case taking longer than this is a hang.
CASE_TIME_LIMIT = 20.0

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

T = TypeVar("T")
LENGTH_AT = HEADER.offset_of("length")
CHECKSUM_AT = HEADER.offset_of("checksum")


def _note(text: str) -> None:
    """A hypothesis event (shown by --hypothesis-show-statistics), when inside a test."""
    if currently_in_test_context():
        event(text)


# --- seeds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hot:
    """A field worth corrupting: where it is, its width, and which values to try."""

    offset: int
    size: int
    kind: str  # "length", "count", "ref", "id", "revision", "enum:<values>" or "value"
    base: int = 0  # the structure the field belongs to


@dataclass(frozen=True)
class Seed:
    """A valid table, its top-level structure boundaries and its fields worth corrupting."""

    name: str
    data: bytes
    boundaries: tuple[int, ...]  # start of each top-level structure, then the table length
    hot: tuple[Hot, ...]
    ids: tuple[int, ...]  # identifiers and cache ids a reference could name
    pair: str  # the name of the PPTT that goes with an MPAM seed
    length_field: tuple[int, int]  # (offset in a structure, size) of its Length

    @cached_property
    def hot_ends(self) -> tuple[int, ...]:
        return tuple(h.offset + h.size for h in self.hot)


def _header_hot() -> list[Hot]:
    return [
        Hot(0, 1, "value"),
        Hot(LENGTH_AT, 4, "length"),
        Hot(HEADER.offset_of("revision"), 1, "revision"),
        Hot(CHECKSUM_AT, 1, "value"),
    ]


def _by_end(hot: list[Hot]) -> tuple[Hot, ...]:
    return tuple(sorted(hot, key=lambda h: (h.offset + h.size, h.offset)))


def _field(layout: Any, base: int, key: str, kind: str) -> Hot:
    size = layout.fields[[f.key for f in layout.fields].index(key)].size
    return Hot(base + layout.offset_of(key), size, kind, base)


def _mpam_seed(name: str, data: bytes, pair: str, pptt: bytes) -> Seed:
    table = parse_mpam(data)
    hot = _header_hot()
    ids: set[int] = {c.cache_id for c in parse_pptt(pptt).caches if c.cache_id is not None}
    for m in table.mscs:
        hot += [
            _field(MSC_NODE, m.offset, "length", "length"),
            _field(MSC_NODE, m.offset, "interface_type", "enum:0,10,1,255"),
            _field(MSC_NODE, m.offset, "reserved", "value"),
            _field(MSC_NODE, m.offset, "reserved1", "value"),
            _field(MSC_NODE, m.offset, "identifier", "id"),
            _field(MSC_NODE, m.offset, "mmio_size", "enum:0,1,4096"),
            _field(MSC_NODE, m.offset, "overflow_flags", "enum:0,1,2,8,16,24,25,32"),
            _field(MSC_NODE, m.offset, "error_flags", "enum:0,1,2,8,16,24,25,32"),
            _field(MSC_NODE, m.offset, "linked_hid", "value"),
            _field(MSC_NODE, m.offset, "num_resources", "count"),
        ]
        ids.add(m.identifier)
        for r in m.resources:
            ids.add(r.identifier)
            hot += [
                _field(RESOURCE_NODE, r.offset, "identifier", "id"),
                _field(RESOURCE_NODE, r.offset, "ris_index", "count"),
                _field(RESOURCE_NODE, r.offset, "locator_type", "enum:0,1,2,3,4,5,6,255"),
                _field(RESOURCE_NODE, r.offset, "descriptor1", "id"),
                _field(RESOURCE_NODE, r.offset, "num_dependencies", "count"),
            ]
            for d in r.dependencies:
                hot += [
                    _field(FUNC_DEP, d.offset, "producer", "id"),
                    _field(FUNC_DEP, d.offset, "reserved", "value"),
                ]
    bounds = (*(m.offset for m in table.mscs), table.header.length)
    length = (MSC_NODE.offset_of("length"), 2)
    return Seed(name, data, bounds, _by_end(hot), tuple(sorted(ids)), pair, length)


def _pptt_seed(name: str, data: bytes) -> Seed:
    pptt = parse_pptt(data)
    hot = _header_hot()
    ids: set[int] = set()
    for n in pptt.nodes:
        hot += [
            _field(SUBTABLE, n.offset, "type", "enum:0,1,2,3,255"),
            _field(SUBTABLE, n.offset, "length", "length"),
        ]
        if isinstance(n, ProcessorNode):
            ids.add(n.acpi_processor_id)
            hot += [
                _field(PROCESSOR_NODE, n.offset, "flags", "enum:0,2,8,10,18,26,31"),
                _field(PROCESSOR_NODE, n.offset, "parent", "ref"),
                _field(PROCESSOR_NODE, n.offset, "acpi_processor_id", "id"),
                _field(PROCESSOR_NODE, n.offset, "num_private_resources", "count"),
            ]
            hot += [
                Hot(n.offset + PROCESSOR_NODE.size + 4 * k, 4, "ref", n.offset)
                for k in range(n.num_private_resources)
            ]
        elif isinstance(n, CacheNode):
            hot += [
                _field(CACHE_NODE, n.offset, "flags", "enum:0,16,127,128,144,255"),
                _field(CACHE_NODE, n.offset, "next_level", "ref"),
                _field(CACHE_NODE, n.offset, "attributes", "enum:0,3,4,8,12,15,19,31"),
                _field(CACHE_NODE, n.offset, "size", "value"),
            ]
            if n.cache_id is not None:
                ids.add(n.cache_id)
                hot.append(Hot(n.offset + CACHE_NODE.size, CACHE_ID.size, "id", n.offset))
    bounds = (*(n.offset for n in pptt.nodes), pptt.header.length)
    length = (SUBTABLE.offset_of("length"), 1)
    return Seed(name, data, bounds, _by_end(hot), tuple(sorted(ids)), name, length)


@cache
def _tables() -> dict[str, bytes]:
    """Every valid table, keyed "<source>.<mpam|pptt>"."""
    assert ACPI_TESTDATA.is_dir(), f"ACPI testdata {ACPI_TESTDATA} is missing"
    out: dict[str, bytes] = {}
    for path in sorted(ACPI_TESTDATA.glob("*.aml")):
        out[path.name.removesuffix(".aml")] = path.read_bytes()
    assert len(out) >= 4, f"expected MPAM and PPTT testdata in {ACPI_TESTDATA}"
    for name in platform.presets():
        built = build_tables(platform.load(name))
        out[f"preset-{name}.mpam"] = built["MPAM.aml"]
        out[f"preset-{name}.pptt"] = built["PPTT.aml"]
    return out


@cache
def _seeds(kind: str) -> tuple[Seed, ...]:
    tables = _tables()
    if kind == "mpam":
        return tuple(
            _mpam_seed(name, data, name[:-5] + ".pptt", tables[name[:-5] + ".pptt"])
            for name, data in tables.items()
            if name.endswith(".mpam")
        )
    return tuple(_pptt_seed(name, data) for name, data in tables.items() if name.endswith(".pptt"))


@cache
def _topology(pptt_name: str) -> CacheTopology:
    """The cache topology of a valid PPTT, for the resource parse of MPAM cases."""
    return CacheTopology(parse_pptt(_tables()[pptt_name]))


@cache
def _levels(pptt_name: str) -> frozenset[int]:
    """The cache levels of a valid PPTT's CPUs."""
    leaves = _topology(pptt_name).leaves()
    return frozenset(leaf.level for ls in leaves.values() for leaf in ls)


# --- mutations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A corrupted table and how it was made (shown by hypothesis when a case fails)."""

    seed: str
    steps: tuple[str, ...]
    data: bytes
    pair: str
    salt: int = 0  # seeded the mutations; seeds the ids the pipeline looks up


def _max(size: int) -> int:
    return (1 << (8 * size)) - 1


def _candidates(seed: Seed, hot: Hot, data: bytes, bounds: tuple[int, ...]) -> list[int]:
    cur = int.from_bytes(data[hot.offset : hot.offset + hot.size], "little")
    top = _max(hot.size)
    n = len(data)
    if hot.kind == "length":
        values = [0, 1, 2, 3, 4, 19, 20, 23, 24, 27, 28, 35, 36, 71, 72, 73, 96]
        values += [cur - 8, cur - 4, cur - 1, cur + 1, cur + 4, cur + 8, cur + 24, 2 * cur]
        values += [n - hot.offset, n - hot.offset + 1, n, n + 1, top]
    elif hot.kind == "count":
        values = [0, 1, 2, cur - 1, cur + 1, cur + 2, 15, 16, 17, 255, 256, top - 1, top]
    elif hot.kind == "ref":
        values = [0, 1, 2, 3, 35, 36, 37, n - 4, n - 1, n, n + 1, top]
        for b in bounds:
            values += [b, b - 2, b - 1, b + 1, b + 2, b + 4]
    elif hot.kind == "id":
        values = [*seed.ids, 0, 1, cur + 1, top]
    elif hot.kind == "revision":
        values = [0, 1, 2, 3, 4, 255]
    elif hot.kind.startswith("enum:"):
        values = [int(v) for v in hot.kind[5:].split(",")]
    else:
        values = [0, 1, top, cur ^ 1, cur ^ 0x80]
    return sorted({v & top for v in values if v >= 0})


def _one(draw: st.DrawFn, items: Sequence[T]) -> T:
    """One of `items`. Drawing an index keeps hypothesis from hashing big element lists."""
    return items[draw(st.integers(0, len(items) - 1))]


def _either(rng: random.Random, items: Sequence[int], low: int, high: int) -> int:
    """One of `items` half the time, else any integer in [low, high]."""
    return rng.choice(items) if rng.random() < 0.5 else rng.randint(low, high)


def _write(data: bytearray, at: int, size: int, value: int) -> None:
    raw = value.to_bytes(size, "little")
    data[at : at + size] = raw[: max(0, len(data) - at)]


def _window(seed: Seed, rng: random.Random) -> tuple[bytearray, tuple[int, ...]]:
    """The seed, or (usually, for a big one) a valid table of its first k structures."""
    bounds = seed.boundaries
    count = len(bounds) - 1
    fits = max(1, sum(1 for b in bounds[1:] if b - HEADER.size <= BODY_BUDGET))
    if fits == count:
        k = count if rng.random() < 0.5 else rng.randint(1, count)
    elif rng.random() < 1 / 40:
        k = count  # now and then the whole big table
    else:
        k = rng.randint(1, fits)
    end = bounds[k]
    data = bytearray(seed.data[:end])
    _write(data, LENGTH_AT, 4, end)
    data[CHECKSUM_AT] = 0
    data[CHECKSUM_AT] = checksum(bytes(data))
    _note(f"{seed.name}: {'whole table' if k == count else 'prefix'}")
    return data, bounds[: k + 1]


def _resize(
    data: bytearray, seed: Seed, bounds: tuple[int, ...], at: int, delta: int, rng: random.Random
) -> str:
    """Half the time, when bytes were inserted or deleted inside a structure, make its Length
    follow, so that the table still adds up and the change reaches the structure's fields."""
    start = max((b for b in bounds[:-1] if b < at), default=None)
    where, size = seed.length_field
    if start is None or at <= start + where + size or rng.random() < 0.5:
        return ""
    length = int.from_bytes(data[start + where : start + where + size], "little") + delta
    if not 0 <= length <= _max(size):
        return ""
    _write(data, start + where, size, length)
    return f", length @{start} = {length}"


def _mutate(
    op: str, data: bytearray, seed: Seed, bounds: tuple[int, ...], rng: random.Random
) -> str:
    """Apply one mutation in place; say what it did."""
    n = len(data)
    hot = seed.hot[: bisect_right(seed.hot_ends, n)]  # the fields inside the data
    if op == "field" and hot:
        h = rng.choice(hot)
        if h.kind == "ref" and rng.random() < 0.25:
            value = h.base  # the structure names itself: a parent or cache loop
        else:
            values = _candidates(seed, h, bytes(data), bounds)
            value = _either(rng, values, 0, _max(h.size))
        _write(data, h.offset, h.size, value)
        return f"{h.kind} @{h.offset}:{h.size} = {value:#x}"
    if op in ("byte", "header byte") and n:
        at = rng.randrange(min(n, HEADER.size) if op == "header byte" else n)
        data[at] = rng.randrange(256)
        return f"byte @{at} = {data[at]:#04x}"
    if op == "bit" and n:
        at, bit = rng.randrange(n), rng.randrange(8)
        data[at] ^= 1 << bit
        return f"flip @{at} bit {bit}"
    if op == "truncate":
        at = _either(rng, [max(0, min(n, b + d)) for b in bounds for d in (-1, 0, 1)], 0, n)
        del data[at:]
        return f"truncate to {at}"
    if op == "extend":
        extra = rng.randbytes(rng.randint(1, 80))
        data += extra
        return f"extend by {extra.hex()}"
    if op == "insert":
        at = _either(rng, bounds, 0, n)
        extra = rng.randbytes(rng.randint(1, 40))
        data[at:at] = extra
        return f"insert {extra.hex()} @{at}" + _resize(data, seed, bounds, at, len(extra), rng)
    if op == "delete" and n:
        at, size = _either(rng, bounds[:-1], 0, n - 1), rng.randint(1, 32)
        del data[at : at + size]
        return f"delete {size} @{at}" + _resize(data, seed, bounds, at, -size, rng)
    if op == "duplicate" and len(bounds) > 1:
        i, at = rng.randrange(len(bounds) - 1), rng.choice(bounds)
        data[at:at] = data[bounds[i] : bounds[i + 1]]
        return f"duplicate structure @{bounds[i]} to @{at}"
    return f"{op}: nothing to do"


#: Mutation families: byte-level corruption, and corruption of the structure layout.
FIELD_OPS = ("field", "field", "field", "byte", "header byte", "bit")
LAYOUT_OPS = ("field", "truncate", "extend", "insert", "delete", "duplicate", "bit")
#: After mutating: fix the header length and the checksum (usually), one of them, or neither.
FIXES = ("both", "both", "both", "both", "both", "checksum", "length", "none")


@st.composite
def cases(draw: st.DrawFn, kind: str, ops: tuple[str, ...]) -> Case:
    """A corrupted table. Hypothesis picks the seed table and a 64-bit salt; the salt picks
    the window, the mutations, where and what they write, and the repair. Two hypothesis
    choices per case keep its engine (about 0.1 ms a choice) from dominating the run."""
    seed = _one(draw, _seeds(kind))
    salt = draw(st.integers(0, 2**64 - 1))
    rng = random.Random(salt)
    data, bounds = _window(seed, rng)
    steps = [f"salt {salt:#x}", f"window {len(data)} bytes"]
    steps += [_mutate(rng.choice(ops), data, seed, bounds, rng) for _ in range(rng.randint(1, 4))]
    fix = rng.choice(FIXES)
    if fix in ("both", "length") and len(data) >= LENGTH_AT + 4:
        _write(data, LENGTH_AT, 4, len(data))
    if fix in ("both", "checksum") and len(data) > CHECKSUM_AT:
        declared = int.from_bytes(data[LENGTH_AT : LENGTH_AT + 4], "little")
        data[CHECKSUM_AT] = 0
        data[CHECKSUM_AT] = checksum(bytes(data[: max(declared, CHECKSUM_AT + 1)]))
    steps.append(f"fix {fix}")
    return Case(seed.name, tuple(steps), bytes(data), seed.pair, salt)


# --- the pipeline -------------------------------------------------------------------------


class Hang(Exception):
    """A case ran longer than `CASE_TIME_LIMIT`."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise Hang(f"case still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _attempt(signature: str, data: bytes, step: str, call: Callable[[], T]) -> T | None:
    """The result of one pipeline step, or None when it refused the table with a well-formed
    `TableError`. Any other exception propagates and fails the case."""
    try:
        return call()
    except TableError as e:
        assert e.signature == signature, f"{step}: error names table {e.signature}"
        assert 0 <= e.offset <= len(data), f"{step}: offset {e.offset} outside {len(data)} bytes"
        assert e.reason and str(e).startswith(f"{signature} table, offset 0x{e.offset:X}")
        _note(f"{signature} {step}: TableError")
        return None


def _mpam_layout_ok(table: MpamTable, data: bytes) -> None:
    length = table.header.length
    assert HEADER.size <= length <= len(data)
    at = HEADER.size
    for m in table.mscs:
        end = m.offset + m.length
        assert m.offset == at and MSC_NODE.size <= m.length and end <= length
        assert m.interface_type in (0x00, 0x0A)
        assert len(m.resources) == m.num_resources
        r_at = m.offset + MSC_NODE.size
        for r in m.resources:
            assert r.offset == r_at and r.offset + RESOURCE_NODE.size <= end
            assert len(r.dependencies) == r.num_dependencies
            for k, d in enumerate(r.dependencies):
                assert d.offset == r.offset + RESOURCE_NODE.size + k * FUNC_DEP.size
                assert d.offset + FUNC_DEP.size <= end
            r_at = r.offset + RESOURCE_NODE.size + FUNC_DEP.size * len(r.dependencies)
        assert r_at + len(m.trailing) == end
        at = end
    assert sum(m.length for m in table.mscs) == length - HEADER.size


_RESOURCES: dict[tuple[str, bytes], ResourceParse] = {}


def _resources(pair: str, platform_data: bytes, device: Any) -> ResourceParse:
    """parse_resources, remembered per (PPTT, MSC bytes): a device the mutation did not
    touch gives the same answer as in every earlier case, and the large preset's 240 MSCs
    would otherwise dominate the run."""
    key = (pair, platform_data)
    if key not in _RESOURCES:
        _RESOURCES[key] = parse_resources(device, _topology(pair), {})
    return _RESOURCES[key]


def run_mpam(case: Case) -> None:
    data = case.data
    table = _attempt("MPAM", data, "parse", lambda: parse_mpam(data))
    verified = table is not None
    if table is None:
        table = _attempt("MPAM", data, "parse", lambda: parse_mpam(data, verify_checksum=False))
    if table is not None:
        _note(f"MPAM decoded ({'checksum ok' if verified else 'checksum bad'})")
        _mpam_layout_ok(table, data)
        length = table.header.length
        findings = _attempt("MPAM", data, "check", lambda: check_mpam(table))
        for f in findings or ():
            assert 0 <= f.offset < length, f"finding {f} outside the table"
        exported = _attempt("MPAM", data, "export", lambda: mpam_to_dict(table))
        if exported is not None:
            assert exported["length"] == length
            assert [m["offset"] for m in exported["mscs"]] == [m.offset for m in table.mscs]
        listing = _attempt(
            "MPAM",
            data,
            "disassemble",
            lambda: disassemble_mpam(table, data, findings or (), strict=True),
        )
        if listing is not None:
            assert f"Raw Table Data: Length {length} " in listing
    acpi = _attempt("MPAM", data, "msc devices", lambda: parse_msc_devices(data))
    if acpi is None:
        return
    assert acpi.error in (0, -errno.EINVAL)
    if acpi.fw_num_msc >= 0:
        assert len(acpi.devices) <= acpi.fw_num_msc
    else:
        assert acpi.error == -errno.EINVAL, "the counting pass failed, so must the parsing pass"
    if verified:
        # The parser accepted the table: Linux's passes must agree with it.
        assert table is not None
        usable = table.header.revision >= 1
        enabled = [m for m in table.mscs if m.mmio_size]
        assert count_msc(data) == (len(enabled) if usable else 0)
        assert acpi.error == 0
        created = [m for m in enabled if not (m.reserved or m.reserved1 or m.reserved2)]
        assert [d.id for d in acpi.devices] == ([m.identifier for m in created] if usable else [])
        for d, m in zip(acpi.devices, created, strict=False):
            assert d.platform_data == data[m.offset : m.offset + m.length]
    elif table is not None:
        assert acpi.devices == (), "Linux refuses a table with a bad checksum"
    for device in acpi.devices:
        parsed = _resources(case.pair, device.platform_data, device)
        assert parsed.error in (0, -errno.EINVAL)
        for ris in parsed.ris:
            if ris.class_type is ClassType.CACHE:
                assert ris.class_id in _levels(case.pair), f"cache level {ris.class_id}"
            else:
                assert ris.class_type is ClassType.MEMORY
                assert (ris.class_id, ris.component_id) == (255, 0)


def _pptt_layout_ok(pptt: Pptt, data: bytes) -> None:
    length = pptt.header.length
    assert HEADER.size <= length <= len(data)
    at = HEADER.size
    for n in pptt.nodes:
        assert n.offset == at and n.length >= SUBTABLE.size and n.offset + n.length <= length
        if isinstance(n, ProcessorNode):
            assert len(n.private_resources) == n.num_private_resources
            assert PROCESSOR_NODE.size + 4 * n.num_private_resources <= n.length
        elif isinstance(n, CacheNode):
            assert n.length >= CACHE_NODE.size
            assert (n.cache_id is None) == (n.length < CACHE_NODE.size + CACHE_ID.size)
        assert pptt.at(n.offset) is n
        at += n.length
    assert sum(n.length for n in pptt.nodes) == length - HEADER.size


def _topology_ok(pptt: Pptt, topo: CacheTopology, ids: list[int], containers: list[int]) -> None:
    leaves = topo.leaves()
    cpus = set(topo.cpus)
    assert list(topo.cpus) == sorted(cpus) and set(leaves) == cpus
    by_key = {(uid, leaf.level, leaf.type): leaf for uid, ls in leaves.items() for leaf in ls}
    for (uid, level, kind), leaf in by_key.items():
        assert level >= 1 and kind in ("data", "instruction", "unified")
        assert isinstance(pptt.at(leaf.fw_token), ProcessorNode)
        assert uid in leaf.shared_cpus and set(leaf.shared_cpus) <= cpus
        for other in leaf.shared_cpus:
            # Linux sets both cross bits: sharing is symmetric.
            assert uid in by_key[other, level, kind].shared_cpus
    deepest = max((leaf.level for ls in leaves.values() for leaf in ls), default=0)
    for cache_id in ids:
        level = topo.level_from_id(cache_id)
        mask = topo.cpumask_from_id(cache_id)
        assert (level is None) == (not mask)
        assert level is None or 1 <= level <= max(deepest, 1) + 64
        assert set(mask) <= cpus
        if pptt.header.revision < 3:
            assert level is None
    for uid in containers:
        below = topo.cpus_from_container(uid)
        assert set(below) <= cpus and list(below) == sorted(below)


def run_pptt(case: Case) -> None:
    data = case.data
    pptt = _attempt("PPTT", data, "parse", lambda: parse_pptt(data))
    verified = pptt is not None
    if pptt is None:
        pptt = _attempt("PPTT", data, "parse", lambda: parse_pptt(data, verify_checksum=False))
    if pptt is None:
        return
    _note(f"PPTT decoded ({'checksum ok' if verified else 'checksum bad'})")
    _pptt_layout_ok(pptt, data)
    length = pptt.header.length
    findings = _attempt("PPTT", data, "check", lambda: check_pptt(pptt))
    for f in findings or ():
        assert 0 <= f.offset < length, f"finding {f} outside the table"
    topo = _attempt("PPTT", data, "topology", lambda: CacheTopology(pptt))
    if topo is not None:
        rng = random.Random(case.salt)
        ids = _pick(rng, sorted({c.cache_id for c in pptt.caches if c.cache_id is not None}))
        containers = _pick(rng, sorted({p.acpi_processor_id for p in pptt.processors}))
        _attempt("PPTT", data, "topology", lambda: _topology_ok(pptt, topo, ids, containers))
    exported = _attempt("PPTT", data, "export", lambda: pptt_to_dict(pptt))
    if exported is not None:
        assert exported["length"] == length and len(exported["nodes"]) == len(pptt.nodes)
        assert topo is not None, "the export walked a table the topology refused"
        assert exported["cpus"] == list(topo.cpus)
    listing = _attempt(
        "PPTT",
        data,
        "disassemble",
        lambda: disassemble_pptt(pptt, data, findings or (), strict=True),
    )
    if listing is not None:
        assert f"Raw Table Data: Length {length} " in listing


def _pick(rng: random.Random, known: list[int]) -> list[int]:
    """A few ids to look up: up to two the table holds, and an arbitrary one."""
    return [*rng.sample(known, min(2, len(known))), rng.randrange(2**32)]


# --- the tests ----------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(case=cases("mpam", FIELD_OPS))
def test_mpam_field_corruption_is_decoded_or_refused(case: Case) -> None:
    with _time_limit(CASE_TIME_LIMIT):
        run_mpam(case)


@FUZZ_SETTINGS
@given(case=cases("mpam", LAYOUT_OPS))
def test_mpam_layout_corruption_is_decoded_or_refused(case: Case) -> None:
    with _time_limit(CASE_TIME_LIMIT):
        run_mpam(case)


@FUZZ_SETTINGS
@given(case=cases("pptt", FIELD_OPS))
def test_pptt_field_corruption_is_decoded_or_refused(case: Case) -> None:
    with _time_limit(CASE_TIME_LIMIT):
        run_pptt(case)


@FUZZ_SETTINGS
@given(case=cases("pptt", LAYOUT_OPS))
def test_pptt_layout_corruption_is_decoded_or_refused(case: Case) -> None:
    with _time_limit(CASE_TIME_LIMIT):
        run_pptt(case)


@pytest.mark.parametrize("kind", ["mpam", "pptt"])
def test_every_seed_is_a_valid_table(kind: str) -> None:
    """The fuzz starts from valid tables: each seed decodes, and its prefixes do too."""
    seeds = _seeds(kind)
    testdata = list(ACPI_TESTDATA.glob(f"*.{kind}.aml"))
    assert len(seeds) == len(testdata) + len(platform.presets()) >= 2 + len(platform.presets())
    for seed in seeds:
        case = Case(seed.name, (), seed.data, seed.pair)
        if kind == "mpam":
            run_mpam(case)
        else:
            run_pptt(case)
        parse = parse_mpam if kind == "mpam" else parse_pptt
        assert parse(seed.data).header.length == len(seed.data)
        cut = bytearray(seed.data[: seed.boundaries[1]])
        _write(cut, LENGTH_AT, 4, len(cut))
        cut[CHECKSUM_AT] = 0
        cut[CHECKSUM_AT] = checksum(bytes(cut))
        assert parse(bytes(cut)).header.length == seed.boundaries[1]
