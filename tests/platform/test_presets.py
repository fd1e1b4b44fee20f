"""The shipped presets: each loads, and each says what its comment and the ACPI testdata say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mpam import platform
from mpam.platform import Platform
from mpam.platform.model import AccessMode, InterfaceType, Msc, ResourceKind

ACPI_TESTDATA = Path(__file__).resolve().parents[1] / "data" / "acpi"
PRESETS = ("large", "rdn2", "tiny", "two-socket")


def _expected(name: str) -> dict[str, Any]:
    path = ACPI_TESTDATA / f"{name}.expected.json"
    assert path.exists(), f"ACPI test data {path} is missing from the repository"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def rdn2() -> Platform:
    return platform.load("rdn2")


@pytest.fixture(scope="module")
def two_socket() -> Platform:
    return platform.load("two-socket")


# -- every preset ---------------------------------------------------------------------------


def test_presets_are_listed() -> None:
    assert set(PRESETS) <= set(platform.presets())
    assert platform.DEFAULT in platform.presets()


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name: str) -> None:
    p = platform.load(name)
    assert p.name == name
    assert p.description
    assert p.source == f"preset {name}"
    assert len(p.cpus) == p.topology.num_cpus
    assert p.mscs


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_from_its_file_path(name: str) -> None:
    path = Path(platform.__file__).parent / "presets" / f"{name}.toml"
    assert platform.load(path) == platform.load(name)
    assert platform.load(str(path)) == platform.load(name)


@pytest.mark.parametrize("name", PRESETS)
def test_every_cpu_has_every_cache_level_once(name: str) -> None:
    p = platform.load(name)
    for c in p.caches:
        owners = sorted(cpu for inst in c.instances for cpu in inst.cpus)
        assert owners == [cpu.index for cpu in p.cpus], c.name


@pytest.mark.parametrize("name", PRESETS)
def test_every_ris_fits_the_cpu_partid_space(name: str) -> None:
    """No preset gives an MSC more PARTIDs or PMGs than the CPUs can generate."""
    p = platform.load(name)
    for m in p.mscs:
        for r in m.ris:
            assert r.features.partid_max <= p.cpu_mpam.partid_max, m.name
            assert r.features.pmg_max <= p.cpu_mpam.pmg_max, m.name


def test_default_platform_is_rdn2() -> None:
    assert platform.load() == platform.load("rdn2")


# -- the ACPI testdata ----------------------------------------------------------------------


def _caches_of_cpu(p: Platform, cpu: int) -> list[dict[str, Any]]:
    """What Linux cacheinfo reports for `cpu`, in the testdata's form."""
    out = []
    for c in p.caches:
        for inst in c.instances:
            if cpu in inst.cpus:
                out.append(
                    {
                        "id": inst.cache_id,
                        "level": c.level,
                        "line": c.line_size,
                        "sets": c.sets,
                        "size": c.size,
                        "type": c.type,
                        "ways": c.ways,
                    }
                )
    return sorted(out, key=lambda e: (e["level"], e["type"]))


def _check_pptt(p: Platform, expected: dict[str, Any]) -> None:
    pptt = expected["pptt"]
    assert [c.acpi_uid for c in p.cpus] == pptt["cpus"]
    for cpu in p.cpus:
        want = sorted(
            pptt["caches_of_cpu"][str(cpu.acpi_uid)], key=lambda e: (e["level"], e["type"])
        )
        assert _caches_of_cpu(p, cpu.index) == want, f"CPU {cpu.index}"


def _check_interrupt(m: Msc, kind: str, want: dict[str, Any]) -> None:
    irq = m.error_interrupt if kind == "error" else m.overflow_interrupt
    if f"{kind}_gsiv" not in want:
        assert irq is None, f"{m.name}: no {kind} interrupt expected"
        return
    assert irq is not None, f"{m.name}: {kind} interrupt missing"
    assert irq.gsiv == want[f"{kind}_gsiv"], m.name
    if f"{kind}_flags" in want:
        edge = bool(want[f"{kind}_flags"] & 1)
        assert (irq.mode is AccessMode.EDGE) == edge, m.name


def _check_mpam(p: Platform, expected: dict[str, Any]) -> None:
    """Every MSC and resource field the ACPI decode gives matches the description."""
    want_mscs = expected["mpam"]["mscs"]
    assert [m.identifier for m in p.mscs] == [w["identifier"] for w in want_mscs]
    cache_ids = {c.name: [i.cache_id for i in c.instances] for c in p.caches}
    for m, want in zip(p.mscs, want_mscs, strict=True):
        assert m.interface.value == want["interface_type"], m.name
        assert m.base_address == want["base_address"], m.name
        assert m.size == want["mmio_size"], m.name
        assert m.max_nrdy_usec == want["max_nrdy_usec"], m.name
        _check_interrupt(m, "error", want)
        _check_interrupt(m, "overflow", want)
        if "linked_hid" in want:
            assert m.linked_device is not None
            assert (m.linked_device.hid, m.linked_device.uid) == (
                want["linked_hid"],
                want["linked_uid"],
            )
        else:
            assert m.linked_device is None, m.name
        assert len(m.ris) == want["num_resources"], m.name
        for r, wr in zip(m.ris, want["resources"], strict=True):
            where = f"{m.name} RIS {r.index}"
            assert r.index == wr["ris_index"], where
            assert r.identifier == wr["identifier"], where
            assert list(r.dependencies) == wr["dependencies"], where
            res = r.resource
            if wr["locator_type"] == 0:
                assert res.kind is ResourceKind.CACHE, where
                assert res.cache is not None
                assert cache_ids[res.cache][res.instance] == wr["cache_reference"], where
            elif wr["locator_type"] == 1:
                assert res.kind is ResourceKind.MEMORY, where
                assert res.node is not None
                assert p.node(res.node).proximity_domain == wr["proximity_domain"], where
            elif wr["locator_type"] == 3:
                assert res.kind is ResourceKind.MEMORY_SIDE_CACHE, where
                assert (res.level, res.reference) == (wr["level"], wr["reference"]), where
            else:
                pytest.fail(f"{where}: locator type {wr['locator_type']} not covered")


def test_rdn2_matches_acpi_testdata_mpam(rdn2: Platform) -> None:
    _check_mpam(rdn2, _expected("rdn2-like"))


def test_rdn2_matches_acpi_testdata_pptt(rdn2: Platform) -> None:
    _check_pptt(rdn2, _expected("rdn2-like"))


def test_two_socket_matches_acpi_testdata_mpam(two_socket: Platform) -> None:
    _check_mpam(two_socket, _expected("two-socket"))


def test_two_socket_matches_acpi_testdata_pptt(two_socket: Platform) -> None:
    _check_pptt(two_socket, _expected("two-socket"))


# -- rdn2 -----------------------------------------------------------------------------------


def test_rdn2_cpus_and_partids(rdn2: Platform) -> None:
    assert len(rdn2.cpus) == 16
    assert rdn2.cpu_mpam.partid_max == 63
    assert rdn2.cpu_mpam.pmg_max == 1  # 2 PMGs
    for m in rdn2.mscs:
        for r in m.ris:
            assert (r.features.partid_max, r.features.pmg_max) == (63, 1)


def test_rdn2_l3_is_the_sliced_slc(rdn2: Platform) -> None:
    l3 = rdn2.cache("L3")
    assert l3.level == 3
    assert [i.cache_id for i in l3.instances] == [49]
    assert l3.instances[0].cpus == tuple(range(16))
    assert l3.size == 8 << 20
    assert l3.ways == 16
    assert l3.slices == 8


def test_rdn2_slice_mscs(rdn2: Platform) -> None:
    slices = [m for m in rdn2.mscs if m.ris[0].resource.kind is ResourceKind.CACHE]
    assert len(slices) == 8
    assert sorted(m.ris[0].resource.slice for m in slices) == list(range(8))
    for m in slices:
        assert len(m.ris) == 1
        f = m.ris[0].features
        assert m.ris[0].resource.cache == "L3"
        assert f.cpor is not None and f.cpor.cpbm_wd == 16
        assert f.ccap is not None and f.ccap.cmax_wd > 0 and not f.ccap.no_cmax
        assert f.msmon is not None and f.msmon.csu is not None and f.msmon.csu.num_mon > 0


def test_rdn2_memory_mscs(rdn2: Platform) -> None:
    mem = [m for m in rdn2.mscs if m.ris[0].resource.kind is ResourceKind.MEMORY]
    assert len(mem) == 2
    assert sorted(m.ris[0].resource.channel for m in mem) == [0, 1]
    for m in mem:
        f = m.ris[0].features
        assert f.mbw is not None
        assert f.mbw.bwa_wd == 8
        assert f.mbw.has_max and f.mbw.has_min and f.mbw.has_pbm and f.mbw.has_prop
        assert f.msmon is not None and f.msmon.mbwu is not None
        assert f.msmon.mbwu.has_long


# -- two-socket -----------------------------------------------------------------------------


def test_two_socket_topology(two_socket: Platform) -> None:
    t = two_socket.topology
    assert (t.packages, t.clusters_per_package, t.cores_per_cluster) == (2, 4, 4)
    assert len(two_socket.cpus) == 32
    assert {c.package for c in two_socket.cpus} == {0, 1}


def test_two_socket_has_a_l3_per_package(two_socket: Platform) -> None:
    l3 = two_socket.cache("L3")
    assert l3.shared_by == "package"
    assert (l3.size, l3.ways) == (32 << 20, 16)
    assert [(i.cache_id, i.cpus) for i in l3.instances] == [
        (0, tuple(range(16))),
        (1, tuple(range(16, 32))),
    ]
    l3_mscs = [
        m
        for m in two_socket.mscs
        if m.ris[0].resource.kind is ResourceKind.CACHE and m.ris[0].resource.cache == "L3"
    ]
    assert sorted(m.ris[0].resource.instance for m in l3_mscs) == [0, 1]
    for m in l3_mscs:
        f = m.ris[0].features
        assert f.cpor is not None and f.cpor.cpbm_wd == 16
        assert f.ccap is not None and f.ccap.has_cmin and f.ccap.has_cassoc
        assert f.ccap.has_cmax_softlim
        assert f.msmon is not None and f.msmon.csu is not None
        assert f.msmon.csu.has_xcl and f.msmon.csu.has_capture
        assert m.overflow_interrupt is not None and m.overflow_interrupt.mode is AccessMode.EDGE
    assert [m.intpartid_max for m in l3_mscs].count(None) == 1  # one of them narrows


def test_two_socket_l2_mscs_have_two_ris(two_socket: Platform) -> None:
    l2 = two_socket.cache("L2")
    assert [i.cache_id for i in l2.instances] == [512, 513, 514, 515, 528, 529, 530, 531]
    l2_mscs = [m for m in two_socket.mscs if len(m.ris) == 2]
    assert len(l2_mscs) == 8
    for m in l2_mscs:
        assert m.has_ris and m.has_extd_esr
        cache, msc_ = m.ris
        assert (cache.index, msc_.index) == (0, 1)
        assert cache.resource.kind is ResourceKind.CACHE and cache.resource.cache == "L2"
        assert msc_.resource.kind is ResourceKind.MEMORY_SIDE_CACHE
        assert msc_.resource.level == 2
        assert msc_.resource.reference == l2.instances[cache.resource.instance].cache_id
        assert cache.features.cpor is not None and cache.features.mbw is None
        assert msc_.features.mbw is not None and msc_.features.cpor is None
        assert cache.features != msc_.features


def test_two_socket_numa(two_socket: Platform) -> None:
    assert [(n.node, n.proximity_domain, n.cpus) for n in two_socket.numa] == [
        (0, 0, tuple(range(16))),
        (1, 1, tuple(range(16, 32))),
    ]


def test_two_socket_has_exactly_one_pcc_msc(two_socket: Platform) -> None:
    pcc = [m for m in two_socket.mscs if m.interface is InterfaceType.PCC]
    assert len(pcc) == 1
    m = pcc[0]
    assert m.identifier == 21
    assert m.base_address == 3  # the PCC subspace
    assert m.pcc_latency_usec > 0
    assert m.max_nrdy_usec == 2000
    assert m.linked_device is not None and m.linked_device.hid == "ARMHM001"
    assert m.ris[0].resource.node == 1
    assert m.ris[0].dependencies == (8193,)


def test_two_socket_memory_counters(two_socket: Platform) -> None:
    mem = [m for m in two_socket.mscs if m.ris[0].resource.kind is ResourceKind.MEMORY]
    assert len(mem) == 2
    for m in mem:
        f = m.ris[0].features
        assert f.mbw is not None
        assert f.mbw.has_max and f.mbw.has_min and f.mbw.has_pbm and f.mbw.has_prop
        assert f.msmon is not None and f.msmon.mbwu is not None
        assert f.msmon.mbwu.has_long and f.msmon.mbwu.lwd  # 63-bit


# -- tiny and large -------------------------------------------------------------------------


def test_tiny_is_tiny() -> None:
    p = platform.load("tiny")
    assert len(p.cpus) == 4
    assert (p.cpu_mpam.partid_max, p.cpu_mpam.pmg_max) == (15, 1)
    assert len(p.numa) == 1 and p.numa[0].channels == 1
    assert [c.name for c in p.caches] == ["L1D", "L1I", "L2", "L3"]
    assert len(p.cache("L3").instances) == 1
    assert len(p.mscs) == 2
    l3, mem = p.mscs
    assert l3.ris[0].features.cpor is not None and l3.ris[0].features.cpor.cpbm_wd == 16
    mon = mem.ris[0].features.msmon
    assert mon is not None and mon.mbwu is not None
    assert not mon.mbwu.has_long and mon.mbwu.scale == 0  # the plain 31-bit counter


def test_large_is_large() -> None:
    p = platform.load("large")
    assert len(p.cpus) >= 192
    assert len(p.mscs) >= 200
    l3 = p.cache("L3")
    controlled = sorted(
        (m.ris[0].resource.instance, m.ris[0].resource.slice)
        for m in p.mscs
        if m.ris[0].resource.cache == "L3"
    )
    assert controlled == [(i, s) for i in range(len(l3.instances)) for s in range(l3.slices)]
