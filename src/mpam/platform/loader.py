"""Load a TOML platform description into validated `Platform` records.

The file format is documented in ``docs/platform.md``. Two conveniences keep big machines
short without hiding anything: named feature sets (``[features.NAME]``, used by a RIS as
``features = "NAME"`` or ``features = { template = "NAME", ... overrides }``), and MSC
repetition (``count = N`` with ``step = { "dotted.path" = increment }`` and ``{i}`` in the
name).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from mpam.platform.model import (
    MBW_MAX_LIM,
    AccessMode,
    Cache,
    CacheInstance,
    Ccap,
    Cpor,
    Cpu,
    CpuMpam,
    Csu,
    Firmware,
    InterfaceType,
    Interrupt,
    LinkedDevice,
    Mbw,
    Mbwu,
    Msc,
    Msmon,
    NumaNode,
    Platform,
    Pri,
    Resource,
    ResourceKind,
    Ris,
    RisFeatures,
    Topology,
)
from mpam.platform.reader import PlatformError, Reader, parse_cpulist
from mpam.platform.validate import validate

__all__ = ["from_table", "from_toml", "from_toml_text"]

_U16 = 0xFFFF
_U32 = 0xFFFF_FFFF


def from_toml(path: str | Path) -> Platform:
    """Load and validate the description in the TOML file `path`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise PlatformError(f"{p}: cannot read: {e.strerror}") from None
    return from_toml_text(text, source=str(p))


def from_toml_text(text: str, source: str = "<string>") -> Platform:
    """Load and validate a description given as TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlatformError(f"{source}: not valid TOML: {e}") from None
    return from_table(data, source)


def from_table(data: dict[str, Any], source: str = "<table>") -> Platform:
    """Load and validate a description given as the table TOML parses to (what a tool that
    builds platforms, such as a sweep, hands over without writing TOML)."""
    try:
        platform = _platform(Reader(data, ""), source)
        validate(platform)
    except PlatformError as e:
        raise PlatformError(f"{source}: {e}") from None
    return platform


def _platform(r: Reader, source: str) -> Platform:
    name = r.text("name")
    description = r.text("description", "")
    topology = _topology(r.sub("topology", required=True))  # type: ignore[arg-type]
    cpus = _cpus(topology)
    cm = r.sub("cpu_mpam")
    cpu_mpam = _cpu_mpam(cm) if cm else CpuMpam()
    caches = tuple(_cache(c, cpus) for c in r.items("cache"))
    numa = tuple(_numa(n, len(cpus)) for n in r.items("numa", required=True))
    templates = r.raw("features", {})
    if not isinstance(templates, dict):
        raise r.error("features", "must be a table of named feature sets")
    mscs = tuple(_msc(m, templates) for raw in r.items("msc") for m in _expand(raw))
    fw = r.sub("firmware")
    firmware = _firmware(fw) if fw else Firmware()
    r.done()
    return Platform(
        name=name,
        description=description,
        topology=topology,
        cpus=cpus,
        cpu_mpam=cpu_mpam,
        caches=caches,
        numa=numa,
        mscs=mscs,
        firmware=firmware,
        source=source,
    )


def _acpi_name(r: Reader, key: str, length: int, default: str) -> str:
    """An ACPI header name field: printable ASCII, at most `length` characters."""
    value = r.text(key, default)
    if len(value) > length or not all(" " <= ch <= "~" for ch in value):
        raise r.error(key, f"must be at most {length} printable ASCII characters, got {value!r}")
    return value


def _firmware(r: Reader) -> Firmware:
    d = Firmware()
    f = Firmware(
        oem_id=_acpi_name(r, "oem_id", 6, d.oem_id),
        mpam_table_id=_acpi_name(r, "mpam_table_id", 8, d.mpam_table_id),
        pptt_table_id=_acpi_name(r, "pptt_table_id", 8, d.pptt_table_id),
        oem_revision=r.integer("oem_revision", d.oem_revision, hi=_U32),
        creator_id=_acpi_name(r, "creator_id", 4, d.creator_id),
        creator_revision=r.integer("creator_revision", d.creator_revision, hi=_U32),
        mpam_revision=r.integer("mpam_revision", d.mpam_revision, lo=1, hi=255),
    )
    r.done()
    return f


def _topology(r: Reader) -> Topology:
    t = Topology(
        packages=r.integer("packages", lo=1, hi=256),
        clusters_per_package=r.integer("clusters_per_package", lo=1, hi=256),
        cores_per_cluster=r.integer("cores_per_cluster", lo=1, hi=256),
        threads_per_core=r.integer("threads_per_core", 1, lo=1, hi=8),
        frequency_mhz=r.integer("frequency_mhz", 2600, lo=1, hi=100_000),
    )
    r.done()
    if t.num_cpus > 4096:
        raise PlatformError(f"{r.path}: {t.num_cpus} CPUs; at most 4096 are supported")
    return t


def _cpus(t: Topology) -> tuple[Cpu, ...]:
    cpus = []
    for index in range(t.num_cpus):
        thread = index % t.threads_per_core
        core = index // t.threads_per_core
        cluster = core // t.cores_per_cluster
        package = cluster // t.clusters_per_package
        mpidr = (
            (1 << 31)
            | (package << 32)
            | ((cluster % t.clusters_per_package) << 16)
            | ((core % t.cores_per_cluster) << 8)
            | thread
        )
        if t.threads_per_core > 1:
            mpidr |= 1 << 24  # MPIDR_EL1.MT: Aff0 numbers threads
        cpus.append(Cpu(index, index, package, cluster, core, thread, mpidr))
    return tuple(cpus)


def _cpu_mpam(r: Reader) -> CpuMpam:
    d = CpuMpam()
    m = CpuMpam(
        version=r.text("version", d.version, choices=("1.0", "1.1")),
        partid_max=r.integer("partid_max", d.partid_max, hi=_U16),
        pmg_max=r.integer("pmg_max", d.pmg_max, hi=0xFF),
        has_hcr=r.flag("has_hcr", d.has_hcr),
        vpmr_max=r.integer("vpmr_max", d.vpmr_max, hi=7),
        has_sdeflt=r.flag("has_sdeflt", d.has_sdeflt),
        has_force_ns=r.flag("has_force_ns", d.has_force_ns),
        has_tidr=r.flag("has_tidr", d.has_tidr),
        has_sme=r.flag("has_sme", d.has_sme),
        el2=r.flag("el2", d.el2),
        el3=r.flag("el3", d.el3),
    )
    r.done()
    return m


_SHARING = ("core", "cluster", "package", "system")


def _cache(r: Reader, cpus: tuple[Cpu, ...]) -> Cache:
    shared_by = r.text("shared_by", choices=_SHARING)
    domains: dict[int, list[int]] = {}
    for cpu in cpus:
        domain = 0 if shared_by == "system" else int(getattr(cpu, shared_by))
        domains.setdefault(domain, []).append(cpu.index)
    if r.has("ids"):
        ids = r.raw("ids")
        if not isinstance(ids, list) or not all(_is_u32(i) for i in ids):
            raise r.error("ids", "must be a list of 32-bit cache ids")
        if len(ids) != len(domains):
            raise r.error(
                "ids", f"needs {len(domains)} cache ids (one per {shared_by}), got {len(ids)}"
            )
    else:
        base = r.integer("id_base", hi=_U32)
        stride = r.integer("id_stride", 1, hi=_U32)
        ids = [base + stride * k for k in range(len(domains))]
        if ids[-1] > _U32:  # the PPTT's Cache ID is 32 bits
            raise r.error("id_stride", f"gives cache id {ids[-1]} for the last of "
                          f"{len(ids)} caches: cache ids are 32-bit (at most {_U32})")  # fmt: skip
    instances = tuple(
        CacheInstance(cache_id, tuple(members))
        for cache_id, members in zip(ids, domains.values(), strict=True)
    )
    cache = Cache(
        name=r.text("name"),
        level=r.integer("level", lo=1, hi=7),
        type=r.text("type", "unified", choices=("data", "instruction", "unified")),
        size=_cache_size(r),
        # PPTT type 1: Associativity is a byte, Line size 16 bits, Size and sets 32 bits
        ways=r.integer("ways", lo=1, hi=255),
        line_size=r.integer("line_size", 64, lo=16, hi=1024),
        shared_by=shared_by,
        instances=instances,
        slices=r.integer("slices", 1, lo=1, hi=1024),
        latency_cycles=r.integer("latency_cycles", 0, hi=100_000),
    )
    r.done()
    return cache


def _cache_size(r: Reader) -> int:
    size = r.size("size")
    if size > _U32:
        raise r.error("size", f"must be below 4 GiB (the PPTT's Size is 32 bits), got {size}")
    return size


def _numa(r: Reader, num_cpus: int) -> NumaNode:
    try:
        cpus = parse_cpulist(r.raw("cpus", f"0-{num_cpus - 1}"))
    except ValueError as e:
        raise r.error("cpus", str(e)) from None
    n = NumaNode(
        node=r.integer("node", hi=1023),
        proximity_domain=r.integer("proximity_domain", hi=_U32),
        cpus=cpus,
        memory_size=r.size("memory"),
        bandwidth=r.bandwidth("bandwidth"),
        latency_ns=r.integer("latency_ns", lo=1, hi=1_000_000),
        channels=r.integer("channels", 1, lo=1, hi=64),
    )
    r.done()
    return n


def _expand(r: Reader) -> list[Reader]:
    """One reader per MSC: `count` copies with `step` increments and `{i}` in the name."""
    count = r.integer("count", 1, lo=1, hi=4096)
    step = r.raw("step", {})
    if not isinstance(step, dict):
        raise r.error("step", "must be a table of dotted paths to increments")
    body = {k: v for k, v in r.table.items() if k not in ("count", "step")}
    if count == 1 and not step:
        return [Reader(body, r.path)]
    out = []
    for i in range(count):
        item = copy.deepcopy(body)
        if isinstance(item.get("name"), str):
            item["name"] = item["name"].replace("{i}", str(i))
        for dotted, inc in step.items():
            step_by = i * inc if isinstance(inc, int) and not isinstance(inc, bool) else inc
            _bump(item, dotted, step_by, r.where(f"step.{dotted}"))
        out.append(Reader(item, f"{r.path}#{i}"))
    return out


def _bump(item: dict[str, Any], dotted: str, inc: object, where: str) -> None:
    """Add `inc` to the integer at a dotted path (list elements by index)."""
    node: Any = item
    parts = dotted.split(".")
    for n, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            key: Any = part
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            key = int(part)
        else:
            raise PlatformError(f"{where}: no such field to step")
        if n < len(parts) - 1:
            node = node[key]
    value = node[key]
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (value, inc)):
        raise PlatformError(f"{where}: only integer fields can be stepped, by integers")
    node[key] = value + inc


def _interrupt(r: Reader | None) -> Interrupt | None:
    if r is None:
        return None
    affinity = r.raw("affinity")
    if affinity is not None and not _is_u32(affinity):
        raise r.error("affinity", "must be a processor or processor-container UID")
    irq = Interrupt(
        gsiv=r.integer("gsiv", lo=1, hi=_U32),
        mode=AccessMode(r.text("mode", "level", choices=("level", "edge"))),
        affinity=affinity,
        affinity_is_container=r.flag("affinity_is_container"),
    )
    r.done()
    return irq


def _msc(r: Reader, templates: dict[str, Any]) -> Msc:
    interface = (
        InterfaceType.PCC
        if r.text("interface", "mmio", choices=("mmio", "pcc")) == "pcc"
        else InterfaceType.MMIO
    )
    if interface is InterfaceType.PCC:
        base = r.integer("pcc_subspace", hi=0xFF)
    else:
        base = r.integer("base_address", hi=(1 << 52) - 1)
    linked = r.sub("linked_device")
    linked_device = None
    if linked is not None:
        linked_device = LinkedDevice(linked.text("hid"), linked.integer("uid", hi=_U32))
        linked.done()
        if len(linked_device.hid) > 8 or not linked_device.hid.isascii():
            raise linked.error("hid", "must be at most 8 ASCII characters")
    ris = tuple(_ris(x, templates) for x in r.items("ris", required=True))
    aidr = r.integer("aidr", 0x11, lo=0x10, hi=0x11)
    msc = Msc(
        name=r.text("name"),
        identifier=r.integer("identifier", hi=_U32),
        interface=interface,
        base_address=base,
        size=r.integer("size", hi=_U32),
        ris=ris,
        aidr=aidr,
        iidr=r.integer("iidr", 0x0000043B, hi=_U32),
        max_nrdy_usec=r.integer("max_nrdy_usec", 100, hi=_U32),
        error_interrupt=_interrupt(r.sub("error_interrupt")),
        overflow_interrupt=_interrupt(r.sub("overflow_interrupt")),
        linked_device=linked_device,
        has_ris=r.flag("has_ris", len(ris) > 1 or any(x.index for x in ris)),
        has_esr=r.flag("has_esr", True),
        has_endis=r.flag("has_endis"),
        has_nfu=r.flag("has_nfu"),
        has_err_msi=r.flag("has_err_msi"),
        sp4=r.flag("sp4"),
        has_in_tl=r.flag("has_in_tl"),
        has_out_tl=r.flag("has_out_tl"),
        intpartid_max=r.integer("intpartid_max", hi=_U16) if r.has("intpartid_max") else None,
        pcc_latency_usec=(
            r.integer("pcc_latency_usec", 0, hi=10_000_000) if interface is InterfaceType.PCC else 0
        ),
    )
    r.done()
    return msc


#: Optional integer keys of a RIS's `resource` table and their largest values (the ACPI
#: locator field widths for level, reference and hid).
_RESOURCE_LIMITS = {
    "slice": 1023,
    "node": 1023,
    "channel": 63,
    "level": 0xFF,
    "reference": _U32,
    "hid": (1 << 64) - 1,
}


def _resource(r: Reader) -> Resource:
    kind = ResourceKind(r.text("kind", choices=tuple(k.value for k in ResourceKind)))
    opt = {k: r.integer(k, hi=hi) for k, hi in _RESOURCE_LIMITS.items() if r.has(k)}
    res = Resource(
        kind=kind,
        cache=r.text("cache") if r.has("cache") else None,
        instance=r.integer("instance", 0, hi=4095),
        descriptor1=r.integer("descriptor1", 0),
        descriptor2=r.integer("descriptor2", 0, hi=_U32),
        **opt,
    )
    r.done()
    return res


def _template(templates: dict[str, Any], name: object, where: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in templates:
        raise PlatformError(f"{where}: no feature set named {name!r} under [features]")
    if not isinstance(templates[name], dict):
        raise PlatformError(f"features.{name}: must be a table")
    return dict(templates[name])


def _is_u32(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U32


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _ris(r: Reader, templates: dict[str, Any]) -> Ris:
    feats = r.raw("features", required=True)
    where = r.where("features")
    if isinstance(feats, str):
        feats = _template(templates, feats, where)
    elif isinstance(feats, dict) and "template" in feats:
        base = _template(templates, feats["template"], f"{where}.template")
        feats = _merge(base, {k: v for k, v in feats.items() if k != "template"})
    deps = r.raw("dependencies", [])
    if not isinstance(deps, list) or not all(_is_u32(d) for d in deps):
        raise r.error("dependencies", "must be a list of resource identifiers")
    ris = Ris(
        index=r.integer("index", 0, hi=15),
        resource=_resource(r.sub("resource", required=True)),  # type: ignore[arg-type]
        features=_features(Reader(feats, where)),
        identifier=r.integer("identifier", hi=_U32),
        dependencies=tuple(deps),
    )
    r.done()
    return ris


def _features(r: Reader) -> RisFeatures:
    cpor = ccap = mbw = pri = msmon = None
    if (s := r.sub("cpor")) is not None:
        cpor = Cpor(cpbm_wd=s.integer("cpbm_wd", lo=1, hi=32768))
        s.done()
    if (s := r.sub("ccap")) is not None:
        ccap = Ccap(
            cmax_wd=s.integer("cmax_wd", lo=1, hi=16),
            has_cmin=s.flag("has_cmin"),
            has_cassoc=s.flag("has_cassoc"),
            cassoc_wd=s.integer("cassoc_wd", 0, hi=16),
            has_cmax_softlim=s.flag("has_cmax_softlim"),
            no_cmax=s.flag("no_cmax"),
        )
        s.done()
    if (s := r.sub("mbw")) is not None:
        mbw = Mbw(
            bwa_wd=s.integer("bwa_wd", lo=1, hi=16),
            max_lim=s.text("max_lim", "both", choices=tuple(MBW_MAX_LIM)),
            has_min=s.flag("has_min"),
            has_max=s.flag("has_max"),
            has_pbm=s.flag("has_pbm"),
            has_prop=s.flag("has_prop"),
            windwr=s.flag("windwr"),
            bwpbm_wd=s.integer("bwpbm_wd", 0, hi=4096),
            winwd_us=s.number("winwd_us", 1000.0),
        )
        s.done()
    if (s := r.sub("pri")) is not None:
        pri = Pri(
            has_intpri=s.flag("has_intpri"),
            intpri_0_is_low=s.flag("intpri_0_is_low"),
            intpri_wd=s.integer("intpri_wd", 0, hi=16),
            has_dspri=s.flag("has_dspri"),
            dspri_0_is_low=s.flag("dspri_0_is_low"),
            dspri_wd=s.integer("dspri_wd", 0, hi=16),
        )
        s.done()
    if (s := r.sub("msmon")) is not None:
        msmon = _msmon(s)
    f = RisFeatures(
        partid_max=r.integer("partid_max", hi=_U16),
        pmg_max=r.integer("pmg_max", hi=0xFF),
        cpor=cpor,
        ccap=ccap,
        mbw=mbw,
        pri=pri,
        msmon=msmon,
        impl_idr=r.integer("impl_idr", hi=_U32) if r.has("impl_idr") else None,
    )
    r.done()
    return f


def _msmon(s: Reader) -> Msmon:
    csu = mbwu = None
    if (c := s.sub("csu")) is not None:
        csu = Csu(
            num_mon=c.integer("num_mon", lo=1, hi=_U16),
            no_match_pmg=c.flag("no_match_pmg"),
            no_match_partid=c.flag("no_match_partid"),
            has_ofsr=c.flag("has_ofsr"),
            has_xcl=c.flag("has_xcl"),
            csu_ro=c.flag("csu_ro"),
            has_capture=c.flag("has_capture"),
            hw_nrdy=c.flag("hw_nrdy", True),
            nrdy_usec=c.integer("nrdy_usec", 10, hi=_U32),
        )
        c.done()
    if (m := s.sub("mbwu")) is not None:
        mbwu = Mbwu(
            num_mon=m.integer("num_mon", lo=1, hi=_U16),
            scale=m.integer("scale", 0, hi=31),
            no_match_pmg=m.flag("no_match_pmg"),
            no_match_partid=m.flag("no_match_partid"),
            has_oflow_capt=m.flag("has_oflow_capt"),
            has_cevnt_oflw=m.flag("has_cevnt_oflw"),
            has_ofsr=m.flag("has_ofsr"),
            has_oflow_lnkg=m.flag("has_oflow_lnkg"),
            has_rwbw=m.flag("has_rwbw"),
            lwd=m.flag("lwd"),
            has_long=m.flag("has_long"),
            has_capture=m.flag("has_capture"),
            hw_nrdy=m.flag("hw_nrdy", False),
            nrdy_usec=m.integer("nrdy_usec", 10, hi=_U32),
        )
        m.done()
    out = Msmon(
        csu=csu,
        mbwu=mbwu,
        has_oflow_sr=s.flag("has_oflow_sr"),
        has_oflw_msi=s.flag("has_oflw_msi"),
        no_hw_oflw_intr=s.flag("no_hw_oflw_intr"),
        has_local_capt_evnt=s.flag("has_local_capt_evnt"),
    )
    s.done()
    return out
