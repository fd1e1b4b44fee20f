"""Build the ACPI MPAM table and PPTT a real firmware would publish for a platform.

The driver discovers a machine from these bytes alone, as Linux does, so they carry everything
the platform description says about MSCs (interface, base, size, interrupts, MAX_NRDY_USEC,
linked device, every RIS's locator and dependencies) and about the cache topology (processor
hierarchy, cache geometry, cache ids). The output depends only on the description: the same
platform gives the same bytes on every run.

PPTT layout: the processor hierarchy is package > cluster > core (> thread), with a root node
above the packages only when a cache is shared by the whole system and there are several
packages. Each cache instance is a private resource of the node of its sharing domain; the
caches of one node are chained by Next Level of Cache from the lowest level up; and each node
follows its own caches in the table (highest level first), so every reference points
backwards. This matches `tests/data/acpi/rdn2-like.pptt.aml` byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from mpam.firmware.mpam_table import (
    FUNC_DEP,
    MSC_NODE,
    RESOURCE_NODE,
    LocatorType,
)
from mpam.firmware.pptt import (
    CACHE_ID,
    CACHE_NODE,
    PRIVATE_RESOURCE,
    PROCESSOR_NODE,
    TYPE_CACHE,
    TYPE_PROCESSOR,
    CacheFlags,
    ProcessorFlags,
)
from mpam.firmware.sdt import HEADER, with_header
from mpam.firmware.srat import (
    DRAM_BASE,
    ENABLED,
    GICC_AFFINITY,
    MEMORY_AFFINITY,
    SRAT_HEADER,
    TYPE_GICC,
    TYPE_MEMORY,
)
from mpam.platform.model import (
    AccessMode,
    Cache,
    InterfaceType,
    Interrupt,
    Msc,
    Platform,
    Resource,
    ResourceKind,
    Ris,
)

__all__ = [
    "PPTT_REVISION",
    "SRAT_REVISION",
    "build_mpam",
    "build_pptt",
    "build_srat",
    "build_tables",
]

#: PPTT revision 3 is the first with the Cache ID that processor-cache locators refer to.
PPTT_REVISION = 3
#: SRAT revision 3 (ACPI 6.x), with the GICC affinity structure.
SRAT_REVISION = 3

_LOCATOR_TYPES = {
    ResourceKind.CACHE: LocatorType.PROCESSOR_CACHE,
    ResourceKind.MEMORY: LocatorType.MEMORY,
    ResourceKind.SMMU: LocatorType.SMMU,
    ResourceKind.MEMORY_SIDE_CACHE: LocatorType.MEMORY_CACHE,
    ResourceKind.ACPI_DEVICE: LocatorType.ACPI_DEVICE,
    ResourceKind.INTERCONNECT: LocatorType.INTERCONNECT,
    ResourceKind.UNKNOWN: LocatorType.UNKNOWN,
}


class _HeaderIds(TypedDict):
    oem_id: str
    oem_table_id: str
    oem_revision: int
    creator_id: str
    creator_revision: int


def _header_ids(platform: Platform, table_id: str) -> _HeaderIds:
    """The header fields from the platform's [firmware] table; a table id left empty is the
    platform name in upper case."""
    fw = platform.firmware
    return {
        "oem_id": fw.oem_id,
        "oem_table_id": table_id or platform.name.upper().replace("-", "")[:8],
        "oem_revision": fw.oem_revision,
        "creator_id": fw.creator_id,
        "creator_revision": fw.creator_revision,
    }


# --- MPAM -------------------------------------------------------------------------------


def _irq(irq: Interrupt | None) -> tuple[int, int, int]:
    """(GSIV, flags, affinity) of an MSC interrupt; all zero when there is none."""
    if irq is None:
        return 0, 0, 0
    flags = 1 if irq.mode is AccessMode.EDGE else 0  # bits [2:1] = 0: wired
    if irq.affinity is not None:
        flags |= 1 << 4  # affinity valid
        if irq.affinity_is_container:
            flags |= 1 << 3
    return irq.gsiv, flags, irq.affinity or 0


def _descriptors(platform: Platform, res: Resource) -> tuple[int, int]:
    """Descriptor1 (u64) and Descriptor2 (u32) of a resource's locator."""
    kind = res.kind
    if kind is ResourceKind.CACHE:
        assert res.cache is not None
        return platform.cache(res.cache).instances[res.instance].cache_id, 0
    if kind is ResourceKind.MEMORY:
        assert res.node is not None
        return platform.node(res.node).proximity_domain, 0
    if kind is ResourceKind.SMMU:
        return res.reference or 0, 0
    if kind is ResourceKind.MEMORY_SIDE_CACHE:
        return (res.level or 0) << 56, res.reference or 0  # 7 reserved bytes, then Level
    if kind is ResourceKind.ACPI_DEVICE:
        return res.hid or 0, res.reference or 0
    return res.descriptor1, res.descriptor2


def _resource_node(platform: Platform, ris: Ris) -> bytes:
    d1, d2 = _descriptors(platform, ris.resource)
    node = RESOURCE_NODE.pack(
        {
            "identifier": ris.identifier,
            "ris_index": ris.index,
            "locator_type": _LOCATOR_TYPES[ris.resource.kind],
            "descriptor1": d1,
            "descriptor2": d2,
            "num_dependencies": len(ris.dependencies),
        }
    )
    return node + b"".join(FUNC_DEP.pack({"producer": p}) for p in ris.dependencies)


def _msc_node(platform: Platform, msc: Msc) -> bytes:
    resources = b"".join(_resource_node(platform, r) for r in msc.ris)
    o_gsiv, o_flags, o_aff = _irq(msc.overflow_interrupt)
    e_gsiv, e_flags, e_aff = _irq(msc.error_interrupt)
    linked = msc.linked_device
    fixed = MSC_NODE.pack(
        {
            "length": MSC_NODE.size + len(resources),
            "interface_type": msc.interface.value,
            "identifier": msc.identifier,
            "base_address": msc.base_address,
            # PCC: DEN0065 3.0 makes MMIOSize the enable status, and Linux skips any MSC
            # whose MMIOSize is 0 as disabled, so a PCC MSC says 1.
            "mmio_size": 1 if msc.interface is InterfaceType.PCC else msc.size,
            "overflow_gsiv": o_gsiv,
            "overflow_flags": o_flags,
            "overflow_affinity": o_aff,
            "error_gsiv": e_gsiv,
            "error_flags": e_flags,
            "error_affinity": e_aff,
            "max_nrdy_usec": msc.max_nrdy_usec,
            "linked_hid": linked.hid.encode("ascii") if linked else b"",
            "linked_uid": linked.uid if linked else 0,
            "num_resources": len(msc.ris),
        }
    )
    return fixed + resources


def build_mpam(platform: Platform) -> bytes:
    """The MPAM table: one MSC node per MSC of the platform, in description order."""
    body = b"".join(_msc_node(platform, m) for m in platform.mscs)
    return with_header(
        "MPAM",
        platform.firmware.mpam_revision,
        body,
        **_header_ids(platform, platform.firmware.mpam_table_id),
    )


# --- PPTT -------------------------------------------------------------------------------


@dataclass
class _Node:
    """A processor hierarchy node being laid out."""

    flags: int
    acpi_id: int
    children: list[_Node] = field(default_factory=list)
    caches: list[tuple[Cache, int]] = field(default_factory=list)  # (cache, instance)


_TYPE_ORDER = {"data": 0, "instruction": 1, "unified": 2}
_TYPE_BITS = {"data": 0b00, "instruction": 0b01, "unified": 0b10}


def _hierarchy(platform: Platform) -> tuple[_Node, dict[tuple[str, int], _Node]]:
    """The processor tree, and the node that owns each sharing domain, keyed by
    (shared_by, domain number)."""
    t = platform.topology
    system_cache = any(c.shared_by == "system" for c in platform.caches)
    root = _Node(flags=0, acpi_id=0)
    owners: dict[tuple[str, int], _Node] = {}
    pkg_flags = ProcessorFlags.PHYSICAL_PACKAGE | ProcessorFlags.ID_VALID
    for cpu in platform.cpus:
        pkg = owners.get(("package", cpu.package))
        if pkg is None:
            pkg = owners["package", cpu.package] = _Node(pkg_flags, cpu.package)
            root.children.append(pkg)
        cluster = owners.get(("cluster", cpu.cluster))
        if cluster is None:
            cluster = owners["cluster", cpu.cluster] = _Node(ProcessorFlags.ID_VALID, cpu.cluster)
            pkg.children.append(cluster)
        leaf = ProcessorFlags.ID_VALID | ProcessorFlags.LEAF
        if t.threads_per_core == 1:
            owners["core", cpu.core] = core = _Node(leaf, cpu.acpi_uid)
            cluster.children.append(core)
            continue
        core = owners.get(("core", cpu.core))  # type: ignore[assignment]
        if core is None:
            core = owners["core", cpu.core] = _Node(ProcessorFlags.ID_VALID, cpu.core)
            cluster.children.append(core)
        core.children.append(_Node(leaf | ProcessorFlags.THREAD, cpu.acpi_uid))
    if system_cache and t.packages == 1:
        owners["system", 0] = root.children[0]
    else:
        owners["system", 0] = root
    return root, owners


def _domain(platform: Platform, cache: Cache, instance: int) -> tuple[str, int]:
    first = platform.cpus[cache.instances[instance].cpus[0]]
    if cache.shared_by == "system":
        return "system", 0
    return cache.shared_by, int(getattr(first, cache.shared_by))


class _PpttWriter:
    def __init__(self) -> None:
        self.out = bytearray()

    @property
    def here(self) -> int:
        return HEADER.size + len(self.out)

    def cache(self, cache: Cache, cache_id: int, next_level: int) -> int:
        at = self.here
        attributes = 0b11 | (_TYPE_BITS[cache.type] << 2)  # read/write allocate, write-back
        self.out += CACHE_NODE.pack(
            {
                "type": TYPE_CACHE,
                "length": CACHE_NODE.size + CACHE_ID.size,
                "flags": CacheFlags.ALL,
                "next_level": next_level,
                "size": cache.size,
                "number_of_sets": cache.sets,
                "associativity": cache.ways,
                "attributes": attributes,
                "line_size": cache.line_size,
            }
        )
        self.out += CACHE_ID.pack({"cache_id": cache_id})
        return at

    def node(self, node: _Node, parent: int) -> None:
        private = self._caches(node)
        at = self.here
        self.out += PROCESSOR_NODE.pack(
            {
                "type": TYPE_PROCESSOR,
                "length": PROCESSOR_NODE.size + PRIVATE_RESOURCE.size * len(private),
                "flags": node.flags,
                "parent": parent,
                "acpi_processor_id": node.acpi_id,
                "num_private_resources": len(private),
            }
        )
        for ref in private:
            self.out += PRIVATE_RESOURCE.pack({"ref": ref})
        for child in node.children:
            self.node(child, at)

    def _caches(self, node: _Node) -> list[int]:
        """Write a node's caches, highest level first, chained lowest to highest; return
        the offsets of the ones no other cache of the node leads to."""
        ordered = sorted(node.caches, key=lambda ci: (-ci[0].level, _TYPE_ORDER[ci[0].type]))
        offsets: dict[int, int] = {}  # position in `ordered` -> offset
        targets: set[int] = set()
        for pos, (cache, instance) in enumerate(ordered):
            nxt = _next_level(ordered, pos)
            ref = offsets[nxt] if nxt is not None else 0
            if nxt is not None:
                targets.add(nxt)
            offsets[pos] = self.cache(cache, cache.instances[instance].cache_id, ref)
        return [offsets[p] for p in range(len(ordered)) if p not in targets]


def _next_level(ordered: list[tuple[Cache, int]], pos: int) -> int | None:
    """Position of the cache a cache's Next Level of Cache points to: the lowest level above
    it in the same node (a unified one where there is a choice), or None."""
    level = ordered[pos][0].level
    above = [p for p in range(pos) if ordered[p][0].level > level]
    if not above:
        return None
    lowest = min(ordered[p][0].level for p in above)
    at_lowest = [p for p in above if ordered[p][0].level == lowest]
    unified = [p for p in at_lowest if ordered[p][0].type == "unified"]
    return (unified or at_lowest)[0]


def build_pptt(platform: Platform) -> bytes:
    """The PPTT (revision 3): the processor hierarchy with every cache and its id."""
    root, owners = _hierarchy(platform)
    for cache in platform.caches:
        for instance in range(len(cache.instances)):
            owners[_domain(platform, cache, instance)].caches.append((cache, instance))
    writer = _PpttWriter()
    tops = [root] if root.caches else root.children
    for top in tops:
        writer.node(top, 0)
    return with_header(
        "PPTT",
        PPTT_REVISION,
        bytes(writer.out),
        **_header_ids(platform, platform.firmware.pptt_table_id),
    )


# --- SRAT -------------------------------------------------------------------------------


def build_srat(platform: Platform) -> bytes:
    """The SRAT of a platform: a GICC affinity per CPU, a memory range per NUMA node."""
    body = bytearray(SRAT_HEADER.pack({"table_revision": 1}))
    node_of = {cpu: n for n in platform.numa for cpu in n.cpus}
    for cpu in platform.cpus:
        body += GICC_AFFINITY.pack(
            {
                "type": TYPE_GICC,
                "length": GICC_AFFINITY.size,
                "proximity_domain": node_of[cpu.index].proximity_domain,
                "acpi_processor_uid": cpu.acpi_uid,
                "flags": ENABLED,
                "clock_domain": 0,
            }
        )
    base = DRAM_BASE
    for node in platform.numa:
        body += MEMORY_AFFINITY.pack(
            {
                "type": TYPE_MEMORY,
                "length": MEMORY_AFFINITY.size,
                "proximity_domain": node.proximity_domain,
                "base_address": base,
                "address_length": node.memory_size,
                "flags": ENABLED,
            }
        )
        base += node.memory_size
    return with_header(
        "SRAT",
        SRAT_REVISION,
        bytes(body),
        **_header_ids(platform, ""),
    )


def build_tables(platform: Platform) -> dict[str, bytes]:
    """The tables the driver needs, keyed by the file names firmware dumps use: the MPAM
    table, the PPTT, and the SRAT that maps proximity domains to CPUs and memory."""
    return {
        "MPAM.aml": build_mpam(platform),
        "PPTT.aml": build_pptt(platform),
        "SRAT.aml": build_srat(platform),
    }
