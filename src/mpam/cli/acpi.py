"""`mpam acpi`: build a platform's ACPI MPAM table and PPTT, and decode tables for people."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mpam.cli.common import console, load_platform, platform_option
from mpam.firmware import (
    TableError,
    build_tables,
    check_mpam,
    check_pptt,
    disassemble_mpam,
    disassemble_pptt,
    disassemble_srat,
    mpam_to_dict,
    parse_mpam,
    parse_pptt,
    parse_srat,
    pptt_to_dict,
    srat_to_dict,
)
from mpam.firmware.summary import TablesRefused, read_tables, summarise

__all__ = ["acpi"]


@click.group()
def acpi() -> None:
    """ACPI tables: the MPAM table, PPTT and SRAT a firmware publishes."""


@acpi.command(short_help="Write a platform's MPAM table, PPTT and SRAT.")
@platform_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write MPAM.aml, PPTT.aml and SRAT.aml into (created if missing).",
)
def build(platform_name: str, out_dir: Path) -> None:
    """Write the MPAM table, PPTT and SRAT that firmware would publish for a platform."""
    tables = build_tables(load_platform(platform_name))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in tables.items():
        (out_dir / name).write_bytes(data)
        click.echo(f"{out_dir / name}: {len(data)} bytes")


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise click.ClickException(f"{path}: {e.strerror}") from None


@acpi.command(short_help="Print every field of an ACPI table with its offset.")
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print the decoded records as JSON.")
@click.option(
    "--strict",
    is_flag=True,
    help="Report every deviation from the specification, not only those Linux acts on; "
    "exit with status 1 if there is any.",
)
def decode(file: str, as_json: bool, strict: bool) -> None:
    """Print every field of an MPAM table, PPTT or SRAT (chosen by its signature) with its
    offset.

    FILE is a binary table (`-` reads standard input). The listing follows the layout of
    ACPICA's `iasl -d`; for a PPTT it ends with each CPU's caches as Linux's cacheinfo
    reports them. A table that cannot be decoded is refused with the offset and the reason.
    """
    data = _read(file)
    source = "standard input" if file == "-" else file
    signature = data[:4]
    try:
        if signature == b"MPAM":
            mpam = parse_mpam(data)
            findings = check_mpam(mpam)
            record = mpam_to_dict(mpam)
            text = disassemble_mpam(mpam, data, findings, source=source, strict=strict)
        elif signature == b"PPTT":
            pptt = parse_pptt(data)
            findings = check_pptt(pptt)
            record = pptt_to_dict(pptt)
            text = disassemble_pptt(pptt, data, findings, source=source, strict=strict)
        elif signature == b"SRAT":
            srat = parse_srat(data)
            findings = []
            record = srat_to_dict(srat)
            text = disassemble_srat(srat, data, source=source)
        else:
            raise click.ClickException(
                f"{source}: not an MPAM table, PPTT or SRAT: signature "
                f"{signature.decode('latin-1')!r} at offset 0"
            )
    except TableError as e:
        raise click.ClickException(f"{source}: {e}") from None
    if as_json:
        shown = [f for f in findings if strict or f.linux]
        record["findings"] = [
            {"offset": f.offset, "message": f.message, "violation": f.violation, "linux": f.linux}
            for f in shown
        ]
        click.echo(json.dumps(record, indent=2))
    else:
        click.echo(text, nl=False)
    if strict and any(f.violation for f in findings):
        sys.exit(1)


@acpi.command(short_help="Say what Linux makes of a set of ACPI tables.")
@click.argument("files", nargs=-1, required=True, metavar="FILE_OR_DIR...")
@click.option(
    "--platform",
    "-p",
    "platform_name",
    default=None,
    metavar="NAME_OR_FILE",
    help="Also probe this platform's modelled MSCs for the PARTID and PMG limits, which the "
    "driver reads from ID registers, not tables.",
)
def check(files: tuple[str, ...], platform_name: str | None) -> None:
    """Say what Linux makes of an MPAM table (with its PPTT and SRAT, when given).

    FILE_OR_DIR are binary tables, recognised by their signature, or directories of .aml
    files (what `mpam acpi build` writes). The summary lists the MSC devices Linux creates,
    each RIS with its locator and the class and component it joins, the classes, the
    findings Linux acts on and whether the driver would enable MPAM. The PPTT is needed to
    place cache RIS (their level), the SRAT to map proximity domains to NUMA nodes. A table
    that cannot be decoded is refused with the offset and the reason. Exits with status 1
    when Linux would not enable MPAM with these tables.
    """
    from mpam.cli.acpi_check import render_summary  # the renderer, loaded only when checking

    blobs: list[tuple[str, bytes]] = []
    for name in files:
        path = Path(name)
        members = sorted(path.glob("*.aml")) if path.is_dir() else [path]
        if path.is_dir() and not members:
            raise click.ClickException(f"{name}: no .aml files in this directory")
        blobs += [(str(p), _read(str(p))) for p in members]
    try:
        summary = summarise(read_tables(blobs))
    except TablesRefused as e:
        raise click.ClickException(str(e)) from None
    render_summary(summary, load_platform(platform_name) if platform_name else None, console())
    if not summary.enabled:
        sys.exit(1)
