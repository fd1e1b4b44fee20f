"""An MSC error takes resctrl down with MPAM (drivers/resctrl/mpam_devices.c mpam_disable,
drivers/resctrl/mpam_resctrl.c and fs/resctrl/rdtgroup.c resctrl_exit, read for
behaviour): every domain goes offline before resctrl_exit, and from the static key's
disabling on, nothing resctrl asks of the arch touches an MSC register."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from mpam.hw.msc import ErrorCode, Msc
from mpam.hw.pcc import PccMsc
from mpam.machine import Machine
from mpam.resctrl import CdpType, EventId, ResourceId


def _msc(m: Machine, name: str) -> Msc:
    device = m.hw.msc(name)
    return device.msc if isinstance(device, PccMsc) else device


def _snapshot(m: Machine) -> dict[tuple[str, int, str], np.ndarray]:
    """Every MSC's per-PARTID settings, as the registers hold them."""
    out = {}
    for device in m.hw.mscs:
        msc = device.msc if isinstance(device, PccMsc) else device
        for idx, rs in msc.ris.items():
            for name, arr in rs.cfg.items():
                out[(msc.desc.name, idx, name)] = arr.copy()
    return out


def _error(m: Machine) -> None:
    """An out-of-range PARTID seen by package 0's L3 MSC: its error interrupt."""
    _msc(m, "l3-p0").inject_error(ErrorCode.REQ_PARTID_RANGE, partid_mon=70)
    m.service()


@pytest.fixture
def m() -> Machine:
    m = Machine("two-socket").boot()
    assert m.resctrl is not None and m.resctrl.mount("") == 0
    assert m.resctrl.mkdir("g") == 0
    assert m.resctrl.write("g/schemata", "L3:0=f;1=f0\n") > 0
    return m


def test_every_domain_is_offline_when_resctrl_exit_runs(m: Machine) -> None:
    """mpam_disable: static_branch_disable first; cpuhp_remove_state then runs
    mpam_cpu_offline on every CPU, which (mpam_resctrl_enabled still set) calls
    mpam_resctrl_offline_cpu and takes every domain offline; only then
    mpam_resctrl_exit -> resctrl_exit, which warns if a domain is still online
    (resctrl_online_domains_exist). It runs once, and the classes are let go after."""
    arch = m.resctrl_arch
    assert arch is not None
    seen: list[tuple[bool, bool, list[int]]] = []

    def at_exit() -> None:
        domains = [len(r.ctrl_domains) + len(r.mon_domains) for r in arch.resources()]
        seen.append((m.driver.enabled, m.kernel.scheduler.mpam_enabled, domains))

    m.driver.on_resctrl_exit.insert(0, at_exit)
    _error(m)
    assert seen == [(False, False, [0, 0, 0, 0])]
    assert arch.fs is None  # resctrl_exit was called: the filesystem is unregistered
    assert not m.driver.resctrl_enabled and m.driver.cpuhp_state == 0
    assert "mpam:mpam_disable: MPAM disabled due to hardware error interrupt" in m.dmesg()
    # mpam_resctrl_teardown_class: no resource or event keeps a class.
    assert not arch._classes and arch._mon_class is None and arch._mbm_class is None
    # A second disable (mpam_broken_work queued twice) does not exit resctrl again.
    m.driver.disable()
    assert len(seen) == 1


def test_nothing_programs_the_mscs_after_the_disable(m: Machine) -> None:
    """After mpam_disable, writes through the filesystem are refused, and the arch calls
    that could reach an MSC check mpam_is_enabled() first: resctrl_arch_update_one
    -EINVAL, resctrl_arch_get_config the default, resctrl_arch_rmid_read -EINVAL,
    resctrl_arch_reset_all_ctrls nothing; so no register access is made and no setting
    changes (the MSCs stay in the reset state mpam_reset_class left them in)."""
    arch = m.resctrl_arch
    fs = m.resctrl
    assert arch is not None and fs is not None
    res = {r.rid: r for r in arch.resources()}
    l3 = res[ResourceId.L3]
    ctrl, mon = l3.ctrl_domains[1], l3.mon_domains[1]
    _error(m)
    l3p1 = _msc(m, "l3-p1")
    assert int(l3p1.ris[0].cfg["MPAMCFG_CPBM"][l3p1.settings_row(1), 0]) == 0xFFFF  # reset
    before = _snapshot(m)
    m.driver.mmio_trace.clear()
    m.driver.tracing = True

    for text in ("L3:0=3\n", "L3:1=3\n", "L2:512=1\n"):
        assert fs.write("g/schemata", text) < 0
        assert fs.write("schemata", text) < 0
    assert arch.update_one(l3, ctrl, 1, CdpType.NONE, 0x3) == -errno.EINVAL
    assert arch.get_config(l3, ctrl, 1, CdpType.NONE) == 0xFFFF
    assert arch.rmid_read(l3, mon, 1, 0, EventId.LLC_OCCUPANCY) == (-errno.EINVAL, 0)
    assert arch.rmid_read(l3, mon, 1, 0, EventId.MBM_TOTAL_BYTES) == (-errno.EINVAL, 0)
    arch.config_cntr(l3, mon, EventId.MBM_TOTAL_BYTES, 1, 0, 3, True)
    assert arch.cntr_read(l3, mon, 1, 0, 3, EventId.MBM_TOTAL_BYTES) == (-errno.EINVAL, 0)
    arch.reset_rmid(l3, mon, 1, 0, EventId.MBM_TOTAL_BYTES)
    for r in arch.resources():
        arch.reset_all_ctrls(r)
    # CPUs still come and go, but MPAM's cpuhp callbacks are gone: no domain comes back.
    assert m.cpu_down(20) == 0 and m.cpu_up(20) == 0
    assert all(not r.ctrl_domains and not r.mon_domains for r in arch.resources())
    m.run(2_000_000_000)  # the overflow and limbo work would have run by now

    assert list(m.driver.mmio_trace) == []
    after = _snapshot(m)
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_an_error_before_resctrl_is_set_up_does_not_exit_it() -> None:
    """mpam_disable only calls mpam_resctrl_exit when mpam_resctrl_enabled was set, which
    mpam_enable_once does after mpam_resctrl_setup."""
    m = Machine("tiny")
    calls: list[int] = []
    m.driver.on_resctrl_exit.append(lambda: calls.append(1))
    m.driver.disable_reason = "error during probing"
    m.driver.disable()
    assert calls == [] and not m.driver.resctrl_enabled


def test_the_filesystem_after_resctrl_exit(m: Machine) -> None:
    """resctrl_fs_teardown then unregister_filesystem, as the mount sees them: the kernfs
    root is destroyed (an empty directory; names gone: ENOENT; a descriptor opened before:
    ENODEV; mkdir: kernfs_iop_mkdir's kernfs_get_active fails, ENODEV), a new mount finds
    no filesystem type (ENODEV), and unmounting still works (rdt_kill_sb)."""
    fs = m.resctrl
    assert fs is not None
    of = fs.open("g/schemata", write=True)
    assert not isinstance(of, int)
    _error(m)
    assert fs.listdir("") == []
    assert fs.write("schemata", "L3:0=3\n") == -errno.ENOENT
    assert fs.read("g/tasks") == -errno.ENOENT
    assert of.read() == -errno.ENODEV and of.write(b"L3:0=3\n") == -errno.ENODEV
    assert fs.mkdir("g2") == -errno.ENODEV
    assert fs.mount("") == -errno.ENODEV
    assert fs.umount() == 0
    assert fs.mount("") == -errno.ENODEV
