"""The reliability campaign: random resctrl operations through the real mount against an
in-process twin, concurrent writers, a hotplug storm; registers checked against resctrl
after every step.

Each part returns a `Tally` (operations, refusals, crashes, register mismatches, data
lost). A crash is the machine failing a request as a bug or its mount going away; a
mismatch is an MSC register (a PARTID's CPBM or MBW_MAX) out of step with `schemata`, a
task's or CPU's MPAM label out of step with the group that lists it, or the mount and the
twin disagreeing about an answer; data lost is a writer's last write not being what its
group's `schemata` says at the end. `mpam soak` runs them at full size and the tests at a
few thousand operations. The campaign drives the default platform's shape (`rdn2`: one L3
domain and one MB domain, 16 CPUs).
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mpam.driver.mpam_resctrl import mbw_max_to_percent
from mpam.firmware import ClassType
from mpam.hw.msc import Msc
from mpam.hw.pcc import PccMsc
from mpam.kernel.tasks import mpam_regval
from mpam.machine.client import MachineError, RunningMachine
from mpam.machine.machine import Machine

__all__ = ["Tally", "fuzz", "hotplug", "register_mismatches", "writers"]

GROUPS = ("a", "b", "c", "a/mon_groups/m", "b/mon_groups/n")
PIDS = (0, 1, 2, 11, 12, 13, 23, 24, 99999, -1)
# The fuzzer moves both machines' clocks this often by this much, so that the RMIDs of
# removed groups leave limbo (the kernel's worker checks every CQM_LIMBOCHECK_INTERVAL,
# 1 s) and mkdir keeps succeeding instead of ending in ENOSPC on a paused machine.
STEP_EVERY = 100
STEP_NS = 1_000_000_000


@dataclass
class Tally:
    """One part's figures."""

    part: str
    operations: int = 0
    refusals: int = 0
    crashes: int = 0
    mismatches: int = 0
    lost: int = 0
    first_problem: str = ""

    def problem(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.first_problem = self.first_problem or what


def register_mismatches(m: Machine) -> list[str]:
    """Where the machine's registers and labels differ from what its resctrl shows (empty
    when none do): every control group's CPBM on each L3 RIS and MBW_MAX on each memory
    RIS for its PARTID, read from the MSC's own storage (as a debugger would: no register
    access, so the check neither moves the clock nor changes PART_SEL); every task's label
    against the group whose `tasks` lists it; every online CPU's default label against its
    group's `cpus_list`."""
    fs, d = m.resctrl, m.driver
    if fs is None or fs.groups is None or not d.enabled:
        return []
    out: list[str] = []

    def ris_of(key: tuple[ClassType, int]) -> list[tuple[Msc, int]]:
        k = d.classes.get(key)
        if k is None:
            return []
        return [(_hw(ris.msc.regs), ris.ris_idx)
                for comp in k.components.values() for v in comp.vmscs for ris in v.ris]  # fmt: skip

    def stored(msc: Msc, ris: int, name: str, partid: int) -> int:
        words = msc.ris[ris].cfg[name][msc.settings_row(partid)]
        return sum(int(w) << (32 * i) for i, w in enumerate(words))

    cache = ris_of((ClassType.CACHE, 3))
    memory = ris_of((ClassType.MEMORY, 255))
    mem_class = d.classes.get((ClassType.MEMORY, 255))
    task_owner: dict[int, int] = {}
    cpu_owner: dict[int, int] = {}
    for g in fs.groups.ctrl_groups:
        text = fs.read(f"{g.name}/schemata")
        assert isinstance(text, str)
        lines = dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)
        if "L3" in lines:
            cpbm = int(lines["L3"].split("=")[1], 16)
            for msc, ris in cache:
                value = stored(msc, ris, "MPAMCFG_CPBM", g.closid)
                if value != cpbm:
                    out.append(f"group {g.name or '/'}: CPBM {value:#x}, schemata {cpbm:#x}")
        if "MB" in lines and mem_class is not None:
            percent = int(lines["MB"].split("=")[1])
            for msc, ris in memory:
                raw = stored(msc, ris, "MPAMCFG_MBW_MAX", g.closid) & 0xFFFF
                value = mbw_max_to_percent(raw, mem_class.props.bwa_wd)
                if value != percent:
                    out.append(f"group {g.name or '/'}: MBW_MAX {value}%, schemata {percent}%")
        for grp in [g, *g.mon_groups.values()]:
            prefix = g.name if grp is g else f"{g.name}/mon_groups/{grp.name}"
            word = mpam_regval(grp.closid, grp.closid, grp.rmid, grp.rmid)
            tasks = fs.read(f"{prefix}/tasks".lstrip("/"))
            assert isinstance(tasks, str)
            for line in tasks.splitlines():
                task_owner[int(line)] = word
            for cpu in sorted(grp.cpus):
                if grp is g or grp.cpus:
                    cpu_owner[cpu] = word
    for task in m.kernel.tasks:
        if task.pid not in task_owner:
            out.append(f"task {task.pid} ({task.comm}) is in no group's tasks")
        elif task_owner[task.pid] != task.mpam_partid_pmg:
            out.append(f"task {task.pid}: label {task.mpam_partid_pmg:#x}, "
                       f"its group's {task_owner[task.pid]:#x}")  # fmt: skip
    defaults = m.kernel.scheduler.mpam.arm64_mpam_default
    for cpu in sorted(m.kernel.cpuhp.online_mask):
        if cpu not in cpu_owner:
            out.append(f"cpu {cpu} is in no group's cpus")
        elif defaults[cpu] != cpu_owner[cpu]:
            out.append(f"cpu {cpu}: default label {defaults[cpu]:#x}, "
                       f"its group's {cpu_owner[cpu]:#x}")  # fmt: skip
    return out


def _hw(regs: Msc | PccMsc) -> Msc:
    return regs.msc if isinstance(regs, PccMsc) else regs


def _checked(machine: RunningMachine, tally: Tally) -> None:
    """Ask the running machine to compare its registers with its resctrl."""
    try:
        found = machine.call("check")
    except MachineError as e:
        tally.problem("crashes", str(e))
        return
    if found:
        tally.problem("mismatches", found[0])


# --- random operations against the twin -------------------------------------------------


def _schemata(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 3)):
        pick = rng.random()
        if pick < 0.4:
            lines.append(f"L3:49={rng.randint(0, 0x1FFFF):x}")
        elif pick < 0.75:
            lines.append(f"MB:49={rng.randint(0, 120)}")
        else:
            lines.append(rng.choice(["L3:48=f", "L2:0=1", "L3", "", "  L3 :49=f0", "MB:49=x"]))
    return "\n".join(lines) + "\n"


def _operation(rng: random.Random) -> tuple[str, str, str]:
    """(what, path, data): mkdir, rmdir, or a write of schemata, tasks or cpus_list."""
    group = rng.choice(GROUPS)
    pick = rng.random()
    if pick < 0.15:
        return "mkdir", group, ""
    if pick < 0.25:
        return "rmdir", group, ""
    target = rng.choice(("", group))
    if pick < 0.6 and "mon_groups" not in target:
        return "write", f"{target}/schemata".lstrip("/"), _schemata(rng)
    if pick < 0.85:
        pids = ",".join(str(rng.choice(PIDS)) for _ in range(rng.randint(1, 3)))
        return "write", f"{target}/tasks".lstrip("/"), pids + "\n"
    cpus = sorted(rng.sample(range(17), rng.randint(0, 4)))
    text = rng.choice([",".join(map(str, cpus)), "0-15", "bad", ""])
    return "write", f"{target}/cpus_list".lstrip("/"), text + "\n"


def _on_mount(mount: Path, what: str, path: str, data: str) -> int:
    """The operation through the real mount: 0 or a negative errno."""
    try:
        if what == "mkdir":
            os.mkdir(mount / path)
        elif what == "rmdir":
            os.rmdir(mount / path)
        else:
            fd = os.open(mount / path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
    except OSError as e:
        return -(e.errno or errno.EIO)
    return 0


def _on_twin(twin: Machine, what: str, path: str, data: str) -> int:
    fs = twin.resctrl
    assert fs is not None
    if what == "mkdir":
        ret = fs.mkdir(path)
    elif what == "rmdir":
        ret = fs.rmdir(path)
    else:
        ret = fs.write(path, data)
    twin.service()
    return min(int(ret), 0)


def _read_mount(mount: Path, path: str) -> str:
    try:
        return (mount / path).read_text()
    except OSError as e:
        return f"<{errno.errorcode.get(e.errno or 0, e.errno)}>"


def _read_twin(twin: Machine, path: str) -> str:
    assert twin.resctrl is not None
    text = twin.resctrl.read(path)
    return text if isinstance(text, str) else f"<{errno.errorcode.get(-text, text)}>"


def fuzz(mount: Path, machine: RunningMachine, twin: Machine, operations: int,
         seed: int) -> Tally:  # fmt: skip
    """`operations` random operations on the mount and on the twin (both freshly booted
    and mounted alike): the same answers, the same files after, and the running machine's
    registers in step after each one."""
    tally = Tally("fuzzed resctrl operations")
    rng = random.Random(seed)
    for done in range(operations):
        if done and done % STEP_EVERY == 0:
            twin.run(STEP_NS)
            try:
                machine.call("step", ns=STEP_NS, wait_s=None)
            except MachineError as e:
                tally.problem("crashes", f"step: {e}")
                break
        what, path, data = _operation(rng)
        real, expected = _on_mount(mount, what, path, data), _on_twin(twin, what, path, data)
        tally.operations += 1
        if real:
            tally.refusals += 1
        if real == -errno.ENOTCONN:
            tally.problem("crashes", f"{what} {path}: the mount went away")
            break
        if real != expected:
            tally.problem("mismatches", f"{what} {path} {data!r}: mount {real}, twin {expected}")
        group = path.rsplit("/", 1)[0] if what == "write" and "/" in path else ""
        for name in ("schemata", "tasks", "cpus_list", "info/last_cmd_status"):
            file = name if name.startswith("info") else f"{group}/{name}".lstrip("/")
            if "mon_groups" in file and name == "schemata":
                continue
            seen, want = _read_mount(mount, file), _read_twin(twin, file)
            if seen != want:
                tally.problem("mismatches", f"after {what} {path}: {file} {seen!r}, twin {want!r}")
        _checked(machine, tally)
    return tally


# --- concurrent writers -----------------------------------------------------------------


def writers(mount: Path, machine: RunningMachine, count: int, seconds: float,
            seed: int) -> Tally:  # fmt: skip
    """`count` writers, each on a group of its own, writing random masks and bandwidths to
    its schemata for `seconds` (wall clock: it bounds the campaign, not the simulation);
    each read back must be what it wrote, and the group must end with its last write."""
    tally = Tally(f"{count} concurrent writers, {seconds:g} s")
    lock = threading.Lock()
    last: dict[str, str] = {}
    # CLOSIDs whose RMIDs are still in limbo (the groups an earlier part removed) come back
    # once the limbo worker has found them clean: a paused machine needs its clock moved
    machine.call("step", ns=2_000_000_000, wait_s=None)
    for n in range(count):
        with contextlib.suppress(FileExistsError):
            os.mkdir(mount / f"w{n}")

    def run(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        group = mount / f"w{n}"
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            text = f"L3:49={rng.randint(1, 0xFFFF):x}\nMB:49={rng.randint(1, 100)}\n"
            ret = _on_mount(mount, "write", f"w{n}/schemata", text)
            with lock:
                tally.operations += 1
                if ret:
                    tally.problem("crashes", f"writer {n}: {os.strerror(-ret)}")
                    return
            got = (group / "schemata").read_text()
            if _normal(got) != _normal(text):
                with lock:
                    tally.problem("lost", f"writer {n}: wrote {text!r}, read {got!r}")
            last[f"w{n}"] = text

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for group, text in last.items():
        if _normal((mount / group / "schemata").read_text()) != _normal(text):
            tally.problem("lost", f"{group}: its last write {text!r} is not what it holds")
    _checked(machine, tally)
    for n in range(count):
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.rmdir(mount / f"w{n}")
    return tally


def _normal(text: str) -> dict[str, str]:
    """A schemata text as {resource: value}: the MB value as the kernel rounds it stays
    what was written on rdn2 (granularity 1), masks lose leading zeros."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            name, value = line.strip().split(":", 1)
            dom, _, v = value.partition("=")
            out[name] = f"{dom}={int(v, 16):x}" if name == "L3" else f"{dom}={int(v)}"
    return out


# --- hotplug --------------------------------------------------------------------------


def hotplug(machine: RunningMachine, cycles: int, seed: int,
            progress: Callable[[int], None] = lambda n: None) -> Tally:  # fmt: skip
    """`cycles` times a random CPU (never the last online) goes offline and comes back;
    after each online every MSC must hold what resctrl says."""
    tally = Tally("hotplug cycles")
    rng = random.Random(seed)
    cpus = int(machine.call("status")["cpus"])
    for n in range(cycles):
        cpu = rng.randrange(1, cpus)
        try:
            machine.call("cpu", cpu=cpu, online=False)
            machine.call("cpu", cpu=cpu, online=True)
        except MachineError as e:
            tally.problem("crashes", f"cpu {cpu}: {e}")
            break
        tally.operations += 1
        _checked(machine, tally)
        progress(n)
    return tally
