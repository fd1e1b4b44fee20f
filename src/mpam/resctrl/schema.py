"""The schema list: one entry per configurable resource (two with CDP, CODE and DATA).

Built at mount from the arch's alloc-capable resources. Each schema is inserted at the head
of the list, so the list (and every `schemata` listing) runs in reverse resource order: MB
before L2 before L3, and with CDP DATA before CODE. Names are right-aligned to a width that
only grows: a CDP-capable resource without CDP counts its name as four characters longer
(the room "CODE"/"DATA" would take).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpam.resctrl.arch import CdpType, RdtResource, ResctrlArch

__all__ = ["Schema", "SchemaList"]


@dataclass
class Schema:
    """struct resctrl_schema."""

    name: str
    resource: RdtResource
    conf_type: CdpType
    num_closid: int
    staged: dict[int, int] = field(default_factory=dict)  # domain id -> value being written


class SchemaList:
    """The mounted filesystem's schemas and the name column width."""

    def __init__(self) -> None:
        self.schemas: list[Schema] = []
        self.max_name_width = 0  # never reset: the layout stays stable across mounts

    def build(self, arch: ResctrlArch) -> None:
        """schemata_list_create: called at mount, after CDP was enabled or not."""
        self.schemas = []
        for r in arch.resources():
            if not r.alloc_capable:
                continue
            num = arch.get_num_closid(r)
            if arch.get_cdp_enabled(r.rid):
                for suffix, t in (("CODE", CdpType.CODE), ("DATA", CdpType.DATA)):
                    self._add(Schema(r.name + suffix, r, t, num // 2))
            else:
                self._add(Schema(r.name, r, CdpType.NONE, num))
                if r.cdp_capable:
                    self.max_name_width = max(self.max_name_width, len(r.name) + 4)

    def _add(self, s: Schema) -> None:
        self.schemas.insert(0, s)
        self.max_name_width = max(self.max_name_width, len(s.name))

    def find(self, name: str) -> Schema | None:
        return next((s for s in self.schemas if s.name == name), None)

    def num_closids(self) -> int:
        """closids_supported: the smallest num_closid over every schema."""
        return min((s.num_closid for s in self.schemas), default=0)
