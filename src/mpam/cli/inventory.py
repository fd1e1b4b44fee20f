"""`mpam inventory`: power on a platform's hardware and list what its registers report.

The MSC part is discovered through the MSCs' ID registers (as a driver would), not copied
from the description, so it shows what the silicon model really implements.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from mpam.cli.common import console, load_platform, platform_option
from mpam.hw import Hardware, build
from mpam.hw.discover import discover, summarise
from mpam.hw.sysregs import field_get
from mpam.platform.model import Cache
from mpam.platform.reader import format_cpulist

__all__ = ["inventory", "render_inventory"]


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _cache_ids(c: Cache) -> str:
    ids = [i.cache_id for i in c.instances]
    shown = ", ".join(str(i) for i in ids[:4])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > 4 else "")


def render_inventory(hw: Hardware, out: Console) -> None:
    """Print the CPUs, caches, memory and MSCs of powered-on hardware."""
    p = hw.platform
    out.print(f"[bold]{p.name}[/bold]: {p.description}")
    t = p.topology
    cpu0 = hw.cpus[0]
    idr = cpu0.read_sysreg("MPAMIDR_EL1")
    pfr0, pfr1 = cpu0.id_aa64pfr0_el1, cpu0.id_aa64pfr1_el1
    version = f"{field_get('ID_AA64PFR0_EL1', 'MPAM', pfr0)}.{field_get('ID_AA64PFR1_EL1', 'MPAM_frac', pfr1)}"
    out.print(
        f"\n[bold]CPUs[/bold]: {len(hw.cpus)} ({t.packages} package(s) x "
        f"{t.clusters_per_package} cluster(s) x {t.cores_per_cluster} core(s) x "
        f"{t.threads_per_core} thread(s)); MPAM v{version}, MPAMIDR_EL1 = {idr:#x}: "
        f"PARTID_MAX {field_get('MPAMIDR_EL1', 'PARTID_MAX', idr)}, "
        f"PMG_MAX {field_get('MPAMIDR_EL1', 'PMG_MAX', idr)}, "
        f"HAS_HCR {field_get('MPAMIDR_EL1', 'HAS_HCR', idr)}, "
        f"VPMR_MAX {field_get('MPAMIDR_EL1', 'VPMR_MAX', idr)}"
    )
    caches = Table("cache", "level", "type", "size", "ways", "sets", "line", "shared by",
                   "instances", "PPTT cache ids", title="Caches", title_justify="left")  # fmt: skip
    for c in p.caches:
        sliced = f" in {c.slices} slices" if c.slices > 1 else ""
        caches.add_row(c.name, str(c.level), c.type, _size(c.size) + sliced, str(c.ways),
                       str(c.sets), str(c.line_size), c.shared_by, str(len(c.instances)),
                       _cache_ids(c))  # fmt: skip
    out.print(caches)
    mem = Table("node", "proximity domain", "CPUs", "memory", "bandwidth", "latency", "channels",
                title="Memory", title_justify="left")  # fmt: skip
    for n in p.numa:
        mem.add_row(str(n.node), str(n.proximity_domain), format_cpulist(n.cpus), _size(n.memory_size),
                    f"{n.bandwidth / 1e9:g} GB/s", f"{n.latency_ns} ns", str(n.channels))  # fmt: skip
    out.print(mem)
    mscs = Table("MSC", "interface", "address", "AIDR", "RIS", "controls", "features (from ID registers)",
                 title="MSCs", title_justify="left")  # fmt: skip
    for msc in hw.mscs:
        found = discover(msc)
        d = msc.desc
        iface = d.interface.name if d.interface.name == "MMIO" else f"PCC ch {d.base_address}"
        addr = f"{d.base_address:#x}" if d.interface.name == "MMIO" else "-"
        aidr = f"v{found.aidr >> 4}.{found.aidr & 0xF}"
        for ris in found.ris:
            res = d.ris[[r.index for r in d.ris].index(ris.index)].resource
            what = res.kind.value
            if res.cache:
                what = f"{res.cache}#{res.instance}" + (
                    f" slice {res.slice}" if res.slice is not None else ""
                )
            elif res.node is not None:
                what = f"node {res.node}" + (
                    f" channel {res.channel}" if res.channel is not None else ""
                )
            out_row = (msc.name, iface, addr, aidr) if ris is found.ris[0] else ("", "", "", "")
            mscs.add_row(*out_row, str(ris.index), what, "; ".join(summarise(ris)))
    out.print(mscs)


@click.command()
@platform_option
def inventory(platform_name: str) -> None:
    """Power on a platform's hardware and list its CPUs, caches, memory and MSCs.

    Example: mpam inventory --platform rdn2
    """
    render_inventory(build(load_platform(platform_name)), console())
