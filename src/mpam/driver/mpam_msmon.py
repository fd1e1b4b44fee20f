"""Memory-system monitors: allocation, programming, reads, and MBWU overflow correction.

Follows mpam_msmon_read / __ris_msmon_read of drivers/resctrl/mpam_devices.c (read for
behaviour, written anew). A read selects the monitor on every MSC of the component,
reprograms its filter and control only when they are not already what the caller wants
(which also restarts the count), then reads the value: a monitor that is not ready is
waited for once, for the MSC's MAX_NRDY_USEC, and a read still not ready fails with -EBUSY.

MBWU counters are 31, 44 or 63 bits wide. Software keeps a per-monitor correction: each
time a read finds the hardware's overflow flag set it adds 2^width and clears the flag, so
counts stay exact and monotonic across wraps as long as each wrap is seen by a read. When
the last CPU leaves an MSC, the counters are saved into the correction; when the first
comes back, the monitors are reprogrammed as they were.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from mpam.driver.mpam_devices import MpamDriver
from mpam.driver.mpam_internal import Feature, MpamClass, MpamComponent, MpamRis
from mpam.driver.msc_io import Regs, fields, get
from mpam.hw.msc import AccessContext
from mpam.hw.pcc import PccMsc

__all__ = ["COUNT_BOTH", "COUNT_READ", "COUNT_WRITE", "MonCfg", "MonType", "Msmon"]

#: MSMON_CFG_MBWU_FLT.RWBW: what an MBWU monitor counts.
COUNT_BOTH, COUNT_WRITE, COUNT_READ = 0, 1, 2

_TYPE_CSU = 0x43  # MSMON_CFG_CSU_CTL.TYPE for cache storage usage
_TYPE_MBWU = 0x42  # MSMON_CFG_MBWU_CTL.TYPE for memory bandwidth usage


class MonType(Enum):
    CSU = "csu"
    MBWU = "mbwu"


@dataclass(frozen=True)
class MonCfg:
    """What a monitor should count (struct mon_cfg)."""

    mon: int
    partid: int
    pmg: int = 0
    match_pmg: bool = False
    csu_exclude_clean: bool = False
    opts: int = COUNT_BOTH


def choose_counter(klass: MpamClass) -> int:
    """The MBWU counter width the class offers: 63 bits if it can, else 44, else 31."""
    if klass.props.has(Feature.msmon_mbwu_63counter):
        return 63
    if klass.props.has(Feature.msmon_mbwu_44counter):
        return 44
    return 31


class Msmon:
    """The monitor half of the driver, attached to an `MpamDriver`."""

    def __init__(
        self,
        driver: MpamDriver,
        sleep_us: Callable[[int], None],
        might_sleep: Callable[[str], None] = lambda where: None,
    ) -> None:
        self.driver = driver
        self.sleep_us = sleep_us
        self.might_sleep = might_sleep
        driver.on_save.append(self.save_mbwu_state)
        driver.on_restore.append(self.restore_mbwu_state)

    # --- allocation -----------------------------------------------------------------------

    @staticmethod
    def _alloc(used: set[int], count: int) -> int:
        for mon in range(count):
            if mon not in used:
                used.add(mon)
                return mon
        return -errno.ENOSPC

    def alloc_csu_mon(self, klass: MpamClass) -> int:
        """A free CSU monitor of the class, -ENOSPC when all are in use."""
        if not klass.props.has(Feature.msmon_csu):
            return -errno.EOPNOTSUPP
        return self._alloc(klass.csu_mons_used, klass.props.num_csu_mon)

    def free_csu_mon(self, klass: MpamClass, mon: int) -> None:
        klass.csu_mons_used.discard(mon)

    def alloc_mbwu_mon(self, klass: MpamClass) -> int:
        if not klass.props.has(Feature.msmon_mbwu):
            return -errno.EOPNOTSUPP
        return self._alloc(klass.mbwu_mons_used, klass.props.num_mbwu_mon)

    def free_mbwu_mon(self, klass: MpamClass, mon: int) -> None:
        klass.mbwu_mons_used.discard(mon)

    # --- reads ----------------------------------------------------------------------------

    def read(self, comp: MpamComponent, cfg: MonCfg, type_: MonType) -> tuple[int, int]:
        """mpam_msmon_read: (errno or 0, value summed over the component's MSCs).

        It may sleep (to wait out NRDY), so it must not be called from atomic context."""
        self.might_sleep("mpam_msmon_read")
        if not self.driver.enabled:
            return -errno.EIO, 0
        klass = comp.klass
        feat = Feature.msmon_csu if type_ is MonType.CSU else Feature.msmon_mbwu
        if not klass.props.has(feat):
            return -errno.EOPNOTSUPP, 0
        width = choose_counter(klass)
        err, value = self._read_all(comp, cfg, type_, width)
        if err == -errno.EBUSY:
            if klass.nrdy_usec:
                self.sleep_us(klass.nrdy_usec)
            err, value = self._read_all(comp, cfg, type_, width)
        return err, value

    def _read_all(
        self, comp: MpamComponent, cfg: MonCfg, type_: MonType, width: int
    ) -> tuple[int, int]:
        err, total = 0, 0
        for vmsc in comp.vmscs:
            for ris in vmsc.ris:
                if ris.msc.online_refs == 0:
                    # No online CPU reaches the MSC: smp_call_function_any fails.
                    err = -errno.ENXIO
                    continue
                # Every RIS is read (so it is reprogrammed), but after an error Linux adds
                # nothing more: resctrl shows the partial sum with the error.
                e, value = self._ris_read(ris, cfg, type_, width)
                if e:
                    err = e
                elif not err:
                    total += value
        return err, total

    def _regs(self, ris: MpamRis) -> Regs:
        r = self.driver.regs[ris.msc.id]
        # Monitor reads run in an IPI on a CPU that reaches the MSC: atomic. A firmware-backed
        # MSC cannot be read there, so its reads run from a kworker on that CPU instead.
        r.override = (
            AccessContext.TASK if isinstance(ris.msc.regs, PccMsc) else AccessContext.ATOMIC
        )
        return r

    def _ris_read(self, ris: MpamRis, cfg: MonCfg, type_: MonType, width: int) -> tuple[int, int]:
        """__ris_msmon_read on one RIS."""
        r = self._regs(ris)
        try:
            return self._ris_read_locked(r, ris, cfg, type_, width)
        finally:
            r.override = None

    def _ris_read_locked(
        self, r: Regs, ris: MpamRis, cfg: MonCfg, type_: MonType, width: int
    ) -> tuple[int, int]:
        csu = type_ is MonType.CSU
        ctl_reg = "MSMON_CFG_CSU_CTL" if csu else "MSMON_CFG_MBWU_CTL"
        flt_reg = "MSMON_CFG_CSU_FLT" if csu else "MSMON_CFG_MBWU_FLT"
        r.mon_sel(ris.ris_idx, cfg.mon)
        state = None
        reset = False
        if not csu and cfg.mon < len(ris.mbwu_state):
            state = ris.mbwu_state[cfg.mon]
            reset, state.reset_on_next_read = state.reset_on_next_read, False
        cur_ctl = r.read(ctl_reg)
        cur_flt = r.read(flt_reg)
        if csu:
            overflow = False
        elif width == 31:
            overflow = bool(get(ctl_reg, "OFLOW_STATUS", cur_ctl))
        else:
            overflow = bool(get(ctl_reg, "OFLOW_STATUS_L", cur_ctl))
        clean_ctl = cur_ctl & ~fields(ctl_reg, OFLOW_STATUS=1)
        if not csu:
            clean_ctl &= ~fields(ctl_reg, OFLOW_STATUS_L=1)
        ctl = fields(ctl_reg, MATCH_PARTID=1, TYPE=_TYPE_CSU if csu else _TYPE_MBWU)
        flt = fields(flt_reg, PARTID=cfg.partid)
        if cfg.match_pmg:
            ctl |= fields(ctl_reg, MATCH_PMG=1)
            flt |= fields(flt_reg, PMG=cfg.pmg)
        if csu and ris.props.has(Feature.msmon_csu_xcl):
            flt |= fields(flt_reg, XCL=int(cfg.csu_exclude_clean))
        if not csu and ris.props.has(Feature.msmon_mbwu_rwbw):
            flt |= fields(flt_reg, RWBW=cfg.opts)
        enabled_ctl = ctl | fields(ctl_reg, EN=1)
        if cur_flt != flt or clean_ctl != enabled_ctl or reset:
            r.write(flt_reg, flt)
            r.write(ctl_reg, ctl)
            if csu:
                r.write("MSMON_CSU", 0)
                r.write(ctl_reg, enabled_ctl)
            else:
                r.write(ctl_reg, enabled_ctl)
                self._zero_mbwu(r, width)
                if state is not None:
                    state.enabled = True
                    state.partid, state.pmg, state.match_pmg = cfg.partid, cfg.pmg, cfg.match_pmg
            overflow = False
        elif overflow:
            r.write(ctl_reg, clean_ctl)
        if csu:
            raw = r.read("MSMON_CSU")
            nrdy = ris.props.has(Feature.msmon_csu_hw_nrdy) and get("MSMON_CSU", "NRDY", raw)
            value = get("MSMON_CSU", "VALUE", raw)
        else:
            nrdy_bit, value = self._read_mbwu(r, width)
            nrdy = ris.props.has(Feature.msmon_mbwu_hw_nrdy) and nrdy_bit
        if nrdy:
            return -errno.EBUSY, 0
        if state is not None:
            if overflow:
                state.correction += 1 << width
            value += state.correction
        return 0, value

    @staticmethod
    def _zero_mbwu(r: Regs, width: int) -> None:
        if width == 31:
            r.write("MSMON_MBWU", 0)
        else:
            r.write("MSMON_MBWU_L", 0)
            r.write("MSMON_MBWU_L", 0, 1)

    def _read_mbwu(self, r: Regs, width: int) -> tuple[bool, int]:
        """(NRDY, value) of the selected MBWU counter; long counters are read high, low,
        high until the high word is stable, as mpam_msc_read_mbwu_l does."""
        if width == 31:
            raw = r.read("MSMON_MBWU")
            return bool(get("MSMON_MBWU", "NRDY", raw)), get("MSMON_MBWU", "VALUE", raw)
        high = r.read("MSMON_MBWU_L", 1)
        for _ in range(3):
            low = r.read("MSMON_MBWU_L")
            again = r.read("MSMON_MBWU_L", 1)
            if again == high:
                raw = low | (high << 32)
                nrdy = bool(get("MSMON_MBWU_L", "NRDY", raw))
                return nrdy, raw & ((1 << width) - 1)
            high = again
        self.driver.log("warn", "mpam:mpam_msc_read_mbwu_l: Failed to read a stable value")
        return True, 0

    def reset_mbwu(self, comp: MpamComponent, cfg: MonCfg) -> None:
        """mpam_msmon_reset_mbwu: start the monitor's count again at its next read."""
        if not self.driver.enabled:
            return
        for vmsc in comp.vmscs:
            for ris in vmsc.ris:
                if ris.props.has(Feature.msmon_mbwu) and cfg.mon < len(ris.mbwu_state):
                    state = ris.mbwu_state[cfg.mon]
                    state.correction = 0
                    state.reset_on_next_read = True

    # --- power ----------------------------------------------------------------------------

    def save_mbwu_state(self, ris: MpamRis) -> None:
        """mpam_save_mbwu_state: before the MSC loses power, fold each counter into its
        correction and stop it."""
        if not ris.props.has(Feature.msmon_mbwu):
            return
        klass = ris.vmsc.comp.klass if ris.vmsc else None
        width = choose_counter(klass) if klass else 31
        r = self.driver.regs[ris.msc.id]
        for mon, state in enumerate(ris.mbwu_state):
            r.mon_sel(ris.ris_idx, mon)
            ctl = r.read("MSMON_CFG_MBWU_CTL")
            flt = r.read("MSMON_CFG_MBWU_FLT")
            r.write("MSMON_CFG_MBWU_CTL", 0)
            _, value = self._read_mbwu(r, width)
            self._zero_mbwu(r, width)
            state.enabled = bool(get("MSMON_CFG_MBWU_CTL", "EN", ctl))
            state.match_pmg = bool(get("MSMON_CFG_MBWU_CTL", "MATCH_PMG", ctl))
            state.partid = get("MSMON_CFG_MBWU_FLT", "PARTID", flt)
            state.pmg = get("MSMON_CFG_MBWU_FLT", "PMG", flt)
            state.correction += value

    def restore_mbwu_state(self, ris: MpamRis) -> None:
        """mpam_restore_mbwu_state: reprogram every monitor that was counting."""
        if not ris.props.has(Feature.msmon_mbwu) or ris.vmsc is None:
            return
        width = choose_counter(ris.vmsc.comp.klass)
        for mon, state in enumerate(ris.mbwu_state):
            if state.enabled:
                cfg = MonCfg(mon, state.partid, state.pmg, state.match_pmg)
                self._ris_read(ris, cfg, MonType.MBWU, width)
