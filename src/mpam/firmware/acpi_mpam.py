"""How Linux turns the MPAM table into MSC platform devices (drivers/acpi/arm64/mpam.c, v6.19).

Read for behaviour, written anew. Linux walks the table twice: a counting pass that tells the
driver how many MSCs to wait for, and a parsing pass that creates one ``mpam_msc`` platform
device per usable MSC. The two passes disagree on purpose: an MSC with a reserved field set
is counted but not created, so the driver can never see every MSC and MPAM stays off. The
resource nodes are read later, when the driver probes each device (`parse_resources`).

Every decision is logged with the kernel's words and level; `mpam.kernel` prints the lines
into its log. Nothing here reads the platform description: only bytes, the PPTT and the
proximity-domain map, as on a real machine.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from mpam.firmware.cacheinfo import CacheTopology
from mpam.firmware.layout import TableError, int_fields
from mpam.firmware.mpam_table import MSC_NODE, InterruptFlags, LocatorType, parse_msc_node
from mpam.firmware.sdt import HEADER, parse_header

__all__ = [
    "MPAM_CLASS_ID_DEFAULT",
    "AcpiMpam",
    "ClassType",
    "LogLine",
    "MscDevice",
    "MscIrq",
    "ResourceParse",
    "RisLocation",
    "count_msc",
    "parse_msc_devices",
    "parse_resources",
]

PREFIX = "ACPI MPAM: "
#: Class id of every memory class (Linux's MPAM_CLASS_ID_DEFAULT).
MPAM_CLASS_ID_DEFAULT = 255
#: _HID of an ACPI processor container: a linked device with it gives the MSC a CPU affinity.
PROCESSOR_CONTAINER_HID = "ACPI0010"
#: _HID of the namespace device an MSC's ACPI companion is.
MSC_HID = "ARMHAA5C"


@dataclass(frozen=True)
class LogLine:
    """One kernel log message: its level (``err``, ``warn``, ``info``, ``debug``) and text."""

    level: str
    text: str


@dataclass(frozen=True)
class MscIrq:
    """An interrupt resource of an MSC device (named ``overflow`` or ``error``)."""

    name: str
    gsiv: int
    edge: bool


@dataclass(frozen=True)
class MscDevice:
    """The ``mpam_msc.<id>`` platform device Linux creates for one MSC node."""

    id: int
    interface: str  # "mmio" or "pcc"
    mmio: tuple[int, int] | None  # the "MPAM:MSC" memory resource: (start, size)
    pcc_channel: int | None  # the "pcc-channel" property
    irqs: tuple[MscIrq, ...]
    not_ready_us: int  # the "arm,not-ready-us" property
    cpu_affinity: int | None  # the "cpu_affinity" property: a processor container's _UID
    linked_device: tuple[str, int] | None  # (_HID, _UID) of the device-link target
    platform_data: bytes  # a copy of the whole MSC node, resource nodes included

    @property
    def name(self) -> str:
        return f"mpam_msc.{self.id}"


@dataclass(frozen=True)
class AcpiMpam:
    """The outcome of both passes: how many MSCs the driver waits for, the devices created,
    the log, and the errno the parsing pass stopped with (0 when it finished)."""

    fw_num_msc: int
    devices: tuple[MscDevice, ...]
    log: tuple[LogLine, ...]
    error: int = 0


class ClassType(Enum):
    """Linux's mpam_class_types."""

    CACHE = 0
    MEMORY = 1
    UNKNOWN = 2


@dataclass(frozen=True)
class RisLocation:
    """Where a RIS belongs: its class (type and id) and component id."""

    ris_index: int
    class_type: ClassType
    class_id: int
    component_id: int


@dataclass(frozen=True)
class ResourceParse:
    """The outcome of reading one MSC's resource nodes at probe: the RIS placed in classes
    (locators Linux does not use create none), the log, and an errno (0 on success)."""

    ris: tuple[RisLocation, ...]
    log: tuple[LogLine, ...] = field(default=())
    error: int = 0


def _u(data: bytes, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")


def _table(data: bytes | None, log: list[LogLine]) -> bytes | None:
    """The table as ACPICA installs it: None when it is absent or refused (its checksum)."""
    if data is None:
        return None
    try:
        header = parse_header(data, "MPAM", verify=False)
    except TableError:
        return None
    if not header.checksum_ok:
        should = (header.checksum - sum(data[: header.length])) & 0xFF
        log.append(
            LogLine(
                "warn",
                f"ACPI BIOS Warning (bug): Incorrect checksum in table [MPAM] - "
                f"0x{header.checksum:02X}, should be 0x{should:02X}",
            )
        )
        return None
    return bytes(data[: header.length])


def count_msc(data: bytes | None) -> int:
    """acpi_mpam_count_msc: MSCs with a non-zero MMIO size, or -EINVAL when the lengths do
    not add up; 0 when there is no (acceptable) table or its revision is below 1."""
    table = _table(data, [])
    if table is None or table[8] < 1:
        return 0
    count = 0
    at, end = HEADER.size, len(table)
    while at < end:
        if at + MSC_NODE.size > end:
            return -errno.EINVAL
        length = _u(table, at, 2)
        if length < MSC_NODE.size or length > end - at:
            return -errno.EINVAL
        if _u(table, at + MSC_NODE.offset_of("mmio_size"), 4):
            count += 1
        at += length
    return count


def _irq(v: Mapping[str, int], which: str, log: list[LogLine]) -> MscIrq | None:
    gsiv = v[f"{which}_gsiv"]
    flags = InterruptFlags(v[f"{which}_flags"])
    if gsiv == 0:
        return None
    if flags.affinity_valid and flags.container_affinity:
        log.append(LogLine("err", PREFIX + "Partitioned interrupts not supported"))
        return None
    if not flags.wired:
        return None
    return MscIrq(which, gsiv, flags.edge)


def _device(raw: dict[str, int | bytes], platform_data: bytes, log: list[LogLine]) -> MscDevice:
    v = int_fields(raw)
    ident = v["identifier"]
    log.append(LogLine("debug", PREFIX + f"MSC.{ident}: missing namespace entry"))
    pcc = v["interface_type"] == 0x0A
    irqs = tuple(i for w in ("overflow", "error") if (i := _irq(v, w, log)) is not None)
    hid_raw = raw["linked_hid"]
    assert isinstance(hid_raw, bytes)
    hid = hid_raw.split(b"\0", 1)[0].decode("latin-1")
    return MscDevice(
        id=ident,
        interface="pcc" if pcc else "mmio",
        mmio=None if pcc else (v["base_address"], v["mmio_size"]),
        pcc_channel=v["base_address"] & 0xFFFF_FFFF if pcc else None,
        irqs=irqs,
        not_ready_us=v["max_nrdy_usec"],
        cpu_affinity=v["linked_uid"] if hid == PROCESSOR_CONTAINER_HID else None,
        linked_device=(hid, v["linked_uid"]) if hid else None,
        platform_data=platform_data,
    )


def parse_msc_devices(data: bytes | None) -> AcpiMpam:
    """Both passes of Linux's MPAM table handling, with the log they write.

    Linux has no namespace device (ARMHAA5C) for an MSC of this model, so each device
    logs the debug line "missing namespace entry", as on a machine whose DSDT lacks them.
    """
    log: list[LogLine] = []
    table = _table(data, log)
    fw_num_msc = count_msc(table)
    devices: list[MscDevice] = []

    def result(error: int = 0) -> AcpiMpam:
        return AcpiMpam(fw_num_msc, tuple(devices), tuple(log), error)

    if table is None:
        return result()
    if table[8] < 1:
        log.append(LogLine("debug", PREFIX + f"MPAM ACPI table revision {table[8]} not supported"))
        return result()
    at, end = HEADER.size, len(table)
    unrecognised_logged = False
    while at < end:
        length = _u(table, at, 2) if at + 2 <= end else 0
        if at + MSC_NODE.size > end or at + length > end:
            log.append(LogLine("err", PREFIX + "MSC entry overlaps end of ACPI table"))
            return result(-errno.EINVAL)
        if length < MSC_NODE.size:
            # Linux's parsing pass does not test this: a length of 0 would never advance (a
            # hang at boot) and a short one would read the next node's bytes as this one's.
            # Its counting pass has already refused the table, so the driver never loads;
            # the model stops here instead.
            return result(-errno.EINVAL)
        raw = MSC_NODE.unpack(table, at, end, "MPAM")
        v = int_fields(raw)
        platform_data = table[at : at + length]
        at += length
        ident = v["identifier"]
        if v["reserved"] or v["reserved1"] or v["reserved2"]:
            if not unrecognised_logged:
                log.append(LogLine("err", PREFIX + "Unrecognised MSC, MPAM not usable"))
                unrecognised_logged = True
            log.append(LogLine("debug", PREFIX + f"MSC.{ident}: reserved field set"))
            continue
        if v["mmio_size"] == 0:
            log.append(LogLine("debug", PREFIX + f"MSC.{ident}: marked as disabled"))
            continue
        if v["interface_type"] not in (0x00, 0x0A):
            log.append(LogLine("debug", PREFIX + f"MSC.{ident}: unknown interface type"))
            return result(-errno.EINVAL)
        devices.append(_device(raw, platform_data, log))
    return result()


def parse_resources(
    device: MscDevice,
    topology: CacheTopology | None,
    pxm_to_node: Mapping[int, int] | None = None,
) -> ResourceParse:
    """acpi_mpam_parse_resources, run when the driver probes `device`.

    Processor-cache locators take the level of the PPTT cache with the (32-bit) reference as
    id; memory locators the NUMA node of their proximity domain (node 0 when the domain is
    unknown, as without an SRAT); other locators are left for the driver to find as unknown.
    """
    log: list[LogLine] = []
    ris: list[RisLocation] = []
    data = device.platform_data
    try:
        node = parse_msc_node(data, 0, len(data))
    except TableError as e:
        if "functional dependency" in e.reason:
            log.append(
                LogLine("debug", PREFIX + "MSC has impossible number of functional dependencies")
            )
        return ResourceParse((), tuple(log), -errno.EINVAL)
    for res in node.resources:
        if res.locator_type == LocatorType.PROCESSOR_CACHE:
            cache_id = res.descriptor1 & 0xFFFF_FFFF
            level = topology.level_from_id(cache_id) if topology is not None else None
            if level is None:
                log.append(
                    LogLine(
                        "err",
                        PREFIX + f"Bad level ({-errno.ENOENT}) for cache with id {cache_id}",
                    )
                )
                return ResourceParse(tuple(ris), tuple(log), -errno.EINVAL)
            ris.append(RisLocation(res.ris_index, ClassType.CACHE, level, cache_id))
        elif res.locator_type == LocatorType.MEMORY:
            pxm = res.descriptor1
            nid = (pxm_to_node or {}).get(pxm)
            if nid is None:
                log.append(
                    LogLine("debug", PREFIX + f"Bad proximity domain {pxm}, using node 0 instead")
                )
                nid = 0
            ris.append(RisLocation(res.ris_index, ClassType.MEMORY, MPAM_CLASS_ID_DEFAULT, nid))
    return ResourceParse(tuple(ris), tuple(log))
