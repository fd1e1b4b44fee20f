"""Every read command's --json document validates against its documented schema
(mpam/cli/schemas/*.json, docs/monitoring.md) and carries what the text shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from mpam.cli import main
from mpam.driver.msc_io import MMIO_READ_NS, MMIO_WRITE_NS
from mpam.machine import client


def _json(command: str, *options: str) -> dict[str, Any]:
    """`mpam COMMAND OPTIONS... --json`, checked against the command's schema."""
    result = CliRunner().invoke(main, [*command.split(), *options, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    schema = json.loads((resources.files("mpam.cli") / "schemas" /
                         f"{command.replace(' ', '-')}.json").read_text())  # fmt: skip
    jsonschema.validate(doc, schema)
    assert doc["version"] == 1 and doc["command"] == command
    return doc


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    run = tmp_path_factory.mktemp("json-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPAM_RUNTIME_DIR", str(run))
        client.boot("tiny", "lab", paused=True)
        machine = client.RunningMachine("lab")
        machine.call("run", spec="stream:footprint=4MiB", cpu=1)
        machine.call("step", ns=20_000_000)
        yield
        client.shutdown(machine)


def test_status_list_ps(lab: None) -> None:
    assert _json("status", "-n", "lab")["machine"]["platform"] == "tiny"
    assert [m["name"] for m in _json("list")["machines"]] == ["lab"]
    tasks = _json("ps", "-n", "lab")["tasks"]
    assert tasks[0]["pid"] == 1 and tasks[0]["name"] == "sh"


def test_stats_dmesg_trace(lab: None) -> None:
    workloads = _json("stats", "-n", "lab")["workloads"]
    assert workloads[0]["workload"] == "stream:footprint=4MiB" and workloads[0]["ipc"] > 0
    records = _json("dmesg", "-n", "lab")["records"]
    assert any(r["text"].startswith("MPAM enabled with 16 PARTIDs") for r in records)
    entries = _json("trace", "-n", "lab", "--last", "5")["entries"]
    assert len(entries) == 5 and {e["kind"] for e in entries} <= {"sysreg", "mmio"}


def test_an_interrupt_is_traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An injected MSC error: the handler's run is an `irq` entry (and a Perfetto slice on
    its CPU's track) lasting exactly its accesses: read MPAMF_ESR, clear it, clear ECR."""
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    client.boot("tiny", "irq", paused=True)
    machine = client.RunningMachine("irq")
    try:
        assert _json("trace", "-n", "irq", "--kind", "irq")["entries"] == []
        mark = machine.call("trace_mark")
        machine.call("inject_error", msc="l3", code="REQ_PARTID_RANGE", partid=70)
        (entry,) = _json("trace", "-n", "irq", "--kind", "irq", "--since", mark)["entries"]
        assert (entry["cpu"], entry["irq"], entry["name"], entry["msc"], entry["handled"]) == (
            0, 100, "mpam:msc:error", "l3", True)  # fmt: skip
        assert entry["end_ns"] - entry["time_ns"] == MMIO_READ_NS + 2 * MMIO_WRITE_NS
        result = CliRunner().invoke(main, ["trace", "-n", "irq", "--since", mark,
                                           "--format", "perfetto"])  # fmt: skip
        slices = [e for e in json.loads(result.output)["traceEvents"] if e.get("cat") == "irq"]
        assert [(s["ph"], s["name"], s["dur"]) for s in slices] == [
            ("X", "irq 100 mpam:msc:error", (MMIO_READ_NS + 2 * MMIO_WRITE_NS) / 1000)
        ]
    finally:
        client.shutdown(machine)


def test_inventory_and_platform_list() -> None:
    inv = _json("inventory", "-p", "tiny")
    assert inv["cpus"]["count"] == 4 and [c["name"] for c in inv["caches"]][-1] == "L3"
    assert [m["name"] for m in inv["mscs"]] == ["l3", "mem0"]
    platforms = _json("platform list")["platforms"]
    assert [p["name"] for p in platforms if p["default"]] == ["rdn2"]


def test_status_without_a_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPAM_RUNTIME_DIR", str(tmp_path / "run"))
    assert _json("status")["machine"] is None
    assert _json("list") == {"version": 1, "command": "list", "machines": [], "gone": []}
