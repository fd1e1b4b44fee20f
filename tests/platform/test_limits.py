"""Every numeric field of a platform at the edges of its range, through load -> ACPI
tables -> parse back -> boot: a value is either refused at load time with its key path, or
it builds, parses and boots. Never a struct.error from `mpam acpi build`, never a failure
at boot. (A full sweep of ~330 cases found the limits the loader now enforces; these are
its edges, CI-sized.)"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from mpam.firmware import build_tables, parse_mpam, parse_pptt, parse_srat
from mpam.machine.machine import Machine
from mpam.platform import PlatformError, from_table

U16, U32 = 0xFFFF, 0xFFFF_FFFF
TINY = tomllib.loads((resources.files("mpam.platform") / "presets" / "tiny.toml").read_text())


def _set(table: dict[str, Any], path: str, value: object) -> None:
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    node: Any = table
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    node[keys[-1]] = value


# (key path, value, the load-time refusal it must get, or None: it must build and boot);
# a path may name several keys, "a=1;b=2" style, set together
CASES: list[tuple[str, object, str | None]] = [
    ("firmware.oem_revision", U32, None),
    ("firmware.oem_revision", U32 + 1, "firmware.oem_revision: must be 0..4294967295"),
    ("firmware.mpam_revision", 255, None),
    ("cpu_mpam.partid_max", U16, None),
    ("cpu_mpam.pmg_max", 256, "cpu_mpam.pmg_max: must be 0..255"),
    ("cache.3.ways;cache.3.size", (62, 62 * 64 * 512), None),
    (
        "cache.3.ways;cache.3.size",
        (63, 63 * 64 * 512),
        "63 ways: mpam's cache model keeps at most 62 ways per set",
    ),
    ("cache.3.ways", 256, "cache[3].ways: must be 1..255, got 256"),
    ("cache.3.size", 0xFFFF_C000, None),
    ("cache.3.size", 1 << 32, "cache[3].size: must be below 4 GiB"),
    ("cache.3.ids", [U32], None),
    ("cache.3.ids", [U32 + 1], "cache[3].ids: must be a list of 32-bit cache ids"),
    ("cache.3.slices", 1024, None),
    ("numa.0.memory", "1000000TiB", "does not fit a 52-bit physical address space"),
    ("numa.0.bandwidth", "0GB/s", "numa[0].bandwidth: must be at least 1B/s"),
    ("numa.0.proximity_domain", U32, None),
    ("msc.0.size", 0x1000, "cannot hold MPAMCFG_CPBM of RIS 0"),
    ("msc.0.identifier", U32, None),
    ("msc.0.ris.0.identifier", U32, None),
    ("msc.0.ris.0.dependencies", [2] * 8180, "its MPAM table node would be 65536 bytes"),
    ("msc.0.ris.0.dependencies", [2, 2], "RIS 0 lists dependency 2 twice"),
    ("features.l3.partid_max", U16, None),
    ("features.l3.cpor.cpbm_wd", 32768, None),
    ("features.l3.cpor.cpbm_wd;msc.0.size", (32768, 0x1000), "cannot hold MPAMCFG_CPBM of RIS 0"),
    ("features.mem.mbw.bwa_wd", 16, None),
    ("features.l3.msmon.csu.num_mon", U16, None),
]


@pytest.mark.parametrize(("path", "value", "refusal"), CASES,
                         ids=[f"{p}={str(v)[:20]}" for p, v, _ in CASES])  # fmt: skip
def test_a_value_is_refused_at_load_or_builds_and_boots(
    path: str, value: object, refusal: str | None
) -> None:
    table = copy.deepcopy(TINY)
    paths = path.split(";")
    for p, v in zip(paths, value if len(paths) > 1 else (value,), strict=True):  # type: ignore[arg-type]
        _set(table, p, v)
    if refusal is not None:
        with pytest.raises(PlatformError) as info:
            from_table(table, source="sweep")
        assert refusal in str(info.value)
        return
    platform = from_table(table, source="sweep")
    tables = build_tables(platform)
    parse_mpam(tables["MPAM.aml"])
    parse_pptt(tables["PPTT.aml"])
    parse_srat(tables["SRAT.aml"])
    m = Machine(platform).boot()
    assert m.kernel.cpuhp.online_mask
