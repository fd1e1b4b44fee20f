"""Small MSC descriptions for the hw tests, written as TOML and built through the real loader.

`make_msc(...)` formats a TOML document with one MSC (one RIS per features table) and
returns the `Msc` (or `PccMsc`) that `mpam.hw.build` makes of it; no mocks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mpam.hw import build
from mpam.hw.msc import Msc
from mpam.platform import from_toml_text

ERR_GSIV = 100
OFLOW_GSIV = 101

_HEADER = """\
name = "hwtest"
description = "one MSC for a register-level test"

[topology]
packages = 1
clusters_per_package = 1
cores_per_cluster = 2

[[cache]]
name = "L1D"
level = 1
type = "data"
size = "32KiB"
ways = 4
shared_by = "core"
id_base = 0x100

[[cache]]
name = "L2"
level = 2
size = "256KiB"
ways = 8
shared_by = "core"
id_base = 0x200

[[cache]]
name = "L3"
level = 3
size = "1MiB"
ways = 16
shared_by = "system"
ids = [3]

[[numa]]
node = 0
proximity_domain = 0
memory = "1GiB"
bandwidth = "10GB/s"
latency_ns = 80
"""


def toml_value(v: Any) -> str:
    """One TOML value on one line (inline tables for dicts)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def msc_toml(ris: list[dict[str, Any]] | None = None, **msc: Any) -> str:
    """A platform TOML with one MSC; `ris` is a list of feature tables, RIS 0, 1, ..."""
    ris = ris if ris is not None else [{}]
    fields: dict[str, Any] = {
        "name": "msc0",
        "identifier": 0,
        "base_address": 0x1000_0000,
        "size": 0x4000,
        "error_interrupt": {"gsiv": ERR_GSIV},
        "overflow_interrupt": {"gsiv": OFLOW_GSIV},
    }
    if msc.get("interface") == "pcc":
        del fields["base_address"]
    fields.update(msc)
    for k in [k for k, v in fields.items() if v is None]:
        del fields[k]
    entries = []
    for i, feats in enumerate(ris):
        f = {"partid_max": 15, "pmg_max": 1, **feats}
        index = f.pop("index", i)
        entries.append(
            {
                "index": index,
                "identifier": 10 + i,
                "resource": {"kind": "memory", "node": 0},
                "features": f,
            }
        )
    lines = [_HEADER, "[[msc]]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in fields.items()]
    lines.append(f"ris = {toml_value(entries)}")
    return "\n".join(lines) + "\n"


def make_msc(ris: list[dict[str, Any]] | None = None, **msc: Any) -> Msc:
    """Build the one MSC of `msc_toml(ris, **msc)` in its reset state."""
    return build(from_toml_text(msc_toml(ris, **msc))).mscs[0]  # type: ignore[return-value]


@pytest.fixture
def new_msc() -> Callable[..., Msc]:
    return make_msc


@pytest.fixture
def platform_toml() -> Callable[..., str]:
    """`msc_toml`: the TOML text, for tests that add more MSCs to it."""
    return msc_toml
