"""What Linux makes of the MPAM table: devices, the MSC count, resources, and the log lines,
on built tables and on tables altered byte by byte (with the checksum fixed, so that only
the altered field differs).
"""

from __future__ import annotations

import errno

import pytest

from mpam.firmware import (
    CacheTopology,
    ClassType,
    build_tables,
    count_msc,
    parse_mpam,
    parse_msc_devices,
    parse_pptt,
    parse_resources,
)
from mpam.firmware.mpam_table import MSC_NODE, RESOURCE_NODE
from mpam.platform import load, presets
from mpam.platform.model import InterfaceType, ResourceKind

from .tables import patch_table


def _msc_field(data: bytes, index: int, key: str) -> int:
    return parse_mpam(data).mscs[index].offset + MSC_NODE.offset_of(key)


def _texts(result: object, level: str | None = None) -> list[str]:
    log = result.log  # type: ignore[attr-defined]
    return [line.text for line in log if level is None or line.level == level]


@pytest.fixture(scope="module")
def rdn2() -> dict[str, bytes]:
    return build_tables(load("rdn2"))


@pytest.mark.parametrize("name", presets())
def test_every_preset_becomes_devices_and_classes(name: str) -> None:
    platform = load(name)
    tables = build_tables(platform)
    topo = CacheTopology(parse_pptt(tables["PPTT.aml"]))
    pxm = {n.proximity_domain: n.node for n in platform.numa}
    result = parse_msc_devices(tables["MPAM.aml"])
    assert result.error == 0
    assert result.fw_num_msc == len(result.devices) == len(platform.mscs)
    assert _texts(result, "err") == []
    for device, msc in zip(result.devices, platform.mscs, strict=True):
        assert device.name == f"mpam_msc.{msc.identifier}"
        if msc.interface is InterfaceType.PCC:
            assert (device.interface, device.pcc_channel, device.mmio) == (
                "pcc",
                msc.base_address,
                None,
            )
        else:
            assert device.mmio == (msc.base_address, msc.size)
        assert device.not_ready_us == msc.max_nrdy_usec
        names = [i.name for i in device.irqs]
        assert names == [
            w for w in ("overflow", "error") if getattr(msc, f"{w}_interrupt") is not None
        ]
        parsed = parse_resources(device, topo, pxm)
        assert parsed.error == 0
        expected = []
        for ris in msc.ris:
            r = ris.resource
            if r.kind is ResourceKind.CACHE:
                assert r.cache is not None
                cache = platform.cache(r.cache)
                cid = cache.instances[r.instance].cache_id
                expected.append((ris.index, ClassType.CACHE, cache.level, cid))
            elif r.kind is ResourceKind.MEMORY:
                assert r.node is not None
                expected.append((ris.index, ClassType.MEMORY, 255, r.node))
        got = [(x.ris_index, x.class_type, x.class_id, x.component_id) for x in parsed.ris]
        assert got == expected


def test_revision_0_is_ignored(rdn2: dict[str, bytes]) -> None:
    data = patch_table(rdn2["MPAM.aml"], 8, 0, 1)
    result = parse_msc_devices(data)
    assert (count_msc(data), result.devices) == (0, ())
    assert _texts(result) == ["ACPI MPAM: MPAM ACPI table revision 0 not supported"]


def test_mmio_size_0_is_disabled_and_not_counted(rdn2: dict[str, bytes]) -> None:
    data = patch_table(rdn2["MPAM.aml"], _msc_field(rdn2["MPAM.aml"], 2, "mmio_size"), 0, 4)
    result = parse_msc_devices(data)
    assert result.fw_num_msc == len(result.devices) == 9
    assert "ACPI MPAM: MSC.2: marked as disabled" in _texts(result, "debug")
    assert 2 not in [d.id for d in result.devices]


@pytest.mark.parametrize("key", ["reserved", "reserved1", "reserved2"])
def test_reserved_fields_skip_the_msc_but_keep_it_counted(rdn2: dict[str, bytes], key: str) -> None:
    data = rdn2["MPAM.aml"]
    size = 1 if key == "reserved" else 4
    for index in (3, 5):
        data = patch_table(data, _msc_field(data, index, key), 1, size)
    result = parse_msc_devices(data)
    assert result.fw_num_msc == 10 and len(result.devices) == 8  # MPAM can never be enabled
    assert _texts(result, "err") == ["ACPI MPAM: Unrecognised MSC, MPAM not usable"]  # once
    assert [t for t in _texts(result, "debug") if "reserved" in t] == [
        "ACPI MPAM: MSC.3: reserved field set",
        "ACPI MPAM: MSC.5: reserved field set",
    ]


def test_bad_checksum_means_no_table(rdn2: dict[str, bytes]) -> None:
    data = bytearray(rdn2["MPAM.aml"])
    data[9] ^= 0xFF
    result = parse_msc_devices(bytes(data))
    assert (result.fw_num_msc, result.devices) == (0, ())
    assert _texts(result, "warn") == [
        f"ACPI BIOS Warning (bug): Incorrect checksum in table [MPAM] - 0x{data[9]:02X}, "
        f"should be 0x{data[9] ^ 0xFF:02X}"
    ]


def test_lengths_that_do_not_add_up(rdn2: dict[str, bytes]) -> None:
    data = rdn2["MPAM.aml"]
    last = parse_mpam(data).mscs[-1]
    bad = patch_table(data, last.offset, last.length + 4, 2)  # runs past the end
    result = parse_msc_devices(bad)
    assert count_msc(bad) == -errno.EINVAL
    assert result.error == -errno.EINVAL and len(result.devices) == 9
    assert _texts(result, "err") == ["ACPI MPAM: MSC entry overlaps end of ACPI table"]


def test_unknown_interface_type_stops_parsing(rdn2: dict[str, bytes]) -> None:
    data = patch_table(rdn2["MPAM.aml"], _msc_field(rdn2["MPAM.aml"], 4, "interface_type"), 5, 1)
    result = parse_msc_devices(data)
    assert result.fw_num_msc == 10  # the counting pass does not look at the interface
    assert result.error == -errno.EINVAL and [d.id for d in result.devices] == [0, 1, 2, 3]
    assert "ACPI MPAM: MSC.4: unknown interface type" in _texts(result, "debug")


def test_interrupt_flags(rdn2: dict[str, bytes]) -> None:
    data = rdn2["MPAM.aml"]
    # MSC 8 (ddr0): overflow GSIV 220 and error GSIV 230, both level.
    data = patch_table(data, _msc_field(data, 8, "overflow_flags"), 0b11001, 4)  # edge, container
    data = patch_table(data, _msc_field(data, 8, "error_flags"), 0b00011, 4)  # type 1: not wired
    data = patch_table(data, _msc_field(data, 9, "error_flags"), 0b10001, 4)  # edge, processor
    result = parse_msc_devices(data)
    ddr0, ddr1 = result.devices[8], result.devices[9]
    assert ddr0.irqs == ()
    assert [(i.name, i.gsiv, i.edge) for i in ddr1.irqs] == [
        ("overflow", 221, False),
        ("error", 231, True),
    ]
    assert _texts(result, "err") == ["ACPI MPAM: Partitioned interrupts not supported"]


def test_cache_locator_without_a_pptt_cache(rdn2: dict[str, bytes]) -> None:
    data = rdn2["MPAM.aml"]
    res = parse_mpam(data).mscs[0].resources[0]
    at = res.offset + RESOURCE_NODE.offset_of("descriptor1")
    topo = CacheTopology(parse_pptt(rdn2["PPTT.aml"]))
    missing = parse_msc_devices(patch_table(data, at, 50, 8)).devices[0]
    parsed = parse_resources(missing, topo)
    assert (parsed.error, parsed.ris) == (-errno.EINVAL, ())
    assert _texts(parsed) == ["ACPI MPAM: Bad level (-2) for cache with id 50"]
    # Linux takes the reference as 32 bits: the upper half is ignored.
    wide = parse_msc_devices(patch_table(data, at, (1 << 40) | 49, 8)).devices[0]
    (ris,) = parse_resources(wide, topo).ris
    assert (ris.class_type, ris.class_id, ris.component_id) == (ClassType.CACHE, 3, 49)


def test_memory_locator_without_a_known_domain(rdn2: dict[str, bytes]) -> None:
    device = parse_msc_devices(rdn2["MPAM.aml"]).devices[9]
    parsed = parse_resources(device, None, {7: 3})
    assert [(r.class_type, r.component_id) for r in parsed.ris] == [(ClassType.MEMORY, 0)]
    assert _texts(parsed) == ["ACPI MPAM: Bad proximity domain 0, using node 0 instead"]
    mapped = parse_resources(device, None, {0: 3})
    assert [r.component_id for r in mapped.ris] == [3] and mapped.log == ()


def test_processor_container_affinity(rdn2: dict[str, bytes]) -> None:
    data = rdn2["MPAM.aml"]
    at = _msc_field(data, 0, "linked_hid")
    data = patch_table(data, at, int.from_bytes(b"ACPI0010", "little"), 8)
    data = patch_table(data, _msc_field(data, 0, "linked_uid"), 4, 4)
    device = parse_msc_devices(data).devices[0]
    assert (device.cpu_affinity, device.linked_device) == (4, ("ACPI0010", 4))
    topo = CacheTopology(parse_pptt(build_tables(load("rdn2"))["PPTT.aml"]))
    assert topo.cpus_from_container(4) == (8, 9)  # rdn2's cluster 4
    other = parse_msc_devices(patch_table(data, at, int.from_bytes(b"ACPI0007", "little"), 8))
    assert other.devices[0].cpu_affinity is None
