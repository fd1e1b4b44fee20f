"""info/last_cmd_status: the text of why the last command failed (rdt_last_cmd_*).

The kernel keeps one 512-byte buffer: each command clears it, failures append their message
(each ending in a newline, with a few exceptions the callers spell out), and a read prints
it, or "ok" when it is empty.
"""

from __future__ import annotations

__all__ = ["LAST_CMD_STATUS_SIZE", "LastCmdStatus"]

#: The kernel's seq_buf size for last_cmd_status.
LAST_CMD_STATUS_SIZE = 512


class LastCmdStatus:
    """The last_cmd_status buffer."""

    def __init__(self) -> None:
        self._text = ""

    def clear(self) -> None:
        """rdt_last_cmd_clear."""
        self._text = ""

    def puts(self, text: str) -> None:
        """rdt_last_cmd_puts / rdt_last_cmd_printf: append, truncated at the buffer size."""
        room = LAST_CMD_STATUS_SIZE - 1 - len(self._text)
        self._text += text[: max(0, room)]

    def show(self) -> str:
        """What reading info/last_cmd_status gives."""
        return self._text if self._text else "ok\n"
