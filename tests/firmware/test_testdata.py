"""The shared ACPI test tables decode to the fields their expected.json records, and every
malformed table is refused with a message that names its problem.

The tables were checked against ACPICA's disassembler, so they are the independent reference
for the parser; the malformed ones are corruptions of rdn2-like with README.json saying what
is wrong with each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mpam.firmware import (
    CacheTopology,
    TableError,
    mpam_to_dict,
    parse_mpam,
    parse_pptt,
    pptt_to_dict,
)

ACPI = Path(__file__).resolve().parents[1] / "data" / "acpi"
PLATFORMS = ("rdn2-like", "two-socket")

#: What the error for each malformed table must say (README.json gives the problem in words).
MALFORMED = {
    "bad-checksum": r"offset 0x9 .*bad checksum 0xCE.*should be 0xCD",
    "bad-interface-type": r"offset 0x26 .*bad interface type 5\b",
    "msc-length-too-small": r"offset 0x24 .*MSC node length 40 is shorter than its 72-byte",
    "resource-count-overflow": r"offset 0x68 .*resource node count 1000 overflows the MSC node",
    "truncated-body": r"truncated: the table length says 996 bytes, only 986 given",
    "truncated-header": r"truncated: 20 bytes is shorter than an ACPI table header",
    "wrong-signature": r"offset 0x0 .*wrong signature 'MPAN'",
}


def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ACPI / f"{name}.expected.json").read_text())
    return data


def _assert_subset(expected: object, got: object, path: str = "") -> None:
    """Every key and value of `expected` is in `got` (which may hold more keys)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), path
        for key, value in expected.items():
            assert key in got, f"{path}.{key} missing"
            _assert_subset(value, got[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), path
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            _assert_subset(a, b, f"{path}[{i}]")
    else:
        assert got == expected, f"{path}: expected {expected!r}, got {got!r}"


def test_testdata_is_present() -> None:
    assert sorted(p.name for p in ACPI.glob("*.aml")) == sorted(
        f"{n}.{t}.aml" for n in PLATFORMS for t in ("mpam", "pptt")
    )


@pytest.mark.parametrize("name", PLATFORMS)
def test_mpam_decodes_to_expected(name: str) -> None:
    table = parse_mpam((ACPI / f"{name}.mpam.aml").read_bytes())
    _assert_subset(_expected(name)["mpam"], mpam_to_dict(table))


@pytest.mark.parametrize("name", PLATFORMS)
def test_pptt_decodes_to_expected(name: str) -> None:
    pptt = parse_pptt((ACPI / f"{name}.pptt.aml").read_bytes())
    _assert_subset(_expected(name)["pptt"], pptt_to_dict(pptt))


@pytest.mark.parametrize("name", PLATFORMS)
def test_every_processor_cache_locator_resolves(name: str) -> None:
    """Each cache reference of the MPAM table names a PPTT cache, as Linux requires."""
    table = parse_mpam((ACPI / f"{name}.mpam.aml").read_bytes())
    topo = CacheTopology(parse_pptt((ACPI / f"{name}.pptt.aml").read_bytes()))
    refs = [r.descriptor1 for m in table.mscs for r in m.resources if r.locator_type == 0]
    assert refs
    levels = {ref: topo.level_from_id(ref) for ref in refs}
    assert all(level in (2, 3) for level in levels.values()), levels


def test_dependencies_and_pcc_of_two_socket() -> None:
    table = parse_mpam((ACPI / "two-socket.mpam.aml").read_bytes())
    by_id = {m.identifier: m for m in table.mscs}
    assert by_id[20].resources[0].producers == (8192,)
    pcc = by_id[21]
    assert (pcc.interface_type, pcc.base_address, pcc.linked_hid_text) == (0x0A, 3, "ARMHM001")
    assert by_id[10].overflow.edge and by_id[10].error.edge


def test_malformed_readme_lists_every_file() -> None:
    readme = json.loads((ACPI / "malformed" / "README.json").read_text())
    files = {p.name.removesuffix(".mpam.aml") for p in (ACPI / "malformed").glob("*.aml")}
    assert set(readme) == files == set(MALFORMED)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_is_refused_naming_the_problem(name: str) -> None:
    data = (ACPI / "malformed" / f"{name}.mpam.aml").read_bytes()
    with pytest.raises(TableError) as caught:
        parse_mpam(data)
    assert re.search(MALFORMED[name], str(caught.value)), str(caught.value)
    assert 0 <= caught.value.offset <= len(data)


# Two tables compiled by ACPICA's iasl (HEAD, 2026-04-08): the template `iasl -T MPAM` writes
# (ACPICA's dttemplate.h, TemplateMpam), and a table written for these tests that exercises
# interrupts, a linked device, dependencies and the SMMU, memory-side cache and ACPI device
# locators, compiled and round-tripped through iasl's disassembler.
_Z = "00000000" * 8
ACPICA_TEMPLATE = bytes.fromhex(
    "4d50414d fc000000 02 54 484953492020 54454d504c415445 02000000 494e544c 08042620"
    f"6000 00 00 01000000 000000c000000000 00000100 {_Z} 32000000 0000000000000000 00000000"
    " 01000000 11000000 00 0000 01 2000000000000000 00000000 00000000"
    f"7800 00 00 02000000 000000d000000000 00000100 {_Z} 32000000 0000000000000000 00000000"
    " 02000000 12000000 00 0000 00 0100000000000000 00000000 00000000"
    " 13000000 01 0000 00 0200000000000000 00000000 00000000".replace(" ", "")
)
ACPICA_SELF_MADE = bytes.fromhex(
    "4d50414dc400000001e441524d4c5444544553544d50414d01000000494e544c08042620a00000000500"
    "00000000001000000000004000002c0000000100000000000000000000002d00000001000000000000000000"
    "0000640000004143504930303130030000000300000021000000000000030000000000000004070000000200"
    "0000110000000000000012000000000000002200000001000002300000000000000000000000000000002300"
    "00000200000400000000000000000900000000000000"
)


def test_acpica_template() -> None:
    table = parse_mpam(ACPICA_TEMPLATE)
    h = table.header
    assert (h.length, h.revision, h.oem_id, h.oem_table_id) == (252, 2, b"HISI  ", b"TEMPLATE")
    got = [
        (m.offset, m.length, m.identifier, m.base_address, m.mmio_size, m.max_nrdy_usec)
        for m in table.mscs
    ]
    assert got == [
        (0x24, 0x60, 1, 0xC000_0000, 0x10000, 50),
        (0x84, 0x78, 2, 0xD000_0000, 0x10000, 50),
    ]
    resources = [
        (r.offset, r.identifier, r.ris_index, r.locator()) for m in table.mscs for r in m.resources
    ]
    assert resources == [
        (0x6C, 0x11, 0, {"proximity_domain": 0x20, "locator_reserved": 0}),
        (0xCC, 0x12, 0, {"cache_reference": 1, "locator_reserved": 0}),
        (0xE4, 0x13, 1, {"cache_reference": 2, "locator_reserved": 0}),
    ]


def test_acpica_compiled_locators_interrupts_and_dependencies() -> None:
    table = parse_mpam(ACPICA_SELF_MADE)
    (msc,) = table.mscs
    assert (msc.length, msc.identifier, msc.base_address, msc.mmio_size) == (
        0xA0,
        5,
        0x1000_0000,
        0x4000,
    )
    assert (msc.overflow_gsiv, msc.overflow.edge, msc.error_gsiv, msc.error.edge) == (
        0x2C,
        True,
        0x2D,
        True,
    )
    assert (msc.max_nrdy_usec, msc.linked_hid_text, msc.linked_uid) == (100, "ACPI0010", 3)
    memcache, smmu, device = msc.resources
    assert (memcache.offset, memcache.identifier, memcache.locator_name) == (
        0x6C,
        0x21,
        "MEMORY_CACHE",
    )
    assert (memcache.locator()["level"], memcache.locator()["reference"]) == (4, 7)
    assert memcache.producers == (0x11, 0x12)
    assert (smmu.offset, smmu.ris_index, smmu.locator()["smmu_interface"]) == (0x94, 1, 0x30)
    assert (device.offset, device.locator()["acpi_unique_id"]) == (0xAC, 9)
