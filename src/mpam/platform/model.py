"""Validated records of a machine description.

A platform description says what a machine is made of: CPUs and their topology, the cache
hierarchy (with the PPTT cache ids firmware will publish), NUMA nodes with their memory, and
every MSC with its RIS, what each RIS controls and which MPAM features it implements. The
records are frozen: the hardware, the firmware tables and the simulation are all built from
one description and none of them may change it.

Feature records mirror the ID registers of IHI0099 (MPAMF_IDR, MPAMF_CPOR_IDR, ...), field
for field, in lower case, so that `mpam.hw` can build the ID registers from them and a
reader can hold the two side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "MBW_MAX_LIM",
    "AccessMode",
    "Cache",
    "CacheInstance",
    "Ccap",
    "Cpor",
    "Cpu",
    "CpuMpam",
    "Csu",
    "Firmware",
    "InterfaceType",
    "Interrupt",
    "LinkedDevice",
    "Mbw",
    "Mbwu",
    "Msc",
    "Msmon",
    "NumaNode",
    "Platform",
    "Pri",
    "Resource",
    "ResourceKind",
    "Ris",
    "RisFeatures",
    "Topology",
]


class InterfaceType(Enum):
    """How software reaches an MSC's registers (ACPI MSC node InterfaceType)."""

    MMIO = 0x00
    PCC = 0x0A  # firmware-backed ("mpam-fb"): registers behind a PCC mailbox


class ResourceKind(Enum):
    """What a RIS controls; maps to the ACPI resource locator type (DEN0065 Table 11)."""

    CACHE = "cache"  # processor cache, locator 0x00 (PPTT cache id)
    MEMORY = "memory"  # memory channel of a NUMA node, locator 0x01 (proximity domain)
    SMMU = "smmu"  # locator 0x02
    MEMORY_SIDE_CACHE = "memory_side_cache"  # locator 0x03
    ACPI_DEVICE = "acpi_device"  # locator 0x04
    INTERCONNECT = "interconnect"  # locator 0x05
    UNKNOWN = "unknown"  # locator 0xFF


class AccessMode(Enum):
    """Trigger mode of a wired interrupt (ACPI interrupt flags bit 0)."""

    LEVEL = "level"
    EDGE = "edge"


#: MBW_IDR.MAX_LIM encodings: both limits (HARDLIM writable), soft only, hard only.
MBW_MAX_LIM = {"both": 0b00, "soft": 0b01, "hard": 0b10}


@dataclass(frozen=True)
class Topology:
    """Regular CPU topology: packages x clusters x cores x threads."""

    packages: int
    clusters_per_package: int
    cores_per_cluster: int
    threads_per_core: int = 1
    frequency_mhz: int = 2600  # core clock: turns the performance model's cycles into time

    @property
    def num_cpus(self) -> int:
        return (
            self.packages
            * self.clusters_per_package
            * self.cores_per_cluster
            * self.threads_per_core
        )


@dataclass(frozen=True)
class Cpu:
    """One PE: its logical number, ACPI processor UID and place in the topology."""

    index: int
    acpi_uid: int
    package: int
    cluster: int  # global cluster number
    core: int  # global core number
    thread: int  # thread within its core
    mpidr: int


@dataclass(frozen=True)
class CpuMpam:
    """The PE side of MPAM: what MPAMIDR_EL1 and the ID_AA64PFR*_EL1 fields report.

    Every CPU of a platform has the same MPAM implementation.
    """

    version: str = "1.1"  # "1.0" or "1.1": ID_AA64PFR0_EL1.MPAM=1, PFR1.MPAM_frac=0/1
    partid_max: int = 63
    pmg_max: int = 1
    has_hcr: bool = True  # MPAMHCR_EL2 and the virtual PARTID map exist
    vpmr_max: int = 7  # MPAMVPM<n>_EL2, n = 0..vpmr_max
    has_sdeflt: bool = False
    has_force_ns: bool = False
    has_tidr: bool = False
    has_sme: bool = False  # MPAMSM_EL1 exists
    el2: bool = True
    el3: bool = True


@dataclass(frozen=True)
class CacheInstance:
    """One physical cache: its PPTT cache id and the CPUs that share it."""

    cache_id: int
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class Cache:
    """A level of the cache hierarchy, with one instance per sharing domain."""

    name: str  # "L1D", "L2", "L3", ...
    level: int
    type: str  # "data", "instruction" or "unified"
    size: int  # bytes, per instance
    ways: int
    line_size: int
    shared_by: str  # "core", "cluster", "package" or "system"
    instances: tuple[CacheInstance, ...]
    slices: int = 1  # a system-level cache may be split into independently controlled slices
    latency_cycles: int = 0  # load-to-use latency of a hit, in core cycles (performance model)

    @property
    def sets(self) -> int:
        return self.size // (self.ways * self.line_size)


@dataclass(frozen=True)
class NumaNode:
    """A NUMA node: its SRAT proximity domain, CPUs and memory channels."""

    node: int
    proximity_domain: int
    cpus: tuple[int, ...]
    memory_size: int  # bytes
    bandwidth: int  # peak bytes per second over all channels
    latency_ns: int  # unloaded access latency
    channels: int = 1


@dataclass(frozen=True)
class Interrupt:
    """A wired MSC interrupt (ACPI GSIV and flags)."""

    gsiv: int
    mode: AccessMode = AccessMode.LEVEL
    affinity: int | None = None  # processor or processor-container UID, when valid
    affinity_is_container: bool = False


@dataclass(frozen=True)
class LinkedDevice:
    """The ACPI device an MSC is linked to (_HID and _UID)."""

    hid: str
    uid: int


@dataclass(frozen=True)
class Resource:
    """What one RIS controls.

    `cache` names a `Cache` of the platform and `instance` one of its instances; a sliced
    cache adds `slice`. `node` names a NUMA node and `channel` one of its memory channels.
    The other kinds carry the raw ACPI locator fields.
    """

    kind: ResourceKind
    cache: str | None = None
    instance: int = 0
    slice: int | None = None
    node: int | None = None
    channel: int | None = None
    level: int | None = None  # memory-side cache level
    reference: int | None = None  # memory-side cache reference / SMMU interface / _UID
    hid: int | None = None  # ACPI device _HID as the locator's u64
    descriptor1: int = 0  # raw descriptors of interconnect / unknown locators
    descriptor2: int = 0


@dataclass(frozen=True)
class Cpor:
    """MPAMF_CPOR_IDR: cache-portion partitioning."""

    cpbm_wd: int


@dataclass(frozen=True)
class Ccap:
    """MPAMF_CCAP_IDR: cache-capacity partitioning."""

    cmax_wd: int
    has_cmin: bool = False
    has_cassoc: bool = False
    cassoc_wd: int = 0
    has_cmax_softlim: bool = False
    no_cmax: bool = False


@dataclass(frozen=True)
class Mbw:
    """MPAMF_MBW_IDR: memory-bandwidth partitioning."""

    bwa_wd: int
    max_lim: str = "both"  # key of MBW_MAX_LIM
    has_min: bool = False
    has_max: bool = False
    has_pbm: bool = False
    has_prop: bool = False
    windwr: bool = False
    bwpbm_wd: int = 0
    winwd_us: float = 1000.0  # MPAMCFG_MBW_WINWD reset value, microseconds


@dataclass(frozen=True)
class Pri:
    """MPAMF_PRI_IDR: priority partitioning."""

    has_intpri: bool = False
    intpri_0_is_low: bool = False
    intpri_wd: int = 0
    has_dspri: bool = False
    dspri_0_is_low: bool = False
    dspri_wd: int = 0


@dataclass(frozen=True)
class Csu:
    """MPAMF_CSUMON_IDR: cache-storage-usage monitors, plus how NRDY behaves."""

    num_mon: int
    no_match_pmg: bool = False
    no_match_partid: bool = False
    has_ofsr: bool = False
    has_xcl: bool = False
    csu_ro: bool = False
    has_capture: bool = False
    hw_nrdy: bool = True  # hardware sets NRDY on reconfiguration and clears it itself
    nrdy_usec: int = 10  # how long hardware keeps NRDY set (<= the MSC's max_nrdy_usec)


@dataclass(frozen=True)
class Mbwu:
    """MPAMF_MBWUMON_IDR: memory-bandwidth-usage monitors, plus how NRDY behaves."""

    num_mon: int
    scale: int = 0
    no_match_pmg: bool = False
    no_match_partid: bool = False
    has_oflow_capt: bool = False
    has_cevnt_oflw: bool = False
    has_ofsr: bool = False
    has_oflow_lnkg: bool = False
    has_rwbw: bool = False
    lwd: bool = False  # long counter is 63 bits (else 44)
    has_long: bool = False
    has_capture: bool = False
    hw_nrdy: bool = False
    nrdy_usec: int = 10


@dataclass(frozen=True)
class Msmon:
    """MPAMF_MSMON_IDR: the monitor types and the MSC-wide monitor features."""

    csu: Csu | None = None
    mbwu: Mbwu | None = None
    has_oflow_sr: bool = False
    has_oflw_msi: bool = False
    no_hw_oflw_intr: bool = False
    has_local_capt_evnt: bool = False


@dataclass(frozen=True)
class RisFeatures:
    """Everything the per-RIS ID registers describe."""

    partid_max: int
    pmg_max: int
    cpor: Cpor | None = None
    ccap: Ccap | None = None
    mbw: Mbw | None = None
    pri: Pri | None = None
    msmon: Msmon | None = None
    impl_idr: int | None = None  # MPAMF_IMPL_IDR contents when HAS_IMPL_IDR


@dataclass(frozen=True)
class Ris:
    """A resource instance of an MSC: its index, what it controls and its features.

    `identifier` and `dependencies` are the ACPI resource node's Identifier and the
    Identifiers of the resource nodes it functionally depends on.
    """

    index: int
    resource: Resource
    features: RisFeatures
    identifier: int
    dependencies: tuple[int, ...] = ()


@dataclass(frozen=True)
class Msc:
    """A memory-system component: its interface, interrupts and RIS.

    The MSC-wide fields are the ones IHI0099 does not let vary per RIS (AIDR, IIDR, ESR,
    narrowing, enable/disable, MSI support, the translation registers).
    """

    name: str
    identifier: int
    interface: InterfaceType
    base_address: int  # MMIO: NS page base; PCC: the PCC subspace id
    size: int  # NS page size in bytes
    ris: tuple[Ris, ...]
    aidr: int = 0x11  # 0x10 = v1.0, 0x11 = v1.1
    iidr: int = 0x0000043B  # ProductID 0, Variant 0, Revision 0, Implementer Arm (0x43B)
    max_nrdy_usec: int = 100
    error_interrupt: Interrupt | None = None
    overflow_interrupt: Interrupt | None = None
    linked_device: LinkedDevice | None = None
    has_ris: bool = False
    has_esr: bool = True
    has_endis: bool = False
    has_nfu: bool = False
    has_err_msi: bool = False
    sp4: bool = False
    has_in_tl: bool = False
    has_out_tl: bool = False
    intpartid_max: int | None = None  # set when the MSC implements PARTID narrowing
    pcc_latency_usec: int = 0  # PCC only: mailbox request-to-completion latency

    @property
    def ext(self) -> bool:
        """MPAMF_IDR.EXT: the upper IDR word exists (v1.1 and later)."""
        return self.aidr >= 0x11

    @property
    def has_extd_esr(self) -> bool:
        """HAS_EXTD_ESR: IHI0099 requires it whenever HAS_RIS and HAS_ESR are both set."""
        return self.has_ris and self.has_esr

    @property
    def ris_max(self) -> int:
        return max(r.index for r in self.ris)


@dataclass(frozen=True)
class Firmware:
    """What the firmware writes in the ACPI table headers it publishes for this machine.

    Table ids left empty are derived from the platform name when the tables are built.
    `mpam_revision` 1 is what edk2 and most generators emit for DEN0065 2.0; ACPICA's
    template uses 2. The PPTT is always revision 3, the first with cache ids.
    """

    oem_id: str = "ARMLTD"
    mpam_table_id: str = ""
    pptt_table_id: str = ""
    oem_revision: int = 1
    creator_id: str = "MPTK"  # the mpam tool kit
    creator_revision: int = 0x20261121
    mpam_revision: int = 1


@dataclass(frozen=True)
class Platform:
    """A whole machine description."""

    name: str
    description: str
    topology: Topology
    cpus: tuple[Cpu, ...]
    cpu_mpam: CpuMpam
    caches: tuple[Cache, ...]
    numa: tuple[NumaNode, ...]
    mscs: tuple[Msc, ...]
    firmware: Firmware = field(default_factory=Firmware)
    source: str = field(default="", compare=False)  # where it was loaded from

    def cache(self, name: str) -> Cache:
        for c in self.caches:
            if c.name == name:
                return c
        raise KeyError(name)

    def node(self, node: int) -> NumaNode:
        for n in self.numa:
            if n.node == node:
                return n
        raise KeyError(node)
