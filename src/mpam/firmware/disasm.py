"""A listing of every field of an MPAM table or PPTT, laid out as ACPICA's ``iasl -d`` does.

Firmware engineers read tables in iasl's layout: ``[HexOffset DecimalOffset ByteLength]``,
the field label right-aligned, then the value in hex with as many digits as the field has
bytes. This decoder keeps that layout and the labels of ACPICA's tables, and adds what iasl
leaves out: interrupt flags and locator types spelled out, each CPU's caches as Linux's
cacheinfo reports them, and the findings of `mpam.firmware.check`. It does not reproduce
iasl's known slips (the spurious dependency lines, stopping at locator type 0xFF).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mpam.firmware.cacheinfo import CacheTopology
from mpam.firmware.check import Finding
from mpam.firmware.layout import Kind, Layout
from mpam.firmware.mpam_table import (
    FUNC_DEP,
    MSC_NODE,
    RESOURCE_NODE,
    InterruptFlags,
    LocatorType,
    MpamTable,
    ResourceNode,
)
from mpam.firmware.pptt import (
    CACHE_ID,
    CACHE_NODE,
    PROCESSOR_NODE,
    SUBTABLE,
    CacheFlags,
    CacheNode,
    OtherNode,
    Pptt,
    ProcessorFlags,
    ProcessorNode,
)
from mpam.firmware.sdt import HEADER, TableHeader, checksum
from mpam.firmware.srat import (
    GICC_AFFINITY,
    MEMORY_AFFINITY,
    SRAT_HEADER,
    GiccAffinity,
    MemoryAffinity,
    Srat,
    numa_map,
)
from mpam.platform.reader import format_cpulist

__all__ = ["disassemble_mpam", "disassemble_pptt", "disassemble_srat"]

_DESCRIPTIONS = {
    "MPAM": "Memory System Resource Partitioning and Monitoring Table",
    "PPTT": "Processor Properties Topology Table",
    "SRAT": "System Resource Affinity Table",
}

_LOCATOR_NAMES: dict[int, str] = {
    LocatorType.PROCESSOR_CACHE: "Processor cache",
    LocatorType.MEMORY: "Memory",
    LocatorType.SMMU: "SMMU",
    LocatorType.MEMORY_CACHE: "Memory-side cache",
    LocatorType.ACPI_DEVICE: "ACPI device",
    LocatorType.INTERCONNECT: "Interconnect",
    LocatorType.UNKNOWN: "Unknown",
}

_SUBTABLE_NAMES = {0: "Processor Hierarchy Node", 1: "Cache Type", 2: "ID"}


def _line(offset: int, size: int, label: str, value: str) -> str:
    return f"[{offset:03X}h {offset:04d} {size:03X}h] {label:>27} : {value}"


def _sub(label: str, value: str) -> str:
    return f"{label:>44} : {value}"


def _hex(value: int, size: int) -> str:
    return f"{value:0{2 * size}X}"


def _name(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0]
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F else " " for b in text) + '"'


def _rows(layout: Layout, values: Mapping[str, object], base: int) -> list[str]:
    out = []
    for f, off in zip(layout.fields, layout.offsets, strict=True):
        value = values[f.key]
        if f.kind is Kind.NAME:
            assert isinstance(value, bytes)
            shown = _name(value)
        elif isinstance(value, bytes):
            shown = _hex(int.from_bytes(value, "little"), f.size)
        else:
            assert isinstance(value, int)
            shown = _hex(value, f.size)
        out.append(_line(base + off, f.size, f.label, shown))
    return out


def _banner(signature: str, source: str) -> list[str]:
    return [
        "/*",
        " * mpam ACPI table decoder (layout of ACPICA's iasl -d)",
        " *",
        f" * Disassembly of {source}",
        " *",
        f" * ACPI Data Table [{signature}]",
        " *",
        " * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue (in hex)",
        " */",
        "",
    ]


def _header(h: TableHeader, data: bytes) -> list[str]:
    values = {k: getattr(h, k) for k in (f.key for f in HEADER.fields)}
    rows = _rows(HEADER, values, 0)
    sig = h.signature.decode("latin-1")
    rows[0] = rows[0] + f"    [{_DESCRIPTIONS.get(sig, '')}]"
    if not h.checksum_ok:
        at = HEADER.offset_of("checksum")
        good = checksum(data[:at] + bytes(1) + data[at + 1 : h.length])
        rows[3] += f"     /* Incorrect checksum, should be {good:02X} */"
    return rows


def _raw(data: bytes) -> list[str]:
    out = ["", f"Raw Table Data: Length {len(data)} (0x{len(data):X})", ""]
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        hexes = " ".join(f"{b:02X}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        out.append(f"    {at:04X}: {hexes:<47}  // {text}")
    return out


def _findings(findings: Iterable[Finding], strict: bool) -> list[str]:
    shown = [f for f in findings if strict or f.linux]
    if not shown:
        return []
    title = "Deviations from the specification" if strict else "What Linux does differently"
    return ["", "/*", f" * {title}:", *(f" *   {f}" for f in shown), " */"]


def _interrupt_flags(flags: int) -> list[str]:
    f = InterruptFlags(flags)
    return [
        _sub("Mode", f"{flags & 1} [{'Edge' if f.edge else 'Level'}]"),
        _sub("Type", f"{(flags >> 1) & 3} [{'Wired' if f.wired else 'Reserved'}]"),
        _sub(
            "Affinity type",
            f"{(flags >> 3) & 1} [{'Processor container' if f.container_affinity else 'Processor'}]",
        ),
        _sub("Affinity valid", f"{(flags >> 4) & 1}"),
    ]


def _resource(res: ResourceNode) -> list[str]:
    values = {f.key: getattr(res, f.key) for f in RESOURCE_NODE.fields}
    rows = _rows(RESOURCE_NODE, values, res.offset)
    locator_at = res.offset + RESOURCE_NODE.offset_of("descriptor1")
    name = _LOCATOR_NAMES.get(res.locator_type, "Unknown")
    rows[3] += f" [{name}]"
    locator = _rows(res.locator_layout, dict(res.locator()), locator_at)
    rows = rows[:4] + locator + rows[6:]
    for dep in res.dependencies:
        rows.append("")
        rows += _rows(FUNC_DEP, {"producer": dep.producer, "reserved": dep.reserved}, dep.offset)
    return rows


def disassemble_mpam(
    table: MpamTable,
    data: bytes,
    findings: Iterable[Finding] = (),
    *,
    source: str = "MPAM.aml",
    strict: bool = False,
) -> str:
    """The iasl-style listing of a decoded MPAM table (`data` are its bytes)."""
    out = _banner("MPAM", source) + _header(table.header, data)
    flag_rows = {
        MSC_NODE.fields.index(f): f.key for f in MSC_NODE.fields if f.key.endswith("_flags")
    }
    for msc in table.mscs:
        out.append("")
        values = {f.key: getattr(msc, f.key) for f in MSC_NODE.fields}
        for i, row in enumerate(_rows(MSC_NODE, values, msc.offset)):
            out.append(row)
            key = flag_rows.get(i)
            if key is not None and (values[key] or values[key.replace("_flags", "_gsiv")]):
                out += _interrupt_flags(values[key])
        for res in msc.resources:
            out.append("")
            out += _resource(res)
        if msc.trailing:
            at = msc.offset + msc.length - len(msc.trailing)
            out += ["", _line(at, len(msc.trailing), "Resource-specific data", msc.trailing.hex())]
    out += _findings(findings, strict)
    out += _raw(data[: table.header.length])
    return "\n".join(out) + "\n"


def _flag_lines(flags: int, names: tuple[str, ...]) -> list[str]:
    return [_sub(name, str((flags >> bit) & 1)) for bit, name in enumerate(names)]


def _processor(node: ProcessorNode) -> list[str]:
    values = {f.key: getattr(node, f.key) for f in PROCESSOR_NODE.fields}
    rows = _rows(PROCESSOR_NODE, values, node.offset)
    rows[0] += f" [{_SUBTABLE_NAMES[0]}]"
    rows = rows[:4] + _flag_lines(node.flags, ProcessorFlags.NAMES) + rows[4:]
    for k, ref in enumerate(node.private_resources):
        rows.append(
            _line(node.offset + PROCESSOR_NODE.size + 4 * k, 4, "Private Resource", _hex(ref, 4))
        )
    return rows


def _cache(node: CacheNode) -> list[str]:
    values = {f.key: getattr(node, f.key) for f in CACHE_NODE.fields}
    rows = _rows(CACHE_NODE, values, node.offset)
    rows[0] += f" [{_SUBTABLE_NAMES[1]}]"
    attrs = [
        _sub("Allocation Type", str(node.attributes & 3)),
        _sub("Cache Type", str((node.attributes >> 2) & 3)),
        _sub("Write Policy", str((node.attributes >> 4) & 1)),
    ]
    flags = _flag_lines(node.flags, CacheFlags.NAMES)
    rows = rows[:4] + flags + rows[4:9] + attrs + rows[9:]
    if node.cache_id is not None:
        rows.append(
            _line(node.offset + CACHE_NODE.size, CACHE_ID.size, "Cache ID", _hex(node.cache_id, 4))
        )
    return rows


def _other(node: OtherNode) -> list[str]:
    head = SUBTABLE.unpack(node.body, 0, len(node.body), "PPTT")
    rows = _rows(SUBTABLE, dict(head), node.offset)
    name = _SUBTABLE_NAMES.get(node.type, "Unknown Subtable Type")
    rows[0] += f" [{name}]"
    rest = node.body[4:]
    if rest:
        rows.append(_line(node.offset + 4, len(rest), "Data", rest.hex(" ").upper()))
    return rows


def _cacheinfo(pptt: Pptt) -> list[str]:
    out = [
        "",
        "/*",
        " * Linux cacheinfo, per CPU (ACPI Processor ID):",
    ]
    for uid, leaves in CacheTopology(pptt).leaves().items():
        for leaf in leaves:
            ident = "-" if leaf.id is None else f"0x{leaf.id:X}"
            cpus = format_cpulist(leaf.shared_cpus)
            out.append(
                f" *   CPU {uid:>3}: L{leaf.level} {leaf.type:<11} id {ident:<8} {leaf.size:>9} B "
                f"{leaf.ways:>3}-way {leaf.sets:>6} sets {leaf.line_size:>3} B; CPUs {cpus}"
            )
    out.append(" */")
    return out


def disassemble_pptt(
    pptt: Pptt,
    data: bytes,
    findings: Iterable[Finding] = (),
    *,
    source: str = "PPTT.aml",
    strict: bool = False,
) -> str:
    """The iasl-style listing of a decoded PPTT, with each CPU's caches as cacheinfo sees them."""
    out = _banner("PPTT", source) + _header(pptt.header, data) + [""]
    for node in pptt.nodes:
        out.append("")
        if isinstance(node, ProcessorNode):
            out += _processor(node)
        elif isinstance(node, CacheNode):
            out += _cache(node)
        else:
            out += _other(node)
    out += _cacheinfo(pptt)
    out += _findings(findings, strict)
    out += _raw(data[: pptt.header.length])
    return "\n".join(out) + "\n"


def disassemble_srat(srat: Srat, data: bytes, *, source: str = "SRAT.aml") -> str:
    """The iasl-style listing of a decoded SRAT, with the NUMA nodes Linux derives."""
    out = _banner("SRAT", source) + _header(srat.header, data)
    fixed = SRAT_HEADER.unpack(data, HEADER.size, srat.header.length, "SRAT")
    out += _rows(SRAT_HEADER, dict(fixed), HEADER.size)
    for e in srat.entries:
        out.append("")
        if isinstance(e, GiccAffinity):
            layout, name = GICC_AFFINITY, "GICC Affinity"
        else:
            layout, name = MEMORY_AFFINITY, "Memory Affinity"
        values = dict(layout.unpack(data, e.offset, srat.header.length, "SRAT"))
        rows = _rows(layout, values, e.offset)
        rows[0] += f" [{name}]"
        flags_at = [f.key for f in layout.fields].index("flags")
        flags = [_sub("Enabled", str(e.flags & 1))]
        if isinstance(e, MemoryAffinity):
            flags += [_sub("Hot Pluggable", str((e.flags >> 1) & 1)),
                      _sub("Non-Volatile", str((e.flags >> 2) & 1))]  # fmt: skip
        out += rows[: flags_at + 1] + flags + rows[flags_at + 1 :]
    numa = numa_map(srat)
    out += ["", "/*", " * Linux NUMA nodes (proximity domain -> node; CPUs):"]
    for pxm, node in numa.pxm_to_node.items():
        cpus = format_cpulist([c for c, n in numa.cpu_to_node.items() if n == node])
        out.append(f" *   PXM {pxm} -> node {node}; CPUs {cpus or '-'}")
    out.append(" */")
    out += _raw(data[: srat.header.length])
    return "\n".join(out) + "\n"
