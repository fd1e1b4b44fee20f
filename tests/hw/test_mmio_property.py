"""Random 32-bit MMIO traffic against every preset's MSCs.

For each preset, hypothesis picks seeds; each seed drives `OPS_PER_EXAMPLE` random reads and
writes (aligned and unaligned offsets inside the page) at randomly chosen MSCs. Nothing may
raise, and every write that lands on an MPAMCFG settings register of an implemented RIS with
a valid PART_SEL must read back as `value & implemented_mask | fixed_ones`. The selection and
the masks are computed here from the platform description and IHI0099's rules (portion
bitmaps, fixed-point fractions, the SOFTLIM/HARDLIM/STRIDEM1/PRI/WINWD fields of the chapter 9
register descriptions), never from the model's own tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpam.hw import build
from mpam.platform import load, presets
from mpam.platform.model import Msc as MscDesc
from mpam.platform.model import Platform, RisFeatures

OPS_PER_EXAMPLE = 10_000
EXAMPLES = 5  # >= 50,000 operations per preset, about a second for the large preset
MSC_SAMPLE = 24  # MSCs per example (the large preset has 240)

PART_SEL = 0x100
MON_SEL = 0x800
INTERNAL = 1 << 16
# MPAMCFG settings registers (IHI0099 Table 9-8): offset -> name
CFG_SINGLE = {
    0x108: "CMAX",
    0x110: "CMIN",
    0x118: "CASSOC",
    0x200: "MBW_MIN",
    0x208: "MBW_MAX",
    0x220: "MBW_WINWD",
    0x400: "PRI",
    0x500: "MBW_PROP",
}
CPBM_BASE, CPBM_WORDS = 0x1000, 1024
PBM_BASE, PBM_WORDS = 0x2000, 128
# Every register word of IHI0099 Table 9-8 (64-bit registers as two words).
KNOWN_WORDS = sorted(
    {0x00, 0x04, 0x08, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x48, 0x50, 0x80, 0x88, 0x90,
     0xDC, 0xE0, 0xE4, 0xE8, 0xEC, 0xF0, 0xF8, 0xFC, 0x100, 0x300, 0x310, 0x320, 0x600,
     0x800, 0x808, 0x810, 0x818, 0x820, 0x828, 0x840, 0x848, 0x858, 0x860, 0x868, 0x880,
     0x884, 0x890, 0x894, 0x898, 0x8DC, 0x8E0, 0x8E4, 0x8E8, 0x8EC, 0x8F0,
     0x3000, 0x3008, 0x3010, 0x3018, 0x3200, 0x3208, 0x3210, 0x3218}
    | set(CFG_SINGLE)
    | {CPBM_BASE + 4 * n for n in range(CPBM_WORDS)}
    | {PBM_BASE + 4 * n for n in range(PBM_WORDS)}
)  # fmt: skip
KNOWN_SMALL = [o for o in KNOWN_WORDS if o < CPBM_BASE or o >= 0x3000]


def frac(width: int) -> int:
    """IHI0099 fixed point: a w-bit fraction implements bits [15:16-w]; the rest are RAZ/WI."""
    return (0xFFFF << (16 - width)) & 0xFFFF


def bitmap(width: int) -> list[int]:
    """IHI0099 CPBM/MBW_PBM: ceil(width/32) words; bits at or above the width are RES0."""
    words = [0xFFFF_FFFF] * ((width + 31) // 32)
    if width % 32:
        words[-1] = (1 << (width % 32)) - 1
    return words


@dataclass(frozen=True)
class Expect:
    """What a write to one settings word leaves: `value & mask | fixed`, or read-only."""

    mask: int
    fixed: int = 0
    read_only: bool = False


def settings_of(f: RisFeatures) -> dict[int, Expect]:
    """Word offset -> expectation for every settings word the RIS implements."""
    out: dict[int, Expect] = {}
    if f.cpor:
        for n, mask in enumerate(bitmap(f.cpor.cpbm_wd)):
            out[CPBM_BASE + 4 * n] = Expect(mask)
    if c := f.ccap:
        if not c.no_cmax:
            out[0x108] = Expect(frac(c.cmax_wd) | (1 << 31 if c.has_cmax_softlim else 0))
        if c.has_cmin:
            out[0x110] = Expect(frac(c.cmax_wd))
        if c.has_cassoc:
            out[0x118] = Expect(frac(c.cassoc_wd))
    if b := f.mbw:
        if b.has_min:
            out[0x200] = Expect(frac(b.bwa_wd))
        if b.has_max:
            hardlim = 1 << 31  # MAX_LIM: both -> RW, soft -> RAZ/WI, hard -> RAO/WI
            out[0x208] = Expect(
                frac(b.bwa_wd) | (hardlim if b.max_lim == "both" else 0),
                hardlim if b.max_lim == "hard" else 0,
            )
        if b.has_pbm:
            for n, mask in enumerate(bitmap(b.bwpbm_wd)):
                out[PBM_BASE + 4 * n] = Expect(mask)
        if b.has_prop:
            out[0x500] = Expect(((1 << b.bwa_wd) - 1) | 1 << 31)  # STRIDEM1 and EN
        out[0x220] = Expect(0xFF_FFFF) if b.windwr else Expect(0, read_only=True)
    if p := f.pri:
        out[0x400] = Expect(((1 << p.intpri_wd) - 1) | ((1 << p.dspri_wd) - 1) << 16)
    return out


def is_settings_offset(offset: int) -> bool:
    return offset in CFG_SINGLE or CPBM_BASE <= offset < PBM_BASE + 4 * PBM_WORDS


@dataclass
class Shadow:
    """What the test knows about one MSC, from its description alone."""

    desc: MscDesc
    part_sel: int = 0
    ris: dict[int, dict[int, Expect]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ris = {r.index: settings_of(r.features) for r in self.desc.ris}
        self.partid_max = {r.index: r.features.partid_max for r in self.desc.ris}

    @property
    def part_sel_mask(self) -> int:
        mask = 0xFFFF  # PARTID_SEL
        if self.desc.intpartid_max is not None:
            mask |= INTERNAL
        if self.desc.has_in_tl:
            mask |= 1 << 17  # INGRESS_TL
        if self.desc.has_ris:
            mask |= 0xF << 24  # RIS
        return mask

    def target(self, offset: int) -> Expect | None:
        """The expectation for a settings word under the current selection, or None when
        the selection is not valid (undefined RIS, PARTID out of range, INTERNAL wrong)."""
        ris = (self.part_sel >> 24) & 0xF
        partid = self.part_sel & 0xFFFF
        internal = bool(self.part_sel & INTERNAL)
        if ris not in self.ris:
            return None
        if self.desc.intpartid_max is not None:
            if not internal or partid > self.desc.intpartid_max:
                return None
        elif partid > self.partid_max[ris]:
            return None
        words = self.ris[ris]
        if offset in words:
            return words[offset]
        if offset >= CPBM_BASE and self._bitmap_present(ris, offset):
            return Expect(0)  # a word of an implemented bitmap beyond its width: RAZ/WI
        return None

    def _bitmap_present(self, ris: int, offset: int) -> bool:
        base = CPBM_BASE if offset < PBM_BASE else PBM_BASE
        return base in self.ris[ris]


@cache
def description(preset: str) -> Platform:
    return load(preset)


def random_value(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.15:
        return 0
    if r < 0.3:
        return 0xFFFF_FFFF
    if r < 0.45:
        return rng.getrandbits(16)
    return rng.getrandbits(32)


def random_part_sel(rng: random.Random, s: Shadow) -> int:
    """Mostly valid selections, with the edges either side."""
    ris_max = max(s.ris)
    ris = rng.randint(0, ris_max + 1) if s.desc.has_ris else rng.choice([0, 0, 0, 1])
    limit = s.desc.intpartid_max if s.desc.intpartid_max is not None else min(s.partid_max.values())
    partid = rng.choice([0, limit, limit + 1, rng.randint(0, limit), rng.randint(0, limit)])
    internal = rng.random() < (0.85 if s.desc.intpartid_max is not None else 0.2)
    noise = rng.getrandbits(32) & ~(0xFFFF | INTERNAL | 0xF << 24) if rng.random() < 0.2 else 0
    return noise | ris << 24 | (INTERNAL if internal else 0) | partid & 0xFFFF


def random_mon_sel(rng: random.Random, s: Shadow) -> int:
    """Mostly an existing monitor of an existing RIS, sometimes one past either."""
    ris = rng.choice([*sorted(s.ris), max(s.ris) + 1])
    nums = [
        kind.num_mon
        for r in s.desc.ris
        if r.index == ris and r.features.msmon
        for kind in (r.features.msmon.csu, r.features.msmon.mbwu)
        if kind
    ]
    mon = rng.randint(0, max(nums)) if nums else rng.randint(0, 3)
    return ris << 24 | mon


def random_offset(rng: random.Random, s: Shadow, size: int) -> int:
    r = rng.random()
    if r < 0.40:
        ris = s.ris.get((s.part_sel >> 24) & 0xF) or next(iter(s.ris.values()))
        options = list(ris) + list(CFG_SINGLE)
        if ris and rng.random() < 0.2:  # the word after the last implemented bitmap word
            last = max(ris)
            options.append(last + 4)
        off = rng.choice(options)
    elif r < 0.60:
        off = rng.choice(KNOWN_SMALL)
    elif r < 0.85:
        off = rng.randrange(0, size, 4)
    else:
        off = rng.randrange(0, size)  # mostly unaligned
    return off if off < size else rng.randrange(0, size, 4)


def run(preset: str, seed: int) -> int:
    platform = description(preset)
    hw = build(platform)
    rng = random.Random(seed)
    picked = rng.sample(range(len(hw.mscs)), min(MSC_SAMPLE, len(hw.mscs)))
    shadows = {i: Shadow(platform.mscs[i]) for i in picked}
    known = set(KNOWN_WORDS)
    ops = checked = 0
    while ops < OPS_PER_EXAMPLE:
        i = rng.choice(picked)
        m, s = hw.mscs[i], shadows[i]
        size = s.desc.size
        if rng.random() < 0.12:
            value = random_part_sel(rng, s)
            m.write32(PART_SEL, value)
            s.part_sel = value & s.part_sel_mask
            assert m.read32(PART_SEL) == s.part_sel, (m.name, hex(value))
            ops += 2
            continue
        if rng.random() < 0.04:
            m.write32(MON_SEL, random_mon_sel(rng, s))
            ops += 1
            continue
        offset = random_offset(rng, s, size)
        if rng.random() < 0.45:
            value = m.read32(offset)
            ops += 1
            assert 0 <= value <= 0xFFFF_FFFF
            if offset % 4 or offset not in known:
                assert value == 0, (m.name, hex(offset))  # reserved and misaligned: RAZ
            if offset == PART_SEL:
                assert value == s.part_sel
            continue
        value = random_value(rng)
        expect = s.target(offset) if offset % 4 == 0 and is_settings_offset(offset) else None
        before = m.read32(offset) if expect is not None and expect.read_only else None
        m.write32(offset, value)
        ops += 1
        if offset == PART_SEL:
            s.part_sel = value & s.part_sel_mask
        if expect is None:
            continue
        got = m.read32(offset)
        ops += 1
        checked += 1
        want = before if expect.read_only else (value & expect.mask) | expect.fixed
        assert got == want, (
            f"{preset} {m.name} PART_SEL={s.part_sel:#x} offset {offset:#x}: "
            f"wrote {value:#010x}, read {got:#010x}, expected {want:#010x}"
        )
    return checked


@pytest.mark.parametrize("preset", presets())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_mmio(preset: str, seed: int) -> None:
    checked = run(preset, seed)
    assert checked > OPS_PER_EXAMPLE // 50  # the settings check is really exercised


def test_presets_are_covered() -> None:
    assert {"tiny", "rdn2", "two-socket", "large"} <= set(presets())


@pytest.mark.parametrize("preset", presets())
def test_settings_expectations_cover_every_ris(preset: str) -> None:
    """Every RIS of every preset has something the property test can check, or is a pure
    monitor RIS."""
    for m in description(preset).mscs:
        for r in m.ris:
            f = r.features
            has_controls = any((f.cpor, f.ccap, f.mbw, f.pri))
            assert bool(settings_of(f)) == has_controls, (m.name, r.index)
