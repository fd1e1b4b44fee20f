"""Helpers the firmware tests share: a table with some bytes changed and its checksum made
right again, so that Linux's rules (not the checksum) decide what happens to it."""

from __future__ import annotations


def patch_table(data: bytes, at: int, value: int, size: int) -> bytes:
    """`data` with `size` bytes at `at` set to `value`, and the checksum made right again."""
    out = bytearray(data)
    out[at : at + size] = value.to_bytes(size, "little")
    out[9] = 0
    out[9] = -sum(out) & 0xFF
    return bytes(out)
