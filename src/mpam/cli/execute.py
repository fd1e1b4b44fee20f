"""`mpam exec`: run an unmodified resctrl client with the machine as its system."""

from __future__ import annotations

import errno
import os
import signal
import sys

import click

from mpam.cli.common import DEFAULT_PLATFORM, errno_text, find, name_option, request
from mpam.cli.machine import _boot
from mpam.machine import client
from mpam.machine.client import DEFAULT_NAME
from mpam.machine.mountns import enter

__all__ = ["exec_"]


def _run(session_dir: str, argv: list[str]) -> int:
    """Run `argv` in the session's namespace; its exit status (128 + N for signal N, as a
    shell reports it). A setup failure is a ClickException."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: build the namespace, then become the command
        os.close(read_end)
        try:
            enter(session_dir)
        except BaseException as e:  # whatever it is, the child must never run on as mpam
            os.write(write_end, f"{e}".encode(errors="replace"))
            os._exit(125)
        try:  # the pipe is close-on-exec: the parent sees it close when the command starts
            os.execvp(argv[0], argv)
        except BaseException as e:
            reason = e.strerror if isinstance(e, OSError) else str(e)
            os.write(write_end, f"\0{argv[0]}: {reason}".encode(errors="replace"))
            os._exit(126 if isinstance(e, PermissionError) else 127)
    os.close(write_end)
    # like a shell waiting for its foreground job: Ctrl-C is the command's to handle
    old = [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGQUIT)]
    try:
        message = b""
        while chunk := os.read(read_end, 4096):
            message += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(read_end)
        for s, handler in zip((signal.SIGINT, signal.SIGQUIT), old, strict=True):
            signal.signal(s, handler)
    if message and not message.startswith(b"\0"):
        raise click.ClickException(f"cannot build the machine's namespace: {message.decode()}")
    if message:
        click.echo(f"mpam exec: {message[1:].decode()}", err=True)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


@click.command(context_settings={"ignore_unknown_options": True})
@name_option
@click.option("-o", "--options", "options", default="", metavar="OPTIONS",
              help="Mount options for resctrl if it is not mounted yet (cdp, cdpl2, "
                   "mba_MBps, debug).")  # fmt: skip
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(name: str | None, options: str, command: tuple[str, ...]) -> None:
    """Run COMMAND with the machine as its system: /sys/fs/resctrl is the machine's resctrl
    (type resctrl in /proc/self/mountinfo and /proc/mounts), /sys/devices/system/cpu and
    /proc/cpuinfo are its CPUs, for COMMAND and every process it starts. Pids written to
    `tasks` there are host pids: a host process written there joins the machine.

    With no machine running, the default platform boots first. The exit status is
    COMMAND's. Put `--` before a COMMAND that has options of its own."""
    if name is None and not client.running():
        _boot(DEFAULT_PLATFORM, DEFAULT_NAME)
    machine = find(name)
    ret = request(machine, "exec_begin", options=options)
    if isinstance(ret, int):
        detail = ""
        if ret == -errno.EBUSY:
            info = request(machine, "status")
            detail = (f": machine {machine.name!r} has resctrl mounted with other options "
                      f"({', '.join(info['mounts'].values()) or 'none'}); leave out -o or "
                      "unmount it first")  # fmt: skip
        elif ret == -errno.EINVAL:
            error = request(machine, "status").get("mount_error")
            detail = f": {error}" if error else ""
        elif ret == -errno.ENODEV:
            detail = ": MPAM is not enabled on this machine, so there is no resctrl"
        raise click.ClickException(f"mpam exec: {errno_text(ret)}{detail}")
    try:
        status = _run(str(ret["dir"]), list(command))
    finally:
        request(machine, "exec_end", session=ret["session"])
    sys.exit(status)
