"""Who may decide on incidents, per service area: a small settings document (`approvers`), changed with
`register-admin approvers`, every change audited. Listing someone here does not make them an approver: they must
also hold the approver role (register/permissions.py), and the reporter's choice is offered only among those."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

APPROVERS_SETTING = "approvers"


@dataclass(frozen=True, slots=True)
class Approver:
    object_id: str  # Entra object id, lower case
    name: str = ""  # as shown in the reporter's list

    @property
    def title(self) -> str:
        return self.name or self.object_id


@dataclass(frozen=True, slots=True)
class ApproverTable:
    areas: Mapping[str, tuple[Approver, ...]] = field(default_factory=dict)

    def for_area(self, area: str) -> tuple[Approver, ...]:
        return tuple(self.areas.get(area, ()))

    def find(self, object_id: str) -> Approver | None:
        key = object_id.strip().lower()
        return next((a for people in self.areas.values() for a in people if a.object_id == key), None)

    def add(self, area: str, object_id: str, name: str = "") -> ApproverTable:
        key = object_id.strip().lower()
        kept = tuple(a for a in self.for_area(area) if a.object_id != key)
        return ApproverTable({**self.areas, area: (*kept, Approver(key, name.strip()))})

    def remove(self, area: str, object_id: str) -> ApproverTable:
        key = object_id.strip().lower()
        kept = tuple(a for a in self.for_area(area) if a.object_id != key)
        areas = {**self.areas, area: kept}
        return ApproverTable({k: v for k, v in areas.items() if v})

    def to_dict(self) -> dict[str, Any]:
        return {"areas": {area: [{"id": a.object_id, "name": a.name} for a in people]
                          for area, people in sorted(self.areas.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ApproverTable:
        areas: dict[str, tuple[Approver, ...]] = {}
        for area, people in ((data or {}).get("areas") or {}).items():
            if not isinstance(people, list):
                continue
            areas[str(area)] = tuple(Approver(str(p.get("id") or "").lower(), str(p.get("name") or ""))
                                     for p in people if isinstance(p, dict) and p.get("id"))
        return cls(areas)
