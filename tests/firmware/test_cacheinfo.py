"""The Linux PPTT rules `mpam.firmware.cacheinfo` models, one small hand-made table per rule.

Why: the MPAM driver places every cache RIS by what Linux derives from the PPTT (the level of
a cache id, the CPUs behind it), and `/sys/.../cache` shows the per-CPU leaves. Each rule of
drivers/acpi/pptt.c and drivers/base/cacheinfo.c (level numbering, type matching, valid flags,
cache ids, sharing, the leaf test, the from-id and container helpers) is checked here on a
PPTT laid out by hand from the structure layouts, so a test names exactly the bytes it is
about. The last test checks the other direction: the PPTT built for every preset gives each
CPU exactly the caches the platform description says cover it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from mpam import platform
from mpam.firmware import CacheLeaf, CacheTopology, TableError, build_tables, parse_pptt
from mpam.firmware.pptt import (
    CACHE_ID,
    CACHE_NODE,
    PROCESSOR_NODE,
    CacheFlags,
    Pptt,
    ProcessorFlags,
)
from mpam.firmware.sdt import with_header

LEAF = ProcessorFlags.ID_VALID | ProcessorFlags.LEAF
CONTAINER = ProcessorFlags.ID_VALID
#: Attributes bits [3:2] (read/write allocate, write-back in bits [1:0] and 4).
DATA, INSTRUCTION, UNIFIED, UNIFIED_ALT = 0x3, 0x7, 0xB, 0xF
WRITE_THROUGH = 0x10


# --- a tiny PPTT assembler ----------------------------------------------------------------


@dataclass
class Proc:
    """A processor hierarchy node; references are by name."""

    name: str
    uid: int = 0
    parent: str | None = None
    flags: int = CONTAINER
    resources: tuple[str, ...] = ()
    length: int | None = None  # the Length byte, when it must not match the resources
    count: int | None = None  # the Private Resource Number, likewise


@dataclass
class Cache:
    """A cache type structure; 28 bytes (with the Cache ID field) when `cache_id` is set."""

    name: str
    attributes: int = UNIFIED
    next: str | None = None
    flags: int = CacheFlags.ALL
    cache_id: int | None = None
    size: int = 0x10000
    sets: int = 256
    ways: int = 4
    line: int = 64


@dataclass
class Table:
    """The assembled bytes, where each named structure landed, and the decoded table."""

    data: bytes
    at: dict[str, int] = field(default_factory=dict)

    @property
    def pptt(self) -> Pptt:
        return parse_pptt(self.data)

    def topology(self) -> CacheTopology:
        return CacheTopology(self.pptt)

    def leaves(self) -> dict[int, list[CacheLeaf]]:
        return self.topology().leaves()


def _size(node: Proc | Cache) -> int:
    if isinstance(node, Proc):
        return PROCESSOR_NODE.size + 4 * len(node.resources)
    return CACHE_NODE.size + (CACHE_ID.size if node.cache_id is not None else 0)


def assemble(*nodes: Proc | Cache, revision: int = 3) -> Table:
    """Lay the structures out in order after the header, then resolve the name references
    to byte offsets (forward references are fine)."""
    at: dict[str, int] = {}
    offset = 36
    for node in nodes:
        at[node.name] = offset
        offset += _size(node)

    def ref(name: str | None) -> int:
        return 0 if name is None else at[name]

    body = bytearray()
    for node in nodes:
        if isinstance(node, Proc):
            body += PROCESSOR_NODE.pack(
                {
                    "type": 0,
                    "length": _size(node) if node.length is None else node.length,
                    "flags": node.flags,
                    "parent": ref(node.parent),
                    "acpi_processor_id": node.uid,
                    "num_private_resources": (
                        len(node.resources) if node.count is None else node.count
                    ),
                }
            )
            body += b"".join(ref(r).to_bytes(4, "little") for r in node.resources)
        else:
            body += CACHE_NODE.pack(
                {
                    "type": 1,
                    "length": _size(node),
                    "flags": node.flags,
                    "next_level": ref(node.next),
                    "size": node.size,
                    "number_of_sets": node.sets,
                    "associativity": node.ways,
                    "attributes": node.attributes,
                    "line_size": node.line,
                }
            )
            if node.cache_id is not None:
                body += CACHE_ID.pack({"cache_id": node.cache_id})
    data = with_header(
        "PPTT",
        revision,
        bytes(body),
        oem_id="TEST",
        oem_table_id="CACHEINF",
        oem_revision=1,
        creator_id="MPAM",
        creator_revision=1,
    )
    return Table(data, at)


def shape(leaves: list[CacheLeaf]) -> list[tuple[int, str]]:
    return [(leaf.level, leaf.type) for leaf in leaves]


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (Linux itself would spin forever on these tables)."""

    def expire(signum: int, frame: object) -> None:
        raise AssertionError(f"still walking after {seconds} s: a reference loop hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- level numbering ----------------------------------------------------------------------


def test_cluster_private_l2_after_core_private_l1_is_level_2() -> None:
    t = assemble(
        Cache("l2", cache_id=20),
        Proc("cluster", uid=0, resources=("l2",)),
        Cache("l1d0", DATA, cache_id=1),
        Cache("l1i0", INSTRUCTION, cache_id=2),
        Proc("core0", uid=0, parent="cluster", flags=LEAF, resources=("l1d0", "l1i0")),
        Cache("l1d1", DATA, cache_id=3),
        Cache("l1i1", INSTRUCTION, cache_id=4),
        Proc("core1", uid=1, parent="cluster", flags=LEAF, resources=("l1d1", "l1i1")),
    )
    leaves = t.leaves()
    assert set(leaves) == {0, 1}
    for uid in (0, 1):
        assert shape(leaves[uid]) == [(1, "data"), (1, "instruction"), (2, "unified")]
        l2 = leaves[uid][2]
        assert (l2.id, l2.fw_token, l2.shared_cpus) == (20, t.at["cluster"], (0, 1))
        assert leaves[uid][0].fw_token == t.at[f"core{uid}"]
        assert leaves[uid][0].shared_cpus == (uid,)
    assert t.topology().level_from_id(20) == 2


def test_chain_on_the_core_and_l3_on_the_package_give_3_levels() -> None:
    t = assemble(
        Cache("l3", cache_id=30),
        Proc(
            "package", uid=0, flags=CONTAINER | ProcessorFlags.PHYSICAL_PACKAGE, resources=("l3",)
        ),
        Proc("cluster", uid=0, parent="package"),
        Cache("l2", cache_id=20),
        Cache("l1d", DATA, next="l2", cache_id=10),
        Cache("l1i", INSTRUCTION, next="l2", cache_id=11),
        Proc("core", uid=7, parent="cluster", flags=LEAF, resources=("l1d", "l1i")),
    )
    leaves = t.leaves()[7]
    assert shape(leaves) == [(1, "data"), (1, "instruction"), (2, "unified"), (3, "unified")]
    assert [leaf.id for leaf in leaves] == [10, 11, 20, 30]
    # A cache reached through the core's own Next Level chain is found at the core.
    assert [leaf.fw_token for leaf in leaves] == [t.at["core"]] * 3 + [t.at["package"]]
    topo = t.topology()
    assert [topo.level_from_id(i) for i in (10, 11, 20, 30)] == [1, 1, 2, 3]


def test_parent_levels_start_after_the_longest_chain_below() -> None:
    """The data side is one level deep, the instruction side two: the cluster starts at 3."""
    t = assemble(
        Cache("l3"),
        Proc("cluster", resources=("l3",)),
        Cache("l2i", INSTRUCTION),
        Cache("l1d", DATA),
        Cache("l1i", INSTRUCTION, next="l2i"),
        Proc("core", uid=1, parent="cluster", flags=LEAF, resources=("l1d", "l1i")),
    )
    assert shape(t.leaves()[1]) == [
        (1, "data"),
        (1, "instruction"),
        (2, "instruction"),
        (3, "unified"),
    ]


def test_a_cache_listed_twice_is_counted_twice() -> None:
    """No de-duplication: the core's chain reaches the L2 and the cluster lists it too."""
    t = assemble(
        Cache("l2", cache_id=20),
        Proc("cluster", resources=("l2",)),
        Cache("l1", next="l2", cache_id=10),
        Proc("core", uid=0, parent="cluster", flags=LEAF, resources=("l1",)),
    )
    leaves = t.leaves()[0]
    assert shape(leaves) == [(1, "unified"), (2, "unified"), (3, "unified")]
    assert [leaf.id for leaf in leaves] == [10, 20, 20]
    assert [leaf.fw_token for leaf in leaves] == [t.at["core"]] * 2 + [t.at["cluster"]]
    assert t.topology().level_from_id(20) == 2  # the lowest level wins


# --- type matching ------------------------------------------------------------------------


def test_split_level_reports_data_then_instruction() -> None:
    t = assemble(
        Cache("l1i", INSTRUCTION),
        Cache("l1d", DATA),
        Proc("core", uid=0, flags=LEAF, resources=("l1i", "l1d")),
    )
    assert shape(t.leaves()[0]) == [(1, "data"), (1, "instruction")]


@pytest.mark.parametrize("attributes", [UNIFIED, UNIFIED_ALT])
def test_both_unified_encodings_match_a_unified_query(attributes: int) -> None:
    t = assemble(
        Cache("l2", attributes, cache_id=5),
        Cache("l1", DATA, next="l2"),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    assert shape(t.leaves()[0]) == [(1, "data"), (2, "unified")]
    assert t.topology().level_from_id(5) == 2


def test_unified_alt_never_matches_a_data_or_instruction_query() -> None:
    """At a split level the 0xC cache is neither the data nor the instruction cache."""
    t = assemble(
        Cache("alt", UNIFIED_ALT, cache_id=9),
        Cache("l1d", DATA, cache_id=8),
        Proc("core", uid=0, flags=LEAF, resources=("alt", "l1d")),
    )
    leaves = t.leaves()[0]
    assert shape(leaves) == [(1, "data")]
    assert leaves[0].id == 8
    # A unified query still finds it, so the from-id helpers see it at level 1.
    assert t.topology().level_from_id(9) == 1


def test_a_cache_without_a_valid_type_takes_a_level_but_never_matches() -> None:
    t = assemble(
        Cache("l2", cache_id=20),
        Cache("l1", next="l2", flags=CacheFlags.ALL & ~CacheFlags.TYPE, cache_id=10),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    topo = t.topology()
    leaves = topo.leaves()[0]
    assert shape(leaves) == [(2, "unified")]
    assert leaves[0].id == 20
    # The from-id search ends at the first level with no match: level 1 is empty, so the
    # L2 behind it is never reached and the invalid-type L1 never matches.
    assert topo.level_from_id(20) is None
    assert topo.level_from_id(10) is None
    assert topo.cpumask_from_id(20) == ()


def test_the_last_match_at_a_node_wins() -> None:
    t = assemble(
        Cache("first", cache_id=1, size=0x1000),
        Cache("second", cache_id=2, size=0x2000),
        Proc("core", uid=0, flags=LEAF, resources=("first", "second")),
    )
    leaves = t.leaves()[0]
    assert shape(leaves) == [(1, "unified")]
    assert (leaves[0].id, leaves[0].size) == (2, 0x2000)


# --- properties and cache ids -------------------------------------------------------------


def _one_cache(flags: int, attributes: int = UNIFIED, **kw: int) -> CacheLeaf:
    t = assemble(
        Cache("l1", attributes, flags=flags, **kw),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    [leaf] = t.leaves()[0]
    return leaf


def test_properties_are_taken_only_with_their_valid_flag() -> None:
    base = CacheFlags.TYPE
    geometry = {"size": 0x8000, "sets": 128, "ways": 4, "line": 64}
    none = _one_cache(base, UNIFIED | WRITE_THROUGH, **geometry)
    assert (none.size, none.sets, none.ways, none.line_size) == (0, 0, 0, 0)
    assert none.write_through is False
    assert _one_cache(base | CacheFlags.SIZE, **geometry).size == 0x8000
    assert _one_cache(base | CacheFlags.SETS, **geometry).sets == 128
    assert _one_cache(base | CacheFlags.ASSOCIATIVITY, **geometry).ways == 4
    assert _one_cache(base | CacheFlags.LINE_SIZE, **geometry).line_size == 64
    only_size = _one_cache(base | CacheFlags.SIZE, **geometry)
    assert (only_size.sets, only_size.ways, only_size.line_size) == (0, 0, 0)
    policy = base | CacheFlags.WRITE_POLICY
    assert _one_cache(policy, UNIFIED | WRITE_THROUGH).write_through is True
    assert _one_cache(policy, UNIFIED).write_through is False


@pytest.mark.parametrize(
    ("flags", "cache_id", "expected"),
    [
        (CacheFlags.ALL, 0x1234, 0x1234),  # 28 bytes, Cache ID valid
        (CacheFlags.ALL, 0, 0),  # 0 is an ordinary id
        (CacheFlags.ALL & ~CacheFlags.CACHE_ID, 0x1234, None),  # 28 bytes, flag clear
        (CacheFlags.ALL, None, None),  # flag set, but a 24-byte structure
    ],
)
def test_cache_id_needs_the_flag_and_a_28_byte_structure(
    flags: int, cache_id: int | None, expected: int | None
) -> None:
    t = assemble(
        Cache("l1", flags=flags, cache_id=cache_id),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    [leaf] = t.leaves()[0]
    assert leaf.id == expected
    topo = t.topology()
    if expected is None:
        assert topo.level_from_id(0x1234) is None
    else:
        assert topo.level_from_id(expected) == 1
        assert topo.cpumask_from_id(expected) == (0,)


# --- sharing ------------------------------------------------------------------------------


def _two_cores(id0: int | None, id1: int | None) -> Table:
    """Two CPUs of one cluster, each with its own L2 structure."""
    return assemble(
        Proc("cluster"),
        Cache("a", cache_id=id0),
        Proc("core0", uid=0, parent="cluster", flags=LEAF, resources=("a",)),
        Cache("b", cache_id=id1),
        Proc("core1", uid=1, parent="cluster", flags=LEAF, resources=("b",)),
    )


@pytest.mark.parametrize(
    ("id0", "id1", "shared"),
    [
        (7, 7, True),  # both have ids: equal ids share, whatever node they were found at
        (7, 8, False),  # both have ids, different
        (None, None, False),  # no ids: different processor nodes do not share
        (7, None, False),  # one id: the processor nodes decide, and they differ
    ],
)
def test_private_caches_share_by_id_when_both_have_one(
    id0: int | None, id1: int | None, shared: bool
) -> None:
    leaves = _two_cores(id0, id1).leaves()
    assert leaves[0][0].fw_token != leaves[1][0].fw_token
    if shared:
        assert leaves[0][0].shared_cpus == leaves[1][0].shared_cpus == (0, 1)
    else:
        assert (leaves[0][0].shared_cpus, leaves[1][0].shared_cpus) == ((0,), (1,))


@pytest.mark.parametrize("cache_id", [None, 5])
def test_a_cache_found_at_the_same_node_is_shared(cache_id: int | None) -> None:
    t = assemble(
        Cache("l2", cache_id=cache_id),
        Proc("cluster", resources=("l2",)),
        Proc("core0", uid=0, parent="cluster", flags=LEAF),
        Proc("core1", uid=1, parent="cluster", flags=LEAF),
        Proc("other", uid=2, flags=LEAF),
    )
    leaves = t.leaves()
    assert leaves[0][0].shared_cpus == leaves[1][0].shared_cpus == (0, 1)
    assert leaves[2] == []


# --- which node is a CPU ------------------------------------------------------------------


def _hierarchy(revision: int, core_flags: int, package_flags: int) -> Table:
    return assemble(
        Cache("l3"),
        Proc("package", uid=100, flags=package_flags, resources=("l3",)),
        Cache("l1"),
        Proc("core", uid=4, parent="package", flags=core_flags, resources=("l1",)),
        revision=revision,
    )


@pytest.mark.parametrize("revision", [0, 1])
def test_up_to_revision_1_a_leaf_is_a_node_nobody_names_as_parent(revision: int) -> None:
    # The Leaf flag is ignored: set on the package (a parent), clear on the core.
    t = _hierarchy(revision, core_flags=CONTAINER, package_flags=LEAF)
    topo = t.topology()
    assert topo.cpus == (4,)
    assert shape(topo.leaves()[4]) == [(1, "unified"), (2, "unified")]


@pytest.mark.parametrize("revision", [2, 3])
def test_from_revision_2_only_the_leaf_flag_counts(revision: int) -> None:
    same = _hierarchy(revision, core_flags=CONTAINER, package_flags=LEAF)
    # The package carries the flag, so it is the CPU (its uid), and the core is not.
    assert same.topology().cpus == (100,)
    assert shape(same.leaves()[100]) == [(1, "unified")]
    flagged = _hierarchy(revision, core_flags=LEAF, package_flags=CONTAINER)
    assert flagged.topology().cpus == (4,)


def test_the_first_leaf_node_with_the_uid_is_the_cpu() -> None:
    t = assemble(
        Cache("first", cache_id=1),
        Proc("a", uid=3, flags=LEAF, resources=("first",)),
        Cache("second", cache_id=2),
        Proc("b", uid=3, flags=LEAF, resources=("second",)),
    )
    [leaf] = t.leaves()[3]
    assert (leaf.id, leaf.fw_token) == (1, t.at["a"])


def test_a_node_whose_length_does_not_match_its_resources_is_not_a_cpu() -> None:
    # Room for two references, but it says it has one: Linux skips the node.
    bad = Proc("bad", uid=3, flags=LEAF, resources=("first", "first"), count=1)
    alone = assemble(Cache("first", cache_id=1), bad)
    assert alone.pptt.processors[0].num_private_resources == 1  # it decodes
    assert alone.leaves() == {3: []}
    assert alone.topology().level_from_id(1) is None
    # A later, well-formed node with the same uid is taken instead.
    t = assemble(
        Cache("first", cache_id=1),
        Proc("bad", uid=3, flags=LEAF, resources=("first", "first"), count=1),
        Cache("second", cache_id=2),
        Proc("good", uid=3, flags=LEAF, resources=("second",)),
    )
    [leaf] = t.leaves()[3]
    assert (leaf.id, leaf.fw_token) == (2, t.at["good"])


# --- reference loops ----------------------------------------------------------------------


def test_a_parent_loop_is_refused_not_walked_forever() -> None:
    t = assemble(
        Proc("cluster", uid=0, parent="core"),
        Cache("l1"),
        Proc("core", uid=1, parent="cluster", flags=LEAF, resources=("l1",)),
    )
    with time_limit(5), pytest.raises(TableError) as caught:
        t.topology().leaves()
    assert caught.value.signature == "PPTT"
    assert "loop" in caught.value.reason
    parent_fields = {t.at[n] + PROCESSOR_NODE.offset_of("parent") for n in ("cluster", "core")}
    assert caught.value.offset in parent_fields


@pytest.mark.parametrize("loop", ["self", "pair"])
def test_a_next_level_loop_is_refused_not_walked_forever(loop: str) -> None:
    t = assemble(
        Cache("l1", next="l1" if loop == "self" else "l2"),
        Cache("l2", next="l1"),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    with time_limit(5), pytest.raises(TableError) as caught:
        t.topology().leaves()
    assert "loop" in caught.value.reason
    next_fields = {t.at[n] + CACHE_NODE.offset_of("next_level") for n in ("l1", "l2")}
    assert caught.value.offset in next_fields


def test_references_that_lead_nowhere_end_the_walk() -> None:
    t = assemble(
        Cache("l2", cache_id=2),
        Cache("l1", next="l2", cache_id=1),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    data = bytearray(t.data)
    # Point the L1's Next Level of Cache past the end of the table, then fix the checksum.
    at = t.at["l1"] + CACHE_NODE.offset_of("next_level")
    data[at : at + 4] = (len(data) + 100).to_bytes(4, "little")
    data[9] = 0
    data[9] = (-sum(data)) & 0xFF
    leaves = CacheTopology(parse_pptt(bytes(data))).leaves()[0]
    assert [(leaf.level, leaf.id) for leaf in leaves] == [(1, 1)]


# --- the from-id helpers ------------------------------------------------------------------


def _cross_levels(uid_short: int, uid_long: int) -> Table:
    """Cache id 7 is the L2 of CPU `uid_short` and the L3 of CPU `uid_long`."""
    return assemble(
        Cache("shared", cache_id=7),
        Cache("l1a", next="shared", cache_id=10),
        Proc("short", uid=uid_short, flags=LEAF, resources=("l1a",)),
        Cache("l2b", next="shared", cache_id=12),
        Cache("l1b", next="l2b", cache_id=11),
        Proc("long", uid=uid_long, flags=LEAF, resources=("l1b",)),
    )


def test_level_from_id_takes_the_first_cpu() -> None:
    assert _cross_levels(uid_short=0, uid_long=1).topology().level_from_id(7) == 2
    assert _cross_levels(uid_short=1, uid_long=0).topology().level_from_id(7) == 3
    topo = _cross_levels(uid_short=0, uid_long=1).topology()
    assert topo.cpumask_from_id(7) == (0, 1)
    assert topo.cpumask_from_id(12) == (1,)
    assert topo.level_from_id(99) is None
    assert topo.cpumask_from_id(99) == ()


def test_level_from_id_takes_the_lowest_level_of_a_cpu() -> None:
    t = assemble(
        Cache("l3", cache_id=7),
        Cache("l2", next="l3", cache_id=7),
        Cache("l1", next="l2", cache_id=1),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
    )
    topo = t.topology()
    assert topo.level_from_id(7) == 2
    assert topo.cpumask_from_id(7) == (0,)


@pytest.mark.parametrize("revision", [1, 2])
def test_from_id_helpers_need_revision_3(revision: int) -> None:
    t = assemble(
        Cache("l1", cache_id=7),
        Proc("core", uid=0, flags=LEAF, resources=("l1",)),
        revision=revision,
    )
    topo = t.topology()
    # The id itself is read (28 bytes and the flag are enough for cacheinfo) ...
    assert [leaf.id for leaf in topo.leaves()[0]] == [7]
    # ... but find_acpi_cache_level_from_id and the cpumask helper refuse the table.
    assert topo.level_from_id(7) is None
    assert topo.cpumask_from_id(7) == ()


# --- containers ---------------------------------------------------------------------------


def _containers(package_flags: int) -> Table:
    return assemble(
        Proc("package", uid=0, flags=package_flags),
        Proc("cluster0", uid=0, parent="package"),
        Proc("cluster1", uid=1, parent="package"),
        Proc("cpu0", uid=10, parent="cluster0", flags=LEAF),
        Proc("cpu1", uid=11, parent="cluster0", flags=LEAF),
        Proc("cpu2", uid=12, parent="cluster1", flags=LEAF),
        Proc("cpu3", uid=13, parent="cluster1", flags=LEAF),
    )


def test_cpus_from_container() -> None:
    topo = _containers(CONTAINER).topology()
    assert topo.cpus == (10, 11, 12, 13)
    assert topo.cpus_from_container(1) == (12, 13)
    assert topo.cpus_from_container(0) == (10, 11, 12, 13)  # the package comes first
    assert topo.cpus_from_container(10) == ()  # a leaf is not a container
    assert topo.cpus_from_container(5) == ()


def test_a_container_needs_a_valid_processor_id() -> None:
    topo = _containers(ProcessorFlags.PHYSICAL_PACKAGE).topology()
    # The package's id is not valid, so uid 0 names the first cluster.
    assert topo.cpus_from_container(0) == (10, 11)


# --- the built tables of every preset -----------------------------------------------------


_TYPE_ORDER = {"data": 0, "instruction": 1, "unified": 2}


@pytest.mark.parametrize("name", platform.presets())
def test_preset_pptt_gives_each_cpu_its_platform_caches(name: str) -> None:
    plat = platform.load(name)
    topo = CacheTopology(parse_pptt(build_tables(plat)["PPTT.aml"]))
    leaves = topo.leaves()
    assert topo.cpus == tuple(sorted(cpu.acpi_uid for cpu in plat.cpus))
    for cpu in plat.cpus:
        expected = sorted(
            (
                (
                    cache.level,
                    cache.type,
                    inst.cache_id,
                    cache.size,
                    cache.ways,
                    cache.sets,
                    cache.line_size,
                    tuple(sorted(plat.cpus[i].acpi_uid for i in inst.cpus)),
                )
                for cache in plat.caches
                for inst in cache.instances
                if cpu.index in inst.cpus
            ),
            key=lambda e: (e[0], _TYPE_ORDER[e[1]]),
        )
        got = [
            (
                leaf.level,
                leaf.type,
                leaf.id,
                leaf.size,
                leaf.ways,
                leaf.sets,
                leaf.line_size,
                leaf.shared_cpus,
            )
            for leaf in leaves[cpu.acpi_uid]
        ]
        assert got == expected, f"{name}: CPU {cpu.acpi_uid}"
    for cache in plat.caches:
        for inst in cache.instances:
            cpus = tuple(sorted(plat.cpus[i].acpi_uid for i in inst.cpus))
            assert topo.level_from_id(inst.cache_id) == cache.level
            assert topo.cpumask_from_id(inst.cache_id) == cpus
