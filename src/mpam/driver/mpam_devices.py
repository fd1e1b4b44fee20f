"""The MPAM driver: from the ACPI MSC devices to enabled, programmed hardware.

Follows drivers/resctrl/mpam_devices.c (v6.19, with the v7.1 requestor registration; read for
behaviour, written anew):

1. init: count the firmware's MSCs ("No MSC devices found in firmware");
2. probe each ``mpam_msc`` device: which CPUs reach it, its error interrupt, its registers,
   its RIS placed in classes and components from the ACPI resource nodes and the PPTT;
3. once every device is probed, a temporary cpuhp callback ("mpam:drv_probe") discovers
   each MSC from the first CPU that can reach it: AIDR, IDR and every RIS's ID registers;
4. when every MSC is discovered, deferred work enables MPAM once: the PARTID and PMG limits
   are published (the minimum over every requestor and MSC, never lowered afterwards),
   class properties merged, every PARTID reset, the error interrupts enabled, and the
   steady-state callbacks ("mpam:online") installed;
5. in steady state, the last CPU that can reach an MSC resets it when it goes offline and
   the first to come back restores every PARTID's configuration; an error interrupt
   disables MPAM and resets everything.

Unlike v6.19, firmware-backed (PCC) MSCs are supported, as the survey of MPAM in Linux describes for
"mpam-fb": their registers are only touched from contexts that may sleep (the cpuhp and
work callbacks here), which is what the PCC mailbox requires.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from mpam.driver.mpam_internal import (
    Feature,
    MbwuState,
    MpamClass,
    MpamComponent,
    MpamConfig,
    MpamMsc,
    MpamProps,
    MpamRis,
    MpamVmsc,
    merge_props,
)
from mpam.driver.msc_io import Regs, fields, get
from mpam.firmware import (
    CacheTopology,
    ClassType,
    MscDevice,
    count_msc,
    parse_msc_devices,
    parse_resources,
)
from mpam.hw.msc import AccessContext, MmioAccess, Msc
from mpam.hw.pcc import PccMsc

__all__ = ["ERROR_NAMES", "Bus", "Log", "MpamDriver"]

#: MPAMF_ESR.ERRCODE names, as the driver prints them.
ERROR_NAMES = (
    "No error",
    "PARTID_SEL_Range",
    "Req_PARTID_Range",
    "MSMONCFG_ID_RANGE",
    "Req_PMG_Range",
    "Monitor_Range",
    "intPARTID_Range",
    "Unexpected_INTERNAL",
    "Undefined_RIS_PART_SEL",
    "RIS_No_Control",
    "Undefined_RIS_MON_SEL",
    "RIS_No_Monitor",
    "Reserved",
    "Reserved",
    "Reserved",
    "Reserved",
)

#: How many of the driver's most recent MMIO accesses the trace keeps.
MMIO_TRACE_LEN = 65536

#: Linux's MPAM_MSC_MAX_NUM_RIS: RIS indexes above it are refused.
MAX_NUM_RIS = 16


class Log(Protocol):
    """Where the driver's kernel log lines go."""

    def __call__(self, level: str, text: str) -> object: ...


class Bus(Protocol):
    """How the driver reaches the silicon: the address map, PCC channels, interrupts."""

    def ioremap(self, base: int, size: int) -> Msc: ...

    def pcc_channel(self, subspace: int) -> PccMsc: ...


class Hotplug(Protocol):
    """The kernel's cpuhp: dynamic states with startup/teardown callbacks."""

    def setup_state(
        self, name: str, startup: Callable[[int], int] | None, teardown: Callable[[int], int] | None
    ) -> int: ...

    def remove_state(self, state: int) -> None: ...


@dataclass
class _Requestor:
    partid_max: int
    pmg_max: int


def _pr(func: str, text: str) -> str:
    return f"mpam:{func}: {text}"


class MpamDriver:
    """The driver's state for one machine, and the callbacks the kernel calls."""

    def __init__(
        self,
        *,
        log: Log,
        bus: Bus,
        hotplug: Hotplug,
        queue_work: Callable[[Callable[[], None]], object],
        possible_cpus: Iterable[int],
        mpam_table: bytes | None,
        pptt: CacheTopology | None,
        pxm_to_node: dict[int, int],
        cpu_to_node: dict[int, int],
        supports_mpam: Callable[[], bool] = lambda: True,
        context: Callable[[], AccessContext] | None = None,
        wait_ns: Callable[[int], None] | None = None,
    ) -> None:
        self.log = log
        self.bus = bus
        self.hotplug = hotplug
        self.queue_work = queue_work
        self.possible = frozenset(possible_cpus)
        self.mpam_table = mpam_table
        self.pptt = pptt
        self.pxm_to_node = pxm_to_node
        self.cpu_to_node = cpu_to_node
        self.supports_mpam = supports_mpam
        self.context = context
        #: the CPU's wait for one MMIO access: simulated time passing (`msc_io`)
        self.wait_ns = wait_ns
        self.fw_num_msc = 0
        self.mscs: list[MpamMsc] = []
        self.classes: dict[tuple[ClassType, int], MpamClass] = {}
        self.requestor: _Requestor | None = None
        self.partid_max_published = False
        self.enabled = False
        self.enable_once_done = False
        self.disable_reason: str | None = None
        self.cpuhp_state = 0
        self.regs: dict[int, Regs] = {}
        self.mmio_trace: deque[MmioAccess] = deque(maxlen=MMIO_TRACE_LEN)
        self.mmio_traced = 0  # accesses ever traced: a trace mark counts them
        self.tracing = False
        # Hooks for the monitor code and the resctrl glue, which live above this module.
        self.on_enable: list[Callable[[], None]] = []
        #: static_branch_disable(&mpam_enabled): the first thing mpam_disable does.
        self.on_disable: list[Callable[[], None]] = []
        self.on_save: list[Callable[[MpamRis], None]] = []
        self.on_restore: list[Callable[[MpamRis], None]] = []
        #: mpam_resctrl_online_cpu / _offline_cpu: told of each CPU while resctrl is set up
        #: (`resctrl_enabled`); an online hook's negative errno fails the CPU's bring-up.
        self.on_cpu_online: list[Callable[[int], int | None]] = []
        self.on_cpu_offline: list[Callable[[int], None]] = []
        #: mpam_resctrl_exit and mpam_resctrl_teardown_class, called by mpam_disable.
        self.on_resctrl_exit: list[Callable[[], None]] = []
        self.on_teardown_class: list[Callable[[MpamClass], None]] = []
        #: mpam_resctrl_enabled: resctrl is set up and hears of CPUs. The cpuhp callbacks
        #: test it rather than `enabled`, which mpam_disable clears before removing them.
        self.resctrl_enabled = False

    # --- limits ---------------------------------------------------------------------------

    @property
    def partid_max(self) -> int:
        return self.requestor.partid_max if self.requestor else 0

    @property
    def pmg_max(self) -> int:
        return self.requestor.pmg_max if self.requestor else 0

    def register_requestor(self, partid_max: int, pmg_max: int) -> int:
        """mpam_register_requestor: narrow the system's PARTID/PMG space to what a requestor
        (the CPUs, an SMMU, ...) can generate; -EBUSY once published, if it would shrink."""
        if self.requestor is None:
            self.requestor = _Requestor(partid_max, pmg_max)
            return 0
        if self.partid_max_published:
            if partid_max < self.requestor.partid_max or pmg_max < self.requestor.pmg_max:
                return -errno.EBUSY
            return 0
        self.requestor.partid_max = min(self.requestor.partid_max, partid_max)
        self.requestor.pmg_max = min(self.requestor.pmg_max, pmg_max)
        return 0

    # --- init and probe -------------------------------------------------------------------

    def driver_init(self) -> int:
        """mpam_msc_driver_init (subsys_initcall)."""
        if not self.supports_mpam():
            return -errno.EOPNOTSUPP
        self.fw_num_msc = count_msc(self.mpam_table)
        if self.fw_num_msc <= 0:
            self.log("err", _pr("mpam_msc_driver_init", "No MSC devices found in firmware"))
            return -errno.EINVAL
        return 0

    def acpi_parse(self) -> int:
        """acpi_mpam_parse (subsys_initcall_sync): create the devices, each probed at once."""
        if not self.supports_mpam():
            return 0
        acpi = parse_msc_devices(self.mpam_table)
        for line in acpi.log:
            self.log(line.level, line.text)
        if self.fw_num_msc <= 0:
            return 0  # the platform driver never registered: nothing probes the devices
        for device in acpi.devices:
            self.probe(device)
        return acpi.error

    def _dev(self, device: MscDevice, level: str, text: str) -> None:
        self.log(level, f"mpam_msc {device.name}: {text}")

    def probe(self, device: MscDevice) -> int:
        """mpam_msc_drv_probe for one device."""
        if device.cpu_affinity is not None:
            cpus = self.pptt.cpus_from_container(device.cpu_affinity) if self.pptt else ()
            accessibility = frozenset(cpus)
        else:
            accessibility = self.possible
        if not accessibility:
            self._dev(device, "err", "MSC is not accessible from any CPU!")
            return -errno.EINVAL
        error_irq = next((i.gsiv for i in device.irqs if i.name == "error"), 0)
        if error_irq and accessibility != self.possible:
            self.log("err", _pr("mpam_msc_setup_error_irq",
                                f"msc:{device.id} is a private resource with a shared error interrupt"))  # fmt: skip
            return -errno.EINVAL
        try:
            if device.interface == "pcc":
                assert device.pcc_channel is not None
                regs: Msc | PccMsc = self.bus.pcc_channel(device.pcc_channel)
            else:
                assert device.mmio is not None
                regs = self.bus.ioremap(*device.mmio)
        except KeyError:
            self._dev(device, "err", "Failed to map MSC base address")
            return -errno.ENOMEM
        msc = MpamMsc(
            id=device.id,
            device=device,
            regs=regs,
            accessibility=accessibility,
            nrdy_usec=device.not_ready_us,
            error_irq=error_irq,
        )
        self.regs[msc.id] = Regs(regs, self.context, self.wait_ns)
        hw = regs.msc if isinstance(regs, PccMsc) else regs
        hw.tracers.append(self._trace)
        self.mscs.append(msc)
        err = self._parse_resources(msc)
        if err:
            self.mscs.remove(msc)
            hw.tracers.remove(self._trace)
            return err
        if len(self.mscs) == self.fw_num_msc:
            self._register_cpuhp(self.discovery_cpu_online, None, "mpam:drv_probe")
        return 0

    def _trace(self, access: MmioAccess) -> None:
        if self.tracing:
            self.mmio_trace.append(access)
            self.mmio_traced += 1

    def _parse_resources(self, msc: MpamMsc) -> int:
        parsed = parse_resources(msc.device, self.pptt, self.pxm_to_node)
        for line in parsed.log:
            self.log(line.level, line.text)
        if parsed.error:
            return parsed.error
        for loc in parsed.ris:
            err = self._ris_create(
                msc, loc.ris_index, loc.class_type, loc.class_id, loc.component_id
            )
            if err:
                return err
        return 0

    def _affinity(self, msc: MpamMsc, klass: MpamClass, comp_id: int) -> frozenset[int]:
        if klass.type is ClassType.CACHE:
            cpus = frozenset(self.pptt.cpumask_from_id(comp_id)) if self.pptt else frozenset()
            if not cpus:
                self._dev(msc.device, "warn", "no CPUs associated with cache node")
        elif klass.type is ClassType.MEMORY:
            cpus = frozenset(c for c in self.possible if self.cpu_to_node.get(c, 0) == comp_id)
        else:
            cpus = frozenset()
        return cpus & msc.accessibility

    def _ris_create(
        self, msc: MpamMsc, ris_idx: int, type_: ClassType, class_id: int, comp_id: int
    ) -> int:
        """mpam_ris_create: place RIS `ris_idx` of `msc` in its class and component."""
        if ris_idx > MAX_NUM_RIS:
            return -errno.EINVAL
        if ris_idx in msc.ris:
            return -errno.EBUSY
        klass = self.classes.setdefault((type_, class_id), MpamClass(type_, class_id))
        comp = klass.components.setdefault(comp_id, MpamComponent(comp_id, klass))
        vmsc = next((v for v in comp.vmscs if v.msc is msc), None)
        if vmsc is None:
            vmsc = MpamVmsc(comp, msc)
            comp.vmscs.append(vmsc)
        ris = MpamRis(msc, ris_idx, self._affinity(msc, klass, comp_id), vmsc)
        vmsc.ris.append(ris)
        msc.ris[ris_idx] = ris
        comp.affinity |= ris.affinity
        klass.affinity |= ris.affinity
        return 0

    def _register_cpuhp(
        self,
        online: Callable[[int], int] | None,
        offline: Callable[[int], int] | None,
        name: str,
    ) -> None:
        """mpam_register_cpuhp_callbacks: replace the driver's cpuhp state."""
        if self.cpuhp_state:
            self.hotplug.remove_state(self.cpuhp_state)
            self.cpuhp_state = 0
        state = self.hotplug.setup_state(name, online, offline)
        if state <= 0:
            self.log(
                "err", _pr("mpam_register_cpuhp_callbacks", "Failed to register cpuhp callbacks")
            )
            return
        self.cpuhp_state = state

    # --- discovery ------------------------------------------------------------------------

    def discovery_cpu_online(self, cpu: int) -> int:
        """The temporary cpuhp callback: discover the MSCs this CPU is the first to reach."""
        if self.enabled:
            return 0
        probed = False
        for msc in self.mscs:
            if cpu not in msc.accessibility:
                continue
            if not msc.probed:
                err = self.msc_hw_probe(msc)
                if err:
                    self.disable_reason = "error during probing"
                    self.queue_work(self.disable)
                    return err
            probed = True
        if probed:
            self.queue_work(self.enable)
        return 0

    def msc_hw_probe(self, msc: MpamMsc) -> int:
        """mpam_msc_hw_probe: what the MSC is, read from its ID registers."""
        r = self.regs[msc.id]
        aidr = r.read("MPAMF_AIDR")
        if get("MPAMF_AIDR", "ArchMajorRev", aidr) != 1:
            self._dev(msc.device, "err", "MSC does not match MPAM architecture v1.x")
            return -errno.EIO
        idr = r.read("MPAMF_IDR")
        if get("MPAMF_IDR", "EXT", idr):
            idr |= r.read("MPAMF_IDR", 1) << 32
        msc.ris_max = get("MPAMF_IDR", "RIS_MAX", idr)
        msc.has_esr = bool(get("MPAMF_IDR", "HAS_ESR", idr)) or not get("MPAMF_IDR", "EXT", idr)
        msc.partid_max = get("MPAMF_IDR", "PARTID_MAX", idr)
        msc.pmg_max = get("MPAMF_IDR", "PMG_MAX", idr)
        for ris_idx in range(msc.ris_max + 1):
            r.part_sel(ris_idx)
            idr = r.read("MPAMF_IDR")
            if get("MPAMF_IDR", "EXT", idr):
                idr |= r.read("MPAMF_IDR", 1) << 32
            msc.partid_max = min(msc.partid_max, get("MPAMF_IDR", "PARTID_MAX", idr))
            msc.pmg_max = min(msc.pmg_max, get("MPAMF_IDR", "PMG_MAX", idr))
            msc.has_extd_esr = bool(get("MPAMF_IDR", "HAS_EXTD_ESR", idr))
            ris = msc.ris.get(ris_idx)
            if ris is None:
                self._ris_create(msc, ris_idx, ClassType.UNKNOWN, 0, 0)
                ris = msc.ris[ris_idx]
            ris.idr = idr
            r.part_sel(ris_idx)
            self._ris_hw_probe(msc, ris, r)
        self._clear_esr(msc, r)
        if self.requestor is None:
            self.requestor = _Requestor(msc.partid_max, msc.pmg_max)
        else:
            self.requestor.partid_max = min(self.requestor.partid_max, msc.partid_max)
            self.requestor.pmg_max = min(self.requestor.pmg_max, msc.pmg_max)
        msc.probed = True
        return 0

    def _ris_hw_probe(self, msc: MpamMsc, ris: MpamRis, r: Regs) -> None:
        """mpam_ris_hw_probe: one RIS's features, in the order Linux reads them."""
        p = ris.props
        f = p.features
        idr = ris.idr

        def has(name: str) -> bool:
            return bool(get("MPAMF_IDR", name, idr))

        if has("HAS_CCAP_PART"):
            v = r.read("MPAMF_CCAP_IDR")
            p.cmax_wd = get("MPAMF_CCAP_IDR", "CMAX_WD", v)
            if p.cmax_wd and get("MPAMF_CCAP_IDR", "HAS_CMAX_SOFTLIM", v):
                f.add(Feature.cmax_softlim)
            if p.cmax_wd and not get("MPAMF_CCAP_IDR", "NO_CMAX", v):
                f.add(Feature.cmax_cmax)
            if p.cmax_wd and get("MPAMF_CCAP_IDR", "HAS_CMIN", v):
                f.add(Feature.cmax_cmin)
            p.cassoc_wd = get("MPAMF_CCAP_IDR", "CASSOC_WD", v)
            if p.cassoc_wd and get("MPAMF_CCAP_IDR", "HAS_CASSOC", v):
                f.add(Feature.cmax_cassoc)
        if has("HAS_CPOR_PART"):
            p.cpbm_wd = get("MPAMF_CPOR_IDR", "CPBM_WD", r.read("MPAMF_CPOR_IDR"))
            if p.cpbm_wd:
                f.add(Feature.cpor_part)
        if has("HAS_MBW_PART"):
            v = r.read("MPAMF_MBW_IDR")
            p.mbw_pbm_bits = get("MPAMF_MBW_IDR", "BWPBM_WD", v)
            if p.mbw_pbm_bits and get("MPAMF_MBW_IDR", "HAS_PBM", v):
                f.add(Feature.mbw_part)
            p.bwa_wd = get("MPAMF_MBW_IDR", "BWA_WD", v)
            for flag, feat in (("HAS_MAX", Feature.mbw_max), ("HAS_MIN", Feature.mbw_min),
                               ("HAS_PROP", Feature.mbw_prop)):  # fmt: skip
                if p.bwa_wd and get("MPAMF_MBW_IDR", flag, v):
                    f.add(feat)
        if has("HAS_PRI_PART"):
            v = r.read("MPAMF_PRI_IDR")
            for pri in ("INTPRI", "DSPRI"):
                wd = get("MPAMF_PRI_IDR", f"{pri}_WD", v)
                setattr(p, f"{pri.lower()}_wd", wd)
                if wd and get("MPAMF_PRI_IDR", f"HAS_{pri}", v):
                    f.add(Feature[f"{pri.lower()}_part"])
                    if get("MPAMF_PRI_IDR", f"{pri}_0_IS_LOW", v):
                        f.add(Feature[f"{pri.lower()}_part_0_low"])
        if has("HAS_MSMON"):
            v = r.read("MPAMF_MSMON_IDR")
            if get("MPAMF_MSMON_IDR", "MSMON_CSU", v):
                c = r.read("MPAMF_CSUMON_IDR")
                p.num_csu_mon = get("MPAMF_CSUMON_IDR", "NUM_MON", c)
                if p.num_csu_mon:
                    f.add(Feature.msmon_csu)
                    if get("MPAMF_CSUMON_IDR", "HAS_XCL", c):
                        f.add(Feature.msmon_csu_xcl)
                    if self._hw_nrdy(r, ris, "MSMON_CSU"):
                        f.add(Feature.msmon_csu_hw_nrdy)
                        if not msc.nrdy_usec:
                            self._dev(msc.device, "err", "Counters are not usable because "
                                      "not-ready timeout was not provided by firmware.")  # fmt: skip
            if get("MPAMF_MSMON_IDR", "MSMON_MBWU", v):
                m = r.read("MPAMF_MBWUMON_IDR")
                p.num_mbwu_mon = get("MPAMF_MBWUMON_IDR", "NUM_MON", m)
                if p.num_mbwu_mon:
                    f.add(Feature.msmon_mbwu)
                    if get("MPAMF_MBWUMON_IDR", "HAS_RWBW", m):
                        f.add(Feature.msmon_mbwu_rwbw)
                    if get("MPAMF_MBWUMON_IDR", "HAS_LONG", m):
                        long63 = get("MPAMF_MBWUMON_IDR", "LWD", m)
                        f.add(
                            Feature.msmon_mbwu_63counter if long63 else Feature.msmon_mbwu_44counter
                        )
                    else:
                        f.add(Feature.msmon_mbwu_31counter)
                    if self._hw_nrdy(r, ris, "MSMON_MBWU"):
                        f.add(Feature.msmon_mbwu_hw_nrdy)
        if (
            has("HAS_PARTID_NRW")
            and ris.vmsc is not None
            and ris.vmsc.comp.klass.type is not ClassType.UNKNOWN
        ):
            f.add(Feature.partid_nrw)
            nrw = get("MPAMF_PARTID_NRW_IDR", "INTPARTID_MAX", r.read("MPAMF_PARTID_NRW_IDR"))
            msc.partid_max = min(msc.partid_max, nrw)

    @staticmethod
    def _hw_nrdy(r: Regs, ris: MpamRis, counter: str) -> bool:
        """Whether hardware manages NRDY: software can neither set and clear it freely.

        Linux (_mpam_ris_hw_probe_hw_nrdy in drivers/resctrl/mpam_devices.c) writes its
        MON_SEL value into the counter register rather than MSMON_CFG_MON_SEL here; the
        model selects monitor 0 properly, then tries to set and clear NRDY.
        """
        r.mon_sel(ris.ris_idx, 0)
        nrdy = fields(counter, NRDY=1)
        r.write(counter, nrdy)
        can_set = bool(r.read(counter) & nrdy)
        r.write(counter, 0)
        can_clear = not r.read(counter) & nrdy
        return not (can_set and can_clear)

    def _clear_esr(self, msc: MpamMsc, r: Regs) -> int:
        """mpam_msc_clear_esr: read and clear MPAMF_ESR; the value read is returned."""
        if not msc.has_esr:
            return 0
        esr = r.read("MPAMF_ESR")
        if not esr:
            return 0
        high = 0
        if msc.has_extd_esr:
            high = r.read("MPAMF_ESR", 1)
            r.write("MPAMF_ESR", 0, 1)
        r.write("MPAMF_ESR", 0)
        return esr | (high << 32)

    # --- enable ---------------------------------------------------------------------------

    def enable(self) -> None:
        """mpam_enable (work): enable once every MSC has been discovered."""
        if not all(m.probed for m in self.mscs) or self.enable_once_done:
            return
        self.enable_once_done = True
        self.enable_once()

    def enable_once(self) -> None:
        self.partid_max_published = True
        self.merge_features()
        self._register_irqs()
        self._allocate_config()
        self.enabled = True
        for hook in self.on_enable:
            hook()
        self.resctrl_enabled = True
        self._register_cpuhp(self.cpu_online, self.cpu_offline, "mpam:online")
        self.log(
            "info", f"MPAM enabled with {self.partid_max + 1} PARTIDs and {self.pmg_max + 1} PMGs"
        )

    def merge_features(self) -> None:
        """mpam_enable_merge_features: RIS into vMSCs (alias), vMSCs into their class."""
        for klass in self.classes.values():
            for comp in klass.components.values():
                for vmsc in comp.vmscs:
                    vmsc.props = MpamProps()
                    for ris in vmsc.ris:
                        merge_props(vmsc.props, ris.props, alias=True)
                        klass.nrdy_usec = max(klass.nrdy_usec, ris.msc.nrdy_usec)
            vmscs = [v for c in klass.components.values() for v in c.vmscs]
            if not vmscs:
                continue
            klass.props = vmscs[0].props.copy()
            for vmsc in vmscs:
                for note in merge_props(klass.props, vmsc.props, alias=False):
                    self.log("debug", _pr("__props_mismatch", note))

    def _register_irqs(self) -> None:
        for msc in self.mscs:
            if not msc.error_irq:
                continue
            msc.error_irq_requested = True
            self.regs[msc.id].write("MPAMF_ECR", fields("MPAMF_ECR", INTEN=1))

    def _allocate_config(self) -> None:
        for klass in self.classes.values():
            for comp in klass.components.values():
                comp.cfg = [MpamConfig() for _ in range(self.partid_max + 1)]
                for vmsc in comp.vmscs:
                    for ris in vmsc.ris:
                        ris.mbwu_state = [MbwuState() for _ in range(ris.props.num_mbwu_mon)]

    # --- configuration --------------------------------------------------------------------

    def reset_ris(self, ris: MpamRis) -> None:
        """mpam_reset_ris: every PARTID back to the unrestricted defaults."""
        if ris.in_reset_state:
            return
        for partid in range(self.partid_max + 1):
            self.reprogram_ris_partid(ris, partid, MpamConfig())
        ris.in_reset_state = True

    def reprogram_ris_partid(self, ris: MpamRis, partid: int, cfg: MpamConfig) -> None:
        """mpam_reprogram_ris_partid: write one PARTID's controls; unset features reset."""
        r = self.regs[ris.msc.id]
        p = ris.props
        r.part_sel(ris.ris_idx, partid)
        if p.has(Feature.partid_nrw):
            r.write("MPAMCFG_INTPARTID", fields("MPAMCFG_INTPARTID", INTERNAL=1, INTPARTID=partid))
            r.part_sel(ris.ris_idx, partid, internal=True)
        if p.has(Feature.cpor_part):
            full = (1 << p.cpbm_wd) - 1
            r.write_bitmap(
                "MPAMCFG_CPBM", p.cpbm_wd, cfg.cpbm if Feature.cpor_part in cfg.features else full
            )
        if p.has(Feature.mbw_part):
            full = (1 << p.mbw_pbm_bits) - 1
            value = cfg.mbw_pbm if Feature.mbw_part in cfg.features else full
            r.write_bitmap("MPAMCFG_MBW_PBM", p.mbw_pbm_bits, value)
        if p.has(Feature.mbw_min):
            r.write("MPAMCFG_MBW_MIN", 0)
        if p.has(Feature.mbw_max):
            value = cfg.mbw_max if Feature.mbw_max in cfg.features else 0xFFFF
            r.write("MPAMCFG_MBW_MAX", fields("MPAMCFG_MBW_MAX", MAX=value))
        if p.has(Feature.mbw_prop):
            r.write("MPAMCFG_MBW_PROP", 0)
        if p.has(Feature.cmax_cmax):
            r.write("MPAMCFG_CMAX", fields("MPAMCFG_CMAX", CMAX=0xFFFF))
        if p.has(Feature.cmax_cmin):
            r.write("MPAMCFG_CMIN", 0)
        if p.has(Feature.cmax_cassoc):
            r.write("MPAMCFG_CASSOC", fields("MPAMCFG_CASSOC", CASSOC=0xFFFF))
        if p.has(Feature.intpri_part) or p.has(Feature.dspri_part):
            value = 0
            for pri, lsb_field in (("intpri", "INTPRI"), ("dspri", "DSPRI")):
                if p.has(Feature[f"{pri}_part"]) and p.has(Feature[f"{pri}_part_0_low"]):
                    # GENMASK(wd, 0), as Linux v6.19 writes it: one bit wider than the
                    # field's implemented width; hardware ignores the extra bit.
                    wd = getattr(p, f"{pri}_wd")
                    value |= fields("MPAMCFG_PRI", **{lsb_field: (1 << (wd + 1)) - 1})
            r.write("MPAMCFG_PRI", value)

    def apply_config(self, comp: MpamComponent, partid: int, cfg: MpamConfig) -> int:
        """mpam_apply_config: record what changed for `partid` and write only that."""
        old = comp.cfg[partid]
        changed = False
        for feat, attr in ((Feature.cpor_part, "cpbm"), (Feature.mbw_part, "mbw_pbm"),
                           (Feature.mbw_max, "mbw_max")):  # fmt: skip
            if feat in cfg.features and (
                feat not in old.features or getattr(old, attr) != getattr(cfg, attr)
            ):
                old.features.add(feat)
                setattr(old, attr, getattr(cfg, attr))
                changed = True
        if not changed:
            return 0
        for vmsc in comp.vmscs:
            for ris in vmsc.ris:
                self.reprogram_ris_partid(ris, partid, old)
                ris.in_reset_state = False
        return 0

    def reprogram_msc(self, msc: MpamMsc) -> None:
        """mpam_reprogram_msc: after power-on, write every PARTID's saved configuration."""
        for ris in msc.ris.values():
            if not self.enabled:
                self.reset_ris(ris)
                continue
            comp = ris.vmsc.comp if ris.vmsc else None
            cfgs = (
                comp.cfg
                if comp is not None and comp.cfg
                else [MpamConfig()] * (self.partid_max + 1)
            )
            for partid, cfg in enumerate(cfgs):
                self.reprogram_ris_partid(ris, partid, cfg)
            ris.in_reset_state = all(not c.features for c in cfgs)
            for hook in self.on_restore:
                hook(ris)

    # --- hotplug --------------------------------------------------------------------------

    def cpu_online(self, cpu: int) -> int:
        """mpam_cpu_online: the first CPU back at an MSC restores its configuration."""
        for msc in self.mscs:
            if cpu not in msc.accessibility:
                continue
            msc.online_refs += 1
            if msc.online_refs == 1:
                self.reprogram_msc(msc)
        if self.resctrl_enabled:
            for cpu_hook in self.on_cpu_online:
                err = cpu_hook(cpu)
                if err:
                    return err
        return 0

    def cpu_offline(self, cpu: int) -> int:
        """mpam_cpu_offline: resctrl hears first; then the last CPU to leave an MSC resets
        it (power is going)."""
        if self.resctrl_enabled:
            for cpu_hook in self.on_cpu_offline:
                cpu_hook(cpu)
        for msc in self.mscs:
            if cpu not in msc.accessibility:
                continue
            msc.online_refs -= 1
            if msc.online_refs == 0:
                for ris in msc.ris.values():
                    self.reset_ris(ris)
                    ris.in_reset_state = False
                    if self.enabled:
                        for hook in self.on_save:
                            hook(ris)
        return 0

    # --- errors ---------------------------------------------------------------------------

    def irq_handler(self, msc: MpamMsc) -> bool:
        """__mpam_irq_handler: report an MSC error and, if MPAM was on, disable it.

        Returns whether the interrupt was this MSC's (IRQ_HANDLED)."""
        r = self.regs[msc.id]
        esr = r.read("MPAMF_ESR")
        if msc.has_extd_esr:
            esr |= r.read("MPAMF_ESR", 1) << 32
        errcode = get("MPAMF_ESR", "ERRCODE", esr)
        if not errcode:
            return False
        if msc.has_extd_esr:
            r.write("MPAMF_ESR", 0, 1)
        r.write("MPAMF_ESR", 0)
        partid = get("MPAMF_ESR", "PARTID_MON", esr)
        pmg = get("MPAMF_ESR", "PMG", esr)
        ris = (esr >> 32) & 0xF
        self.log("err", _pr("__mpam_irq_handler", f"error irq from msc:{msc.id} "
                            f"'{ERROR_NAMES[errcode]}', partid:{partid}, pmg: {pmg}, ris: {ris}"))  # fmt: skip
        r.write("MPAMF_ECR", 0)
        if not self.enabled:
            return True
        self.disable_reason = "hardware error interrupt"
        self.queue_work(self.disable)
        return True

    def disable(self) -> None:
        """mpam_disable (work): turn MPAM off, take resctrl down, and put every MSC back in
        its reset state.

        In the kernel's order (drivers/resctrl/mpam_devices.c mpam_disable, read for
        behaviour): the static key goes off first, so every resctrl_arch_ call stops
        touching the MSCs from here on; removing the cpuhp state runs mpam_cpu_offline on
        every online CPU, which (resctrl still set up) tells resctrl each CPU is going and
        so takes every domain offline; then resctrl_exit (mpam_resctrl_exit), which
        expects no domain left; then the error interrupts are disabled, and each class is
        reset and, if resctrl had it, let go (mpam_resctrl_teardown_class)."""
        if self.enabled:
            self.enabled = False
            for hook in self.on_disable:
                hook()
        if self.cpuhp_state:
            self.hotplug.remove_state(self.cpuhp_state)
            self.cpuhp_state = 0
        do_resctrl_exit, self.resctrl_enabled = self.resctrl_enabled, False
        if do_resctrl_exit:
            for hook in self.on_resctrl_exit:
                hook()
        for msc in self.mscs:
            if msc.error_irq_requested:
                self.regs[msc.id].write("MPAMF_ECR", 0)
                msc.error_irq_requested = False
        for klass in self.classes.values():
            for comp in klass.components.values():
                comp.cfg = [MpamConfig() for _ in comp.cfg]
                for vmsc in comp.vmscs:
                    for ris in vmsc.ris:
                        if not ris.in_reset_state:
                            self.reset_ris(ris)
            if do_resctrl_exit:
                for class_hook in self.on_teardown_class:
                    class_hook(klass)
        self.log("err", _pr("mpam_disable", f"MPAM disabled due to {self.disable_reason}"))

    def find_msc(self, msc_id: int) -> MpamMsc:
        for msc in self.mscs:
            if msc.id == msc_id:
                return msc
        raise KeyError(msc_id)

    def describe(self) -> dict[str, Any]:
        """Classes, components and limits, for status displays and tests."""
        return {
            "enabled": self.enabled,
            "partid_max": self.partid_max,
            "pmg_max": self.pmg_max,
            "classes": {
                k.name: {
                    "type": k.type.name,
                    "level": k.level,
                    "components": {
                        c.comp_id: [v.msc.id for v in c.vmscs] for c in k.components.values()
                    },
                    "features": sorted(f.name for f in k.props.features),
                }
                for k in self.classes.values()
            },
        }
