"""PARTID enable and disable (HAS_ENDIS: IHI0099's MPAMCFG_EN/DIS and reset rules) on a
booted machine: boot firmware enables every PARTID, since Linux never writes MPAMCFG_EN; a
PARTID disabled afterwards allocates nothing in the cache its MSC controls."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mpam.hw.regmap import field_prep, reg
from mpam.machine import Machine


def _tiny_with_endis(tmp_path: Path) -> Path:
    text = (resources.files("mpam.platform") / "presets" / "tiny.toml").read_text()
    assert text.count("max_nrdy_usec = 20\n") == 2
    path = tmp_path / "tiny-endis.toml"
    path.write_text(text.replace("max_nrdy_usec = 20\n", "max_nrdy_usec = 20\nhas_endis = true\n"))
    return path


def test_firmware_enables_every_partid_and_a_disabled_one_allocates_nothing(
    tmp_path: Path,
) -> None:
    m = Machine(_tiny_with_endis(tmp_path), sample=1).boot()
    l3 = m.hw.msc("l3")
    assert l3.desc.has_endis and l3.enabled.all()
    l3.write32(reg("MPAMCFG_PART_SEL").offset, 0)
    flags = l3.read32(reg("MPAMCFG_EN_FLAGS").offset)
    assert flags == (1 << min(32, l3.partid_max + 1)) - 1
    fs = m.resctrl
    assert fs is not None and fs.mount("debug") == 0  # debug: ctrl_hw_id shows the PARTID
    assert fs.mkdir("/g") == 0
    domain = fs.listdir("/g/mon_data")[0]
    task = m.run_workload("stream:footprint=64MiB", cpu=0)
    fs.write("/g/tasks", str(task.pid))
    m.run(20_000_000)
    occupancy = f"/g/mon_data/{domain}/llc_occupancy"
    filled = int(fs.read(occupancy))
    assert filled > 0
    partid = int(fs.read("/g/ctrl_hw_id"))
    l3.write32(reg("MPAMCFG_DIS").offset, field_prep("MPAMCFG_DIS", "PARTID", partid))
    m.run(20_000_000)
    # No new line for the disabled PARTID; the lines it has go first when others fill.
    assert int(fs.read(occupancy)) <= filled
    other = m.run_workload("stream:footprint=64MiB", cpu=1)
    m.run(20_000_000)
    assert int(fs.read(occupancy)) == 0
    assert m.sim.task_stats(other.pid).llc_misses > 0
