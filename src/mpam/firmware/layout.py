"""ACPI structure layouts declared once, as data, for the parser, the builder and the decoder.

Every ACPI structure the project reads or writes is a packed little-endian sequence of fields.
Declaring each one as a `Layout` (field key, the label ACPICA's disassembler prints, size)
lets one description drive three jobs: `unpack` for the parser (bounds-checked, so no byte
pattern can read past the table), `pack` for the builder, and the per-field offsets the
`mpam acpi decode` listing prints.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["Field", "Kind", "Layout", "TableError", "int_fields"]


class TableError(ValueError):
    """A table that cannot be decoded, or that the consumer refuses.

    Carries the table signature, the byte offset of the offending field and the reason, so
    that a firmware engineer can go straight to the byte.
    """

    def __init__(self, signature: str, offset: int, reason: str) -> None:
        self.signature = signature
        self.offset = offset
        self.reason = reason
        super().__init__(f"{signature} table, offset 0x{offset:X} ({offset}): {reason}")


class Kind(Enum):
    """How a field's bytes are interpreted."""

    INT = "int"  # unsigned little-endian integer of 1, 2, 4 or 8 bytes
    NAME = "name"  # fixed-length ASCII (signature, OEM ID, _HID), kept as bytes
    BYTES = "bytes"  # raw bytes (reserved areas wider than 8 bytes)


_INT_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass(frozen=True)
class Field:
    """One field of a structure: its record key, ACPICA label, size and interpretation."""

    key: str
    label: str
    size: int
    kind: Kind = Kind.INT
    reserved: bool = False  # the specification requires zero

    def __post_init__(self) -> None:
        if self.kind is Kind.INT and self.size not in _INT_FORMATS:
            raise ValueError(f"{self.key}: integer fields are 1, 2, 4 or 8 bytes")


class Layout:
    """A packed structure: fields in order, with their offsets inside the structure."""

    def __init__(self, name: str, *fields: Field) -> None:
        self.name = name
        self.fields = fields
        offsets = []
        at = 0
        fmt = "<"
        for f in fields:
            offsets.append(at)
            at += f.size
            fmt += _INT_FORMATS[f.size] if f.kind is Kind.INT else f"{f.size}s"
        self.offsets: tuple[int, ...] = tuple(offsets)
        self.size = at
        self._struct = struct.Struct(fmt)
        self._index = {f.key: i for i, f in enumerate(fields)}

    def offset_of(self, key: str) -> int:
        """Offset of field `key` from the start of the structure."""
        return self.offsets[self._index[key]]

    def unpack(
        self, data: bytes, at: int, end: int, signature: str, what: str = ""
    ) -> dict[str, int | bytes]:
        """The fields of the structure at `at`, which must end at or before `end`."""
        if at < 0 or at + self.size > min(end, len(data)):
            room = max(0, min(end, len(data)) - at)
            raise TableError(
                signature,
                at,
                f"{what or self.name} needs {self.size} bytes, only {room} remain",
            )
        values = self._struct.unpack_from(data, at)
        return {f.key: v for f, v in zip(self.fields, values, strict=True)}

    def pack(self, values: Mapping[str, object]) -> bytes:
        """The bytes of the structure; reserved fields not given are zero."""
        out = []
        for f in self.fields:
            value = values.get(f.key)
            if value is None:
                if not f.reserved:
                    raise KeyError(f"{self.name}: no value for {f.key}")
                value = 0 if f.kind is Kind.INT else b""
            out.append(value)
        return self._struct.pack(*out)


def int_fields(values: Mapping[str, int | bytes]) -> dict[str, int]:
    """The integer fields of an unpacked structure (names and raw areas left out)."""
    return {k: v for k, v in values.items() if isinstance(v, int)}
