"""A control group's ``schemata``, ``size`` and ``mode`` files and info/<schema>/bit_usage.

The analogue of fs/resctrl/ctrlmondata.c (schemata reading and writing) and of the size,
mode and bit_usage handlers of fs/resctrl/rdtgroup.c; read for behaviour, written anew.

A ``schemata`` write is all-or-nothing. It must end in a newline (else EINVAL, and
last_cmd_status keeps its old text); then the status is cleared and every line is parsed:
``<name>:<id>=<value>;<id>=<value>...``, the name trimmed and matched exactly against a
schema this group's CLOSID fits in, each domain looked up, each value validated and staged
per schema and domain. Only when every line is good are the staged values handed to the
arch, schema by schema; a bad line anywhere leaves the hardware untouched. Failures append
the kernel's message to last_cmd_status and return a negative errno; an unknown domain id
fails silently (the status then reads ``ok``), and so does one whose CPUs are all offline:
the resource's domain list holds only domains with an online CPU (parse_line walks
r->ctrl_domains), as do the reads of schemata, size and bit_usage.

Cache bitmasks are hex (an optional ``0x``), checked for range, for runs of 1s when the
resource can't take sparse masks, for the minimum run length, and against the CBMs of other
allocated CLOSIDs whose groups are exclusive (and, for an exclusive group, against every
other CLOSID and the bits hardware uses). Bandwidth values are decimal, range-checked, and
rounded up to the resource's granularity before the arch converts them.

Pseudo-locking does not exist on MPAM and is not modelled beyond ignoring CLOSIDs whose
group is in ``pseudo-locksetup`` mode, as the kernel does.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable, Mapping, MutableMapping

from mpam.kernel import kstrtox
from mpam.resctrl.arch import (
    CdpType,
    CtrlDomain,
    RdtResource,
    ResctrlArch,
    ResourceId,
    SchemaFormat,
)
from mpam.resctrl.schema import Schema, SchemaList
from mpam.resctrl.status import LastCmdStatus

__all__ = [
    "MBA_MAX_MBPS",
    "MODES",
    "MODE_EXCLUSIVE",
    "MODE_PSEUDO_LOCKSETUP",
    "MODE_SHAREABLE",
    "U32_MAX",
    "ULONG_MAX",
    "MbpsValues",
    "bit_usage_show",
    "cbm_overlaps",
    "cbm_to_size",
    "kstrtou32",
    "kstrtoul",
    "mode_write",
    "schemata_show",
    "schemata_write",
    "size_show",
]

MODE_SHAREABLE = "shareable"
MODE_EXCLUSIVE = "exclusive"
#: Never entered on MPAM (no CONFIG_RESCTRL_FS_PSEUDO_LOCK); CLOSIDs in it are ignored.
MODE_PSEUDO_LOCKSETUP = "pseudo-locksetup"
#: What the ``mode`` file can name (rdt_mode_str order).
MODES = (MODE_SHAREABLE, MODE_EXCLUSIVE, MODE_PSEUDO_LOCKSETUP, "pseudo-locked")

#: unsigned long on arm64.
ULONG_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
#: A group's mba_MBps target until the user sets one: no limit.
MBA_MAX_MBPS = U32_MAX
#: The mba_MBps targets, MiB/s by (closid, MB domain id): struct rdt_ctrl_domain's mbps_val.
MbpsValues = MutableMapping[tuple[int, int], int]

_BW_RESOURCES = (ResourceId.MBA, ResourceId.SMBA)


# --- number parsing (lib/kstrtox.c, in mpam.kernel.kstrtox) ---------------------------------


def kstrtoul(s: str, base: int) -> int | None:
    """kstrtoul (64-bit): the value, or None where the kernel returns an error (parse_line
    and its validators turn every error into their own message and EINVAL)."""
    err, value = kstrtox.kstrtoul(s, base)
    return None if err else value


def kstrtou32(s: str, base: int) -> int | None:
    """kstrtou32: as `kstrtoul`, at most U32_MAX."""
    err, value = kstrtox.kstrtou32(s, base)
    return None if err else value


# --- helpers -----------------------------------------------------------------------------


def _domains(r: RdtResource) -> list[CtrlDomain]:
    """The resource's control domains in the order the kernel keeps them: by id."""
    return sorted(r.ctrl_domains, key=lambda d: d.id)


def _peer_type(t: CdpType) -> CdpType:
    """resctrl_peer_type."""
    if t is CdpType.CODE:
        return CdpType.DATA
    if t is CdpType.DATA:
        return CdpType.CODE
    return CdpType.NONE


def _closids(
    schemas: SchemaList, closid_modes: Mapping[int, str] | None, allocated: Iterable[int] | None
) -> tuple[dict[int, str], list[int]]:
    """(mode of each CLOSID, the allocated CLOSIDs below closids_supported, ascending).

    Without `allocated`, the allocated CLOSIDs are 0 (the default group, always there) and
    every CLOSID `closid_modes` names; a CLOSID it doesn't name is shareable."""
    modes = dict(closid_modes or {})
    alloc = set(allocated) if allocated is not None else {0, *modes}
    supported = schemas.num_closids()
    return modes, sorted(c for c in alloc if 0 <= c < supported)


def _line(width: int, name: str, values: list[tuple[int, int]], hex_values: bool) -> str:
    body = ";".join(f"{i:d}={v:x}" if hex_values else f"{i:d}={v:d}" for i, v in values)
    return f"{name:>{width}}:{body}\n"


def _run_bounds(value: int, cbm_len: int) -> tuple[int, int]:
    """(first set bit, first clear bit after it), both capped at cbm_len, as
    find_first_bit / find_next_zero_bit give them."""
    if value == 0:
        return cbm_len, cbm_len
    first = (value & -value).bit_length() - 1
    x = value >> first
    run = (x ^ (x + 1)).bit_length() - 1
    return first, min(first + run, cbm_len)


# --- overlap tests (rdtgroup.c) ------------------------------------------------------------


def _cbm_overlaps_type(
    arch: ResctrlArch,
    r: RdtResource,
    d: CtrlDomain,
    cbm: int,
    closid: int,
    t: CdpType,
    exclusive: bool,
    modes: Mapping[int, str],
    closids: list[int],
) -> bool:
    """__rdtgroup_cbm_overlaps."""
    full = (1 << r.cbm_len) - 1
    cbm &= full
    if not exclusive and cbm & r.shareable_bits:
        return True
    for i in closids:
        mode = modes.get(i, MODE_SHAREABLE)
        if i == closid or mode == MODE_PSEUDO_LOCKSETUP:
            continue
        if cbm & arch.get_config(r, d, i, t):
            if exclusive:
                if mode == MODE_EXCLUSIVE:
                    return True
                continue
            return True
    return False


def cbm_overlaps(
    schemas: SchemaList,
    arch: ResctrlArch,
    s: Schema,
    d: CtrlDomain,
    cbm: int,
    closid: int,
    exclusive: bool,
    *,
    closid_modes: Mapping[int, str] | None = None,
    allocated: Iterable[int] | None = None,
) -> bool:
    """rdtgroup_cbm_overlaps: does `cbm` for `closid` on `d` intersect another group?

    With `exclusive`, only the CBMs of other allocated CLOSIDs whose group is exclusive
    count; without it, the bits hardware uses (shareable_bits) and every other allocated
    CLOSID's CBM count. CLOSIDs in pseudo-locksetup mode are ignored. The schema's own
    configuration type is checked and, when the resource has CDP enabled, its peer's too.
    """
    modes, closids = _closids(schemas, closid_modes, allocated)
    r = s.resource
    if _cbm_overlaps_type(arch, r, d, cbm, closid, s.conf_type, exclusive, modes, closids):
        return True
    if not arch.get_cdp_enabled(r.rid):
        return False
    peer = _peer_type(s.conf_type)
    return _cbm_overlaps_type(arch, r, d, cbm, closid, peer, exclusive, modes, closids)


# --- schemata read -----------------------------------------------------------------------


def schemata_show(
    schemas: SchemaList, arch: ResctrlArch, closid: int, mbps: MbpsValues | None = None
) -> str:
    """Reading ``schemata`` (rdtgroup_schemata_show): one line per schema this CLOSID fits
    in, in schema-list order; bitmaps ``%d=%x``, bandwidths ``%d=%u``, domains ascending.
    Under mba_MBps (`mbps` given) MB shows the MiB/s targets the user set."""
    out = []
    for s in schemas.schemas:
        if closid >= s.num_closid:
            continue
        r = s.resource
        if mbps is not None and r.rid is ResourceId.MBA:
            values = [(d.id, mbps.get((closid, d.id), MBA_MAX_MBPS)) for d in _domains(r)]
        else:
            values = [(d.id, arch.get_config(r, d, closid, s.conf_type)) for d in _domains(r)]
        out.append(
            _line(schemas.max_name_width, s.name, values, r.schema_fmt is SchemaFormat.BITMAP)
        )
    return "".join(out)


# --- schemata write ----------------------------------------------------------------------


class _Write:
    """One schemata write: the group, the other groups, and where messages go."""

    def __init__(
        self,
        schemas: SchemaList,
        arch: ResctrlArch,
        status: LastCmdStatus,
        closid: int,
        mode: str,
        closid_modes: Mapping[int, str] | None,
        allocated: Iterable[int] | None,
        mbps: MbpsValues | None = None,
    ) -> None:
        self.mbps = mbps
        self.schemas = schemas
        self.arch = arch
        self.status = status
        self.closid = closid
        self.mode = mode
        self.modes, self.closids = _closids(schemas, closid_modes, allocated)

    def fail(self, message: str) -> int:
        self.status.puts(message)
        return -errno.EINVAL

    def overlaps(self, s: Schema, d: CtrlDomain, cbm: int, exclusive: bool) -> bool:
        return cbm_overlaps(
            self.schemas,
            self.arch,
            s,
            d,
            cbm,
            self.closid,
            exclusive,
            closid_modes=self.modes,
            allocated=self.closids,
        )

    def parse_resource(self, name: str, text: str) -> int:
        """rdtgroup_parse_resource."""
        for s in self.schemas.schemas:
            if s.name == name and self.closid < s.num_closid:
                return self.parse_line(s, text)
        return self.fail(f"Unknown or unsupported resource name '{name}'\n")

    def parse_line(self, s: Schema, text: str) -> int:
        """parse_line: ``id=value`` tokens split on ``;``; empty remaining text ends the line
        (so one trailing ``;`` is fine)."""
        r = s.resource
        rest: str | None = text
        while rest:
            token, semi, after = rest.partition(";")
            rest = after if semi else None
            id_text, eq, value = token.partition("=")
            dom_id = kstrtoul(id_text, 10) if eq else None
            if dom_id is None:
                return self.fail("Missing '=' or non-numeric domain\n")
            d = next((d for d in _domains(r) if d.id == dom_id), None)
            if d is None:
                return -errno.EINVAL  # no message
            value = kstrtox.strim(value)
            if r.schema_fmt is SchemaFormat.BITMAP:
                err = self.parse_cbm(s, d, value)
            else:
                err = self.parse_bw(s, d, value)
            if err:
                return err
        return 0

    def cbm_validate(self, text: str, r: RdtResource) -> int | None:
        """cbm_validate: the mask, or None after a message."""
        value = kstrtoul(text, 16)
        if value is None:
            self.fail(f"Non-hex character in the mask {text}\n")
            return None
        supported = ((1 << r.cbm_len) - 1) & U32_MAX
        if (r.min_cbm_bits > 0 and value == 0) or value > supported:
            self.fail("Mask out of range\n")
            return None
        first, zero = _run_bounds(value, r.cbm_len)
        if not r.arch_has_sparse_bitmasks and value >> zero:
            self.fail(f"The mask {value:x} has non-consecutive 1-bits\n")
            return None
        if zero - first < r.min_cbm_bits:
            self.fail(f"Need at least {r.min_cbm_bits:d} bits in the mask\n")
            return None
        return value

    def parse_cbm(self, s: Schema, d: CtrlDomain, text: str) -> int:
        """parse_cbm."""
        if d.id in s.staged:
            return self.fail(f"Duplicate domain {d.id:d}\n")
        value = self.cbm_validate(text, s.resource)
        if value is None:
            return -errno.EINVAL
        # The CBM may not overlap another CLOSID's if either group is exclusive.
        if self.overlaps(s, d, value, True):
            return self.fail("Overlaps with exclusive group\n")
        if self.mode in (MODE_EXCLUSIVE, MODE_PSEUDO_LOCKSETUP) and self.overlaps(
            s, d, value, False
        ):
            return self.fail("Overlaps with other group\n")
        s.staged[d.id] = value
        return 0

    def bw_validate(self, text: str, r: RdtResource) -> int | None:
        """bw_validate: the value rounded up to the granularity, or None after a message."""
        if not r.delay_linear and r.arch_needs_linear:
            self.fail("No support for non-linear MB domains\n")
            return None
        bw = kstrtou32(text, 10)
        if bw is None:
            self.fail(f"Invalid MB value {text}\n")
            return None
        if self.mbps is not None and r.rid is ResourceId.MBA:
            return bw  # the software controller takes any MiB/s target
        if bw < r.min_bw or bw > r.max_bw:
            self.fail(f"MB value {bw:d} out of range [{r.min_bw:d},{r.max_bw:d}]\n")
            return None
        gran = r.bw_gran
        return -(-bw // gran) * gran if gran > 0 else bw

    def parse_bw(self, s: Schema, d: CtrlDomain, text: str) -> int:
        """parse_bw."""
        if d.id in s.staged:
            return self.fail(f"Duplicate domain {d.id:d}\n")
        value = self.bw_validate(text, s.resource)
        if value is None:
            return -errno.EINVAL
        if self.mbps is not None and s.resource.rid is ResourceId.MBA:
            # Stored at once, not staged: a later failing line does not undo it, and a
            # repeated domain is not a duplicate (as parse_bw does under mba_sc).
            self.mbps[(self.closid, d.id)] = value
            return 0
        s.staged[d.id] = value
        return 0

    def update_domains(self, r: RdtResource) -> int:
        """resctrl_arch_update_domains: every staged value of the resource, domain by domain,
        each configuration type in turn."""
        staged = {s.conf_type: s.staged for s in self.schemas.schemas if s.resource is r}
        for d in _domains(r):
            for t in CdpType:
                values = staged.get(t)
                if values is None or d.id not in values:
                    continue
                err = self.arch.update_one(r, d, self.closid, t, values[d.id])
                if err:
                    return err
        return 0


def _staged_clear(schemas: SchemaList) -> None:
    for s in schemas.schemas:
        s.staged.clear()


def schemata_write(
    schemas: SchemaList,
    arch: ResctrlArch,
    status: LastCmdStatus,
    closid: int,
    text: str,
    *,
    mode: str = MODE_SHAREABLE,
    closid_modes: Mapping[int, str] | None = None,
    allocated: Iterable[int] | None = None,
    mbps: MbpsValues | None = None,
) -> int:
    """Writing ``schemata`` of the group with `closid` (rdtgroup_schemata_write): 0, or a
    negative errno with the reason in `status`.

    `mode` is the group's mode; `closid_modes` the mode of each other group by CLOSID and
    `allocated` the allocated CLOSIDs (by default 0 and those `closid_modes` names)."""
    if not text.endswith("\n"):
        return -errno.EINVAL  # status untouched
    buf = text[:-1].split("\0", 1)[0]  # the kernel parses a C string
    status.clear()
    w = _Write(schemas, arch, status, closid, mode, closid_modes, allocated, mbps)
    _staged_clear(schemas)
    try:
        for line in buf.split("\n"):
            name, colon, value = line.partition(":")
            name = kstrtox.strim(name)
            if not colon:
                return w.fail("Missing ':'\n")
            if not value:
                return w.fail(f"Missing '{name}' value\n")
            err = w.parse_resource(name, value)
            if err:
                return err
        for s in schemas.schemas:
            err = w.update_domains(s.resource)
            if err:
                return err  # the arch's errno, no message
        return 0
    finally:
        _staged_clear(schemas)


# --- size (rdtgroup.c) ---------------------------------------------------------------------


def cbm_to_size(
    r: RdtResource, d: CtrlDomain, cbm: int, cache_size: Callable[[RdtResource, int], int]
) -> int:
    """rdtgroup_cbm_to_size: bytes of the domain's cache that `cbm` covers; the division by
    the bitmap length comes first."""
    if r.cbm_len <= 0:
        return 0
    bits = (cbm & ((1 << r.cbm_len) - 1)).bit_count()
    return cache_size(r, d.id) // r.cbm_len * bits


def size_show(
    schemas: SchemaList,
    arch: ResctrlArch,
    closid: int,
    cache_size: Callable[[RdtResource, int], int],
) -> str:
    """Reading ``size`` (rdtgroup_size_show): the schemata layout, each cache value in bytes
    of the domain's cache (`cache_size(resource, domain id)` is that cache's size), each
    bandwidth value as is."""
    out = []
    for s in schemas.schemas:
        r = s.resource
        values = []
        for d in _domains(r):
            ctrl = arch.get_config(r, d, closid, s.conf_type)
            size = ctrl if r.rid in _BW_RESOURCES else cbm_to_size(r, d, ctrl, cache_size)
            values.append((d.id, size))
        out.append(_line(schemas.max_name_width, s.name, values, False))
    return "".join(out)


# --- bit_usage (rdtgroup.c) ----------------------------------------------------------------


def bit_usage_show(
    s: Schema,
    arch: ResctrlArch,
    allocated: Iterable[int],
    closid_modes: Mapping[int, str] | None = None,
) -> str:
    """Reading info/<schema>/bit_usage (rdt_bit_usage_show), given the allocated CLOSIDs
    and the mode of each (shareable when not named).

    Per domain ``<id>=`` and one character per bit, most significant first: ``X`` used by
    hardware and by a shareable group, ``H`` hardware only, ``S`` shareable groups only,
    else ``E`` an exclusive group, else ``0``. The schema's own configuration type is what
    counts; CLOSIDs in pseudo-locksetup mode are ignored."""
    modes = dict(closid_modes or {})
    closids = sorted(set(allocated))
    r = s.resource
    parts = []
    for d in _domains(r):
        hw = r.shareable_bits
        sw = excl = 0
        for i in closids:
            ctrl = arch.get_config(r, d, i, s.conf_type)
            mode = modes.get(i, MODE_SHAREABLE)
            if mode == MODE_SHAREABLE:
                sw |= ctrl
            elif mode == MODE_EXCLUSIVE:
                excl |= ctrl
        chars = []
        for bit in range(r.cbm_len - 1, -1, -1):
            hwb, swb, exb = (hw >> bit) & 1, (sw >> bit) & 1, (excl >> bit) & 1
            if hwb and swb:
                chars.append("X")
            elif hwb:
                chars.append("H")
            elif swb:
                chars.append("S")
            elif exb:
                chars.append("E")
            else:
                chars.append("0")
        parts.append(f"{d.id:d}=" + "".join(chars))
    return ";".join(parts) + "\n"


# --- mode (rdtgroup.c) ---------------------------------------------------------------------


def _mode_test_exclusive(
    schemas: SchemaList,
    arch: ResctrlArch,
    status: LastCmdStatus,
    closid: int,
    closid_modes: Mapping[int, str] | None,
    allocated: Iterable[int] | None,
) -> bool:
    """rdtgroup_mode_test_exclusive."""
    modes, closids = _closids(schemas, closid_modes, allocated)
    has_cache = False
    for s in schemas.schemas:
        r = s.resource
        if r.rid in _BW_RESOURCES:
            continue
        has_cache = True
        for d in _domains(r):
            ctrl = arch.get_config(r, d, closid, s.conf_type)
            if cbm_overlaps(
                schemas, arch, s, d, ctrl, closid, False, closid_modes=modes, allocated=closids
            ):
                status.puts("Schemata overlaps\n")
                return False
    if not has_cache:
        status.puts("Cannot be exclusive without CAT/CDP\n")
        return False
    return True


def mode_write(
    schemas: SchemaList,
    arch: ResctrlArch,
    status: LastCmdStatus,
    closid: int,
    text: str,
    *,
    current: str = MODE_SHAREABLE,
    closid_modes: Mapping[int, str] | None = None,
    allocated: Iterable[int] | None = None,
) -> tuple[int, str]:
    """Writing ``mode`` of the group with `closid`, now in `current` (rdtgroup_mode_write):
    (0 or a negative errno, the group's mode afterwards).

    ``shareable`` is always allowed; ``exclusive`` only when none of the group's cache CBMs
    intersects the bits hardware uses or another allocated CLOSID's CBM (never on MPAM,
    where hardware uses every bit); writing the current mode does nothing. Pseudo-locking
    is not built in, so ``pseudo-locksetup`` is an unknown mode, like any other text."""
    if not text.endswith("\n"):
        return -errno.EINVAL, current  # status untouched
    buf = text[:-1].split("\0", 1)[0]
    status.clear()
    if buf == current and buf in MODES:
        return 0, current
    if buf == MODE_SHAREABLE:
        return 0, MODE_SHAREABLE
    if buf == MODE_EXCLUSIVE:
        if not _mode_test_exclusive(schemas, arch, status, closid, closid_modes, allocated):
            return -errno.EINVAL, current
        return 0, MODE_EXCLUSIVE
    status.puts("Unknown or unsupported mode\n")
    return -errno.EINVAL, current
