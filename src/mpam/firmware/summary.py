"""What Linux makes of a set of ACPI tables, in one record: `mpam acpi check`.

A firmware engineer's question is rarely "what is at offset 0x1A4" but "will Linux use my
MSCs, and as what?". This answers it from the bytes alone, with the same code the driver
runs at boot: the MPAM table's two passes (`acpi_mpam.parse_msc_devices`), each device's
resource nodes placed in classes and components (`acpi_mpam.parse_resources`, which needs
the PPTT for cache levels and the SRAT for NUMA nodes), and the findings of `check` that
Linux acts on. PARTID and PMG limits are not in any table: the driver reads them from the
CPUs' MPAMIDR_EL1 and each MSC's MPAMF_IDR, so they are the caller's to add from a probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mpam.firmware.acpi_mpam import (
    MPAM_CLASS_ID_DEFAULT,
    ClassType,
    LogLine,
    MscDevice,
    parse_msc_devices,
    parse_resources,
)
from mpam.firmware.cacheinfo import CacheTopology
from mpam.firmware.check import Finding, check_mpam, check_pptt
from mpam.firmware.layout import TableError
from mpam.firmware.mpam_table import LocatorType, MpamTable, MscNode, ResourceNode, parse_mpam
from mpam.firmware.pptt import Pptt, parse_pptt
from mpam.firmware.srat import NumaMap, Srat, numa_map, parse_srat

T = TypeVar("T")

__all__ = ["PlacedRis", "TableSet", "TablesRefused", "TablesSummary", "read_tables", "summarise"]


class TablesRefused(ValueError):
    """A file that is not a table this reads, cannot be decoded, or repeats a kind; the
    message names the file, and for a decoding error the offset and the reason."""


@dataclass(frozen=True)
class TableSet:
    """Decoded tables, each absent when not given."""

    mpam: MpamTable
    mpam_bytes: bytes
    pptt: Pptt | None = None
    srat: Srat | None = None


def read_tables(blobs: list[tuple[str, bytes]]) -> TableSet:
    """Decode (source, bytes) pairs, each table recognised by its signature.

    Raises TablesRefused for a table that cannot be decoded, a second table of one kind,
    or no MPAM table at all."""
    found: dict[bytes, tuple[str, bytes]] = {}
    for source, data in blobs:
        sig = data[:4]
        if sig not in (b"MPAM", b"PPTT", b"SRAT"):
            raise TablesRefused(
                f"{source}: not an MPAM table, PPTT or SRAT: signature "
                f"{sig.decode('latin-1')!r} at offset 0"
            )
        if sig in found:
            raise TablesRefused(f"{source}: a second {sig.decode()} (the first is {found[sig][0]})")
        found[sig] = (source, data)
    if b"MPAM" not in found:
        raise TablesRefused("no MPAM table among the files given")

    def parsed(sig: bytes, parse: Callable[[bytes], T]) -> T | None:
        if sig not in found:
            return None
        source, data = found[sig]
        try:
            return parse(data)
        except TableError as e:
            raise TablesRefused(f"{source}: {e}") from None

    mpam = parsed(b"MPAM", parse_mpam)
    assert mpam is not None
    return TableSet(
        mpam, found[b"MPAM"][1], parsed(b"PPTT", parse_pptt), parsed(b"SRAT", parse_srat)
    )


@dataclass(frozen=True)
class PlacedRis:
    """One resource node and where Linux puts it: `klass` is the class name resctrl users
    know (``L3``, ``memory``) or empty when Linux leaves the RIS unused."""

    msc: int
    ris: int
    locator: LocatorType | int
    descriptor: int  # the locator's reference: cache, proximity domain, SMMU, UID, ...
    klass: str
    component: int | None
    note: str = ""  # why a RIS is unused, or the NUMA node of a memory component


@dataclass(frozen=True)
class TablesSummary:
    """What Linux makes of the tables: devices, RIS placement, classes and the verdict."""

    tables: TableSet
    topology: CacheTopology | None  # what Linux derived from the PPTT, when given
    numa: NumaMap | None  # what Linux derived from the SRAT, when given
    fw_num_msc: int  # the MSCs Linux counts and the driver waits for
    devices: tuple[MscDevice, ...]
    nodes: dict[int, MscNode]  # MSC node of each device, by identifier
    ris: tuple[PlacedRis, ...]
    findings: tuple[Finding, ...]  # those Linux acts on
    log: tuple[LogLine, ...]  # err and warn lines of the kernel's log
    enabled: bool
    verdict: str

    def classes(self) -> dict[str, dict[int, list[tuple[int, int]]]]:
        """class name -> component id -> (MSC, RIS) pairs, in table order."""
        out: dict[str, dict[int, list[tuple[int, int]]]] = {}
        for r in self.ris:
            if r.klass and r.component is not None:
                out.setdefault(r.klass, {}).setdefault(r.component, []).append((r.msc, r.ris))
        return out


def _class_name(class_type: ClassType, class_id: int) -> str:
    if class_type is ClassType.CACHE:
        return f"L{class_id}"
    return "memory" if class_id == MPAM_CLASS_ID_DEFAULT else f"memory{class_id}"


def _unused(res: ResourceNode) -> str:
    try:
        kind = LocatorType(res.locator_type)
    except ValueError:
        return "unused (reserved locator type)"
    return {
        LocatorType.SMMU: "unused (no SMMU class)",
        LocatorType.MEMORY_CACHE: "unused (no memory-side cache class)",
        LocatorType.ACPI_DEVICE: "unused (no ACPI device class)",
        LocatorType.INTERCONNECT: "unused (no interconnect class)",
    }.get(kind, "unused by Linux")


def _reference(res: ResourceNode) -> int:
    """The number that tells one locator of a type from another."""
    if res.locator_type in (LocatorType.MEMORY_CACHE, LocatorType.ACPI_DEVICE):
        return res.descriptor2
    return res.descriptor1


def summarise(tables: TableSet) -> TablesSummary:
    """Run Linux's table handling over `tables` and gather what it decides."""
    acpi = parse_msc_devices(tables.mpam_bytes)
    topology = CacheTopology(tables.pptt) if tables.pptt is not None else None
    numa: NumaMap | None = numa_map(tables.srat) if tables.srat is not None else None
    nodes = {m.identifier: m for m in tables.mpam.mscs}
    log = list(acpi.log)
    placed: list[PlacedRis] = []
    failed: list[int] = []
    for dev in acpi.devices:
        node = nodes[dev.id]
        parsed = parse_resources(dev, topology, numa.pxm_to_node if numa else None)
        log += parsed.log
        if parsed.error:
            failed.append(dev.id)
        where = {r.ris_index: r for r in parsed.ris}
        for res in node.resources:
            loc = where.get(res.ris_index)
            if loc is None:
                note = _unused(res) if not parsed.error else "unused (its MSC fails to probe)"
                placed.append(
                    PlacedRis(dev.id, res.ris_index, res.locator_type, _reference(res), "", None,
                              note)
                )  # fmt: skip
                continue
            name = _class_name(loc.class_type, loc.class_id)
            note = f"node {loc.component_id}" if loc.class_type is ClassType.MEMORY else ""
            placed.append(
                PlacedRis(dev.id, res.ris_index, res.locator_type, _reference(res), name,
                          loc.component_id, note)
            )  # fmt: skip
    findings = [f for f in check_mpam(tables.mpam) if f.linux]
    if tables.pptt is not None:
        findings += [f for f in check_pptt(tables.pptt) if f.linux]
    enabled, verdict = _verdict(acpi.fw_num_msc, len(acpi.devices), acpi.error, failed, placed)
    return TablesSummary(
        tables=tables,
        topology=topology,
        numa=numa,
        fw_num_msc=acpi.fw_num_msc,
        devices=acpi.devices,
        nodes=nodes,
        ris=tuple(placed),
        findings=tuple(findings),
        log=tuple(line for line in log if line.level in ("err", "warn")),
        enabled=enabled,
        verdict=verdict,
    )


def _verdict(
    counted: int, created: int, error: int, failed: list[int], placed: list[PlacedRis]
) -> tuple[bool, str]:
    """Whether the driver would enable MPAM, and why in one sentence.

    The driver enables MPAM only once every MSC it counted has probed
    (mpam_enable_once after the last probe), so one MSC skipped or failing keeps it off."""
    if counted < 0:
        return False, "MPAM stays disabled: the MSC node lengths do not add up (-EINVAL)"
    if counted == 0:
        return False, "MPAM stays disabled: the table describes no MSC with an MMIO size"
    if error:
        return False, f"MPAM stays disabled: parsing the table stopped with errno {error}"
    if created < counted:
        return False, (
            f"MPAM stays disabled: Linux counts {counted} MSCs but creates only {created}, "
            "so the driver waits for the rest for ever"
        )
    if failed:
        return False, (
            f"MPAM stays disabled: {len(failed)} of the MSCs (identifiers "
            f"{', '.join(map(str, failed[:8]))}{', …' if len(failed) > 8 else ''}) fail to "
            "probe their resource nodes"
        )
    classes = sorted({r.klass for r in placed if r.klass})
    if not classes:
        return False, "MPAM is enabled but no RIS is in a class resctrl can use"
    named = classes[0] if len(classes) == 1 else ", ".join(classes[:-1]) + " and " + classes[-1]
    return True, (
        f"MPAM is enabled once all {counted} MSCs have probed; resctrl can use the {named} "
        f"class{'es' if len(classes) > 1 else ''}"
    )
