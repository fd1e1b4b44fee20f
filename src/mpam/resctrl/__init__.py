"""The resctrl filesystem (fs/resctrl): generic, talking to an architecture only through
`mpam.resctrl.arch`."""

from __future__ import annotations

from mpam.resctrl.arch import (
    CdpType,
    CtrlDomain,
    EventId,
    MonDomain,
    RdtResource,
    ResctrlArch,
    ResourceId,
    SchemaFormat,
    ThrottleMode,
)

__all__ = [
    "CdpType",
    "CtrlDomain",
    "EventId",
    "MonDomain",
    "RdtResource",
    "ResctrlArch",
    "ResourceId",
    "SchemaFormat",
    "ThrottleMode",
]
