"""The text of `mpam acpi check`: a table summary a person reads in one screen.

A large machine has hundreds of MSCs that differ only in their address, interrupt and
cache id, so consecutive MSCs of one shape share a row, their varying values shown as
ranges (``MSC 8-199``, ``cache 0-95``). Cut short, never elided: every MSC is in a row.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from mpam.firmware.acpi_mpam import MscDevice
from mpam.firmware.mpam_table import LocatorType
from mpam.firmware.summary import PlacedRis, TablesSummary
from mpam.platform import Platform
from mpam.platform.reader import format_cpulist

__all__ = ["render_summary", "span"]


def span(values: Sequence[int], fmt: str = "d") -> str:
    """A list of numbers in few characters: ``49``, ``0-7, 16-23`` (ids),
    ``0x40000000 + 0x10000 each`` (addresses in steps), or the first two and a count."""
    shown = [format(v, fmt) for v in values]
    if len(set(values)) == 1:
        return shown[0]
    steps = {b - a for a, b in itertools.pairwise(values)}
    if len(steps) == 1 and fmt != "d":
        return f"{shown[0]} + {format(steps.pop(), fmt)} each"
    if len(steps) == 1 and (step := steps.pop()) > 1:
        return f"{shown[0]}..{shown[-1]} step {step}"
    if fmt == "d" and list(values) == sorted(set(values)):
        return format_cpulist(list(values))
    return f"{shown[0]}, {shown[1]}, … ({len(values)} values)"


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _locator(kind: LocatorType | int) -> str:
    names: dict[int, str] = {
        LocatorType.PROCESSOR_CACHE: "processor cache",
        LocatorType.MEMORY: "memory, proximity domain",
        LocatorType.SMMU: "SMMU, interface",
        LocatorType.MEMORY_CACHE: "memory-side cache, reference",
        LocatorType.ACPI_DEVICE: "ACPI device, _UID",
        LocatorType.INTERCONNECT: "interconnect, table at",
    }
    return names.get(int(kind), f"locator type {int(kind):#x}")


@dataclass
class _Run:
    """Consecutive MSC devices of one shape."""

    devices: list[MscDevice]
    ris: list[list[PlacedRis]]


def _shape(dev: MscDevice, ris: list[PlacedRis]) -> tuple[object, ...]:
    return (
        dev.interface,
        dev.mmio[1] if dev.mmio else None,
        tuple((i.name, i.edge) for i in dev.irqs),
        dev.not_ready_us,
        dev.cpu_affinity is not None,
        tuple((r.ris, r.locator, r.klass, r.note.startswith("node")) for r in ris),
    )


def _runs(summary: TablesSummary) -> list[_Run]:
    by_msc: dict[int, list[PlacedRis]] = {}
    for r in summary.ris:
        by_msc.setdefault(r.msc, []).append(r)
    runs: list[_Run] = []
    for dev in summary.devices:
        ris = by_msc.get(dev.id, [])
        last = runs[-1] if runs else None
        if (
            last is not None
            and last.devices[-1].id + 1 == dev.id
            and _shape(last.devices[-1], last.ris[-1]) == _shape(dev, ris)
        ):
            last.devices.append(dev)
            last.ris.append(ris)
        else:
            runs.append(_Run([dev], [ris]))
    return runs


def _interface(devs: list[MscDevice]) -> str:
    first = devs[0]
    if first.mmio is None:
        return f"PCC channel {span([d.pcc_channel or 0 for d in devs])}"
    bases = [d.mmio[0] for d in devs if d.mmio]
    return f"MMIO {span(bases, '#x')}"


def _irqs(devs: list[MscDevice]) -> str:
    irqs = devs[0].irqs
    if not irqs:
        return "none"
    parts = [f"{irq.name} {span([d.irqs[i].gsiv for d in devs])}" for i, irq in enumerate(irqs)]
    modes = {"edge" if irq.edge else "level" for irq in irqs}
    if len(modes) == 1:
        return f"{', '.join(parts)} ({modes.pop()})"
    return ", ".join(
        f"{p} ({'edge' if i.edge else 'level'})" for p, i in zip(parts, irqs, strict=True)
    )


def _classes(summary: TablesSummary) -> list[str]:
    lines = []
    topo = summary.topology
    for name, components in summary.classes().items():
        comps = []
        for cid, members in components.items():
            mscs = span(sorted({m for m, _ in members}))
            where = ""
            if name.startswith("L") and topo is not None:
                where = f" (CPUs {format_cpulist(list(topo.cpumask_from_id(cid)))})"
            elif name.startswith("memory"):
                where = f" (node {cid})"
            comps.append(f"component {cid}{where}: MSC {mscs}")
        if len(comps) > 4:
            sizes = {len({m for m, _ in v}) for v in components.values()}
            each = f"{sizes.pop()} MSC each" if len(sizes) == 1 else "MSCs vary"
            ids = span(sorted(components))
            lines.append(f"  {name}: {len(comps)} components (ids {ids}), {each}")
        else:
            lines.append(f"  {name}: " + "; ".join(comps))
    return lines


def _limits(summary: TablesSummary, platform: Platform) -> str:
    """The PARTID and PMG limits the driver computes, probed on the modelled hardware: the
    smallest PARTID_MAX and PMG_MAX of the CPUs' MPAMIDR_EL1 and every MSC's MPAMF_IDR."""
    from mpam.hw import build  # the hardware model, loaded only for a probe
    from mpam.hw.discover import discover
    from mpam.hw.sysregs import field_get

    hw = build(platform)
    idr = hw.cpus[0].read_sysreg("MPAMIDR_EL1")
    partid = field_get("MPAMIDR_EL1", "PARTID_MAX", idr)
    pmg = field_get("MPAMIDR_EL1", "PMG_MAX", idr)
    ids = {d.id for d in summary.devices}
    probed = [m for m in hw.mscs if m.desc.identifier in ids]
    for msc in probed:
        found = discover(msc)
        for ris in found.ris:
            partid = min(partid, ris.get("MPAMF_IDR", "PARTID_MAX"))
            pmg = min(pmg, ris.get("MPAMF_IDR", "PMG_MAX"))
    return (
        f"{partid + 1} PARTIDs, {pmg + 1} PMGs (the smallest PARTID_MAX and PMG_MAX of "
        f"MPAMIDR_EL1 and the {len(probed)} MSCs' MPAMF_IDR, probed on {platform.name})"
    )


def render_summary(summary: TablesSummary, platform: Platform | None, out: Console) -> None:
    """Print `summary`; with `platform`, add the limits its modelled MSCs report."""
    t = summary.tables
    h = t.mpam.header
    n_ris = sum(len(m.resources) for m in t.mpam.mscs)
    out.print(
        f"MPAM table: revision {h.revision}, {h.length} bytes, OEM "
        f"{h.oem_id.decode('latin-1').strip()!r} {h.oem_table_id.decode('latin-1').strip()!r}: "
        f"{len(t.mpam.mscs)} MSC nodes with {n_ris} resource nodes"
    )
    if t.pptt is not None:
        out.print(
            f"PPTT: revision {t.pptt.header.revision}, {len(t.pptt.processors)} processor "
            f"nodes, {len(t.pptt.caches)} cache nodes"
        )
    else:
        out.print("PPTT: not given, so cache RIS cannot be given a level (Linux: Bad level)")
    if summary.numa is not None:
        pxm = summary.numa.pxm_to_node
        out.print("SRAT: " + ", ".join(f"proximity domain {p} is node {n}" for p, n in pxm.items()))
    out.print(
        f"\nLinux counts {summary.fw_num_msc} MSCs and creates {len(summary.devices)} "
        "platform devices (mpam_msc.<id>):"
    )
    table = Table("MSC", "interface", "size", "interrupts", "RIS", "locator",
                  "joins (class: id)", box=None, pad_edge=False)  # fmt: skip
    for run in _runs(summary):
        ids = span([d.id for d in run.devices])
        first = run.devices[0]
        size = _size(first.mmio[1]) if first.mmio else "-"
        head = (ids, _interface(run.devices), size, _irqs(run.devices))
        if not run.ris[0]:
            table.add_row(*head, "-", "no resource nodes", "-")
        for i, r in enumerate(run.ris[0]):
            descs = span([rs[i].descriptor for rs in run.ris])
            comps = [rs[i].component for rs in run.ris]
            joins = f"{r.klass}: {span([c for c in comps if c is not None])}" if r.klass else r.note
            table.add_row(*(head if i == 0 else ("",) * len(head)), str(r.ris),
                          f"{_locator(r.locator)} {descs}", joins)  # fmt: skip
    out.print(table)
    out.print("\nClasses the driver forms (resctrl's resources come from these):")
    for line in _classes(summary) or ["  none"]:
        out.print(line)
    if platform is not None:
        out.print(f"\nPARTID/PMG limits: {_limits(summary, platform)}")
    else:
        out.print(
            "\nPARTID/PMG limits: not in any table; the driver reads them from MPAMIDR_EL1 "
            "and each MSC's MPAMF_IDR (add --platform to probe a modelled machine)"
        )
    if summary.findings:
        out.print("\nFindings Linux acts on:")
        for f in summary.findings:
            out.print(f"  {f}")
    for (level, text), times in Counter((x.level, x.text) for x in summary.log).items():
        out.print(f"kernel log ({level}): {text}" + (f" ({times} times)" if times > 1 else ""))
    out.print(f"\n{summary.verdict}")
