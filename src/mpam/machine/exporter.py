"""The machine's counters as a Prometheus / OpenMetrics endpoint (prometheus_client).

On every scrape the collector reads the machine's resctrl files, as goresctrl's collector
does on real hardware, and names the series as it does: `l3_llc_occupancy`,
`l3_mbm_total_bytes` and `l3_mbm_local_bytes`, labelled `rdt_class` (the control group;
`system/default` for the root), `rdt_mon_group` (the MON group, "" for the control group's
own) and `cache_id` (the monitoring domain's id, as a number). goresctrl's Go client sends
them as counters under those names; Python's client would append `_total` to a counter's
name, so they go out untyped to keep the names a goresctrl dashboard queries (rate() works
on them alike). mpam adds `mpam_simulated_seconds` (the machine's clock) and
`mpam_task_ipc` per task running a workload (`pid`, `workload`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily, UnknownMetricFamily
from prometheus_client.registry import Collector

from mpam.machine.client import MachineError, RunningMachine
from mpam.machine.monitor import resctrl_groups

__all__ = ["ResctrlCollector"]

ROOT_CLASS = "system/default"  # goresctrl's rdt.RootClassName
_EVENTS = {
    "llc_occupancy": "L3 (LLC) occupancy",
    "mbm_total_bytes": "total bytes transferred to/from memory through LLC",
    "mbm_local_bytes": "bytes transferred to/from local memory through LLC",
}


class ResctrlCollector(Collector):
    """A prometheus_client collector over one machine's mounted resctrl."""

    def __init__(self, machine: RunningMachine, mount: Path) -> None:
        self.machine = machine
        self.mount = mount

    def collect(self) -> Iterator[Any]:
        labels = ["rdt_class", "rdt_mon_group", "cache_id"]
        families = {e: UnknownMetricFamily(f"l3_{e}", help_, labels=labels)
                    for e, help_ in _EVENTS.items()}  # fmt: skip
        for ctrl, group, directory in resctrl_groups(self.mount):
            cls = ROOT_CLASS if ctrl == "/" else ctrl
            mon_data = directory / "mon_data"
            if not mon_data.is_dir():
                continue
            for domain in sorted(mon_data.iterdir()):
                cache_id = str(int(domain.name.rsplit("_", 1)[-1]))  # mon_L3_03: 3
                for event, family in families.items():
                    try:
                        text = (domain / event).read_text().strip()
                    except OSError:
                        continue
                    if text.isdigit():
                        family.add_metric([cls, group, cache_id], float(text))
        yield from (f for f in families.values() if f.samples)
        try:
            now = self.machine.call("time")["now_ns"]
            stats = self.machine.call("stats")
        except MachineError:
            return
        clock = GaugeMetricFamily("mpam_simulated_seconds", "the machine's simulated time")
        clock.add_metric([], now / 1e9)
        yield clock
        ipc = GaugeMetricFamily("mpam_task_ipc", "instructions per cycle of a task's workload "
                                "since it started", labels=["pid", "workload"])  # fmt: skip
        for s in stats:
            ipc.add_metric([str(s["pid"]), str(s["workload"])], float(s["ipc"]))
        yield ipc
