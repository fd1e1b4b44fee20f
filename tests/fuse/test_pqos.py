"""pqos (intel-cmt-cat, Debian's 4.5), unmodified, with its OS interface (`-I`) under
`mpam exec` on `tiny`: each command does to the tree what the kernel would do with the
same writes, with no recipe beyond `mpam exec`.

pqos takes the cache geometry and the vendor from CPUID (this host's says AMD, so it writes
AMD's MBA values), the topology and L3 ids from the machine's sysfs, `resctrl` from
/proc/filesystems, and finds the mount by /sys/fs/resctrl/cpus."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .clients import client, machine, mpam, mpam_exec
from .helpers import needs_fuse

pytestmark = needs_fuse


NOTE = (
    "NOTE:  Mixed use of MSR and kernel interfaces to manage\n"
    "       CAT or CMT & MBM may lead to unexpected behavior.\n"
)


def test_pqos_allocates_on_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pqos = client("pqos")
    worker = subprocess.Popen(["sleep", "300"])
    try:
        with machine(tmp_path, monkeypatch, "tiny", "pq") as name:
            r = "/sys/fs/resctrl"
            script = f"""
                {pqos} -I -d >/dev/null 2>&1; echo "d $?"; ls -d {r}/COS* | wc -l
                {pqos} -I -e llc:1=0x000f; echo "e $?"; cat {r}/COS1/schemata
                {pqos} -I -e mba:1=50; echo "mba $?"; cat {r}/COS1/schemata
                {pqos} -I -a core:1=1; echo "core $?"; cat {r}/COS1/cpus {r}/cpus_list
                {pqos} -I -a pid:1={worker.pid} >/dev/null 2>&1; echo "pid $?"; cat {r}/COS1/tasks
                {mpam("ps", "-n", name)} | grep -w sleep
                {pqos} -I -s | grep -E 'Core 1,|COS1 =>'
                {pqos} -I -R >{tmp_path}/R.out 2>&1; echo "R $?"; tail -1 {tmp_path}/R.out
                cat {r}/COS1/schemata {r}/COS1/cpus {r}/cpus_list {r}/COS1/tasks
            """
            proc = mpam_exec(name, script)
            assert proc.returncode == 0, proc.stderr
            # -d made the groups COS1..COS15 (info/L3/num_closids is 16)
            expected = "d 0\n15\n"
            # one L3 line for every L3 id of the sysfs topology (3 on tiny): the kernel keeps
            # the MB line as it was; AMD's MBA values are absolute, 50 fits MPAM's percent
            expected += NOTE + "Core Complex 3 L3CA COS1 => MASK 0xf\n"
            expected += "Allocation configuration altered.\ne 0\n    MB:3=100\n    L3:3=f\n"
            expected += NOTE + "Core Complex 3 MBA COS1 => 50 requested, 50 applied\n"
            expected += "Allocation configuration altered.\nmba 0\n    MB:3=50\n    L3:3=f\n"
            # pqos writes "02," to COS1/cpus: the kernel's cpumask parser takes it, and CPU 1
            # leaves the default group
            expected += NOTE + "Allocation configuration altered.\ncore 0\n2\n0,2-3\n"
            # a host pid joins the machine, in COS1: PARTID 1
            expected += f"pid 0\n{worker.pid}\n"
            assert proc.stdout.startswith(expected), proc.stdout
            rest = proc.stdout[len(expected) :].splitlines()
            assert rest[0].split()[1:6] == ["sleep", "0", "S", "1", "0"]
            assert rest[0].split()[-1] == str(worker.pid)
            assert rest[1:3] == [
                "    Core 1, L2ID 513, L3ID 3 => COS1",
                f"    COS1 => {worker.pid}",
            ]
            # -R writes MB:3=2048 (AMD's full bandwidth): the kernel refuses it (out of range),
            # so schemata stay, while CPUs and every host process /proc lists go to the default
            assert rest[3:] == ["R 1", "Allocation reset failed!", "    MB:3=50", "    L3:3=f",
                                "0", "0-3"]  # fmt: skip
    finally:
        worker.kill()
