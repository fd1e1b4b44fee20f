"""schemata read and write, size, bit_usage and mode on booted MPAM machines: the schema list
comes from the machine's own resctrl arch, values reach the MSC registers through the
driver, and cache sizes come from the cacheinfo the PPTT gives."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest

from mpam.driver.mpam_internal import Feature
from mpam.driver.mpam_resctrl import MpamResctrl
from mpam.firmware import ClassType
from mpam.machine import Machine
from mpam.platform import from_toml_text
from mpam.resctrl import CdpType, CtrlDomain, RdtResource, ResourceId
from mpam.resctrl.ctrlmondata import (
    MODE_EXCLUSIVE,
    MODE_PSEUDO_LOCKSETUP,
    MODE_SHAREABLE,
    bit_usage_show,
    cbm_overlaps,
    cbm_to_size,
    kstrtou32,
    kstrtoul,
    mode_write,
    schemata_show,
    schemata_write,
    size_show,
)
from mpam.resctrl.schema import Schema, SchemaList
from mpam.resctrl.status import LastCmdStatus

EINVAL = -errno.EINVAL
L3 = (ClassType.CACHE, 3)
L2 = (ClassType.CACHE, 2)
MEM = (ClassType.MEMORY, 255)
_LEVEL = {ResourceId.L3: 3, ResourceId.L2: 2}


@dataclass
class Fs:
    """A booted machine with a schema list built from its resctrl arch (what a mount does)."""

    m: Machine
    arch: MpamResctrl
    schemas: SchemaList
    status: LastCmdStatus

    def res(self, rid: ResourceId) -> RdtResource:
        return next(r for r in self.arch.resources() if r.rid is rid)

    def dom(self, rid: ResourceId, dom_id: int) -> CtrlDomain:
        return next(d for d in self.res(rid).ctrl_domains if d.id == dom_id)

    def schema(self, name: str) -> Schema:
        s = self.schemas.find(name)
        assert s is not None
        return s

    def write(self, closid: int, text: str, **kw: Any) -> int:
        return schemata_write(self.schemas, self.arch, self.status, closid, text, **kw)

    def show(self, closid: int) -> str:
        return schemata_show(self.schemas, self.arch, closid)

    def cfg(self, rid: ResourceId, dom_id: int, closid: int, t: CdpType = CdpType.NONE) -> int:
        return self.arch.get_config(self.res(rid), self.dom(rid, dom_id), closid, t)

    def set(self, rid: ResourceId, dom_id: int, closid: int, value: int) -> None:
        r = self.res(rid)
        t = CdpType.DATA if self.arch.get_cdp_enabled(rid) else CdpType.NONE
        assert self.arch.update_one(r, self.dom(rid, dom_id), closid, t, value) == 0

    def hw(self, klass: tuple[ClassType, int], comp_id: int, partid: int, reg: str) -> set[int]:
        """The register as every RIS of the component holds it for `partid`."""
        out = set()
        for vmsc in self.m.driver.classes[klass].components[comp_id].vmscs:
            for ris in vmsc.ris:
                regs = self.m.driver.regs[ris.msc.id]
                # An MSC that narrows PARTIDs is configured through its internal PARTIDs.
                regs.part_sel(ris.ris_idx, partid, internal=ris.props.has(Feature.partid_nrw))
                out.add(regs.read(reg))
        return out

    def cache_size(self, r: RdtResource, dom_id: int) -> int:
        """What cacheinfo says about the domain's cache (any CPU of the domain)."""
        cpu = min(next(d for d in r.ctrl_domains if d.id == dom_id).cpus)
        leaves = self.m.pptt.leaves()[cpu]
        return next(c.size for c in leaves if c.level == _LEVEL[r.rid] and c.type == "unified")


def _mount(m: Machine, *, cdp: bool = False) -> Fs:
    arch = m.resctrl_arch
    assert arch is not None
    if cdp:
        assert arch.set_cdp_enabled(ResourceId.L3, True) == 0
    schemas = SchemaList()
    schemas.build(arch)
    return Fs(m, arch, schemas, LastCmdStatus())


def _tiny_variant(old: str, new: str) -> Machine:
    """The tiny preset with one line of its description changed."""
    text = (resources.files("mpam.platform") / "presets" / "tiny.toml").read_text()
    assert old in text
    return Machine(from_toml_text(text.replace(old, new), source="test variant")).boot()


@pytest.fixture
def rdn2() -> Fs:
    return _mount(Machine("rdn2").boot())


@pytest.fixture
def rdn2_cdp() -> Fs:
    return _mount(Machine("rdn2").boot(), cdp=True)


@pytest.fixture
def two() -> Fs:
    return _mount(Machine("two-socket").boot())


@pytest.fixture
def tiny() -> Fs:
    return _mount(Machine("tiny").boot())


# --- number parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "base", "value"),
    [
        ("0", 10, 0), ("+42", 10, 42), ("42\n", 10, 42), ("007", 10, 7),
        ("18446744073709551615", 10, (1 << 64) - 1), ("18446744073709551616", 10, None),
        ("", 10, None), ("+", 10, None), ("\n", 10, None), ("42\n\n", 10, None),
        (" 42", 10, None), ("42 ", 10, None), ("-1", 10, None), ("0x10", 10, None),
        ("4_2", 10, None), ("١٢", 10, None),
        ("ff", 16, 0xFF), ("FF", 16, 0xFF), ("0xfF", 16, 0xFF), ("0Xf", 16, 0xF),
        ("+0x3", 16, 3), ("+f", 16, 0xF), ("f\n", 16, 0xF), ("0x", 16, None),
        ("0x\n", 16, None), ("x1", 16, None), ("0x0x1", 16, None), ("g", 16, None),
        ("ffffffffffffffff", 16, (1 << 64) - 1), ("10000000000000000", 16, None),
    ],
)  # fmt: skip
def test_kstrtoul(text: str, base: int, value: int | None) -> None:
    assert kstrtoul(text, base) == value


def test_kstrtou32_limit() -> None:
    assert kstrtou32("4294967295", 10) == (1 << 32) - 1
    assert kstrtou32("4294967296", 10) is None
    assert kstrtou32("+7\n", 10) == 7


# --- reading -------------------------------------------------------------------------------


def test_read_rdn2_is_padded_to_the_cdp_width(rdn2: Fs) -> None:
    assert rdn2.schemas.max_name_width == 6  # "L3" on a CDP-capable resource counts as 6
    assert rdn2.show(0) == "    MB:49=100\n    L3:49=ffff\n"
    assert rdn2.show(63) == "    MB:49=100\n    L3:49=ffff\n"
    assert rdn2.show(64) == ""  # no schema has a 65th CLOSID


def test_read_two_socket_lists_domains_ascending(two: Fs) -> None:
    l2 = ";".join(f"{i}=ff" for i in (512, 513, 514, 515, 528, 529, 530, 531))
    assert two.show(5) == f"    L2:{l2}\n    L3:0=ffff;1=ffff\n"


def test_read_tiny_and_values_from_the_arch(tiny: Fs) -> None:
    assert tiny.show(1) == "    MB:3=100\n    L3:3=ffff\n"
    tiny.set(ResourceId.L3, 3, 1, 0x0F0F)
    tiny.set(ResourceId.MBA, 3, 1, 37)
    assert tiny.show(1) == "    MB:3=37\n    L3:3=f0f\n"  # %x: lowercase, no 0x, no padding
    assert tiny.show(0) == "    MB:3=100\n    L3:3=ffff\n"


def test_read_cdp_schemas(rdn2_cdp: Fs) -> None:
    fs = rdn2_cdp
    assert [s.name for s in fs.schemas.schemas] == ["L3DATA", "L3CODE"]  # MB is gone
    assert fs.schemas.max_name_width == 6
    assert (
        fs.arch.update_one(fs.res(ResourceId.L3), fs.dom(ResourceId.L3, 49), 2, CdpType.CODE, 0xF)
        == 0
    )
    assert fs.show(2) == "L3DATA:49=ffff\nL3CODE:49=f\n"
    assert fs.show(31) == "L3DATA:49=ffff\nL3CODE:49=ffff\n"
    assert fs.show(32) == ""  # CDP halves the CLOSIDs


def test_width_only_grows(rdn2: Fs) -> None:
    rdn2.arch.set_cdp_enabled(ResourceId.L3, False)
    rdn2.schemas.max_name_width = 9  # as if an earlier mount had a longer name
    rdn2.schemas.build(rdn2.arch)
    assert rdn2.show(0) == "       MB:49=100\n       L3:49=ffff\n"


# --- writing: the happy paths --------------------------------------------------------------


def test_write_reaches_the_registers(rdn2: Fs) -> None:
    assert rdn2.write(1, "L3:49=f0\nMB:49=50\n") == 0
    assert rdn2.status.show() == "ok\n"
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xF0
    assert rdn2.hw(L3, 49, 1, "MPAMCFG_CPBM") == {0xF0}  # all 8 L3 MSCs
    assert rdn2.cfg(ResourceId.MBA, 49, 1) == 50
    assert rdn2.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0x7F00}
    assert rdn2.hw(L3, 49, 0, "MPAMCFG_CPBM") == {0xFFFF}  # other CLOSIDs untouched
    assert rdn2.hw(L3, 49, 2, "MPAMCFG_CPBM") == {0xFFFF}
    assert rdn2.show(1) == "    MB:49=50\n    L3:49=f0\n"
    assert all(not s.staged for s in rdn2.schemas.schemas)  # staging is cleared


def test_write_what_read_printed(rdn2: Fs) -> None:
    rdn2.set(ResourceId.L3, 49, 3, 0x3C)
    text = rdn2.show(3)
    assert text.startswith("    MB:")
    assert rdn2.write(4, text) == 0  # padded names are trimmed
    assert rdn2.show(4) == text
    assert rdn2.write(4, "\t L3 \t:49=ff00\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 4) == 0xFF00


def test_partial_writes_keep_other_domains(two: Fs) -> None:
    assert two.write(1, "L3:0=f\n") == 0
    assert (two.cfg(ResourceId.L3, 0, 1), two.cfg(ResourceId.L3, 1, 1)) == (0xF, 0xFFFF)
    assert two.write(1, "L3:1=f0\n") == 0
    assert (two.cfg(ResourceId.L3, 0, 1), two.cfg(ResourceId.L3, 1, 1)) == (0xF, 0xF0)
    assert two.hw(L3, 0, 1, "MPAMCFG_CPBM") == {0xF}
    assert two.hw(L3, 1, 1, "MPAMCFG_CPBM") == {0xF0}
    assert two.show(1).endswith("    L3:0=f;1=f0\n")


def test_several_lines_and_resources(two: Fs) -> None:
    assert two.write(2, "L3:0=3\nL3:1=c\nL2:512=1;531=80\n") == 0
    assert (two.cfg(ResourceId.L3, 0, 2), two.cfg(ResourceId.L3, 1, 2)) == (3, 0xC)
    assert two.cfg(ResourceId.L2, 512, 2) == 1 and two.cfg(ResourceId.L2, 531, 2) == 0x80
    assert two.cfg(ResourceId.L2, 513, 2) == 0xFF
    assert two.hw(L2, 531, 2, "MPAMCFG_CPBM") == {0x80}


@pytest.mark.parametrize("text", ["L3:0=f;\n", "L3:0=f;1=f;\n", "L3:0=f \n", "L3:0=\tf\n"])
def test_one_trailing_semicolon_and_trimmed_values(two: Fs, text: str) -> None:
    assert two.write(1, text) == 0
    assert two.cfg(ResourceId.L3, 0, 1) == 0xF


@pytest.mark.parametrize(
    ("value", "mask"),
    [("0xF0", 0xF0), ("0XfF", 0xFF), ("+0x3", 0x3), ("00ff", 0xFF), ("f0f0", 0xF0F0)],
)
def test_hex_masks(rdn2: Fs, value: str, mask: int) -> None:
    assert rdn2.write(1, f"L3:49={value}\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == mask  # sparse masks are fine on MPAM


def test_domain_id_with_plus(rdn2: Fs) -> None:
    assert rdn2.write(1, "L3:+49=f\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xF


def test_nul_ends_the_buffer(rdn2: Fs) -> None:
    assert rdn2.write(1, "L3:49=f\0garbage\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xF


def test_mb_zero_is_allowed_when_min_bw_is_zero(rdn2: Fs) -> None:
    assert rdn2.write(1, "MB:49=0\n") == 0
    assert rdn2.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0}
    assert rdn2.cfg(ResourceId.MBA, 49, 1) == 0


def test_mb_read_back_through_mpam_conversion(rdn2: Fs) -> None:
    assert rdn2.write(1, "MB:49=37\n") == 0  # bwa_wd 8: DRC(37*256,100)=95 -> 94
    assert rdn2.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0x5E00}
    assert rdn2.show(1).startswith("    MB:49=37\n")


def test_mb_rounds_up_to_bw_gran() -> None:
    fs = _mount(_tiny_variant("bwa_wd = 8", "bwa_wd = 3"))
    mb = fs.res(ResourceId.MBA)
    assert (mb.min_bw, mb.bw_gran) == (13, 13)
    assert fs.write(1, "MB:3=50\n") == 0  # -> 52 -> band 3 of 8
    assert fs.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0x6000}
    assert fs.show(1) == "    MB:3=50\n    L3:3=ffff\n"
    assert fs.write(1, "MB:3=20\n") == 0  # -> 26 -> band 1: reads back 25
    assert fs.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0x2000}
    assert fs.cfg(ResourceId.MBA, 3, 1) == 25
    assert fs.write(1, "MB:3=100\n") == 0  # -> 104 -> the top band
    assert fs.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0xE000}
    assert fs.cfg(ResourceId.MBA, 3, 1) == 100
    assert fs.write(1, "MB:3=12\n") == EINVAL
    assert fs.status.show() == "MB value 12 out of range [13,100]\n"
    assert fs.cfg(ResourceId.MBA, 3, 1) == 100


def test_mb_roundup_wraps_at_bwa_wd_4() -> None:
    """mpam_resctrl.c's MBW_MAX conversion: with gran 7, 100 rounds up to 105, which MBW_MAX
    can't hold."""
    fs = _mount(_tiny_variant("bwa_wd = 8", "bwa_wd = 4"))
    assert fs.write(1, "MB:3=50\n") == 0
    assert fs.cfg(ResourceId.MBA, 3, 1) == 56
    assert fs.write(1, "MB:3=100\n") == 0
    assert fs.hw(MEM, 0, 1, "MPAMCFG_MBW_MAX") == {0}
    assert fs.cfg(ResourceId.MBA, 3, 1) == 6


# --- writing: failures ---------------------------------------------------------------------

# (text, last_cmd_status) on rdn2 for CLOSID 1; every one is EINVAL and changes nothing.
FAILURES = [
    ("\n", "Missing ':'\n"),
    ("L3:49=f\n\n", "Missing ':'\n"),  # the blank piece after a good line
    ("L3:49=f\n\nMB:49=10\n", "Missing ':'\n"),
    ("L3 49=f\n", "Missing ':'\n"),
    ("L3:\n", "Missing 'L3' value\n"),
    ("  L3 :\n", "Missing 'L3' value\n"),
    (":\n", "Missing '' value\n"),
    ("L4:49=f\n", "Unknown or unsupported resource name 'L4'\n"),
    ("l3:49=f\n", "Unknown or unsupported resource name 'l3'\n"),
    ("L2:0=f\n", "Unknown or unsupported resource name 'L2'\n"),  # rdn2's L2 has no MSC
    ("L3CODE:49=f\n", "Unknown or unsupported resource name 'L3CODE'\n"),
    ("SMBA:49=10\n", "Unknown or unsupported resource name 'SMBA'\n"),
    (": L3:49=f\n", "Unknown or unsupported resource name ''\n"),
    ("L3:49\n", "Missing '=' or non-numeric domain\n"),
    ("L3:x=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3: 49=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:49 =f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:-49=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:0x31=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:;49=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:49=f;;\n", "Missing '=' or non-numeric domain\n"),
    ("L3:49=f;\n;\n", "Missing ':'\n"),
    ("L3:99999999999999999999=f\n", "Missing '=' or non-numeric domain\n"),
    ("L3:49=f;49=f\n", "Duplicate domain 49\n"),
    ("L3:49=f\nL3:49=f0\n", "Duplicate domain 49\n"),
    ("L3:49=f\n    L3:+49=f0\n", "Duplicate domain 49\n"),
    ("MB:49=10\nMB:49=20\n", "Duplicate domain 49\n"),
    ("L3:49=g\n", "Non-hex character in the mask g\n"),
    ("L3:49= 0x\n", "Non-hex character in the mask 0x\n"),
    ("L3:49=f f\n", "Non-hex character in the mask f f\n"),
    ("L3:49=-f\n", "Non-hex character in the mask -f\n"),
    ("L3:49=\n", "Non-hex character in the mask \n"),
    ("L3:49=10000000000000000\n", "Non-hex character in the mask 10000000000000000\n"),
    ("L3:49=0\n", "Mask out of range\n"),
    ("L3:49=0x0\n", "Mask out of range\n"),
    ("L3:49=10000\n", "Mask out of range\n"),
    ("L3:49=ffffffffffffffff\n", "Mask out of range\n"),
    ("MB:49=x\n", "Invalid MB value x\n"),
    ("MB:49=0x10\n", "Invalid MB value 0x10\n"),
    ("MB:49=-1\n", "Invalid MB value -1\n"),
    ("MB:49=\n", "Invalid MB value \n"),
    ("MB:49=5 0\n", "Invalid MB value 5 0\n"),
    ("MB:49=4294967296\n", "Invalid MB value 4294967296\n"),
    ("MB:49=101\n", "MB value 101 out of range [0,100]\n"),
    ("MB:49=4294967295\n", "MB value 4294967295 out of range [0,100]\n"),
    ("L3:49=f\nMB:49=101\n", "MB value 101 out of range [0,100]\n"),
]


@pytest.mark.parametrize(("text", "message"), FAILURES)
def test_failures(rdn2: Fs, text: str, message: str) -> None:
    rdn2.status.puts("stale\n")
    rdn2.m.driver.tracing = True
    rdn2.m.driver.mmio_trace.clear()
    assert rdn2.write(1, text) == EINVAL
    assert rdn2.status.show() == message
    assert not [a for a in rdn2.m.driver.mmio_trace if a.write]  # no hardware access
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xFFFF
    assert rdn2.cfg(ResourceId.MBA, 49, 1) == 100
    assert rdn2.hw(L3, 49, 1, "MPAMCFG_CPBM") == {0xFFFF}
    assert all(not s.staged for s in rdn2.schemas.schemas)


@pytest.mark.parametrize("text", ["L3:49=f", "", "L3:49=f\nMB:49=10", "garbage"])
def test_missing_newline_leaves_status_alone(rdn2: Fs, text: str) -> None:
    rdn2.status.puts("Mask out of range\n")
    assert rdn2.write(1, text) == EINVAL
    assert rdn2.status.show() == "Mask out of range\n"
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xFFFF


def test_bad_second_line_leaves_registers_untouched(rdn2: Fs) -> None:
    rdn2.set(ResourceId.L3, 49, 1, 0x00FF)
    assert rdn2.write(1, "L3:49=ff00\nMB:49=banana\n") == EINVAL
    assert rdn2.status.show() == "Invalid MB value banana\n"
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0x00FF
    assert rdn2.hw(L3, 49, 1, "MPAMCFG_CPBM") == {0x00FF}
    assert rdn2.write(1, "MB:49=30\nL3:49=ff00\nL3:50=1\n") == EINVAL  # unknown domain last
    assert rdn2.cfg(ResourceId.MBA, 49, 1) == 100
    assert rdn2.hw(L3, 49, 1, "MPAMCFG_CPBM") == {0x00FF}


def test_unknown_domain_is_silent(rdn2: Fs) -> None:
    rdn2.status.puts("stale\n")
    assert rdn2.write(1, "L3:49=f;50=f\n") == EINVAL
    assert rdn2.status.show() == "ok\n"  # cleared, and nothing added
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xFFFF
    assert rdn2.write(1, "MB:0=10\n") == EINVAL  # MB domains take the L3's id
    assert rdn2.status.show() == "ok\n"
    # The domain is looked up before its value is parsed.
    assert rdn2.write(1, "L3:50=zz\n") == EINVAL
    assert rdn2.status.show() == "ok\n"


def test_unknown_domain_then_bad_value(two: Fs) -> None:
    """Parsing stops at the first failure: an unknown domain hides later errors."""
    assert two.write(1, "L3:7=f;0=zz\n") == EINVAL
    assert two.status.show() == "ok\n"
    assert two.write(1, "L3:0=zz;7=f\n") == EINVAL
    assert two.status.show() == "Non-hex character in the mask zz\n"


def test_duplicates_across_lines_on_two_socket(two: Fs) -> None:
    assert two.write(1, "L3:0=f\nL3:1=f\nL3:0=f0\n") == EINVAL
    assert two.status.show() == "Duplicate domain 0\n"
    assert two.cfg(ResourceId.L3, 0, 1) == 0xFFFF
    assert two.write(1, "L2:513=1;514=2\nL2:512=4;513=8\n") == EINVAL
    assert two.status.show() == "Duplicate domain 513\n"
    assert two.cfg(ResourceId.L2, 514, 1) == 0xFF


def test_closid_beyond_num_closid(rdn2: Fs) -> None:
    assert rdn2.write(64, "L3:49=f\n") == EINVAL
    assert rdn2.status.show() == "Unknown or unsupported resource name 'L3'\n"


def test_non_consecutive_and_minimum_bits(rdn2: Fs) -> None:
    """MPAM takes sparse masks of one bit or more; an arch that doesn't gets these."""
    l3 = rdn2.res(ResourceId.L3)
    l3.arch_has_sparse_bitmasks = False
    l3.min_cbm_bits = 4
    cases = [
        ("f0f0", "The mask f0f0 has non-consecutive 1-bits\n"),
        ("0x101", "The mask 101 has non-consecutive 1-bits\n"),
        ("E", "Need at least 4 bits in the mask\n"),
        ("8000", "Need at least 4 bits in the mask\n"),
        ("0", "Mask out of range\n"),
    ]
    for value, message in cases:
        assert rdn2.write(1, f"L3:49={value}\n") == EINVAL
        assert rdn2.status.show() == message
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xFFFF
    assert rdn2.write(1, "L3:49=F000\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xF000
    # With sparse masks only the lowest run counts towards the minimum.
    l3.arch_has_sparse_bitmasks = True
    assert rdn2.write(1, "L3:49=f0e\n") == EINVAL
    assert rdn2.status.show() == "Need at least 4 bits in the mask\n"
    assert rdn2.write(1, "L3:49=10f\n") == 0
    # No minimum: an empty mask is accepted.
    l3.min_cbm_bits = 0
    assert rdn2.write(1, "L3:49=0\n") == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0


def test_non_linear_mb(rdn2: Fs) -> None:
    mb = rdn2.res(ResourceId.MBA)
    mb.arch_needs_linear = True
    assert rdn2.write(1, "MB:49=40\n") == 0  # linear delays are fine
    mb.arch_needs_linear = False
    mb.delay_linear = False
    assert rdn2.write(1, "MB:49=50\n") == 0  # an arch that does not need linear takes it
    mb.arch_needs_linear = True
    assert rdn2.write(1, "MB:49=60\n") == EINVAL
    assert rdn2.status.show() == "No support for non-linear MB domains\n"
    assert rdn2.cfg(ResourceId.MBA, 49, 1) == 50


def test_overlaps_with_exclusive_group(rdn2: Fs) -> None:
    rdn2.set(ResourceId.L3, 49, 2, 0xFF00)
    modes = {2: MODE_EXCLUSIVE}
    assert rdn2.write(1, "L3:49=100\n", closid_modes=modes) == EINVAL
    assert rdn2.status.show() == "Overlaps with exclusive group\n"
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0xFFFF
    # Root (CLOSID 0, full mask, shareable) and the hardware bits don't matter here.
    assert rdn2.write(1, "L3:49=ff\n", closid_modes=modes) == 0
    # An exclusive group that isn't allocated doesn't count.
    assert rdn2.write(1, "L3:49=ff00\n", closid_modes=modes, allocated={0, 1}) == 0
    # Nor does a group in pseudo-locksetup mode.
    assert rdn2.write(3, "L3:49=ff00\n", closid_modes={2: MODE_PSEUDO_LOCKSETUP}) == 0
    # The group's own CLOSID is never an overlap.
    assert rdn2.write(2, "L3:49=f000\n", closid_modes=modes) == 0


def test_overlaps_with_other_group(rdn2: Fs) -> None:
    # An exclusive group on MPAM overlaps the hardware's bits whatever it writes.
    assert rdn2.write(1, "L3:49=1\n", mode=MODE_EXCLUSIVE, allocated={1}) == EINVAL
    assert rdn2.status.show() == "Overlaps with other group\n"
    assert rdn2.write(1, "MB:49=20\n", mode=MODE_EXCLUSIVE) == 0  # bandwidth is not checked
    l3 = rdn2.res(ResourceId.L3)
    l3.shareable_bits = 0  # as on an arch whose hardware uses no portion
    rdn2.set(ResourceId.L3, 49, 0, 0x000F)
    assert rdn2.write(1, "L3:49=18\n", mode=MODE_EXCLUSIVE) == EINVAL  # root has bit 3
    assert rdn2.status.show() == "Overlaps with other group\n"
    assert rdn2.write(1, "L3:49=30\n", mode=MODE_EXCLUSIVE) == 0
    assert rdn2.cfg(ResourceId.L3, 49, 1) == 0x30
    # A shareable group may overlap shareable groups.
    assert rdn2.write(2, "L3:49=1f\n") == 0
    # A group in pseudo-locksetup is checked like an exclusive one...
    assert rdn2.write(2, "L3:49=8\n", mode=MODE_PSEUDO_LOCKSETUP) == EINVAL
    assert rdn2.status.show() == "Overlaps with other group\n"
    # ...and its CLOSID is nobody's overlap.
    rdn2.set(ResourceId.L3, 49, 2, 0xFFFF)
    others = {2: MODE_PSEUDO_LOCKSETUP}
    assert rdn2.write(1, "L3:49=f0\n", mode=MODE_EXCLUSIVE, closid_modes=others) == 0
    assert rdn2.write(1, "L3:49=f0\n", mode=MODE_EXCLUSIVE, allocated={0, 1, 2}) == EINVAL


def test_cdp_writes_its_own_type(rdn2_cdp: Fs) -> None:
    fs = rdn2_cdp
    assert fs.write(1, "L3CODE:49=f\n") == 0
    assert fs.cfg(ResourceId.L3, 49, 1, CdpType.CODE) == 0xF
    assert fs.cfg(ResourceId.L3, 49, 1, CdpType.DATA) == 0xFFFF
    assert fs.hw(L3, 49, 3, "MPAMCFG_CPBM") == {0xF}  # CODE: PARTID 2*1+1
    assert fs.hw(L3, 49, 2, "MPAMCFG_CPBM") == {0xFFFF}  # DATA: PARTID 2*1
    # One domain once per type: not a duplicate.
    assert fs.write(1, "L3CODE:49=f0\nL3DATA:49=f00\n") == 0
    assert fs.hw(L3, 49, 3, "MPAMCFG_CPBM") == {0xF0}
    assert fs.hw(L3, 49, 2, "MPAMCFG_CPBM") == {0xF00}
    assert fs.show(1) == "L3DATA:49=f00\nL3CODE:49=f0\n"
    for text, name in (("L3:49=f\n", "L3"), ("MB:49=50\n", "MB")):
        assert fs.write(1, text) == EINVAL
        assert fs.status.show() == f"Unknown or unsupported resource name '{name}'\n"
    assert fs.write(32, "L3DATA:49=f\n") == EINVAL
    assert fs.status.show() == "Unknown or unsupported resource name 'L3DATA'\n"
    assert fs.write(1, "L3DATA:49=1\nL3DATA:49=2\n") == EINVAL
    assert fs.status.show() == "Duplicate domain 49\n"
    assert fs.hw(L3, 49, 2, "MPAMCFG_CPBM") == {0xF00}


def test_cdp_overlap_checks_the_peer_type(rdn2_cdp: Fs) -> None:
    fs = rdn2_cdp
    r, d = fs.res(ResourceId.L3), fs.dom(ResourceId.L3, 49)
    assert fs.arch.update_one(r, d, 2, CdpType.CODE, 0xFF00) == 0  # DATA stays full
    modes = {2: MODE_EXCLUSIVE}
    assert fs.write(1, "L3CODE:49=ff\n", closid_modes=modes) == EINVAL
    assert fs.status.show() == "Overlaps with exclusive group\n"
    assert fs.arch.update_one(r, d, 2, CdpType.DATA, 0xF000) == 0
    assert fs.write(1, "L3CODE:49=ff\n", closid_modes=modes) == 0
    assert cbm_overlaps(
        fs.schemas, fs.arch, fs.schema("L3DATA"), d, 0x1000, 1, True, closid_modes=modes
    )
    assert not cbm_overlaps(
        fs.schemas, fs.arch, fs.schema("L3DATA"), d, 0x00FF, 1, True, closid_modes=modes
    )


# --- size ----------------------------------------------------------------------------------


def test_size_tiny(tiny: Fs) -> None:
    assert size_show(tiny.schemas, tiny.arch, 1, tiny.cache_size) == (
        "    MB:3=100\n    L3:3=2097152\n"
    )
    assert tiny.write(1, "L3:3=f0f\nMB:3=40\n") == 0
    assert size_show(tiny.schemas, tiny.arch, 1, tiny.cache_size) == (
        "    MB:3=40\n    L3:3=1048576\n"  # 8 of 16 portions of 2 MiB
    )


def test_size_two_socket(two: Fs) -> None:
    assert two.write(1, "L3:1=1\nL2:512=3;531=ff\n") == 0
    l2 = ";".join(
        f"{i}={v}" for i, v in ((512, 524288), (513, 2097152), (514, 2097152), (515, 2097152),
                                (528, 2097152), (529, 2097152), (530, 2097152), (531, 2097152))
    )  # fmt: skip
    assert size_show(two.schemas, two.arch, 1, two.cache_size) == (
        f"    L2:{l2}\n    L3:0=33554432;1=2097152\n"
    )


def test_size_divides_first(rdn2: Fs) -> None:
    l3 = rdn2.res(ResourceId.L3)
    d = rdn2.dom(ResourceId.L3, 49)
    assert cbm_to_size(l3, d, 0x7F, lambda r, i: 100) == 42  # 100 // 16 * 7, not 700 // 16
    assert cbm_to_size(l3, d, 0x3, rdn2.cache_size) == 1048576  # 8 MiB / 16 * 2
    assert cbm_to_size(l3, d, 0x3, lambda r, i: 0) == 0  # no cacheinfo


def test_size_cdp(rdn2_cdp: Fs) -> None:
    fs = rdn2_cdp
    assert fs.write(1, "L3CODE:49=1\nL3DATA:49=ff\n") == 0
    assert size_show(fs.schemas, fs.arch, 1, fs.cache_size) == (
        "L3DATA:49=4194304\nL3CODE:49=524288\n"
    )


# --- bit_usage -----------------------------------------------------------------------------


def test_bit_usage_mpam(rdn2: Fs) -> None:
    s = rdn2.schema("L3")
    assert bit_usage_show(s, rdn2.arch, {0}) == "49=XXXXXXXXXXXXXXXX\n"
    rdn2.set(ResourceId.L3, 49, 0, 0x000F)
    rdn2.set(ResourceId.L3, 49, 1, 0x0FF0)
    rdn2.set(ResourceId.L3, 49, 2, 0xF000)
    alloc = {0, 1}
    assert bit_usage_show(s, rdn2.arch, alloc) == "49=HHHHXXXXXXXXXXXX\n"
    # Every bit is the hardware's on MPAM: an exclusive group's bits still show H.
    out = bit_usage_show(s, rdn2.arch, {0, 2}, {2: MODE_EXCLUSIVE})
    assert out == "49=HHHHHHHHHHHHXXXX\n"
    # A CLOSID in pseudo-locksetup doesn't count.
    out = bit_usage_show(s, rdn2.arch, {0, 1, 2}, {1: MODE_PSEUDO_LOCKSETUP})
    assert out == "49=XXXXHHHHHHHHXXXX\n"


def test_bit_usage_characters(rdn2: Fs) -> None:
    l3 = rdn2.res(ResourceId.L3)
    l3.shareable_bits = 0x0003 | 0x0030  # hardware uses bits 0-1 and 4-5
    rdn2.set(ResourceId.L3, 49, 0, 0x00F0)
    rdn2.set(ResourceId.L3, 49, 2, 0x0F00)
    out = bit_usage_show(rdn2.schema("L3"), rdn2.arch, {0, 2}, {2: MODE_EXCLUSIVE})
    assert out == "49=0000EEEESSXX00HH\n"
    # Unallocated CLOSIDs don't count.
    assert bit_usage_show(rdn2.schema("L3"), rdn2.arch, {2}) == "49=0000SSSS00HH00HH\n"


def test_bit_usage_l2_domains(two: Fs) -> None:
    l2 = two.res(ResourceId.L2)
    for closid in (0, 1):
        assert two.arch.update_one(l2, two.dom(ResourceId.L2, 529), closid, CdpType.NONE, 0x3) == 0
    out = bit_usage_show(two.schema("L2"), two.arch, {0, 1})
    doms = {i: "XXXXXXXX" for i in (512, 513, 514, 515, 528, 529, 530, 531)}
    doms[529] = "HHHHHHXX"
    assert out == ";".join(f"{i}={v}" for i, v in doms.items()) + "\n"


def test_bit_usage_two_domains_and_cdp() -> None:
    fs = _mount(Machine("two-socket").boot(), cdp=True)
    r = fs.res(ResourceId.L3)
    assert fs.arch.update_one(r, fs.dom(ResourceId.L3, 1), 0, CdpType.CODE, 0x00FF) == 0
    assert fs.arch.update_one(r, fs.dom(ResourceId.L3, 0), 0, CdpType.DATA, 0x0F00) == 0
    code = bit_usage_show(fs.schema("L3CODE"), fs.arch, {0})
    data = bit_usage_show(fs.schema("L3DATA"), fs.arch, {0})
    assert code == "0=XXXXXXXXXXXXXXXX;1=HHHHHHHHXXXXXXXX\n"
    assert data == "0=HHHHXXXXHHHHHHHH;1=XXXXXXXXXXXXXXXX\n"


# --- mode ----------------------------------------------------------------------------------


def test_mode_shareable_and_no_op(rdn2: Fs) -> None:
    rdn2.status.puts("stale\n")
    assert mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, "shareable\n") == (0, MODE_SHAREABLE)
    assert rdn2.status.show() == "ok\n"
    # Writing the current mode is a no-op, even where the change would fail.
    got = mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, "exclusive\n", current=MODE_EXCLUSIVE)
    assert got == (0, MODE_EXCLUSIVE)
    got = mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, "shareable\n", current=MODE_EXCLUSIVE)
    assert got == (0, MODE_SHAREABLE)


def test_mode_exclusive_always_fails_on_mpam(rdn2: Fs) -> None:
    rdn2.set(ResourceId.L3, 49, 1, 0x1)
    got = mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, "exclusive\n", allocated={1})
    assert got == (EINVAL, MODE_SHAREABLE)
    assert rdn2.status.show() == "Schemata overlaps\n"


def test_mode_exclusive_without_overlap(rdn2: Fs) -> None:
    rdn2.res(ResourceId.L3).shareable_bits = 0
    rdn2.set(ResourceId.L3, 49, 0, 0x00FF)
    rdn2.set(ResourceId.L3, 49, 1, 0xFF00)
    args = (rdn2.schemas, rdn2.arch, rdn2.status, 1, "exclusive\n")
    assert mode_write(*args, allocated={0, 1}) == (0, MODE_EXCLUSIVE)
    assert rdn2.status.show() == "ok\n"
    # CLOSID 2, still at the full mask, overlaps.
    assert mode_write(*args, allocated={0, 1, 2}) == (EINVAL, MODE_SHAREABLE)
    assert rdn2.status.show() == "Schemata overlaps\n"


def test_mode_exclusive_without_cache() -> None:
    fs = _mount(_tiny_variant("cpor = { cpbm_wd = 16 }\n", ""))
    assert [s.name for s in fs.schemas.schemas] == ["MB"]
    got = mode_write(fs.schemas, fs.arch, fs.status, 1, "exclusive\n")
    assert got == (EINVAL, MODE_SHAREABLE)
    assert fs.status.show() == "Cannot be exclusive without CAT/CDP\n"


@pytest.mark.parametrize(
    "text",
    ["pseudo-locksetup\n", "pseudo-locked\n", "Exclusive\n", "shareable\n\n", " shareable\n",
     "shareable \n", "\n", "bogus\n"],
)  # fmt: skip
def test_mode_unknown(rdn2: Fs, text: str) -> None:
    got = mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, text)
    assert got == (EINVAL, MODE_SHAREABLE)
    assert rdn2.status.show() == "Unknown or unsupported mode\n"


@pytest.mark.parametrize("text", ["shareable", "exclusive", ""])
def test_mode_needs_newline(rdn2: Fs, text: str) -> None:
    rdn2.status.puts("stale\n")
    got = mode_write(rdn2.schemas, rdn2.arch, rdn2.status, 1, text, current=MODE_EXCLUSIVE)
    assert got == (EINVAL, MODE_EXCLUSIVE)
    assert rdn2.status.show() == "stale\n"


def test_mode_exclusive_checks_cdp_types(rdn2_cdp: Fs) -> None:
    fs = rdn2_cdp
    fs.res(ResourceId.L3).shareable_bits = 0
    r, d = fs.res(ResourceId.L3), fs.dom(ResourceId.L3, 49)
    for closid, t, cbm in ((0, CdpType.CODE, 0x00FF), (0, CdpType.DATA, 0x00FF),
                           (1, CdpType.CODE, 0x0F00), (1, CdpType.DATA, 0xF000)):  # fmt: skip
        assert fs.arch.update_one(r, d, closid, t, cbm) == 0
    args = (fs.schemas, fs.arch, fs.status, 1, "exclusive\n")
    assert mode_write(*args, allocated={0, 1}) == (0, MODE_EXCLUSIVE)
    assert fs.arch.update_one(r, d, 0, CdpType.DATA, 0x08FF) == 0  # root DATA meets 1's CODE
    assert mode_write(*args, allocated={0, 1}) == (EINVAL, MODE_SHAREABLE)
    assert fs.status.show() == "Schemata overlaps\n"


def test_status_buffer_is_shared_and_cleared(rdn2: Fs) -> None:
    assert rdn2.write(1, "L3:49=0\n") == EINVAL
    assert rdn2.status.show() == "Mask out of range\n"
    assert rdn2.write(1, "L3:49=1\n") == 0
    assert rdn2.status.show() == "ok\n"
