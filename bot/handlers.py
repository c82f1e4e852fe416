"""Command and card-verb handlers. Short by design: the register does the work, cards/ does the wording."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from bot.router import Reply, Request, Router
from cards import messages, verbs
from cards import report as report_cards
from cards.admin import audit_card
from cards.builders import check_result_card, error_card, help_card
from register.address import needs_more
from register.flows import Move
from register.model import Outcome
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
from register.service import Lifted, Register

log = logging.getLogger(__name__)

MAX_QUERY = 200
REF = re.compile(r"^[A-Za-z]{2,5}-\d{4}-\d{3,6}$")

Notify = Callable[[list[str], str], None]


def build_router(register: Register, notify: Notify | None = None) -> Router:
    async def help_(request: Request) -> Reply:
        return Reply(card=help_card())

    async def unknown(request: Request) -> Reply:
        # an empty message or a card without a verb just gets help; a word we don't know is said to be unknown
        return Reply(card=help_card(messages.UNKNOWN_COMMAND if request.verb else None))

    async def refused(request: Request) -> Reply:
        await register.audit(request.actor, "refused", query=request.verb, conversation_type=request.conversation_type,
                             outcome="role")
        return Reply(card=error_card(messages.NOT_ALLOWED))

    router = Router(role_of=register.role_of, fallback=unknown, refused=refused)

    async def run_check(request: Request, query: str) -> Reply:
        query = " ".join(query.split())
        if not query:
            return Reply(card=error_card(messages.EMPTY_CHECK))
        if len(query) > MAX_QUERY:
            return Reply(card=error_card(messages.TOO_LONG))
        limited = await register.rate_limit(request.actor)
        if limited is not None:
            if limited.first and notify is not None:
                notify(register.roles.holders(Role.ADMINISTRATOR),
                       messages.rate_limit_alert(request.actor.name or request.actor.user_id, limited.limit))
            return Reply(card=error_card(messages.rate_limited(limited.limit)))
        result = await register.check(query, request.actor, request.conversation_type)
        if result.outcome is Outcome.NONE and needs_more(query):
            # "No alert" for 'High Street' or '12' would be a clear nobody can rely on: ask for the property.
            return Reply(card=error_card(messages.NEED_MORE))
        log.debug("check by %s in %s: %s (%d match(es))", request.actor.user_id, request.conversation_type,
                 result.outcome.value, len(result.matches))
        # Every check result is personal data, "no alert" included (bot/teams.py delivers every reply 1:1 from a
        # shared conversation): in a channel the difference between a private reply and a public one would itself
        # reveal which addresses are flagged.
        return Reply(card=check_result_card(query, result, register.today()))

    @router.command("check", "lookup", "search", summary="check an address, postcode or name")
    async def check(request: Request) -> Reply:
        return await run_check(request, request.args)

    @router.action(verbs.CHECK)
    async def check_choice(request: Request) -> Reply:
        query = request.data.get("query")
        return await run_check(request, query if isinstance(query, str) else "")

    @router.command("audit", role=Role.ADMINISTRATOR, summary="who looked at or changed an entry")
    async def audit(request: Request) -> Reply:
        ref = request.args.strip().upper()
        if not REF.match(ref):
            return Reply(card=error_card(messages.AUDIT_NEEDS_REF))
        records = await register.audit_trail(ref, request.actor, request.conversation_type)
        return Reply(card=audit_card(ref, records))

    @router.command("lift", role=Role.APPROVER, summary="lift an active entry")
    async def lift(request: Request) -> Reply:
        ref = request.args.strip().upper()
        if not REF.match(ref):
            return Reply(card=error_card(messages.LIFT_NEEDS_REF))
        outcome = await register.lift(ref, request.actor, request.conversation_type)
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

    def report_reply(outcome: ReportOutcome) -> Reply:
        # what happened to a colleague is personal data: the cards go 1:1 whatever the conversation
        return Reply(card=report_card(outcome), shared_notice=messages.REPORT_SENT_PRIVATELY)

    @router.command("report", summary="report an incident (in your personal chat)")
    async def report(request: Request) -> Reply:
        return report_reply(await reporting.begin(request.actor, " ".join(request.args.split())[:MAX_QUERY]))

    @router.action(verbs.REPORT_START)
    async def report_start(request: Request) -> Reply:
        address = request.data.get("address")
        fresh = request.data.get("fresh") in ("1", 1, True)
        return report_reply(await reporting.begin(
            request.actor, address[:MAX_QUERY] if isinstance(address, str) else "", fresh=fresh))

    @router.action(verbs.REPORT_CONTINUE)
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
            return report_reply(await reporting.move(
                request.actor, draft_id if isinstance(draft_id, str) else "", version, move, data,
                target=target if isinstance(target, str) else "", conversation_type=request.conversation_type))
        return handler

    for verb, move in ((verbs.REPORT_NEXT, Move.NEXT), (verbs.REPORT_BACK, Move.BACK),
                       (verbs.REPORT_EDIT, Move.EDIT), (verbs.REPORT_SUBMIT, Move.SUBMIT)):
        router.action(verb)(report_move(move))

    @router.command("my reports", summary="your recent incident reports and their status")
    async def my_reports(request: Request) -> Reply:
        return Reply(card=report_cards.my_reports_card(await reporting.mine(request.actor)))

    router.command("help", "hi", "hello", "?", summary="list the commands")(help_)
    return router
