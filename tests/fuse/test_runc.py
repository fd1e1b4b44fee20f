"""runc 1.1.5 (Debian's), unmodified, under `mpam exec`: it runs a container, and refuses a
config with `intelRdt` on an MPAM machine as on real arm64 hardware, creating no group.

runc 1.1.5 enables CAT and MBA only when the first `flags` line of /proc/cpuinfo has
`cat_l3` / `mba` (libcontainer/intelrdt featuresInit); arm64's cpuinfo has no flags line.
It also finds the resctrl mount through /proc/self/mountinfo (type `resctrl`) on every
start; its statfs check of RDTGROUP_SUPER_MAGIC came in 1.1.9."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .clients import client, machine, mpam_exec
from .helpers import needs_fuse

pytestmark = needs_fuse


def _bundle(path: Path, runc: str, intel_rdt: dict[str, str] | None) -> Path:
    """An OCI bundle whose root filesystem is busybox-static's one binary."""
    rootfs = path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(client("busybox"), rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    subprocess.run([runc, "spec"], cwd=path, check=True)
    config = json.loads((path / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/sh", "-c", "echo hello from the container"]
    config["root"]["path"] = str(rootfs)
    if intel_rdt is not None:
        config["linux"]["intelRdt"] = intel_rdt
    (path / "config.json").write_text(json.dumps(config))
    return path


def test_runc_runs_a_container_and_refuses_intel_rdt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runc = client("runc")
    plain = _bundle(tmp_path / "plain", runc, None)
    rdt = _bundle(tmp_path / "rdt", runc, {"closID": "runc-ctr", "l3CacheSchema": "L3:49=f"})
    state = tmp_path / "state"
    with machine(tmp_path, monkeypatch, "rdn2", "runc") as name:
        run = f"{runc} --root {state} run --bundle"
        proc = mpam_exec(name, f"{run} {plain} c1 && ls /sys/fs/resctrl")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("hello from the container\ncpus\n")
        proc = mpam_exec(name, f"{run} {rdt} c2; echo status $?; ls /sys/fs/resctrl")
        assert proc.stderr.strip().endswith(
            'msg="runc run failed: intelRdt.l3CacheSchema is specified in config, but Intel '
            'RDT/CAT is not enabled"'
        ), proc.stderr
        assert "status 1\n" in proc.stdout
        assert "runc-ctr" not in proc.stdout  # no group was made
