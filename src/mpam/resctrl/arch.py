"""The interface between the generic resctrl filesystem and an architecture.

The analogue of the ``resctrl_arch_*`` hooks and the resource structures of
include/linux/resctrl.h (read for the contract, written anew). The generic code in
`mpam.resctrl` sees resources, domains and events only through these records and calls the
architecture only through `ResctrlArch`; MPAM implements it in `mpam.driver.mpam_resctrl`,
and an Intel RDT, AMD or RISC-V CBQRI backend could implement it without touching the
generic code.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Protocol

__all__ = [
    "CdpType",
    "CtrlDomain",
    "EventId",
    "MonDomain",
    "RdtResource",
    "ResctrlArch",
    "ResctrlFsOps",
    "ResourceId",
    "SchemaFormat",
    "ThrottleMode",
]


class ResourceId(IntEnum):
    """enum resctrl_res_level, in the kernel's order (which the schema list reverses)."""

    L3 = 0
    L2 = 1
    MBA = 2
    SMBA = 3


class SchemaFormat(Enum):
    BITMAP = "bitmap"  # cache portion bitmaps, printed %x
    RANGE = "range"  # bandwidth percentages (or MBps), printed %u


class ThrottleMode(Enum):
    UNDEFINED = "undefined"  # info/MB/thread_throttle_mode is not created
    MAX = "max"
    PER_THREAD = "per-thread"


class CdpType(IntEnum):
    """enum resctrl_conf_type: which half of a CDP pair a schema configures."""

    NONE = 0
    CODE = 1
    DATA = 2


class EventId(IntEnum):
    """Monitor events (enum resctrl_event_id), in the order files and lists show them."""

    LLC_OCCUPANCY = 1
    MBM_TOTAL_BYTES = 2
    MBM_LOCAL_BYTES = 3

    @property
    def file_name(self) -> str:
        return self.name.lower()


@dataclass
class CtrlDomain:
    """A control domain (struct rdt_ctrl_domain): one instance of a resource (a cache, a
    memory controller) and those of the CPUs it serves that are online.

    Domains follow CPU hotplug: the architecture creates one when the first of its CPUs
    comes online and drops it when the last goes (`ResctrlFsOps`), so a resource's
    `ctrl_domains` lists only domains with an online CPU, by id. `cpus` is never empty
    while the domain is listed."""

    id: int
    cpus: set[int] = field(default_factory=set)


@dataclass
class MonDomain:
    """A monitoring domain (struct rdt_l3_mon_domain) of a monitoring-capable resource,
    with its online CPUs; it comes and goes with them as a `CtrlDomain` does."""

    id: int
    cpus: set[int] = field(default_factory=set)


@dataclass
class RdtResource:
    """struct rdt_resource: what resctrl may control and monitor, as the arch reports it."""

    rid: ResourceId
    name: str
    alloc_capable: bool = False
    mon_capable: bool = False
    schema_fmt: SchemaFormat = SchemaFormat.BITMAP
    cdp_capable: bool = False
    ctrl_domains: list[CtrlDomain] = field(default_factory=list)
    mon_domains: list[MonDomain] = field(default_factory=list)
    # cache resources (struct resctrl_cache)
    cbm_len: int = 0
    min_cbm_bits: int = 1
    shareable_bits: int = 0
    arch_has_sparse_bitmasks: bool = False
    # bandwidth resources (struct resctrl_membw)
    min_bw: int = 0
    bw_gran: int = 0
    max_bw: int = 100
    delay_linear: bool = True
    arch_needs_linear: bool = False  # the arch cannot use a non-linear MB delay scale
    throttle_mode: ThrottleMode = ThrottleMode.UNDEFINED
    # monitoring
    num_rmid: int = 0
    events: tuple[EventId, ...] = ()
    # counter assignment (struct resctrl_mon): MBM events need a counter assigned to count
    mbm_cntr_assignable: bool = False
    mbm_cntr_assign_fixed: bool = False  # the arch cannot leave mbm_event mode
    mbm_cntr_configurable: bool = False  # event_filter may be written
    num_mbm_cntrs: int = 0  # counters per monitoring domain
    mbm_cfg_mask: int = 0  # the memory transactions MBM events can filter on

    @property
    def default_ctrl(self) -> int:
        """What an unconfigured group gets: every portion, or the maximum bandwidth."""
        if self.schema_fmt is SchemaFormat.BITMAP:
            return (1 << self.cbm_len) - 1
        return self.max_bw


class ResctrlFsOps(Protocol):
    """What the filesystem offers an architecture: the resctrl_* calls include/linux/
    resctrl.h declares for the arch to make as CPUs and domains come and go, and when the
    hardware can no longer be used. `mpam.resctrl.fs.ResctrlFs` implements them.

    The order an architecture calls them in is its own (MPAM's is in
    `mpam.driver.mpam_resctrl`): the filesystem must act on the domain it is handed, not
    look it up in the resource's list, which may not yet (online) or no longer (offline)
    hold it."""

    def online_cpu(self, cpu: int) -> None:
        """resctrl_online_cpu: `cpu` joins the default group (after its domains exist)."""

    def offline_cpu(self, cpu: int) -> None:
        """resctrl_offline_cpu: `cpu` leaves its groups (before its domains go)."""

    def online_ctrl_domain(self, r: RdtResource, d: CtrlDomain) -> int:
        """resctrl_online_ctrl_domain: 0, or a negative errno that keeps `d` offline."""
        ...

    def offline_ctrl_domain(self, r: RdtResource, d: CtrlDomain) -> None:
        """resctrl_offline_ctrl_domain: the last CPU of `d` went."""

    def online_mon_domain(self, r: RdtResource, d: MonDomain) -> int:
        """resctrl_online_mon_domain: 0, or a negative errno that keeps `d` offline."""
        ...

    def offline_mon_domain(self, r: RdtResource, d: MonDomain) -> None:
        """resctrl_offline_mon_domain: the last CPU of `d` went."""

    def exit(self) -> None:
        """resctrl_exit: the hardware is gone; every domain is already offline."""


class ResctrlArch(ABC):
    """Everything the generic filesystem needs from an architecture."""

    #: CONFIG_RESCTRL_RMID_DEPENDS_ON_CLOSID: an RMID is only meaningful with its CLOSID
    #: (MPAM's PMG within a PARTID), so RMIDs are allocated per CLOSID.
    rmid_depends_on_closid: bool = False

    def enabled_events(self) -> set[EventId]:
        """Every monitor event some resource offers."""
        return {e for r in self.resources() if r.mon_capable for e in r.events}

    # --- capabilities and sizes ------------------------------------------------------------

    @abstractmethod
    def resources(self) -> list[RdtResource]:
        """Every resource the architecture offers, capable or not, in ResourceId order."""

    @abstractmethod
    def get_num_closid(self, r: RdtResource) -> int:
        """How many CLOSIDs the resource supports (before CDP halves them)."""

    @abstractmethod
    def system_num_rmid_idx(self) -> int:
        """Size of the RMID index space (resctrl_arch_system_num_rmid_idx)."""

    @abstractmethod
    def rmid_idx_encode(self, closid: int, rmid: int) -> int: ...

    @abstractmethod
    def rmid_idx_decode(self, idx: int) -> tuple[int, int]:
        """(closid, rmid) of an RMID index."""

    # --- controls -------------------------------------------------------------------------

    @abstractmethod
    def get_config(self, r: RdtResource, d: CtrlDomain, closid: int, t: CdpType) -> int:
        """The control value in force for `closid` (a bitmap, or a percentage)."""

    @abstractmethod
    def update_one(self, r: RdtResource, d: CtrlDomain, closid: int, t: CdpType, value: int) -> int:
        """Program one control; 0 or a negative errno."""

    @abstractmethod
    def reset_all_ctrls(self, r: RdtResource) -> None:
        """Every CLOSID of `r` back to its default (unmount)."""

    @abstractmethod
    def set_cdp_enabled(self, rid: ResourceId, enable: bool) -> int: ...

    @abstractmethod
    def get_cdp_enabled(self, rid: ResourceId) -> bool: ...

    # --- labels ---------------------------------------------------------------------------

    @abstractmethod
    def set_closid_rmid(self, pid: int, closid: int, rmid: int) -> None:
        """Label a task (resctrl_arch_set_closid_rmid)."""

    @abstractmethod
    def set_cpu_default_closid_rmid(self, cpu: int, closid: int, rmid: int) -> None: ...

    @abstractmethod
    def sync_cpu_closid_rmid(self, cpu: int) -> None:
        """Make the CPU's running task use its (possibly new) label now (the IPI)."""

    @abstractmethod
    def match_closid(self, pid: int, closid: int) -> bool: ...

    @abstractmethod
    def match_rmid(self, pid: int, closid: int, rmid: int) -> bool: ...

    # --- monitoring -----------------------------------------------------------------------

    @abstractmethod
    def rmid_read(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, event: EventId
    ) -> tuple[int, int]:
        """(0 or a negative errno, value) of one event counter."""

    @abstractmethod
    def reset_rmid(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, event: EventId
    ) -> None:
        """Start an event counter from zero (a new group's first read)."""

    # --- counter assignment (only for resources with mbm_cntr_assignable) ---------------

    def mbm_cntr_assign_enabled(self, r: RdtResource) -> bool:
        """resctrl_arch_mbm_cntr_assign_enabled: is `r` in mbm_event mode?"""
        return False

    def mbm_cntr_assign_set(self, r: RdtResource, enable: bool) -> int:
        """Enter or leave mbm_event mode; 0 or a negative errno."""
        return -errno.EOPNOTSUPP

    def config_cntr(
        self, r: RdtResource, d: MonDomain, event: EventId, closid: int, rmid: int,
        cntr_id: int, assign: bool,
    ) -> None:  # fmt: skip
        """resctrl_arch_config_cntr: let counter `cntr_id` of `d` count (or stop counting)
        `event` for (closid, rmid), from zero."""
        raise NotImplementedError

    def cntr_read(
        self, r: RdtResource, d: MonDomain, closid: int, rmid: int, cntr_id: int, event: EventId
    ) -> tuple[int, int]:
        """resctrl_arch_cntr_read: (0 or a negative errno, value) of an assigned counter."""
        return -errno.EINVAL, 0
