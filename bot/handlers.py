"""Command and card-verb handlers. Short by design: the register does the work, cards/ does the wording."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from bot.router import Reply, Request, Router
from cards import messages
from cards.admin import audit_card
from cards.builders import check_result_card, error_card, help_card
from register.address import needs_more
from register.model import Outcome
from register.permissions import Role
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

    @router.action("check")
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

    router.command("help", "hi", "hello", "?", summary="list the commands")(help_)
    return router
