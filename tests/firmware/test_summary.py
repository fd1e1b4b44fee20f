"""What Linux makes of a set of tables (mpam.firmware.summary), on the test tables, on built
tables and on tables changed so that Linux keeps MPAM off; and `mpam acpi check` on them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.firmware import build_tables, parse_mpam
from mpam.firmware.mpam_table import MSC_NODE, RESOURCE_NODE
from mpam.firmware.summary import TablesRefused, read_tables, summarise
from mpam.platform import load, presets

from .tables import patch_table

ACPI = Path(__file__).resolve().parents[1] / "data" / "acpi"
MALFORMED = json.loads((ACPI / "malformed" / "README.json").read_text())


def _built(name: str) -> list[tuple[str, bytes]]:
    return list(build_tables(load(name)).items())


@pytest.mark.parametrize("name", presets())
def test_every_preset_is_enabled_with_its_classes(name: str) -> None:
    summary = summarise(read_tables(_built(name)))
    platform = load(name)
    assert summary.enabled, summary.verdict
    assert summary.fw_num_msc == len(summary.devices) == len(platform.mscs)
    assert summary.findings == () and summary.log == ()
    classes = summary.classes()
    assert "L3" in classes and "memory" in classes
    # Every RIS is either in a class or says why it is not.
    assert all(r.klass or r.note.startswith("unused") for r in summary.ris)


def test_rdn2_like_places_the_slices_in_one_l3_component() -> None:
    blobs = [(p.name, p.read_bytes()) for p in sorted(ACPI.glob("rdn2-like.*.aml"))]
    summary = summarise(read_tables(blobs))
    assert summary.classes() == {
        "L3": {49: [(i, 0) for i in range(8)]},
        "memory": {0: [(8, 0), (9, 0)]},
    }
    assert summary.verdict == (
        "MPAM is enabled once all 10 MSCs have probed; resctrl can use the L3 and memory classes"
    )


def test_without_a_pptt_cache_ris_have_no_level_and_mpam_stays_off() -> None:
    summary = summarise(read_tables([("m", (ACPI / "rdn2-like.mpam.aml").read_bytes())]))
    assert not summary.enabled
    assert "8 of the MSCs (identifiers 0, 1, 2, 3, 4, 5, 6, 7) fail to probe" in summary.verdict
    assert {line.text for line in summary.log} == {"ACPI MPAM: Bad level (-2) for cache with id 49"}
    assert list(summary.classes()) == ["memory"]


def test_without_an_srat_every_domain_is_node_0() -> None:
    blobs = [(p.name, p.read_bytes()) for p in sorted(ACPI.glob("two-socket.*.aml"))]
    summary = summarise(read_tables(blobs))
    assert summary.classes()["memory"] == {0: [(20, 0), (21, 0)]}
    with_srat = summarise(read_tables(_built("two-socket")))
    assert with_srat.classes()["memory"] == {0: [(20, 0)], 1: [(21, 0)]}


def test_unused_locators_say_why() -> None:
    summary = summarise(read_tables(_built("two-socket")))
    side = [r for r in summary.ris if r.ris == 1 and r.msc in range(100, 104)]
    assert side and all(r.note == "unused (no memory-side cache class)" for r in side)
    assert [r.klass for r in summary.ris if r.msc == 100] == ["L2", ""]


def test_a_reserved_field_keeps_mpam_off() -> None:
    blobs = dict(_built("rdn2"))
    data = blobs["MPAM.aml"]
    at = parse_mpam(data).mscs[3].offset + MSC_NODE.offset_of("reserved1")
    blobs["MPAM.aml"] = patch_table(data, at, 1, 4)
    summary = summarise(read_tables(list(blobs.items())))
    assert not summary.enabled
    assert summary.verdict.startswith(
        "MPAM stays disabled: Linux counts 10 MSCs but creates only 9"
    )
    assert any("reserved field" in str(f) for f in summary.findings)
    assert [line.text for line in summary.log] == ["ACPI MPAM: Unrecognised MSC, MPAM not usable"]


def test_a_disabled_msc_is_neither_counted_nor_created() -> None:
    blobs = dict(_built("rdn2"))
    data = blobs["MPAM.aml"]
    at = parse_mpam(data).mscs[9].offset + MSC_NODE.offset_of("mmio_size")
    blobs["MPAM.aml"] = patch_table(data, at, 0, 4)
    summary = summarise(read_tables(list(blobs.items())))
    assert summary.fw_num_msc == len(summary.devices) == 9 and summary.enabled


def test_a_reserved_locator_is_unused() -> None:
    blobs = dict(_built("tiny"))
    data = blobs["MPAM.aml"]
    res = parse_mpam(data).mscs[1].resources[0]
    blobs["MPAM.aml"] = patch_table(
        data, res.offset + RESOURCE_NODE.offset_of("locator_type"), 0x7, 1
    )
    summary = summarise(read_tables(list(blobs.items())))
    assert [r.note for r in summary.ris if r.msc == 1] == ["unused (reserved locator type)"]
    assert list(summary.classes()) == ["L3"]


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_tables_are_refused_with_file_offset_and_reason(name: str) -> None:
    path = ACPI / "malformed" / f"{name}.mpam.aml"
    with pytest.raises(TablesRefused) as caught:
        read_tables([(str(path), path.read_bytes())])
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert re.search(r"offset (0x[0-9A-F]+ \(\d+\)|0\b)", text), text


def test_refusals_of_the_set() -> None:
    pptt = (ACPI / "rdn2-like.pptt.aml").read_bytes()
    with pytest.raises(TablesRefused, match="no MPAM table among the files given"):
        read_tables([("p", pptt)])
    with pytest.raises(TablesRefused, match=r"^b: a second PPTT \(the first is a\)$"):
        read_tables([("a", pptt), ("b", pptt)])
    with pytest.raises(
        TablesRefused, match=r"^x: not an MPAM table, PPTT or SRAT: signature 'DSDT'"
    ):
        read_tables([("x", b"DSDT" + bytes(32))])


# -- mpam acpi check ------------------------------------------------------------------------


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["acpi", "check", *args], env={"COLUMNS": "160"})
    return result.exit_code, result.output


@pytest.mark.parametrize("name", presets())
def test_check_summarises_each_built_preset(tmp_path: Path, name: str) -> None:
    for table, data in build_tables(load(name)).items():
        (tmp_path / table).write_bytes(data)
    code, out = _check("--platform", name, str(tmp_path))
    assert code == 0, out
    platform = load(name)
    assert f"Linux counts {len(platform.mscs)} MSCs and creates {len(platform.mscs)}" in out
    assert re.search(r"PARTID/PMG limits: \d+ PARTIDs, \d+ PMGs \(", out)
    assert out.rstrip().endswith("memory classes")
    assert len(out.splitlines()) <= 40  # a screen, whatever the number of MSCs


def test_check_names_a_run_of_msc_by_its_range() -> None:
    code, out = _check(*(str(p) for p in sorted(ACPI.glob("rdn2-like.*.aml"))))
    assert code == 0
    assert re.search(
        r"^0-7 +MMIO 0x100000000 \+ 0x10000 each +16 KiB +error 200-207 \(level\)", out, re.M
    )
    assert "  L3: component 49 (CPUs 0-15): MSC 0-7" in out
    assert "add --platform to probe a modelled machine" in out


def test_check_exits_1_when_linux_keeps_mpam_off() -> None:
    code, out = _check(str(ACPI / "rdn2-like.mpam.aml"))
    assert code == 1
    assert "kernel log (err): ACPI MPAM: Bad level (-2) for cache with id 49 (8 times)" in out
    assert "MPAM stays disabled" in out


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_check_refuses_each_malformed_table_in_one_line(name: str) -> None:
    path = ACPI / "malformed" / f"{name}.mpam.aml"
    code, out = _check(str(path))
    assert code == 1
    assert out.startswith(f"Error: {path}: ") and out.count("\n") == 1, out
    assert "Traceback" not in out


def test_check_refuses_a_missing_file_and_an_empty_directory(tmp_path: Path) -> None:
    code, out = _check(str(tmp_path / "nope.aml"))
    assert (code, out) == (1, f"Error: {tmp_path / 'nope.aml'}: No such file or directory\n")
    code, out = _check(str(tmp_path))
    assert (code, out) == (1, f"Error: {tmp_path}: no .aml files in this directory\n")
