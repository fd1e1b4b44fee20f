"""`mpam exec`: a command and every process it starts see the machine as their system
(resctrl at /sys/fs/resctrl of type resctrl, the machine's CPUs and cpuinfo), and host
processes written to `tasks` join the machine and leave it when they exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, run_ok, shutdown_all

pytestmark = [
    needs_fuse,
    pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux 5.3)"),
]


def mpam_exec(*argv: str, name: str = "ex", check: bool = True) -> subprocess.CompletedProcess[str]:
    """`mpam exec -n NAME -- ARGV...` as a user runs it (its own process)."""
    proc = subprocess.run([sys.executable, "-m", "mpam.cli", "exec", "-n", name, "--", *argv],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    run_ok("boot", "-p", "rdn2", "--paused", "--name", "ex")
    try:
        yield "ex"
    finally:
        shutdown_all()


def test_every_process_sees_resctrl_as_the_kernel_mounts_it(machine: str) -> None:
    out = mpam_exec("sh", "-c", 'sh -c "cat /proc/self/mountinfo"').stdout
    lines = [line for line in out.splitlines() if " /sys/fs/resctrl " in line]
    assert len(lines) == 1, out
    assert lines[0].split(" - ")[1] == "resctrl resctrl rw"
    assert lines[0].split()[5] == "rw,relatime"
    # the overlays that make the namespace are not listed
    assert "fuse." not in out and " /sys/fs " not in out and " /proc/self " not in out
    mounts = mpam_exec("cat", "/proc/mounts").stdout
    assert "resctrl /sys/fs/resctrl resctrl rw,relatime 0 0" in mounts.splitlines()
    assert "nodev\tresctrl" in mpam_exec("cat", "/proc/filesystems").stdout.splitlines()


def _exec_with(options: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mpam.cli", "exec", "-n", "ex", "-o", options,
                           "--", *argv], capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_mount_options_as_resctrl_shows_them(machine: str) -> None:
    proc = _exec_with("debug,cdp", "cat", "/proc/mounts")
    assert proc.returncode == 0, proc.stderr
    assert "resctrl /sys/fs/resctrl resctrl rw,relatime,cdp,debug 0 0" in proc.stdout
    # resctrl was mounted for the command only
    assert "resctrl mounted" not in run_ok("status", "-n", machine)
    refused = _exec_with("mba_MBps", "true")
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: mpam exec: Invalid argument (EINVAL): mba_MBps requires MBM (mbm_event mode "
        "not supported) and linear scale MBA at L3 scope\n"
    )


def test_the_machine_is_the_system(machine: str) -> None:
    cache = "/sys/devices/system/cpu/cpu0/cache/index3"
    out = mpam_exec("cat", "/sys/devices/system/cpu/online", f"{cache}/id", f"{cache}/size")
    assert out.stdout == "0-15\n49\n8192K\n"
    info = mpam_exec("cat", "/proc/cpuinfo").stdout
    assert info.count("processor\t:") == 16
    assert "CPU implementer\t: 0x41\n" in info and "CPU part\t: 0xd49\n" in info
    assert "flags" not in info  # arm64's c_show: no x86 flags line
    run_ok("cpu", "offline", "-n", machine, "3")
    assert mpam_exec("cat", "/sys/devices/system/cpu/online").stdout == "0-2,4-15\n"
    assert mpam_exec("cat", "/proc/cpuinfo").stdout.count("processor\t:") == 15


def test_the_exit_status_is_the_commands(machine: str) -> None:
    assert mpam_exec("sh", "-c", "exit 7", check=False).returncode == 7
    missing = mpam_exec("no-such-command-here", check=False)
    assert missing.returncode == 127
    assert missing.stderr.strip() == "mpam exec: no-such-command-here: No such file or directory"


def test_a_host_process_joins_a_group_and_leaves_when_it_exits(machine: str) -> None:
    script = (
        "set -e; mkdir /sys/fs/resctrl/g1; echo 'L3:49=f' > /sys/fs/resctrl/g1/schemata\n"
        "sleep 60 >/dev/null 2>&1 &\n"
        "echo $! > /sys/fs/resctrl/g1/tasks; echo $!; cat /sys/fs/resctrl/g1/tasks\n"
        f"{sys.executable} -m mpam.cli ps -n {machine}"
    )
    out = mpam_exec("sh", "-c", script).stdout.splitlines()
    host_pid = int(out[0])
    assert out[1] == str(host_pid)  # the group's tasks, in the host's numbers
    row = next(line for line in out if line.endswith(f" {host_pid}")).split()
    assert row[1] == "sleep" and row[4] == "1"  # g1 is CLOSID 1: PARTID 1
    # the session had mounted resctrl: unmounted at its end, the task is back in the default
    # group, and still a task of the machine while the process lives
    row = next(line for line in run_ok("ps", "-n", machine).splitlines()
               if line.endswith(f" {host_pid}")).split()  # fmt: skip
    assert row[1] == "sleep" and row[4] == "0"
    os.kill(host_pid, 9)
    for _ in range(100):
        if f" {host_pid}" not in run_ok("ps", "-n", machine):
            break
        time.sleep(0.05)
    assert f" {host_pid}" not in run_ok("ps", "-n", machine)


def test_a_pid_neither_machine_nor_host_has_is_no_task(machine: str) -> None:
    script = "echo 4194303 > /sys/fs/resctrl/tasks; cat /sys/fs/resctrl/info/last_cmd_status"
    proc = mpam_exec("bash", "-c", script, check=False)  # bash, which names the errno
    assert proc.stderr.endswith("write error: No such process\n")
    assert proc.stdout == "No task 4194303\nError while processing task 4194303\n"


def test_a_monitoring_agent_reads_every_groups_mon_data_unprivileged(machine: str) -> None:
    """The agent of docs/clients.md: as `nobody`, every mon_data file of every group."""
    agent = (
        'cd /sys/fs/resctrl; for f in $(find . -path "*mon_data/*" -type f | sort); do '
        'printf "%s %s\\n" "$f" "$(cat "$f")"; done'
    )
    script = (
        "set -e; mkdir /sys/fs/resctrl/g1 /sys/fs/resctrl/g1/mon_groups/m1\n"
        f"setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c '{agent}'"
    )
    proc = mpam_exec("sh", "-c", script)
    rows = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    files = ("llc_occupancy", "mbm_total_bytes")
    for group in ("", "g1/", "g1/mon_groups/m1/"):
        for name in files:
            assert rows[f"./{group}mon_data/mon_L3_49/{name}"].isdigit(), proc.stdout


def test_another_users_process_is_not_adopted(machine: str) -> None:
    """A writer may bring in only what it could move: `nobody`, given the tasks file, gets
    EPERM for root's process, and the process stays out of the machine."""
    script = (
        "chown nobody /sys/fs/resctrl/tasks\n"
        "setpriv --reuid=nobody --regid=nogroup --clear-groups "
        "bash -c 'echo $PPID > /sys/fs/resctrl/tasks'; cat /sys/fs/resctrl/info/last_cmd_status\n"
        "echo shell $$"
    )
    proc = mpam_exec("sh", "-c", script)
    assert proc.stderr.endswith("write error: Operation not permitted\n"), proc.stderr
    shell = proc.stdout.split()[-1]
    assert proc.stdout.startswith(f"No permission to move task {shell}\n")
    assert f" {shell}\n" not in run_ok("ps", "-n", machine) + "\n"


def test_a_killed_exec_ends_its_session(machine: str) -> None:
    runtime = Path(os.environ["MPAM_RUNTIME_DIR"])
    exec_ = subprocess.Popen([sys.executable, "-m", "mpam.cli", "exec", "-n", machine, "--",
                              "sleep", "60"])  # fmt: skip
    for _ in range(400):
        if list(runtime.glob(f"{machine}.exec*")) and "resctrl" in run_ok("status", "-n", machine):
            break
        time.sleep(0.05)
    assert list(runtime.glob(f"{machine}.exec*/resctrl"))
    exec_.kill()  # SIGKILL: no exec_end; the machine sees the process go
    exec_.wait()
    for _ in range(400):
        if not list(runtime.glob(f"{machine}.exec*")):
            break
        time.sleep(0.05)
    assert not list(runtime.glob(f"{machine}.exec*"))
    # resctrl, mounted for the session, is unmounted with it: a new session mounts it anew
    assert mpam_exec("ls", "/sys/fs/resctrl/info").stdout.split()[0] == "L3"


def test_pid_0_is_the_process_writing(machine: str) -> None:
    """A descriptor opened by the shell and written by its child moves the child: pid 0 is
    `current` at write time (rdtgroup_move_task), not the opener."""
    script = (
        "mkdir /sys/fs/resctrl/g1; exec 3>/sys/fs/resctrl/g1/tasks\n"
        "sh -c 'echo 0 >&3; echo $$; cat /sys/fs/resctrl/g1/tasks'"
    )
    child, listed = mpam_exec("sh", "-c", script).stdout.split()
    assert listed == child
