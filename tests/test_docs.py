"""The documentation's examples are run, so the docs cannot drift from the code.

- ```console blocks: each `$ mpam ...` line is run (at COLUMNS=100, in a fresh directory per
  document, so files one command writes are there for the commands after it; `tests/` there
  is the repository's) and its output must equal the lines that follow it, trailing spaces
  aside. A command may end in `| head -N` or `| tail -N`; one whose output starts with
  `Error:` must fail, every other must succeed. `mpam exec` runs as its own process (it
  forks the command), its output and errors together;
- ```python blocks are executed.

`MPAM_DOCS_UPDATE=1 pytest tests/test_docs.py` writes each command's real output into its
document instead of comparing (for a change that moves every timestamp); read the diff.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.machine import client

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


PIPE = re.compile(r"^(.*?)\s*\|\s*(head|tail) -n? ?(\d+)$")


def _run(cmd: str, runtime: Path) -> tuple[int, str]:
    pipe = PIPE.match(cmd)
    args = shlex.split(pipe.group(1) if pipe else cmd)
    assert args[0] == "mpam", "only mpam commands are run"
    env = {"COLUMNS": "100", "MPAM_RUNTIME_DIR": str(runtime)}
    if args[1] == "exec":
        proc = subprocess.run([sys.executable, "-m", "mpam.cli", *args[1:]],
                              env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)  # fmt: skip
        code, output = proc.returncode, proc.stdout
    else:
        result = CliRunner().invoke(main, args[1:], env=env)
        code, output = result.exit_code, result.output
    if pipe:
        lines = output.splitlines()
        n = int(pipe.group(3))
        output = "\n".join(lines[:n] if pipe.group(2) == "head" else lines[-n:])
    return code, output


_WORKDIRS: dict[str, Path] = {}


@pytest.mark.parametrize(("where", "text"), _blocks("console"))
def test_console_examples(
    where: str,
    text: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = where.split("#")[0]
    if doc not in _WORKDIRS:
        _WORKDIRS[doc] = tmp_path_factory.mktemp(doc)
        # Examples name the test tables as they are named from the repository's root.
        (_WORKDIRS[doc] / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(_WORKDIRS[doc])
    runtime = _WORKDIRS[doc] / ".run"  # machines booted by the examples live here
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(runtime))
    try:
        _check_block(where, text, runtime)
    finally:
        for name in client.running():
            client.shutdown(client.RunningMachine(name))


def _check_block(where: str, text: str, runtime: Path) -> None:
    update = os.environ.get("MPAM_DOCS_UPDATE") == "1"
    new = list(itertools.takewhile(lambda line: not line.startswith("$ "), text.splitlines()))
    for cmd, expected in _commands(text):
        code, output = _run(cmd, runtime)
        failing = expected.lstrip().startswith("Error:")
        assert (code != 0) == failing, f"{where}: {cmd} exited {code}\n{output}"
        if update:
            new += [f"$ {cmd}", *_norm(output).splitlines()]
        else:
            assert _norm(output) == _norm(expected), f"{where}: output of {cmd!r} drifted"
    if update:
        doc = next(d for d in DOCS if d.name == where.split("#")[0])
        old, fresh = f"```console\n{text}```", "```console\n" + "\n".join(new) + "\n```"
        doc.write_text(doc.read_text().replace(old, fresh, 1))


@pytest.mark.parametrize(("where", "text"), _blocks("python"))
def test_python_examples(where: str, text: str) -> None:
    exec(compile(text, where, "exec"), {})


def test_docs_have_examples() -> None:
    assert _blocks("console") and _blocks("python")
