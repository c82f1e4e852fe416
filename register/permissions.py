"""Roles. Every command and card verb declares the role it needs; the router checks it in one place.

Roles are held in a small settings document (`roles`) keyed by Entra object id (stable across bots and devices),
changed with `register-admin roles`, and every change is audited. Administrators named in REGISTER_ADMINS are
administrators whatever the document says, so a council can never lock itself out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from register.model import Actor

ROLES_SETTING = "roles"


class Role(IntEnum):
    """Ordered: a higher role can do everything a lower one can."""

    STAFF = 1
    APPROVER = 2
    ADMINISTRATOR = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"'{name}' is not a role (staff, approver, administrator)") from None


def allows(held: Role, needed: Role) -> bool:
    return held >= needed


@dataclass(frozen=True, slots=True)
class RoleTable:
    users: Mapping[str, Role] = field(default_factory=dict)
    bootstrap_admins: frozenset[str] = frozenset()

    def role_of(self, actor: Actor) -> Role:
        role = Role.STAFF  # asked on every message: a plain loop, no generators
        for key in (actor.aad_object_id, actor.user_id):
            if not key:
                continue
            key = key.lower()
            if key in self.bootstrap_admins:
                return Role.ADMINISTRATOR
            held = self.users.get(key)
            if held is not None and held > role:
                role = held
        return role

    def holders(self, role: Role) -> list[str]:
        return sorted({i for i, r in self.users.items() if r >= role} | (
            set(self.bootstrap_admins) if role <= Role.ADMINISTRATOR else set()))

    def to_dict(self) -> dict[str, Any]:
        return {"users": {k: v.name.lower() for k, v in sorted(self.users.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, bootstrap_admins: Iterable[str] = ()) -> RoleTable:
        users: dict[str, Role] = {}
        for key, name in ((data or {}).get("users") or {}).items():
            try:
                users[str(key).lower()] = Role.parse(str(name))
            except ValueError:
                continue  # an unknown role grants nothing
        return cls(users, frozenset(a.lower() for a in bootstrap_admins))
