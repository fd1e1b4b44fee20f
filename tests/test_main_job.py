"""The README's main command, run as a newcomer runs it (on `tiny`, the install skipped):
it succeeds, tells its story in about 300 lines, announces every step with a heading, shows
every command it runs as `$ ...`, shows the refused write as expected, and leaves no machine
running and nothing mounted."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "main.sh"

pytestmark = pytest.mark.skipif(
    not os.path.exists("/dev/fuse"), reason="/dev/fuse is missing: FUSE cannot mount here"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("main")
    (out / "tmp").mkdir()
    proc = subprocess.run(
        [str(SCRIPT), "-p", "tiny", "--out", str(out), "--no-install"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "160", "TMPDIR": str(out / "tmp")},
    )
    return proc, out


def _lines(run: tuple[subprocess.CompletedProcess[str], Path]) -> list[str]:
    return run[0].stdout.splitlines()


def test_it_succeeds_in_about_300_lines(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, _ = run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr
    assert 100 <= len(_lines(run)) <= 320


def test_every_step_has_a_heading_then_commands(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    lines = _lines(run)
    headings = [i for i, line in enumerate(lines) if line.startswith("== ")]
    assert len(headings) >= 15
    # Each heading is one line of words, and every step but the first (the install) and the
    # last (where the files are) shows at least one command.
    for i, j in itertools.pairwise(headings[1:]):
        assert any(line.startswith("$ ") for line in lines[i:j]), lines[i]
    assert all(len(lines[i]) <= 160 for i in headings)


def test_every_command_it_runs_is_shown(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Each command the script itself runs (a `show` or `refused` line in it, but those
    marked conditional) prints `$ `."""
    text = SCRIPT.read_text()
    shown = len(re.findall(r'^\s*(?:show|refused) "(?!.*# \(conditional\)$)', text, re.M))
    looped = len(re.findall(r"^\s*show \"mpam acpi decode", text, re.M)) * 2  # 3 tables, 1 line
    printed = [line for line in _lines(run) if line.startswith("$ ")]
    assert len(printed) >= shown + looped


def test_no_python_errors_and_the_refusal_reads_as_expected(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out = run[0].stdout
    assert "Traceback" not in out
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", out)
    assert "write error" not in out
    assert (
        "write refused, as the kernel would: Invalid argument; last_cmd_status: Mask out of range"
        in out
    )


def test_numbers_carry_their_meaning(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    out = run[0].stdout
    # tiny's L3: 2 MiB of 16 ways; the group has 4 ways, then 12.
    assert re.search(r"# bytes of L3 the group holds: 512\.0 KiB, 4 of 16 ways", out)
    assert re.search(r"# 1\.5 MiB, 12 of 16 ways", out)
    assert re.search(r"# .* more in 100 ms of simulated time: \d+\.\d\d GB/s", out)


def test_it_ends_watching_the_victim_recover(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The last step: mpam monitor's rows for the victim before and after the stream is
    confined (occupancy up, memory bandwidth down, IPC up), then the machine shut down."""
    lines = _lines(run)
    last = max(i for i, line in enumerate(lines) if line.startswith("== "))
    step = max(i for i, line in enumerate(lines[:last]) if line.startswith("== "))
    assert lines[step].startswith("== Watch the noisy neighbour live")
    header = "TIME s GROUP IPC LLC MISS/s LLC OCC B MBM TOTAL B/s MBM LOCAL B/s"
    assert sum(" ".join(line.split()) == header for line in lines[step:last]) == 3
    victim = [line.split() for line in lines[step:last] if line.split()[1:2] == ["victim"]]
    assert len(victim) == 3
    before, after = victim[0], victim[-1]
    assert float(after[2]) > float(before[2])  # IPC
    assert int(after[4]) > int(before[4])  # llc_occupancy
    assert float(after[5]) < float(before[5]) / 2  # mbm_total_bytes per second
    assert lines[last - 2 : last - 1] == ["mpam: shut down"]


def test_firmware_is_a_summary_and_the_decode_a_file(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, out = run
    assert "MPAM is enabled once all 2 MSCs have probed" in proc.stdout
    assert "[000h 0000 004h]" not in proc.stdout  # the iasl-style decode is not printed
    assert (out / "tables" / "MPAM.dsl").read_text().count("Signature") == 1
    assert (out / "noisy-neighbour" / "tasks.csv").exists()


def _machines_under(tmp: Path) -> list[int]:
    """Processes whose runtime directory is under `tmp`: the job's machines."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(e.startswith(b"MPAM_RUNTIME_DIR=" + bytes(tmp)) for e in environ):
            pids.append(int(proc.name))
    return pids


def test_it_leaves_nothing_behind(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = run
    assert str(out / "resctrl") not in Path("/proc/self/mounts").read_text()
    assert list((out / "tmp").iterdir()) == []  # the machine's runtime directory is gone
    assert _machines_under(out / "tmp") == []
