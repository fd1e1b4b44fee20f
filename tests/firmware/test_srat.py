"""The SRAT: built for every preset, parsed back into the NUMA map Linux derives, and never
crashing on corrupt bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpam.firmware import (
    TableError,
    build_srat,
    disassemble_srat,
    numa_map,
    parse_srat,
    srat_to_dict,
)
from mpam.firmware.srat import GiccAffinity, MemoryAffinity
from mpam.platform import load, presets


@pytest.mark.parametrize("name", presets())
def test_srat_gives_back_the_numa_layout(name: str) -> None:
    platform = load(name)
    srat = parse_srat(build_srat(platform))
    numa = numa_map(srat)
    assert numa.pxm_to_node == {n.proximity_domain: n.node for n in platform.numa}
    assert numa.cpu_to_node == {c.acpi_uid: n.node for n in platform.numa for c in
                                (platform.cpus[i] for i in n.cpus)}  # fmt: skip
    memory = [e for e in srat.entries if isinstance(e, MemoryAffinity)]
    assert [m.address_length for m in memory] == [n.memory_size for n in platform.numa]
    assert all(
        a.base_address + a.address_length == b.base_address for a, b in itertools.pairwise(memory)
    )
    assert sum(isinstance(e, GiccAffinity) for e in srat.entries) == len(platform.cpus)


def test_nodes_are_numbered_in_order_of_appearance() -> None:
    """Linux gives node numbers to proximity domains as it meets them, GICC entries first:
    the domain numbers themselves do not matter."""
    data = bytearray(build_srat(load("two-socket")))
    srat = parse_srat(bytes(data))
    first = srat.entries[0]
    assert isinstance(first, GiccAffinity)
    at = first.offset + 2  # CPU 0's proximity domain: make it 1, so PXM 1 is met first
    data[at : at + 4] = (1).to_bytes(4, "little")
    data[9] = 0
    data[9] = -sum(data) & 0xFF
    numa = numa_map(parse_srat(bytes(data)))
    assert numa.pxm_to_node == {1: 0, 0: 1}
    assert numa.cpu_to_node[0] == 0 and numa.cpu_to_node[1] == 1 and numa.cpu_to_node[16] == 0


def test_decode_lists_the_nodes() -> None:
    data = build_srat(load("two-socket"))
    text = disassemble_srat(parse_srat(data), data)
    assert "Subtable Type : 03 [GICC Affinity]" in text
    assert " *   PXM 1 -> node 1; CPUs 16-31" in text
    assert srat_to_dict(parse_srat(data))["pxm_to_node"] == {"0": 0, "1": 1}


_SEED = build_srat(load("two-socket"))


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255)), max_size=4),
       st.integers(0, len(_SEED)), st.booleans())  # fmt: skip
def test_corrupt_srat_is_decoded_or_refused(
    edits: list[tuple[int, int]], cut: int, fix: bool
) -> None:
    data = bytearray(_SEED[:cut] if cut > 36 else _SEED)
    for at, value in edits:
        if at < len(data):
            data[at] = value
    if fix and len(data) >= 36:
        data[4:8] = len(data).to_bytes(4, "little")
        data[9] = 0
        data[9] = -sum(data) & 0xFF
    try:
        srat = parse_srat(bytes(data))
    except TableError as e:
        assert 0 <= e.offset <= len(data)
        return
    assert all(e.offset < srat.header.length for e in srat.entries)
    disassemble_srat(srat, bytes(data))
    numa_map(srat)
