"""Loading descriptions: what the conveniences expand to, and how bad descriptions are refused.

Every bad description starts from the small valid `BASE` and breaks one thing; the error must
name the problem and where it is (the key path, or the MSC for the cross-field rules).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpam import platform
from mpam.platform import PlatformError, from_toml, from_toml_text
from mpam.platform.model import AccessMode, InterfaceType, ResourceKind
from mpam.platform.reader import parse_bandwidth, parse_cpulist, parse_size

BASE = """\
name = "base"
description = "two CPUs, a sliced L3 and one memory channel"

[topology]
packages = 1
clusters_per_package = 1
cores_per_cluster = 2

[cpu_mpam]
partid_max = 15
pmg_max = 1

[[cache]]
name = "L1D"
level = 1
type = "data"
size = "32KiB"
ways = 4
shared_by = "core"
id_base = 0x100
id_stride = 2

[[cache]]
name = "L2"
level = 2
size = "256KiB"
ways = 8
shared_by = "core"
id_base = 0x200

[[cache]]
name = "L3"
level = 3
size = "1MiB"
ways = 16
shared_by = "system"
ids = [3]
slices = 2

[[numa]]
node = 0
proximity_domain = 0
cpus = "0-1"
memory = "1GiB"
bandwidth = "10GB/s"
latency_ns = 80

[features.llc]
partid_max = 15
pmg_max = 1
cpor = { cpbm_wd = 16 }
ccap = { cmax_wd = 8 }
msmon = { csu = { num_mon = 4 } }

[features.mem]
partid_max = 15
pmg_max = 1
mbw = { bwa_wd = 8, has_max = true }
msmon = { mbwu = { num_mon = 4 } }

[[msc]]
name = "llc"
identifier = 1
base_address = 0x1000_0000
size = 0x4000
error_interrupt = { gsiv = 40 }

[[msc.ris]]
identifier = 10
index = 0
resource = { kind = "cache", cache = "L3", slice = 0 }
features = "llc"

[[msc]]
name = "mem"
identifier = 2
base_address = 0x1001_0000
size = 0x4000

[[msc.ris]]
identifier = 20
index = 0
resource = { kind = "memory", node = 0 }
features = "mem"
"""

# (anchor, old, new): replace the first `old` after `anchor` with `new`.
Edit = tuple[str, str, str]


def mutate(*edits: Edit) -> str:
    text = BASE
    for anchor, old, new in edits:
        start = text.index(anchor)
        at = text.index(old, start)
        text = text[:at] + new + text[at + len(old) :]
    return text


LLC = 'name = "llc"'
MEM = 'name = "mem"'
LLC_RIS = "identifier = 10"
MEM_RIS = "identifier = 20"


def second_llc_ris(index: int) -> Edit:
    """Give the llc MSC a second RIS, on slice 1 of the L3."""
    ris = (
        f"\n\n[[msc.ris]]\nidentifier = 11\nindex = {index}\n"
        'resource = { kind = "cache", cache = "L3", slice = 1 }\nfeatures = "llc"'
    )
    return (LLC_RIS, 'features = "llc"', 'features = "llc"' + ris)


def second_numa_node(proximity_domain: int, cpus: str) -> Edit:
    node = (
        f"\n\n[[numa]]\nnode = 1\nproximity_domain = {proximity_domain}\ncpus = {cpus!r}\n"
        'memory = "1GiB"\nbandwidth = "10GB/s"\nlatency_ns = 80'
    )
    return ("[[numa]]", "latency_ns = 80", "latency_ns = 80" + node)


def test_base_is_valid() -> None:
    p = from_toml_text(BASE)
    assert p.name == "base"
    assert [m.name for m in p.mscs] == ["llc", "mem"]


# -- refused descriptions -------------------------------------------------------------------

BAD: list[tuple[str, tuple[Edit, ...], tuple[str, ...]]] = [
    # unknown keys, at every depth
    (
        "unknown top-level key",
        (("name", 'name = "base"', 'name = "base"\ncolour = "blue"'),),
        ("top level: unknown key(s) colour",),
    ),
    (
        "unknown topology key",
        (("[topology]", "cores_per_cluster = 2", "cores_per_cluster = 2\ncores = 2"),),
        ("topology: unknown key(s) cores",),
    ),
    (
        "unknown cache key",
        (("[[cache]]", "ways = 4", "ways = 4\nassoc = 4"),),
        ("cache[0]: unknown key(s) assoc",),
    ),
    (
        "unknown MSC key",
        ((LLC, "size = 0x4000", "size = 0x4000\nbase = 0"),),
        ("msc[0]: unknown key(s) base",),
    ),
    (
        "unknown feature key",
        (("[features.llc]", "cpbm_wd = 16", "cpbm_wd = 16, cpbm_width = 16"),),
        ("msc[0].ris[0].features.cpor: unknown key(s) cpbm_width",),
    ),
    (
        "unknown monitor key",
        (("[features.mem]", "num_mon = 4", "num_mon = 4, width = 63"),),
        ("msc[1].ris[0].features.msmon.mbwu: unknown key(s) width",),
    ),
    (
        "unknown resource key",
        ((MEM_RIS, "node = 0", "node = 0, domain = 0"),),
        ("msc[1].ris[0].resource: unknown key(s) domain",),
    ),
    # missing keys
    (
        "missing name",
        (("name", 'name = "base"\n', ""),),
        ("name: is required",),
    ),
    (
        "missing topology",
        (("[topology]", "[topology]", "[topo]"),),
        ("topology: is required",),
    ),
    (
        "missing cache ids",
        (("[[cache]]", "id_base = 0x100\nid_stride = 2\n", ""),),
        ("cache[0].id_base: is required",),
    ),
    (
        "missing RIS identifier",
        ((LLC_RIS, "identifier = 10\n", ""),),
        ("msc[0].ris[0].identifier: is required",),
    ),
    # wrong types
    (
        "string for an integer",
        (("[[cache]]", "ways = 4", 'ways = "4"'),),
        ("cache[0].ways: must be an integer, got '4'",),
    ),
    (
        "boolean for an integer",
        ((LLC, "identifier = 1", "identifier = true"),),
        ("msc[0].identifier: must be an integer, got True",),
    ),
    (
        "integer for a boolean",
        (("[features.mem]", "has_max = true", "has_max = 1"),),
        ("msc[1].ris[0].features.mbw.has_max: must be true or false, got 1",),
    ),
    (
        "not a size",
        (("[[cache]]", 'size = "32KiB"', 'size = "32 kilobytes"'),),
        ("cache[0].size: not a size",),
    ),
    (
        "not a bandwidth",
        (("[[numa]]", 'bandwidth = "10GB/s"', 'bandwidth = "10GB"'),),
        ("numa[0].bandwidth: not a bandwidth",),
    ),
    (
        "not a cpulist",
        (("[[numa]]", 'cpus = "0-1"', 'cpus = "zero-one"'),),
        ("numa[0].cpus: not a cpulist",),
    ),
    (
        "not a choice",
        (("[[cache]]", 'shared_by = "core"', 'shared_by = "socket"'),),
        ("cache[0].shared_by: must be one of core, cluster, package, system; got 'socket'",),
    ),
    (
        "unknown resource kind",
        ((MEM_RIS, 'kind = "memory"', 'kind = "dram"'),),
        ("msc[1].ris[0].resource.kind: must be one of",),
    ),
    (
        "table expected",
        ((LLC, "error_interrupt = { gsiv = 40 }", "error_interrupt = 40"),),
        ("msc[0].error_interrupt: must be a table, got int",),
    ),
    (
        "cache ids not a list",
        (("ids = [3]", "ids = [3]", "ids = 3"),),
        ("cache[2].ids: must be a list of 32-bit cache ids",),
    ),
    (
        "dependencies not identifiers",
        ((MEM_RIS, 'features = "mem"', 'features = "mem"\ndependencies = ["llc"]'),),
        ("msc[1].ris[0].dependencies: must be a list of resource identifiers",),
    ),
    (
        "linked device _HID too long",
        ((MEM, "size = 0x4000", 'size = 0x4000\nlinked_device = { hid = "ARMHM00001", uid = 0 }'),),
        ("msc[1].linked_device.hid: must be at most 8 ASCII characters",),
    ),
    # out-of-range values
    (
        "cpbm_wd = 0",
        (("[features.llc]", "cpbm_wd = 16", "cpbm_wd = 0"),),
        ("msc[0].ris[0].features.cpor.cpbm_wd: must be 1..32768, got 0",),
    ),
    (
        "RIS pmg_max = 256",
        (("[features.llc]", "pmg_max = 1", "pmg_max = 256"),),
        ("msc[0].ris[0].features.pmg_max: must be 0..255, got 256",),
    ),
    (
        "CPU pmg_max = 256",
        (("[cpu_mpam]", "pmg_max = 1", "pmg_max = 256"),),
        ("cpu_mpam.pmg_max: must be 0..255, got 256",),
    ),
    (
        "partid_max beyond 16 bits",
        (("[cpu_mpam]", "partid_max = 15", "partid_max = 65536"),),
        ("cpu_mpam.partid_max: must be 0..65535, got 65536",),
    ),
    (
        "cmax_wd = 17",
        (("[features.llc]", "cmax_wd = 8", "cmax_wd = 17"),),
        ("msc[0].ris[0].features.ccap.cmax_wd: must be 1..16, got 17",),
    ),
    (
        "bwa_wd = 0",
        (("[features.mem]", "bwa_wd = 8", "bwa_wd = 0"),),
        ("msc[1].ris[0].features.mbw.bwa_wd: must be 1..16, got 0",),
    ),
    (
        "num_mon = 0",
        (("[features.llc]", "num_mon = 4", "num_mon = 0"),),
        ("msc[0].ris[0].features.msmon.csu.num_mon: must be 1..65535, got 0",),
    ),
    (
        "RIS index 16",
        ((LLC_RIS, "index = 0", "index = 16"),),
        ("msc[0].ris[0].index: must be 0..15, got 16",),
    ),
    (
        "AIDR 0x12",
        ((LLC, "size = 0x4000", "size = 0x4000\naidr = 0x12"),),
        ("msc[0].aidr: must be 16..17, got 18",),
    ),
    (
        "GSIV 0",
        ((LLC, "gsiv = 40", "gsiv = 0"),),
        ("msc[0].error_interrupt.gsiv: must be 1..4294967295, got 0",),
    ),
    (
        "cache level 8",
        (("[[cache]]", "level = 1", "level = 8"),),
        ("cache[0].level: must be 1..7, got 8",),
    ),
    (
        "zero packages",
        (("[topology]", "packages = 1", "packages = 0"),),
        ("topology.packages: must be 1..256, got 0",),
    ),
    (
        "too many CPUs",
        (
            ("[topology]", "clusters_per_package = 1", "clusters_per_package = 64"),
            ("[topology]", "cores_per_cluster = 2", "cores_per_cluster = 128"),
        ),
        ("topology", "8192 CPUs; at most 4096 are supported"),
    ),
    (
        "count = 0",
        ((MEM, MEM, f"{MEM}\ncount = 0"),),
        ("msc[1].count: must be 1..4096, got 0",),
    ),
    (
        "PCC subspace beyond 8 bits",
        ((MEM, "base_address = 0x1001_0000", 'interface = "pcc"\npcc_subspace = 256'),),
        ("msc[1].pcc_subspace: must be 0..255, got 256",),
    ),
    # feature sets
    (
        "unknown feature set",
        ((LLC_RIS, 'features = "llc"', 'features = "lcc"'),),
        ("msc[0].ris[0].features: no feature set named 'lcc' under [features]",),
    ),
    (
        "unknown feature set as template",
        ((LLC_RIS, 'features = "llc"', 'features = { template = "lcc", pmg_max = 0 }'),),
        ("msc[0].ris[0].features.template: no feature set named 'lcc' under [features]",),
    ),
    (
        "features not a table of sets",
        (
            ("[features.llc]", "[features.llc]", "[xfeatures.llc]"),
            ("[features.mem]", "[features.mem]", "[xfeatures.mem]"),
            ("name", "name =", "features = 1\nname ="),
        ),
        ("features: must be a table of named feature sets",),
    ),
    # count and step
    (
        "step on a non-integer field",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = { name = 1 }'),),
        ("msc[1].step.name: only integer fields can be stepped",),
    ),
    (
        "step on a missing field",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = { "overflow_interrupt.gsiv" = 1 }'),),
        ("msc[1].step.overflow_interrupt.gsiv: no such field to step",),
    ),
    (
        "step not a table",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = 1'),),
        ("msc[1].step: must be a table of dotted paths to increments",),
    ),
    (
        "step through a list with a bad index",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = { "ris.5.identifier" = 1 }'),),
        ("msc[1].step.ris.5.identifier: no such field to step",),
    ),
    (
        "step through a list by name",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = { "ris.x.identifier" = 1 }'),),
        ("msc[1].step.ris.x.identifier: no such field to step",),
    ),
    (
        "step by a boolean",
        ((MEM, MEM, 'name = "mem{i}"\ncount = 2\nstep = { identifier = true }'),),
        ("msc[1].step.identifier: only integer fields can be stepped",),
    ),
    (
        "template name not a string",
        (('features = "mem"', 'features = "mem"', "features = { template = [1] }"),),
        ("msc[1].ris[0].features.template: no feature set named [1]",),
    ),
    (
        "winwd_us not a number",
        (("[features.mem]", "has_max = true", 'has_max = true, winwd_us = "soon"'),),
        ("features.mbw.winwd_us: must be a number",),
    ),
    (
        "cache size zero",
        (('size = "32KiB"', 'size = "32KiB"', "size = 0"),),
        ("cache[0].size: must be positive",),
    ),
    (
        "count without {i} gives duplicate names",
        ((MEM, MEM, f"{MEM}\ncount = 2\nstep = {{ identifier = 10, base_address = 0x10000 }}"),),
        ("duplicate MSC names: mem",),
    ),
    # uniqueness
    (
        "duplicate MSC identifier",
        ((MEM, "identifier = 2", "identifier = 1"),),
        ("duplicate MSC identifiers: 1",),
    ),
    (
        "duplicate MSC name",
        ((MEM, MEM, LLC),),
        ("duplicate MSC names: llc",),
    ),
    (
        "duplicate resource identifier",
        ((MEM_RIS, MEM_RIS, LLC_RIS),),
        ("duplicate resource identifiers: 10",),
    ),
    (
        "duplicate PPTT cache ids",
        (("ids = [3]", "ids = [3]", "ids = [0x102]"),),
        ("duplicate PPTT cache ids: 258",),
    ),
    (
        "duplicate cache name",
        (('name = "L3"', 'name = "L3"', 'name = "L1D"'),),
        ("duplicate cache names: L1D",),
    ),
    (
        "wrong number of cache ids",
        (("ids = [3]", "ids = [3]", "ids = [3, 4]"),),
        ("cache[2].ids: needs 1 cache ids (one per system), got 2",),
    ),
    # MMIO pages
    (
        "overlapping MMIO pages",
        ((MEM, "base_address = 0x1001_0000", "base_address = 0x1000_2000"),),
        ("MSC mem: MMIO page overlaps MSC llc",),
    ),
    (
        "misaligned base address",
        ((LLC, "base_address = 0x1000_0000", "base_address = 0x1000_0800"),),
        ("MSC llc: base_address 0x10000800 is not 4 KiB aligned",),
    ),
    (
        "page crossing a 64 KiB block",
        ((LLC, "base_address = 0x1000_0000", "base_address = 0x0FFF_E000"),),
        ("MSC llc: the page must sit inside one 64 KiB-aligned block",),
    ),
    (
        "page size not a multiple of 4 KiB",
        ((LLC, "size = 0x4000", "size = 0x1800"),),
        ("MSC llc: size 0x1800 must be a non-zero multiple of 4 KiB",),
    ),
    # RIS and architecture versions
    (
        "RIS index 1 without has_ris",
        (
            (LLC, "size = 0x4000", "size = 0x4000\nhas_ris = false"),
            (LLC_RIS, "index = 0", "index = 1"),
        ),
        ("MSC llc: more than RIS 0 needs has_ris = true",),
    ),
    (
        "duplicate RIS index",
        (second_llc_ris(0),),
        ("MSC llc: duplicate RIS index 0",),
    ),
    (
        "v1.0 MSC with has_ris",
        ((LLC, "size = 0x4000", "size = 0x4000\naidr = 0x10\nhas_ris = true"),),
        ("MSC llc: has_ris needs AIDR 0x11 (v1.1)",),
    ),
    (
        "v1.0 MSC with two RIS",
        (
            (LLC, "size = 0x4000", "size = 0x4000\naidr = 0x10"),
            second_llc_ris(1),
        ),
        ("MSC llc: has_ris needs AIDR 0x11 (v1.1)",),
    ),
    (
        "v1.0 MSC with ccap.has_cmin",
        (
            (LLC, "size = 0x4000", "size = 0x4000\naidr = 0x10"),
            (
                LLC_RIS,
                'features = "llc"',
                'features = { template = "llc", ccap = { has_cmin = true } }',
            ),
        ),
        ("MSC llc RIS 0: CMIN, CASSOC, NO_CMAX and SOFTLIM need AIDR 0x11 (v1.1)",),
    ),
    (
        "v1.0 MSC with CSU XCL",
        (
            (LLC, "size = 0x4000", "size = 0x4000\naidr = 0x10"),
            ("[features.llc]", "num_mon = 4", "num_mon = 4, has_xcl = true"),
        ),
        ("MSC llc RIS 0: CSU XCL and OFSR need AIDR 0x11 (v1.1)",),
    ),
    (
        "v1.0 MSC with OFLOW_SR",
        (
            (MEM, "size = 0x4000", "size = 0x4000\naidr = 0x10"),
            ("[features.mem]", "num_mon = 4 }", "num_mon = 4 }, has_oflow_sr = true"),
        ),
        ("MSC mem RIS 0: OFLOW_SR, OFLW_MSI and NO_HW_OFLW_INTR need AIDR 0x11",),
    ),
    (
        "has_nfu without has_endis",
        ((LLC, "size = 0x4000", "size = 0x4000\nhas_nfu = true"),),
        ("MSC llc: has_nfu needs has_endis",),
    ),
    (
        "has_nfu with PARTID narrowing",
        (
            (
                LLC,
                "size = 0x4000",
                "size = 0x4000\nhas_endis = true\nhas_nfu = true\nintpartid_max = 7",
            ),
        ),
        ("MSC llc: has_nfu is not allowed with PARTID narrowing",),
    ),
    (
        "has_err_msi without has_esr",
        ((LLC, "size = 0x4000", "size = 0x4000\nhas_esr = false\nhas_err_msi = true"),),
        ("MSC llc: has_err_msi needs has_esr",),
    ),
    (
        "intpartid_max above partid_max",
        ((LLC, "size = 0x4000", "size = 0x4000\nintpartid_max = 16"),),
        ("MSC llc RIS 0: intpartid_max 16 exceeds partid_max 15",),
    ),
    (
        "PCC MSC without latency",
        ((MEM, "base_address = 0x1001_0000", 'interface = "pcc"\npcc_subspace = 1'),),
        ("MSC mem: a PCC (firmware-backed) MSC needs pcc_latency_usec > 0",),
    ),
    # features that go together
    (
        "lwd without has_long",
        (("[features.mem]", "num_mon = 4", "num_mon = 4, lwd = true"),),
        ("MSC mem RIS 0: lwd (63-bit counter) needs has_long",),
    ),
    (
        "has_cassoc without cassoc_wd",
        (("[features.llc]", "cmax_wd = 8", "cmax_wd = 8, has_cassoc = true"),),
        ("MSC llc RIS 0: has_cassoc and a non-zero cassoc_wd go together",),
    ),
    (
        "has_pbm without bwpbm_wd",
        (("[features.mem]", "has_max = true", "has_max = true, has_pbm = true"),),
        ("MSC mem RIS 0: has_pbm and a non-zero bwpbm_wd go together",),
    ),
    (
        "intpri_wd without has_intpri",
        (("[features.mem]", "msmon =", "pri = { intpri_wd = 4 }\nmsmon ="),),
        ("MSC mem RIS 0: has_intpri/has_dspri and their widths go together",),
    ),
    (
        "winwd_us out of range",
        (("[features.mem]", "has_max = true", "has_max = true, winwd_us = 0"),),
        ("MSC mem RIS 0: winwd_us must be in (0, 65536) microseconds",),
    ),
    (
        "msmon without a monitor type",
        (
            (
                "[features.mem]",
                "msmon = { mbwu = { num_mon = 4 } }",
                "msmon = { has_oflow_sr = true }",
            ),
        ),
        ("MSC mem RIS 0: msmon needs a csu or an mbwu monitor type",),
    ),
    (
        "nrdy_usec above max_nrdy_usec",
        (
            (LLC, "size = 0x4000", "size = 0x4000\nmax_nrdy_usec = 5"),
            ("[features.llc]", "num_mon = 4", "num_mon = 4, nrdy_usec = 6"),
        ),
        ("MSC llc RIS 0: nrdy_usec 6 exceeds the MSC's max_nrdy_usec 5",),
    ),
    # resources
    (
        "resource names a missing cache",
        ((LLC_RIS, 'cache = "L3"', 'cache = "L4"'),),
        ("MSC llc RIS 0: resource names cache 'L4'; known: L1D, L2, L3",),
    ),
    (
        "resource names a missing cache instance",
        ((LLC_RIS, "slice = 0", "slice = 0, instance = 1"),),
        ("MSC llc RIS 0: cache L3 has no instance 1",),
    ),
    (
        "resource names a missing slice",
        ((LLC_RIS, "slice = 0", "slice = 2"),),
        ("MSC llc RIS 0: cache L3 has no slice 2",),
    ),
    (
        "resource names a missing NUMA node",
        ((MEM_RIS, "node = 0", "node = 1"),),
        ("MSC mem RIS 0: resource names NUMA node 1; known: [0]",),
    ),
    (
        "resource names a missing memory channel",
        ((MEM_RIS, "node = 0", "node = 0, channel = 1"),),
        ("MSC mem RIS 0: NUMA node 0 has no channel 1",),
    ),
    (
        "memory-side cache without a reference",
        ((MEM_RIS, 'kind = "memory", node = 0', 'kind = "memory_side_cache", level = 2'),),
        ("MSC mem RIS 0: a memory_side_cache resource needs level and reference",),
    ),
    (
        "ACPI device without a _HID",
        ((MEM_RIS, 'kind = "memory", node = 0', 'kind = "acpi_device", reference = 1'),),
        ("MSC mem RIS 0: an acpi_device resource needs hid and reference (_UID)",),
    ),
    (
        "dependency on an unknown resource",
        ((MEM_RIS, 'features = "mem"', 'features = "mem"\ndependencies = [10, 99]'),),
        ("MSC mem RIS 0: dependencies name unknown resource identifiers [99]",),
    ),
    # caches
    (
        "cache size not a multiple of ways x line",
        (("[[cache]]", 'size = "32KiB"', "size = 1000"),),
        ("cache L1D: size 1000 is not a multiple of ways x line_size",),
    ),
    (
        "line size not a power of two",
        (
            ("[[cache]]", "ways = 4", "ways = 4\nline_size = 96"),
            ("[[cache]]", 'size = "32KiB"', "size = 38400"),
        ),
        ("cache L1D: line_size 96 is not a power of two",),
    ),
    (
        "sets do not split into slices",
        (("ids = [3]", "slices = 2", "slices = 3"),),
        ("cache L3: 1024 sets do not split into 3 slices",),
    ),
    (
        "a gap in the cache levels",
        (('name = "L2"', "level = 2", "level = 4"),),
        ("cache levels [1, 3, 4] must run from 1 without a gap, as Linux counts them",),
    ),
    (
        "a level shared more narrowly than the one below",
        (('type = "data"', 'shared_by = "core"', 'shared_by = "cluster"'),),
        ("cache L2: level 2 is shared by core, more narrowly than level 1",),
    ),
    (
        "unified and split caches on one level",
        (('name = "L3"', "level = 3", "level = 1"),),
        ("level 1 has both a unified and a split cache",),
    ),
    # NUMA
    (
        "CPU in two NUMA nodes",
        (second_numa_node(1, "1"),),
        ("CPUs in more than one NUMA node: 1",),
    ),
    (
        "CPU in no NUMA node",
        (("[[numa]]", 'cpus = "0-1"', 'cpus = "0"'),),
        ("CPUs in no NUMA node: [1]",),
    ),
    (
        "NUMA node naming a CPU that does not exist",
        (("[[numa]]", 'cpus = "0-1"', 'cpus = "0-2"'),),
        ("NUMA nodes name CPUs that do not exist: [2]",),
    ),
    (
        "duplicate proximity domain",
        (second_numa_node(0, ""),),
        ("duplicate proximity domains: 0",),
    ),
    (
        "no NUMA node",
        (("[[numa]]", "[[numa]]", "[[numa_]]"),),
        ("numa: is required",),
    ),
    # values the PPTT cannot encode are refused at load time, not by `mpam acpi build`
    (
        "256 ways (the PPTT's Associativity is a byte)",
        (('name = "L3"', "ways = 16", "ways = 256"),),
        ("cache[2].ways: must be 1..255, got 256",),
    ),
    (
        "a 4 GiB cache (the PPTT's Size is 32 bits)",
        (('name = "L3"', 'size = "1MiB"', 'size = "4GiB"'),),
        ("cache[2].size: must be below 4 GiB (the PPTT's Size is 32 bits), got 4294967296",),
    ),
    (
        "63 ways: more than the cache model keeps",
        (
            ('name = "L3"', "ways = 16", "ways = 63"),
            ('name = "L3"', 'size = "1MiB"', 'size = "1008KiB"'),
        ),
        ("cache L3: 63 ways: mpam's cache model keeps at most 62 ways per set",),
    ),
    (
        "a page too small for the portion bitmap",
        ((LLC, "size = 0x4000", "size = 0x1000"),),
        (
            "MSC llc: size 0x1000 cannot hold MPAMCFG_CPBM of RIS 0 (it ends at 0x1004): make size "
            "at least 0x2000",
        ),
    ),
    (
        "an MSC node longer than its 16-bit Length",
        ((LLC_RIS, "index = 0", "index = 0\ndependencies = " + str([20] * 8180)),),
        ("MSC llc: its MPAM table node would be 65536 bytes, more than the 16-bit Length holds",),
    ),
    (
        "a dependency listed twice",
        ((LLC_RIS, "index = 0", "index = 0\ndependencies = [20, 20]"),),
        ("MSC llc: RIS 0 lists dependency 20 twice",),
    ),
    (
        "a descriptor a cache locator derives",
        ((LLC_RIS, "slice = 0 }", "slice = 0, descriptor2 = 7 }"),),
        ("MSC llc: RIS 0: descriptor1/descriptor2 do not apply to a cache resource",),
    ),
    (
        "two caches of one level and type",
        (
            (
                "[[numa]]",
                "[[numa]]",
                '[[cache]]\nname = "L3b"\nlevel = 3\nsize = "1MiB"\nways = 16\n'
                'shared_by = "system"\nids = [4]\n\n[[numa]]',
            ),
        ),
        ("two caches of the same level and type: 3 unified",),
    ),
    (
        "more memory than a 52-bit physical address space",
        (("[[numa]]", 'memory = "1GiB"', 'memory = "4096TiB"'),),
        ("does not fit a 52-bit physical address space",),
    ),
    (
        "a bandwidth of nothing",
        (("[[numa]]", 'bandwidth = "10GB/s"', 'bandwidth = "0GB/s"'),),
        ("numa[0].bandwidth: must be at least 1B/s, got '0GB/s'",),
    ),
    (
        "cache ids past 32 bits",
        (('name = "L2"', "id_base = 0x200", "id_base = 0x200\nid_stride = 0xFFFFFFFF"),),
        (
            "cache[1].id_stride: gives cache id 4294967807 for the last of 2 caches: cache ids "
            "are 32-bit (at most 4294967295)",
        ),
    ),
]


@pytest.mark.parametrize(("edits", "fragments"), [pytest.param(e, f, id=i) for i, e, f in BAD])
def test_bad_description_is_refused(edits: tuple[Edit, ...], fragments: tuple[str, ...]) -> None:
    text = mutate(*edits)
    assert text != BASE
    with pytest.raises(PlatformError) as info:
        from_toml_text(text, source="bad.toml")
    message = str(info.value)
    assert message.startswith("bad.toml: ")
    for fragment in fragments:
        assert fragment in message


def test_bad_descriptions_are_distinct() -> None:
    assert len({i for i, _, _ in BAD}) == len(BAD)


def test_invalid_toml() -> None:
    with pytest.raises(PlatformError, match=r"^broken\.toml: not valid TOML: .*line 1"):
        from_toml_text('name = "unterminated\n', source="broken.toml")


def test_unknown_preset() -> None:
    with pytest.raises(PlatformError, match=r"no preset named 'rdn3'; presets: .*rdn2"):
        platform.load("rdn3")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(PlatformError, match=r"missing\.toml: cannot read: No such file"):
        platform.load(missing)
    with pytest.raises(PlatformError, match=r"missing\.toml: cannot read"):
        platform.load(str(missing))
    with pytest.raises(PlatformError, match=r"cannot read"):
        from_toml(tmp_path)  # a directory


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "machine.toml"
    path.write_text(mutate(("[features.llc]", "cpbm_wd = 16", "cpbm_wd = 0")), encoding="utf-8")
    with pytest.raises(PlatformError) as info:
        platform.load(path)
    assert str(info.value).startswith(f"{path}: msc[0].ris[0].features.cpor.cpbm_wd: ")


def test_plain_v10_msc_loads() -> None:
    """A v1.0 MSC has no HAS_ESR bit, but its ESR always exists."""
    p = from_toml_text(mutate((LLC, "size = 0x4000", "size = 0x4000\naidr = 0x10")))
    assert p.mscs[0].has_esr


# -- what loads -----------------------------------------------------------------------------


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "machine.toml"
    path.write_text(BASE, encoding="utf-8")
    p = platform.load(path)
    assert p.source == str(path)
    assert p == from_toml_text(BASE)
    assert platform.load(str(path)) == p


def test_topology_and_cpus() -> None:
    text = mutate(
        ("[topology]", "packages = 1", "packages = 2"),
        ("[topology]", "cores_per_cluster = 2", "cores_per_cluster = 2\nthreads_per_core = 2"),
        ("[[numa]]", 'cpus = "0-1"', 'cpus = "0-7"'),
    )
    p = from_toml_text(text)
    assert p.topology.num_cpus == 8
    cpu = p.cpus[7]
    assert (cpu.package, cpu.cluster, cpu.core, cpu.thread) == (1, 1, 3, 1)
    assert cpu.mpidr == (1 << 31) | (1 << 32) | (1 << 24) | (1 << 8) | 1
    assert p.cpus[0].mpidr == (1 << 31) | (1 << 24)


def test_caches_from_id_base_and_ids() -> None:
    p = from_toml_text(BASE)
    l1d = p.cache("L1D")
    assert [(i.cache_id, i.cpus) for i in l1d.instances] == [(0x100, (0,)), (0x102, (1,))]
    assert (l1d.size, l1d.sets, l1d.line_size) == (32 << 10, 128, 64)
    l3 = p.cache("L3")
    assert [(i.cache_id, i.cpus) for i in l3.instances] == [(3, (0, 1))]
    assert (l3.type, l3.slices) == ("unified", 2)


def test_defaults() -> None:
    p = from_toml_text(mutate(("[cpu_mpam]", "[cpu_mpam]\npartid_max = 15\npmg_max = 1\n", "")))
    assert p.cpu_mpam.partid_max == 63 and p.cpu_mpam.version == "1.1"
    llc = p.mscs[0]
    assert llc.interface is InterfaceType.MMIO
    assert (llc.aidr, llc.iidr, llc.max_nrdy_usec) == (0x11, 0x43B, 100)
    assert llc.has_esr and not llc.has_ris and not llc.has_extd_esr
    assert llc.intpartid_max is None and llc.overflow_interrupt is None
    assert llc.error_interrupt is not None
    assert llc.error_interrupt.mode is AccessMode.LEVEL and llc.error_interrupt.affinity is None
    assert p.numa[0].channels == 1
    csu = llc.ris[0].features.msmon.csu  # type: ignore[union-attr]
    assert csu is not None and csu.hw_nrdy and csu.nrdy_usec == 10


def test_numa_cpus_default_to_all() -> None:
    p = from_toml_text(mutate(("[[numa]]", 'cpus = "0-1"\n', "")))
    assert p.numa[0].cpus == (0, 1)


def test_count_and_step_expand() -> None:
    text = mutate(
        (
            MEM,
            MEM,
            'name = "mem{i}"\ncount = 3\n'
            'step = { identifier = 10, base_address = 0x10000, "ris.0.identifier" = 1,'
            ' "ris.0.resource.channel" = 1, "error_interrupt.gsiv" = 2 }\n'
            "error_interrupt = { gsiv = 50 }",
        ),
        (MEM_RIS, "node = 0", "node = 0, channel = 0"),
        ("[[numa]]", "latency_ns = 80", "latency_ns = 80\nchannels = 3"),
    )
    p = from_toml_text(text)
    mems = p.mscs[1:]
    assert [m.name for m in mems] == ["mem0", "mem1", "mem2"]
    assert [m.identifier for m in mems] == [2, 12, 22]
    assert [m.base_address for m in mems] == [0x1001_0000, 0x1002_0000, 0x1003_0000]
    assert [m.ris[0].identifier for m in mems] == [20, 21, 22]
    assert [m.ris[0].resource.channel for m in mems] == [0, 1, 2]
    assert [m.error_interrupt.gsiv for m in mems if m.error_interrupt] == [50, 52, 54]


def test_count_one_needs_no_placeholder() -> None:
    p = from_toml_text(mutate((MEM, MEM, f"{MEM}\ncount = 1")))
    assert [m.name for m in p.mscs] == ["llc", "mem"]


def test_feature_template_with_overrides() -> None:
    text = mutate(
        (
            LLC_RIS,
            'features = "llc"',
            'features = { template = "llc", ccap = { has_cmin = true },'
            " msmon = { csu = { num_mon = 8 } } }",
        )
    )
    f = from_toml_text(text).mscs[0].ris[0].features
    assert f.cpor is not None and f.cpor.cpbm_wd == 16  # from the template
    assert f.ccap is not None and f.ccap.cmax_wd == 8 and f.ccap.has_cmin  # merged
    assert f.msmon is not None and f.msmon.csu is not None and f.msmon.csu.num_mon == 8


def test_inline_features_without_template() -> None:
    text = mutate(
        (
            MEM_RIS,
            'features = "mem"',
            "features = { partid_max = 7, pmg_max = 0, mbw = { bwa_wd = 4, has_min = true } }",
        )
    )
    f = from_toml_text(text).mscs[1].ris[0].features
    assert (f.partid_max, f.pmg_max) == (7, 0)
    assert f.mbw is not None and f.mbw.has_min and not f.mbw.has_max and f.msmon is None


def test_multiple_ris_set_has_ris() -> None:
    llc = from_toml_text(mutate(second_llc_ris(1))).mscs[0]
    assert llc.has_ris and llc.has_extd_esr and llc.ris_max == 1


def test_pcc_msc() -> None:
    text = mutate(
        (
            MEM,
            "base_address = 0x1001_0000",
            'interface = "pcc"\npcc_subspace = 7\npcc_latency_usec = 250\n'
            'linked_device = { hid = "ARMHM001", uid = 2 }',
        )
    )
    mem = from_toml_text(text).mscs[1]
    assert mem.interface is InterfaceType.PCC
    assert (mem.base_address, mem.pcc_latency_usec) == (7, 250)
    assert mem.linked_device is not None and (mem.linked_device.hid, mem.linked_device.uid) == (
        "ARMHM001",
        2,
    )


def test_other_resource_kinds() -> None:
    text = mutate(
        (
            MEM_RIS,
            'kind = "memory", node = 0',
            'kind = "acpi_device", hid = 0x41524D48, reference = 3',
        ),
        (LLC_RIS, 'kind = "cache", cache = "L3", slice = 0', 'kind = "smmu", reference = 0x80'),
    )
    p = from_toml_text(text)
    smmu, dev = (m.ris[0].resource for m in p.mscs)
    assert smmu.kind is ResourceKind.SMMU and smmu.reference == 0x80
    assert dev.kind is ResourceKind.ACPI_DEVICE and (dev.hid, dev.reference) == (0x41524D48, 3)


# -- reader.py: sizes, bandwidths, cpulists -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (4096, 4096),
        ("100", 100),
        ("100B", 100),
        ("64KiB", 64 << 10),
        ("64kib", 64 << 10),
        ("8MiB", 8 << 20),
        (" 2 MiB ", 2 << 20),
        ("16GiB", 16 << 30),
        ("1TiB", 1 << 40),
        ("1.5KiB", 1536),
        ("32KB", 32_000),
        ("51.2GB", 51_200_000_000),
        ("2MB", 2_000_000),
        ("1TB", 10**12),
    ],
)
def test_parse_size(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    "value",
    [True, False, 1.5, None, [], "", "KiB", "64 KiBs", "64Ki", "1e3", "0x10", "-1KiB", "1,000"],
)
def test_parse_size_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(value)


@pytest.mark.parametrize("value", [0, -4096, "0KiB"])
def test_parse_size_refuses_non_positive(value: object) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        parse_size(value)


@pytest.mark.parametrize("value", ["0-", "3-1", [-1, 2]])
def test_parse_cpulist_refuses_bad_ranges(value: object) -> None:
    with pytest.raises(ValueError, match="not a cpulist"):
        parse_cpulist(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1000, 1000),
        ("51.2GB/s", 51_200_000_000),
        ("10 GB/s", 10_000_000_000),
        ("1GiB/s", 1 << 30),
        ("800MB/s", 800_000_000),
        (" 25.6GB/s ", 25_600_000_000),
    ],
)
def test_parse_bandwidth(value: object, expected: int) -> None:
    assert parse_bandwidth(value) == expected


@pytest.mark.parametrize("value", ["51.2GB", "fast/s", "/s", "1GB/h"])
def test_parse_bandwidth_refuses_strings(value: str) -> None:
    with pytest.raises(ValueError, match="not a bandwidth"):
        parse_bandwidth(value)


@pytest.mark.parametrize("value", [True, 2.5, None])
def test_parse_bandwidth_refuses_other_types(value: object) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_bandwidth(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0-3,8", (0, 1, 2, 3, 8)),
        ("5", (5,)),
        ("0-1, 4 ,6-7", (0, 1, 4, 6, 7)),
        ("2-2", (2,)),
        ("", ()),
        ([1, 2, 9], (1, 2, 9)),
        ([], ()),
    ],
)
def test_parse_cpulist(value: object, expected: tuple[int, ...]) -> None:
    assert parse_cpulist(value) == expected


@pytest.mark.parametrize("value", ["a-b", "1-x", "-1", "0 - 3", "0;1", [True], [1.0], 3, None])
def test_parse_cpulist_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="not a cpulist"):
        parse_cpulist(value)
