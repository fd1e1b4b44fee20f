"""The MPAM driver's objects: MSCs, RIS, and the classes, components and vMSCs they form.

Mirrors drivers/resctrl/mpam_internal.h (read for structure, written anew). A *class* is
every RIS controlling the same kind of resource (a cache level, or memory); a *component*
is one instance of it (one cache, one NUMA node's memory); a *vMSC* is the part of one MSC
that belongs to a component, and holds that MSC's RIS for it. Properties are discovered per
RIS from the ID registers and merged upwards (`merge_props`), so a class only offers what
every component can do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, auto

from mpam.firmware import ClassType, MscDevice
from mpam.hw.msc import Msc
from mpam.hw.pcc import PccMsc

__all__ = [
    "Feature",
    "MbwuState",
    "MpamClass",
    "MpamComponent",
    "MpamConfig",
    "MpamMsc",
    "MpamProps",
    "MpamRis",
    "MpamVmsc",
    "merge_props",
]


class Feature(Enum):
    """Linux's enum mpam_device_features: what a RIS, vMSC or class can do."""

    # Members are singletons compared by identity; the C hash keeps the feature-set tests
    # of every register write cheap (Enum's own __hash__ is a Python call).
    __hash__ = object.__hash__

    cpor_part = auto()
    cmax_softlim = auto()
    cmax_cmax = auto()
    cmax_cmin = auto()
    cmax_cassoc = auto()
    mbw_part = auto()
    mbw_min = auto()
    mbw_max = auto()
    mbw_prop = auto()
    intpri_part = auto()
    intpri_part_0_low = auto()
    dspri_part = auto()
    dspri_part_0_low = auto()
    msmon_csu = auto()
    msmon_csu_xcl = auto()
    msmon_csu_hw_nrdy = auto()
    msmon_mbwu = auto()
    msmon_mbwu_31counter = auto()
    msmon_mbwu_44counter = auto()
    msmon_mbwu_63counter = auto()
    msmon_mbwu_rwbw = auto()
    msmon_mbwu_hw_nrdy = auto()
    partid_nrw = auto()


@dataclass
class MpamProps:
    """What a RIS (or, merged, a vMSC or class) implements: features and their widths."""

    features: set[Feature] = field(default_factory=set)
    cpbm_wd: int = 0
    mbw_pbm_bits: int = 0
    bwa_wd: int = 0
    cmax_wd: int = 0
    cassoc_wd: int = 0
    intpri_wd: int = 0
    dspri_wd: int = 0
    num_csu_mon: int = 0
    num_mbwu_mon: int = 0

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def copy(self) -> MpamProps:
        return MpamProps(
            set(self.features),
            self.cpbm_wd,
            self.mbw_pbm_bits,
            self.bwa_wd,
            self.cmax_wd,
            self.cassoc_wd,
            self.intpri_wd,
            self.dspri_wd,
            self.num_csu_mon,
            self.num_mbwu_mon,
        )


_BWA = (Feature.mbw_min, Feature.mbw_max, Feature.mbw_prop)
_CMAX = (Feature.cmax_cmax, Feature.cmax_cmin)


def merge_props(parent: MpamProps, child: MpamProps, alias: bool) -> list[str]:
    """Fold `child` into `parent` as mpam_enable_merge_features does.

    An *alias* merge (RIS into their vMSC: several RIS of one MSC that control the same
    thing) adds what the child has; a plain merge (vMSC into the class) keeps only what
    both have. A bitmap of a different width cannot be shared, so it is dropped; a
    fraction or a monitor count takes the smaller. Returns the debug notes Linux prints.
    """
    notes: list[str] = []

    def mismatch(feat: Feature, differs: bool) -> bool:
        if not parent.has(feat):
            return False
        return (child.has(feat) and differs) or (not child.has(feat) and not alias)

    if alias:
        for feat in child.features - parent.features:
            parent.features.add(feat)
        for name in ("cpbm_wd", "mbw_pbm_bits", "bwa_wd", "cmax_wd", "cassoc_wd",
                     "intpri_wd", "dspri_wd", "num_csu_mon", "num_mbwu_mon"):  # fmt: skip
            if not getattr(parent, name):
                setattr(parent, name, getattr(child, name))
    if mismatch(Feature.cpor_part, parent.cpbm_wd != child.cpbm_wd):
        parent.features.discard(Feature.cpor_part)
        parent.cpbm_wd = 0
        notes.append("cleared cpor_part")
    if mismatch(Feature.mbw_part, parent.mbw_pbm_bits != child.mbw_pbm_bits):
        parent.features.discard(Feature.mbw_part)
        parent.mbw_pbm_bits = 0
        notes.append("cleared mbw_part")
    both_bwa = any(parent.has(f) for f in _BWA) and any(child.has(f) for f in _BWA)
    if both_bwa and child.bwa_wd != parent.bwa_wd:
        parent.bwa_wd = min(parent.bwa_wd, child.bwa_wd)
        notes.append("took the min bwa_wd")
    both_cmax = any(parent.has(f) for f in _CMAX) and any(child.has(f) for f in _CMAX)
    if both_cmax and child.cmax_wd != parent.cmax_wd:
        parent.cmax_wd = min(parent.cmax_wd, child.cmax_wd)
        notes.append("took the min cmax_wd")
    if mismatch(Feature.cmax_cassoc, parent.cassoc_wd != child.cassoc_wd):
        parent.features.discard(Feature.cmax_cassoc)
        parent.cassoc_wd = 0
        notes.append("cleared cassoc_wd")
    for name, feat in (("num_csu_mon", Feature.msmon_csu), ("num_mbwu_mon", Feature.msmon_mbwu)):
        if parent.has(feat) and child.has(feat) and getattr(child, name) != getattr(parent, name):
            setattr(parent, name, min(getattr(parent, name), getattr(child, name)))
            notes.append(f"took the min {name}")
    for pri in ("intpri", "dspri"):
        part, low = Feature[f"{pri}_part"], Feature[f"{pri}_part_0_low"]
        if parent.has(part):
            if not child.has(part) or parent.has(low) != child.has(low):
                parent.features -= {part, low}
                notes.append(f"cleared {pri}_part")
            elif getattr(child, f"{pri}_wd") != getattr(parent, f"{pri}_wd"):
                setattr(
                    parent,
                    f"{pri}_wd",
                    min(getattr(parent, f"{pri}_wd"), getattr(child, f"{pri}_wd")),
                )
                notes.append(f"took the min {pri}_wd")
    if not alias:
        parent.features &= child.features
    return notes


@dataclass
class MpamConfig:
    """What software asked of one PARTID in one component (struct mpam_config).

    Only the values whose feature is in `features` were ever set; the rest mean "reset".
    """

    features: set[Feature] = field(default_factory=set)
    cpbm: int = 0
    mbw_pbm: int = 0
    mbw_max: int = 0

    def copy(self) -> MpamConfig:
        return MpamConfig(set(self.features), self.cpbm, self.mbw_pbm, self.mbw_max)


@dataclass
class MbwuState:
    """Software state of one MBWU monitor: the overflow correction and what to restore."""

    correction: int = 0
    reset_on_next_read: bool = False
    enabled: bool = False
    partid: int = 0
    pmg: int = 0
    match_pmg: bool = False


@dataclass
class MpamRis:
    """One RIS of an MSC, placed in a vMSC of a component of a class."""

    msc: MpamMsc
    ris_idx: int
    affinity: frozenset[int]
    vmsc: MpamVmsc | None = None
    props: MpamProps = field(default_factory=MpamProps)
    idr: int = 0
    in_reset_state: bool = False
    mbwu_state: list[MbwuState] = field(default_factory=list)


@dataclass
class MpamVmsc:
    """The RIS of one MSC that belong to one component."""

    comp: MpamComponent
    msc: MpamMsc
    ris: list[MpamRis] = field(default_factory=list)
    props: MpamProps = field(default_factory=MpamProps)


@dataclass
class MpamComponent:
    """One instance of a class: a cache (id = PPTT cache id) or a node's memory."""

    comp_id: int
    klass: MpamClass
    vmscs: list[MpamVmsc] = field(default_factory=list)
    affinity: set[int] = field(default_factory=set)
    cfg: list[MpamConfig] = field(default_factory=list)  # one per PARTID, once enabled


@dataclass
class MpamClass:
    """Every component of one kind: (type, level); memory classes are level 255."""

    type: ClassType
    level: int
    components: dict[int, MpamComponent] = field(default_factory=dict)
    affinity: set[int] = field(default_factory=set)
    props: MpamProps = field(default_factory=MpamProps)
    nrdy_usec: int = 0
    csu_mons_used: set[int] = field(default_factory=set)
    mbwu_mons_used: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        if self.type is ClassType.CACHE:
            return f"L{self.level}"
        return "memory" if self.type is ClassType.MEMORY else f"unknown{self.level}"


@dataclass
class MpamMsc:
    """The driver's view of one MSC: its device, registers, and what probing found."""

    id: int
    device: MscDevice
    regs: Msc | PccMsc
    accessibility: frozenset[int]
    nrdy_usec: int
    ris: dict[int, MpamRis] = field(default_factory=dict)
    probed: bool = False
    online_refs: int = 0
    partid_max: int = 0
    pmg_max: int = 0
    has_esr: bool = False
    has_extd_esr: bool = False
    ris_max: int = 0
    error_irq: int = 0  # GSIV of the error interrupt, 0 when none
    error_irq_requested: bool = False

    @property
    def name(self) -> str:
        return self.device.name
