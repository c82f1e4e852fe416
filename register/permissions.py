"""Roles. Every command and card verb declares the role it needs; the router checks it in one place."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Ordered: a higher role can do everything a lower one can."""

    STAFF = 1
    APPROVER = 2
    ADMINISTRATOR = 3


def allows(held: Role, needed: Role) -> bool:
    return held >= needed
