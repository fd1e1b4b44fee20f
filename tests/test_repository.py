"""The repository stands on its own: nothing it tracks points outside it.

A fresh clone, with nothing beside it, must test, document and run itself. So no tracked file
may reach for a path beyond the repository's root (a relative `../` that climbs out, an
absolute path into a developer's machine, `Path(__file__).parents[N]` past the root), and
every relative link in the README and the docs must name a file the repository has.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Relative paths that climb: `../x`, `../../x`.
CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+)([\w.-]*)")
#: Absolute paths into a particular machine's file system.
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:work|home|Users|root)/[\w.-]+")
#: `Path(__file__)...parents[N]`.
PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?\.parents\[(\d+)\]")
#: A path built by joining "..": `/ ".."` or `".." /`.
JOINED_UP = re.compile(r"""/\s*["']\.\.["']|["']\.\.["']\s*/""")
#: Markdown links and images: [text](target).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in out.split("\0") if name]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


def _outside_references(path: Path, text: str) -> list[str]:
    """Each place in `text` that names something beyond the repository's root."""
    found = []
    here = path.parent
    for m in CLIMB.finditer(text):
        target = m.group(1) + m.group(2)
        # A climb is fine when it lands inside the repository from the file's own folder
        # (a doc linking ../README.md) or from the root (a script run from it).
        if not (_inside(here / target) or _inside(ROOT / target)):
            found.append(target)
    found += [m.group(0) for m in ABSOLUTE.finditer(text)]
    depth = len(path.relative_to(ROOT).parts) - 1
    found += [m.group(0) for m in PARENTS.finditer(text) if int(m.group(1)) > depth]
    if path.suffix == ".py":
        found += [m.group(0) for m in JOINED_UP.finditer(text)]
    return found


def test_no_tracked_file_references_a_path_outside_the_repository() -> None:
    bad = {}
    for path in _tracked():
        if path.resolve() == Path(__file__).resolve():
            continue  # this file names the patterns it looks for
        text = _text(path)
        if text is not None and (refs := _outside_references(path, text)):
            bad[str(path.relative_to(ROOT))] = refs
    assert not bad, f"paths outside the repository: {bad}"


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    doc = ROOT / "docs" / "example.md"
    assert _outside_references(doc, "see [the notes](../../beside-the-clone/notes.md)")
    assert _outside_references(doc, "data in /home/someone/tables")
    assert not _outside_references(doc, "see [the README](../README.md)")
    test = ROOT / "tests" / "firmware" / "test_x.py"
    assert _outside_references(test, 'Path(__file__).resolve().parents[3] / "x"')
    assert _outside_references(test, 'Path(__file__).parents[1] / ".." / "x"')
    assert not _outside_references(test, 'Path(__file__).resolve().parents[2] / "x"')


def _links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code is not links
    return [m.group(1) for m in LINK.finditer(text)]


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    for target in _links(doc):
        if re.match(r"[a-z]+:", target):
            assert doc.name != "README.md", f"the README links outside the repository: {target}"
            continue
        file, _, _anchor = target.partition("#")
        if not file:
            continue  # a link to a heading of the same page
        resolved = (doc.parent / file).resolve()
        assert _inside(resolved), f"{doc.name} links outside the repository: {target}"
        assert resolved.exists(), f"{doc.name} links to a missing file: {target}"


def test_readme_links_the_design() -> None:
    assert "docs/design.md" in _links(ROOT / "README.md")
