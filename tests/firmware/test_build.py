"""Tables built from a platform: byte-exact against the ACPI test tables in tests/data/acpi/,
deterministic, and parsed back into the platform's MSCs, resources and cache topology, for
every preset.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from mpam.firmware import (
    CacheLeaf,
    CacheTopology,
    LocatorType,
    build_mpam,
    build_pptt,
    build_tables,
    check_mpam,
    check_pptt,
    parse_mpam,
    parse_pptt,
)
from mpam.platform import Platform, from_toml_text, load, presets
from mpam.platform.model import AccessMode, InterfaceType, Interrupt, ResourceKind

ACPI = Path(__file__).resolve().parents[1] / "data" / "acpi"

_KIND_TO_LOCATOR = {
    ResourceKind.CACHE: LocatorType.PROCESSOR_CACHE,
    ResourceKind.MEMORY: LocatorType.MEMORY,
    ResourceKind.SMMU: LocatorType.SMMU,
    ResourceKind.MEMORY_SIDE_CACHE: LocatorType.MEMORY_CACHE,
    ResourceKind.ACPI_DEVICE: LocatorType.ACPI_DEVICE,
    ResourceKind.INTERCONNECT: LocatorType.INTERCONNECT,
    ResourceKind.UNKNOWN: LocatorType.UNKNOWN,
}

#: A platform whose one extra MSC uses every locator type and every interrupt flag.
EVERY_LOCATOR = """\
name = "locators"
description = "every locator type"

[topology]
packages = 2
clusters_per_package = 2
cores_per_cluster = 2
threads_per_core = 2

[[cache]]
name = "L1D"
level = 1
type = "data"
size = "32KiB"
ways = 4
shared_by = "core"
id_base = 100

[[cache]]
name = "L2"
level = 2
size = "512KiB"
ways = 8
shared_by = "cluster"
id_base = 200

[[cache]]
name = "SLC"
level = 3
size = "4MiB"
ways = 16
shared_by = "system"
ids = [7]

[[numa]]
node = 0
proximity_domain = 5
cpus = "0-7"
memory = "1GiB"
bandwidth = "10GB/s"
latency_ns = 80

[[numa]]
node = 1
proximity_domain = 9
cpus = "8-15"
memory = "1GiB"
bandwidth = "10GB/s"
latency_ns = 80

[features.plain]
partid_max = 15
pmg_max = 0
mbw = { bwa_wd = 8, has_max = true }

[[msc]]
name = "everything"
identifier = 77
base_address = 0x2000_0000
size = 0x4000
max_nrdy_usec = 250
linked_device = { hid = "ACPI0010", uid = 1 }
overflow_interrupt = { gsiv = 40, mode = "edge", affinity = 3 }
error_interrupt = { gsiv = 41, affinity = 1, affinity_is_container = true }
ris = [
    { index = 0, identifier = 1, resource = { kind = "cache", cache = "L2", instance = 3 }, features = "plain" },
    { index = 1, identifier = 2, resource = { kind = "memory", node = 1 }, features = "plain", dependencies = [1] },
    { index = 2, identifier = 3, resource = { kind = "smmu", reference = 0x30 }, features = "plain" },
    { index = 3, identifier = 4, resource = { kind = "memory_side_cache", level = 4, reference = 7 }, features = "plain", dependencies = [1, 2] },
    { index = 4, identifier = 5, resource = { kind = "acpi_device", hid = 0x4142, reference = 9 }, features = "plain" },
    { index = 5, identifier = 6, resource = { kind = "interconnect", descriptor1 = 0x100 }, features = "plain" },
    { index = 6, identifier = 7, resource = { kind = "unknown", descriptor1 = 0x1234, descriptor2 = 0x56 }, features = "plain" },
    { index = 7, identifier = 8, resource = { kind = "cache", cache = "SLC" }, features = "plain" },
]

[[msc]]
name = "firmware"
identifier = 78
interface = "pcc"
pcc_subspace = 2
pcc_latency_usec = 100
size = 0x1000
ris = [{ index = 0, identifier = 9, resource = { kind = "memory", node = 0 }, features = "plain" }]
"""


def _platforms() -> list[Platform]:
    return [load(name) for name in presets()] + [from_toml_text(EVERY_LOCATOR)]


PLATFORMS = _platforms()
IDS = [p.name for p in PLATFORMS]


def test_default_mpam_table_matches_the_reference_bytes() -> None:
    assert build_mpam(load("rdn2")) == (ACPI / "rdn2-like.mpam.aml").read_bytes()


def test_two_socket_mpam_table_matches_the_reference_but_for_the_pcc_enable() -> None:
    """tests/data/acpi/two-socket.mpam.aml gives its PCC MSC an MMIO size of 0x4000; DEN0065
    3.0 makes that field the PCC MSC's enable status (0 or 1), and Linux skips an MSC whose
    size is 0, so the builder writes 1. Every other byte is that test table's."""
    reference = bytearray((ACPI / "two-socket.mpam.aml").read_bytes())
    pcc = parse_mpam(bytes(reference)).mscs[-1]
    assert pcc.interface_type == 0x0A and pcc.mmio_size == 0x4000
    at = pcc.offset + 16  # MMIOSize
    reference[at : at + 4] = (1).to_bytes(4, "little")
    reference[9] = 0
    reference[9] = -sum(reference) & 0xFF
    assert build_mpam(load("two-socket")) == bytes(reference)


def test_default_pptt_matches_the_reference_bytes() -> None:
    assert build_pptt(load("rdn2")) == (ACPI / "rdn2-like.pptt.aml").read_bytes()


def test_two_socket_pptt_gives_the_reference_cacheinfo() -> None:
    """two-socket's L2 is a private resource of its cluster, where the test table
    (tests/data/acpi/two-socket.pptt.aml) repeats it under each core with the same id:
    different bytes, the same caches for Linux."""
    ours = CacheTopology(parse_pptt(build_pptt(load("two-socket")))).leaves()
    theirs = CacheTopology(parse_pptt((ACPI / "two-socket.pptt.aml").read_bytes())).leaves()

    def seen(leaves: dict[int, list[CacheLeaf]]) -> list[tuple[object, ...]]:
        return [
            (uid, c.level, c.type, c.id, c.size, c.ways, c.sets, c.line_size, c.shared_cpus)
            for uid, caches in leaves.items()
            for c in caches
        ]

    assert seen(ours) == seen(theirs)


def _digest(name: str) -> str:
    code = (
        "import hashlib, sys; from mpam.firmware import build_tables; "
        "from mpam.platform import load; t = build_tables(load(sys.argv[1])); "
        "print(hashlib.sha256(t['MPAM.aml'] + t['PPTT.aml']).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, name], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_default_tables_reproduce_across_runs() -> None:
    """Two fresh interpreters (different hash seeds) build the same bytes as this one."""
    here = build_tables(load("rdn2"))
    digest = hashlib.sha256(here["MPAM.aml"] + here["PPTT.aml"]).hexdigest()
    assert _digest("rdn2") == _digest("rdn2") == digest


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
def test_tables_are_valid(platform: Platform) -> None:
    tables = build_tables(platform)
    for data in tables.values():
        assert sum(data) % 256 == 0
        assert int.from_bytes(data[4:8], "little") == len(data)
    mpam = parse_mpam(tables["MPAM.aml"])
    pptt = parse_pptt(tables["PPTT.aml"])
    assert pptt.header.revision == 3
    assert mpam.header.revision == platform.firmware.mpam_revision
    findings = check_mpam(mpam)
    assert [f for f in findings if f.violation] == []
    partitioned = [
        m
        for m in platform.mscs
        for irq in (m.overflow_interrupt, m.error_interrupt)
        if irq is not None and irq.affinity is not None and irq.affinity_is_container
    ]
    assert [f.linux for f in findings] == [
        "'Partitioned interrupts not supported': no error interrupt" for _ in partitioned
    ]
    assert check_pptt(pptt) == []


def _irq_fields(irq: Interrupt | None) -> tuple[int, bool, bool, bool, int]:
    if irq is None:
        return (0, False, False, False, 0)
    return (
        irq.gsiv,
        irq.mode is AccessMode.EDGE,
        irq.affinity is not None,
        irq.affinity is not None and irq.affinity_is_container,
        irq.affinity or 0,
    )


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
def test_mpam_table_gives_back_every_msc(platform: Platform) -> None:
    tables = build_tables(platform)
    mpam = parse_mpam(tables["MPAM.aml"])
    topo = CacheTopology(parse_pptt(tables["PPTT.aml"]))
    assert len(mpam.mscs) == len(platform.mscs)
    for node, msc in zip(mpam.mscs, platform.mscs, strict=True):
        assert node.identifier == msc.identifier
        assert node.interface_type == msc.interface.value
        pcc = msc.interface is InterfaceType.PCC
        assert (node.base_address, node.mmio_size) == (msc.base_address, 1 if pcc else msc.size)
        assert node.max_nrdy_usec == msc.max_nrdy_usec
        for which in ("overflow", "error"):
            flags = getattr(node, which)
            got = (
                getattr(node, f"{which}_gsiv"),
                flags.edge,
                flags.affinity_valid,
                flags.container_affinity,
                getattr(node, f"{which}_affinity"),
            )
            assert got == _irq_fields(getattr(msc, f"{which}_interrupt"))
        linked = (msc.linked_device.hid, msc.linked_device.uid) if msc.linked_device else ("", 0)
        assert (node.linked_hid_text, node.linked_uid) == linked
        assert len(node.resources) == len(msc.ris)
        for res, ris in zip(node.resources, msc.ris, strict=True):
            assert (res.identifier, res.ris_index) == (ris.identifier, ris.index)
            assert res.producers == ris.dependencies
            kind = ris.resource.kind
            assert res.locator_type == _KIND_TO_LOCATOR[kind]
            loc = res.locator()
            r = ris.resource
            if kind is ResourceKind.CACHE:
                assert r.cache is not None
                cache = platform.cache(r.cache)
                instance = cache.instances[r.instance]
                assert loc["cache_reference"] == instance.cache_id
                assert topo.level_from_id(instance.cache_id) == cache.level
                uids = {platform.cpus[c].acpi_uid for c in instance.cpus}
                assert set(topo.cpumask_from_id(instance.cache_id)) == uids
            elif kind is ResourceKind.MEMORY:
                assert r.node is not None
                assert loc["proximity_domain"] == platform.node(r.node).proximity_domain
            elif kind is ResourceKind.SMMU:
                assert loc["smmu_interface"] == r.reference
            elif kind is ResourceKind.MEMORY_SIDE_CACHE:
                assert (loc["level"], loc["reference"]) == (r.level, r.reference)
            elif kind is ResourceKind.ACPI_DEVICE:
                assert (loc["acpi_hw_id"], loc["acpi_unique_id"]) == (r.hid, r.reference)
            else:
                assert (res.descriptor1, res.descriptor2) == (r.descriptor1, r.descriptor2)


@pytest.mark.parametrize("platform", PLATFORMS, ids=IDS)
def test_pptt_gives_back_the_cache_topology(platform: Platform) -> None:
    leaves = CacheTopology(parse_pptt(build_pptt(platform))).leaves()
    assert list(leaves) == [cpu.acpi_uid for cpu in platform.cpus]
    for cpu in platform.cpus:
        expected = sorted(
            (
                c.level,
                {"data": 0, "instruction": 1, "unified": 2}[c.type],
                c.type,
                inst.cache_id,
                c.size,
                c.ways,
                c.sets,
                c.line_size,
                tuple(platform.cpus[i].acpi_uid for i in inst.cpus),
            )
            for c in platform.caches
            for inst in c.instances
            if cpu.index in inst.cpus
        )
        got = [
            (c.level, c.type, c.id, c.size, c.ways, c.sets, c.line_size, c.shared_cpus)
            for c in leaves[cpu.acpi_uid]
        ]
        assert got == [e[:1] + e[2:] for e in expected]


def test_every_locator_platform_layout() -> None:
    """SMT cores, a cluster-shared L2 and a system cache over two packages (a root node)."""
    pptt = parse_pptt(build_pptt(from_toml_text(EVERY_LOCATOR)))
    roots = [n for n in pptt.processors if n.parent == 0]
    assert len(roots) == 1 and not roots[0].has(1)  # one root above the packages
    packages = [n for n in pptt.processors if n.has(1)]
    assert [p.parent for p in packages] == [roots[0].offset] * 2
    threads = [n for n in pptt.processors if n.has(4)]
    assert len(threads) == 16 and all(t.has(8) for t in threads)


def test_header_ids_and_revision_come_from_the_platform() -> None:
    tiny = parse_mpam(build_mpam(load("tiny"))).header
    assert (tiny.revision, tiny.oem_id, tiny.oem_table_id) == (1, b"ARMLTD", b"TINY    ")
    assert (tiny.creator_id, tiny.creator_revision) == (b"MPTK", 0x20261121)
    custom = from_toml_text(
        EVERY_LOCATOR
        + '\n[firmware]\noem_id = "VENDOR"\nmpam_table_id = "M1"\nmpam_revision = 3\n'
        + 'creator_id = "ABC"\ncreator_revision = 7\noem_revision = 9\n'
    )
    h = parse_mpam(build_mpam(custom)).header
    assert (h.revision, h.oem_id, h.oem_table_id, h.oem_revision) == (3, b"VENDOR", b"M1      ", 9)
    assert (h.creator_id, h.creator_revision) == (b"ABC ", 7)
    assert parse_pptt(build_pptt(custom)).header.oem_table_id == b"LOCATORS"
