"""`mpam acpi`: build a platform's ACPI MPAM table and PPTT, and decode tables for people."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mpam.cli.common import load_platform, platform_option
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

__all__ = ["acpi"]


@click.group()
def acpi() -> None:
    """ACPI tables: the MPAM table and the PPTT a firmware publishes."""


@acpi.command()
@platform_option
@click.option(
    "--output",
    "-o",
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


@acpi.command()
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
