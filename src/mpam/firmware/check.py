"""Deviations from the specifications in tables that decode, and what Linux makes of each.

The parsers refuse only what cannot be decoded or what Linux refuses outright. Everything
else a firmware engineer should hear about is a `Finding` here: reserved bits set, reserved
locator types, dangling dependencies, a PCC MSC with an MMIO size, PPTT references that lead
nowhere. Each finding says whether it breaks the specification (DEN0065 for MPAM, ACPI 6.5
for the PPTT) and what Linux does about it, so `mpam acpi decode` can show what matters to
Linux by default and everything with ``--strict``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mpam.firmware.mpam_table import (
    FUNC_DEP,
    MSC_NODE,
    RESOURCE_NODE,
    InterruptFlags,
    LocatorType,
    MpamTable,
    MscNode,
    ResourceNode,
)
from mpam.firmware.pptt import (
    CACHE_NODE,
    PROCESSOR_NODE,
    CacheNode,
    Pptt,
    ProcessorFlags,
    ProcessorNode,
)

__all__ = ["Finding", "check_mpam", "check_pptt"]

#: The RIS field of MPAMCFG_PART_SEL and MSMON_CFG_MON_SEL is 4 bits wide.
RIS_INDEX_MAX = 15


@dataclass(frozen=True)
class Finding:
    """One observation about a table: where, what, and its consequences.

    `violation` is true when the specification forbids it; `linux` says what Linux does
    because of it, empty when Linux is unaffected.
    """

    offset: int
    message: str
    violation: bool = True
    linux: str = ""

    def __str__(self) -> str:
        text = f"0x{self.offset:04X}: {self.message}"
        return f"{text} (Linux: {self.linux})" if self.linux else text


_UNRECOGNISED = "skips the MSC as 'Unrecognised MSC, MPAM not usable'; MPAM stays disabled"


def _reserved(layout_offset: int, name: str, value: int | bytes, linux: str = "") -> Finding:
    shown = value.hex() if isinstance(value, bytes) else f"0x{value:X}"
    return Finding(layout_offset, f"reserved field {name} is {shown}, must be zero", True, linux)


def _interrupt(msc: MscNode, which: str) -> list[Finding]:
    gsiv = getattr(msc, f"{which}_gsiv")
    flags = InterruptFlags(getattr(msc, f"{which}_flags"))
    at = msc.offset + MSC_NODE.offset_of(f"{which}_flags")
    out = []
    if flags.reserved_bits:
        out.append(
            Finding(at, f"{which} interrupt flags set reserved bits 0x{flags.reserved_bits:X}")
        )
    if not flags.wired:
        out.append(
            Finding(
                at,
                f"{which} interrupt type {(flags.raw >> 1) & 3} is reserved (only 0, wired)",
                linux=f"does not register the {which} interrupt" if gsiv else "",
            )
        )
    if gsiv and flags.affinity_valid and flags.container_affinity:
        out.append(
            Finding(
                at,
                f"{which} interrupt has processor-container affinity",
                violation=False,
                linux=f"'Partitioned interrupts not supported': no {which} interrupt",
            )
        )
    return out


def _locator(res: ResourceNode, known: set[int]) -> list[Finding]:
    out = []
    at = res.offset + RESOURCE_NODE.offset_of("descriptor1")
    try:
        LocatorType(res.locator_type)
    except ValueError:
        out.append(
            Finding(
                res.offset + RESOURCE_NODE.offset_of("locator_type"),
                f"locator type 0x{res.locator_type:02X} is reserved",
                linux="treats the RIS as an unknown class, which resctrl does not use",
            )
        )
        return out
    layout = res.locator_layout
    for f, off in zip(layout.fields, layout.offsets, strict=True):
        value = res.locator()[f.key]
        if f.reserved and value not in (0, bytes(f.size)):
            out.append(_reserved(at + off, f"{layout.name} {f.label}", value))
    if res.locator_type == LocatorType.PROCESSOR_CACHE and res.descriptor1 >> 32:
        out.append(
            Finding(
                at,
                f"cache reference 0x{res.descriptor1:X} does not fit the PPTT's 32-bit Cache ID",
                linux=f"uses the low 32 bits, 0x{res.descriptor1 & 0xFFFF_FFFF:X}",
            )
        )
    for dep in res.dependencies:
        if dep.reserved:
            out.append(
                _reserved(
                    dep.offset + FUNC_DEP.offset_of("reserved"), "of a dependency", dep.reserved
                )
            )
        if dep.producer not in known:
            out.append(
                Finding(
                    dep.offset,
                    f"functional dependency on producer {dep.producer}, which is no resource "
                    f"node's identifier",
                )
            )
    return out


def _msc(msc: MscNode, known: set[int]) -> list[Finding]:
    out = []
    for key in ("reserved", "reserved1", "reserved2"):
        value = getattr(msc, key)
        if value:
            out.append(
                _reserved(msc.offset + MSC_NODE.offset_of(key), f"MSC {key}", value, _UNRECOGNISED)
            )
    size_at = msc.offset + MSC_NODE.offset_of("mmio_size")
    if msc.interface_type == 0x0A and msc.mmio_size not in (0, 1):
        out.append(
            Finding(
                size_at,
                f"PCC MSC has MMIO size {msc.mmio_size}: DEN0065 wants 0 (2.0) or the enable "
                "status 0/1 (3.0)",
            )
        )
    if msc.interface_type == 0x00 and msc.mmio_size == 0:
        out.append(
            Finding(size_at, "MMIO size 0: the MSC is disabled", False, "skips the MSC as disabled")
        )
    hid = msc.linked_hid.rstrip(b"\0")
    if hid and not all(0x20 < b < 0x7F for b in hid):
        out.append(
            Finding(
                msc.offset + MSC_NODE.offset_of("linked_hid"),
                f"linked device _HID {msc.linked_hid!r} is not printable ASCII",
            )
        )
    for which in ("overflow", "error"):
        out += _interrupt(msc, which)
    counts = Counter(r.ris_index for r in msc.resources)
    for res in msc.resources:
        if res.reserved1:
            out.append(
                _reserved(
                    res.offset + RESOURCE_NODE.offset_of("reserved1"),
                    "of a resource node",
                    res.reserved1,
                )
            )
        if res.ris_index > RIS_INDEX_MAX:
            out.append(
                Finding(
                    res.offset + RESOURCE_NODE.offset_of("ris_index"),
                    f"RIS index {res.ris_index} does not fit the 4-bit RIS field",
                    linux="refuses RIS indexes above 16 (-EINVAL) at probe",
                )
            )
        if counts[res.ris_index] > 1:
            out.append(
                Finding(
                    res.offset + RESOURCE_NODE.offset_of("ris_index"),
                    f"RIS index {res.ris_index} appears {counts[res.ris_index]} times in MSC "
                    f"{msc.identifier}",
                    linux="fails the MSC's probe (-EBUSY)",
                )
            )
        out += _locator(res, known)
    return out


def check_mpam(table: MpamTable) -> list[Finding]:
    """Every deviation in a decoded MPAM table, in table order."""
    out = []
    if table.header.revision < 1:
        out.append(
            Finding(
                8, f"revision {table.header.revision}", False, "ignores tables below revision 1"
            )
        )
    resources = [r for m in table.mscs for r in m.resources]
    known = {r.identifier for r in resources}
    seen_msc: dict[int, int] = {}
    seen_res: dict[int, int] = {}
    for msc in table.mscs:
        if msc.identifier in seen_msc:
            out.append(
                Finding(
                    msc.offset + MSC_NODE.offset_of("identifier"),
                    f"MSC identifier {msc.identifier} repeats the MSC at "
                    f"0x{seen_msc[msc.identifier]:X}",
                    linux="cannot register a second mpam_msc device with the same id",
                )
            )
        seen_msc.setdefault(msc.identifier, msc.offset)
        for res in msc.resources:
            if res.identifier in seen_res:
                out.append(
                    Finding(
                        res.offset,
                        f"resource identifier {res.identifier} repeats the resource node at "
                        f"0x{seen_res[res.identifier]:X}",
                    )
                )
            seen_res.setdefault(res.identifier, res.offset)
        out += _msc(msc, known)
    return out


def _ref_findings(pptt: Pptt, node: ProcessorNode) -> list[Finding]:
    out = []
    parent = pptt.at(node.parent) if node.parent else None
    if node.parent and not isinstance(parent, ProcessorNode):
        out.append(
            Finding(
                node.offset + PROCESSOR_NODE.offset_of("parent"),
                f"parent 0x{node.parent:X} is not a processor hierarchy node",
                linux="ends the walk up the hierarchy there",
            )
        )
    for k, ref in enumerate(node.private_resources):
        if pptt.at(ref) is None:
            out.append(
                Finding(
                    node.offset + PROCESSOR_NODE.size + 4 * k,
                    f"private resource 0x{ref:X} is not the start of a structure",
                    linux="stops reading this node's private resources there",
                )
            )
    return out


def check_pptt(pptt: Pptt) -> list[Finding]:
    """Every deviation in a decoded PPTT, in table order."""
    out: list[Finding] = []
    leaf_ids = Counter(n.acpi_processor_id for n in pptt.processors if n.has(ProcessorFlags.LEAF))
    for node in pptt.nodes:
        if isinstance(node, ProcessorNode):
            if node.reserved:
                out.append(_reserved(node.offset + 2, "of a processor node", node.reserved))
            if node.flags >> 5:
                out.append(
                    Finding(
                        node.offset + 4,
                        f"processor flags set reserved bits 0x{node.flags & ~0x1F:X}",
                    )
                )
            if node.length != PROCESSOR_NODE.size + 4 * node.num_private_resources:
                out.append(
                    Finding(
                        node.offset + 1,
                        f"processor node length {node.length} does not match its "
                        f"{node.num_private_resources} private resources",
                        linux="never takes this node as a CPU's node",
                    )
                )
            if node.has(ProcessorFlags.LEAF) and node.offset in pptt.parents:
                out.append(Finding(node.offset + 4, "node is flagged a leaf but has children"))
            if node.has(ProcessorFlags.LEAF) and leaf_ids[node.acpi_processor_id] > 1:
                out.append(
                    Finding(
                        node.offset + PROCESSOR_NODE.offset_of("acpi_processor_id"),
                        f"ACPI processor ID {node.acpi_processor_id} has more than one leaf node",
                        linux="uses the first",
                    )
                )
            out += _ref_findings(pptt, node)
        elif isinstance(node, CacheNode):
            out += _cache_findings(pptt, node)
    return out


def _cache_findings(pptt: Pptt, cache: CacheNode) -> list[Finding]:
    out = []
    if cache.reserved:
        out.append(_reserved(cache.offset + 2, "of a cache structure", cache.reserved))
    if cache.flags >> 8:
        out.append(
            Finding(cache.offset + 4, f"cache flags set reserved bits 0x{cache.flags & ~0xFF:X}")
        )
    if pptt.header.revision >= 3 and cache.cache_id is None:
        out.append(
            Finding(
                cache.offset + 1,
                f"cache structure length {cache.length}: revision 3 structures are 28 bytes, "
                "with the Cache ID",
                linux="finds no cache id here",
            )
        )
    if cache.attributes >> 5:
        out.append(
            Finding(
                cache.offset + CACHE_NODE.offset_of("attributes"),
                f"cache attributes set reserved bits 0x{cache.attributes & ~0x1F:X}",
            )
        )
    if cache.next_level and not isinstance(pptt.at(cache.next_level), CacheNode):
        out.append(
            Finding(
                cache.offset + CACHE_NODE.offset_of("next_level"),
                f"next level of cache 0x{cache.next_level:X} is not a cache structure",
                linux="ends the cache chain there",
            )
        )
    if cache.flags & 0b111 == 0b111 and cache.line_size:
        expected = cache.number_of_sets * cache.associativity * cache.line_size
        if expected != cache.size:
            out.append(
                Finding(
                    cache.offset + CACHE_NODE.offset_of("size"),
                    f"size {cache.size} is not sets x ways x line size ({expected})",
                    violation=False,
                )
            )
    return out
