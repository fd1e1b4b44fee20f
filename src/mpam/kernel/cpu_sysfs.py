"""/sys/devices/system/cpu as Linux publishes it, for the simulated machine.

drivers/base/cpu.c gives `online`, `possible`, `present`, `offline` and `kernel_max` as CPU
lists and each `cpuN/online`; drivers/base/topology.c gives `cpuN/topology/*` while the CPU
is online; drivers/base/cacheinfo.c gives `cpuN/cache/indexM/*` from the caches cacheinfo
found in the PPTT (the tree the MPAM driver waits for before it probes), also while the CPU
is online (cacheinfo_cpu_online / cacheinfo_cpu_pre_down). Read for the file names and
formats, written anew. Topology ids are what arm64's parse_acpi_topology takes from the
machine's PPTT (CacheTopology.topology_ids).

`cpu_sysfs(...)` renders the whole tree as {relative path: text}; it is cheap enough to
render afresh for every look, so hotplug shows at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from mpam.firmware import CacheTopology
from mpam.kernel.bitmap import format_bitmap, format_bitmap_list
from mpam.platform.model import Cpu

__all__ = ["cpu_sysfs"]

_TYPE = {"data": "Data", "instruction": "Instruction", "unified": "Unified"}


def cpu_sysfs(
    cpus: tuple[Cpu, ...], caches: CacheTopology, online: Iterable[int]
) -> dict[str, str]:
    """The files below /sys/devices/system/cpu, keyed by their path below it."""
    n = len(cpus)
    up = set(online)
    every = range(n)

    def cpulist(bits: Iterable[int]) -> str:
        return format_bitmap_list(bits, n) + "\n"

    def cpumask(bits: Iterable[int]) -> str:
        return format_bitmap(bits, n) + "\n"

    out = {
        "online": cpulist(up),
        "possible": cpulist(every),
        "present": cpulist(every),
        "offline": cpulist(set(every) - up),
        "kernel_max": f"{n - 1}\n",
    }
    by_uid = {c.acpi_uid: c.index for c in cpus}
    leaves = caches.leaves()
    ids = {c.index: caches.topology_ids(c.acpi_uid) for c in cpus}
    for c in cpus:
        d = f"cpu{c.index}"
        out[f"{d}/online"] = "1\n" if c.index in up else "0\n"
        if c.index not in up:
            continue
        pkg_id, cluster_id, core_id, _ = ids[c.index]
        # the sibling masks of drivers/base/arch_topology.c update_siblings_masks
        core = [x for x, i in ids.items() if i[0] == pkg_id and i[2] == core_id]
        cluster = [x for x, i in ids.items() if i[0] == pkg_id and i[1] == cluster_id]
        package = [x for x, i in ids.items() if i[0] == pkg_id]
        for name, value in (("physical_package_id", pkg_id), ("cluster_id", cluster_id),
                            ("core_id", core_id)):  # fmt: skip
            out[f"{d}/topology/{name}"] = f"{value}\n"
        for name, sharers in (("core_cpus", core), ("thread_siblings", core),
                              ("cluster_cpus", cluster), ("core_siblings", package),
                              ("package_cpus", package)):  # fmt: skip
            out[f"{d}/topology/{name}"] = cpumask(sharers)
            out[f"{d}/topology/{name}_list"] = cpulist(sharers)
        for i, leaf in enumerate(leaves.get(c.acpi_uid, [])):
            p = f"{d}/cache/index{i}"
            # cache_shared_cpu_map_setup / _remove: the online CPUs that share it
            shared = [by_uid[u] for u in leaf.shared_cpus if by_uid.get(u) in up]
            if leaf.id is not None:
                out[f"{p}/id"] = f"{leaf.id}\n"
            out[f"{p}/level"] = f"{leaf.level}\n"
            out[f"{p}/type"] = f"{_TYPE[leaf.type]}\n"
            out[f"{p}/size"] = f"{leaf.size >> 10}K\n"
            out[f"{p}/ways_of_associativity"] = f"{leaf.ways}\n"
            out[f"{p}/number_of_sets"] = f"{leaf.sets}\n"
            out[f"{p}/coherency_line_size"] = f"{leaf.line_size}\n"
            out[f"{p}/shared_cpu_map"] = cpumask(shared)
            out[f"{p}/shared_cpu_list"] = cpulist(shared)
    return out
