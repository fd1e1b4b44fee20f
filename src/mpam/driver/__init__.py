"""The MPAM driver (drivers/resctrl/mpam_devices.c): probing, classes and components,
configuration, hotplug, error interrupts and monitors."""

from __future__ import annotations

from mpam.driver.mpam_devices import ERROR_NAMES, MpamDriver
from mpam.driver.mpam_internal import Feature, MpamClass, MpamComponent, MpamConfig, MpamMsc
from mpam.driver.mpam_msmon import MonCfg, MonType, Msmon

__all__ = [
    "ERROR_NAMES",
    "Feature",
    "MonCfg",
    "MonType",
    "MpamClass",
    "MpamComponent",
    "MpamConfig",
    "MpamDriver",
    "MpamMsc",
    "Msmon",
]
