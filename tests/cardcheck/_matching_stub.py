"""TEMPORARY copy of register.matching's result types, for the card tests until register/matching.py lands.
Delete once it does (tests import register.matching first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from register.model import Address, Entry, Incident, Outcome


@dataclass(frozen=True, slots=True)
class Match:
    ref: str
    kind: Literal["entry", "incident"]
    address: Address | None
    entry: Entry | None = None
    incident: Incident | None = None
    score: float = 100.0


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: Outcome
    matches: tuple[Match, ...]
