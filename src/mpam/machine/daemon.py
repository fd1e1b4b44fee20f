"""A running machine: one background process per machine, answering on a Unix socket.

`mpam boot` starts `python -m mpam.fuse.serve`, which builds and boots the machine and
then serves requests, one JSON object each way per connection, until `shutdown`. The
socket, the pid file and the process's own log live in the runtime directory
(`runtime_dir()`), named after the machine, so several machines can run at once. Requests
are served one at a time, each under the machine's one lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from mpam.hw import regmap, sysregs
from mpam.hw.msc import ErrorCode
from mpam.hw.pcc import PccMsc
from mpam.machine.client import log_file, open_private, pid_file, runtime_dir, socket_path
from mpam.machine.machine import Machine
from mpam.machine.sessions import ExecSessions, Mounters, start_mount, stop_mount
from mpam.machine.soak import register_mismatches
from mpam.platform.reader import format_cpulist

__all__ = [
    "DEFAULT_SAMPLE",
    "MAX_STEP_NS",
    "Mounters",
    "Refused",
    "Request",
    "SimClock",
    "handlers",
    "pid_file",
    "runtime_dir",
    "serve",
    "socket_path",
]

Request = dict[str, Any]
#: The longest `step` (simulated time): an hour, several wall hours on a busy rdn2.
MAX_STEP_NS = 3600 * 10**9
#: How long a step holds the machine's lock at a time (wall clock: it decides only when
#: other requests get their turn, never what the simulation does).
STEP_SLICE_S = 0.05
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
#: A running machine simulates 1/64 of every cache's sets (set sampling), fast enough to
#: keep up with the wall clock with every CPU busy; `mpam boot --sample 1` is exact.
DEFAULT_SAMPLE = 64


class Refused(Exception):
    """A request the machine will not do as asked; the message tells the user why, and what
    there is instead (the CPUs that exist, the tasks to see in `mpam ps`, ...)."""


def _existing_cpu(m: Machine, value: Any) -> int:
    """The CPU number `value`, refused unless the machine has that CPU."""
    cpu = int(value)
    count = len(m.hw.cpus)
    if not 0 <= cpu < count:
        raise Refused(
            f"cpu {cpu} does not exist: the machine has CPUs {format_cpulist(list(range(count)))}"
        )
    return cpu


def _existing_task(m: Machine, value: Any) -> int:
    pid = int(value)
    if pid not in m.kernel.tasks:
        raise Refused(f"no task with pid {pid} (see `mpam ps` for the tasks there are)")
    return pid


def _names(names: list[str], most: int = 12) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _ps(m: Machine, args: Request) -> list[dict[str, Any]]:
    sched = m.kernel.scheduler
    rows = []
    for t in m.kernel.tasks:
        word = t.mpam_partid_pmg
        labels = t.labels
        running = sched.current(t.cpu) is t if t.cpu is not None else False
        rows.append(
            {
                "pid": t.pid,
                "name": f"[{t.proc_comm}]" if t.kthread else t.comm,
                "cpu": t.cpu,
                "state": "R" if running else t.state,
                "partid": labels.partid_d,
                "pmg": labels.pmg_d,
                "word": word,
                "host_pid": t.host_pid,
            }
        )
    return rows


def _status(m: Machine, args: Request) -> dict[str, Any]:
    d = m.driver
    return {
        "name": m.name,
        "platform": m.platform.name,
        "pid": os.getpid(),
        "time_ns": m.kernel.clock.now_ns,
        "cpus_online": sorted(m.kernel.cpuhp.online_mask),
        "cpus": len(m.hw.cpus),
        "mpam_enabled": d.enabled,
        "partids": d.partid_max + 1 if d.enabled else 0,
        "pmgs": d.pmg_max + 1 if d.enabled else 0,
        "mscs": len(d.mscs),
        "mounts": dict(m.mounts),
        "sysfs_mounts": sorted(m.sysfs_mounts),
        "mount_error": m.resctrl.mount_error if m.resctrl is not None else "",
        "classes": d.describe()["classes"],
    }


def _dmesg(m: Machine, args: Request) -> str | list[dict[str, Any]]:
    """The log as dmesg prints it, or (args["records"]) its records."""
    level = str(args.get("level", "info"))
    if not args.get("records"):
        return m.dmesg(level)
    return [{"time_ns": r.time_ns, "level": r.level, "text": r.text}
            for r in m.kernel.klog.grep("", level)]  # fmt: skip


def _cpu(m: Machine, args: Request) -> int:
    cpu = _existing_cpu(m, args["cpu"])
    return m.cpu_up(cpu) if args.get("online") else m.cpu_down(cpu)


def _inject_error(m: Machine, args: Request) -> str:
    """Fault injection: MSC `args["msc"]` detects error `args["code"]` (an MPAMF_ESR.ERRCODE
    name) as hardware would; its error interrupt is taken at once, so the driver reports
    it and, if MPAM was on, disables MPAM (and resctrl goes with it)."""
    mscs = [d.name for d in m.platform.mscs]
    name = str(args["msc"])
    ids = {str(msc.id): msc.regs for msc in m.driver.mscs}
    if name not in mscs and name not in ids:
        raise Refused(
            f"no MSC named {name!r}: the machine's MSCs are {_names(mscs)} "
            "(or the driver's MSC numbers `mpam status` shows)"
        )
    codes = [c.name for c in ErrorCode if c is not ErrorCode.NONE]
    code = str(args["code"]).upper()
    if code not in codes:
        raise Refused(f"no error code {args['code']!r}: use one of {', '.join(codes)}")
    device = ids[name] if name in ids else m.hw.msc(name)
    msc = device.msc if isinstance(device, PccMsc) else device
    msc.inject_error(ErrorCode[code], partid_mon=int(args.get("partid") or 0),
                     pmg=int(args.get("pmg") or 0))  # fmt: skip
    m.service()
    return m.driver.disable_reason or ""


def _trace(m: Machine, args: Request) -> list[dict[str, Any]]:
    kind = args.get("kind", "all")
    cpu, register, msc = args.get("cpu"), args.get("register"), args.get("msc")
    if cpu is not None:
        cpu = _existing_cpu(m, cpu)
    if msc is not None:
        mscs = [d.name for d in m.platform.mscs]
        if msc not in mscs:
            raise Refused(f"no MSC named {msc!r}: the machine's MSCs are {_names(mscs)}")
    if register is not None:
        known = {r.name for r in regmap.REGISTERS} | set(sysregs.REGISTERS)
        if register.split("<")[0] not in known:
            raise Refused(
                f"no register named {register!r}: use a name from the Arm MPAM "
                "specification, e.g. MPAM0_EL1, MPAM1_EL1, MPAMCFG_CPBM, MPAMCFG_MBW_MAX"
            )
    out: list[dict[str, Any]] = []
    since_mmio, since_sysreg, since_irq = _mark(args["since"]) if args.get("since") else (0, 0, 0)
    records = m.kernel.trace.records
    if kind in ("all", "sysreg") and msc is None:
        for seq, r in enumerate(records[since_sysreg:], start=since_sysreg):
            if (cpu is None or r.cpu == cpu) and (register is None or r.register == register):
                out.append(
                    {
                        "seq": seq,
                        "time_ns": r.time_ns,
                        "kind": "sysreg",
                        "cpu": r.cpu,
                        "pid": r.pid,
                        "comm": r.comm,
                        "register": r.register,
                        "before": r.before,
                        "after": r.after,
                        "origin": r.origin,
                    }
                )
    if kind in ("all", "mmio") and cpu is None:
        trace = m.driver.mmio_trace
        first = m.driver.mmio_traced - len(trace)  # the seq of the oldest one kept
        start = max(since_mmio - first, 0)
        for seq, a in enumerate(list(trace)[start:], start=first + start):
            if (msc is None or a.msc == msc) and (
                register is None or a.register.startswith(register)
            ):
                out.append(
                    {
                        "seq": seq,
                        "time_ns": a.time_ns,
                        "kind": "mmio",
                        "msc": a.msc,
                        "write": a.write,
                        "offset": a.offset,
                        "register": a.register,
                        "value": a.value,
                        "selected": a.selected,
                        "fields": regmap.decode(a.offset, a.value),
                    }
                )
    if kind in ("all", "irq") and register is None:
        events = m.kernel.irq_events.records
        for seq, e in enumerate(events[since_irq:], start=since_irq):
            if (cpu is None or e.cpu == cpu) and (msc is None or e.device == msc):
                out.append(
                    {
                        "seq": seq,
                        "time_ns": e.time_ns,
                        "end_ns": e.end_ns,
                        "kind": "irq",
                        "cpu": e.cpu,
                        "irq": e.irq,
                        "name": e.name,
                        "msc": e.device,
                        "handled": e.handled,
                    }
                )
    out.sort(key=lambda row: row["time_ns"])  # stable: each kind stays in its own order
    last = args.get("last")
    if last is None:
        return out
    return out[-int(last) :] if int(last) > 0 else []


def _mark(text: object) -> tuple[int, int, int]:
    """A trace mark, "MMIO.SYSREG.IRQ": how many of each had been traced when it was taken."""
    try:
        mmio, sysreg, irq = (int(part) for part in str(text).split("."))
    except ValueError:
        raise Refused(f"{text!r} is not a trace mark (`mpam trace --mark` prints one)") from None
    return mmio, sysreg, irq


def _trace_mark(m: Machine, args: Request) -> str:
    k = m.kernel
    return f"{m.driver.mmio_traced}.{len(k.trace.records)}.{len(k.irq_events.records)}"


def _run(m: Machine, args: Request) -> int:
    cpu = _existing_cpu(m, args["cpu"])
    if cpu not in m.kernel.scheduler.online:
        raise Refused(f"cpu {cpu} is offline: bring it back with `mpam cpu online {cpu}`")
    task = m.run_workload(str(args["spec"]), cpu=cpu, name=args.get("comm"))
    task.uid = int(args.get("uid") or 0)  # the process's credentials (cred->uid, ->suid)
    return task.pid


def _kill(m: Machine, args: Request) -> None:
    pid = _existing_task(m, args["pid"])
    task = m.kernel.tasks[pid]
    if task.kthread or pid == 1:
        raise Refused(
            f"task {pid} ({task.comm}) cannot be killed: only the tasks `mpam run` started can"
        )
    m.kill(pid)


def _stats(m: Machine, args: Request) -> list[dict[str, Any]]:
    return [s.as_dict() for s in m.sim.all_stats()]


def handlers() -> dict[str, Callable[[Machine, Request], Any]]:
    """The requests a running machine answers, by name."""
    return {
        "status": _status,
        "ps": _ps,
        "dmesg": _dmesg,
        "cpu": _cpu,
        "trace": _trace,
        "trace_mark": _trace_mark,
        "inject_error": _inject_error,
        "check": lambda m, args: register_mismatches(m),
        "run": _run,
        "kill": _kill,
        "stats": _stats,
    }


class SimClock:
    """Advances a running machine's simulated time continuously, a tick at a time.

    Simulated time is paced to the wall clock: at most one simulated second per wall
    second, slower when the workloads take longer to simulate than they would run. The
    wall clock only decides *when* a tick runs, never what happens in it; `paused` stops
    the clock for `step` to advance it deterministically.
    """

    def __init__(self, machine: Machine, lock: threading.Lock, paused: bool) -> None:
        self.machine = machine
        self.lock = lock
        self.paused = paused
        self.stopping = False
        self._history: list[tuple[float, int]] = []  # (wall s, simulated ns)
        self._anchor: tuple[float, int] | None = None

    def rate(self) -> float:
        """Simulated seconds per wall second over the last few seconds of running."""
        if len(self._history) < 2:
            return 0.0
        (w0, s0), (w1, s1) = self._history[0], self._history[-1]
        return (s1 - s0) / 1e9 / (w1 - w0) if w1 > w0 else 0.0

    def info(self) -> dict[str, Any]:
        clock = self.machine.kernel.clock
        return {"now_ns": clock.now_ns, "paused": self.paused, "rate": self.rate(),
                "ticks": self.machine.sim.ticks, "sample": self.machine.sim.sample}  # fmt: skip

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._anchor = None
        self._history.clear()

    def run(self) -> None:
        tick = self.machine.sim.tick_ns
        while not self.stopping:
            if self.paused:
                time.sleep(0.02)
                continue
            wall = time.monotonic()
            now = self.machine.kernel.clock.now_ns
            if self._anchor is None:
                self._anchor = (wall, now)
            ahead_s = (now - self._anchor[1]) / 1e9 - (wall - self._anchor[0])
            if ahead_s > 0:
                time.sleep(min(ahead_s, 0.05))
                continue
            if ahead_s < -1.0:  # fell behind: pace from here rather than rush
                self._anchor = (wall, now)
            with self.lock:
                if not self.paused:
                    self.machine.run(tick)
            self._history.append((time.monotonic(), self.machine.kernel.clock.now_ns))
            while self._history and self._history[-1][0] - self._history[0][0] > 3.0:
                self._history.pop(0)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Each connection gets a thread, so a slow client holds up nobody; requests then take
    the machine's one lock, as every path into a kernel takes its locks."""

    daemon_threads = True
    machine: Machine
    lock: threading.Lock
    stopping: bool = False
    mounts: dict[str, threading.Thread]
    mounters: Mounters | None = None
    sessions: ExecSessions | None = None
    sysfs_mounts: dict[str, threading.Thread]
    clock: SimClock
    step_interrupted: bool = False

    def mount_sysfs(self, args: Request) -> int:
        """Mount the machine's /sys/devices/system/cpu at args["dir"]: 0 or -errno."""
        path = os.path.realpath(str(args["dir"]))
        if not os.path.isdir(path):
            return -errno.ENOENT
        if path in self.sysfs_mounts or path in self.mounts:
            return -errno.EBUSY
        if self.mounters is None:
            return -errno.ENODEV  # started without FUSE support
        m, tree = self.machine, self.mounters.tree
        thread = start_mount(lambda: tree(m.cpu_sysfs, path, self.lock), path)
        if thread is None:
            return -errno.EIO
        self.sysfs_mounts[path] = thread
        m.sysfs_mounts.add(path)
        return 0

    def mount(self, args: Request) -> int:
        """Mount resctrl at args["dir"] with args["options"]: 0 or a negative errno."""
        path = os.path.realpath(str(args["dir"]))
        fs = self.machine.resctrl
        if fs is None:
            return -errno.ENODEV  # MPAM is not enabled: no resctrl
        if not os.path.isdir(path):
            return -errno.ENOENT
        with self.lock:
            err = fs.mount(str(args.get("options", "")))
        if err:
            return err
        if self.mounters is None:
            with self.lock:
                fs.umount()
            return -errno.ENODEV  # started without FUSE support
        serve = self.mounters.resctrl
        thread = start_mount(lambda: serve(fs, path, self.lock, self.machine.service), path)
        if thread is None:
            with self.lock:
                fs.umount()
            return -errno.EIO
        self.mounts[path] = thread
        self.machine.mounts[path] = str(args.get("options", ""))
        return 0

    def umount(self, args: Request, *, lazy: bool = False) -> int:
        path = os.path.realpath(str(args["dir"]))
        tree = self.sysfs_mounts.get(path)
        if tree is not None:
            if not stop_mount(path, tree, lazy=lazy):
                return -errno.EBUSY
            self.sysfs_mounts.pop(path, None)
            self.machine.sysfs_mounts.discard(path)
            return 0
        thread = self.mounts.get(path)
        if thread is None:
            return -errno.EINVAL
        if not stop_mount(path, thread, lazy=lazy):
            return -errno.EBUSY  # still mounted and served, as umount(2) leaves a busy one
        self.mounts.pop(path, None)
        self.machine.mounts.pop(path, None)
        fs = self.machine.resctrl
        assert fs is not None
        if self.sessions is not None and self.sessions.sessions:
            self.sessions.umount_at_end = True  # exec sessions still use it: at their end
            return 0
        with self.lock:
            return fs.umount()

    def step(self, args: Request) -> int:
        """Advance simulated time by args["ns"] (the deterministic way: boot --paused), in
        slices of whole ticks that release the lock, so the machine answers meanwhile. It
        stops early when interrupted (`step_interrupt`, `time --pause`) or shut down; the
        simulated time reached is returned. Uninterrupted, it does what one run would."""
        ns = int(args["ns"])
        if not 0 <= ns <= MAX_STEP_NS:
            raise Refused(f"a step is 0 to {MAX_STEP_NS // 10**9} s of simulated time, "
                          f"not {ns / 1e9:g} s: step in parts")  # fmt: skip
        m = self.machine
        ticks, rest = divmod(ns, m.sim.tick_ns)
        self.step_interrupted = False
        while ticks and not (self.step_interrupted or self.stopping):
            with self.lock:
                until = time.monotonic() + STEP_SLICE_S
                while ticks and time.monotonic() < until:
                    m.sim.run(m.sim.tick_ns)
                    ticks -= 1
            time.sleep(0.001)  # a lock is not handed over by itself: let a waiter have it
        with self.lock:
            if not ticks and rest:
                m.sim.run(rest)
            m.service()
            return m.kernel.clock.now_ns

    def exec_begin(self, args: Request) -> dict[str, Any] | int:
        if self.sessions is None:
            return -errno.ENODEV  # started without FUSE support
        return self.sessions.begin(str(args.get("options", "")), int(args["client_pid"]))

    def exec_end(self, args: Request) -> int:
        if self.sessions is None:
            return -errno.EINVAL
        return self.sessions.end(int(args["session"]))

    def stop(self) -> None:
        """Stop serving (from any thread but the one in serve_forever)."""
        self.stopping = True
        threading.Thread(target=self.shutdown, daemon=True).start()

    def unmount_all(self) -> None:
        """The machine is going: every mount goes with it, in use or not."""
        if self.sessions is not None:
            self.sessions.end_all()
        for path in [*self.sysfs_mounts, *self.mounts]:
            self.umount({"dir": path}, lazy=True)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    peer_pid: int = 0

    def _peer_allowed(self) -> bool:
        """Only the machine's owner and root may steer it (SO_PEERCRED, the kernel's word
        on who is connected); anyone else is told so, and the attempt goes to the log."""
        raw = self.connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, _ = _UCRED.unpack(raw)
        owner = os.getuid()
        if uid in (0, owner):
            self.peer_pid = pid
            return True
        sys.stderr.write(f"refused a connection from uid {uid} (pid {pid}): not the owner\n")
        sys.stderr.flush()
        name = self.server.machine.name
        self._reply({"ok": False, "error": f"machine {name!r} belongs to uid {owner}: only its "
                     "owner and root may use it"})  # fmt: skip
        return False

    def handle(self) -> None:
        if not self._peer_allowed():
            return
        # One request per connection: an idle client can never hold the machine.
        self.connection.settimeout(10.0)
        try:
            raw = self.rfile.readline()
        except OSError:
            return
        if raw:
            try:
                request = json.loads(raw)
                op = request.get("op")
                if op == "time":
                    pause = request.get("args", {}).get("pause")
                    if pause is not None:
                        if pause:
                            self.server.step_interrupted = True  # and a step running stops
                        with self.server.lock:
                            self.server.clock.set_paused(bool(pause))
                    self._reply({"ok": True, "result": self.server.clock.info()})
                    return
                if op == "step_interrupt":
                    self.server.step_interrupted = True
                    self._reply({"ok": True, "result": None})
                    return
                if op in ("mount", "umount", "mount_sysfs", "exec_begin", "exec_end", "step"):
                    args = request.get("args", {})
                    if op == "exec_begin":
                        args["client_pid"] = self.peer_pid  # the session lasts while it lives
                    self._reply({"ok": True, "result": getattr(self.server, op)(args)})
                    return
                if op == "shutdown":
                    self.server.unmount_all()
                    self._reply({"ok": True, "result": None})
                    self.server.stop()
                    return
                handler = handlers().get(op)
                if handler is None:
                    self._reply({"ok": False, "error": f"unknown request {op!r}"})
                    return
                with self.server.lock:
                    result = handler(self.server.machine, request.get("args", {}))
                self._reply({"ok": True, "result": result})
            except (Refused, ValueError) as e:  # the request's own fault: say why
                self._reply({"ok": False, "error": str(e)})
            except Exception as e:  # a request must never take the machine down
                self._reply({"ok": False, "error": self._internal_error(raw, e)})

    def _internal_error(self, raw: bytes, e: Exception) -> str:
        """A failure that is the machine's fault, not the request's: the traceback goes to
        the machine's log, the user gets where to find it."""
        name = self.server.machine.name
        sys.stderr.write(f"request {raw.decode(errors='replace').strip()}:\n")
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
        what = str(e) or "no detail"
        return (
            f"machine {name!r} failed on this request ({what}); this is a bug in mpam: "
            f"the traceback is in {log_file(name)}"
        )

    def _reply(self, message: dict[str, Any]) -> None:
        try:
            self.wfile.write(json.dumps(message).encode() + b"\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (an interrupted `mpam step`): nobody to tell


def _clear_stale_sessions(name: str) -> None:
    """The exec session directories a machine of this name that died left behind: their
    mounts (dead since their server went) are cleared and the directories removed."""
    for directory in runtime_dir().glob(f"{name}.exec*"):
        for sub in ("resctrl", "cpu", "proc"):
            path = directory / sub
            subprocess.run(["fusermount3", "-uz", str(path)], check=False, capture_output=True)
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            directory.rmdir()


def serve(
    name: str,
    platform: str,
    mounters: Mounters | None = None,
    *,
    paused: bool = False,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    lock_fd: int | None = None,
) -> int:
    """Boot the machine, then answer requests until shut down (or SIGTERM, which unmounts
    its mounts first); simulated time runs continuously unless `paused`."""
    # The lock is held for the daemon's life: two daemons of one name can never both get
    # past it, so one cannot unlink the other's live socket. `mpam boot` takes it before it
    # starts the daemon and hands it over (`lock_fd`), so a racing boot never even opens
    # the winner's log.
    os.umask(0o077)  # the socket, the log and every file it makes: private
    if lock_fd is None:
        lock_fd = open_private(runtime_dir() / f"{name}.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            sys.stderr.write(f"a machine named {name!r} is already running\n")
            return 1
    lock = os.fdopen(lock_fd, "w")
    _clear_stale_sessions(name)
    machine = Machine(platform, name=name, sample=sample, seed=seed)
    machine.driver.tracing = True
    machine.boot()
    if machine.resctrl is not None:
        # The real-time clock, read once as a kernel reads its RTC at boot: resctrl's file
        # timestamps are real dates; simulated time never depends on it.
        machine.resctrl.rtc_ns = time.time_ns() - machine.kernel.clock.now_ns
    path = socket_path(name)
    path.unlink(missing_ok=True)  # left behind by a machine that died: we hold the lock
    server = _Server(str(path), _Handler)
    server.machine = machine
    server.lock = threading.Lock()
    server.mounts = {}
    server.mounters = mounters
    server.sysfs_mounts = {}
    if mounters is not None:
        server.sessions = ExecSessions(machine, server.lock, mounters, lambda: bool(server.mounts))
    server.clock = SimClock(machine, server.lock, paused)

    def stop_cleanly() -> None:
        server.unmount_all()
        server.stop()

    def terminate(signum: int, frame: Any) -> None:
        threading.Thread(target=stop_cleanly, daemon=True).start()

    signal.signal(signal.SIGTERM, terminate)
    ticker = threading.Thread(target=server.clock.run, daemon=True)
    ticker.start()
    with os.fdopen(open_private(pid_file(name)), "w") as pid_out:
        pid_out.write(f"{os.getpid()}\n")
    try:
        server.serve_forever()
    finally:
        server.clock.stopping = True
        server.server_close()
        path.unlink(missing_ok=True)
        pid_file(name).unlink(missing_ok=True)
        lock.close()
    return 0
