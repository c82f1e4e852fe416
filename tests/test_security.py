"""Tenant allow-list, roles, the per-user check limit and the audit command, through the running bot."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.settings import Settings
from cards import messages
from tests.teams import TENANT, ActivityFactory, start_bot

ADMIN_AAD = "aad-admin-1"


@pytest.fixture
async def secured(tmp_path, connector):
    from bot.app import create_app

    env = {"REGISTER_DB": str(tmp_path / "r.db"), "REGISTER_DEMO": "1", "REGISTER_TENANTS": TENANT.upper(),
           "REGISTER_ADMINS": ADMIN_AAD, "REGISTER_CHECKS_PER_HOUR": "3"}
    running = await start_bot(create_app(Settings.from_env(env)))
    yield running
    await running.runner.cleanup()


def staff(connector) -> ActivityFactory:
    return ActivityFactory(connector.url, user_id="user-staff", user_name="Sam Staff")


def admin(connector) -> ActivityFactory:
    factory = ActivityFactory(connector.url, user_id="user-admin", user_name="Ada Admin")
    return factory


def as_admin(activity: dict) -> dict:
    activity["from"]["aadObjectId"] = ADMIN_AAD
    return activity


async def audit_of(running):
    from bot.app import STORE

    return await running.app[STORE].list_audit()


async def test_another_tenant_gets_no_data_and_the_refusal_is_audited(secured, connector):
    foreign = staff(connector).personal("check 12 High St")
    foreign["conversation"]["tenantId"] = "11111111-2222-3333-4444-555555555555"
    foreign["channelData"] = {"tenant": {"id": "11111111-2222-3333-4444-555555555555"}}
    status, _ = await secured.post(foreign)
    assert status in (200, 201)
    assert [s.text for s in connector.sent] == [messages.TENANT_NOT_ALLOWED]
    assert "MCR-" not in json.dumps([s.body for s in connector.sent])
    records = await audit_of(secured)
    made_by_the_demo_loader = ("import", "role_change")
    assert [(r.action, r.outcome) for r in records if r.action not in made_by_the_demo_loader] == [
        ("refused", "tenant 11111111-2222-3333-4444-555555555555")]
    from bot.app import STORE

    assert await secured.app[STORE].get_conversation_ref("user-staff") is None


async def test_the_council_tenant_is_served(secured, connector):
    await secured.post(staff(connector).personal("check 12 High St"))
    assert "MCR-2026-0001" in json.dumps(connector.sent[0].cards)


async def test_audit_command_is_for_administrators_only(secured, connector):
    await secured.post(staff(connector).personal("check 12 High St"))
    connector.sent.clear()
    await secured.post(staff(connector).personal("audit MCR-2026-0001"))
    assert messages.NOT_ALLOWED in json.dumps(connector.sent[0].cards)
    assert "Sam Staff" not in json.dumps(connector.sent[0].cards)
    connector.sent.clear()
    await secured.post(as_admin(admin(connector).personal("audit mcr-2026-0001")))
    card = json.dumps(connector.sent[0].cards)
    assert "Audit trail: MCR-2026-0001" in card and "Sam Staff" in card
    actions = [(r.action, r.actor.user_id) for r in await audit_of(secured)]
    assert ("refused", "user-staff") in actions and ("audit_view", "user-admin") in actions


async def test_audit_results_in_a_channel_go_privately(secured, connector):
    activity = as_admin(admin(connector).mention("audit MCR-2026-0001", scope="channel"))
    await secured.post(activity)
    assert [s.text for s in connector.to(activity["conversation"]["id"])] == [messages.RESULT_SENT_PRIVATELY]


async def test_audit_with_a_bad_reference_asks_for_one(secured, connector):
    await secured.post(as_admin(admin(connector).personal("audit 12 High St")))
    assert messages.AUDIT_NEEDS_REF in json.dumps(connector.sent[0].cards)


async def test_the_hourly_check_limit_refuses_politely_and_tells_administrators_once(secured, connector):
    from bot.app import OUTBOX_WORKER

    # the administrator has talked to the bot, so they can be reached
    await secured.post(as_admin(admin(connector).installation()))
    user = staff(connector)
    for _ in range(3):
        await secured.post(user.personal("check 12 High St"))
    assert all("MCR-2026-0001" in json.dumps(s.cards) for s in connector.sent)
    connector.sent.clear()
    for _ in range(3):
        await secured.post(user.personal("check 12 High St"))
    await secured.app[OUTBOX_WORKER].deliver_due()
    to_user = connector.to("personal-user-staff")
    assert len(to_user) == 3
    assert all(messages.rate_limited(3) in json.dumps(s.cards) and "MCR-" not in json.dumps(s.cards)
               for s in to_user)
    to_admin = connector.to("personal-user-admin")
    assert [s.text for s in to_admin] == [messages.rate_limit_alert("Sam Staff", 3)]
    refusals = [r for r in await audit_of(secured) if r.action == "refused"]
    assert [r.outcome for r in refusals] == ["rate_limited"] * 3


def test_startup_refuses_unsafe_settings():
    assert Settings.from_env({"MicrosoftAppId": "x"}).startup_problem() is not None  # no tenant allow-list
    assert Settings.from_env({"MicrosoftAppId": "x", "REGISTER_TENANTS": "t"}).startup_problem() is None
    assert Settings.from_env({"REGISTER_HOST": "0.0.0.0"}).startup_problem() is not None  # unauthenticated, public
    assert Settings.from_env({"REGISTER_HOST": "0.0.0.0", "REGISTER_ALLOW_UNAUTHENTICATED": "1"}
                             ).startup_problem() is None
    assert Settings.from_env({}).startup_problem() is None  # loopback development
    allowed = Settings.from_env({"REGISTER_TENANTS": "AbC, def"})
    assert allowed.tenant_allowed("abc") and allowed.tenant_allowed("DEF") and not allowed.tenant_allowed("xyz")


async def test_lift_is_for_approvers_asks_for_a_reason_and_stops_the_alert(secured, connector):
    await secured.post(staff(connector).personal("lift MCR-2026-0001 moved away"))
    assert messages.NOT_ALLOWED in json.dumps(connector.sent[-1].cards)
    await secured.post(as_admin(admin(connector).personal("lift MCR-2026-0001")))
    assert messages.LIFT_NEEDS_REASON in json.dumps(connector.sent[-1].cards)
    await secured.post(as_admin(admin(connector).personal("lift MCR-2026-0001 moved away from the area")))
    assert messages.lifted("MCR-2026-0001") in json.dumps(connector.sent[-1].cards)
    from bot.app import STORE

    lifted = (await secured.app[STORE].get_entry("MCR-2026-0001")).value
    assert (lifted.history[-1]["event"], lifted.history[-1]["detail"]) == ("lifted", "moved away from the area")
    await secured.post(as_admin(admin(connector).personal("lift MCR-2026-0001 again")))
    assert messages.not_lifted("MCR-2026-0001", "not_active", "lifted") in json.dumps(connector.sent[-1].cards)
    await secured.post(staff(connector).personal("check 12 High St"))
    assert "MCR-2026-0001" not in json.dumps(connector.sent[-1].cards)
    assert [r.action for r in await audit_of(secured) if r.action.startswith("lift")] == ["lift", "lift_refused"]


SHARED = ("groupChat", "channel")
NEUTRAL_INVOKE_ANSWER = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                         "value": messages.RESULT_SENT_PRIVATELY}

ARGS = ("", "MCR-2026-0001", "MCR-2026-0001 moved away", "MCR-2026-0001 again", "MCR-2026-0099 gone",
        "mcr-2026-0005 closed", "12 High St", "99 Nowhere Road", "[x](https://evil.example)", "x" * 600)


async def test_every_command_and_card_verb_in_a_shared_conversation_gets_the_same_neutral_line(secured, connector):
    """Need to know, for the whole class: every router command and card verb (enumerated from the router, so a new
    one is covered), typed or clicked in a group chat or a channel, by staff or by an administrator, with arguments
    that give each of its outcomes (found, lifted, not active, no such entry, refused, bad reference, too long,
    rate-limited), answers the shared conversation with one and the same neutral line; the answer itself goes
    1:1."""
    from bot.app import BOT

    router = secured.app[BOT].router

    def neutral_line(verb: str, card: bool = False) -> str:
        """The one line a shared conversation is told: fixed by what was asked (a report is taken privately,
        anything else is a result sent privately), never by how it turned out."""
        return router.notice_for(verb, card=card) or messages.RESULT_SENT_PRIVATELY

    assert neutral_line("report") == neutral_line("report.next", card=True) == messages.REPORT_SENT_PRIVATELY
    verbs = [route.verb for route in router.commands] + ["frobnicate", ""]
    card_verbs = [route.verb for route in router.actions] + ["frobnicate"]
    assert {"check", "lift", "audit", "help"} <= set(verbs) and "check" in card_verbs
    seen: set[str] = set()
    private = 0
    for factory in (staff(connector), admin(connector)):
        def who(activity: dict, factory=factory) -> dict:
            return as_admin(activity) if factory.user_id == "user-admin" else activity

        for scope in SHARED:
            requests = [((verb, False), who(factory.mention(f"{verb} {args}".strip(), scope=scope)))
                        for verb in verbs for args in ARGS]
            requests += [((verb, True), who(factory.submit({"verb": verb, "query": args, "ref": args}, scope=scope)))
                         for verb in card_verbs for args in ARGS]
            for (verb, card), activity in requests:
                conversation = activity["conversation"]["id"]
                before = len(connector.to(conversation))
                status, _ = await secured.post(activity)
                assert status in (200, 201)
                said = connector.to(conversation)[before:]
                assert [(s.text, s.cards) for s in said] == [(neutral_line(verb, card), [])], (
                    scope, activity.get("text"), activity.get("value"), [s.body for s in said])
                seen.add(json.dumps({k: v for k, v in said[0].body.items() if k not in ("replyToId", "recipient")},
                                    sort_keys=True))
            for verb in card_verbs:
                for args in ARGS:
                    status, body = await secured.post(who(factory.execute(verb, {"query": args, "ref": args},
                                                                          scope=scope)))
                    assert (status, body) == (200, {**NEUTRAL_INVOKE_ANSWER, "value": neutral_line(verb, True)}), (
                        scope, verb, args, body)
        private += len(connector.to(f"personal:{factory.user_id}"))
    # one activity per conversation and kind of request, whoever asked and whatever the outcome
    assert len(seen) == 2 * len({neutral_line(v) for v in verbs} | {neutral_line(v, True) for v in card_verbs})
    assert private == len(connector.created)  # every answer went 1:1
    records = await audit_of(secured)
    assert any(r.outcome == "rate_limited" for r in records) and any(r.action == "lift" for r in records)
    assert any(r.action == "lift_refused" and r.outcome == "missing" for r in records)


async def test_an_activity_that_does_not_say_its_conversation_type_is_treated_as_shared(secured, connector):
    """Fail closed: no conversationType (and no isGroup) is not evidence of a personal chat."""
    for conversation in ({"id": "19:unknown"}, {"id": "19:unknown", "isGroup": False},
                         {"id": "19:unknown", "conversationType": "meeting"}):
        activity = staff(connector).personal("check 12 High St")
        activity["conversation"] = {**conversation, "tenantId": TENANT}
        before = len(connector.to("19:unknown"))
        await secured.post(activity)
        assert [s.text for s in connector.to("19:unknown")[before:]] == [messages.RESULT_SENT_PRIVATELY]
        assert "MCR-2026-0001" in json.dumps(connector.to("personal:user-staff")[-1].cards)
    from bot.app import STORE

    assert await secured.app[STORE].get_conversation_ref("user-staff") is None  # not saved as a personal chat


async def test_two_instances_share_a_sliding_check_window_across_the_hour(tmp_path, connector):
    """Two app instances over one store (the SQLite file), one clock: the limit counts the past hour's checks
    whichever instance answered them, across the turn of the clock hour; the administrators are told once."""
    from bot.app import OUTBOX_WORKER, create_app

    now = [datetime(2026, 11, 28, 10, 59, 30, tzinfo=UTC)]
    env = {"REGISTER_DB": str(tmp_path / "shared.db"), "REGISTER_DEMO": "1", "REGISTER_TENANTS": TENANT,
           "REGISTER_ADMINS": ADMIN_AAD, "REGISTER_CHECKS_PER_HOUR": "3"}
    first = await start_bot(create_app(Settings.from_env(env), clock=lambda: now[0]))
    second = await start_bot(create_app(Settings.from_env(env), clock=lambda: now[0]))
    try:
        for running in (first, second):
            await running.post(as_admin(admin(connector).installation()))
        user = staff(connector)
        for running in (first, second, first):
            await running.post(user.personal("check 12 High St"))
        now[0] = datetime(2026, 11, 28, 11, 0, 10, tzinfo=UTC)  # a new clock hour, the same window
        for running in (second, first, second):
            await running.post(user.personal("check 12 High St"))
        for running in (first, second):
            await running.app[OUTBOX_WORKER].deliver_due()
        answers = [json.dumps(s.cards) for s in connector.to("personal-user-staff")]
        assert ["MCR-2026-0001" in a for a in answers] == [True] * 3 + [False] * 3
        assert all(messages.rate_limited(3) in a for a in answers[3:])
        assert [s.text for s in connector.to("personal-user-admin")] == [messages.rate_limit_alert("Sam Staff", 3)]
        now[0] = datetime(2026, 11, 28, 12, 0, 31, tzinfo=UTC)  # the first checks are over an hour old
        await second.post(user.personal("check 12 High St"))
        assert "MCR-2026-0001" in json.dumps(connector.to("personal-user-staff")[-1].cards)
    finally:
        await first.runner.cleanup()
        await second.runner.cleanup()
