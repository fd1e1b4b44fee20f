"""The ACPI SRAT (System Resource Affinity Table): which NUMA proximity domain each CPU and
each memory range belongs to.

The MPAM driver needs it twice: a memory locator names a proximity domain, which Linux turns
into a NUMA node (pxm_to_node), and a memory class's component reaches the CPUs of that
node. Linux numbers nodes in the order it first meets each proximity domain: the GICC
affinity structures first (arm64's acpi_numa_gicc_affinity_init), then memory affinity.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpam.firmware.layout import Field, Layout, TableError, int_fields
from mpam.firmware.sdt import HEADER, TableHeader, parse_header

__all__ = [
    "GICC_AFFINITY",
    "MEMORY_AFFINITY",
    "SRAT_HEADER",
    "GiccAffinity",
    "MemoryAffinity",
    "NumaMap",
    "Srat",
    "numa_map",
    "parse_srat",
]

SIGNATURE = "SRAT"
#: Where the model puts DRAM: node after node from the usual Arm DRAM base.
DRAM_BASE = 0x8000_0000

SRAT_HEADER = Layout(
    "SRAT fields",
    Field("table_revision", "Table Revision", 4),  # "Reserved1", 1 for compatibility
    Field("reserved", "Reserved", 8, reserved=True),
)

MEMORY_AFFINITY = Layout(
    "memory affinity structure",
    Field("type", "Subtable Type", 1),
    Field("length", "Length", 1),
    Field("proximity_domain", "Proximity Domain", 4),
    Field("reserved1", "Reserved1", 2, reserved=True),
    Field("base_address", "Base Address", 8),
    Field("address_length", "Address Length", 8),
    Field("reserved2", "Reserved2", 4, reserved=True),
    Field("flags", "Flags (decoded below)", 4),
    Field("reserved3", "Reserved3", 8, reserved=True),
)

GICC_AFFINITY = Layout(
    "GICC affinity structure",
    Field("type", "Subtable Type", 1),
    Field("length", "Length", 1),
    Field("proximity_domain", "Proximity Domain", 4),
    Field("acpi_processor_uid", "Acpi Processor UID", 4),
    Field("flags", "Flags (decoded below)", 4),
    Field("clock_domain", "Clock Domain", 4),
)

TYPE_MEMORY = 1
TYPE_GICC = 3
ENABLED = 1


@dataclass(frozen=True)
class MemoryAffinity:
    offset: int
    proximity_domain: int
    base_address: int
    address_length: int
    flags: int


@dataclass(frozen=True)
class GiccAffinity:
    offset: int
    proximity_domain: int
    acpi_processor_uid: int
    flags: int
    clock_domain: int


@dataclass(frozen=True)
class Srat:
    header: TableHeader
    entries: tuple[MemoryAffinity | GiccAffinity, ...]


@dataclass(frozen=True)
class NumaMap:
    """What Linux's NUMA code derives from the SRAT."""

    pxm_to_node: dict[int, int]
    cpu_to_node: dict[int, int]  # ACPI processor UID -> node


def parse_srat(data: bytes, *, verify_checksum: bool = True) -> Srat:
    """Decode an SRAT, or raise `TableError` with the offset and the reason."""
    header = parse_header(data, SIGNATURE, verify=verify_checksum)
    end = header.length
    SRAT_HEADER.unpack(data, HEADER.size, end, SIGNATURE)
    at = HEADER.size + SRAT_HEADER.size
    entries: list[MemoryAffinity | GiccAffinity] = []
    while at < end:
        if end - at < 2:
            raise TableError(SIGNATURE, at, "truncated structure header")
        kind, length = data[at], data[at + 1]
        if length < 2 or at + length > end:
            raise TableError(SIGNATURE, at + 1, f"structure length {length} does not fit the table")
        if kind == TYPE_MEMORY:
            v = int_fields(MEMORY_AFFINITY.unpack(data, at, at + length, SIGNATURE))
            entries.append(
                MemoryAffinity(
                    at, v["proximity_domain"], v["base_address"], v["address_length"], v["flags"]
                )
            )
        elif kind == TYPE_GICC:
            v = int_fields(GICC_AFFINITY.unpack(data, at, at + length, SIGNATURE))
            entries.append(
                GiccAffinity(
                    at,
                    v["proximity_domain"],
                    v["acpi_processor_uid"],
                    v["flags"],
                    v["clock_domain"],
                )
            )
        at += length
    return Srat(header, tuple(entries))


def numa_map(srat: Srat) -> NumaMap:
    """acpi_numa_init on arm64: nodes in order of first appearance, GICC entries first;
    disabled entries are ignored."""
    pxm_to_node: dict[int, int] = {}
    cpu_to_node: dict[int, int] = {}

    def node_of(pxm: int) -> int:
        return pxm_to_node.setdefault(pxm, len(pxm_to_node))

    for e in srat.entries:
        if isinstance(e, GiccAffinity) and e.flags & ENABLED:
            cpu_to_node[e.acpi_processor_uid] = node_of(e.proximity_domain)
    for e in srat.entries:
        if isinstance(e, MemoryAffinity) and e.flags & ENABLED:
            node_of(e.proximity_domain)
    return NumaMap(pxm_to_node, cpu_to_node)
