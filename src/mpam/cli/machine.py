"""The running-machine commands: boot, shutdown, status, ps, cpu, dmesg, trace."""

from __future__ import annotations

import errno
import os
from typing import Any

import click

from mpam.cli.common import console, load_platform, platform_option
from mpam.machine import client
from mpam.platform import DEFAULT
from mpam.platform.reader import format_cpulist

__all__ = [
    "boot",
    "call",
    "cpu",
    "dmesg",
    "mount",
    "name_option",
    "ps",
    "shutdown",
    "status",
    "trace",
    "umount",
]

name_option = click.option(
    "--name",
    "-n",
    default=None,
    metavar="NAME",
    help="Which running machine (default: the only one running).",
)


def _find(name: str | None) -> client.RunningMachine:
    try:
        return client.find(name)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None


def call(name: str | None, op: str, **args: Any) -> Any:
    """Send one request to a running machine; a click error when it fails."""
    return _call(name, op, **args)


def _call(name: str | None, op: str, **args: Any) -> Any:
    try:
        return _find(name).call(op, **args)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None


@click.command()
@platform_option
@click.option(
    "--name", "-n", default=client.DEFAULT_NAME, show_default=True, help="Name of the machine."
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
    unless --paused."""
    load_platform(platform_name)  # a bad platform is refused here, not in the background
    try:
        machine = client.boot(platform_name, name, paused=paused, sample=sample, seed=seed)
        info = machine.call("status")
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None
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
    """Stop a running machine."""
    machine = _find(name)
    try:
        client.shutdown(machine)
    except client.MachineError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{machine.name}: shut down")


@click.command()
@name_option
def status(name: str | None) -> None:
    """What a running machine is: platform, CPUs, MPAM limits and classes."""
    if name is None and not client.running():
        click.echo("no machine is running")
        return
    info = _call(name, "status")
    out = console()
    out.print(f"{info['name']}: platform {info['platform']}, "
              f"simulated time {info['time_ns'] / 1e9:.6f} s")  # fmt: skip
    out.print(f"CPUs online: {format_cpulist(info['cpus_online'])} of {info['cpus']}")
    if info["mpam_enabled"]:
        out.print(f"MPAM enabled with {info['partids']} PARTIDs and {info['pmgs']} PMGs")
    else:
        out.print("MPAM not enabled")
    for cname, c in info["classes"].items():
        comps = ", ".join(
            f"{cid}: MSC {'/'.join(map(str, m))}" for cid, m in c["components"].items()
        )
        out.print(f"  class {cname}: {comps}")


@click.command()
@name_option
def ps(name: str | None) -> None:
    """Tasks: pid, name, CPU, state and the PARTID/PMG their next memory access carries."""
    rows = _call(name, "ps")
    click.echo(f"{'PID':>5} {'NAME':<18} {'CPU':>3} {'STATE':<5} {'PARTID':>6} {'PMG':>3}")
    for r in rows:
        cpu = "-" if r["cpu"] is None else str(r["cpu"])
        click.echo(
            f"{r['pid']:>5} {r['name']:<18} {cpu:>3} {r['state']:<5} {r['partid']:>6} {r['pmg']:>3}"
        )


@click.group()
def cpu() -> None:
    """CPU hotplug: take a CPU offline or bring it back."""


def _hotplug(name: str | None, number: int, online: bool) -> None:
    ret = _call(name, "cpu", cpu=number, online=online)
    if ret:
        raise click.ClickException(f"cpu{number}: {_errno_text(ret)}")


@cpu.command()
@click.argument("number", type=int)
@name_option
def offline(number: int, name: str | None) -> None:
    """Take CPU NUMBER offline (echo 0 > /sys/devices/system/cpu/cpuN/online)."""
    _hotplug(name, number, False)


@cpu.command()
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
def dmesg(name: str | None, level: str) -> None:
    """The kernel log, with timestamps in simulated time."""
    click.echo(_call(name, "dmesg", level=level), nl=False)


@click.command()
@name_option
@click.option(
    "--kind", type=click.Choice(["all", "sysreg", "mmio"]), default="all", show_default=True
)
@click.option(
    "--cpu", "cpu_filter", type=int, default=None, help="Only system-register writes on this CPU."
)
@click.option("--msc", default=None, help="Only MMIO accesses to this MSC (its name, e.g. slc3).")
@click.option("--register", default=None, help="Only this register (MPAM0_EL1, MPAMCFG_CPBM, ...).")
@click.option("--last", type=int, default=None, help="Only the last N entries.")
def trace(
    name: str | None, kind: str, cpu_filter: int | None, msc: str | None, register: str | None,
    last: int | None,
) -> None:  # fmt: skip
    """System-register writes by the kernel and MMIO accesses by the driver, in time order."""
    kind_arg = "sysreg" if cpu_filter is not None and kind == "all" else kind
    rows = _call(
        name, "trace", kind=kind_arg, cpu=cpu_filter, msc=msc, register=register, last=last
    )
    for r in rows:
        stamp = f"[{r['time_ns'] // 1_000_000_000:5d}.{r['time_ns'] // 1000 % 1_000_000:06d}]"
        if r["kind"] == "sysreg":
            click.echo(f"{stamp} cpu{r['cpu']} pid {r['pid']} {r['comm']}: msr {r['register']}, "
                       f"0x{r['before']:x} -> 0x{r['after']:x} ({r['origin']})")  # fmt: skip
        else:
            op = "write" if r["write"] else "read "
            click.echo(
                f"{stamp} {r['msc']} {op} 0x{r['offset']:04x} {r['register']} = 0x{r['value']:08x}"
            )


def _errno_text(ret: int) -> str:
    return f"{os.strerror(-ret)} ({errno.errorcode.get(-ret, ret)})"


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@name_option
@click.option("-o", "options", default="", metavar="OPTIONS",
              help="Mount options: cdp, cdpl2, mba_MBps, debug (comma separated).")  # fmt: skip
def mount(directory: str, name: str | None, options: str) -> None:
    """Mount a running machine's resctrl at DIRECTORY (boots the default platform first
    when no machine runs)."""
    if name is None and not client.running():
        try:
            client.boot(DEFAULT, client.DEFAULT_NAME)
        except client.MachineError as e:
            raise click.ClickException(str(e)) from None
    ret = _call(name, "mount", dir=os.path.abspath(directory), options=options)
    if ret:
        # Like mount(8), which prints the fs_context log's reason after the errno.
        reason = _call(name, "status").get("mount_error", "") if ret == -errno.EINVAL else ""
        detail = f": {reason}" if reason else ""
        raise click.ClickException(f"mount resctrl at {directory}: {_errno_text(ret)}{detail}")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
def umount(directory: str) -> None:
    """Unmount the resctrl mounted at DIRECTORY (resetting every group, as the kernel does)."""
    path = os.path.realpath(directory)
    for machine_name in client.running():
        machine = client.RunningMachine(machine_name)
        if path in machine.call("status")["mounts"]:
            ret = machine.call("umount", dir=path)
            if ret:
                raise click.ClickException(f"umount {directory}: {_errno_text(ret)}")
            return
    raise click.ClickException(f"umount {directory}: not a resctrl mount of a running machine")
