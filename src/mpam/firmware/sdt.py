"""The 36-byte header every ACPI system description table starts with, and its checksum.

Linux (through ACPICA's table manager) refuses a table whose bytes do not sum to zero, so a
bad checksum is an error here too, never a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpam.firmware.layout import Field, Kind, Layout, TableError

__all__ = ["HEADER", "TableHeader", "checksum", "parse_header", "with_header"]

HEADER = Layout(
    "table header",
    Field("signature", "Signature", 4, Kind.NAME),
    Field("length", "Table Length", 4),
    Field("revision", "Revision", 1),
    Field("checksum", "Checksum", 1),
    Field("oem_id", "Oem ID", 6, Kind.NAME),
    Field("oem_table_id", "Oem Table ID", 8, Kind.NAME),
    Field("oem_revision", "Oem Revision", 4),
    Field("creator_id", "Asl Compiler ID", 4, Kind.NAME),
    Field("creator_revision", "Asl Compiler Revision", 4),
)


@dataclass(frozen=True)
class TableHeader:
    """The decoded header, with whether the table's bytes sum to zero."""

    signature: bytes
    length: int
    revision: int
    checksum: int
    oem_id: bytes
    oem_table_id: bytes
    oem_revision: int
    creator_id: bytes
    creator_revision: int
    checksum_ok: bool


def checksum(data: bytes) -> int:
    """The byte that makes `data` (with a zero checksum byte) sum to 0 mod 256."""
    return (-sum(data)) & 0xFF


def _name(text: str, length: int) -> bytes:
    return text.encode("ascii").ljust(length, b" ")


def with_header(
    signature: str,
    revision: int,
    body: bytes,
    *,
    oem_id: str,
    oem_table_id: str,
    oem_revision: int,
    creator_id: str,
    creator_revision: int,
) -> bytes:
    """A complete table: the header (length and checksum filled in) followed by `body`."""
    header = HEADER.pack(
        {
            "signature": _name(signature, 4),
            "length": HEADER.size + len(body),
            "revision": revision,
            "checksum": 0,
            "oem_id": _name(oem_id, 6),
            "oem_table_id": _name(oem_table_id, 8),
            "oem_revision": oem_revision,
            "creator_id": _name(creator_id, 4),
            "creator_revision": creator_revision,
        }
    )
    table = bytearray(header + body)
    table[HEADER.offset_of("checksum")] = checksum(bytes(table))
    return bytes(table)


def parse_header(data: bytes, signature: str, *, verify: bool = True) -> TableHeader:
    """The header of `data`, refused unless the signature, length and checksum are right.

    The returned header's `length` is the table length; bytes beyond it are not part of the
    table and are ignored, as ACPICA does when it maps a table by its header. With
    `verify=False` a bad checksum is only recorded (`checksum_ok`), for tools that show
    what a broken table holds.
    """
    if len(data) < HEADER.size:
        raise TableError(
            signature,
            len(data),
            f"truncated: {len(data)} bytes is shorter than an ACPI table header "
            f"({HEADER.size} bytes)",
        )
    v = HEADER.unpack(data, 0, len(data), signature)
    sig = v["signature"]
    assert isinstance(sig, bytes)
    if sig != signature.encode():
        raise TableError(
            signature, 0, f"wrong signature {sig.decode('latin-1')!r}: expected {signature!r}"
        )
    length = v["length"]
    assert isinstance(length, int)
    if length < HEADER.size:
        raise TableError(
            signature, 4, f"table length {length} is shorter than the {HEADER.size}-byte header"
        )
    if length > len(data):
        raise TableError(
            signature,
            len(data),
            f"truncated: the table length says {length} bytes, only {len(data)} given",
        )
    at = HEADER.offset_of("checksum")
    total = sum(data[:length]) & 0xFF
    if total and verify:
        expected = checksum(data[:at] + bytes(1) + data[at + 1 : length])
        raise TableError(
            signature,
            at,
            f"bad checksum 0x{data[at]:02X}: the table's bytes sum to 0x{total:02X}, "
            f"not zero (the checksum should be 0x{expected:02X})",
        )
    return TableHeader(**v, checksum_ok=total == 0)  # type: ignore[arg-type]
