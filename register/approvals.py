"""Deciding on an incident: the policy's core control. The right person decides, exactly once, on the facts.

Rules the server enforces, whatever a card shows:
- only the approver the reporter chose, or an administrator, decides; never the reporter of that incident, not
  even as an administrator (separation of duties); anyone else is refused, and every refusal is audited;
- exactly once: the decision is an etag-checked write of the incident, so two clicks, two approvers or two bot
  instances make one decision; the others are told who decided what, and when;
- a restriction creates an entry, or amends the live entry at that property or for that person (the incident
  linked, the restrictions as the approver chose them); its review date is at most 6 months after the decision
  and its expiry at most 12 months; a warning is recorded on the incident, with no alert for staff; no action
  and rejection close the incident.

The incident is claimed first (with the entry's reference in its decision), the entry written second: a crash in
between leaves a decided incident whose entry `complete()` writes on the next attempt, never an entry without
its decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from register.flows import parse_date, split_multi
from register.model import (
    Actor,
    Decision,
    DecisionKind,
    Entry,
    Incident,
    IncidentStatus,
    Outcome,
    Restriction,
    Status,
    Subject,
    history_event,
)
from register.permissions import Role, allows
from register.store import Conflict, Saved

if TYPE_CHECKING:
    from register.service import Register

REVIEW_MONTHS = 6
EXPIRY_MONTHS = 12
MAX_TEXT = 2000
ENTRY_NUMBER_ATTEMPTS = 50


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day (31 Aug + 6 = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - every month has a 28th


@dataclass(frozen=True, slots=True)
class Decided:
    incident: Incident
    entry: Entry | None = None
    amended: bool = False


@dataclass(frozen=True, slots=True)
class AlreadyDecided:
    incident: Incident


@dataclass(frozen=True, slots=True)
class Refused:
    """`missing` (no such incident), `own_report`, `not_assigned` (not the chosen approver nor an administrator),
    `not_approver` (the chosen approver no longer holds the role)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Invalid:
    incident: Incident
    problems: dict[str, str] = field(default_factory=dict)


DecisionOutcome = Decided | AlreadyDecided | Refused | Invalid


def is_reporter(incident: Incident, actor: Actor) -> bool:
    reporter = incident.reporter
    if reporter is None:
        return False
    same_user = bool(reporter.user_id) and reporter.user_id == actor.user_id
    same_aad = bool(reporter.aad_object_id) and reporter.aad_object_id.lower() == actor.aad_object_id.lower()
    return same_user or same_aad


class Approvals:
    def __init__(self, register: Register):
        self.register = register
        self.store = register.store

    # -- who may decide ------------------------------------------------------------------------------------

    def may_decide(self, incident: Incident, actor: Actor) -> Refused | None:
        """None when `actor` may decide on `incident`; otherwise why not."""
        if is_reporter(incident, actor):
            return Refused("own_report")
        role = self.register.role_of(actor)
        if allows(role, Role.ADMINISTRATOR):
            return None
        if not actor.aad_object_id or actor.aad_object_id.lower() != incident.approver_id.lower():
            return Refused("not_assigned")
        if not allows(role, Role.APPROVER):
            return Refused("not_approver")
        return None

    # -- the decision ----------------------------------------------------------------------------------------

    async def decide(self, ref: str, actor: Actor, form: Mapping[str, Any], *, reject: bool = False,
                     conversation_type: str = "personal") -> DecisionOutcome:
        saved = await self.store.get_incident(ref)
        if saved is None:
            outcome: DecisionOutcome = Refused("missing")
        elif saved.value.status is not IncidentStatus.PENDING or saved.value.decision is not None:
            outcome = AlreadyDecided(await self.complete(saved.value))
        elif (refusal := self.may_decide(saved.value, actor)) is not None:
            outcome = refusal
        else:
            outcome = await self._decide(saved, actor, form, reject)
        await self._audit(ref, actor, outcome, conversation_type)
        return outcome

    async def _decide(self, saved: Saved[Incident], actor: Actor, form: Mapping[str, Any],
                      reject: bool) -> DecisionOutcome:
        incident = saved.value
        today = self.register.today()
        decision, problems = self.read_form(form, actor, reject)
        if problems or decision is None:
            return Invalid(incident, problems)
        target: Entry | None = None
        if decision.kind is DecisionKind.RESTRICTION:
            target = self.live_entry_for(incident)
            entry_ref = target.ref if target is not None else await self._new_entry_ref(today.year)
            decision = replace(decision, entry_ref=entry_ref)
        status = IncidentStatus.REJECTED if decision.kind is DecisionKind.REJECTED else IncidentStatus.DECIDED
        decided = replace(incident, status=status, decision=decision)
        result = await self.store.replace_incident(decided, saved.etag)
        if isinstance(result, Conflict):  # someone decided first (another click, approver or instance)
            again = await self.store.get_incident(incident.ref)
            return AlreadyDecided(again.value if again else incident)
        self.register.index.put_incident(decided)  # the pending notice at that property ends here
        await self.complete(decided)
        entry = await self.store.get_entry(decision.entry_ref) if decision.entry_ref else None
        return Decided(decided, entry.value if entry else None, amended=target is not None)

    def read_form(self, form: Mapping[str, Any], actor: Actor, reject: bool
                  ) -> tuple[Decision | None, dict[str, str]]:
        """The card's inputs as a decision, or the problems to show beside the fields."""
        text = {k: str(form.get(k) or "").strip() for k in (
            "decision", "restrictions", "restriction_other", "guidance", "reason", "review_on", "notify",
            "withheld_reason", "reject_reason")}
        problems: dict[str, str] = {}
        for name, value in text.items():
            if len(value) > MAX_TEXT:
                problems[name] = f"At most {MAX_TEXT:,} characters."
        now = self.register.clock()
        today = self.register.today()
        if reject:
            if not text["reject_reason"]:
                problems["reject_reason"] = "Please say why the report is rejected."
            return (None if problems else Decision(DecisionKind.REJECTED, actor, now, reason=text["reject_reason"]),
                    problems)
        try:
            kind = DecisionKind(text["decision"])
        except ValueError:
            kind = None
        if kind is None or kind is DecisionKind.REJECTED:
            problems["decision"] = "Please choose a decision."
            return None, problems
        restrictions = split_multi(text["restrictions"])
        known = {r.value for r in Restriction}
        review_on = parse_date(text["review_on"]) if text["review_on"] else add_months(today, REVIEW_MONTHS)
        if kind is not DecisionKind.NO_ACTION and not text["reason"]:
            problems["reason"] = "Please give the reason, in words fit for the letter to the customer."
        notify = text["notify"] != "false"
        if kind is DecisionKind.RESTRICTION:
            if not restrictions:
                problems["restrictions"] = "Please choose at least one restriction."
            elif any(r not in known for r in restrictions):
                problems["restrictions"] = "Please choose restrictions from the list."
            if Restriction.OTHER.value in restrictions and not text["restriction_other"]:
                problems["restriction_other"] = "Please describe the other restriction."
            if not text["guidance"]:
                problems["guidance"] = "Please give staff short guidance in plain words."
            if review_on is None:
                problems["review_on"] = "Please give the review date as a date."
            elif review_on <= today:
                problems["review_on"] = "The review date must be after today."
            elif review_on > add_months(today, REVIEW_MONTHS):
                problems["review_on"] = (f"The review date can be at most {REVIEW_MONTHS} months after the decision "
                                         f"({add_months(today, REVIEW_MONTHS).isoformat()}).")
        if kind in (DecisionKind.RESTRICTION, DecisionKind.FORMAL_WARNING, DecisionKind.INFORMAL_WARNING) \
                and not notify and not text["withheld_reason"]:
            problems["withheld_reason"] = "Please say why the customer will not be told (a risk to staff)."
        if problems:
            return None, problems
        return Decision(kind, actor, now, reason=text["reason"],
                        restrictions=tuple(restrictions) if kind is DecisionKind.RESTRICTION else (),
                        restriction_other=text["restriction_other"] if kind is DecisionKind.RESTRICTION else "",
                        guidance=text["guidance"] if kind is DecisionKind.RESTRICTION else "",
                        review_on=review_on if kind is DecisionKind.RESTRICTION else None,
                        notify=notify, withheld_reason="" if notify else text["withheld_reason"]), {}

    # -- the entry ---------------------------------------------------------------------------------------------

    def live_entry_for(self, incident: Incident) -> Entry | None:
        """The live entry at the incident's property (exactly that property), else for its person."""
        today = self.register.today()
        for query in (incident.address.text or incident.address.display() if incident.address else "",
                      incident.person_name):
            if not query:
                continue
            found = self.register.index.lookup(query)
            if found.outcome is not Outcome.ALERT:
                continue
            for match in found.matches:
                if match.entry is not None and match.entry.is_live(today):
                    return match.entry
        return None

    async def _new_entry_ref(self, year: int) -> str:
        for _ in range(ENTRY_NUMBER_ATTEMPTS):
            ref = f"MCR-{year}-{await self.store.next_number(f'entry-{year}'):04d}"
            if await self.store.get_entry(ref) is None:  # imported spreadsheets bring their own numbers
                return ref
        raise RuntimeError("no free entry number: the counter is behind the imported references")

    async def complete(self, incident: Incident) -> Incident:
        """Make sure a decided restriction has its entry (creating or amending it, idempotently)."""
        decision = incident.decision
        if decision is None or decision.kind is not DecisionKind.RESTRICTION or not decision.entry_ref:
            return incident
        for _ in range(10):
            saved = await self.store.get_entry(decision.entry_ref)
            if saved is not None and incident.ref in saved.value.incident_refs:
                return incident
            entry = self._entry(incident, decision, saved.value if saved else None)
            result = await (self.store.replace_entry(entry, saved.etag) if saved else self.store.create_entry(entry))
            if not isinstance(result, Conflict):
                self.register.index.put_entry(entry)
                return incident
        raise RuntimeError(f"the entry {decision.entry_ref} kept changing; try again")

    def _entry(self, incident: Incident, decision: Decision, current: Entry | None) -> Entry:
        decided_on = decision.at.date()
        restrictions = [Restriction(r) for r in decision.restrictions]
        event = history_event(decision.at, decision.by, "amended" if current else "created", incident.ref)
        withheld = "" if decision.notify else decision.withheld_reason
        contact = ", ".join(p for p in (incident.approver_name or decision.by.name, incident.service_area) if p)
        if current is not None:
            return replace(current, restrictions=restrictions, guidance=decision.guidance or current.guidance,
                           review_on=decision.review_on, decided_on=decided_on,
                           expires_on=add_months(decided_on, EXPIRY_MONTHS),
                           incident_refs=[*current.incident_refs, incident.ref], updated_at=decision.at,
                           owner_id=(decision.by.aad_object_id or current.owner_id).lower(),
                           history=[*current.history, event], notified_on=None, notification_withheld=withheld)
        address = incident.address
        name = incident.person_name
        subject = Subject.PERSON_AND_PROPERTY if address and name else Subject.PERSON if name else Subject.PROPERTY
        aliases = [a.strip() for a in incident.other_names.split(",") if a.strip()]
        return Entry(ref=decision.entry_ref, subject=subject, status=Status.ACTIVE, person_name=name,
                     aliases=aliases, address=address, restrictions=restrictions, guidance=decision.guidance,
                     contact=contact, decided_on=decided_on, review_on=decision.review_on,
                     expires_on=add_months(decided_on, EXPIRY_MONTHS), incident_refs=[incident.ref],
                     updated_at=decision.at, owner_id=(decision.by.aad_object_id or "").lower(),
                     history=[event], notified_on=None, notification_withheld=withheld)

    # -- what the approver sees beside the incident ---------------------------------------------------------

    async def related(self, incident: Incident) -> tuple[list[Entry], list[Incident]]:
        """Entries at that property or for that person, and the other incidents there (warnings included)."""
        entries: dict[str, Entry] = {}
        for query in (incident.address.text if incident.address else "", incident.person_name):
            if query:
                for match in self.register.index.lookup(query).matches:
                    if match.entry is not None:
                        entries[match.entry.ref] = match.entry
        same_place = _place_key(incident)
        name = incident.person_name.strip().lower()
        others = [i for i in await self.store.list_incidents() if i.ref != incident.ref and (
            (same_place and _place_key(i) == same_place) or (name and i.person_name.strip().lower() == name))]
        return sorted(entries.values(), key=lambda e: e.ref), sorted(others, key=lambda i: i.reported_at)

    async def ask(self, ref: str, actor: Actor, question: str) -> Incident | None:
        """The decider asks the reporter for more information; the question is kept on the incident (etag-checked)
        and audited. None if the incident is gone, decided, or the actor may not decide on it."""
        for _ in range(10):
            saved = await self.store.get_incident(ref)
            if saved is None or saved.value.status is not IncidentStatus.PENDING:
                return None
            if self.may_decide(saved.value, actor) is not None:
                return None
            entry = {"at": self.register.clock().isoformat(), "by": actor.aad_object_id or actor.user_id,
                     "by_name": actor.name, "question": question, "answer": "", "answered_at": ""}
            asked = replace(saved.value, questions=[*saved.value.questions, entry])
            if not isinstance(await self.store.replace_incident(asked, saved.etag), Conflict):
                await self.register.audit(actor, "question", query=ref, outcome=f"question={len(asked.questions)}",
                                          refs=[ref])
                return asked
        raise RuntimeError(f"the report {ref} kept changing; try again")

    async def answer(self, ref: str, actor: Actor, number: int, answer: str) -> Incident | None:
        """The reporter answers question `number` (1-based). Only the reporter of that incident, only once."""
        for _ in range(10):
            saved = await self.store.get_incident(ref)
            if saved is None or not is_reporter(saved.value, actor) or not 1 <= number <= len(saved.value.questions):
                return None
            questions = [dict(q) for q in saved.value.questions]
            if questions[number - 1].get("answer"):
                return None
            questions[number - 1].update(answer=answer, answered_at=self.register.clock().isoformat())
            answered = replace(saved.value, questions=questions)
            if not isinstance(await self.store.replace_incident(answered, saved.etag), Conflict):
                await self.register.audit(actor, "answer", query=ref, outcome=f"question={number}", refs=[ref])
                return answered
        raise RuntimeError(f"the report {ref} kept changing; try again")

    async def pending(self) -> list[Incident]:
        return sorted((i for i in await self.store.list_incidents() if i.status is IncidentStatus.PENDING),
                      key=lambda i: (i.reported_at, i.ref))

    async def _audit(self, ref: str, actor: Actor, outcome: DecisionOutcome, conversation_type: str) -> None:
        if isinstance(outcome, Decided):
            decision = outcome.incident.decision
            kind = decision.kind.value if decision else ""
            refs = [ref, *([outcome.entry.ref] if outcome.entry else [])]
            await self.register.audit(actor, "decision", query=ref, conversation_type=conversation_type,
                                      outcome=f"{kind}{' amended' if outcome.amended else ''}", refs=refs)
        elif isinstance(outcome, Refused):
            await self.register.audit(actor, "decision_refused", query=ref, conversation_type=conversation_type,
                                      outcome=outcome.reason, refs=[ref])
        elif isinstance(outcome, AlreadyDecided):
            await self.register.audit(actor, "decision_refused", query=ref, conversation_type=conversation_type,
                                      outcome="already_decided", refs=[ref])


def _place_key(incident: Incident) -> tuple[str, str, str, str] | None:
    a = incident.address
    if a is None or not (a.paon and (a.street or a.postcode)):
        return None
    return (a.saon, a.paon, a.street, a.postcode)


def default_review(today: date) -> date:
    return add_months(today, REVIEW_MONTHS)
