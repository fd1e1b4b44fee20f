"""Consistency rules a description must satisfy before anything is built from it.

Field ranges are checked while reading; here are the rules that relate fields to each
other: the architecture's (IHI0099: what a v1.0 MSC may not have, RIS needing v1.1, ...)
and the machine's (unique identifiers, resources that name real caches and nodes).
"""

from __future__ import annotations

import itertools
from collections import Counter

from mpam.platform.model import InterfaceType, Msc, Platform, ResourceKind, Ris
from mpam.platform.reader import PlatformError

__all__ = ["validate"]


def _dupes(values: list[int] | list[str]) -> list[str]:
    return [str(v) for v, n in Counter(values).items() if n > 1]


def validate(p: Platform) -> None:
    """Raise `PlatformError` naming the first broken rule."""
    _check_caches(p)
    _check_numa(p)
    for name, values in (
        ("MSC names", [m.name for m in p.mscs]),
        ("MSC identifiers", [m.identifier for m in p.mscs]),
        ("resource identifiers", [r.identifier for m in p.mscs for r in m.ris]),
    ):
        if d := _dupes(values):
            raise PlatformError(f"duplicate {name}: {', '.join(d)}")
    _check_mmio_pages(p)
    ids = {r.identifier for m in p.mscs for r in m.ris}
    for m in p.mscs:
        _check_msc(p, m, ids)
        _check_encodable(m)


#: Where IHI0099 puts the portion bitmaps in an MSC's page (the hardware model checks its
#: whole register map against the page when it is built; these are the two a platform's
#: widths can push past the page).
_CPBM_OFFSET, _MBW_PBM_OFFSET = 0x1000, 0x2000
#: DEN0065: an MSC node is 72 bytes, each resource node 24 plus 8 per functional
#: dependency, and a node's Length is 16 bits.
_MSC_NODE, _RESOURCE_NODE, _DEPENDENCY, _U16 = 72, 24, 8, 0xFFFF
#: Locator kinds whose descriptors mpam derives (from the cache, node or reference named):
#: a descriptor given for them would be ignored.
_DERIVED = {ResourceKind.CACHE, ResourceKind.MEMORY, ResourceKind.SMMU,
            ResourceKind.MEMORY_SIDE_CACHE, ResourceKind.ACPI_DEVICE}  # fmt: skip


def _check_encodable(m: Msc) -> None:
    """What the MSC's page and its MPAM table node must be able to hold."""
    where = f"MSC {m.name}"
    if m.interface is InterfaceType.MMIO:
        for r in m.ris:
            f = r.features
            need = []
            if f.cpor is not None:
                need.append(("MPAMCFG_CPBM", _CPBM_OFFSET + 4 * -(-f.cpor.cpbm_wd // 32)))
            if f.mbw is not None and f.mbw.has_pbm:
                need.append(("MPAMCFG_MBW_PBM", _MBW_PBM_OFFSET + 4 * -(-f.mbw.bwpbm_wd // 32)))
            for name, end in need:
                if end > m.size:
                    raise PlatformError(f"{where}: size {m.size:#x} cannot hold {name} of RIS "
                                        f"{r.index} (it ends at {end:#x}): make size at least "
                                        f"{-(-end // 0x1000) * 0x1000:#x}")  # fmt: skip
    length = _MSC_NODE + sum(_RESOURCE_NODE + _DEPENDENCY * len(r.dependencies) for r in m.ris)
    if length > _U16:
        raise PlatformError(f"{where}: its MPAM table node would be {length} bytes, more than "
                            f"the 16-bit Length holds ({_U16}): fewer dependencies")  # fmt: skip
    for r in m.ris:
        if d := _dupes(list(r.dependencies)):
            raise PlatformError(f"{where}: RIS {r.index} lists dependency {', '.join(d)} twice")
        res = r.resource
        if res.kind in _DERIVED and (res.descriptor1 or res.descriptor2):
            raise PlatformError(f"{where}: RIS {r.index}: descriptor1/descriptor2 do not apply to "
                                f"a {res.kind.value} resource (its locator is derived)")  # fmt: skip
        if res.kind is ResourceKind.INTERCONNECT and res.descriptor2:
            raise PlatformError(f"{where}: RIS {r.index}: an interconnect locator's Descriptor2 "
                                "is reserved (must be 0)")  # fmt: skip


_SHARING_RANK = {"core": 0, "cluster": 1, "package": 2, "system": 3}
#: The most ways hw.cache models in a set (its way masks are 64-bit words with two spare).
_MODEL_WAYS = 62


def _check_caches(p: Platform) -> None:
    if d := _dupes([c.name for c in p.caches]):
        raise PlatformError(f"duplicate cache names: {', '.join(d)}")
    if d := _dupes([i.cache_id for c in p.caches for i in c.instances]):
        raise PlatformError(f"duplicate PPTT cache ids: {', '.join(d)}")
    for c in p.caches:
        where = f"cache {c.name}"
        if c.size % (c.ways * c.line_size):
            raise PlatformError(f"{where}: size {c.size} is not a multiple of ways x line_size")
        if c.line_size & (c.line_size - 1):
            raise PlatformError(f"{where}: line_size {c.line_size} is not a power of two")
        if c.sets % c.slices:
            raise PlatformError(f"{where}: {c.sets} sets do not split into {c.slices} slices")
        if c.ways > _MODEL_WAYS:
            raise PlatformError(f"{where}: {c.ways} ways: mpam's cache model keeps at most "
                                f"{_MODEL_WAYS} ways per set (the PPTT could say 255)")  # fmt: skip
    if d := _dupes([f"{c.level} {c.type}" for c in p.caches]):
        # Linux's cacheinfo finds one cache of each level and type per CPU (the MPAM driver
        # then fails with "Bad level" for the other)
        raise PlatformError(f"two caches of the same level and type: {', '.join(d)}")
    levels: dict[int, set[str]] = {}
    for c in p.caches:
        levels.setdefault(c.level, set()).add(c.type)
    for level, types in levels.items():
        if "unified" in types and len(types) > 1:
            raise PlatformError(f"level {level} has both a unified and a split cache")
    # Linux numbers cache levels by walking the PPTT from each CPU outwards, so the levels a
    # description declares are only what Linux sees if they run 1, 2, 3 ... with no gap and
    # each level is shared at least as widely as the one below it.
    if levels and sorted(levels) != list(range(1, max(levels) + 1)):
        raise PlatformError(
            f"cache levels {sorted(levels)} must run from 1 without a gap, as Linux counts them"
        )
    widest: dict[int, int] = {}
    for c in p.caches:
        rank = _SHARING_RANK[c.shared_by]
        widest[c.level] = max(widest.get(c.level, 0), rank)
    for c in p.caches:
        narrower = [
            lv for lv, r in widest.items() if lv < c.level and r > _SHARING_RANK[c.shared_by]
        ]
        if narrower:
            raise PlatformError(
                f"cache {c.name}: level {c.level} is shared by {c.shared_by}, more narrowly "
                f"than level {max(narrower)}"
            )


#: The SRAT lays the nodes' memory out from 2 GiB up (firmware.srat.DRAM_BASE); it must end
#: inside a 52-bit physical address space (the largest Arm's PAs reach).
_DRAM_BASE, _PA_LIMIT = 0x8000_0000, 1 << 52


def _check_numa(p: Platform) -> None:
    total = sum(n.memory_size for n in p.numa)
    if _DRAM_BASE + total > _PA_LIMIT:
        raise PlatformError(f"the NUMA nodes' memory ({total} bytes in all, from 2 GiB up) "
                            "does not fit a 52-bit physical address space")  # fmt: skip
    if d := _dupes([n.node for n in p.numa]):
        raise PlatformError(f"duplicate NUMA nodes: {', '.join(d)}")
    if d := _dupes([n.proximity_domain for n in p.numa]):
        raise PlatformError(f"duplicate proximity domains: {', '.join(d)}")
    owned = [cpu for n in p.numa for cpu in n.cpus]
    if d := _dupes(owned):
        raise PlatformError(f"CPUs in more than one NUMA node: {', '.join(d)}")
    all_cpus = {c.index for c in p.cpus}
    if extra := sorted(set(owned) - all_cpus):
        raise PlatformError(f"NUMA nodes name CPUs that do not exist: {extra}")
    if missing := sorted(all_cpus - set(owned)):
        raise PlatformError(f"CPUs in no NUMA node: {missing}")


def _check_mmio_pages(p: Platform) -> None:
    pages = sorted(
        (m.base_address, m.base_address + m.size, m.name)
        for m in p.mscs
        if m.interface is InterfaceType.MMIO
    )
    for (_, end, name), (base, _, other) in itertools.pairwise(pages):
        if base < end:
            raise PlatformError(f"MSC {other}: MMIO page overlaps MSC {name}")


def _check_msc(p: Platform, m: Msc, ids: set[int]) -> None:
    where = f"MSC {m.name}"
    if m.interface is InterfaceType.MMIO:
        if m.base_address % 0x1000:
            raise PlatformError(f"{where}: base_address {m.base_address:#x} is not 4 KiB aligned")
        if m.base_address // 0x10000 != (m.base_address + m.size - 1) // 0x10000:
            raise PlatformError(f"{where}: the page must sit inside one 64 KiB-aligned block")
    if m.size < 0x1000 or m.size % 0x1000:
        raise PlatformError(f"{where}: size {m.size:#x} must be a non-zero multiple of 4 KiB")
    if d := _dupes([r.index for r in m.ris]):
        raise PlatformError(f"{where}: duplicate RIS index {', '.join(d)}")
    if m.ris_max > 0 and not m.has_ris:
        raise PlatformError(f"{where}: more than RIS 0 needs has_ris = true")
    v10 = m.aidr == 0x10
    if v10:
        # IHI0099's architecture versions (as the Arm ACS MPAM checks apply them): a v1.0 MSC
        # has a 32-bit IDR and none of the v1.1 additions.
        for flag in (
            "has_ris",
            "has_endis",
            "has_nfu",
            "has_err_msi",
            "sp4",
            "has_in_tl",
            "has_out_tl",
        ):
            if getattr(m, flag):
                raise PlatformError(
                    f"{where}: {flag} needs AIDR 0x11 (v1.1); v1.0 has no upper IDR word"
                )
        if not m.has_esr:
            # v1.0 reserves error codes 8-15: its ECR/ESR always exist; HAS_ESR came in v1.1.
            raise PlatformError(f"{where}: a v1.0 MSC always has MPAMF_ECR and MPAMF_ESR")
    if m.has_nfu and not m.has_endis:
        raise PlatformError(f"{where}: has_nfu needs has_endis")
    if m.has_nfu and m.intpartid_max is not None:
        raise PlatformError(f"{where}: has_nfu is not allowed with PARTID narrowing")
    if m.has_err_msi and not m.has_esr:
        raise PlatformError(f"{where}: has_err_msi needs has_esr")
    if m.interface is InterfaceType.PCC and m.pcc_latency_usec == 0:
        raise PlatformError(f"{where}: a PCC (firmware-backed) MSC needs pcc_latency_usec > 0")
    for r in m.ris:
        _check_ris(p, m, r, ids, v10)


def _check_ris(p: Platform, m: Msc, r: Ris, ids: set[int], v10: bool) -> None:
    where = f"MSC {m.name} RIS {r.index}"
    f = r.features
    if m.intpartid_max is not None and m.intpartid_max > f.partid_max:
        raise PlatformError(
            f"{where}: intpartid_max {m.intpartid_max} exceeds partid_max {f.partid_max}"
        )
    if f.ccap:
        c = f.ccap
        if c.has_cassoc != (c.cassoc_wd > 0):
            raise PlatformError(f"{where}: has_cassoc and a non-zero cassoc_wd go together")
        if v10 and (c.has_cmin or c.has_cassoc or c.no_cmax or c.has_cmax_softlim):
            raise PlatformError(f"{where}: CMIN, CASSOC, NO_CMAX and SOFTLIM need AIDR 0x11 (v1.1)")
    if f.mbw:
        b = f.mbw
        if b.has_pbm != (b.bwpbm_wd > 0):
            raise PlatformError(f"{where}: has_pbm and a non-zero bwpbm_wd go together")
        if not 0 < b.winwd_us < (1 << 16):
            raise PlatformError(f"{where}: winwd_us must be in (0, 65536) microseconds")
    if f.pri:
        q = f.pri
        if q.has_intpri != (q.intpri_wd > 0) or q.has_dspri != (q.dspri_wd > 0):
            raise PlatformError(f"{where}: has_intpri/has_dspri and their widths go together")
    if f.msmon:
        mon = f.msmon
        if mon.csu is None and mon.mbwu is None:
            raise PlatformError(f"{where}: msmon needs a csu or an mbwu monitor type")
        if v10 and (mon.has_oflow_sr or mon.has_oflw_msi or mon.no_hw_oflw_intr):
            raise PlatformError(f"{where}: OFLOW_SR, OFLW_MSI and NO_HW_OFLW_INTR need AIDR 0x11")
        if v10 and mon.csu and (mon.csu.has_xcl or mon.csu.has_ofsr):
            raise PlatformError(f"{where}: CSU XCL and OFSR need AIDR 0x11 (v1.1)")
        if mon.mbwu and mon.mbwu.lwd and not mon.mbwu.has_long:
            raise PlatformError(f"{where}: lwd (63-bit counter) needs has_long")
        for kind in (mon.csu, mon.mbwu):
            if kind and kind.nrdy_usec > m.max_nrdy_usec:
                raise PlatformError(
                    f"{where}: nrdy_usec {kind.nrdy_usec} exceeds the MSC's max_nrdy_usec {m.max_nrdy_usec}"
                )
    missing = [d for d in r.dependencies if d not in ids]
    if missing:
        raise PlatformError(f"{where}: dependencies name unknown resource identifiers {missing}")
    _check_resource(p, where, r)


def _check_resource(p: Platform, where: str, r: Ris) -> None:
    res = r.resource
    if res.kind is ResourceKind.CACHE:
        names = [c.name for c in p.caches]
        if res.cache not in names:
            raise PlatformError(
                f"{where}: resource names cache {res.cache!r}; known: {', '.join(names)}"
            )
        cache = p.cache(res.cache)
        if res.instance >= len(cache.instances):
            raise PlatformError(f"{where}: cache {cache.name} has no instance {res.instance}")
        if res.slice is not None and res.slice >= cache.slices:
            raise PlatformError(f"{where}: cache {cache.name} has no slice {res.slice}")
    elif res.kind is ResourceKind.MEMORY:
        nodes = {n.node: n for n in p.numa}
        if res.node not in nodes:
            raise PlatformError(
                f"{where}: resource names NUMA node {res.node}; known: {sorted(nodes)}"
            )
        if res.channel is not None and res.channel >= nodes[res.node].channels:
            raise PlatformError(f"{where}: NUMA node {res.node} has no channel {res.channel}")
    elif res.kind is ResourceKind.MEMORY_SIDE_CACHE:
        if res.level is None or res.reference is None:
            raise PlatformError(f"{where}: a memory_side_cache resource needs level and reference")
    elif res.kind is ResourceKind.ACPI_DEVICE and (res.hid is None or res.reference is None):
        raise PlatformError(f"{where}: an acpi_device resource needs hid and reference (_UID)")
