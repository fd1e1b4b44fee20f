"""`mpam inventory`: power on a platform's hardware and list what its registers report.

The MSC part is discovered through the MSCs' ID registers (as a driver would), not copied
from the description, so it shows what the silicon model really implements.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mpam.cli.common import console, emit_json, json_option, load_platform, platform_option
from mpam.hw import Hardware, build
from mpam.hw.discover import discover, summarise
from mpam.hw.sysregs import field_get
from mpam.platform.reader import format_cpulist

__all__ = ["inventory", "render_inventory"]


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _cache_ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:4])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > 4 else "")


def render_inventory(hw: Hardware, out: Console) -> None:
    """Print the CPUs, caches, memory and MSCs of powered-on hardware."""
    rec = inventory_record(hw)
    out.print(f"[bold]{rec['platform']}[/bold]: {rec['description']}")
    cpus, t = rec["cpus"], rec["cpus"]["topology"]
    idr = cpus["mpamidr_el1"]
    major, minor = cpus["mpam_version"]
    out.print(
        f"\n[bold]CPUs[/bold]: {cpus['count']} ({t['packages']} package(s) x "
        f"{t['clusters_per_package']} cluster(s) x {t['cores_per_cluster']} core(s) x "
        f"{t['threads_per_core']} thread(s)); MPAM v{major}.{minor}, MPAMIDR_EL1 = {idr:#x}: "
        f"PARTID_MAX {field_get('MPAMIDR_EL1', 'PARTID_MAX', idr)}, "
        f"PMG_MAX {field_get('MPAMIDR_EL1', 'PMG_MAX', idr)}, "
        f"HAS_HCR {field_get('MPAMIDR_EL1', 'HAS_HCR', idr)}, "
        f"VPMR_MAX {field_get('MPAMIDR_EL1', 'VPMR_MAX', idr)}"
    )
    caches = Table("cache", "level", "type", "size", "ways", "sets", "line", "shared by",
                   "instances", "PPTT cache ids", title="Caches", title_justify="left")  # fmt: skip
    for c in rec["caches"]:
        sliced = f" in {c['slices']} slices" if c["slices"] > 1 else ""
        caches.add_row(c["name"], str(c["level"]), c["type"], _size(c["size"]) + sliced,
                       str(c["ways"]), str(c["sets"]), str(c["line_size"]), c["shared_by"],
                       str(len(c["cache_ids"])), _cache_ids(c["cache_ids"]))  # fmt: skip
    out.print(caches)
    mem = Table("node", "proximity domain", "CPUs", "memory", "bandwidth", "latency", "channels",
                title="Memory", title_justify="left")  # fmt: skip
    for n in rec["memory"]:
        mem.add_row(str(n["node"]), str(n["proximity_domain"]), format_cpulist(n["cpus"]),
                    _size(n["size"]), f"{n['bandwidth'] / 1e9:g} GB/s", f"{n['latency_ns']} ns",
                    str(n["channels"]))  # fmt: skip
    out.print(mem)
    mscs = Table("MSC", "interface", "address", "AIDR", "RIS", "controls", "features (from ID registers)",
                 title="MSCs", title_justify="left")  # fmt: skip
    for msc in rec["mscs"]:
        mmio = msc["interface"] == "mmio"
        iface = "MMIO" if mmio else f"PCC ch {msc['base_address']}"
        addr = f"{msc['base_address']:#x}" if mmio else "-"
        aidr = f"v{msc['aidr'] >> 4}.{msc['aidr'] & 0xF}"
        for i, ris in enumerate(msc["ris"]):
            what = ris["kind"]
            if ris["cache"]:
                what = f"{ris['cache']}#{ris['instance']}" + (
                    f" slice {ris['slice']}" if ris["slice"] is not None else ""
                )
            elif ris["node"] is not None:
                what = f"node {ris['node']}" + (
                    f" channel {ris['channel']}" if ris["channel"] is not None else ""
                )
            out_row = (msc["name"], iface, addr, aidr) if i == 0 else ("", "", "", "")
            mscs.add_row(*out_row, str(ris["index"]), what, "; ".join(ris["features"]))
    out.print(mscs)


def inventory_record(hw: Hardware) -> dict[str, Any]:
    """What `render_inventory` shows, as data: the --json document's body."""
    p = hw.platform
    t = p.topology
    cpu0 = hw.cpus[0]
    idr = cpu0.read_sysreg("MPAMIDR_EL1")
    pfr0, pfr1 = cpu0.id_aa64pfr0_el1, cpu0.id_aa64pfr1_el1
    mscs = []
    for msc in hw.mscs:
        found = discover(msc)
        d = msc.desc
        ris_out = []
        for ris in found.ris:
            res = d.ris[[r.index for r in d.ris].index(ris.index)].resource
            ris_out.append({"index": ris.index, "kind": res.kind.value, "cache": res.cache,
                            "instance": res.instance, "slice": res.slice, "node": res.node,
                            "channel": res.channel, "features": summarise(ris)})  # fmt: skip
        mscs.append({"name": msc.name, "interface": d.interface.name.lower(),
                     "base_address": d.base_address, "aidr": found.aidr, "ris": ris_out})  # fmt: skip
    return {
        "platform": p.name,
        "description": p.description,
        "cpus": {
            "count": len(hw.cpus),
            "topology": {
                "packages": t.packages,
                "clusters_per_package": t.clusters_per_package,
                "cores_per_cluster": t.cores_per_cluster,
                "threads_per_core": t.threads_per_core,
            },
            "mpam_version": [
                field_get("ID_AA64PFR0_EL1", "MPAM", pfr0),
                field_get("ID_AA64PFR1_EL1", "MPAM_frac", pfr1),
            ],
            "mpamidr_el1": idr,
        },
        "caches": [
            {
                "name": c.name,
                "level": c.level,
                "type": c.type,
                "size": c.size,
                "ways": c.ways,
                "sets": c.sets,
                "line_size": c.line_size,
                "shared_by": c.shared_by,
                "slices": c.slices,
                "cache_ids": [i.cache_id for i in c.instances],
            }
            for c in p.caches
        ],
        "memory": [
            {
                "node": n.node,
                "proximity_domain": n.proximity_domain,
                "cpus": list(n.cpus),
                "size": n.memory_size,
                "bandwidth": n.bandwidth,
                "latency_ns": n.latency_ns,
                "channels": n.channels,
            }
            for n in p.numa
        ],
        "mscs": mscs,
    }


@click.command()
@platform_option
@json_option
def inventory(platform_name: str, as_json: bool) -> None:
    """Power on a platform's hardware and list its CPUs, caches, memory and MSCs.

    Example: mpam inventory --platform rdn2
    """
    hw = build(load_platform(platform_name))
    if as_json:
        emit_json("inventory", inventory_record(hw))
        return
    render_inventory(hw, console())
