"""Decoded tables as plain JSON-ready dictionaries (`mpam acpi decode --json`).

The shape is the one `tests/data/acpi/*.expected.json` uses: header fields at the top,
then every MSC with its byte offset, fields and resource nodes (locator fields by name,
dependencies as producer identifiers); for the PPTT, every structure and, per CPU, the caches
cacheinfo would report.
"""

from __future__ import annotations

from typing import Any

from mpam.firmware.cacheinfo import CacheTopology
from mpam.firmware.mpam_table import MSC_NODE, MpamTable, MscNode, ResourceNode
from mpam.firmware.pptt import CacheNode, OtherNode, Pptt, ProcessorNode
from mpam.firmware.sdt import TableHeader
from mpam.firmware.srat import GiccAffinity, Srat, numa_map

__all__ = ["mpam_to_dict", "pptt_to_dict", "srat_to_dict"]


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("latin-1")


def _header(h: TableHeader) -> dict[str, Any]:
    return {
        "signature": _text(h.signature),
        "length": h.length,
        "revision": h.revision,
        "checksum": h.checksum,
        "checksum_ok": h.checksum_ok,
        "oem_id": _text(h.oem_id),
        "oem_table_id": _text(h.oem_table_id),
        "oem_revision": h.oem_revision,
        "creator_id": _text(h.creator_id),
        "creator_revision": h.creator_revision,
    }


def _resource(r: ResourceNode) -> dict[str, Any]:
    out: dict[str, Any] = {
        "offset": r.offset,
        "identifier": r.identifier,
        "ris_index": r.ris_index,
        "locator_type": r.locator_type,
        "locator": r.locator_name,
    }
    for key, value in r.locator().items():
        out[key] = value.hex() if isinstance(value, bytes) else value
    out["descriptor1"] = r.descriptor1
    out["descriptor2"] = r.descriptor2
    out["dependencies"] = list(r.producers)
    return out


def _msc(m: MscNode) -> dict[str, Any]:
    out: dict[str, Any] = {"offset": m.offset}
    for f in MSC_NODE.fields:
        value = getattr(m, f.key)
        out[f.key] = _text(value) if isinstance(value, bytes) else value
    out["resources"] = [_resource(r) for r in m.resources]
    if m.trailing:
        out["resource_specific_data"] = m.trailing.hex()
    return out


def mpam_to_dict(table: MpamTable) -> dict[str, Any]:
    """The MPAM table as a dictionary."""
    return {**_header(table.header), "mscs": [_msc(m) for m in table.mscs]}


def _node(n: ProcessorNode | CacheNode | OtherNode) -> dict[str, Any]:
    if isinstance(n, ProcessorNode):
        return {
            "offset": n.offset,
            "type": "processor",
            "flags": n.flags,
            "parent": n.parent,
            "acpi_processor_id": n.acpi_processor_id,
            "private_resources": list(n.private_resources),
        }
    if isinstance(n, CacheNode):
        return {
            "offset": n.offset,
            "type": "cache",
            "flags": n.flags,
            "next_level": n.next_level,
            "size": n.size,
            "number_of_sets": n.number_of_sets,
            "associativity": n.associativity,
            "attributes": n.attributes,
            "line_size": n.line_size,
            "cache_id": n.cache_id,
        }
    return {"offset": n.offset, "type": n.type, "length": n.length, "bytes": n.body.hex()}


def pptt_to_dict(pptt: Pptt) -> dict[str, Any]:
    """The PPTT as a dictionary, with each CPU's caches as Linux cacheinfo reports them."""
    topo = CacheTopology(pptt)
    leaves = topo.leaves()
    return {
        **_header(pptt.header),
        "nodes": [_node(n) for n in pptt.nodes],
        "cpus": list(topo.cpus),
        "caches_of_cpu": {
            str(uid): [
                {
                    "level": c.level,
                    "type": c.type,
                    "id": c.id,
                    "size": c.size,
                    "ways": c.ways,
                    "sets": c.sets,
                    "line": c.line_size,
                    "shared_cpus": list(c.shared_cpus),
                }
                for c in caches
            ]
            for uid, caches in leaves.items()
        },
    }


def srat_to_dict(srat: Srat) -> dict[str, Any]:
    """The SRAT as a dictionary, with the NUMA map Linux derives from it."""
    numa = numa_map(srat)
    return {
        **_header(srat.header),
        "entries": [
            {
                "offset": e.offset,
                "type": "gicc" if isinstance(e, GiccAffinity) else "memory",
                **{k: v for k, v in vars(e).items() if k != "offset"},
            }
            for e in srat.entries
        ],
        "pxm_to_node": {str(k): v for k, v in numa.pxm_to_node.items()},
        "cpu_to_node": {str(k): v for k, v in numa.cpu_to_node.items()},
    }
