"""What Linux's cacheinfo and its PPTT helpers derive from a PPTT, rule for rule.

The MPAM driver needs two answers from the PPTT: the level of the cache a processor-cache
locator names (``find_acpi_cache_level_from_id``) and the CPUs behind it
(``acpi_pptt_get_cpumask_from_cache_id``); ``/sys/devices/system/cpu/cpuN/cache`` needs the
per-CPU leaves. Both follow drivers/acpi/pptt.c and drivers/base/cacheinfo.c (read for
behaviour, v6.19 with the MPAM series):

- a CPU's node is the first processor node with its ACPI processor id that is a leaf (the
  Leaf flag from revision 2, "no node names it as parent" before) and whose length matches
  its private resource count;
- levels are counted up the parent chain: each node's private caches, following Next Level
  of Cache, are numbered on from the deepest level found below it, with no de-duplication;
- a data or instruction query matches only that type; a unified query matches both unified
  encodings; a cache without the Cache Type valid flag takes a level but never matches;
- each property is taken only when its valid flag is set; the cache id needs the Cache ID
  valid flag and a 28-byte structure;
- two CPUs share a leaf when both have ids and the ids are equal, else when the leaf was found
  at the same processor node;
- references that lead nowhere (0, out of the table, zero length) end a walk, as Linux's
  ``fetch_pptt_subtable`` makes them. A reference loop, on which Linux would spin forever,
  is refused with `TableError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from mpam.firmware.layout import Layout, TableError
from mpam.firmware.pptt import (
    CACHE_NODE,
    PROCESSOR_NODE,
    CacheFlags,
    CacheNode,
    OtherNode,
    Pptt,
    ProcessorFlags,
    ProcessorNode,
)

__all__ = ["CacheLeaf", "CacheTopology", "acpi_cpus"]

SIGNATURE = "PPTT"

# Query encodings of Attributes bits [3:2].
_QUERY = {"data": 0x0, "instruction": 0x4, "unified": 0x8}


@dataclass(frozen=True)
class CacheLeaf:
    """One cache as cacheinfo reports it for one CPU (``/sys/.../cache/indexN``)."""

    level: int
    type: str  # "data", "instruction" or "unified"
    id: int | None  # None when the PPTT gives no valid cache id
    size: int
    ways: int
    sets: int
    line_size: int
    write_through: bool
    fw_token: int  # offset of the processor node the cache was found at
    shared_cpus: tuple[int, ...]  # ACPI processor ids of the CPUs that share it


def _fetch(pptt: Pptt, ref: int) -> ProcessorNode | CacheNode | OtherNode | None:
    """Linux's fetch_pptt_subtable: None for references that lead nowhere.

    A reference into the middle of a structure is also None here: Linux would reinterpret
    whatever bytes are there, which no well-formed table relies on.
    """
    if ref < 2 or ref + 2 > pptt.header.length:
        return None
    return pptt.at(ref)


def _is_leaf(pptt: Pptt, node: ProcessorNode) -> bool:
    if pptt.header.revision > 1:
        return node.has(ProcessorFlags.LEAF)
    return node.offset not in pptt.parents


def acpi_cpus(pptt: Pptt) -> tuple[int, ...]:
    """ACPI processor ids of the leaf processor nodes, in ascending order: the CPUs the
    table describes (Linux takes the list from the MADT and looks each one up)."""
    return tuple(sorted({n.acpi_processor_id for n in pptt.processors if _is_leaf(pptt, n)}))


def _cpu_node(pptt: Pptt, uid: int) -> ProcessorNode | None:
    for node in pptt.processors:
        if (
            node.acpi_processor_id == uid
            and node.length == PROCESSOR_NODE.size + 4 * node.num_private_resources
            and _is_leaf(pptt, node)
        ):
            return node
    return None


_Node = TypeVar("_Node", ProcessorNode, CacheNode)


def _follow(pptt: Pptt, first: _Node, key: str, layout: Layout, what: str) -> list[_Node]:
    """`first` and the structures of its type its reference `key` leads to, one by one.

    Linux takes whatever the reference points at; only structures of the same type are
    followed here, so a reference to another type ends the walk, as an invalid one does.
    """
    found = [first]
    seen = {first.offset}
    node = first
    while True:
        nxt = _fetch(pptt, getattr(node, key))
        if type(nxt) is not type(first):
            return found
        assert isinstance(nxt, (ProcessorNode, CacheNode))
        if nxt.offset in seen:
            raise TableError(
                SIGNATURE,
                node.offset + layout.offset_of(key),
                f"{what} references form a loop through 0x{nxt.offset:X}",
            )
        seen.add(nxt.offset)
        found.append(nxt)
        node = nxt


def _path(pptt: Pptt, leaf: ProcessorNode) -> list[ProcessorNode]:
    """The leaf and its ancestors, nearest first."""
    return _follow(pptt, leaf, "parent", PROCESSOR_NODE, "processor node parent")


def _chain(pptt: Pptt, first: CacheNode) -> list[CacheNode]:
    """A private cache and the caches its Next Level of Cache chain leads to."""
    return _follow(pptt, first, "next_level", CACHE_NODE, "Next Level of Cache")


def _private_chains(pptt: Pptt, node: ProcessorNode) -> list[list[CacheNode]]:
    chains = []
    for ref in node.private_resources:
        res = _fetch(pptt, ref)
        if res is None:
            break  # Linux stops at the first resource it cannot fetch
        if isinstance(res, CacheNode):
            chains.append(_chain(pptt, res))
    return chains


def _matches(cache: CacheNode, query: str) -> bool:
    if not cache.has(CacheFlags.TYPE):
        return False
    bits = cache.attributes & 0x0C
    q = _QUERY[query]
    return bits == q or bool(bits & 0x08 & q)


def _walk(pptt: Pptt, leaf: ProcessorNode) -> list[tuple[int, ProcessorNode, CacheNode]]:
    """Every (level, node, cache) on the CPU's path, levels numbered as Linux counts them."""
    found = []
    start = 0
    for node in _path(pptt, leaf):
        deepest = start
        for chain in _private_chains(pptt, node):
            for depth, cache in enumerate(chain, start + 1):
                found.append((depth, node, cache))
            deepest = max(deepest, start + len(chain))
        start = deepest
    return found


def _find(
    walk: list[tuple[int, ProcessorNode, CacheNode]], level: int, query: str
) -> tuple[ProcessorNode, CacheNode] | None:
    """acpi_find_cache_node: the first node up the path with a match; the last match there."""
    hit: tuple[ProcessorNode, CacheNode] | None = None
    for depth, node, cache in walk:
        if hit is not None and node is not hit[0]:
            break
        if depth == level and _matches(cache, query):
            hit = (node, cache)
    return hit


def _cache_id(cache: CacheNode) -> int | None:
    if cache.cache_id is None or not cache.has(CacheFlags.CACHE_ID):
        return None
    return cache.cache_id


def _levels(walk: list[tuple[int, ProcessorNode, CacheNode]]) -> int:
    return max((depth for depth, _, _ in walk), default=0)


@dataclass(frozen=True)
class _Found:
    level: int
    type: str
    node: ProcessorNode
    cache: CacheNode


class CacheTopology:
    """The PPTT seen from each CPU: every walk is done once, then answered from memory."""

    def __init__(self, pptt: Pptt, cpus: tuple[int, ...] | None = None) -> None:
        self.pptt = pptt
        self.cpus = acpi_cpus(pptt) if cpus is None else cpus
        self._walks: dict[int, list[tuple[int, ProcessorNode, CacheNode]]] = {}
        for uid in self.cpus:
            leaf = _cpu_node(pptt, uid)
            if leaf is not None:
                self._walks[uid] = _walk(pptt, leaf)
        self._by_id: dict[int, list[tuple[int, int]]] | None = None

    def _found(self, uid: int) -> list[_Found]:
        walk = self._walks.get(uid, [])
        out: list[_Found] = []
        for level in range(1, _levels(walk) + 1):
            hits = [(t, _find(walk, level, t)) for t in ("data", "instruction")]
            if not any(h for _, h in hits):
                hits = [("unified", _find(walk, level, "unified"))]
            out.extend(_Found(level, t, h[0], h[1]) for t, h in hits if h is not None)
        return out

    def leaves(self) -> dict[int, list[CacheLeaf]]:
        """Each CPU's caches (keyed by ACPI processor id), data before instruction at a split
        level, as cacheinfo reports them."""
        found = {uid: self._found(uid) for uid in self.cpus}
        # Sharing (cache_leaves_are_shared), per level and type: equal ids when both leaves
        # have one, else the same processor node.
        by_id: dict[tuple[int, str, int], set[int]] = {}
        by_token: dict[tuple[int, str, int], set[int]] = {}
        by_token_no_id: dict[tuple[int, str, int], set[int]] = {}
        for uid, fs in found.items():
            for f in fs:
                cid, token = _cache_id(f.cache), (f.level, f.type, f.node.offset)
                by_token.setdefault(token, set()).add(uid)
                if cid is None:
                    by_token_no_id.setdefault(token, set()).add(uid)
                else:
                    by_id.setdefault((f.level, f.type, cid), set()).add(uid)
        out: dict[int, list[CacheLeaf]] = {}
        for uid, fs in found.items():
            out[uid] = []
            for f in fs:
                c = f.cache
                cid, token = _cache_id(c), (f.level, f.type, f.node.offset)
                if cid is None:
                    sharers = by_token[token]
                else:
                    sharers = by_id[f.level, f.type, cid] | by_token_no_id.get(token, set())
                out[uid].append(
                    CacheLeaf(
                        level=f.level,
                        type=f.type,
                        id=cid,
                        size=c.size if c.has(CacheFlags.SIZE) else 0,
                        ways=c.associativity if c.has(CacheFlags.ASSOCIATIVITY) else 0,
                        sets=c.number_of_sets if c.has(CacheFlags.SETS) else 0,
                        line_size=c.line_size if c.has(CacheFlags.LINE_SIZE) else 0,
                        write_through=c.has(CacheFlags.WRITE_POLICY) and c.write_through,
                        fw_token=f.node.offset,
                        shared_cpus=tuple(sorted(sharers | {uid})),
                    )
                )
        return out

    def _id_matches(self, cache_id: int) -> list[tuple[int, int]]:
        """(ACPI processor id, level) of every CPU and level whose cache has `cache_id`, in
        the order Linux's from-id helpers search: CPU, then level, then instruction, data,
        unified; each CPU's search ends at its first level with no cache at all."""
        if self.pptt.header.revision < 3:
            return []
        if self._by_id is None:
            self._by_id = self._index_ids()
        return self._by_id.get(cache_id, [])

    def _index_ids(self) -> dict[int, list[tuple[int, int]]]:
        """Every id's matches, from one search of each CPU (a driver asks for each MSC)."""
        index: dict[int, list[tuple[int, int]]] = {}
        for uid in self.cpus:
            walk = self._walks.get(uid)
            if walk is None:
                continue
            level = 1
            while True:
                found = [_find(walk, level, t) for t in ("instruction", "data", "unified")]
                if not any(found):
                    break
                ids = {_cache_id(f[1]) for f in found if f is not None}
                for cid in ids:
                    if cid is not None:
                        index.setdefault(cid, []).append((uid, level))
                level += 1
        return index

    def level_from_id(self, cache_id: int) -> int | None:
        """find_acpi_cache_level_from_id: the level of the cache with this id (first CPU,
        lowest level first), or None (Linux: -ENOENT) when no cache has it or the PPTT
        predates revision 3."""
        hits = self._id_matches(cache_id)
        return hits[0][1] if hits else None

    def cpumask_from_id(self, cache_id: int) -> tuple[int, ...]:
        """acpi_pptt_get_cpumask_from_cache_id: the CPUs (ACPI processor ids) whose caches
        include the one with this id; empty when none do."""
        return tuple(sorted({uid for uid, _ in self._id_matches(cache_id)}))

    def topology_ids(self, uid: int) -> tuple[int, int, int, int]:
        """(package, cluster, core, thread) of a CPU as arm64's parse_acpi_topology takes
        them (drivers/acpi/pptt.c find_acpi_cpu_topology, _cluster, _package): a node's
        ACPI processor id when flagged valid, else its offset in the table; a thread's core
        is its parent; the cluster is the core's parent; thread -1 on an unthreaded CPU.
        (-1, -1, -1, -1) when the table has no such CPU."""
        pptt = self.pptt
        leaf = _cpu_node(pptt, uid)
        if leaf is None:
            return (-1, -1, -1, -1)
        path = _path(pptt, leaf)

        def node_id(n: ProcessorNode) -> int:
            return n.acpi_processor_id if n.has(ProcessorFlags.ID_VALID) else n.offset

        threaded = leaf.has(ProcessorFlags.THREAD)
        core = path[1] if threaded and len(path) > 1 else leaf
        thread = node_id(leaf) if threaded else -1
        at = path.index(core)
        cluster = path[at + 1] if at + 1 < len(path) else core
        package = next((n for n in path if n.has(ProcessorFlags.PHYSICAL_PACKAGE)), path[-1])
        return node_id(package), node_id(cluster), node_id(core), thread

    def cpus_from_container(self, uid: int) -> tuple[int, ...]:
        """acpi_pptt_get_cpus_from_container: the CPUs below the first non-leaf processor node
        with a valid ACPI processor id equal to `uid`; empty when there is none."""
        pptt = self.pptt
        container = next(
            (
                n
                for n in pptt.processors
                if n.has(ProcessorFlags.ID_VALID)
                and not _is_leaf(pptt, n)
                and n.acpi_processor_id == uid
            ),
            None,
        )
        if container is None:
            return ()
        return tuple(
            cpu
            for cpu in self.cpus
            if (leaf := _cpu_node(pptt, cpu)) is not None
            and any(n.offset == container.offset for n in _path(pptt, leaf))
        )
