"""FUSE mounts of a running machine's resctrl."""

from __future__ import annotations

from mpam.fuse.resctrl_fuse import ResctrlFuse

__all__ = ["ResctrlFuse"]
