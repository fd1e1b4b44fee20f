"""docs/platform.md cannot drift: every ```toml block in it is a description that loads."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from mpam.platform import from_toml_text, loader
from mpam.platform.reader import Reader

DOC = Path(__file__).resolve().parents[2] / "docs" / "platform.md"
_TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return _TOML_BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_doc_has_a_toml_example() -> None:
    assert _blocks(), f"no ```toml block in {DOC}"


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_toml_block_loads(index: int) -> None:
    text = _blocks()[index]
    p = from_toml_text(text, source=f"{DOC.name} toml block {index}")
    assert p.name
    assert p.cpus and p.numa


def test_documented_example() -> None:
    """The complete example has what its prose says."""
    (p,) = (from_toml_text(b) for b in _blocks() if 'name = "example"' in b)
    assert len(p.cpus) == 8
    assert [len(m.ris) for m in p.mscs if m.name.startswith("l2-")] == [2, 2]
    assert p.cache("L3").slices == 2
    assert [m.interface.name for m in p.mscs if m.name.startswith("ddr")] == ["MMIO", "PCC"]


def _loader_keys() -> set[str]:
    """Every key the loader reads: the first argument of each Reader accessor it calls."""
    source = inspect.getsource(loader)
    accessors = [
        name
        for name, _ in inspect.getmembers(Reader, inspect.isfunction)
        if not name.startswith("_") and name not in ("done", "error", "where")
    ]
    keys = set(re.findall(rf'\.(?:{"|".join(accessors)})\(\s*"(\w+)"', source))
    keys.update(loader._RESOURCE_LIMITS)
    return keys


def test_every_key_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    keys = _loader_keys()
    assert {"packages", "cpbm_wd", "pcc_subspace", "slice", "nrdy_usec"} <= keys
    missing = sorted(k for k in keys if not re.search(rf"`{k}`|\[{k}\]|\[features\.{k}", doc))
    assert not missing, f"keys the loader reads but {DOC.name} does not document: {missing}"
