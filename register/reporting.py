"""Reporting an incident: the use case around the report flow (register/report_flow.py).

The draft lives in the store as a working document keyed by the user and the flow (not the conversation), saved
at every step with its etag and kept for 14 days: a lost connection, a restart, a second instance or a switch
from phone to desktop loses nothing that reached the bot. Every card carries the draft's id and version, so a
click on an older card is recognised (stale, or already submitted) instead of acted on.

Submit happens exactly once per draft: a double tap, a retried request or two instances receiving the same click
create one incident with one reference. The claim is a `submitted` document per draft, created only if absent;
the incident is created after it, and a later submit of the same draft (a retry after a crash between the two
included) finds the claim, makes sure the incident exists, and answers with its reference.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from register.address import parse_address
from register.approvers import APPROVERS_SETTING, ApproverTable
from register.flows import Draft, Move, advance, split_multi, start, yes
from register.model import Actor, Incident, IncidentStatus, Outcome
from register.permissions import Role, allows
from register.report_flow import REPORT, SERVICE_AREAS, ReportContext, occurred_at, prefill
from register.store import Conflict, Document, Saved

if TYPE_CHECKING:
    from register.service import Register

DRAFT, SUBMITTED = "draft", "submitted"
#: outcomes of a lookup that name something the register holds at that property
_KNOWN = frozenset({Outcome.ALERT, Outcome.BUILDING, Outcome.PENDING})
DRAFT_DAYS = 14
#: how long a submitted draft's claim is kept, so a card clicked long after still answers with the reference
SUBMITTED_DAYS = 90
SERVICE_AREAS_SETTING = "service_areas"


class UnknownServiceArea(ValueError):
    """Not one of the configured service areas."""


class ApproverRoleMissing(ValueError):
    """Only someone holding the approver role can be named as an approver."""


@dataclass(frozen=True, slots=True)
class Progress:
    """The step to show: the draft, the problems to state beside their fields, and the context for choices."""

    draft: Draft
    draft_id: str
    context: ReportContext
    problems: dict[str, str] = field(default_factory=dict)
    resumed: bool = False
    #: after the address is accepted: the address as the register reads it, for the reporter to confirm, and
    #: what the register already holds there (live entries, reports awaiting a decision), by reference
    address_read: str = ""
    known_here: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resumable:
    """`report` found an open draft: offer to continue it or start again."""

    progress: Progress


@dataclass(frozen=True, slots=True)
class Stale:
    """The card clicked is older than the draft (clicked twice, or moved on from another device): nothing was
    changed; show where the draft really is."""

    progress: Progress


@dataclass(frozen=True, slots=True)
class AlreadySubmitted:
    ref: str


@dataclass(frozen=True, slots=True)
class NoDraft:
    """No open draft with that id: it expired, or was abandoned for a new one."""


@dataclass(frozen=True, slots=True)
class Submitted:
    incident: Incident


ReportOutcome = Progress | Resumable | Stale | AlreadySubmitted | NoDraft | Submitted


class Reporting:
    def __init__(self, register: Register):
        self.register = register
        self.store = register.store

    # -- configuration -----------------------------------------------------------------------------------

    async def context(self, reporter: Actor) -> ReportContext:
        """The service areas and, for each, the approvers the reporter may choose: listed for that area, holding
        the approver role, and never the reporter (nobody decides on their own report)."""
        names = await self.service_areas()
        table = await self.approvers()
        roles = self.register.roles
        me = {reporter.aad_object_id.lower(), reporter.user_id.lower()} - {""}

        def approvers(area: str) -> list[tuple[str, str]]:
            return [(a.object_id, a.title) for a in table.for_area(area)
                    if a.object_id not in me and allows(roles.role_of(Actor("", a.object_id)), Role.APPROVER)]

        return ReportContext(self.register.clock(), names, approvers)

    async def approvers(self) -> ApproverTable:
        saved = await self.store.get_setting(APPROVERS_SETTING)
        return ApproverTable.from_dict(saved.value if saved else None)

    async def service_areas(self) -> tuple[str, ...]:
        saved = await self.store.get_setting(SERVICE_AREAS_SETTING)
        names = tuple(str(a) for a in (saved.value.get("areas") or [])) if saved else ()
        return names or SERVICE_AREAS

    async def set_approver(self, area: str, object_id: str, actor: Actor, *, name: str = "",
                           remove: bool = False) -> ApproverTable:
        """Name (or with remove, no longer name) someone as an approver for a service area; etag-checked, so two
        administrators at once both land; audited. Adding needs the approver role: ApproverRoleMissing."""
        if area not in await self.service_areas():
            raise UnknownServiceArea(area)
        if not remove and not allows(self.register.roles.role_of(Actor("", object_id)), Role.APPROVER):
            raise ApproverRoleMissing(object_id)
        for _ in range(10):
            saved = await self.store.get_setting(APPROVERS_SETTING)
            table = ApproverTable.from_dict(saved.value if saved else None)
            changed = table.remove(area, object_id) if remove else table.add(area, object_id, name)
            result = await self.store.put_setting(APPROVERS_SETTING, changed.to_dict(), saved.etag if saved else None)
            if isinstance(result, Saved):
                await self.register.audit(actor, "approver_change", query=f"{area}: {object_id.lower()}",
                                          conversation_type="cli", outcome="removed" if remove else "added")
                return changed
        raise RuntimeError("the approver list kept changing; try again")

    async def incidents(self, actor: Actor, *, status: str = "", full: bool = False) -> list[Incident]:
        """Incidents for an administrator, oldest first; looking is audited (with whether narratives were shown)."""
        found = sorted((i for i in await self.store.list_incidents() if not status or i.status.value == status),
                       key=lambda i: (i.reported_at, i.ref))
        await self.register.audit(actor, "incidents_view", query=status, conversation_type="cli",
                                  outcome=f"incidents={len(found)}{' full' if full else ''}",
                                  refs=[i.ref for i in found] if full else ())
        return found

    # -- the flow ----------------------------------------------------------------------------------------

    async def begin(self, reporter: Actor, address: str = "", *, fresh: bool = False) -> Progress | Resumable:
        """`report` (or the check card's button): a new draft, or the open one to continue."""
        ctx = await self.context(reporter)
        saved = await self._load(reporter)
        if saved is not None and not fresh:
            draft, draft_id = _unpack(saved)
            return Resumable(Progress(draft, draft_id, ctx, resumed=True))
        draft = start(REPORT, prefill(ctx.now, address))
        draft_id = uuid.uuid4().hex
        doc = self._doc(reporter, draft, draft_id)
        result: Saved[Document] | Conflict = (
            await self.store.replace_document(doc, saved.etag) if saved is not None
            else await self.store.create_document(doc))
        if isinstance(result, Conflict):  # started at the same moment on another device: that one stands
            current = await self._load(reporter)
            if current is None:
                raise RuntimeError("the draft changed while starting; try again")
            return Resumable(Progress(*_unpack(current), ctx, resumed=True))
        return Progress(draft, draft_id, ctx)

    async def resume(self, reporter: Actor) -> Progress | NoDraft:
        saved = await self._load(reporter)
        if saved is None:
            return NoDraft()
        return Progress(*_unpack(saved), await self.context(reporter), resumed=True)

    async def move(self, reporter: Actor, draft_id: str, version: int, move: Move, inputs: Mapping[str, Any],
                   *, target: str = "", conversation_type: str = "personal") -> ReportOutcome:
        """A click on a card of draft `draft_id` at `version`."""
        saved = await self._load(reporter)
        if saved is None or _unpack(saved)[1] != draft_id:
            claim = await self.store.get_document(SUBMITTED, reporter.user_id, draft_id) if draft_id else None
            if claim is not None:
                return AlreadySubmitted(str(claim.value.body.get("ref") or ""))
        if saved is None:
            return NoDraft()
        draft, current_id = _unpack(saved)
        ctx = await self.context(reporter)
        if current_id != draft_id or version != draft.version:
            return Stale(Progress(draft, current_id, ctx))
        moved = advance(REPORT, draft, move, inputs, ctx, target=target)
        if moved.submitted:
            return await self._submit(reporter, moved.draft, current_id, ctx, conversation_type)
        result = await self.store.replace_document(self._doc(reporter, moved.draft, current_id), saved.etag)
        if isinstance(result, Conflict):  # another device moved it first: show that state
            again = await self._load(reporter)
            if again is None:
                return NoDraft()
            return Stale(Progress(*_unpack(again), ctx))
        progress = Progress(moved.draft, current_id, ctx, moved.problems)
        address = moved.draft.values.get("address", "")
        if draft.step == REPORT.first.name and not moved.problems and address:
            progress = await self._read_back(reporter, progress, address, conversation_type)
        return progress

    async def _read_back(self, reporter: Actor, progress: Progress, address: str,
                         conversation_type: str) -> Progress:
        """The address as the register parsed it, and what the register holds there. Looking is a lookup like a
        check, so it is audited like one."""
        found = self.register.index.lookup(address)
        refs = tuple(m.ref for m in found.matches) if found.outcome in _KNOWN else ()
        await self.register.audit(reporter, "report_lookup", query=address, conversation_type=conversation_type,
                                  outcome=found.outcome.value, refs=refs)
        return replace(progress, address_read=parse_address(address).display(), known_here=refs)

    async def _submit(self, reporter: Actor, draft: Draft, draft_id: str, ctx: ReportContext,
                      conversation_type: str) -> Submitted | AlreadySubmitted:
        claim = await self.store.get_document(SUBMITTED, reporter.user_id, draft_id)
        if claim is None:
            now = ctx.now
            number = await self.store.next_number(f"incident-{now.year}")
            ref = f"INC-{now.year}-{number:06d}"
            created = await self.store.create_document(Document(
                SUBMITTED, reporter.user_id, draft_id, {"ref": ref}, expires_at=now + timedelta(days=SUBMITTED_DAYS)))
            if isinstance(created, Conflict):  # another instance got the same click first: its reference stands
                claim = await self.store.get_document(SUBMITTED, reporter.user_id, draft_id)
        if claim is not None:
            ref = str(claim.value.body.get("ref") or "")
            if await self.store.get_incident(ref) is not None:
                return AlreadySubmitted(ref)
        incident = self.incident(ref, reporter, draft, draft_id, ctx)
        stored = await self.register.add_incident(incident)
        await self.store.delete_document(DRAFT, reporter.user_id, REPORT.name)
        if isinstance(stored, Conflict):
            return AlreadySubmitted(ref)
        await self.register.audit(reporter, "report", query=ref, conversation_type=conversation_type,
                                  outcome="submitted", refs=[ref])
        return Submitted(incident)

    def incident(self, ref: str, reporter: Actor, draft: Draft, draft_id: str, ctx: ReportContext) -> Incident:
        v = draft.values
        approver = dict(ctx.approvers(v.get("service_area", ""))).get(v.get("approver", ""), "")
        address = parse_address(v["address"]) if v.get("address") else None
        return Incident(
            ref=ref, address=address, reported_at=ctx.now, status=IncidentStatus.PENDING,
            manager_contact=approver, reporter=reporter, occurred_at=occurred_at(v) or ctx.now,
            service_area=v.get("service_area", ""), contact_method=v.get("contact_method", ""),
            behaviours=split_multi(v.get("behaviours", "")), narrative=v.get("description", ""),
            injured=yes(v.get("injured", "")), police=yes(v.get("police", "")),
            crime_reference=v.get("crime_reference", ""), witnesses=v.get("witnesses", ""),
            person_name=v.get("person_name", ""), person_description=v.get("person_description", ""),
            other_names=v.get("other_names", ""), recommendation=v.get("recommendation", ""),
            recommended_restrictions=split_multi(v.get("restrictions", "")),
            restriction_other=v.get("restriction_other", ""), approver_id=v.get("approver", ""),
            approver_name=approver, draft_id=draft_id)

    async def mine(self, reporter: Actor, limit: int = 10) -> list[Incident]:
        """`my reports`: the reporter's most recent reports, newest first."""
        own = [i for i in await self.store.list_incidents()
               if i.reporter is not None and i.reporter.user_id == reporter.user_id]
        return sorted(own, key=lambda i: i.reported_at, reverse=True)[:limit]

    # -- storage ---------------------------------------------------------------------------------------------

    async def _load(self, reporter: Actor) -> Saved[Document] | None:
        return await self.store.get_document(DRAFT, reporter.user_id, REPORT.name)

    def _doc(self, reporter: Actor, draft: Draft, draft_id: str) -> Document:
        now = self.register.clock()
        return Document(DRAFT, reporter.user_id, REPORT.name, {"draft_id": draft_id, "draft": draft.to_dict(),
                                                               "saved_at": now.isoformat()},
                        expires_at=now + timedelta(days=DRAFT_DAYS))


def _unpack(saved: Saved[Document]) -> tuple[Draft, str]:
    body = saved.value.body
    return Draft.from_dict(body["draft"]), str(body["draft_id"])
