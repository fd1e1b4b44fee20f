"""Firmware: the ACPI MPAM table and PPTT, built from a platform and parsed as Linux parses them.

The driver discovers a machine from these bytes alone, never from the platform description.
`build_tables(platform)` gives the bytes; `parse_mpam` / `parse_pptt` decode them or raise
`TableError` with the offset and the reason; `check_mpam` / `check_pptt` list what breaks the
specifications; `acpi_mpam` is what Linux makes of the MPAM table; `CacheTopology` is what
Linux derives from the PPTT.
"""

from __future__ import annotations

from mpam.firmware.acpi_mpam import (
    AcpiMpam,
    ClassType,
    LogLine,
    MscDevice,
    RisLocation,
    count_msc,
    parse_msc_devices,
    parse_resources,
)
from mpam.firmware.build import build_mpam, build_pptt, build_srat, build_tables
from mpam.firmware.cacheinfo import CacheLeaf, CacheTopology
from mpam.firmware.check import Finding, check_mpam, check_pptt
from mpam.firmware.disasm import disassemble_mpam, disassemble_pptt, disassemble_srat
from mpam.firmware.export import mpam_to_dict, pptt_to_dict, srat_to_dict
from mpam.firmware.layout import TableError
from mpam.firmware.mpam_table import LocatorType, MpamTable, MscNode, ResourceNode, parse_mpam
from mpam.firmware.pptt import CacheNode, Pptt, ProcessorNode, parse_pptt
from mpam.firmware.srat import NumaMap, Srat, numa_map, parse_srat

__all__ = [
    "AcpiMpam",
    "CacheLeaf",
    "CacheNode",
    "CacheTopology",
    "ClassType",
    "Finding",
    "LocatorType",
    "LogLine",
    "MpamTable",
    "MscDevice",
    "MscNode",
    "NumaMap",
    "Pptt",
    "ProcessorNode",
    "ResourceNode",
    "RisLocation",
    "Srat",
    "TableError",
    "build_mpam",
    "build_pptt",
    "build_srat",
    "build_tables",
    "check_mpam",
    "check_pptt",
    "count_msc",
    "disassemble_mpam",
    "disassemble_pptt",
    "disassemble_srat",
    "mpam_to_dict",
    "numa_map",
    "parse_mpam",
    "parse_msc_devices",
    "parse_pptt",
    "parse_resources",
    "parse_srat",
    "pptt_to_dict",
    "srat_to_dict",
]
