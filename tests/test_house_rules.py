"""House rules of docs/design.md §4 that a script can check."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mpam"
#: Bottom to top (docs/design.md §2); cli and fuse are the faces on top.
LAYERS = [
    "platform",
    "hw",
    "firmware",
    "kernel",
    "sim",
    "resctrl",
    "driver",
    "machine",
    "cli",
    "fuse",
]
MODULES = sorted(p for p in SRC.rglob("*.py"))


def _layer(path: Path) -> str | None:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return [m for m in out if m.startswith("mpam.")]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_layers_import_only_downward(path: Path) -> None:
    layer = _layer(path)
    if layer is None:
        return
    assert layer in LAYERS, f"{layer} is not a layer of docs/design.md §2"
    own = LAYERS.index(layer)
    for module in _imports(path):
        target = module.split(".")[1]
        if target in LAYERS:
            assert LAYERS.index(target) <= own, f"{layer} must not import {module} (a higher layer)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_literal_register_offsets(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"(read32|write32)\(\s*(0x[0-9a-fA-F]+|\d+)\s*[,)]", text), (
        "register offsets come from mpam.hw.regmap, never literals"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_public_modules_declare_all(path: Path) -> None:
    if path.name.startswith("_") and path.name != "__init__.py":
        return
    tree = ast.parse(path.read_text())
    names = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert "__all__" in names, f"{path.name} must declare __all__"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_print_in_library_code(path: Path) -> None:
    if _layer(path) == "cli":
        return
    tree = ast.parse(path.read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"
    ]
    assert not calls, "library code logs or returns; only the CLI prints"


def test_rules_can_fail() -> None:
    """The checks above would catch a violation (guard against a check that cannot fail)."""
    assert re.search(r"(read32|write32)\(\s*(0x[0-9a-fA-F]+|\d+)\s*[,)]", "msc.write32(0x100, 1)")
    assert LAYERS.index("hw") < LAYERS.index("driver")
