"""MSC error interrupts: logged with the decoded ESR, then MPAM is disabled and reset."""

from __future__ import annotations

from importlib import resources

from mpam.driver import Feature
from mpam.firmware import ClassType
from mpam.hw.msc import ErrorCode, Msc
from mpam.hw.pcc import PccMsc
from mpam.machine import Machine
from mpam.platform import from_toml_text


def test_injected_error_disables_mpam() -> None:
    m = Machine("rdn2").boot()
    d = m.driver
    comp = d.classes[ClassType.CACHE, 3].components[49]
    cfg = comp.cfg[7].copy()
    cfg.features.add(Feature.cpor_part)
    cfg.cpbm = 0x3
    d.apply_config(comp, 7, cfg)
    assert m.kernel.scheduler.mpam_enabled

    slc2 = m.hw.msc("slc2")
    assert isinstance(slc2, Msc)
    slc2.inject_error(ErrorCode.REQ_PARTID_RANGE, partid_mon=70, pmg=1)
    m.service()

    log = m.dmesg()
    assert (
        "mpam:__mpam_irq_handler: error irq from msc:2 'Req_PARTID_Range', partid:70, pmg: 1, ris: 0"
        in log
    )
    assert "mpam:mpam_disable: MPAM disabled due to hardware error interrupt" in log
    assert not d.enabled and not m.kernel.scheduler.mpam_enabled
    # Every MSC is back in its reset state, and the error is cleared.
    r = d.regs[0]
    r.part_sel(0, 7)
    assert r.read("MPAMCFG_CPBM") == 0xFFFF
    assert d.regs[2].read("MPAMF_ESR") == 0
    assert not m.hw.irq.line(202).asserted
    assert [name for _, name in m.kernel.cpuhp.states() if name.startswith("mpam")] == []


def test_error_before_enable_is_only_reported() -> None:
    m = Machine("tiny")
    m.boot()
    d = m.driver
    d.enabled = False  # as during probing: the handler reports but does not disable
    msc = d.find_msc(0)
    hw = m.hw.msc("l3")
    assert isinstance(hw, Msc)
    hw.inject_error(ErrorCode.PARTID_SEL_RANGE, partid_mon=99)
    assert d.irq_handler(msc)
    assert "MPAM disabled" not in m.dmesg()
    assert "error irq from msc:0 'PARTID_SEL_Range', partid:99, pmg: 0, ris: 0" in m.dmesg()


def test_error_from_a_firmware_backed_msc_is_handled_threaded() -> None:
    """A PCC MSC's ESR cannot be read in hard IRQ context; its handler runs threaded."""
    preset = (resources.files("mpam.platform") / "presets" / "two-socket.toml").read_text()
    preset = preset.replace(
        'linked_device = { hid = "ARMHM001", uid = 1 }',
        'linked_device = { hid = "ARMHM001", uid = 1 }\nerror_interrupt = { gsiv = 450 }',
    )
    m = Machine(from_toml_text(preset)).boot()
    pcc = m.hw.msc("mem-n1")
    assert isinstance(pcc, PccMsc)
    pcc.msc.inject_error(ErrorCode.PARTID_SEL_RANGE, partid_mon=40)
    m.service()
    assert "error irq from msc:21 'PARTID_SEL_Range', partid:40, pmg: 0, ris: 0" in m.dmesg()
    assert not m.driver.enabled
