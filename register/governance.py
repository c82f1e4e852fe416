"""Data-protection duties: retention (purge what the policy no longer allows us to keep) and subject access
(export everything held about a person or a property)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from register.matching import RegisterIndex
from register.model import Actor, AuditRecord, Entry, Incident, IncidentStatus, Outcome, Status
from register.normalise import fold
from register.service import Register
from register.store import AUDIT_FLOOR_DAYS

#: The longest a retention setting may be (100 years): beyond it a date overflows, and it is surely a typo.
MAX_RETENTION_DAYS = 100 * 365
#: How long an entry can run between its decision and its (review or) expiry without a review extending it.
ENTRY_LIFE_DAYS = 365

_SETTING = {"closed_days": "REGISTER_RETENTION_DAYS", "rejected_days": "REGISTER_REJECTED_RETENTION_DAYS",
            "audit_days": "REGISTER_AUDIT_RETENTION_DAYS"}


class PolicyError(ValueError):
    """A retention setting the register refuses to run with; the message names the setting and the limit."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Defaults from the policy: closed entries and their incidents 6 years, rejected reports 12 months, the audit
    trail 7 years. A policy that would let the audit trail go before the entries it explains cannot be built:
    audit retention is at least `audit_floor_days` (never less than the stores' own AUDIT_FLOOR_DAYS)."""

    closed_days: int = 6 * 365
    rejected_days: int = 365
    audit_days: int = AUDIT_FLOOR_DAYS

    def __post_init__(self) -> None:
        for name in ("closed_days", "rejected_days", "audit_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicyError(f"{_SETTING[name]} must be a whole number of days, not {value!r}")
            if not 1 <= value <= MAX_RETENTION_DAYS:
                raise PolicyError(f"{_SETTING[name]} is {value}: it must be between 1 and {MAX_RETENTION_DAYS} days")
        if self.audit_days < self.audit_floor_days:
            raise PolicyError(
                f"REGISTER_AUDIT_RETENTION_DAYS is {self.audit_days}: the audit trail must be kept at least "
                f"{self.audit_floor_days} days, so that it outlives the entries it explains (never less than "
                f"{AUDIT_FLOOR_DAYS} days; otherwise the longer of REGISTER_RETENTION_DAYS ({self.closed_days}) "
                f"and REGISTER_REJECTED_RETENTION_DAYS ({self.rejected_days}) plus the {ENTRY_LIFE_DAYS} days an "
                "entry can run before review)")

    @property
    def audit_floor_days(self) -> int:
        return max(AUDIT_FLOOR_DAYS, max(self.closed_days, self.rejected_days) + ENTRY_LIFE_DAYS)

    @classmethod
    def from_settings(cls, env: Mapping[str, str]) -> RetentionPolicy:
        """The policy from REGISTER_*RETENTION_DAYS (unset or empty: the default). Anything but a whole number of
        days in range is refused with the reason (PolicyError), never read as something else."""
        default = cls()
        values: dict[str, int] = {}
        for name, setting in _SETTING.items():
            text = (env.get(setting) or "").strip()
            if not text:
                values[name] = getattr(default, name)
            elif re.fullmatch(r"[+-]?[0-9]{1,12}", text):
                values[name] = int(text)
            else:
                raise PolicyError(f"{setting}={text[:40]!r} is not a whole number of days")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Purge:
    kind: str  # entry | incident
    ref: str
    reason: str


@dataclass(slots=True)
class RetentionPlan:
    purges: list[Purge] = field(default_factory=list)
    audit_before: datetime | None = None
    audit_records: int = 0


def _closed_on(entry: Entry) -> date | None:
    """When an entry stopped applying: the last date we know of."""
    dates = [d for d in (entry.expires_on, entry.review_on, entry.decided_on) if d]
    if entry.updated_at:
        dates.append(entry.updated_at.date())
    return max(dates) if dates else None


async def plan_retention(register: Register, policy: RetentionPolicy) -> RetentionPlan:
    today = register.today()
    plan = RetentionPlan()
    entries = await register.store.list_entries()
    incidents = {i.ref: i for i in await register.store.list_incidents()}
    kept_incidents: set[str] = set()
    for entry in sorted(entries, key=lambda e: e.ref):
        closed = entry.status in (Status.LIFTED, Status.EXPIRED) or (
            entry.status is Status.ACTIVE and not entry.is_live(today))
        ended = _closed_on(entry)
        if closed and ended and today - ended > timedelta(days=policy.closed_days):
            plan.purges.append(Purge("entry", entry.ref, f"{entry.status.value}, closed {ended.isoformat()}"))
            plan.purges += [Purge("incident", r, f"incident of {entry.ref}") for r in entry.incident_refs
                            if r in incidents]
        elif entry.status is Status.REJECTED and (rejected := entry.decided_on or ended) and (
                today - rejected > timedelta(days=policy.rejected_days)):
            plan.purges.append(Purge("entry", entry.ref, f"rejected {rejected.isoformat()}"))
            plan.purges += [Purge("incident", r, f"incident of {entry.ref}") for r in entry.incident_refs
                            if r in incidents]
        else:
            kept_incidents.update(entry.incident_refs)
    planned = {p.ref for p in plan.purges}
    for incident in sorted(incidents.values(), key=lambda i: i.ref):
        if incident.ref in planned or incident.ref in kept_incidents:
            continue
        age = today - incident.reported_at.date()
        if incident.status is IncidentStatus.REJECTED and age > timedelta(days=policy.rejected_days):
            plan.purges.append(Purge("incident", incident.ref, f"rejected report of {incident.reported_at.date()}"))
    # an incident listed by an entry we keep is kept, even if another (purged) entry listed it too
    plan.purges = [p for p in plan.purges if p.kind == "entry" or p.ref not in kept_incidents]
    plan.audit_before = register.clock() - timedelta(days=policy.audit_days)
    plan.audit_records = len(await register.store.list_audit(until=plan.audit_before))
    return plan


async def run_retention(register: Register, policy: RetentionPolicy, actor: Actor, *, dry_run: bool
                        ) -> RetentionPlan:
    plan = await plan_retention(register, policy)
    if dry_run:
        await register.audit(actor, "retention_dry_run", conversation_type="cli",
                             outcome=f"would purge {len(plan.purges)} documents, {plan.audit_records} audit records")
        return plan
    for purge in plan.purges:
        if purge.kind == "entry":
            await register.store.delete_entry(purge.ref)
            register.index.remove(purge.ref)
        else:
            await register.store.delete_incident(purge.ref)
            register.index.remove(purge.ref)
    purged_audit = await register.store.purge_audit(plan.audit_before) if plan.audit_before else 0
    # unfinished report drafts past their 14 days, delivered messages' leftovers, old claims: reads already hide
    # them; this frees the space (Cosmos DB's TTL does the same by itself)
    expired = await register.store.purge_expired_documents()
    await register.audit(actor, "retention", conversation_type="cli",
                         outcome=f"purged {len(plan.purges)} documents, {purged_audit} audit records, "
                                 f"{expired} expired working documents",
                         refs=[p.ref for p in plan.purges])
    return plan


# -- subject access ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SubjectAccess:
    query: str
    outcome: str  # found | ambiguous | none
    entries: list[Entry] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # when ambiguous: the properties/people to choose from

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "outcome": self.outcome,
            "candidates": self.candidates,
            "entries": [e.to_dict() for e in self.entries],
            "incidents": [i.to_dict() for i in self.incidents],
            "audit": [a.to_dict() for a in self.audit],
        }


async def subject_access(register: Register, actor: Actor, *, name: str = "", address: str = "") -> SubjectAccess:
    """Everything held about a person (by name) or a property (by address), whatever its status, found with the
    same matching rules as a check (number, flat and postcode exact), plus the audit of who looked at it."""
    query = name or address
    entries = {e.ref: e for e in await register.store.list_entries()}
    incidents = {i.ref: i for i in await register.store.list_incidents()}
    # A throwaway index in which every record is searchable: statuses and dates do not hide anything here.
    index = RegisterIndex(today=lambda: date.min)
    for entry in entries.values():
        index.put_entry(replace(entry, status=Status.ACTIVE, review_on=None, expires_on=None))
    for incident in incidents.values():
        index.put_incident(replace(incident, status=IncidentStatus.PENDING))
    result = index.lookup(query)
    found = SubjectAccess(query=query, outcome="none")
    if result.outcome is Outcome.AMBIGUOUS:
        found.outcome = "ambiguous"
        found.candidates = [m.address.display() if m.address else (m.entry.person_name if m.entry else m.ref)
                            for m in result.matches]
    # reports about that person, by the name (or another name) the reporter gave: a person's incidents are not
    # indexed for checks (only properties are), but they are held about them
    named = {i.ref for i in incidents.values() if name and _same_name(name, i)}
    if result.outcome in (Outcome.ALERT, Outcome.PENDING) or (named and result.outcome is not Outcome.AMBIGUOUS):
        found.outcome = "found"
        refs = {m.ref for m in result.matches} if result.outcome in (Outcome.ALERT, Outcome.PENDING) else set()
        found.entries = [entries[r] for r in sorted(refs) if r in entries]
        linked = {r for e in found.entries for r in e.incident_refs} | {r for r in refs if r in incidents} | named
        found.incidents = [incidents[r] for r in sorted(linked) if r in incidents]
        seen: dict[str, AuditRecord] = {}
        for ref in sorted({e.ref for e in found.entries} | {i.ref for i in found.incidents}):
            for record in await register.store.list_audit(ref=ref):
                seen[record.id] = record
        found.audit = sorted(seen.values(), key=lambda a: a.at)
    await register.audit(actor, "subject_access", query=query, conversation_type="cli", outcome=found.outcome,
                         refs=[e.ref for e in found.entries] + [i.ref for i in found.incidents])
    return found


def _same_name(name: str, incident: Incident) -> bool:
    def key(text: str) -> str:
        return " ".join(fold(text).casefold().split())

    wanted = key(name)
    return bool(wanted) and wanted in {key(incident.person_name), *(key(n) for n in incident.other_names.split(","))}


def subject_access_html(found: SubjectAccess, generated_at: datetime) -> str:
    """A plain, printable report (every value escaped)."""
    e = html.escape
    rows = []
    for entry in found.entries:
        rows.append(
            "<section><h2>Register entry {ref}</h2><dl>{items}</dl></section>".format(
                ref=e(entry.ref),
                items="".join(
                    f"<dt>{e(k.replace('_', ' ').capitalize())}</dt><dd>{e(_text(v))}</dd>"
                    for k, v in entry.to_dict().items()
                ),
            )
        )
    incidents = "".join(
        f"<tr><td>{e(i.ref)}</td><td>{e(i.reported_at.date().isoformat())}</td><td>{e(i.status.value)}</td>"
        f"<td>{e(i.address.display() if i.address else '')}</td></tr>" for i in found.incidents)
    audit = "".join(
        f"<tr><td>{e(a.at.strftime('%Y-%m-%d %H:%M'))}</td><td>{e(a.actor.name or a.actor.user_id)}</td>"
        f"<td>{e(a.action)}</td><td>{e(a.outcome)}</td></tr>" for a in found.audit)
    candidates = "".join(f"<li>{e(c)}</li>" for c in found.candidates)
    return f"""<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Subject access: {e(found.query)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.2em .5em;text-align:left}}dt{{font-weight:bold}}</style></head>
<body><h1>Subject access report</h1>
<p>Search: <strong>{e(found.query)}</strong>. Result: {e(found.outcome)}. Generated {e(generated_at.isoformat())}.</p>
{f"<p>Several possible matches; search again with one of:</p><ul>{candidates}</ul>" if candidates else ""}
{"".join(rows) or "<p>No register entries.</p>"}
<h2>Incidents</h2>{f"<table><tr><th>Ref</th><th>Reported</th><th>Status</th><th>Address</th></tr>{incidents}</table>"
                   if incidents else "<p>None.</p>"}
<h2>Who looked at or changed these records</h2>{
    f"<table><tr><th>When (UTC)</th><th>Who</th><th>What</th><th>Result</th></tr>{audit}</table>"
    if audit else "<p>No records.</p>"}
</body></html>
"""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items() if v)
    return "" if value is None else str(value)
