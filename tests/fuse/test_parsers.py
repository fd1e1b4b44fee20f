"""The kernel's parsers as a client meets them: resctrl's cpus, cpus_list and tasks files
through the real FUSE mount, written by a shell and by os.write(2).

cpus is cpumask_parse -> bitmap_parse and cpus_list is cpulist_parse -> bitmap_parselist
(lib/bitmap-str.c), over nr_cpu_ids bits (16 on rdn2); their errnos arrive as the write's
errno, and info/last_cmd_status says "Bad CPU list/mask" (rdtgroup_cpus_write). tasks is
strsep/strim/kstrtoint (fs/resctrl/rdtgroup.c rdtgroup_tasks_write, lib/kstrtox.c).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import needs_fuse, run_cli, shutdown_all, write_once

pytestmark = needs_fuse


@pytest.fixture(scope="module")
def mnt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One booted rdn2 mounted for the module (booting is the slow part); each test makes
    its own group."""
    base = tmp_path_factory.mktemp("parsers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(base / "run"))
        point = base / "resctrl"
        point.mkdir()
        code, out = run_cli("mount", str(point))
        assert code == 0, out
        yield point
        shutdown_all()


_serial = iter(range(1 << 30))


@pytest.fixture
def group(mnt: Path) -> Iterator[Path]:
    """A new CTRL_MON group; rmdir gives its CPUs and tasks back to the default group."""
    path = mnt / f"g{next(_serial)}"
    os.mkdir(path)
    yield path
    os.rmdir(path)


def _write(path: Path, text: str) -> int:
    """One write(2), as `echo ... > file` makes; 0 or the errno."""
    try:
        write_once(path, text)
    except OSError as e:
        return e.errno or -1
    return 0


def _status(mnt: Path) -> str:
    return (mnt / "info" / "last_cmd_status").read_text()


def test_pqos_trailing_comma(mnt: Path, group: Path) -> None:
    """pqos -a core:1=1 writes the mask `02,`: bitmap_parse takes the empty grouping."""
    shell = subprocess.run(["sh", "-c", "printf '02,' > cpus"], cwd=group, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert (group / "cpus_list").read_text() == "1\n"
    assert (group / "cpus").read_text() == "0002\n"
    assert _status(mnt) == "ok\n"


@pytest.mark.parametrize(
    ("name", "text", "cpus_list"),
    [
        ("cpus", ",02\n", "1\n"),
        ("cpus", " 0c \n", "2-3\n"),
        ("cpus", "02\n\n", "1\n"),  # the text ends at the first newline
        ("cpus_list", "N\n", "15\n"),
        ("cpus_list", "0-N:2/4\n", "0-1,4-5,8-9,12-13\n"),
        ("cpus_list", "1, 3 ,\n", "1,3\n"),
        ("cpus_list", "all:1/8", "0,8\n"),
        ("cpus_list", "\n", "\n"),  # empty: every CPU goes back to the default group
    ],
)
def test_accepted(group: Path, name: str, text: str, cpus_list: str) -> None:
    assert _write(group / name, text) == 0
    assert (group / "cpus_list").read_text() == cpus_list


@pytest.mark.parametrize(
    ("name", "text", "err"),
    [
        ("cpus", "10000\n", errno.EOVERFLOW),  # bit 16 of 16
        ("cpus", "1,00000000\n", errno.EOVERFLOW),  # a second chunk does not fit
        ("cpus", "123456789\n", errno.EOVERFLOW),  # 9 hex digits in a chunk
        ("cpus", "zz\n", errno.EINVAL),
        ("cpus", "0x2\n", errno.EINVAL),
        ("cpus_list", "16\n", errno.ERANGE),
        ("cpus_list", "0-16\n", errno.ERANGE),
        ("cpus_list", "4294967296\n", errno.EOVERFLOW),
        ("cpus_list", "3-1\n", errno.EINVAL),
        ("cpus_list", "3-\n", errno.EINVAL),
        ("cpus_list", "0-3:5/4\n", errno.EINVAL),
    ],
)
def test_refused(mnt: Path, group: Path, name: str, text: str, err: int) -> None:
    assert _write(group / name, text) == err
    assert _status(mnt) == "Bad CPU list/mask\n"
    assert (group / "cpus_list").read_text() == "\n"  # nothing changed


def test_shell_sees_the_errno(group: Path) -> None:
    """coreutils' echo names the errno (dash's builtin only says "I/O error")."""
    shell = subprocess.run(["sh", "-c", "/bin/echo 16 > cpus_list"], cwd=group,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert shell.returncode != 0
    assert f"write error: {os.strerror(errno.ERANGE)}" in shell.stderr


def test_tasks_pid_zero_and_tokens(mnt: Path, group: Path) -> None:
    """pid 0 is the writing task (the mount's writer is pid 1, the shell); tokens are
    comma separated and trimmed, numbers base 0."""
    assert _write(group / "tasks", "0\n") == 0
    assert (group / "tasks").read_text() == "1\n"
    assert _write(group / "tasks", " 0xb , 012\n") == 0  # 11 and 10
    assert (group / "tasks").read_text() == "1\n10\n11\n"
    assert _write(group / "tasks", "12\n13\n") == errno.EINVAL  # a newline is not a separator
    assert _status(mnt) == "Task list parsing error pid 12\n13\n"
    assert _write(group / "tasks", "13,,14") == errno.EINVAL
    assert _status(mnt) == "Task list parsing error pid \n"
    assert (group / "tasks").read_text() == "1\n10\n11\n13\n"  # 13 moved before the failure
