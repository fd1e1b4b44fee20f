"""`mpam acpi build` and `mpam acpi decode` from the command line, on real table files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.firmware import build_tables, mpam_to_dict, parse_mpam, parse_pptt, pptt_to_dict
from mpam.platform import load

ACPI = Path(__file__).resolve().parents[1] / "data" / "acpi"


def _run(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_build_writes_both_tables(tmp_path: Path) -> None:
    code, out = _run("acpi", "build", "--platform", "two-socket", "--out", str(tmp_path / "t"))
    assert code == 0
    tables = build_tables(load("two-socket"))
    for name, data in tables.items():
        assert (tmp_path / "t" / name).read_bytes() == data
        assert f"{tmp_path / 't' / name}: {len(data)} bytes" in out


def test_build_refuses_an_unknown_platform(tmp_path: Path) -> None:
    code, out = _run("acpi", "build", "-p", "nonesuch", "--out", str(tmp_path))
    assert code != 0 and "no preset named 'nonesuch'" in out
    assert list(tmp_path.iterdir()) == []


def test_decode_mpam_lists_every_field_with_its_offset() -> None:
    path = ACPI / "two-socket.mpam.aml"
    code, out = _run("acpi", "decode", str(path))
    assert code == 0
    table = parse_mpam(path.read_bytes())
    for msc in table.mscs:
        assert f"[{msc.offset:03X}h {msc.offset:04d} 002h]                      Length : " in out
        at = msc.offset + 4
        assert (
            f"[{at:03X}h {at:04d} 004h]                  Identifier : {msc.identifier:08X}" in out
        )
        for res in msc.resources:
            assert f"[{res.offset:03X}h {res.offset:04d} 004h]" in out
    assert "Locator type : 03 [Memory-side cache]" in out
    assert 'Hardware ID of linked device : "ARMHM001"' in out
    assert "Mode : 1 [Edge]" in out  # the L3 MSCs' interrupts are edge-triggered
    assert "[504h 1284 004h]                    Producer : 00002000" in out
    assert out.rstrip().endswith("0570: 00 00 00 00                                      // ....")


def test_decode_pptt_shows_cacheinfo() -> None:
    code, out = _run("acpi", "decode", str(ACPI / "rdn2-like.pptt.aml"))
    assert code == 0
    assert "Subtable Type : 00 [Processor Hierarchy Node]" in out
    assert (
        " *   CPU  15: L3 unified     id 0x31       8388608 B  16-way   8192 sets  64 B; CPUs 0-15"
        in out
    )


@pytest.mark.parametrize("kind", ["mpam", "pptt"])
def test_decode_json_from_stdin(kind: str) -> None:
    data = (ACPI / f"rdn2-like.{kind}.aml").read_bytes()
    code, out = _run("acpi", "decode", "--json", "-", stdin=data)
    assert code == 0
    record = json.loads(out)
    expected = mpam_to_dict(parse_mpam(data)) if kind == "mpam" else pptt_to_dict(parse_pptt(data))
    assert record.pop("findings") == []
    assert record == json.loads(json.dumps(expected))


def test_strict_reports_every_deviation_and_fails() -> None:
    """The two-socket reference gives its PCC MSC an MMIO size: Linux does not mind, the
    specification does."""
    path = str(ACPI / "two-socket.mpam.aml")
    code, out = _run("acpi", "decode", path)
    assert code == 0 and "PCC MSC has MMIO size" not in out
    code, out = _run("acpi", "decode", "--strict", path)
    assert code == 1
    assert " *   0x051C: PCC MSC has MMIO size 16384: DEN0065 wants 0 (2.0)" in out
    code, out = _run("acpi", "decode", "--strict", "--json", path)
    assert code == 1 and json.loads(out)["findings"][0]["offset"] == 0x51C


def test_decode_refuses_corrupt_tables() -> None:
    code, out = _run("acpi", "decode", str(ACPI / "malformed" / "truncated-body.mpam.aml"))
    assert code == 1
    assert "truncated: the table length says 996 bytes, only 986 given" in out
    assert "[000h" not in out
    code, out = _run("acpi", "decode", "-", stdin=b"RSDT" + bytes(40))
    assert code == 1 and "not an MPAM table, PPTT or SRAT: signature 'RSDT'" in out
    code, out = _run("acpi", "decode", "-", stdin=b"MP")
    assert code == 1 and "not an MPAM table, PPTT or SRAT" in out
