"""The running-machine commands: boot, shutdown, list, status, ps, cpu, dmesg, trace, mount,
umount."""

from __future__ import annotations

import errno
import os
import subprocess
from typing import Any

import click

from mpam.cli.common import (
    DEFAULT_PLATFORM,
    call,
    emit_json,
    errno_text,
    find,
    json_option,
    load_platform,
    machine_name_option,
    name_option,
    platform_option,
    request,
    working,
)
from mpam.machine import client

__all__ = [
    "boot",
    "cpu",
    "dmesg",
    "inject_error",
    "list_",
    "mount",
    "ps",
    "shutdown",
    "status",
    "sysfs",
    "trace",
    "umount",
]


def _boot(
    platform_name: str, name: str, *, paused: bool = False, sample: int | None = None, seed: int = 0
) -> client.RunningMachine:
    """Boot a machine in the background, with a spinner on a terminal (a large platform
    takes seconds)."""
    try:
        with working(f"booting {name} ({platform_name})"):
            return client.boot(platform_name, name, paused=paused, sample=sample, seed=seed)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None


@click.command()
@platform_option
@click.option(
    "--name",
    "-n",
    default=client.DEFAULT_NAME,
    show_default=True,
    metavar="NAME",
    help="Name of the machine: letters, digits, '.', '_' and '-'.",
)
@click.option(
    "--paused", is_flag=True, help="Keep simulated time still until `mpam step` advances it."
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Simulate 1/N of every cache's sets (default 64; 1 is exact).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the workloads.")
def boot(platform_name: str, name: str, paused: bool, sample: int | None, seed: int) -> None:
    """Start a machine in the background; return once it has booted.

    Simulated time then runs continuously (at most one simulated second per wall second)
    unless --paused. Several machines can run at once, each with its own --name."""
    try:
        client.check_name(name)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None
    load_platform(platform_name)  # a bad platform is refused here, not in the background
    info = request(_boot(platform_name, name, paused=paused, sample=sample, seed=seed), "status")
    click.echo(
        f"{name}: booted {info['platform']} ({info['cpus']} CPUs, {info['mscs']} MSCs); "
        + (
            f"MPAM enabled with {info['partids']} PARTIDs and {info['pmgs']} PMGs"
            if info["mpam_enabled"]
            else "MPAM not enabled"
        )
    )


@click.command()
@name_option
def shutdown(name: str | None) -> None:
    """Stop a running machine (unmounting its resctrl first)."""
    machine = find(name)
    try:
        client.shutdown(machine)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{machine.name}: shut down")


@click.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the running machines: name, platform, pid, simulated time and resctrl mounts.

    The PID is the machine's own process (the daemon `mpam boot` started)."""
    rows = []
    for machine_name in client.running():
        try:
            info = client.RunningMachine(machine_name).call("status")
        except client.MachineError:
            continue  # it stopped since `running` saw it
        mounts = ", ".join(info["mounts"]) or "-"
        rows.append((machine_name, info["platform"], info["pid"], info["time_ns"], mounts))
    dead = client.gone()
    if as_json:
        machines = [{"name": n, "platform": p, "pid": pid, "time_ns": t,
                     "mounts": [] if m == "-" else m.split(", ")} for n, p, pid, t, m in rows]  # fmt: skip
        emit_json("list", {"machines": machines, "gone": dead})
        return
    if not rows:
        click.echo("no machine is running")
    for machine_name in dead:
        click.echo(f"{machine_name}: gone (it died; its files are left in {client.runtime_dir()}: "
                   f"`mpam boot --name {machine_name}` clears them)")  # fmt: skip
    if not rows:
        return
    name_w = max(4, *(len(r[0]) for r in rows))
    platform_w = max(8, *(len(r[1]) for r in rows))
    click.echo(f"{'NAME':<{name_w}} {'PLATFORM':<{platform_w}} {'PID':>7} "
               f"{'SIMULATED TIME':>14}  MOUNTS")  # fmt: skip
    for machine_name, platform, pid, time_ns, mounts in rows:
        click.echo(f"{machine_name:<{name_w}} {platform:<{platform_w}} {pid:>7} "
                   f"{f'{time_ns / 1e9:.6f} s':>14}  {mounts}")  # fmt: skip


@click.command()
@name_option
@json_option
def status(name: str | None, as_json: bool) -> None:
    """What a running machine is: platform, CPUs, MPAM limits and classes."""
    from mpam.platform.reader import format_cpulist  # not at the top: `mpam ps` needs none

    if name is None and not client.running():
        if as_json:
            emit_json("status", {"machine": None})
        else:
            click.echo("no machine is running")
        return
    info = call(name, "status")
    if as_json:
        emit_json("status", {"machine": info})
        return
    click.echo(f"{info['name']}: platform {info['platform']}, "
               f"simulated time {info['time_ns'] / 1e9:.6f} s")  # fmt: skip
    click.echo(f"CPUs online: {format_cpulist(info['cpus_online'])} of {info['cpus']}")
    if info["mpam_enabled"]:
        click.echo(f"MPAM enabled with {info['partids']} PARTIDs and {info['pmgs']} PMGs")
    else:
        click.echo("MPAM not enabled")
    for cname, c in info["classes"].items():
        components = c["components"]
        if len(components) > 4:  # a large machine: one line, not one entry per component
            sizes = {len(m) for m in components.values()}
            each = f", {sizes.pop()} MSC each" if len(sizes) == 1 else ""
            ids = format_cpulist(sorted(int(cid) for cid in components))
            click.echo(f"  class {cname}: {len(components)} components ({ids}){each}")
            continue
        comps = ", ".join(
            f"{cid}: MSC {format_cpulist(sorted(m))}" for cid, m in components.items()
        )
        click.echo(f"  class {cname}: {comps}")
    for path, options in info["mounts"].items():
        click.echo(f"resctrl mounted at {path}" + (f" (-o {options})" if options else ""))


@click.command()
@name_option
@json_option
def ps(name: str | None, as_json: bool) -> None:
    """Tasks: pid, name, CPU, state and the PARTID/PMG their next memory access carries;
    a host process that joined the machine (docs/clients.md) shows its host pid too."""
    rows = call(name, "ps")
    if as_json:
        emit_json("ps", {"tasks": rows})
        return
    host = any(r.get("host_pid") for r in rows)
    head = f"{'PID':>5} {'NAME':<18} {'CPU':>3} {'STATE':<5} {'PARTID':>6} {'PMG':>3}"
    click.echo(head + (f" {'HOST PID':>8}" if host else ""))
    for r in rows:
        cpu = "-" if r["cpu"] is None else str(r["cpu"])
        line = (
            f"{r['pid']:>5} {r['name']:<18} {cpu:>3} {r['state']:<5} {r['partid']:>6} {r['pmg']:>3}"
        )
        if host:
            line += f" {r.get('host_pid') or '-':>8}"
        click.echo(line)


@click.group()
def cpu() -> None:
    """CPU hotplug: take a CPU offline or bring it back."""


def _hotplug(name: str | None, number: int, online: bool) -> None:
    machine = find(name)
    ret = request(machine, "cpu", cpu=number, online=online)
    if not ret:
        return
    detail = ""
    if ret == -errno.EBUSY and not online and request(machine, "status")["cpus_online"] == [number]:
        detail = ": it is the last CPU online"
    raise click.ClickException(f"cpu{number}: {errno_text(ret)}{detail}")


@cpu.command(short_help="Take a CPU offline.")
@click.argument("number", type=int)
@name_option
def offline(number: int, name: str | None) -> None:
    """Take CPU NUMBER offline (echo 0 > /sys/devices/system/cpu/cpuN/online)."""
    _hotplug(name, number, False)


@cpu.command(short_help="Bring a CPU back online.")
@click.argument("number", type=int)
@name_option
def online(number: int, name: str | None) -> None:
    """Bring CPU NUMBER online (echo 1 > /sys/devices/system/cpu/cpuN/online)."""
    _hotplug(name, number, True)


@click.command()
@name_option
@click.option(
    "--level",
    "-l",
    default="info",
    show_default=True,
    type=click.Choice(["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"]),
    help="The least important level shown.",
)
@json_option
def dmesg(name: str | None, level: str, as_json: bool) -> None:
    """The kernel log, with timestamps in simulated time."""
    if as_json:
        emit_json("dmesg", {"records": call(name, "dmesg", level=level, records=True)})
        return
    click.echo(call(name, "dmesg", level=level), nl=False)


@click.command()
@name_option
@click.option(
    "--kind",
    type=click.Choice(["all", "sysreg", "mmio", "irq"]),
    default="all",
    show_default=True,
    help="System-register writes, MMIO accesses, interrupt handlers, or all three.",
)
@click.option("--cpu", "cpu_filter", type=int, default=None,
              help="Only system-register writes and interrupts on this CPU.")  # fmt: skip
@click.option("--msc", default=None,
              help="Only MMIO accesses to this MSC (its name, e.g. slc3) and its interrupts.")  # fmt: skip
@click.option("--register", default=None, help="Only this register (MPAM0_EL1, MPAMCFG_CPBM, ...).")
@click.option("--last", type=click.IntRange(min=0), default=None, help="Only the last N entries.")
@click.option("--mark", is_flag=True, help="Print a mark for --since: the trace as it is now.")
@click.option("--since", metavar="MARK", default=None, help="Only what was traced after MARK.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries until Ctrl-C.")
@click.option("--format", "fmt", type=click.Choice(["text", "perfetto"]), default="text",
              show_default=True,
              help="perfetto: Chrome trace-event JSON for ui.perfetto.dev (a track per MSC "
                   "and per CPU).")  # fmt: skip
@json_option
def trace(
    name: str | None, kind: str, cpu_filter: int | None, msc: str | None, register: str | None,
    last: int | None, mark: bool, since: str | None, follow: bool, fmt: str, as_json: bool,
) -> None:  # fmt: skip
    """System-register writes by the kernel, MMIO accesses by the driver and the interrupt
    handlers it ran, in time order.

    MMIO lines name what PART_SEL or MON_SEL selected for a per-PARTID or per-monitor
    register ([partid 1 ris 0]) and decode the register's fields. To see what one command
    did: `M=$(mpam trace --mark)`, run it, then `mpam trace --since $M`."""
    if mark:
        click.echo(call(name, "trace_mark"))
        return
    if follow and (as_json or last is not None or fmt != "text"):
        raise click.UsageError("--follow streams lines: not with --json, --last or --format")
    if as_json and fmt != "text":
        raise click.UsageError("--json and --format perfetto are two documents: say one")
    if cpu_filter is not None and msc is not None and kind != "irq":
        raise click.UsageError("--cpu picks system-register writes and --msc MMIO accesses: "
                               "only an interrupt (--kind irq) has both; say one")  # fmt: skip
    if kind == "irq" and register is not None:
        raise click.UsageError("--register picks register accesses: --kind irq has none")
    if kind == "mmio" and cpu_filter is not None:
        raise click.UsageError("--cpu picks system-register writes: --kind mmio has none")
    if kind == "sysreg" and msc is not None:
        raise click.UsageError("--msc picks MMIO accesses: --kind sysreg has none")
    if register is not None and kind in ("sysreg", "mmio"):
        is_sysreg = register.upper().endswith(("_EL0", "_EL1", "_EL2", "_EL3"))
        if is_sysreg != (kind == "sysreg"):
            raise click.UsageError(
                f"{register} is {'a system register' if is_sysreg else 'an MSC register'}: "
                f"--kind {kind} has none"
            )
    filters = {"kind": kind, "cpu": cpu_filter, "msc": msc, "register": register}
    if follow:
        _follow(find(name), filters, since)
        return
    rows = call(name, "trace", **filters, last=last, since=since)
    if as_json:
        emit_json("trace", {"entries": rows})
        return
    if fmt == "perfetto":
        import json

        log = call(name, "dmesg", level="debug", records=True)
        click.echo(json.dumps(_perfetto(rows, log)))
        return
    for r in rows:
        click.echo(_trace_line(r))


def _trace_line(r: dict[str, Any]) -> str:
    # nanoseconds, as `trace-cmd report -t`: the accesses of one operation are tens apart
    stamp = f"[{r['time_ns'] // 1_000_000_000:5d}.{r['time_ns'] % 1_000_000_000:09d}]"
    if r["kind"] == "sysreg":
        return (f"{stamp} cpu{r['cpu']} pid {r['pid']} {r['comm']}: msr {r['register']}, "
                f"0x{r['before']:x} -> 0x{r['after']:x} ({r['origin']})")  # fmt: skip
    if r["kind"] == "irq":  # irq_handler_entry and _exit in one line, as ftrace names them
        return (f"{stamp} cpu{r['cpu']} irq={r['irq']} name={r['name']} ({r['msc']}): "
                f"ret={'handled' if r['handled'] else 'unhandled'} "
                f"after {r['end_ns'] - r['time_ns']} ns")  # fmt: skip
    op = "write" if r["write"] else "read "
    line = f"{stamp} {r['msc']} {op} 0x{r['offset']:04x} {r['register']} = 0x{r['value']:08x}"
    if r.get("selected"):
        line += f" [{r['selected']}]"
    return line + (f" {r['fields']}" if r.get("fields") else "")


def _perfetto(rows: list[dict[str, Any]], log: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace as Chrome trace-event JSON (what ui.perfetto.dev opens): every MMIO access
    an instant on its MSC's track; every system-register write (the context switch's
    MPAM0_EL1 among them) an instant, and every interrupt handler a slice, on its CPU's;
    the kernel log on its own. Timestamps are simulated microseconds (fractions for ns)."""
    events: list[dict[str, Any]] = []
    tracks: dict[tuple[int, str], int] = {}

    def tid(pid: int, name: str) -> int:
        if (pid, name) not in tracks:
            tracks[(pid, name)] = len([k for k in tracks if k[0] == pid]) + 1
            events.append({"ph": "M", "name": "thread_name", "pid": pid,
                           "tid": tracks[(pid, name)], "args": {"name": name}})  # fmt: skip
        return tracks[(pid, name)]

    for pid, name in ((1, "MSCs"), (2, "CPUs"), (3, "kernel log")):
        events.append({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}})
    for r in rows:
        ts = r["time_ns"] / 1000
        if r["kind"] == "mmio":
            op = "write" if r["write"] else "read"
            events.append({"ph": "i", "s": "t", "ts": ts, "pid": 1, "tid": tid(1, r["msc"]),
                           "name": f"{op} {r['register']}", "cat": "mmio",
                           "args": {"value": f"{r['value']:#010x}", "selected": r["selected"],
                                    "fields": r["fields"]}})  # fmt: skip
        elif r["kind"] == "irq":  # a slice: the handler from entry to exit
            events.append({"ph": "X", "ts": ts, "dur": (r["end_ns"] - r["time_ns"]) / 1000,
                           "pid": 2, "tid": tid(2, f"cpu{r['cpu']}"),
                           "name": f"irq {r['irq']} {r['name']}", "cat": "irq",
                           "args": {"msc": r["msc"],
                                    "ret": "handled" if r["handled"] else "unhandled"}})  # fmt: skip
        else:
            events.append({"ph": "i", "s": "t", "ts": ts, "pid": 2, "tid": tid(2, f"cpu{r['cpu']}"),
                           "name": f"msr {r['register']}", "cat": r["origin"],
                           "args": {"before": f"{r['before']:#x}", "after": f"{r['after']:#x}",
                                    "task": f"{r['pid']} {r['comm']}"}})  # fmt: skip
    for rec in log:
        events.append({"ph": "i", "s": "t", "ts": rec["time_ns"] / 1000, "pid": 3,
                       "tid": tid(3, rec["level"]), "name": rec["text"][:80], "cat": "printk",
                       "args": {"text": rec["text"]}})  # fmt: skip
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def _follow(machine: client.RunningMachine, filters: dict[str, Any], since: str | None) -> None:
    """Print what is traced from now (or MARK) on, as it comes, until Ctrl-C."""
    import time

    mark = since or request(machine, "trace_mark")
    try:
        while True:
            # the mark first: nothing traced between the two requests is lost or repeated
            now = request(machine, "trace_mark")
            for r in request(machine, "trace", **filters, since=mark):
                if _before(r, now):
                    click.echo(_trace_line(r))
            mark = now
            time.sleep(0.2)
    except KeyboardInterrupt:
        return


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@name_option
@click.option("-o", "--options", "options", default="", metavar="OPTIONS",
              help="Mount options, as mount(8) -o: cdp, cdpl2, mba_MBps, debug (comma "
                   "separated).")  # fmt: skip
def mount(directory: str, name: str | None, options: str) -> None:
    """Mount a running machine's resctrl at DIRECTORY, as `mount -t resctrl resctrl DIRECTORY`
    would.

    With no machine running, the default platform boots first. resctrl mounts once per
    machine (a second mount is refused with EBUSY, as the kernel does): `mpam umount` first."""
    path = os.path.abspath(directory)
    if _dead_mount(os.path.realpath(path)):
        raise click.ClickException(
            f"mount resctrl at {directory}: a machine that died left its mount there: "
            f"clear it with `mpam umount {directory}`"
        )
    if not os.path.isdir(path):
        raise click.ClickException(
            f"mount resctrl at {directory}: the mount point does not exist: "
            f"create it first (mkdir -p {directory})"
        )
    if name is None and not client.running():
        _boot(DEFAULT_PLATFORM, client.DEFAULT_NAME)
    machine = find(name)
    ret = request(machine, "mount", dir=path, options=options)
    if not ret:
        return
    info = request(machine, "status")
    detail = ""
    if ret == -errno.EINVAL and info.get("mount_error"):
        # Like mount(8), which prints the fs_context log's reason after the errno.
        detail = f": {info['mount_error']}"
    elif ret == -errno.EBUSY and info["mounts"]:
        first = next(iter(info["mounts"]))
        detail = (
            f": machine {machine.name!r} has resctrl mounted at {first} already "
            f"(one mount per machine: `mpam umount {first}` first)"
        )
    elif ret == -errno.ENODEV and not info["mpam_enabled"]:
        detail = ": MPAM is not enabled on this machine, so there is no resctrl (see `mpam dmesg`)"
    raise click.ClickException(f"mount resctrl at {directory}: {errno_text(ret)}{detail}")


def _before(row: dict[str, Any], mark: str) -> bool:
    """Whether a trace row (with its "seq" within its kind) was traced before `mark`."""
    mmio, sysreg, irq = (int(p) for p in mark.split("."))
    return int(row.get("seq", -1)) < {"mmio": mmio, "sysreg": sysreg, "irq": irq}[row["kind"]]


def _dead_mount(path: str) -> bool:
    """A FUSE mount of a machine (resctrl or its sysfs) at `path` whose server is gone: the
    kernel answers ENOTCONN for it."""
    from mpam.machine.mountns import mount_points

    mounted = set(mount_points())
    if (path, "fuse.resctrl") not in mounted and (path, "fuse.sysfs") not in mounted:
        return False
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ENOTCONN
    return False


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@machine_name_option("Only the machine of this name (default: whichever has it mounted).")
def umount(directory: str, name: str | None) -> None:
    """Unmount the resctrl mounted at DIRECTORY (resetting every group, as the kernel does).

    A mount left by a machine that died (its server gone) is cleared too."""
    path = os.path.realpath(directory)
    if name is not None:
        machines = [find(name)]
    else:
        machines = [client.RunningMachine(n) for n in client.running()]
    mounts: dict[str, client.RunningMachine] = {}
    for machine in machines:
        info = request(machine, "status")
        for mounted in [*info["mounts"], *info.get("sysfs_mounts", [])]:
            mounts[mounted] = machine
    if path in mounts:
        ret = request(mounts[path], "umount", dir=path)
        if ret:
            raise click.ClickException(f"umount {directory}: {errno_text(ret)}")
        return
    if _dead_mount(path):
        subprocess.run(["fusermount3", "-uz", path], check=False, capture_output=True)
        if _dead_mount(path):
            raise click.ClickException(f"umount {directory}: the mount a dead machine left "
                                       "could not be cleared (try `fusermount3 -u` as root)")  # fmt: skip
        click.echo(f"umount {directory}: cleared the mount a machine that died left there")
        return
    if not machines:
        raise click.ClickException(f"umount {directory}: no machine is running")
    whose = f"machine {name!r}" if name is not None else "a running machine"
    where = (
        "resctrl is mounted at " + ", ".join(f"{p} ({m.name})" for p, m in mounts.items())
        if mounts
        else "no resctrl is mounted"
    )
    raise click.ClickException(f"umount {directory}: not a resctrl mount of {whose}; {where}")


@click.command("inject")
@name_option
@click.option("--partid", type=click.IntRange(min=0), default=0, help="The PARTID it reports.")
@click.option("--pmg", type=click.IntRange(min=0), default=0, help="The PMG it reports.")
@click.argument("msc")
@click.argument("code")
def inject_error(name: str | None, partid: int, pmg: int, msc: str, code: str) -> None:
    """Make MSC detect an error, as hardware would (fault injection).

    MSC is its name (as `mpam inventory` lists it) or the driver's MSC number (as
    `mpam status` lists it). CODE is an MPAMF_ESR.ERRCODE name from the Arm MPAM
    specification, e.g.
    REQ_PARTID_RANGE or PARTID_SEL_RANGE. The MSC records it in MPAMF_ESR and raises its
    error interrupt; Linux's driver reports it and disables MPAM, and resctrl goes away
    with it (resctrl_exit), as on a real machine."""
    reason = call(name, "inject_error", msc=msc, code=code, partid=partid, pmg=pmg)
    who = f"MSC {msc}" if msc.isdigit() else msc
    disabled = f"; MPAM disabled ({reason})" if reason else ""
    click.echo(f"{who}: {code.upper()} raised{disabled}")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@name_option
def sysfs(directory: str, name: str | None) -> None:
    """Mount the machine's /sys/devices/system/cpu at DIRECTORY, for tools that take a sysfs
    root: online, possible and present CPUs, each CPU's topology and its caches as Linux's
    cacheinfo finds them in the machine's PPTT (cache/indexN/id, level, type, size, ...).
    CPU hotplug shows at once. `mpam umount DIRECTORY` takes it away."""
    path = os.path.abspath(directory)
    if not os.path.isdir(path):
        raise click.ClickException(
            f"mount the machine's sysfs at {directory}: the mount point does not exist: "
            f"create it first (mkdir -p {directory})"
        )
    ret = call(name, "mount_sysfs", dir=path)
    if ret:
        raise click.ClickException(f"mount the machine's sysfs at {directory}: {errno_text(ret)}")
