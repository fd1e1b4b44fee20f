"""Firmware-backed (PCC mailbox) MSCs: latency in simulated time, atomic context, one request
in flight at a time. Built through `mpam.hw.build` from a TOML description."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mpam.hw import AccessContext, PccMsc, build
from mpam.hw.msc import Msc
from mpam.hw.pcc import MailboxBusy, SleepInAtomicContext
from mpam.platform import load

IDR, AIDR, IIDR, CPOR_IDR, ESR = 0x0000, 0x0020, 0x0018, 0x0030, 0x00F8
PART_SEL, CPBM, MBW_MAX = 0x0100, 0x1000, 0x0208

LATENCY_US = 250


@pytest.fixture
def pcc(new_msc: Callable[..., Msc]) -> PccMsc:
    m = new_msc(
        [{"cpor": {"cpbm_wd": 16}, "mbw": {"bwa_wd": 8, "has_max": True}}],
        interface="pcc",
        pcc_subspace=3,
        pcc_latency_usec=LATENCY_US,
    )
    assert isinstance(m, PccMsc)
    return m


def test_built_as_pcc(pcc: PccMsc) -> None:
    assert pcc.subspace_id == 3
    assert pcc.latency_ns == LATENCY_US * 1000
    assert isinstance(pcc.msc, Msc)
    assert pcc.name == "msc0"
    assert pcc.in_flight is None and pcc.requests == 0


@pytest.mark.parametrize("offset", [IDR, IDR + 4, AIDR, IIDR, CPOR_IDR, CPBM, MBW_MAX, ESR, 0x3FFC])
def test_read_takes_the_latency_and_matches_the_register_model(pcc: PccMsc, offset: int) -> None:
    t0 = pcc.clock.now_ns
    value = pcc.read32(offset)
    assert pcc.clock.now_ns - t0 == LATENCY_US * 1000
    t1 = pcc.clock.now_ns
    assert value == pcc.msc.read32(offset)  # the register model, directly
    assert pcc.clock.now_ns == t1  # a direct read takes no simulated time
    assert pcc.requests == 1 and pcc.in_flight is None


def test_write_takes_the_latency_and_reaches_the_registers(pcc: PccMsc) -> None:
    t0 = pcc.clock.now_ns
    pcc.write32(PART_SEL, 4)
    pcc.write32(CPBM, 0x0F0F)
    assert pcc.clock.now_ns - t0 == 2 * LATENCY_US * 1000
    assert pcc.msc.ris[0].cfg["MPAMCFG_CPBM"][4, 0] == 0x0F0F
    assert pcc.read32(CPBM) == 0x0F0F
    assert pcc.requests == 3


def test_values_match_across_a_sequence(pcc: PccMsc) -> None:
    for partid, bits in ((0, 0x1), (7, 0xFFFF), (15, 0x8001)):
        pcc.write32(PART_SEL, partid)
        pcc.write32(CPBM, bits | 0xFFFF_0000)
        assert pcc.read32(CPBM) == bits
        assert pcc.msc.read32(CPBM) == bits


@pytest.mark.parametrize("write", [False, True])
def test_atomic_context_raises_and_changes_nothing(pcc: PccMsc, write: bool) -> None:
    pcc.write32(PART_SEL, 2)
    before_time, before_requests = pcc.clock.now_ns, pcc.requests
    before_value = pcc.msc.read32(CPBM)
    with pytest.raises(SleepInAtomicContext) as info:
        if write:
            pcc.write32(CPBM, 0, ctx=AccessContext.ATOMIC)
        else:
            pcc.read32(CPBM, ctx=AccessContext.ATOMIC)
    text = str(info.value)
    assert "msc0" in text
    assert "PCC subspace 3" in text
    assert "sleep" in text
    assert pcc.clock.now_ns == before_time
    assert pcc.requests == before_requests
    assert pcc.in_flight is None
    assert pcc.msc.read32(CPBM) == before_value


def test_task_context_is_the_default(pcc: PccMsc) -> None:
    assert pcc.read32(AIDR, ctx=AccessContext.TASK) == 0x11


def test_second_submit_while_in_flight_is_busy(pcc: PccMsc) -> None:
    first = pcc.submit(AIDR)
    with pytest.raises(MailboxBusy, match="in flight"):
        pcc.submit(IIDR)
    with pytest.raises(MailboxBusy):
        pcc.read32(IIDR)  # the synchronous accessor uses the same mailbox
    assert pcc.in_flight is first
    assert pcc.requests == 1
    pcc.clock.advance(pcc.latency_ns)
    assert pcc.complete(first) == 0x11
    assert pcc.in_flight is None
    assert pcc.read32(IIDR) == 0x43B


def test_complete_before_the_latency_is_busy(pcc: PccMsc) -> None:
    request = pcc.submit(AIDR)
    assert request.completes_at_ns == pcc.clock.now_ns + LATENCY_US * 1000
    assert not pcc.done(request)
    with pytest.raises(MailboxBusy, match="completes at"):
        pcc.complete(request)
    pcc.clock.advance(LATENCY_US * 1000 - 1)
    assert not pcc.done(request)
    with pytest.raises(MailboxBusy):
        pcc.complete(request)
    assert pcc.in_flight is request  # still in flight after a refused completion
    pcc.clock.advance(1)
    assert pcc.done(request)
    assert pcc.complete(request) == 0x11
    assert request.result == 0x11


def test_firmware_performs_the_write_at_completion(pcc: PccMsc) -> None:
    pcc.write32(PART_SEL, 1)
    request = pcc.submit(CPBM, 0x00FF)
    assert pcc.msc.read32(CPBM) == 0xFFFF  # not yet
    pcc.clock.advance(pcc.latency_ns)
    assert pcc.complete(request) == 0
    assert pcc.msc.read32(CPBM) == 0x00FF


def test_complete_of_a_request_not_in_flight_is_busy(pcc: PccMsc) -> None:
    request = pcc.submit(AIDR)
    pcc.clock.advance(pcc.latency_ns)
    pcc.complete(request)
    with pytest.raises(MailboxBusy, match="not the request in flight"):
        pcc.complete(request)


def test_custom_sleep_is_given_the_latency(new_msc: Callable[..., Msc]) -> None:
    m = new_msc(interface="pcc", pcc_subspace=7, pcc_latency_usec=40)
    assert isinstance(m, PccMsc)
    slept: list[int] = []

    def sleep(ns: int) -> None:
        slept.append(ns)
        m.clock.advance(ns)

    fw = PccMsc(m.msc, m.clock, sleep=sleep)
    assert fw.read32(AIDR) == 0x11
    assert slept == [40_000]


def test_two_socket_preset_has_a_pcc_msc() -> None:
    hw = build(load("two-socket"))
    m = hw.msc("mem-n1")
    assert isinstance(m, PccMsc)
    assert m.subspace_id == 3 and m.latency_ns == 500_000
    t0 = hw.clock.now_ns
    assert m.read32(AIDR) == 0x11
    assert hw.clock.now_ns - t0 == 500_000
    assert all(not isinstance(x, PccMsc) for x in hw.mscs if x.name != "mem-n1")
