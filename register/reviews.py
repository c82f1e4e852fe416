"""An entry's life after the decision: review reminders, extension, amendment, lifting, and expiry.

The council's policy: the review date is at most 6 months after the decision, the expiry at most 12 months unless a
review extends it; at the review date the restriction lapses unless a review extends it; the approver is reminded
before it is due, and the administrators are told when it is overdue.

`run()` is the scheduler's one step, safe to run in every bot instance and from `register-admin reviews run` at
the same time: each reminder and each overdue notice is claimed in the store (a create-if-absent document keyed
by the entry and its review date) before it is queued, so it is sent once; each expiry is an etag-checked write.
The messages themselves go through the durable outbox (register/outbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from register.approvals import EXPIRY_MONTHS, REVIEW_MONTHS, add_months
from register.model import Actor, Entry, Restriction, Status, history_event
from register.outbox import Message, Outbox
from register.permissions import Role, allows
from register.store import Conflict, Document

if TYPE_CHECKING:
    from register.service import Register

REMINDER_DAYS = 14
CLAIM = "claim"
APPEAL = "appeal"
CLAIM_DAYS = 400


@dataclass(slots=True)
class ReviewRun:
    reminded: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reviewed:
    entry: Entry


@dataclass(frozen=True, slots=True)
class NotReviewed:
    """`missing`, `not_active`, `not_allowed` (not the owning approver nor an administrator), `changed` (someone
    else reviewed it first), or `invalid` with the problems by field."""

    reason: str
    problems: dict[str, str] = field(default_factory=dict)


class Reviews:
    def __init__(self, register: Register, outbox: Outbox):
        self.register = register
        self.store = register.store
        self.outbox = outbox

    # -- the scheduler's step ---------------------------------------------------------------------------------

    async def run(self, actor: Actor) -> ReviewRun:
        """Reminders ("review" card of the entry) and overdue notices ("overdue" text) are queued by name: the
        host renders them when it delivers."""
        today = self.register.today()
        done = ReviewRun()
        admins = self.register.roles.holders(Role.ADMINISTRATOR)
        for entry in await self.store.list_entries():
            if entry.status is not Status.ACTIVE:
                continue
            if not entry.is_live(today):
                if await self._expire(entry, actor):
                    done.expired.append(entry.ref)
                    if await self._claim(entry, "overdue"):
                        for admin in admins:
                            await self.outbox.put(Message("text", to=admin, template="overdue", subject=entry.ref,
                                                          id=f"overdue:{entry.ref}:{entry.review_on}:{admin}"))
                        done.overdue.append(entry.ref)
                continue
            due = entry.review_on
            if due is not None and due - today <= timedelta(days=REMINDER_DAYS) and entry.owner_id:
                if await self._claim(entry, "reminder"):
                    await self.outbox.put(Message("card", to=entry.owner_id, template="review", subject=entry.ref,
                                                  track=f"review:{entry.ref}:{due}",
                                                  id=f"review:{entry.ref}:{due}"))
                    done.reminded.append(entry.ref)
        if done.reminded or done.expired or done.overdue:
            await self.register.audit(actor, "reviews_run", conversation_type="system",
                                      outcome=f"reminded={len(done.reminded)} expired={len(done.expired)}",
                                      refs=[*done.reminded, *done.expired])
        return done

    async def _claim(self, entry: Entry, what: str) -> bool:
        """Once per entry and review date, whichever instance gets here first."""
        key = f"{what}:{entry.review_on.isoformat() if entry.review_on else '-'}"
        doc = Document(CLAIM, entry.ref, key, {"at": self.register.clock().isoformat()},
                       expires_at=self.register.clock() + timedelta(days=CLAIM_DAYS))
        return not isinstance(await self.store.create_document(doc), Conflict)

    async def _expire(self, entry: Entry, actor: Actor) -> bool:
        saved = await self.store.get_entry(entry.ref)
        if saved is None or saved.value.status is not Status.ACTIVE or saved.value.is_live(self.register.today()):
            return False
        expired = replace(saved.value, status=Status.EXPIRED, updated_at=self.register.clock(),
                          history=[*saved.value.history, self._event(actor, "expired", "review date passed")])
        if isinstance(await self.store.replace_entry(expired, saved.etag), Conflict):
            return False  # another instance (or a review) got there first
        self.register.index.put_entry(expired)
        await self.register.audit(actor, "expire", query=entry.ref, conversation_type="system", outcome="expired",
                                  refs=[entry.ref])
        return True

    # -- a review by the owning approver (or an administrator) --------------------------------------------------

    def may_review(self, entry: Entry, actor: Actor) -> bool:
        role = self.register.role_of(actor)
        if allows(role, Role.ADMINISTRATOR):
            return True
        owner = entry.owner_id.lower()
        return bool(owner) and owner == actor.aad_object_id.lower() and allows(role, Role.APPROVER)

    async def review(self, ref: str, actor: Actor, form: dict[str, Any],
                     conversation_type: str = "personal") -> Reviewed | NotReviewed:
        """Extend (a new review date at most 6 months ahead), amend the restrictions, or lift; with a reason."""
        saved = await self.store.get_entry(ref)
        outcome: Reviewed | NotReviewed
        if saved is None:
            outcome = NotReviewed("missing")
        elif saved.value.status is not Status.ACTIVE:
            outcome = NotReviewed("not_active")
        elif not self.may_review(saved.value, actor):
            outcome = NotReviewed("not_allowed")
        else:
            changed, problems = self._apply(saved.value, actor, form)
            outcome = await self._save(changed, problems, saved.etag)
        action = str(form.get("action") or "")
        await self.register.audit(actor, "review" if isinstance(outcome, Reviewed) else "review_refused",
                                  query=ref, conversation_type=conversation_type,
                                  outcome=action if isinstance(outcome, Reviewed) else outcome.reason, refs=[ref])
        return outcome

    async def _save(self, changed: Entry | None, problems: dict[str, str], etag: str) -> Reviewed | NotReviewed:
        """Write a reviewed entry if the form held, etag-checked; the index follows at once."""
        if problems or changed is None:
            return NotReviewed("invalid", problems)
        if isinstance(await self.store.replace_entry(changed, etag), Conflict):
            return NotReviewed("changed")
        self.register.index.put_entry(changed)
        return Reviewed(changed)

    def _apply(self, entry: Entry, actor: Actor, form: dict[str, Any]) -> tuple[Entry | None, dict[str, str]]:
        today = self.register.today()
        action = str(form.get("action") or "").strip()
        reason = str(form.get("reason") or "").strip()[:2000]
        problems: dict[str, str] = {}
        if action not in ("extend", "amend", "lift"):
            problems["action"] = "Please choose: extend, amend or lift."
        if not reason:
            problems["reason"] = "Please give the reason for the review's outcome."
        if problems:
            return None, problems
        now = self.register.clock()
        if action == "lift":
            return replace(entry, status=Status.LIFTED, updated_at=now,
                           history=[*entry.history, self._event(actor, "lifted", reason)]), {}
        if action == "extend":
            text = str(form.get("review_on") or "").strip()
            try:
                review_on = date.fromisoformat(text) if text else add_months(today, REVIEW_MONTHS)
            except ValueError:
                return None, {"review_on": "Please give the new review date as a date."}
            if review_on <= today or review_on > add_months(today, REVIEW_MONTHS):
                return None, {"review_on": f"The new review date must be after today and at most {REVIEW_MONTHS} "
                                           f"months ahead ({add_months(today, REVIEW_MONTHS).isoformat()})."}
            # a review extends the expiry too: at most 12 months from this review
            return replace(entry, review_on=review_on, expires_on=add_months(today, EXPIRY_MONTHS), updated_at=now,
                           history=[*entry.history, self._event(actor, "extended",
                                                                f"to {review_on.isoformat()}: {reason}")]), {}
        chosen = [r for r in str(form.get("restrictions") or "").split(",") if r.strip()]
        known = {r.value for r in Restriction}
        if not chosen or any(r.strip() not in known for r in chosen):
            return None, {"restrictions": "Please choose the restrictions from the list."}
        guidance = str(form.get("guidance") or "").strip()[:2000] or entry.guidance
        return replace(entry, restrictions=[Restriction(r.strip()) for r in chosen], guidance=guidance,
                       updated_at=now, history=[*entry.history, self._event(actor, "amended", reason)]), {}

    def _event(self, actor: Actor, event: str, detail: str) -> dict[str, Any]:
        return history_event(self.register.clock(), actor, event, detail)

    # -- appeals: decided by someone other than the original approver -----------------------------------------

    def original_decider(self, entry: Entry) -> str:
        return entry.owner_id.lower()

    async def appeal(self, ref: str, actor: Actor, received: date, grounds: str,
                     candidates: list[str]) -> tuple[str, str] | NotReviewed:
        """Record an appeal (the customer's grounds, the date received) and assign it to an approver other than
        the one who decided: the first of `candidates` (the approvers for the entry's service area, in order)
        who is not the original decider and holds the approver role; else the administrators decide. Returns
        (the appeal's id, who it was assigned to: an Entra object id, or "" for the administrators)."""
        saved = await self.store.get_entry(ref)
        if saved is None:
            return NotReviewed("missing")
        if saved.value.status is not Status.ACTIVE:
            return NotReviewed("not_active")
        decider = self.original_decider(saved.value)
        assigned = next((c.lower() for c in candidates if c.lower() != decider
                         and allows(self.register.role_of(Actor("", c)), Role.APPROVER)), "")
        appeal_id = f"{received.isoformat()}-{len(saved.value.history)}"
        body = {"status": "open", "received": received.isoformat(), "grounds": grounds, "decider": decider,
                "assigned": assigned, "by": actor.aad_object_id or actor.user_id}
        if isinstance(await self.store.create_document(Document(APPEAL, ref, appeal_id, body)), Conflict):
            return NotReviewed("changed")
        event = self._event(actor, "appeal received", f"{received.isoformat()}: {grounds}")
        for _ in range(10):
            current = await self.store.get_entry(ref)
            if current is None:
                return NotReviewed("missing")
            changed = replace(current.value, history=[*current.value.history, event])
            if not isinstance(await self.store.replace_entry(changed, current.etag), Conflict):
                break
        await self.register.audit(actor, "appeal", query=ref, outcome=f"assigned={assigned or 'administrators'}",
                                  refs=[ref])
        return appeal_id, assigned

    async def open_appeal(self, ref: str) -> tuple[str, dict[str, Any]] | None:
        for saved in await self.store.query_documents(APPEAL, ref):
            if saved.value.body.get("status") == "open":
                return saved.value.id, dict(saved.value.body)
        return None

    async def decide_appeal(self, ref: str, actor: Actor, form: dict[str, Any],
                            conversation_type: str = "personal") -> Reviewed | NotReviewed:
        """Uphold, amend or lift, with a reason, by the assigned approver or an administrator; never by the
        approver who made the original decision."""
        found = await self.open_appeal(ref)
        saved = await self.store.get_entry(ref)
        outcome: Reviewed | NotReviewed
        actor_id = (actor.aad_object_id or actor.user_id).lower()
        if found is None or saved is None:
            outcome = NotReviewed("missing")
        elif actor_id == found[1].get("decider"):
            outcome = NotReviewed("original_decider")
        elif not (actor_id == found[1].get("assigned")
                  or allows(self.register.role_of(actor), Role.ADMINISTRATOR)):
            outcome = NotReviewed("not_allowed")
        else:
            action = str(form.get("action") or "")
            reason = str(form.get("reason") or "").strip()[:2000]
            problems: dict[str, str] = {}
            if action not in ("uphold", "amend", "lift"):
                problems["action"] = "Please choose: uphold, amend or lift."
            if not reason:
                problems["reason"] = "Please give the reason for the appeal's outcome."
            changed: Entry | None = None
            if not problems and action == "uphold":
                changed = replace(saved.value, updated_at=self.register.clock(), history=[
                    *saved.value.history, self._event(actor, "appeal upheld", reason)])
            elif not problems:
                changed, problems = self._apply(saved.value, actor, form)
                if changed is not None:
                    last = changed.history[-1]
                    changed = replace(changed, history=[*changed.history[:-1],
                                                        {**last, "event": f"appeal: {last['event']}"}])
            outcome = await self._save(changed, problems, saved.etag)
            if isinstance(outcome, Reviewed):
                appeal_id, body = found
                current = await self.store.get_document(APPEAL, ref, appeal_id)
                if current is not None:
                    await self.store.replace_document(Document(APPEAL, ref, appeal_id, {
                        **body, "status": "decided", "outcome": action, "decided_by": actor_id}), current.etag)
        await self.register.audit(actor, "appeal_decision" if isinstance(outcome, Reviewed) else "appeal_refused",
                                  query=ref, conversation_type=conversation_type,
                                  outcome=str(form.get("action") or "") if isinstance(outcome, Reviewed)
                                  else outcome.reason, refs=[ref])
        return outcome


def next_run(now: datetime, hour: int) -> datetime:
    """The next time of day `hour` (UTC) after `now`: when the in-process scheduler runs."""
    candidate = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)
