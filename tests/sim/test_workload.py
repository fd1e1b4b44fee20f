"""Workload descriptions: the spec grammar and its canonical form, TOML tables, trace files
(native and valgrind lackey), Zipf and pointer-chase helpers, and set sampling of traces."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from mpam.sim.workload import (
    KINDS,
    LINE,
    MAX_FOOTPRINT,
    TRACE_INSTR,
    TRACE_WRITE,
    Phase,
    Trace,
    Workload,
    WorkloadError,
    chase_cycle,
    format_duration,
    format_size,
    parse_duration,
    parse_workload,
    read_trace,
    sample_trace,
    workload_from_toml,
    zipf_cdf,
)

RD, WR, IF = 0, TRACE_WRITE, TRACE_INSTR  # read, write, instruction fetch


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("traces") / "small.trace"
    path.write_text("R 0x1000\nW 0x1040\nI 0x400000\n")
    return path


# ---------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("stream", "stream"),
        ("stream:footprint=64MiB,cpi=0.5", "stream"),  # both defaults
        ("stream:cpi=1.0,footprint=4096", "stream:footprint=4KiB,cpi=1"),
        (
            "zipf:alpha=1.2,intensity=0.1,footprint=1GiB",
            "zipf:footprint=1GiB,alpha=1.2,intensity=0.1",
        ),
        ("strided:footprint=6400,stride=3", "strided:footprint=6400B,stride=3"),
        ("uniform:write_ratio=0.25", "uniform:writes=0.25"),
        ("uniform:writes=0.25,mlp=8", "uniform:writes=0.25"),  # 8 is uniform's default mlp
        ("chase:mlp=2", "chase:mlp=2"),
        ("stream:footprint=64MB", "stream:footprint=62500KiB"),  # decimal units are exact bytes
        ("stream:footprint=1.5KiB", "stream:footprint=1536B"),
        ("stream:duration=1500us", "stream:duration=1500us"),
        ("stream:duration=1.5s", "stream:duration=1500ms"),
        ("stream:duration=0", "stream"),
        (" stream : cpi = 2 ", "stream:cpi=2"),
        (
            "stream:footprint=64MiB,duration=10ms+chase:footprint=4MiB",
            "stream:duration=10ms+chase:footprint=4MiB",
        ),
        ("zipf:alpha=1e+2", "zipf:alpha=100"),  # '+' before a digit is an exponent, not a phase
        ("zipf:alpha=1e-7", "zipf:alpha=1e-07"),
        ("zipf:alpha=1e20", "zipf:alpha=1e20"),
    ],
)
def test_spec_canonical_form_and_round_trip(spec: str, canonical: str) -> None:
    w = parse_workload(spec)
    assert w.spec == canonical
    assert parse_workload(w.spec) == w
    assert parse_workload(w.spec).spec == canonical


def test_phase_fields_and_kind_defaults() -> None:
    w = parse_workload("strided:footprint=8MiB,stride=4,writes=0.5,cpi=0.8,intensity=0.2")
    (p,) = w.phases
    assert p == Phase(
        "strided", footprint=8 << 20, stride=4, write_ratio=0.5, cpi=0.8, intensity=0.2, mlp=16
    )
    assert (p.alpha, p.duration_ns, p.trace) == (0.99, 0, None)
    mlp = {k: Phase(k).mlp for k in KINDS if k != "trace"}
    assert mlp == {"stream": 32, "uniform": 8, "zipf": 8, "chase": 1, "strided": 16}
    assert isinstance(Phase("stream", cpi=1).cpi, float)


def test_phases_comm_and_repeat() -> None:
    one = parse_workload("chase:footprint=4MiB")
    assert (one.comm, one.repeats) == ("chase", False)
    two = parse_workload("stream:duration=10ms+chase:footprint=4MiB")
    assert [p.kind for p in two.phases] == ["stream", "chase"]
    assert [p.duration_ns for p in two.phases] == [10_000_000, 0]
    assert (two.comm, two.repeats) == ("phased", False)
    loop = parse_workload("stream:duration=1ms+uniform:duration=2ms")
    assert loop.repeats
    assert all(len(parse_workload(k if k != "trace" else "stream").comm) <= 15 for k in KINDS)
    assert Workload((Phase("zipf"),)).spec == "zipf"
    assert Workload([Phase("zipf")]) == parse_workload("zipf")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty workload spec"),
        (
            "strem",
            "unknown workload kind 'strem' (one of stream, uniform, zipf, chase, strided, trace)",
        ),
        ("stream:foo=1", "stream: unknown key 'foo'"),
        ("stream:cpi=0", "stream: cpi must be in (0, 1e+06], got 0"),
        ("stream:cpi=-1.5", "stream: cpi must be in (0, 1e+06], got -1.5"),
        ("stream:cpi=abc", "stream: cpi: not a number: 'abc'"),
        ("stream:cpi=inf", "stream: cpi must be a finite number, got inf"),
        ("stream:cpi=nan", "stream: cpi must be a finite number, got nan"),
        ("stream:cpi", "stream: expected key=value, got 'cpi'"),
        ("stream:cpi=1,", "stream: expected key=value, got ''"),
        ("stream:cpi=1,cpi=2", "stream: key 'cpi' given twice"),
        ("stream:writes=0.1,write_ratio=0.2", "stream: key 'writes' given twice"),
        (
            "stream:intensity=0",
            "stream: intensity must be in (0, 1] (line references per instruction), got 0",
        ),
        (
            "stream:intensity=1.5",
            "stream: intensity must be in (0, 1] (line references per instruction), got 1.5",
        ),
        (
            "stream:mlp=0.5",
            "stream: mlp must be in [1, 1024] (misses a core keeps in flight), got 0.5",
        ),
        ("stream:writes=2", "stream: writes must be in [0, 1], got 2"),
        ("zipf:alpha=0", "zipf: alpha must be > 0, got 0"),
        ("stream:alpha=2", "stream: key 'alpha' does not apply to stream"),
        ("stream:stride=2", "stream: key 'stride' does not apply to stream"),
        ("stream:path=x", "stream: key 'path' does not apply to stream"),
        ("strided:stride=0", "strided: stride must be >= 1, got 0"),
        ("strided:stride=-2", "strided: stride must be >= 1, got -2"),
        ("strided:stride=1.5", "strided: stride: not an integer: '1.5'"),
        (
            "strided:footprint=128,stride=4",
            "strided: footprint (128B) must cover at least one stride (4 lines = 256B)",
        ),
        ("stream:footprint=32", "stream: footprint must be at least one line (64B), got 32B"),
        ("stream:footprint=100", "stream: footprint must be a multiple of 64B, got 100B"),
        ("stream:footprint=0", "stream: footprint: must be positive, got '0'"),
        (
            "stream:footprint=lots",
            "stream: footprint: not a size: 'lots' (use e.g. '64KiB', '8MiB', '51.2GB')",
        ),
        (
            "stream:duration=10x",
            "stream: duration: not a duration: '10x' (use e.g. '10ms', '1s', '250us', '5ns')",
        ),
        ("stream:duration=1.5ns", "stream: duration: not a whole number of nanoseconds: '1.5ns'"),
        ("trace", "trace: needs path=FILE (the trace to replay)"),
        ("trace:footprint=4KiB", "trace: key 'footprint' does not apply to trace"),
        ("trace:writes=0.5", "trace: key 'writes' does not apply to trace"),
        ("stream+chase", "phase 1: stream: needs a duration > 0 (every phase but the last does)"),
        ("stream:duration=1ms+", "phase 2: empty phase (two '+' in a row, or one at an end)"),
        ("stream:duration=1ms+chase:foo=1", "phase 2: chase: unknown key 'foo'"),
        ("stream:duration=1ms+zipf:alpha=0", "phase 2: zipf: alpha must be > 0, got 0"),
    ],
)
def test_spec_errors_name_the_offending_part(spec: str, message: str) -> None:
    with pytest.raises(WorkloadError) as e:
        parse_workload(spec)
    assert str(e.value) == message


def _error(fn: Callable[[], object]) -> str:
    with pytest.raises(WorkloadError) as e:
        fn()
    return str(e.value)


def test_phase_constructor_validates_too(trace_file: Path) -> None:
    trace = read_trace(trace_file)
    # the alias exists in the grammar only
    assert _error(lambda: Phase("lackey")).startswith("unknown workload kind 'lackey'")
    assert _error(lambda: Phase("stream", trace=trace)) == (
        "stream: key 'path' does not apply to stream"
    )
    assert _error(lambda: Phase("stream", footprint=1.5)) == (  # type: ignore[arg-type]
        "stream: footprint must be an integer, got 1.5"
    )
    assert _error(lambda: Phase("stream", cpi="1")) == (  # type: ignore[arg-type]
        "stream: cpi must be a number, got '1'"
    )
    assert _error(lambda: Phase("stream", duration_ns=-1)) == (
        "stream: duration must be 0 to 1000000000s, got -1ns"
    )
    assert _error(lambda: Phase("trace")) == "trace: needs path=FILE (the trace to replay)"
    assert _error(lambda: Workload(())) == "a workload needs at least one phase"
    assert _error(lambda: Workload((Phase("zipf"), Phase("chase")))) == (
        "phase 1: zipf: needs a duration > 0 (every phase but the last does)"
    )


# Random valid phases: every key at a random non-default or default value.
_floats = {
    "cpi": st.floats(min_value=1e-3, max_value=1e3),
    "intensity": st.floats(min_value=1e-6, max_value=1.0),
    "mlp": st.floats(min_value=1.0, max_value=512.0),
    "write_ratio": st.floats(min_value=0.0, max_value=1.0),
}


@st.composite
def _phases(draw: st.DrawFn, trace: Trace) -> Phase:
    kind = draw(st.sampled_from(KINDS))
    kw: dict[str, object] = {k: draw(s) for k, s in _floats.items() if draw(st.booleans())}
    if kind == "trace":
        kw.pop("write_ratio", None)
        return Phase(kind, trace=trace, **kw)  # type: ignore[arg-type]
    lines = draw(st.integers(1, 1 << 26))
    kw["footprint"] = lines * LINE
    if kind == "strided":
        kw["stride"] = draw(st.integers(1, lines))
    if kind == "zipf":
        kw["alpha"] = draw(st.floats(min_value=1e-3, max_value=10.0))
    kw["duration_ns"] = draw(st.integers(0, 10**13))
    return Phase(kind, **kw)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_workloads_round_trip_through_their_spec(
    data: st.DataObject, trace_file: Path
) -> None:
    trace = read_trace(trace_file)
    phases = data.draw(st.lists(_phases(trace), min_size=1, max_size=4))
    phases = [
        p if i == len(phases) - 1 or p.duration_ns else Phase(**{**p.__dict__, "duration_ns": 1})
        for i, p in enumerate(phases)
    ]
    w = Workload(tuple(phases))
    again = parse_workload(w.spec)
    assert again == w
    assert again.spec == w.spec
    assert w.comm == (phases[0].kind if len(phases) == 1 else "phased")


# ---------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10ms", 10_000_000),
        ("1s", 1_000_000_000),
        ("250us", 250_000),
        ("250µs", 250_000),
        ("5ns", 5),
        ("1.5s", 1_500_000_000),
        ("0.001ms", 1_000),
        ("42", 42),
        ("0", 0),
        (" 3 ms ", 3_000_000),
    ],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a duration: ''"),
        ("-1ms", "not a duration: '-1ms'"),
        ("10 parsecs", "not a duration: '10 parsecs'"),
        ("1e3ns", "not a duration: '1e3ns'"),
        ("0.5ns", "not a whole number of nanoseconds: '0.5ns'"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert str(e.value).startswith(message)


@given(st.integers(0, 10**15))
def test_durations_format_exactly(ns: int) -> None:
    text = format_duration(ns)
    assert parse_duration(text) == ns
    assert parse_workload(f"stream:duration={text}").phases[0].duration_ns == ns


@given(st.integers(1, MAX_FOOTPRINT // LINE))
def test_footprints_format_exactly(lines: int) -> None:
    size = lines * LINE
    w = parse_workload(f"uniform:footprint={format_size(size)}")
    assert w.phases[0].footprint == size


def test_format_examples() -> None:
    assert format_duration(10_000_000) == "10ms"
    assert format_duration(1_500) == "1500ns"
    assert format_duration(0) == "0ns"
    assert format_size(64 << 20) == "64MiB"
    assert format_size(100) == "100B"
    assert format_size(3 << 40) == "3TiB"
    assert format_size(1536) == "1536B"


# ---------------------------------------------------------------------------- TOML


def test_workload_from_toml_tables(tmp_path: Path, trace_file: Path) -> None:
    doc = tomllib.loads(
        f"""
        one = "stream:footprint=8MiB"
        table = {{ kind = "zipf", footprint = "64MiB", alpha = 1.2, cpi = 1, duration = "5ms" }}

        [ints]
        kind = "strided"
        footprint = 4096
        stride = 2
        duration = 1000
        write_ratio = 0.5

        [[phased.phases]]
        kind = "stream"
        duration = "10ms"

        [[phased.phases]]
        kind = "lackey"
        path = "{trace_file.name}"
        """
    )
    assert workload_from_toml(doc["one"]) == parse_workload("stream:footprint=8MiB")
    assert workload_from_toml(doc["table"]).spec == "zipf:alpha=1.2,cpi=1,duration=5ms"
    assert (
        workload_from_toml(doc["ints"]).spec
        == "strided:footprint=4KiB,stride=2,writes=0.5,duration=1us"
    )
    w = workload_from_toml(doc["phased"], base_dir=trace_file.parent)
    assert w.comm == "phased"
    assert w.spec == f"stream:duration=10ms+trace:path={trace_file}"
    assert w == parse_workload(w.spec)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "a workload must be a string or a table, got 3"),
        ({}, "a phase table needs kind = one of stream, uniform, zipf, chase, strided, trace"),
        (
            {"kind": "strem"},
            "unknown workload kind 'strem' (one of stream, uniform, zipf, chase, strided, trace)",
        ),
        ({"kind": "stream", "foo": 1}, "stream: unknown key 'foo'"),
        ({"kind": "stream", "cpi": 0}, "stream: cpi must be in (0, 1e+06], got 0"),
        ({"kind": "stream", "cpi": True}, "stream: cpi: not a number: True"),
        ({"kind": "stream", "footprint": [1]}, "stream: footprint: not a size: [1]"),
        ({"kind": "stream", "duration": 1.5}, "stream: duration: not a duration: 1.5"),
        ({"kind": "strided", "stride": "x"}, "strided: stride: not an integer: 'x'"),
        ({"kind": "trace", "path": 7}, "trace: path: not a file name: 7"),
        ({"phases": []}, "phases must be a non-empty array of tables"),
        ({"phases": "stream"}, "phases must be a non-empty array of tables"),
        (
            {"phases": [{"kind": "stream"}], "cpi": 1},
            "a table with phases takes no other keys, got cpi",
        ),
        ({"phases": [{"kind": "stream"}, 5]}, "phase 2: a phase must be a table, got 5"),
        (
            {"phases": [{"kind": "stream"}, {"kind": "chase"}]},
            "phase 1: stream: needs a duration > 0 (every phase but the last does)",
        ),
    ],
)
def test_workload_from_toml_errors(value: object, message: str) -> None:
    with pytest.raises(WorkloadError) as e:
        workload_from_toml(value)  # type: ignore[arg-type]
    assert str(e.value) == message


# ---------------------------------------------------------------------------- zipf, chase


@pytest.mark.parametrize(
    ("n", "alpha"), [(1, 0.99), (2, 1.0), (1000, 0.99), (100_000, 1.2), (4096, 0.5)]
)
def test_zipf_cdf(n: int, alpha: float) -> None:
    cdf = zipf_cdf(n, alpha)
    assert cdf.shape == (n,)
    assert cdf.dtype == np.float64
    assert cdf[-1] == 1.0
    assert np.all(np.diff(cdf) >= 0)
    harmonic = sum(k**-alpha for k in range(1, n + 1))
    assert cdf[0] == pytest.approx(1 / harmonic, rel=1e-12)
    if n > 1:  # rank 1 is 2**-alpha times as popular as rank 0
        assert (cdf[1] - cdf[0]) / cdf[0] == pytest.approx(2**-alpha, rel=1e-9)


def test_zipf_cdf_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        zipf_cdf(0, 1.0)
    with pytest.raises(ValueError, match="alpha > 0"):
        zipf_cdf(10, 0.0)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000, 65_536])
@pytest.mark.parametrize("seed", [0, 7])
def test_chase_cycle_is_one_cycle_through_all_entries(n: int, seed: int) -> None:
    nxt = chase_cycle(n, seed)
    assert nxt.dtype == np.int64
    assert sorted(nxt.tolist()) == list(range(n))  # a permutation
    seen = np.zeros(n, dtype=bool)
    i = 0
    for _ in range(n):
        assert not seen[i]
        seen[i] = True
        i = int(nxt[i])
    assert i == 0 and seen.all()  # back to the start after exactly n steps
    if n > 1:
        assert not np.any(nxt == np.arange(n))  # no entry points to itself


def test_chase_cycle_is_seeded() -> None:
    assert chase_cycle(1, 3).tolist() == [0]
    assert np.array_equal(chase_cycle(1000, 3), chase_cycle(1000, 3))
    assert not np.array_equal(chase_cycle(1000, 3), chase_cycle(1000, 4))
    with pytest.raises(ValueError, match="n >= 1"):
        chase_cycle(0, 1)


# ---------------------------------------------------------------------------- traces


def _refs(trace: Trace) -> list[tuple[int, int]]:
    return list(zip(trace.lines.tolist(), trace.flags.tolist(), strict=True))


def test_read_native_trace(tmp_path: Path) -> None:
    path = tmp_path / "native.trace"
    path.write_text(
        "# a native trace\n"
        "\n"
        "R 0x7ff000\n"
        "W 0x7ff040   # trailing comment\n"
        "  I 0x400000\n"
        "R 4096\n"
        "R 4100\n"  # same line as the one before: kept, not merged
        "w 0X7FF07F\r\n"
    )
    trace = read_trace(path)
    assert trace.path == str(path)
    assert trace.lines.dtype == np.int64 and trace.flags.dtype == np.uint8
    assert _refs(trace) == [
        (0x7FF000 // 64, RD),
        (0x7FF040 // 64, WR),
        (0x400000 // 64, IF),
        (64, RD),
        (64, RD),
        (0x7FF07F // 64, WR),
    ]
    assert len(trace) == 6
    assert trace == read_trace(str(path))


def test_read_lackey_trace(tmp_path: Path) -> None:
    path = tmp_path / "ls.lackey"
    path.write_text(
        "==1234== Lackey, an example Valgrind tool\n"
        "==1234== Command: /bin/ls\n"
        "==1234== \n"
        "I  04016b0,3\n"
        " L 1ffefffd68,8\n"
        " S 1ffefffd60,8\n"
        " M 0421c50,4\n"
        " L 000103c,8\n"  # 0x103c % 64 = 60: spans lines 0x40 and 0x41
        " M 00010bc,8\n"  # spans 0x42 and 0x43: read both, then write both
        "I  0401ffe,16\n"  # an instruction fetch across a line
        " S 0001000,8\n"
        " S 0001000,8\n"  # a duplicate: kept
        "==1234== \n"
        "==1234== Counted 1 call to main()\n"
    )
    assert _refs(read_trace(path)) == [
        (0x04016B0 // 64, IF),
        (0x1FFEFFFD68 // 64, RD),
        (0x1FFEFFFD60 // 64, WR),
        (0x0421C50 // 64, RD),
        (0x0421C50 // 64, WR),
        (0x40, RD),
        (0x41, RD),
        (0x42, RD),
        (0x43, RD),
        (0x42, WR),
        (0x43, WR),
        (0x0401FFE // 64, IF),
        (0x0401FFE // 64 + 1, IF),
        (0x40, WR),
        (0x40, WR),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{f}: empty trace (no references)"),
        ("# only a comment\n\n", "{f}: empty trace (no references)"),
        ("==1== valgrind says hi\n", "{f}: empty trace (no references)"),
        (
            "R 0x10\nX 0x20\n",
            "{f}:2: not a trace line: 'X 0x20' (expected 'R|W|I ADDRESS', e.g. 'W 0x7ff040')",
        ),
        ("R 0x10\nR 0xzz\n", "{f}:2: not a trace line: 'R 0xzz'"),
        (
            "\n# hdr\nhello\n",
            "{f}:3: not a trace line: 'hello' (expected 'R|W|I ADDRESS', e.g. 'R 0x7ff000', "
            "or valgrind lackey output)",
        ),
        (
            "I  0400000,3\nR 0x10\n",
            "{f}:2: not a trace line: 'R 0x10' "
            "(expected a valgrind lackey line, e.g. ' L 1ffefffd68,8')",
        ),
        (" L 10,8\n L 10\n", "{f}:2: not a trace line: 'L 10'"),
        ("R 0x10\nR 0x10000000000000000\n", "{f}:2: address does not fit in 64 bits"),
        (" L 10,8\n S 10000000000000000,8\n", "{f}:2: address does not fit in 64 bits"),
    ],
)
def test_read_trace_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.trace"
    path.write_text(text)
    with pytest.raises(WorkloadError) as e:
        read_trace(path)
    assert str(e.value).startswith(message.format(f=path))


def test_read_trace_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.trace"
    message = f"{missing}: cannot read trace: No such file or directory"
    assert _error(lambda: read_trace(missing)) == message
    assert _error(lambda: parse_workload(f"trace:path={missing}")) == message


def test_read_trace_top_address(tmp_path: Path) -> None:
    path = tmp_path / "top.trace"
    path.write_text("R 0xffffffffffffffff\n")
    assert read_trace(path).lines.tolist() == [(1 << 64) // 64 - 1]


def test_trace_phase_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.trace").write_text("R 0x40\nW 0x80\n")
    w = parse_workload("trace:path=t.trace,intensity=0.3", base_dir=tmp_path)
    (p,) = w.phases
    assert p.kind == "trace" and p.mlp == 4
    assert p.trace is not None and _refs(p.trace) == [(1, RD), (2, WR)]
    assert w.spec == f"trace:path={tmp_path / 't.trace'},intensity=0.3"
    assert parse_workload(w.spec) == w
    monkeypatch.chdir(tmp_path)  # relative to the current directory without base_dir
    cwd = parse_workload("lackey:path=t.trace")
    assert cwd.spec == "trace:path=t.trace" and cwd.comm == "trace"
    assert "references=2" in repr(cwd.phases[0].trace)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_read_a_real_lackey_trace(tmp_path: Path) -> None:
    log = tmp_path / "true.lackey"
    subprocess.run(
        ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", "/bin/true"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    trace = read_trace(log)
    text = log.read_text().splitlines()
    records = [t for t in text if not t.startswith("==") and t.strip()]
    modifies = sum(t.startswith(" M") for t in records)
    assert len(trace) >= len(records) + modifies  # plus the line-spanning accesses
    instr = int(np.count_nonzero(trace.flags & TRACE_INSTR))
    assert instr >= sum(t.startswith("I") for t in records) > 1000
    assert np.count_nonzero(trace.flags & TRACE_WRITE) > 0
    assert not np.any((trace.flags & TRACE_INSTR) & (trace.flags & TRACE_WRITE))
    assert parse_workload(f"lackey:path={log}").phases[0].trace == trace


# ---------------------------------------------------------------------------- sampling

_M64 = (1 << 64) - 1


def _splitmix(x: int) -> int:
    """The splitmix64 finaliser on Python integers: a reference for the vectorised hash."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _kept(line: int, sample: int) -> bool:
    return line % sample == _splitmix(line // sample) % sample


def _trace(lines: NDArray[np.int64], seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    flags = np.asarray(rng.integers(0, 4, lines.shape[0]), dtype=np.uint8)
    return Trace(lines.astype(np.int64), flags, "synthetic")


def test_sample_one_is_the_identity() -> None:
    trace = _trace(np.arange(100))
    assert sample_trace(trace, 1) is trace


@pytest.mark.parametrize("sample", [2, 3, 4, 16, 64])
def test_sampling_follows_the_hash_rule_and_keeps_flags_aligned(sample: int) -> None:
    rng = np.random.default_rng(sample)
    trace = _trace(rng.integers(0, 1 << 50, 20_000), seed=sample)
    keep = np.array([_kept(int(x), sample) for x in trace.lines])
    kept = sample_trace(trace, sample)
    assert kept.path == trace.path
    assert kept.lines.tolist() == (trace.lines[keep] // sample).tolist()
    assert kept.flags.tolist() == trace.flags[keep].tolist()


@pytest.mark.parametrize("sample", [2, 4, 16, 64])
def test_sampling_keeps_one_pseudo_random_line_per_block(sample: int) -> None:
    blocks = 5000
    trace = _trace(np.arange(blocks * sample))
    kept = sample_trace(trace, sample)
    assert kept.lines.tolist() == list(range(blocks))  # exactly one per block, renamed L // s
    positions = {p for p in range(blocks * sample) if _kept(p, sample)}
    assert len({p % sample for p in positions}) == sample  # every position gets chosen somewhere


@pytest.mark.parametrize("sample", [4, 16, 32])
def test_sampling_keeps_about_one_in_sample_of_a_random_trace(sample: int) -> None:
    rng = np.random.default_rng(sample)
    lines = rng.integers(0, 1 << 40, 400_000)
    kept = sample_trace(_trace(lines), sample)
    fraction = len(np.unique(kept.lines)) / len(np.unique(lines))
    assert fraction == pytest.approx(1 / sample, rel=0.05)


@pytest.mark.parametrize("sample", [4, 16])
def test_a_stride_sample_trace_is_not_all_or_nothing(sample: int) -> None:
    trace = _trace(np.arange(0, 100_000 * sample, sample))  # always position 0 of its block
    kept = len(sample_trace(trace, sample))
    assert 0 < kept < len(trace)
    assert kept / len(trace) == pytest.approx(1 / sample, rel=0.1)


def test_sampling_is_deterministic_and_distinct_lines_stay_distinct() -> None:
    rng = np.random.default_rng(5)
    trace = _trace(rng.integers(0, 1 << 30, 50_000))
    a = sample_trace(trace, 8)
    assert a == sample_trace(trace, 8)
    originals = {int(x) for x in trace.lines if _kept(int(x), 8)}
    assert len(np.unique(a.lines)) == len(originals)
    with pytest.raises(WorkloadError, match="sample must be an integer >= 1"):
        sample_trace(trace, 0)
