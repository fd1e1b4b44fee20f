"""/sys/devices/system/cpu for the machine: drivers/base/cpu.c (online, possible, present,
offline, cpuN/online), drivers/base/topology.c (cpuN/topology while online) and
drivers/base/cacheinfo.c (cpuN/cache/indexM from the PPTT while online; shared_cpu_map
holds the online sharers)."""

from __future__ import annotations

from mpam.kernel.cpu_sysfs import cpu_sysfs
from mpam.machine import Machine


def _tree(m: Machine) -> dict[str, str]:
    return cpu_sysfs(m.platform.cpus, m.pptt, m.kernel.cpuhp.online_mask)


def test_rdn2_as_linux_publishes_it() -> None:
    m = Machine("rdn2").boot()
    t = _tree(m)
    assert (t["online"], t["possible"], t["present"], t["offline"]) == ("0-15\n",) * 3 + ("\n",)
    l3 = {k.rsplit("/", 1)[1]: v for k, v in t.items() if k.startswith("cpu5/cache/index3/")}
    assert l3 == {
        "id": "49\n", "level": "3\n", "type": "Unified\n", "size": "8192K\n",
        "ways_of_associativity": "16\n", "number_of_sets": "8192\n",
        "coherency_line_size": "64\n", "shared_cpu_map": "ffff\n", "shared_cpu_list": "0-15\n",
    }  # fmt: skip
    assert [t[f"cpu0/cache/index{i}/type"] for i in range(3)] == [
        "Data\n",
        "Instruction\n",
        "Unified\n",
    ]
    assert t["cpu0/topology/core_cpus_list"] == "0\n"
    assert t["cpu0/topology/package_cpus_list"] == "0-15\n"


def test_hotplug_shows() -> None:
    m = Machine("rdn2").boot()
    assert m.cpu_down(3) == 0
    t = _tree(m)
    assert (t["online"], t["offline"], t["cpu3/online"]) == ("0-2,4-15\n", "3\n", "0\n")
    assert not [k for k in t if k.startswith(("cpu3/topology/", "cpu3/cache/"))]
    assert t["cpu0/cache/index3/shared_cpu_list"] == "0-2,4-15\n"
    assert m.cpu_up(3) == 0
    assert _tree(m) == cpu_sysfs(m.platform.cpus, m.pptt, range(16))


def test_topology_ids_come_from_the_pptt_as_arm64_reads_them() -> None:
    """parse_acpi_topology with find_acpi_cpu_topology(cpu, 0/1), _cluster and _package:
    an unthreaded CPU's core_id is its leaf node's ACPI processor id; on a threaded core it
    is the parent core node's id, and the two threads are each other's core siblings."""
    from importlib import resources

    from mpam.firmware import CacheTopology, build_tables, parse_pptt
    from mpam.platform import from_toml_text

    text = (resources.files("mpam.platform") / "presets" / "tiny.toml").read_text()
    threaded = from_toml_text(
        text.replace("cores_per_cluster = 4", "cores_per_cluster = 2\nthreads_per_core = 2")
    )
    caches = CacheTopology(parse_pptt(build_tables(threaded)["PPTT.aml"]))
    t = cpu_sysfs(threaded.cpus, caches, range(4))
    assert [t[f"cpu{i}/topology/core_cpus_list"] for i in range(4)] == [
        "0-1\n",
        "0-1\n",
        "2-3\n",
        "2-3\n",
    ]
    assert t["cpu3/topology/core_id"] == f"{threaded.cpus[3].core}\n"
    assert t["cpu3/topology/package_cpus_list"] == "0-3\n"
    m = Machine("rdn2").boot()
    t = _tree(m)
    cpu = m.platform.cpus[15]
    assert (t["cpu15/topology/core_id"], t["cpu15/topology/cluster_cpus_list"]) == (
        f"{cpu.acpi_uid}\n",
        "14-15\n",
    )
