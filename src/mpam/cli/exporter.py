"""`mpam exporter`: the machine's resctrl counters for Prometheus."""

from __future__ import annotations

import signal
import threading

import click

from mpam.cli.common import find, name_option
from mpam.cli.monitor import resctrl_mount

__all__ = ["exporter"]


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.ClickException(
            f"exporter: --listen {listen!r} is not HOST:PORT (e.g. 127.0.0.1:9100)"
        )
    return host.strip("[]"), int(port)


@click.command()
@name_option
@click.option("--listen", default="127.0.0.1:9100", show_default=True, metavar="HOST:PORT",
              help="Where to serve /metrics.")  # fmt: skip
def exporter(name: str | None, listen: str) -> None:
    """Serve the machine's resctrl counters (llc_occupancy, mbm_*_bytes per group and
    domain, named as goresctrl's collector names them), its simulated time and each task's
    IPC at http://HOST:PORT/metrics, until Ctrl-C (docs/monitoring.md)."""
    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    from mpam.machine.exporter import ResctrlCollector

    host, port = _address(listen)
    machine = find(name)
    with resctrl_mount(machine) as mount:
        registry = CollectorRegistry()
        registry.register(ResctrlCollector(machine, mount))
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as e:
            raise click.ClickException(
                f"exporter: cannot listen on {listen}: {e.strerror}"
            ) from None
        click.echo(f"serving machine {machine.name!r} at http://{listen}/metrics (Ctrl-C stops)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            thread.join(timeout=5)
