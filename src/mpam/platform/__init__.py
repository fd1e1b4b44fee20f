"""Machine descriptions: TOML files validated into frozen records, and the shipped presets.

`load("rdn2")` gives a preset; `load("path/to/machine.toml")` a description of your own.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mpam.platform.loader import from_table, from_toml, from_toml_text
from mpam.platform.model import Platform
from mpam.platform.reader import PlatformError

__all__ = [
    "DEFAULT",
    "Platform",
    "PlatformError",
    "from_table",
    "from_toml",
    "from_toml_text",
    "load",
    "presets",
]

#: The platform a machine boots when none is named: the Neoverse RD-N2 of the RD-N2 walkthrough.
DEFAULT = "rdn2"


def presets() -> list[str]:
    """Names of the descriptions that ship inside the package."""
    folder = resources.files("mpam.platform") / "presets"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load(name_or_path: str | Path = DEFAULT) -> Platform:
    """The validated description named by a preset name or a TOML file path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text:
        return from_toml(name_or_path)
    if text not in presets():
        raise PlatformError(f"no preset named {text!r}; presets: {', '.join(presets())}")
    resource = resources.files("mpam.platform") / "presets" / f"{text}.toml"
    return from_toml_text(resource.read_text(encoding="utf-8"), source=f"preset {text}")
