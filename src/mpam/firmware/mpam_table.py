"""The ACPI MPAM table (DEN0065): its structures, and a parser that never reads past them.

The table is a header followed by MSC nodes back to back; each MSC node is a 72-byte fixed
part, its resource nodes (24 bytes plus 8 per functional dependency) and optional
resource-specific data. There is no node count: a reader walks by each node's Length, so
every length and count is checked against the bytes that are really there before use.

`parse_mpam` refuses what no consumer can decode (truncation, a bad checksum, lengths that
do not add up, counts that overflow their node, a wrong signature) and what Linux refuses
with -EINVAL (an interface type other than MMIO or PCC). What the specification forbids but
Linux tolerates, or skips, is left to `mpam.firmware.check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mpam.firmware.layout import Field, Kind, Layout, TableError, int_fields
from mpam.firmware.sdt import HEADER, TableHeader, parse_header

__all__ = [
    "FUNC_DEP",
    "LOCATOR_LAYOUTS",
    "MSC_NODE",
    "RESOURCE_NODE",
    "FunctionalDependency",
    "InterruptFlags",
    "LocatorType",
    "MpamTable",
    "MscNode",
    "ResourceNode",
    "parse_mpam",
    "parse_msc_node",
]

SIGNATURE = "MPAM"

MSC_NODE = Layout(
    "MSC node",
    Field("length", "Length", 2),
    Field("interface_type", "Interface type", 1),
    Field("reserved", "Reserved", 1, reserved=True),
    Field("identifier", "Identifier", 4),
    Field("base_address", "Base address", 8),
    Field("mmio_size", "MMIO size", 4),
    Field("overflow_gsiv", "Overflow interrupt", 4),
    Field("overflow_flags", "Overflow interrupt flags", 4),
    Field("reserved1", "Reserved1", 4, reserved=True),
    Field("overflow_affinity", "Overflow interrupt affinity", 4),
    Field("error_gsiv", "Error interrupt", 4),
    Field("error_flags", "Error interrupt flags", 4),
    Field("reserved2", "Reserved2", 4, reserved=True),
    Field("error_affinity", "Error interrupt affinity", 4),
    Field("max_nrdy_usec", "MAX_NRDY_USEC", 4),
    Field("linked_hid", "Hardware ID of linked device", 8, Kind.NAME),
    Field("linked_uid", "Instance ID of linked device", 4),
    Field("num_resources", "Number of resource nodes", 4),
)

RESOURCE_NODE = Layout(
    "resource node",
    Field("identifier", "Identifier", 4),
    Field("ris_index", "RIS Index", 1),
    Field("reserved1", "Reserved1", 2, reserved=True),
    Field("locator_type", "Locator type", 1),
    Field("descriptor1", "Descriptor1", 8),
    Field("descriptor2", "Descriptor2", 4),
    Field("num_dependencies", "Number of functional dependencies", 4),
)

FUNC_DEP = Layout(
    "functional dependency",
    Field("producer", "Producer", 4),
    Field("reserved", "Reserved", 4, reserved=True),
)


class LocatorType(IntEnum):
    """Resource locator types (DEN0065 Table 11, ACPICA's names)."""

    PROCESSOR_CACHE = 0x00
    MEMORY = 0x01
    SMMU = 0x02
    MEMORY_CACHE = 0x03
    ACPI_DEVICE = 0x04
    INTERCONNECT = 0x05
    UNKNOWN = 0xFF


#: How each locator type interprets the 12 locator bytes (Descriptor1 u64, Descriptor2 u32).
LOCATOR_LAYOUTS: dict[int, Layout] = {
    LocatorType.PROCESSOR_CACHE: Layout(
        "cache locator",
        Field("cache_reference", "Cache reference", 8),
        Field("locator_reserved", "Reserved", 4, reserved=True),
    ),
    LocatorType.MEMORY: Layout(
        "memory locator",
        Field("proximity_domain", "Proximity domain", 8),
        Field("locator_reserved", "Reserved", 4, reserved=True),
    ),
    LocatorType.SMMU: Layout(
        "SMMU locator",
        Field("smmu_interface", "SMMU Interface", 8),
        Field("locator_reserved", "Reserved", 4, reserved=True),
    ),
    LocatorType.MEMORY_CACHE: Layout(
        "memory-side cache locator",
        Field("locator_reserved", "Reserved", 7, Kind.BYTES, reserved=True),
        Field("level", "Level", 1),
        Field("reference", "Reference", 4),
    ),
    LocatorType.ACPI_DEVICE: Layout(
        "ACPI device locator",
        Field("acpi_hw_id", "ACPI Hardware ID", 8),
        Field("acpi_unique_id", "ACPI Unique ID", 4),
    ),
    LocatorType.INTERCONNECT: Layout(
        "interconnect locator",
        Field("interconnect_desc_tbl_off", "Interconnect descriptor table offset", 8),
        Field("locator_reserved", "Reserved", 4, reserved=True),
    ),
    LocatorType.UNKNOWN: Layout(
        "generic locator",
        Field("descriptor1", "Descriptor1", 8),
        Field("descriptor2", "Descriptor2", 4),
    ),
}

_DESCRIPTORS = Layout("locator", Field("d1", "", 8), Field("d2", "", 4))


@dataclass(frozen=True)
class InterruptFlags:
    """An MSC interrupt's flags word (DEN0065: mode, type, affinity type, affinity valid)."""

    raw: int

    @property
    def edge(self) -> bool:
        return bool(self.raw & 1)

    @property
    def wired(self) -> bool:
        return (self.raw >> 1) & 0b11 == 0

    @property
    def container_affinity(self) -> bool:
        return bool(self.raw & (1 << 3))

    @property
    def affinity_valid(self) -> bool:
        return bool(self.raw & (1 << 4))

    @property
    def reserved_bits(self) -> int:
        return self.raw & ~0x1F & 0xFFFF_FFFF

    def describe(self) -> list[tuple[str, str]]:
        """(label, meaning) for each defined field, for the decoder."""
        kind = (self.raw >> 1) & 0b11
        return [
            ("Mode", "Edge" if self.edge else "Level"),
            ("Type", "Wired" if kind == 0 else f"Reserved ({kind})"),
            ("Affinity Type", "Processor Container" if self.container_affinity else "Processor"),
            ("Affinity Valid", "Valid" if self.affinity_valid else "Not valid"),
        ]


@dataclass(frozen=True)
class FunctionalDependency:
    """A resource node's dependency on another resource node (its producer)."""

    offset: int
    producer: int
    reserved: int


@dataclass(frozen=True)
class ResourceNode:
    """One RIS of an MSC: its index and what it controls (the locator)."""

    offset: int
    identifier: int
    ris_index: int
    reserved1: int
    locator_type: int
    descriptor1: int
    descriptor2: int
    num_dependencies: int
    dependencies: tuple[FunctionalDependency, ...]

    @property
    def locator_layout(self) -> Layout:
        return LOCATOR_LAYOUTS.get(self.locator_type, LOCATOR_LAYOUTS[LocatorType.UNKNOWN])

    def locator(self) -> dict[str, int | bytes]:
        """The locator's fields as its type defines them (e.g. ``cache_reference``)."""
        raw = _DESCRIPTORS.pack({"d1": self.descriptor1, "d2": self.descriptor2})
        return self.locator_layout.unpack(raw, 0, len(raw), SIGNATURE)

    @property
    def locator_name(self) -> str:
        try:
            return LocatorType(self.locator_type).name
        except ValueError:
            return f"RESERVED_{self.locator_type:#04x}"

    @property
    def producers(self) -> tuple[int, ...]:
        return tuple(d.producer for d in self.dependencies)


@dataclass(frozen=True)
class MscNode:
    """An MSC node: the MSC's interface, interrupts, linked device and resource nodes."""

    offset: int
    length: int
    interface_type: int
    reserved: int
    identifier: int
    base_address: int
    mmio_size: int
    overflow_gsiv: int
    overflow_flags: int
    reserved1: int
    overflow_affinity: int
    error_gsiv: int
    error_flags: int
    reserved2: int
    error_affinity: int
    max_nrdy_usec: int
    linked_hid: bytes
    linked_uid: int
    num_resources: int
    resources: tuple[ResourceNode, ...]
    trailing: bytes  # resource-specific data after the last resource node

    @property
    def linked_hid_text(self) -> str:
        """The linked device's _HID as text; empty when the field is all zero (unused)."""
        return self.linked_hid.rstrip(b"\0").decode("latin-1")

    @property
    def overflow(self) -> InterruptFlags:
        return InterruptFlags(self.overflow_flags)

    @property
    def error(self) -> InterruptFlags:
        return InterruptFlags(self.error_flags)


@dataclass(frozen=True)
class MpamTable:
    """A decoded MPAM table."""

    header: TableHeader
    mscs: tuple[MscNode, ...]


def _resource(data: bytes, at: int, end: int, index: int, count_at: int) -> ResourceNode:
    if end - at < RESOURCE_NODE.size:
        count = int.from_bytes(data[count_at : count_at + 4], "little")
        raise TableError(
            SIGNATURE,
            count_at,
            f"resource node count {count} overflows the MSC node: resource node {index} "
            f"would start at 0x{at:X} and needs {RESOURCE_NODE.size} bytes, "
            f"only {max(0, end - at)} remain in the node",
        )
    v = int_fields(RESOURCE_NODE.unpack(data, at, end, SIGNATURE))
    deps_at = at + RESOURCE_NODE.size
    room = (end - deps_at) // FUNC_DEP.size
    n = v["num_dependencies"]
    if n > room:
        raise TableError(
            SIGNATURE,
            at + RESOURCE_NODE.offset_of("num_dependencies"),
            f"functional dependency count {n} overflows the MSC node: room for {room}",
        )
    deps = tuple(
        FunctionalDependency(
            offset=deps_at + k * FUNC_DEP.size,
            **int_fields(FUNC_DEP.unpack(data, deps_at + k * FUNC_DEP.size, end, SIGNATURE)),
        )
        for k in range(n)
    )
    return ResourceNode(offset=at, dependencies=deps, **v)


def parse_msc_node(data: bytes, at: int, table_end: int) -> MscNode:
    """The MSC node at `at`, which must end by `table_end`; `TableError` otherwise."""
    remaining = table_end - at
    if remaining < MSC_NODE.size:
        raise TableError(
            SIGNATURE,
            at,
            f"lengths do not add up: {remaining} bytes remain after the last MSC node, "
            f"fewer than an MSC node's {MSC_NODE.size}-byte fixed part",
        )
    raw = MSC_NODE.unpack(data, at, table_end, SIGNATURE)
    v = int_fields(raw)
    length = v["length"]
    if length < MSC_NODE.size:
        raise TableError(
            SIGNATURE,
            at,
            f"MSC node length {length} is shorter than its {MSC_NODE.size}-byte fixed part",
        )
    if length > remaining:
        raise TableError(
            SIGNATURE,
            at,
            f"MSC node length {length} overlaps the end of the table: only {remaining} "
            f"bytes remain",
        )
    kind = v["interface_type"]
    if kind not in (0x00, 0x0A):
        raise TableError(
            SIGNATURE,
            at + MSC_NODE.offset_of("interface_type"),
            f"bad interface type {kind} (0x{kind:02X}): must be 0x00 (MMIO) or 0x0A (PCC)",
        )
    end = at + length
    count = v["num_resources"]
    resources = []
    r_at = at + MSC_NODE.size
    count_at = at + MSC_NODE.offset_of("num_resources")
    for index in range(count):
        node = _resource(data, r_at, end, index, count_at)
        resources.append(node)
        r_at += RESOURCE_NODE.size + FUNC_DEP.size * len(node.dependencies)
    hid = raw["linked_hid"]
    assert isinstance(hid, bytes)
    return MscNode(
        offset=at, resources=tuple(resources), trailing=bytes(data[r_at:end]), linked_hid=hid, **v
    )


def parse_mpam(data: bytes, *, verify_checksum: bool = True) -> MpamTable:
    """Decode an MPAM table, or raise `TableError` naming the offset and the reason."""
    header = parse_header(data, SIGNATURE, verify=verify_checksum)
    mscs = []
    at = HEADER.size
    while at < header.length:
        node = parse_msc_node(data, at, header.length)
        mscs.append(node)
        at += node.length
    return MpamTable(header, tuple(mscs))
