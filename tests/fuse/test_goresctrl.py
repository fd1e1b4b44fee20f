"""goresctrl (Debian's 0.3.0, the library of Kubernetes' RDT plugins), unmodified, under
`mpam exec`: a Go program built from its source initialises on the machine's resctrl,
applies a config of partitions and classes and adds a real process to a class."""

from __future__ import annotations

import os
import re
import subprocess
import time
from importlib import resources
from pathlib import Path

import pytest

from .clients import client, machine, mpam, mpam_exec
from .helpers import needs_fuse, run_ok

pytestmark = needs_fuse
PROGRAM = Path(__file__).parent.parent / "data" / "clients" / "goresctrl"
GORESCTRL = Path("/usr/share/gocode/src/github.com/intel/goresctrl/pkg/rdt")


@pytest.fixture(scope="module")
def rdtapply(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, built as docs/clients.md says (GOPATH mode, Debian's sources only)."""
    go = client("go")
    if not GORESCTRL.is_dir():
        client("goresctrl's source (golang-github-intel-goresctrl-dev)")
    out = tmp_path_factory.mktemp("go") / "rdtapply"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode",
           "GOCACHE": str(out.parent / "cache"), "GOFLAGS": ""}  # fmt: skip
    subprocess.run([go, "build", "-o", str(out), "."], cwd=PROGRAM, env=env, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    return out


def _platform(tmp_path: Path) -> Path:
    """`tiny` with a 6-bit MBW_MAX: min_bandwidth 2, so goresctrl takes MB as supported.
    (With rdn2's 8 bits, upstream's get_mba_min gives 0, and goresctrl refuses any
    mbAllocation: docs/clients.md.)"""
    text = (resources.files("mpam.platform") / "presets" / "tiny.toml").read_text()
    assert "bwa_wd = 8" in text
    path = tmp_path / "tiny-mbw6.toml"
    path.write_text(text.replace("bwa_wd = 8", "bwa_wd = 6"))
    return path


def _row(ps: str, host_pid: int) -> list[str]:
    return next(line.split() for line in ps.splitlines() if line.endswith(f" {host_pid}"))


def test_goresctrl_applies_partitions_and_classes(
    rdtapply: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = subprocess.Popen(["sleep", "300"])
    try:
        with machine(tmp_path, monkeypatch, str(_platform(tmp_path)), "go") as name:
            script = (
                f"{rdtapply} {PROGRAM / 'rdt.yaml'} bronze {worker.pid} || exit\n"
                "cd /sys/fs/resctrl; for g in bronze gold; do echo $g; cat $g/schemata; done\n"
                "cat bronze/tasks\n"
                f"{mpam('ps', '-n', name)}"
            )
            proc = mpam_exec(name, script)
            assert proc.returncode == 0, proc.stderr
            out = proc.stdout
            assert out.startswith(
                f"class bronze pids [{worker.pid}]\nclass gold pids []\n"
                "class system/default pids []\n"
            ), out
            # partitions take L3 bits in name order: be 0-3, lc 4-15; MB is class% x partition%
            assert "bronze\n    MB:3=20\n    L3:3=f\ngold\n    MB:3=100\n    L3:3=fff0\n" in out
            assert f"L3:3=fff0\n{worker.pid}\n" in out  # bronze's tasks, in host pids
            row = _row(out, worker.pid)
            # goresctrl makes the groups in Go's map order: bronze is CLOSID 1 or 2
            assert row[1] == "sleep" and row[4] in ("1", "2")
            worker.kill()
            worker.wait()
            for _ in range(100):
                if f" {worker.pid}" not in run_ok("ps", "-n", name):
                    break
                time.sleep(0.05)
            assert f" {worker.pid}" not in run_ok("ps", "-n", name)
    finally:
        worker.kill()


def test_goresctrl_refuses_mb_where_min_bandwidth_is_0(
    rdtapply: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with machine(tmp_path, monkeypatch, "rdn2", "go") as name:
        proc = mpam_exec(name, f"{rdtapply} {PROGRAM / 'rdt.yaml'} bronze $$")
        assert proc.returncode == 1
        # (it names whichever class Go's map order reaches first)
        assert re.fullmatch(
            "rdtapply: rdt.SetConfigFromData: resctrl configuration failed: memory bandwidth "
            'allocation for "(bronze|gold)" specified in configuration but not supported by '
            "system\n",
            proc.stderr,
        ), proc.stderr
