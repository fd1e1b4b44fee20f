"""Small platform descriptions for the driver tests, as TOML for the real loader."""

from __future__ import annotations

_BASE = """\
name = "{name}"
description = "{description}"

[topology]
packages = 1
clusters_per_package = 2
cores_per_cluster = 2

[cpu_mpam]
partid_max = 63
pmg_max = 1

[[cache]]
name = "L1D"
level = 1
type = "data"
size = "64KiB"
ways = 4
shared_by = "core"
id_base = 0x10

[[cache]]
name = "L2"
level = 2
size = "512KiB"
ways = 8
shared_by = "cluster"
ids = [100, 101]

[[cache]]
name = "L3"
level = 3
size = "2MiB"
ways = 16
shared_by = "system"
ids = [7]

[[numa]]
node = 0
proximity_domain = 0
memory = "4GiB"
bandwidth = "25.6GB/s"
latency_ns = 80
"""

#: Two L3 MSCs (one with 16 PARTIDs), and a memory MSC with each MBWU counter width.
NARROW_ONE_MSC = (
    _BASE.format(name="narrow", description="one MSC with a smaller PARTID space")
    + """
[[msc]]
name = "l3a"
identifier = 1
base_address = 0x1000_0000
size = 0x4000
error_interrupt = { gsiv = 90 }
ris = [{ index = 0, identifier = 1, resource = { kind = "cache", cache = "L3" }, features = { partid_max = 63, pmg_max = 1, cpor = { cpbm_wd = 16 } } }]

[[msc]]
name = "l3b"
identifier = 2
base_address = 0x1001_0000
size = 0x4000
ris = [{ index = 0, identifier = 2, resource = { kind = "cache", cache = "L3" }, features = { partid_max = 15, pmg_max = 1, cpor = { cpbm_wd = 16 } } }]
"""
)

#: Each cluster's L2 has an MSC reachable only from that cluster (linked to the processor
#: container of cluster 1: ACPI0010, _UID 1), plus memory MSCs with 31-, 44- and 63-bit
#: MBWU counters.
PRIVATE_L2 = (
    _BASE.format(name="private", description="an MSC only one cluster reaches")
    + """
[[msc]]
name = "l2c1"
identifier = 5
base_address = 0x2000_0000
size = 0x4000
linked_device = { hid = "ACPI0010", uid = 1 }
ris = [{ index = 0, identifier = 5, resource = { kind = "cache", cache = "L2", instance = 1 }, features = { partid_max = 63, pmg_max = 1, cpor = { cpbm_wd = 8 } } }]

[[msc]]
name = "mem31"
identifier = 6
base_address = 0x2001_0000
size = 0x4000
ris = [{ index = 0, identifier = 6, resource = { kind = "memory", node = 0 }, features = { partid_max = 63, pmg_max = 1, mbw = { bwa_wd = 8, has_max = true }, msmon = { mbwu = { num_mon = 4 } } } }]
"""
)


def memory_msc_platform(width: int, private: bool = False) -> str:
    """One memory MSC whose MBWU counters are `width` (31, 44 or 63) bits; `private` links
    it to cluster 1's processor container, so only CPUs 2 and 3 reach it."""
    linked = 'linked_device = { hid = "ACPI0010", uid = 1 }' if private else ""
    mbwu = {
        31: "num_mon = 4",
        44: "num_mon = 4, has_long = true",
        63: "num_mon = 4, has_long = true, lwd = true",
    }[width]
    return (
        _BASE.format(name=f"mbwu{width}", description=f"{width}-bit MBWU")
        + f"""
[[msc]]
name = "mem"
identifier = 1
base_address = 0x3000_0000
size = 0x4000
{linked}
ris = [{{ index = 0, identifier = 1, resource = {{ kind = "memory", node = 0 }}, features = {{ partid_max = 63, pmg_max = 1, mbw = {{ bwa_wd = 8, has_max = true }}, msmon = {{ mbwu = {{ {mbwu} }} }} }} }}]
"""
    )


__all__ = ["NARROW_ONE_MSC", "PRIVATE_L2", "memory_msc_platform"]
