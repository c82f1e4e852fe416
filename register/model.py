"""The register's domain objects.

Plain dataclasses with explicit JSON round-tripping, so every storage backend stores the same documents
(the embedded store behaves like Cosmos, not like a bag of live objects).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

#: A register reference: 'MCR-2026-0001', 'INC-2026-000123' (upper case; readers upper-case what is typed)
REF_PATTERN = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{3,6}$")


class Subject(StrEnum):
    PERSON = "person"
    PROPERTY = "property"
    PERSON_AND_PROPERTY = "person_and_property"


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    LIFTED = "lifted"
    EXPIRED = "expired"


class Restriction(StrEnum):
    """The menu of restrictions in the policy (the council's policy). Codes are the import format's codes."""

    SINGLE_POINT_OF_CONTACT = "single_point_of_contact"
    WRITTEN_CONTACT_ONLY = "written_contact_only"
    PHONE_LIMITS = "phone_limits"
    NO_LONE_VISITS = "no_lone_visits"
    OFFICE_APPOINTMENTS_ONLY = "office_appointments_only"
    PREMISES_EXCLUSION = "premises_exclusion"
    CORRESPONDENCE_ON_FILE = "correspondence_on_file"
    OTHER = "other"


class Outcome(StrEnum):
    """Exactly one outcome per check (the policy: what a check shows)."""

    ALERT = "alert"
    BUILDING = "building"
    PENDING = "pending"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Address:
    """A UK address in its parts. `text` is the address as entered; the other fields are normalised
    (upper case, abbreviations expanded, postcode as 'PR7 1AA')."""

    text: str = ""
    saon: str = ""  # flat / sub-building: 'FLAT 2', 'GROUND FLOOR FLAT', 'UNIT 4'
    paon: str = ""  # number or building name: '12', '39A', '12-14', 'LOLANO HOUSE'
    street: str = ""
    locality: str = ""
    town: str = ""
    postcode: str = ""
    uprn: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Address | None:
        if not data:
            return None
        return cls(**{k: str(data.get(k) or "") for k in cls.__dataclass_fields__})

    def display(self) -> str:
        """One line for a card or a CLI row: 'Flat 2, 12 High Street, Chorley, PR7 1AA'.

        The address as it was imported (`text`), with only case, spacing and the postcode tidied: never rewritten
        from the parsed parts, which are for matching ('The Street' must not come back as 'The Saint'). Built from
        the parts only when there is no text (a property the matcher composed for a choice)."""
        if self.text:
            return _tidy(self.text, self.postcode)
        if self.paon and not self.paon[0].isdigit():
            # a building name stands apart from its street: 'Astley House, Park Road'
            parts = [self.saon, self.paon, self.street, self.locality, self.town]
        else:
            parts = [self.saon, " ".join(p for p in (self.paon, self.street) if p), self.locality, self.town]
        line = ", ".join(_title(p) for p in parts if p)
        if self.postcode:
            line = f"{line}, {self.postcode}" if line else self.postcode
        return line or self.text


def _tidy(text: str, postcode: str) -> str:
    """'2 BOURNE COTTAGES ,THE  STREET' -> '2 Bourne Cottages, The Street', then the postcode (written 'PR7 1AA')."""
    from register.address import find_postcode  # noqa: PLC0415 - the address rules import this module

    found, rest = find_postcode(text)
    parts = [" ".join(_tidy_word(w) for w in p.split()) for p in rest.split(",")]
    line = ", ".join(p for p in parts if p)
    postcode = postcode or found
    if postcode:
        line = f"{line}, {postcode}" if line else postcode
    return line


def _tidy_word(word: str) -> str:
    # a word typed all in capitals or all in small letters is written like a name; 'McDonald' stays as typed
    if word.isupper() or word.islower():
        return _title(word)
    return word


def _title(part: str) -> str:
    # 'FLAT 2' -> 'Flat 2', '39A' stays '39A', "ST. JOHN'S" -> "St. John's"
    return " ".join(w if any(c.isdigit() for c in w) else w.capitalize() for w in part.split())


def _d(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class InvalidDocument(ValueError):
    """A stored document lacks something every document of its kind has: a damaged or foreign record. Raised
    (never asserted: `python -O` would skip an assert) so that it is reported, not read as something else."""


def _required_dt(data: dict[str, Any], key: str, kind: str) -> datetime:
    value = _dt(data.get(key))
    if value is None:
        raise InvalidDocument(f"{kind} document without '{key}'")
    return value


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def history_event(at: datetime, actor: Actor, event: str, detail: str) -> dict[str, Any]:
    """One line of an entry's history: when, who (Entra object id, else Teams id), what, and why or what to."""
    return {"at": at.isoformat(), "by": actor.aad_object_id or actor.user_id, "event": event, "detail": detail}


@dataclass(slots=True)
class Entry:
    """A register entry: restrictions applied to a person, a property, or both."""

    ref: str
    subject: Subject
    status: Status
    person_name: str = ""
    aliases: list[str] = field(default_factory=list)
    address: Address | None = None
    restrictions: list[Restriction] = field(default_factory=list)
    guidance: str = ""
    contact: str = ""
    decided_on: date | None = None
    review_on: date | None = None
    expires_on: date | None = None
    incident_refs: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    #: lifecycle (entries made from an approval): the approver who owns its reviews, when the customer was told
    #: in writing or why not, and every change as an event ({"at", "by", "event", "detail"}): corrections are
    #: recorded, never overwritten
    owner_id: str = ""
    notified_on: date | None = None
    notification_withheld: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def is_live(self, today: date) -> bool:
        """Active and inside its dates. Expiry is decided by date, never by a store's TTL: at the review date the
        restriction lapses unless a review extends it (the council's policy)."""
        if self.status is not Status.ACTIVE:
            return False
        if self.review_on and today > self.review_on:
            return False
        if self.expires_on and today > self.expires_on:
            return False
        return True

    def is_awaiting_decision(self) -> bool:
        return self.status is Status.PENDING

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "subject": self.subject.value,
            "status": self.status.value,
            "person_name": self.person_name,
            "aliases": list(self.aliases),
            "address": self.address.to_dict() if self.address else None,
            "restrictions": [r.value for r in self.restrictions],
            "guidance": self.guidance,
            "contact": self.contact,
            "decided_on": _iso(self.decided_on),
            "review_on": _iso(self.review_on),
            "expires_on": _iso(self.expires_on),
            "incident_refs": list(self.incident_refs),
            "updated_at": _iso(self.updated_at),
            "owner_id": self.owner_id,
            "notified_on": _iso(self.notified_on),
            "notification_withheld": self.notification_withheld,
            "history": [dict(h) for h in self.history],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            ref=data["ref"],
            subject=Subject(data["subject"]),
            status=Status(data["status"]),
            person_name=data.get("person_name") or "",
            aliases=list(data.get("aliases") or []),
            address=Address.from_dict(data.get("address")),
            restrictions=[Restriction(r) for r in data.get("restrictions") or []],
            guidance=data.get("guidance") or "",
            contact=data.get("contact") or "",
            decided_on=_d(data.get("decided_on")),
            review_on=_d(data.get("review_on")),
            expires_on=_d(data.get("expires_on")),
            incident_refs=list(data.get("incident_refs") or []),
            updated_at=_dt(data.get("updated_at")),
            owner_id=data.get("owner_id") or "",
            notified_on=_d(data.get("notified_on")),
            notification_withheld=data.get("notification_withheld") or "",
            history=[dict(h) for h in data.get("history") or [] if isinstance(h, dict)],
        )


class IncidentStatus(StrEnum):
    PENDING = "pending"  # reported, awaiting a decision
    DECIDED = "decided"  # an entry was made or amended from it
    REJECTED = "rejected"


class DecisionKind(StrEnum):
    NO_ACTION = "no_action"
    INFORMAL_WARNING = "informal_warning"
    FORMAL_WARNING = "formal_warning"
    RESTRICTION = "restriction"
    REJECTED = "rejected"  # the report itself was rejected (not a matter for the register)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the approver decided on an incident, by whom and when; for a restriction, what the entry says."""

    kind: DecisionKind
    by: Actor
    at: datetime
    reason: str = ""  # in words fit for the customer's letter (or why the report was rejected)
    restrictions: tuple[str, ...] = ()
    restriction_other: str = ""
    guidance: str = ""
    review_on: date | None = None
    notify: bool = True  # the customer will be told in writing
    withheld_reason: str = ""
    entry_ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "by": self.by.to_dict(), "at": self.at.isoformat(), "reason": self.reason,
                "restrictions": list(self.restrictions), "restriction_other": self.restriction_other,
                "guidance": self.guidance, "review_on": _iso(self.review_on), "notify": self.notify,
                "withheld_reason": self.withheld_reason, "entry_ref": self.entry_ref}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(kind=DecisionKind(data["kind"]), by=Actor.from_dict(data.get("by") or {}),
                   at=_required_dt(data, "at", "decision"), reason=str(data.get("reason") or ""),
                   restrictions=tuple(str(r) for r in data.get("restrictions") or ()),
                   restriction_other=str(data.get("restriction_other") or ""),
                   guidance=str(data.get("guidance") or ""), review_on=_d(data.get("review_on")),
                   notify=data.get("notify") is not False, withheld_reason=str(data.get("withheld_reason") or ""),
                   entry_ref=str(data.get("entry_ref") or ""))


@dataclass(slots=True)
class Incident:
    """An incident report: what a member of staff reported, for an approver to decide on. The narrative and the
    details are for the approver (and the subject access export) only: a check never shows them, it only says
    that a report at that property awaits a decision and whom to contact (`manager_contact`)."""

    ref: str
    address: Address | None
    reported_at: datetime
    status: IncidentStatus = IncidentStatus.PENDING
    manager_contact: str = ""
    reporter: Actor | None = None
    occurred_at: datetime | None = None
    service_area: str = ""
    contact_method: str = ""
    behaviours: list[str] = field(default_factory=list)
    narrative: str = ""
    injured: bool = False
    police: bool = False
    crime_reference: str = ""
    witnesses: str = ""
    person_name: str = ""
    person_description: str = ""
    other_names: str = ""
    recommendation: str = ""
    recommended_restrictions: list[str] = field(default_factory=list)
    restriction_other: str = ""
    approver_id: str = ""  # Entra object id of the approver the reporter chose
    approver_name: str = ""
    draft_id: str = ""  # the draft it was submitted from: a second submit of that draft finds this incident
    decision: Decision | None = None
    #: the approver's questions and the reporter's answers ({"at", "by", "question", "answer", "answered_at"})
    questions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "address": self.address.to_dict() if self.address else None,
            "reported_at": _iso(self.reported_at),
            "status": self.status.value,
            "manager_contact": self.manager_contact,
            "reporter": self.reporter.to_dict() if self.reporter else None,
            "occurred_at": _iso(self.occurred_at),
            "service_area": self.service_area,
            "contact_method": self.contact_method,
            "behaviours": list(self.behaviours),
            "narrative": self.narrative,
            "injured": self.injured,
            "police": self.police,
            "crime_reference": self.crime_reference,
            "witnesses": self.witnesses,
            "person_name": self.person_name,
            "person_description": self.person_description,
            "other_names": self.other_names,
            "recommendation": self.recommendation,
            "recommended_restrictions": list(self.recommended_restrictions),
            "restriction_other": self.restriction_other,
            "approver_id": self.approver_id,
            "approver_name": self.approver_name,
            "draft_id": self.draft_id,
            "decision": self.decision.to_dict() if self.decision else None,
            "questions": [dict(q) for q in self.questions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        text = {k: str(data.get(k) or "") for k in (
            "manager_contact", "service_area", "contact_method", "narrative", "crime_reference", "witnesses",
            "person_name", "person_description", "other_names", "recommendation", "restriction_other",
            "approver_id", "approver_name", "draft_id")}
        reporter = data.get("reporter")
        decision = data.get("decision")
        return cls(
            ref=data["ref"],
            address=Address.from_dict(data.get("address")),
            reported_at=_required_dt(data, "reported_at", "incident"),
            status=IncidentStatus(data.get("status") or "pending"),
            reporter=Actor.from_dict(reporter) if isinstance(reporter, dict) else None,
            occurred_at=_dt(data.get("occurred_at")),
            behaviours=[str(b) for b in data.get("behaviours") or ()],
            injured=data.get("injured") is True,
            police=data.get("police") is True,
            recommended_restrictions=[str(r) for r in data.get("recommended_restrictions") or ()],
            decision=Decision.from_dict(decision) if isinstance(decision, dict) else None,
            questions=[dict(q) for q in data.get("questions") or [] if isinstance(q, dict)],
            **text,
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: the Teams user id, the Entra (AAD) object id and the display name."""

    user_id: str
    aad_object_id: str = ""
    name: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(user_id=data.get("user_id", ""), aad_object_id=data.get("aad_object_id", ""),
                   name=data.get("name", ""))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the append-only audit trail: who, when, what was asked, what was shown."""

    id: str
    at: datetime
    actor: Actor
    action: str  # 'check', 'import', 'export', ...
    query: str = ""
    conversation_type: str = ""  # personal | groupChat | channel | cli
    outcome: str = ""
    refs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor.to_dict(),
            "action": self.action,
            "query": self.query,
            "conversation_type": self.conversation_type,
            "outcome": self.outcome,
            "refs": list(self.refs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        return cls(
            id=data["id"],
            at=_required_dt(data, "at", "audit"),
            actor=Actor.from_dict(data.get("actor") or {}),
            action=data.get("action", ""),
            query=data.get("query", ""),
            conversation_type=data.get("conversation_type", ""),
            outcome=data.get("outcome", ""),
            refs=tuple(data.get("refs") or ()),
        )


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Enough to message a user proactively later (approvals, reminders). `reference` is the host's own
    conversation-reference document, kept opaque here so the domain stays host-agnostic."""

    user_id: str
    tenant_id: str
    aad_object_id: str
    reference: dict[str, Any]
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "aad_object_id": self.aad_object_id,
            "reference": self.reference,
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationRef:
        return cls(
            user_id=data["user_id"],
            tenant_id=data.get("tenant_id", ""),
            aad_object_id=data.get("aad_object_id", ""),
            reference=dict(data.get("reference") or {}),
            updated_at=_required_dt(data, "updated_at", "conversation reference"),
        )
