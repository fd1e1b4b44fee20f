"""`mpam scenario` on the command line: listing, refusing bad files before booting."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mpam.cli import main
from mpam.sim.scenario import shipped


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_list_names_the_shipped_scenarios() -> None:
    code, out = _run("scenario", "--list")
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()] == shipped()
    assert "noisy-neighbour: A streaming task evicts" in out


def test_bad_input_is_refused_before_anything_runs(tmp_path: Path) -> None:
    code, out = _run("scenario")
    assert code == 2 and "give a scenario file or name" in out
    code, out = _run("scenario", "nope")
    assert code == 1 and "Error: no scenario named 'nope'; shipped: bandwidth-cap" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nduration = "10ms"\n')
    code, out = _run("scenario", str(bad))
    assert code == 1
    assert (
        out
        == f"Error: {bad}: [scenario] duration: '10ms' is not a whole number of 4 ms scheduler ticks\n"
    )
