"""The RD-N2 walkthrough's resctrl session, run verbatim in a shell on the default platform
(Arm's RD-N2 MPAM-resctrl guide: "Exploring resctrl file-system" and "Configuring MPAM via
resctrl")."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, run_cli, shutdown_all

pytestmark = needs_fuse

WALKTHROUGH = """\
cd "$RESCTRL"
ls
cat cpus
cat cpus_list
cat schemata
cat tasks | head -3
cat mode
cd info
ls
cd L3
ls
cat cbm_mask
cat bit_usage
cat min_cbm_bits
cat shareable_bits
cat num_closids
cd ..
cat last_cmd_status
cd ..
echo L3:49=0000 > schemata
echo "rc=$?"
cat info/last_cmd_status
mkdir partid_space_2
ls
cd partid_space_2/
ls
cat schemata
echo "L3:49=3ff" > schemata
cat schemata
cat tasks
echo 23 > tasks
cat tasks
cd ../
cat tasks | grep -cx 23
cd partid_space_2
echo 24 > tasks
cat tasks
cd ../
mkdir partid_space_3
ls
"""

EXPECTED = """\
cpus
cpus_list
info
mbm_L3_assignments
mode
mon_data
mon_groups
schemata
size
tasks
ffff
0-15
    MB:49=100
    L3:49=ffff
1
2
3
shareable
L3
L3_MON
MB
last_cmd_status
bit_usage
cbm_mask
min_cbm_bits
num_closids
shareable_bits
sparse_masks
ffff
49=XXXXXXXXXXXXXXXX
1
ffff
64
ok
rc=1
Mask out of range
cpus
cpus_list
info
mbm_L3_assignments
mode
mon_data
mon_groups
partid_space_2
schemata
size
tasks
cpus
cpus_list
mbm_L3_assignments
mode
mon_data
mon_groups
schemata
size
tasks
    MB:49=100
    L3:49=ffff
    MB:49=100
    L3:49=3ff
23
0
23
24
cpus
cpus_list
info
mbm_L3_assignments
mode
mon_data
mon_groups
partid_space_2
partid_space_3
schemata
size
tasks
"""


_run = run_cli


@pytest.fixture
def resctrl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    point = tmp_path / "resctrl"
    point.mkdir()
    assert _run("mount", str(point))[0] == 0
    yield point
    shutdown_all()


def test_walkthrough_in_a_shell(resctrl: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", WALKTHROUGH],
        env={**os.environ, "RESCTRL": str(resctrl), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == EXPECTED
    assert "write error: Invalid argument" in done.stderr
    # The new PARTID's default and its new bitmap went to every SLC slice.
    code, out = _run("trace", "--kind", "mmio", "--register", "MPAMCFG_CPBM")
    assert code == 0
    cpbm = [line.split("] ", 1)[1].split() for line in out.splitlines()]
    # each names the PARTID that PART_SEL had selected: the new group's, 1
    assert [w for w in cpbm if w[5] == "0x000003ff"] == [
        [f"slc{i}", "write", "0x1000", "MPAMCFG_CPBM<0>", "=", "0x000003ff", "[partid", "1",
         "ris", "0]"] for i in range(8)
    ]  # fmt: skip
    code, out = _run("trace", "--kind", "mmio", "--register", "MPAMCFG_PART_SEL")
    selected = {
        line.split("] ", 1)[1].split()[0] for line in out.splitlines() if " = 0x00000001 " in line
    }
    assert {f"slc{i}" for i in range(8)} <= selected  # PARTID 1 selected on every slice


def test_groups_up_to_num_closids(resctrl: Path) -> None:
    script = 'cd "$RESCTRL"; for i in $(seq 1 63); do mkdir g$i || exit 1; done; mkdir g64; echo "rc=$?"; cat info/last_cmd_status'
    done = subprocess.run(["bash", "-c", script], env={**os.environ, "RESCTRL": str(resctrl)},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.stdout == "rc=1\nOut of CLOSIDs\n"
    assert "No space left on device" in done.stderr
