"""The documentation's examples are run, so the docs cannot drift from the code.

- ```console blocks: each `$ mpam ...` line is run (at COLUMNS=100) and its output must
  equal the lines that follow it, trailing spaces aside;
- ```python blocks are executed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(console|python)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for i, m in enumerate(BLOCK.finditer(doc.read_text())):
            if m.group(1) == kind:
                out.append((f"{doc.name}#{i}", m.group(2)))
    return out


def _commands(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in pairs]


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize(("where", "text"), _blocks("console"))
def test_console_examples(where: str, text: str) -> None:
    for cmd, expected in _commands(text):
        args = shlex.split(cmd)
        assert args[0] == "mpam", f"{where}: only mpam commands are run"
        result = CliRunner().invoke(main, args[1:], env={"COLUMNS": "100"})
        assert result.exit_code == 0, f"{where}: {cmd}\n{result.output}"
        assert _norm(result.output) == _norm(expected), f"{where}: output of {cmd!r} drifted"


@pytest.mark.parametrize(("where", "text"), _blocks("python"))
def test_python_examples(where: str, text: str) -> None:
    exec(compile(text, where, "exec"), {})


def test_docs_have_examples() -> None:
    assert _blocks("console") and _blocks("python")
