"""The router and handlers in process (no HTTP, no botbuilder): every route answers, roles are checked in one
place, two-word commands and fixed shared-conversation lines."""

from __future__ import annotations

import json

from cards import messages, verbs
from register.model import Actor
from register.permissions import Role


async def test_every_command_answers_with_a_card_and_the_role_is_checked_once(in_process):
    staff = Actor("29:staff", "aad-staff", "Sam Staff")
    for route in in_process.router.commands:
        reply = await in_process.ask(route.usage.split(" <")[0], staff)
        assert reply.card is not None or reply.text, route.verb
        refused = messages.NOT_ALLOWED in json.dumps(reply.card)
        assert refused == (route.role is not Role.STAFF), route.verb


async def test_two_word_commands_win_over_their_first_word(in_process):
    reply = await in_process.ask("my reports")
    assert messages.MY_REPORTS_TITLE in json.dumps(reply.card)
    assert in_process.router.notice_for("report") == messages.REPORT_SENT_PRIVATELY
    assert in_process.router.notice_for(verbs.REPORT_NEXT, card=True) == messages.REPORT_SENT_PRIVATELY
    assert in_process.router.notice_for("check") is None


async def test_every_card_verb_of_the_cards_has_a_route_and_every_route_a_verb(in_process):
    routed = {route.verb for route in in_process.router.actions}
    assert routed == set(verbs.CARD_VERBS)


async def test_an_unknown_verb_gets_help_not_silence(in_process):
    reply = await in_process.ask("frobnicate the widgets")
    assert messages.UNKNOWN_COMMAND in json.dumps(reply.card)
    clicked = await in_process.click("no.such.verb", {})
    assert messages.HELP_TITLE in json.dumps(clicked.card)
