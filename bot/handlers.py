"""Command and card-verb handlers. Short by design: the register does the work, cards/ does the wording."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from bot.router import Reply, Request, Router
from cards import approval as approval_cards
from cards import messages, verbs
from cards import report as report_cards
from cards import review as review_cards
from cards.admin import audit_card
from cards.builders import check_result_card, error_card, help_card
from register.approvals import AlreadyDecided, Approvals, Decided, Invalid
from register.flows import Move
from register.model import REF_PATTERN, Actor, Incident, IncidentStatus
from register.outbox import Message as OutboxMessage
from register.outbox import Outbox
from register.permissions import Role
from register.reporting import (
    AlreadySubmitted,
    Progress,
    Reporting,
    ReportOutcome,
    Resumable,
    Stale,
    Submitted,
)
from register.reviews import Reviewed, Reviews
from register.service import Lifted, Register

log = logging.getLogger(__name__)

MAX_QUERY = 200


def build_router(register: Register, outbox: Outbox | None = None, wake: Callable[[], None] | None = None
                 ) -> Router:
    """The command and card-verb table. `outbox` takes the messages to other people (approval cards, outcomes,
    notices), which the Teams edge delivers after the answer (`wake` tells it there is something to send)."""
    async def help_(request: Request) -> Reply:
        return Reply(card=help_card(usage(request)))

    async def unknown(request: Request) -> Reply:
        # an empty message or a card without a verb just gets help; a word we don't know is said to be unknown
        return Reply(card=help_card(usage(request), messages.UNKNOWN_COMMAND if request.verb else None))

    async def refused(request: Request) -> Reply:
        await register.audit(request.actor, "refused", query=request.verb, conversation_type=request.conversation_type,
                             outcome="role")
        return Reply(card=error_card(messages.NOT_ALLOWED))

    router = Router(role_of=register.role_of, fallback=unknown, refused=refused)

    def usage(request: Request) -> list[tuple[str, str]]:
        """The help card's list, from the router itself: the commands this person may use, with an example."""
        return [(route.usage, route.summary) for route in router.commands_for(request.actor)]

    async def queue(*messages_: OutboxMessage) -> None:
        """Queue messages to other people in the store (durable), then wake the delivery."""
        if outbox is None:
            return
        for message in messages_:
            await outbox.put(message)
        if wake is not None:
            wake()

    async def run_check(request: Request, query: str) -> Reply:
        query = " ".join(query.split())
        if not query:
            return Reply(card=error_card(messages.EMPTY_CHECK))
        if len(query) > MAX_QUERY:
            return Reply(card=error_card(messages.TOO_LONG))
        limited = await register.rate_limit(request.actor)
        if limited is not None:
            if limited.first:
                text = messages.rate_limit_alert(request.actor.name or request.actor.user_id, limited.limit)
                await queue(*(OutboxMessage("text", to=admin, text=text) for admin in
                              register.roles.holders(Role.ADMINISTRATOR)))
            return Reply(card=error_card(messages.rate_limited(limited.limit)))
        result = await register.check(query, request.actor, request.conversation_type)
        if result.vague:
            # "No alert" for 'High Street' or '12' would be a clear nobody can rely on: ask for the property.
            return Reply(card=error_card(messages.NEED_MORE))
        log.debug("check by %s in %s: %s (%d match(es))", request.actor.user_id, request.conversation_type,
                 result.outcome.value, len(result.matches))
        # Every check result is personal data, "no alert" included (bot/teams.py delivers every reply 1:1 from a
        # shared conversation): in a channel the difference between a private reply and a public one would itself
        # reveal which addresses are flagged.
        return Reply(card=check_result_card(query, result, register.today()))

    @router.command("check", "lookup", "search", summary="check an address, postcode or name",
                    usage="check 12 High St")
    async def check(request: Request) -> Reply:
        return await run_check(request, request.args)

    @router.action(verbs.CHECK)
    async def check_choice(request: Request) -> Reply:
        query = request.data.get("query")
        return await run_check(request, query if isinstance(query, str) else "")

    @router.command("audit", role=Role.ADMINISTRATOR, summary="who looked at or changed an entry",
                    usage="audit <reference>")
    async def audit(request: Request) -> Reply:
        ref = request.args.strip().upper()
        if not REF_PATTERN.match(ref):
            return Reply(card=error_card(messages.AUDIT_NEEDS_REF))
        records = await register.audit_trail(ref, request.actor, request.conversation_type)
        return Reply(card=audit_card(ref, records))

    @router.command("lift", role=Role.APPROVER, summary="lift an active entry, with the reason",
                    usage="lift <reference> <reason>")
    async def lift(request: Request) -> Reply:
        ref, _, reason = request.args.strip().partition(" ")
        ref = ref.upper()
        if not REF_PATTERN.match(ref):
            return Reply(card=error_card(messages.LIFT_NEEDS_REF))
        if not reason.strip():
            return Reply(card=error_card(messages.LIFT_NEEDS_REASON))
        outcome = await register.lift(ref, request.actor, request.conversation_type, reason=reason.strip()[:500])
        if isinstance(outcome, Lifted):
            return Reply(card=error_card(messages.lifted(ref)))
        return Reply(card=error_card(messages.not_lifted(ref, outcome.reason, outcome.status)))

    # -- incident reports: the flow runs in the reporter's personal chat ------------------------------------

    reporting = Reporting(register)

    def report_card(outcome: ReportOutcome) -> dict:
        if isinstance(outcome, Resumable):
            return report_cards.resume_card(outcome.progress.draft, outcome.progress.draft_id)
        if isinstance(outcome, Stale):
            p = outcome.progress
            return report_cards.step_card(p.draft, p.draft_id, p.context, notice=messages.REPORT_STALE)
        if isinstance(outcome, Progress):
            notice = messages.REPORT_RESUMED if outcome.resumed else ""
            if outcome.address_read:
                notice = report_cards.address_notice(outcome.address_read, outcome.known_here)
            return report_cards.step_card(outcome.draft, outcome.draft_id, outcome.context, outcome.problems,
                                          notice=notice)
        if isinstance(outcome, Submitted):
            return report_cards.submitted_card(outcome.incident)
        if isinstance(outcome, AlreadySubmitted):
            return report_cards.already_submitted_card(outcome.ref)
        return report_cards.no_draft_card()

    async def report_reply_routed(outcome: ReportOutcome) -> Reply:
        if isinstance(outcome, Submitted):
            await route_for_decision(outcome.incident)
        return report_reply(outcome)

    def report_reply(outcome: ReportOutcome) -> Reply:
        # what happened to a colleague is personal data: the cards go 1:1 whatever the conversation
        return Reply(card=report_card(outcome))

    @router.command("report", summary="report an incident (in your personal chat)", usage="report 12 High St",
                    notice=messages.REPORT_SENT_PRIVATELY)
    async def report(request: Request) -> Reply:
        return report_reply(await reporting.begin(request.actor, " ".join(request.args.split())[:MAX_QUERY]))

    @router.action(verbs.REPORT_START, notice=messages.REPORT_SENT_PRIVATELY)
    async def report_start(request: Request) -> Reply:
        address = request.data.get("address")
        fresh = request.data.get("fresh") in ("1", 1, True)
        return report_reply(await reporting.begin(
            request.actor, address[:MAX_QUERY] if isinstance(address, str) else "", fresh=fresh))

    @router.action(verbs.REPORT_CONTINUE, notice=messages.REPORT_SENT_PRIVATELY)
    async def report_continue(request: Request) -> Reply:
        return report_reply(await reporting.resume(request.actor))

    def report_move(move: Move):
        async def handler(request: Request) -> Reply:
            data = request.data
            draft_id = data.get("draft")
            try:
                version = int(data.get("version"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                version = -1  # a card without a version is never current: shown the saved state
            target = data.get("target")
            return await report_reply_routed(await reporting.move(
                request.actor, draft_id if isinstance(draft_id, str) else "", version, move, data,
                target=target if isinstance(target, str) else "", conversation_type=request.conversation_type))
        return handler

    for verb, move in ((verbs.REPORT_NEXT, Move.NEXT), (verbs.REPORT_BACK, Move.BACK),
                       (verbs.REPORT_EDIT, Move.EDIT), (verbs.REPORT_SUBMIT, Move.SUBMIT)):
        router.action(verb, notice=messages.REPORT_SENT_PRIVATELY)(report_move(move))

    @router.command("my reports", summary="your recent incident reports and their status")
    async def my_reports(request: Request) -> Reply:
        return Reply(card=report_cards.my_reports_card(await reporting.mine(request.actor)))

    # -- approvals: the approver decides from the card; messages to others go through the durable outbox ----

    approvals = Approvals(register)

    async def teams_ids(aad_ids: list[str]) -> list[str]:
        """The Teams user ids (for a card's user-specific refresh) of people the bot has talked to."""
        found = []
        for aad in aad_ids:
            saved = await register.store.get_conversation_ref(f"aad:{aad.lower()}")
            user = ((saved.reference if saved else {}).get("user") or {}).get("id")
            if user:
                found.append(str(user))
        return found

    async def deciders(incident: Incident) -> list[str]:
        return await teams_ids([incident.approver_id, *register.roles.holders(Role.ADMINISTRATOR)])

    async def approval_view(incident: Incident, actor: Actor, *, problems: dict | None = None,
                            values: dict | None = None, notice: str = "") -> dict:
        """The card this person may see: the decider's view, the read-only view, or the decided state."""
        if incident.decision is not None or incident.status is not IncidentStatus.PENDING:
            return approval_cards.decided_card(incident)
        refusal = approvals.may_decide(incident, actor)
        users = await deciders(incident)
        if refusal is not None:
            note = messages.APPROVAL_OWN_REPORT if refusal.reason == "own_report" else ""
            return approval_cards.read_only_card(incident, refresh_users=users, notice=note)
        entries, others = await approvals.related(incident)
        return approval_cards.decider_card(incident, entries, others, register.today(), refresh_users=users,
                                           problems=problems, values=values, notice=notice)

    async def approval_card_for_approver(incident: Incident) -> dict:
        entries, others = await approvals.related(incident)
        return approval_cards.decider_card(incident, entries, others, register.today(),
                                           refresh_users=await deciders(incident))

    async def route_for_decision(incident: Incident) -> None:
        """A new report: its approval card to the chosen approver's personal chat (tracked, so every copy can be
        updated once decided)."""
        await queue(OutboxMessage("card", to=incident.approver_id, card=await approval_card_for_approver(incident),
                                  track=f"approval:{incident.ref}", id=f"approval:{incident.ref}"))

    async def after_decision(incident: Incident) -> None:
        decision = incident.decision
        kind = decision.kind.value if decision else ""
        effects = [OutboxMessage("update", card=approval_cards.decided_card(incident),
                                 track=f"approval:{incident.ref}", id=f"approval-decided:{incident.ref}")]
        if incident.reporter is not None and incident.reporter.aad_object_id:
            effects.append(OutboxMessage("text", to=incident.reporter.aad_object_id,
                                         text=messages.reporter_outcome(incident.ref, kind),
                                         id=f"outcome:{incident.ref}"))
        await queue(*effects)

    def incident_ref(request: Request) -> str:
        ref = request.data.get("incident")
        return ref.strip().upper()[:40] if isinstance(ref, str) else ""

    async def load(request: Request) -> Incident | None:
        ref = incident_ref(request)
        saved = await register.store.get_incident(ref) if ref else None
        return saved.value if saved else None

    async def decide(request: Request, *, reject: bool) -> Reply:
        ref = incident_ref(request)
        outcome = await approvals.decide(ref, request.actor, request.data, reject=reject,
                                         conversation_type=request.conversation_type)
        if isinstance(outcome, Decided | AlreadyDecided):
            # queued once by id: after a repeat (a second click, a retry after a crash) this completes the effects
            await after_decision(outcome.incident)
            return Reply(card=approval_cards.decided_card(outcome.incident), track=f"approval:{ref}")
        if isinstance(outcome, Invalid):
            typed = {k: v for k, v in request.data.items() if isinstance(v, str)}
            return Reply(card=await approval_view(outcome.incident, request.actor, problems=outcome.problems,
                                                  values=typed))
        return Reply(card=error_card(messages.REFUSAL.get(outcome.reason, messages.NOT_ALLOWED)))

    @router.action(verbs.APPROVAL_DECIDE)
    async def approval_decide(request: Request) -> Reply:
        return await decide(request, reject=False)

    @router.action(verbs.APPROVAL_REJECT)
    async def approval_reject(request: Request) -> Reply:
        return await decide(request, reject=True)

    async def viewed(request: Request, *, track: bool) -> Reply:
        """The approval card as this person may see it; looking is audited. `track`: the card it replaces becomes
        a copy that the decision will update."""
        incident = await load(request)
        if incident is None:
            return Reply(card=error_card(messages.REFUSAL["missing"]))
        await register.audit(request.actor, "approval_view", query=incident.ref,
                             conversation_type=request.conversation_type, refs=[incident.ref])
        return Reply(card=await approval_view(incident, request.actor),
                     track=f"approval:{incident.ref}" if track else "")

    @router.action(verbs.APPROVAL_REFRESH)
    async def approval_refresh(request: Request) -> Reply:
        return await viewed(request, track=False)

    @router.action(verbs.APPROVAL_OPEN, role=Role.APPROVER)
    async def approval_open(request: Request) -> Reply:
        return await viewed(request, track=True)

    @router.action(verbs.APPROVAL_ASK)
    async def approval_ask(request: Request) -> Reply:
        incident = await load(request)
        question = request.data.get("question")
        question = " ".join(question.split())[:500] if isinstance(question, str) else ""
        if incident is None:
            return Reply(card=error_card(messages.REFUSAL["missing"]))
        refusal = approvals.may_decide(incident, request.actor)
        if refusal is not None or incident.status is not IncidentStatus.PENDING:
            return Reply(card=await approval_view(incident, request.actor))
        if not question:
            return Reply(card=await approval_view(incident, request.actor, problems={
                "question": messages.APPROVAL_QUESTION_NEEDED}))
        asked = await approvals.ask(incident.ref, request.actor, question)
        if asked is None:
            return Reply(card=await approval_view(incident, request.actor))
        number = len(asked.questions)
        if asked.reporter is not None and asked.reporter.aad_object_id:
            await queue(OutboxMessage("card", to=asked.reporter.aad_object_id,
                                      card=report_cards.question_card(asked.ref, question, number),
                                      id=f"question:{asked.ref}:{number}"))
        return Reply(card=await approval_view(asked, request.actor, notice=messages.APPROVAL_QUESTION_SENT),
                     track=f"approval:{asked.ref}")

    @router.action(verbs.REPORT_ANSWER)
    async def report_answer(request: Request) -> Reply:
        ref = incident_ref(request)
        answer = request.data.get("answer")
        answer = answer.strip()[:2000] if isinstance(answer, str) else ""
        try:
            number = int(request.data.get("question"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = 0
        if not answer:
            return Reply(card=error_card(messages.ANSWER_NEEDED))
        answered = await approvals.answer(ref, request.actor, number, answer)
        if answered is None:
            return Reply(card=error_card(messages.ANSWER_NOT_TAKEN))
        await queue(OutboxMessage("update", card=await approval_card_for_approver(answered),
                                  track=f"approval:{ref}", id=f"answer:{ref}:{number}"))
        return Reply(card=error_card(messages.ANSWER_SENT))

    @router.command("pending", role=Role.APPROVER, summary="reports waiting for a decision", usage="pending")
    async def pending(request: Request) -> Reply:
        waiting = await approvals.pending()
        await register.audit(request.actor, "pending_view", conversation_type=request.conversation_type,
                             outcome=f"incidents={len(waiting)}")
        return Reply(card=approval_cards.pending_list_card(waiting))

    # -- the entry's life: reviews, lift with a reason, the customer told, the whole entry ---------------------

    reviews = Reviews(register, outbox) if outbox is not None else None

    def entry_ref(text: str) -> str:
        return text.strip().split(" ", 1)[0].upper() if text.strip() else ""

    @router.action(verbs.REVIEW_DECIDE)
    async def review_decide(request: Request) -> Reply:
        ref = request.data.get("entry")
        ref = ref.strip().upper()[:40] if isinstance(ref, str) else ""
        if reviews is None or not ref:
            return Reply(card=error_card(messages.NO_SUCH_ENTRY))
        outcome = await reviews.review(ref, request.actor, dict(request.data),
                                       conversation_type=request.conversation_type)
        if isinstance(outcome, Reviewed):
            return Reply(card=review_cards.reviewed_card(outcome.entry))
        if outcome.reason == "invalid":
            saved = await register.store.get_entry(ref)
            if saved is not None:
                typed = {k: v for k, v in request.data.items() if isinstance(v, str)}
                return Reply(card=review_cards.review_card(saved.value, register.today(), problems=outcome.problems,
                                                           values=typed))
        return Reply(card=error_card(messages.REVIEW_REFUSAL.get(outcome.reason, messages.NOT_ALLOWED)))

    @router.command("entry", role=Role.APPROVER, summary="an entry, its dates and its history",
                    usage="entry <reference>")
    async def entry(request: Request) -> Reply:
        ref = entry_ref(request.args)
        if not REF_PATTERN.match(ref):
            return Reply(card=error_card(messages.ENTRY_NEEDS_REF))
        saved = await register.store.get_entry(ref)
        await register.audit(request.actor, "entry_view", query=ref, conversation_type=request.conversation_type,
                             outcome="found" if saved else "missing", refs=[ref])
        if saved is None:
            return Reply(card=error_card(messages.NO_SUCH_ENTRY))
        return Reply(card=review_cards.entry_card(saved.value))

    @router.command("notified", role=Role.APPROVER, summary="record when the customer was told in writing",
                    usage="notified <reference> <YYYY-MM-DD>")
    async def notified(request: Request) -> Reply:
        parts = request.args.split()
        ref = parts[0].upper() if parts else ""
        try:
            day = date.fromisoformat(parts[1]) if len(parts) == 2 else None
        except ValueError:
            day = None
        if not REF_PATTERN.match(ref) or day is None or day > register.today():
            return Reply(card=error_card(messages.NOTIFIED_NEEDS))
        saved = await register.record_notified(ref, day, request.actor, request.conversation_type)
        if saved is None:
            return Reply(card=error_card(messages.NO_SUCH_ENTRY))
        return Reply(card=error_card(messages.notified(ref, day)))

    @router.command("appeal", role=Role.ADMINISTRATOR, summary="record a customer's appeal against an entry",
                    usage="appeal <reference> <YYYY-MM-DD received> <grounds>")
    async def appeal(request: Request) -> Reply:
        parts = request.args.strip().split(" ", 2)
        ref = parts[0].upper() if parts else ""
        try:
            received = date.fromisoformat(parts[1]) if len(parts) >= 2 else None
        except ValueError:
            received = None
        grounds = parts[2].strip()[:2000] if len(parts) == 3 else ""
        if (reviews is None or not REF_PATTERN.match(ref) or received is None or received > register.today()
                or not grounds):
            return Reply(card=error_card(messages.APPEAL_NEEDS))
        saved = await register.store.get_entry(ref)
        areas = []
        for incident_ref in saved.value.incident_refs if saved else []:
            incident = await register.store.get_incident(incident_ref)
            if incident is not None and incident.value.service_area:
                areas.append(incident.value.service_area)
        table = await reporting.approvers()
        candidates = [a.object_id for area in areas for a in table.for_area(area)]
        candidates += [a.object_id for people in table.areas.values() for a in people]  # then any other approver
        result = await reviews.appeal(ref, request.actor, received, grounds, candidates)
        if not isinstance(result, tuple):
            return Reply(card=error_card(messages.APPEAL_REFUSAL.get(result.reason, messages.NOT_ALLOWED)))
        appeal_id, assigned = result
        decider = saved.value.owner_id.lower() if saved else ""
        recipients = [assigned] if assigned else [a for a in register.roles.holders(Role.ADMINISTRATOR)
                                                  if a.lower() != decider]
        await queue(*(OutboxMessage("card", to=to, template="appeal", subject=ref, track=f"appeal:{ref}:{appeal_id}",
                                    id=f"appeal:{ref}:{appeal_id}:{to}") for to in recipients))
        found = table.find(assigned) if assigned else None
        return Reply(card=error_card(messages.appeal_recorded(ref, found.title if found else assigned)))

    @router.action(verbs.APPEAL_DECIDE)
    async def appeal_decide(request: Request) -> Reply:
        ref = request.data.get("entry")
        ref = ref.strip().upper()[:40] if isinstance(ref, str) else ""
        if reviews is None or not ref:
            return Reply(card=error_card(messages.APPEAL_REFUSAL["missing"]))
        outcome = await reviews.decide_appeal(ref, request.actor, dict(request.data),
                                              conversation_type=request.conversation_type)
        if isinstance(outcome, Reviewed):
            return Reply(card=review_cards.reviewed_card(outcome.entry))
        if outcome.reason == "invalid":
            saved = await register.store.get_entry(ref)
            found = await reviews.open_appeal(ref)
            if saved is not None and found is not None:
                typed = {k: v for k, v in request.data.items() if isinstance(v, str)}
                return Reply(card=review_cards.appeal_card(saved.value, register.today(), found[1]["received"],
                                                           found[1]["grounds"], problems=outcome.problems,
                                                           values=typed))
        return Reply(card=error_card(messages.APPEAL_REFUSAL.get(outcome.reason, messages.NOT_ALLOWED)))

    router.command("help", "hi", "hello", "?", summary="list the commands")(help_)
    return router
