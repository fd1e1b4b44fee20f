"""resctrl domains follow CPU hotplug on two-socket (two L3s, CPUs 0-15 and 16-31; eight
L2s of four CPUs): the last CPU of a domain going offline takes it out of schemata, size,
bit_usage and mon_data, and the first one back brings it back with the configuration the
MPAM driver kept for its component (drivers/resctrl/mpam_resctrl.c and fs/resctrl, read
for behaviour)."""

from __future__ import annotations

import errno
from importlib import resources

import pytest

from mpam.hw.msc import Msc
from mpam.machine import Machine
from mpam.platform import from_toml_text
from mpam.resctrl import EventId, ResourceId
from mpam.resctrl.mon_worker import MonWorker
from mpam.resctrl.monitor import MbmCounters
from mpam.resctrl.rdtgroup import GroupKind, RdtGroup
from mpam.resctrl.status import LastCmdStatus

PACKAGE1 = range(16, 32)


def _preset(name: str) -> str:
    return (resources.files("mpam.platform") / "presets" / f"{name}.toml").read_text()


@pytest.fixture
def m() -> Machine:
    m = Machine("two-socket").boot()
    assert m.resctrl is not None and m.resctrl.mount("debug") == 0
    return m


def _fs(m: Machine):  # type: ignore[no-untyped-def]
    assert m.resctrl is not None
    return m.resctrl


def _res(m: Machine, rid: ResourceId):  # type: ignore[no-untyped-def]
    assert m.resctrl_arch is not None
    return next(r for r in m.resctrl_arch.resources() if r.rid is rid)


def _offline(m: Machine, cpus: range) -> None:
    for cpu in cpus:
        assert m.cpu_down(cpu) == 0


def _cpbm(m: Machine, msc_name: str, partid: int) -> int:
    """The CPBM word the MSC holds for request PARTID `partid` (read from the model, so no
    register access is made)."""
    msc = m.hw.msc(msc_name)
    assert isinstance(msc, Msc)
    return int(msc.ris[0].cfg["MPAMCFG_CPBM"][msc.settings_row(partid), 0])


def test_offline_package_leaves_schemata_size_bit_usage_and_mon_data(m: Machine) -> None:
    """mpam_resctrl_offline_cpu: the last CPU of L3 1 (and of L2s 528-531) takes those
    domains off the resource's list; rdtgroup_schemata_show, rdtgroup_size_show and
    rdt_bit_usage_show walk r->ctrl_domains, mon_data follows r->mon_domains
    (resctrl_offline_mon_domain: rmdir_mondata_subdir_allrdtgrp)."""
    fs = _fs(m)
    assert fs.mkdir("g") == 0
    _offline(m, PACKAGE1)
    l2 = "    L2:512=ff;513=ff;514=ff;515=ff\n"
    assert fs.read("schemata") == l2 + "    L3:0=ffff\n"
    assert fs.read("g/schemata") == l2 + "    L3:0=ffff\n"
    assert fs.read("size") == (
        "    L2:512=2097152;513=2097152;514=2097152;515=2097152\n    L3:0=33554432\n"
    )
    assert fs.read("info/L3/bit_usage") == "0=XXXXXXXXXXXXXXXX\n"
    assert fs.read("info/L2/bit_usage") == "512=XXXXXXXX;513=XXXXXXXX;514=XXXXXXXX;515=XXXXXXXX\n"
    l3 = _res(m, ResourceId.L3)
    assert [(d.id, sorted(d.cpus)) for d in l3.ctrl_domains] == [(0, list(range(16)))]
    assert [(d.id, sorted(d.cpus)) for d in l3.mon_domains] == [(0, list(range(16)))]
    assert fs.listdir("mon_data") == ["mon_L3_00"]
    assert fs.listdir("g/mon_data") == ["mon_L3_00"]
    assert fs.read("info/L3_MON/num_mbm_cntrs") == "0=16\n"


def test_a_write_naming_an_offline_domain_is_an_unknown_domain(m: Machine) -> None:
    """fs/resctrl/ctrlmondata.c parse_line: a domain id not on r->ctrl_domains fails the
    write with -EINVAL and no message (last_cmd_status says ok), and the write is all or
    nothing: domain 0, named first, is not changed either."""
    fs = _fs(m)
    assert fs.mkdir("g") == 0
    _offline(m, PACKAGE1)
    for text in ("L3:1=f\n", "L3:0=f;1=f\n", "L2:528=3\n"):
        assert fs.write("g/schemata", text) == -errno.EINVAL
        assert fs.read("info/last_cmd_status") == "ok\n"
    assert fs.read("g/schemata") == "    L2:512=ff;513=ff;514=ff;515=ff\n    L3:0=ffff\n"
    assert fs.write("g/schemata", "L3:0=f\n") == len("L3:0=f\n")


def test_a_returning_domain_has_its_previous_configuration(m: Machine) -> None:
    """mpam_resctrl_online_cpu -> mpam_resctrl_alloc_domain: the first CPU back creates the
    domain again, and resctrl_arch_get_config reads the component's configuration, which
    the driver keeps (nothing in mpam_resctrl_offline_cpu resets it). So the CLOSID's
    previous values return, not defaults, and the registers agree: two-socket's MSCs are
    reachable from every CPU, so they stay powered and programmed while the package is
    offline (an MSC private to the CPUs that went would be reset by mpam_cpu_offline and
    rewritten by mpam_reprogram_msc, tests/driver/test_hotplug.py)."""
    fs = _fs(m)
    assert fs.mkdir("g") == 0
    closid = int(fs.read("g/ctrl_hw_id"))
    assert fs.write("g/schemata", "L3:1=f0\nL2:529=3\n") > 0
    assert (_cpbm(m, "l3-p1", closid), _cpbm(m, "l2-p1c1", closid)) == (0xF0, 0x3)
    _offline(m, PACKAGE1)
    assert (_cpbm(m, "l3-p1", closid), _cpbm(m, "l2-p1c1", closid)) == (0xF0, 0x3)

    assert m.cpu_up(20) == 0  # L3 1 and L2 529 (CPUs 20-23) come back; 528, 530, 531 do not
    assert fs.read("g/schemata") == (
        "    L2:512=ff;513=ff;514=ff;515=ff;529=3\n    L3:0=ffff;1=f0\n"
    )
    assert (
        fs.read("schemata") == "    L2:512=ff;513=ff;514=ff;515=ff;529=ff\n    L3:0=ffff;1=ffff\n"
    )
    assert (_cpbm(m, "l3-p1", closid), _cpbm(m, "l2-p1c1", closid)) == (0xF0, 0x3)
    l3 = _res(m, ResourceId.L3)
    assert [(d.id, sorted(d.cpus)) for d in l3.ctrl_domains] == [(0, list(range(16))), (1, [20])]
    assert [d.id for d in l3.mon_domains] == [0, 1]
    assert fs.listdir("mon_data") == ["mon_L3_00", "mon_L3_01"]
    assert m.cpu_up(21) == 0
    assert sorted(l3.ctrl_domains[1].cpus) == [20, 21]  # mpam_resctrl_online_domain_hdr
    # The domain takes writes again, and they reach its MSC.
    assert fs.write("g/schemata", "L3:1=ff00\n") > 0
    assert _cpbm(m, "l3-p1", closid) == 0xFF00


def test_mb_domains_follow_hotplug_too() -> None:
    """The same for MB (mpam_resctrl_pick_mba picks the L3 when its MSCs also limit
    bandwidth; its domains take the L3 ids): MB 1 leaves with package 1 and comes back
    with its percentage (resctrl_arch_get_config: mbw_max_to_percent of the kept
    configuration)."""
    text = _preset("two-socket").replace(
        "[features.l3]\n", "[features.l3]\nmbw = { bwa_wd = 8, has_max = true }\n"
    )
    m = Machine(from_toml_text(text)).boot()
    fs = _fs(m)
    assert fs.mount("") == 0 and fs.mkdir("g") == 0
    assert fs.write("g/schemata", "MB:1=40\n") > 0
    assert fs.read("g/schemata").startswith("    MB:0=100;1=40\n")
    _offline(m, PACKAGE1)
    assert fs.read("g/schemata").startswith("    MB:0=100\n")
    assert fs.write("g/schemata", "MB:1=50\n") == -errno.EINVAL
    assert fs.read("info/last_cmd_status") == "ok\n"
    assert m.cpu_up(31) == 0
    assert fs.read("g/schemata").startswith("    MB:0=100;1=40\n")
    assert [d.id for d in _res(m, ResourceId.MBA).ctrl_domains] == [0, 1]


def test_resctrl_online_cpu_comes_after_the_domains(m: Machine) -> None:
    """mpam_resctrl_online_cpu calls resctrl_online_cpu once every resource has its
    domain; mpam_resctrl_offline_cpu calls resctrl_offline_cpu first. The default group
    holds exactly the online CPUs either way."""
    fs = _fs(m)
    _offline(m, PACKAGE1)
    assert fs.read("cpus_list") == "0-15\n"
    assert m.cpu_up(16) == 0
    assert fs.read("cpus_list") == "0-16\n"
    assert [d.id for d in _res(m, ResourceId.L2).ctrl_domains] == [512, 513, 514, 515, 528]


def test_counters_of_a_domain_go_with_it() -> None:
    """domain_destroy_l3_mon_state frees a domain's counter configurations;
    domain_setup_l3_mon_state allocates them zeroed: a domain that comes back has every
    counter free, and no group holds one there (MbmCounters.domain_offline /
    domain_online, which resctrl_offline_mon_domain / resctrl_online_mon_domain call)."""
    m = Machine("two-socket").boot()
    l3 = _res(m, ResourceId.L3)
    assert m.resctrl_arch is not None
    c = MbmCounters(m.resctrl_arch, l3, LastCmdStatus())
    d0, d1 = l3.mon_domains
    g = RdtGroup("g", GroupKind.CTRL_MON, 1, 0)
    for d in (d0, d1):
        assert c.assign(d, g, EventId.MBM_TOTAL_BYTES) == 0
    assert (c.available(d0), c.available(d1)) == (15, 15)
    c.domain_offline(d1)
    assert c.get(d1, g, EventId.MBM_TOTAL_BYTES) == -1 and c.available(d1) == 0
    c.domain_online(d1)
    assert c.get(d1, g, EventId.MBM_TOTAL_BYTES) == -1 and c.available(d1) == 16
    assert c.get(d0, g, EventId.MBM_TOTAL_BYTES) == 0  # the other domain keeps its own
    assert c.read(d1, g, EventId.MBM_TOTAL_BYTES)[0] == -errno.ENOENT  # Unassigned


def test_a_domain_going_offline_frees_the_rmids_busy_only_there(m: Machine) -> None:
    """resctrl_offline_mon_domain -> __check_limbo(d, true): an RMID still dirty in the
    domain is no longer busy there, whatever it reads, and one busy nowhere else leaves
    limbo (MonWorker.domain_offline, which resctrl_offline_mon_domain calls)."""
    fs = _fs(m)
    assert fs.mkdir("g") == 0 and fs.rmdir("g") == 0
    l3 = _res(m, ResourceId.L3)
    d0, d1 = l3.mon_domains
    (idx,) = fs.rmids.limbo
    assert fs.rmids.limbo[idx] == {0, 1}
    worker = MonWorker(fs)
    worker.domain_offline(l3, d1)
    assert fs.rmids.limbo == {idx: {0}}
    worker.domain_offline(l3, d0)
    assert fs.rmids.limbo == {} and idx in fs.rmids.free


def test_limbo_and_counters_follow_hotplug_through_the_filesystem(m: Machine) -> None:
    """resctrl_offline_mon_domain and resctrl_online_mon_domain, end to end: a package
    going offline frees the RMIDs dirty only in its L3 and its counters; back, its
    counters are all free and the groups show `_` there (mbm_L3_assignments)."""
    fs = _fs(m)
    assert fs.mkdir("g") == 0 and fs.mkdir("h") == 0 and fs.rmdir("h") == 0
    (idx,) = fs.rmids.limbo
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "0=14;1=14\n"
    _offline(m, PACKAGE1)
    assert fs.rmids.limbo == {idx: {0}}
    assert m.cpu_up(16) == 0
    assert fs.read("info/L3_MON/available_mbm_cntrs") == "0=14;1=16\n"
    assert fs.read("g/mbm_L3_assignments") == "mbm_total_bytes:0=e;1=_\n"
    assert fs.read("g/mon_data/mon_L3_01/mbm_total_bytes") == "Unassigned\n"
    _offline(m, range(16))
    assert fs.rmids.limbo == {} and idx in fs.rmids.free
