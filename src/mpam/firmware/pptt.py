"""The ACPI PPTT (Processor Properties Topology Table): its structures and a bounded parser.

The PPTT is an inverted tree: processor hierarchy nodes point to their parent, and list the
caches private to them; each cache points to the next level of cache. All references are
byte offsets from the start of the table. The parser only decodes the structures; following
references (and refusing the ones that lead nowhere, as Linux does) is `mpam.firmware.cacheinfo`'s
job. Revision 3 added the 32-bit Cache ID that MPAM processor-cache locators refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from mpam.firmware.layout import Field, Layout, TableError
from mpam.firmware.sdt import HEADER, TableHeader, parse_header

__all__ = [
    "CACHE_NODE",
    "CACHE_TYPE_NAMES",
    "PRIVATE_RESOURCE",
    "PROCESSOR_NODE",
    "SUBTABLE",
    "CacheFlags",
    "CacheNode",
    "OtherNode",
    "Pptt",
    "ProcessorFlags",
    "ProcessorNode",
    "parse_pptt",
]

SIGNATURE = "PPTT"

SUBTABLE = Layout(
    "subtable header",
    Field("type", "Subtable Type", 1),
    Field("length", "Length", 1),
    Field("reserved", "Reserved", 2, reserved=True),
)

PROCESSOR_NODE = Layout(
    "processor hierarchy node",
    *SUBTABLE.fields,
    Field("flags", "Flags (decoded below)", 4),
    Field("parent", "Parent", 4),
    Field("acpi_processor_id", "ACPI Processor ID", 4),
    Field("num_private_resources", "Private Resource Number", 4),
)

CACHE_NODE = Layout(
    "cache type structure",
    *SUBTABLE.fields,
    Field("flags", "Flags (decoded below)", 4),
    Field("next_level", "Next Level of Cache", 4),
    Field("size", "Size", 4),
    Field("number_of_sets", "Number of Sets", 4),
    Field("associativity", "Associativity", 1),
    Field("attributes", "Attributes", 1),
    Field("line_size", "Line Size", 2),
)

#: Revision 3 appends the Cache ID to the cache type structure.
CACHE_ID = Layout("cache id", Field("cache_id", "Cache ID", 4))

PRIVATE_RESOURCE = Layout("private resource", Field("ref", "Private Resource", 4))

TYPE_PROCESSOR = 0
TYPE_CACHE = 1

#: Attributes bits [3:2]: 0 data, 1 instruction, 2 and 3 unified (3 is ACPICA's "unified alt").
CACHE_TYPE_NAMES = ("data", "instruction", "unified", "unified")


class ProcessorFlags:
    """Processor hierarchy node flag bits (ACPI 6.5 Table 5.158)."""

    PHYSICAL_PACKAGE = 1 << 0
    ID_VALID = 1 << 1
    THREAD = 1 << 2
    LEAF = 1 << 3
    IDENTICAL = 1 << 4
    NAMES = (
        "Physical package",
        "ACPI Processor ID valid",
        "Processor is a thread",
        "Node is a leaf",
        "Identical Implementation",
    )


class CacheFlags:
    """Cache type structure flag bits: which properties are valid (ACPI 6.5 Table 5.160)."""

    SIZE = 1 << 0
    SETS = 1 << 1
    ASSOCIATIVITY = 1 << 2
    ALLOCATION = 1 << 3
    TYPE = 1 << 4
    WRITE_POLICY = 1 << 5
    LINE_SIZE = 1 << 6
    CACHE_ID = 1 << 7
    ALL = 0xFF
    NAMES = (
        "Size valid",
        "Number of Sets valid",
        "Associativity valid",
        "Allocation Type valid",
        "Cache Type valid",
        "Write Policy valid",
        "Line Size valid",
        "Cache ID valid",
    )


@dataclass(frozen=True)
class ProcessorNode:
    """A processor hierarchy node: a package, cluster, core or thread."""

    offset: int
    type: int
    length: int
    reserved: int
    flags: int
    parent: int
    acpi_processor_id: int
    num_private_resources: int
    private_resources: tuple[int, ...]

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


@dataclass(frozen=True)
class CacheNode:
    """A cache type structure; `cache_id` is None in structures without the revision-3 field."""

    offset: int
    type: int
    length: int
    reserved: int
    flags: int
    next_level: int
    size: int
    number_of_sets: int
    associativity: int
    attributes: int
    line_size: int
    cache_id: int | None

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    @property
    def cache_type(self) -> str:
        """ "data", "instruction" or "unified" from Attributes bits [3:2]."""
        return CACHE_TYPE_NAMES[(self.attributes >> 2) & 0b11]

    @property
    def allocation_type(self) -> int:
        return self.attributes & 0b11

    @property
    def write_through(self) -> bool:
        return bool(self.attributes & (1 << 4))


@dataclass(frozen=True)
class OtherNode:
    """A structure of a type this model does not interpret (the deprecated ID structure, or a
    type from a later ACPI version), kept as bytes."""

    offset: int
    type: int
    length: int
    body: bytes


@dataclass(frozen=True)
class Pptt:
    """A decoded PPTT: its structures in table order, found by offset."""

    header: TableHeader
    nodes: tuple[ProcessorNode | CacheNode | OtherNode, ...]

    def at(self, offset: int) -> ProcessorNode | CacheNode | OtherNode | None:
        """The structure starting at `offset`, or None when no structure starts there."""
        return self._by_offset.get(offset)

    @cached_property
    def _by_offset(self) -> dict[int, ProcessorNode | CacheNode | OtherNode]:
        return {n.offset: n for n in self.nodes}

    @cached_property
    def parents(self) -> frozenset[int]:
        """Offsets that some processor node names as its parent."""
        return frozenset(n.parent for n in self.processors)

    @cached_property
    def processors(self) -> tuple[ProcessorNode, ...]:
        return tuple(n for n in self.nodes if isinstance(n, ProcessorNode))

    @cached_property
    def caches(self) -> tuple[CacheNode, ...]:
        return tuple(n for n in self.nodes if isinstance(n, CacheNode))


def _processor(data: bytes, at: int, end: int) -> ProcessorNode:
    v = PROCESSOR_NODE.unpack(data, at, end, SIGNATURE)
    n = v["num_private_resources"]
    assert isinstance(n, int)
    room = (end - at - PROCESSOR_NODE.size) // PRIVATE_RESOURCE.size
    if n > room:
        raise TableError(
            SIGNATURE,
            at + PROCESSOR_NODE.offset_of("num_private_resources"),
            f"private resource count {n} overflows the processor node of length "
            f"{end - at}: room for {room}",
        )
    first = at + PROCESSOR_NODE.size
    refs = tuple(
        int.from_bytes(data[first + 4 * k : first + 4 * k + 4], "little") for k in range(n)
    )
    return ProcessorNode(offset=at, private_resources=refs, **v)  # type: ignore[arg-type]


def _cache(data: bytes, at: int, end: int) -> CacheNode:
    v = CACHE_NODE.unpack(data, at, end, SIGNATURE)
    cache_id = None
    if end - at >= CACHE_NODE.size + CACHE_ID.size:
        cache_id = int.from_bytes(data[at + CACHE_NODE.size : at + CACHE_NODE.size + 4], "little")
    return CacheNode(offset=at, cache_id=cache_id, **v)  # type: ignore[arg-type]


def parse_pptt(data: bytes, *, verify_checksum: bool = True) -> Pptt:
    """Decode a PPTT, or raise `TableError` naming the offset and the reason."""
    header = parse_header(data, SIGNATURE, verify=verify_checksum)
    nodes: list[ProcessorNode | CacheNode | OtherNode] = []
    at = HEADER.size
    while at < header.length:
        head = SUBTABLE.unpack(data, at, header.length, SIGNATURE, "a structure header")
        kind, length = head["type"], head["length"]
        assert isinstance(kind, int) and isinstance(length, int)
        if length < SUBTABLE.size:
            raise TableError(
                SIGNATURE, at + 1, f"structure length {length} is shorter than its 4-byte header"
            )
        end = at + length
        if end > header.length:
            raise TableError(
                SIGNATURE,
                at + 1,
                f"structure length {length} overlaps the end of the table: only "
                f"{header.length - at} bytes remain",
            )
        if kind == TYPE_PROCESSOR:
            nodes.append(_processor(data, at, end))
        elif kind == TYPE_CACHE:
            nodes.append(_cache(data, at, end))
        else:
            nodes.append(OtherNode(at, kind, length, bytes(data[at:end])))
        at = end
    return Pptt(header, tuple(nodes))
