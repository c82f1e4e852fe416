"""The incident report flow over real HTTP: the aiohttp app on loopback, Execute invokes and Submit messages in,
the cards it answered with (or sent to the local connector) out, the store behind it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings
from cards import messages, verbs
from register.approvers import APPROVERS_SETTING, ApproverTable
from register.model import IncidentStatus, Outcome
from register.permissions import ROLES_SETTING
from tests.teams import start_bot
from tests.test_cards import walk

MANAGER = "aad-user-id-mgr"  # the Entra object id ActivityFactory gives user "user-id-mgr"
# date and time stay as the card pre-fills them (now): a fixed time could be in the future when the tests run
WHERE = {"address": "7 Mill Lane, Chorley, PR7 3QQ", "service_area": "Housing", "contact_method": "property"}
WHAT = {"behaviours": "verbal_abuse", "description": "Swore at me and told me never to come back.",
        "injured": "false", "police": "false"}
WHO = {"recommendation": "informal_warning", "approver": MANAGER}


async def reported(store, teams) -> list:
    """The incidents this test's user reported (the demo register has incidents of its own)."""
    return [i for i in await store.list_incidents() if i.reporter and i.reporter.user_id == teams.user_id]


async def configure(store) -> None:
    roles = await store.get_setting(ROLES_SETTING)
    users = dict((roles.value if roles else {}).get("users") or {})
    await store.put_setting(ROLES_SETTING, {"users": {**users, MANAGER: "approver"}}, roles.etag if roles else None)
    table = ApproverTable().add("Housing", MANAGER, "Morgan Lee")
    current = await store.get_setting(APPROVERS_SETTING)
    await store.put_setting(APPROVERS_SETTING, table.to_dict(), current.etag if current else None)


@pytest.fixture
async def configured(bot, store, register):
    await configure(store)
    await register.refresh()
    return bot


def invoke_card(body: Any) -> dict[str, Any]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
    return body["value"]


def button(card: dict[str, Any], verb: str, **match: str) -> dict[str, Any]:
    for node in walk(card):
        if node.get("type") == "Action.Execute" and node["verb"] == verb and all(
                node["data"].get(k) == v for k, v in match.items()):
            return node["data"]
    raise AssertionError(f"no {verb} button on the card: {json.dumps(card)[:400]}")


def step_of(card: dict[str, Any]) -> str:
    ids = {n.get("id") for n in walk(card)}
    for step, field in (("where", "address"), ("what", "description"), ("who", "recommendation")):
        if field in ids:
            return step
    return "review" if any(n.get("verb") == verbs.REPORT_SUBMIT for n in walk(card)) else "other"


async def click(bot, teams, card: dict[str, Any], verb: str, inputs: dict[str, str] | None = None,
                **match: str) -> dict[str, Any]:
    status, body = await bot.post(teams.execute(verb, {**button(card, verb, **match), **(inputs or {})}))
    assert status == 200
    return invoke_card(body)


async def start_report(bot, teams, connector, text: str = "report") -> dict[str, Any]:
    await bot.post(teams.personal(text))
    return connector.sent[-1].cards[0]


async def walk_to_review(bot, teams, card):
    for step, values in (("where", WHERE), ("what", WHAT), ("who", WHO)):
        assert step_of(card) == step, json.dumps(card)[:300]
        card = await click(bot, teams, card, verbs.REPORT_NEXT, values)
    assert step_of(card) == "review"
    return card


async def test_report_from_the_personal_chat_to_a_pending_check(configured, connector, teams, store, register):
    card = await start_report(configured, teams, connector, "report 7 Mill Lane, Chorley")
    inputs = {n["id"]: n for n in walk(card) if n.get("type", "").startswith("Input.")}
    assert inputs["address"]["value"] == "7 Mill Lane, Chorley"
    review = await walk_to_review(configured, teams, card)
    done = await click(configured, teams, review, verbs.REPORT_SUBMIT)
    text = json.dumps(done)
    assert "INC-2026-" in text or "INC-" in text
    [incident] = await reported(store, teams)
    assert incident.status is IncidentStatus.PENDING and incident.approver_id == MANAGER
    assert incident.narrative == WHAT["description"] and incident.reporter.user_id == teams.user_id
    assert incident.ref in text and "Morgan Lee" in text
    # the next check at that property is `pending`, naming the manager
    await configured.post(teams.personal("check 7 Mill Lane PR7 3QQ"))
    result = connector.sent[-1].cards[0]
    assert messages.PENDING_TITLE in json.dumps(result) and "Morgan Lee" in json.dumps(result)
    assert [r.outcome for r in await store.list_audit() if r.action == "check"][-1] == Outcome.PENDING.value
    assert [r.action for r in await store.list_audit(ref=incident.ref)] == ["report", "check"]


async def test_a_problem_comes_back_on_the_same_card_with_everything_typed(configured, connector, teams):
    card = await start_report(configured, teams, connector)
    typed = {**WHERE, "contact_method": "", "occurred_on": "2001-01-01"}
    again = await click(configured, teams, card, verbs.REPORT_NEXT, typed)
    assert step_of(again) == "where"
    values = {n["id"]: n.get("value") for n in walk(again) if n.get("type", "").startswith("Input.")}
    assert values["address"] == WHERE["address"] and values["occurred_on"] == "2001-01-01"
    problems = [n["text"] for n in walk(again) if n.get("type") == "TextBlock" and n.get("color") == "attention"]
    assert any("how the contact happened" in p for p in problems) and any("more than a year" in p for p in problems)


async def test_the_submit_form_of_a_button_works_too(configured, connector, teams):
    card = await start_report(configured, teams, connector)
    data = {**button(card, verbs.REPORT_NEXT), **WHERE}
    await configured.post(teams.submit(data))
    assert step_of(connector.sent[-1].cards[0]) == "what"


async def test_a_double_submit_and_concurrent_submits_make_one_incident(configured, connector, teams, store):
    review = await walk_to_review(configured, teams, await start_report(configured, teams, connector))
    data = button(review, verbs.REPORT_SUBMIT)
    results = await asyncio.gather(*(configured.post(teams.execute(verbs.REPORT_SUBMIT, data)) for _ in range(4)))
    assert all(status == 200 for status, _ in results)
    [incident] = await reported(store, teams)
    texts = [json.dumps(body) for _, body in results]
    assert all(incident.ref in t for t in texts)  # every answer names the one reference
    status, body = await configured.post(teams.execute(verbs.REPORT_SUBMIT, data))  # a stale card, much later
    assert incident.ref in json.dumps(body) and "already submitted" in json.dumps(body)


async def test_a_stale_card_changes_nothing_and_shows_the_saved_state(configured, connector, teams):
    card = await start_report(configured, teams, connector)
    await click(configured, teams, card, verbs.REPORT_NEXT, WHERE)
    stale = await click(configured, teams, card, verbs.REPORT_NEXT, {**WHERE, "address": "1 Elsewhere Road"})
    assert messages.REPORT_STALE in json.dumps(stale) and step_of(stale) == "what"


async def test_report_again_offers_to_continue_or_start_again(configured, connector, teams):
    card = await start_report(configured, teams, connector)
    await click(configured, teams, card, verbs.REPORT_NEXT, WHERE)
    offer = await start_report(configured, teams, connector)
    assert {n["verb"] for n in walk(offer) if n.get("type") == "Action.Execute"} == {
        verbs.REPORT_CONTINUE, verbs.REPORT_START}
    resumed = await click(configured, teams, offer, verbs.REPORT_CONTINUE)
    assert step_of(resumed) == "what"
    fresh = await click(configured, teams, offer, verbs.REPORT_START)
    assert step_of(fresh) == "where"
    values = {n["id"]: n.get("value") for n in walk(fresh) if n.get("type", "").startswith("Input.")}
    assert not values.get("address")


async def test_a_restart_loses_nothing_and_a_second_instance_continues(configured, connector, teams, bot_env):
    card = await start_report(configured, teams, connector)
    what = await click(configured, teams, card, verbs.REPORT_NEXT, WHERE)
    second = await start_bot(create_app(Settings.from_env(bot_env)))  # another instance over the same store
    try:
        who = await click(second, teams, what, verbs.REPORT_NEXT, WHAT)
        assert step_of(who) == "who"
        review = await click(second, teams, who, verbs.REPORT_NEXT, WHO)
        done = await click(configured, teams, review, verbs.REPORT_SUBMIT)  # and back on the first
        assert "INC-" in json.dumps(done)
    finally:
        await second.runner.cleanup()


async def test_report_in_a_group_chat_goes_to_the_personal_chat(configured, connector, teams):
    activity = teams.mention("report 7 Mill Lane")
    await configured.post(activity)
    group = connector.to(activity["conversation"]["id"])
    assert [s.text for s in group] == [messages.REPORT_SENT_PRIVATELY]
    assert "Mill Lane" not in json.dumps([s.body for s in group])
    [created] = connector.created
    assert created["members"] == [{"id": teams.user_id}]
    private = [s for s in connector.sent if s.conversation_id != activity["conversation"]["id"]]
    assert private and step_of(private[-1].cards[0]) == "where"


async def test_my_reports_lists_the_reporters_reports(configured, connector, teams, store):
    await configured.post(teams.personal("my reports"))
    assert messages.MY_REPORTS_NONE in json.dumps(connector.sent[-1].cards[0])
    review = await walk_to_review(configured, teams, await start_report(configured, teams, connector))
    await click(configured, teams, review, verbs.REPORT_SUBMIT)
    [incident] = await reported(store, teams)
    await configured.post(teams.personal("My Reports"))
    listed = json.dumps(connector.sent[-1].cards[0])
    assert incident.ref in listed and "awaiting a decision" in listed and WHAT["description"] not in listed


async def test_nothing_personal_in_info_logs(configured, connector, teams, caplog):
    caplog.set_level("INFO")
    review = await walk_to_review(configured, teams, await start_report(configured, teams, connector))
    await click(configured, teams, review, verbs.REPORT_SUBMIT)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= 20)
    for secret in ("Mill Lane", "Swore at me", "PR7 3QQ"):
        assert secret not in logged


async def test_report_an_incident_here_from_a_check_card(configured, connector, teams):
    await configured.post(teams.personal("check 99 Nowhere Road, Chorley"))
    check_card = connector.sent[-1].cards[0]
    [data] = [n["data"] for n in walk(check_card) if n.get("type") == "Action.Submit"
              and n["data"].get("verb") == verbs.REPORT_START]
    await configured.post(teams.submit(data))
    card = connector.sent[-1].cards[0]
    assert step_of(card) == "where"
    values = {n["id"]: n.get("value") for n in walk(card) if n.get("type", "").startswith("Input.")}
    assert values["address"] == "99 Nowhere Road, Chorley"


@pytest.mark.parametrize("step, broken, field", [
    ("where", {**WHERE, "service_area": ""}, "Please choose your service area"),
    ("what", {**WHAT, "description": ""}, "Please describe what happened"),
    ("who", {**WHO, "approver": ""}, "Please choose who should decide"),
])
async def test_a_problem_at_each_step_comes_back_with_everything_typed(configured, connector, teams, step, broken,
                                                                        field):
    card = await start_report(configured, teams, connector)
    for name, values in (("where", WHERE), ("what", WHAT), ("who", WHO)):
        if name == step:
            break
        card = await click(configured, teams, card, verbs.REPORT_NEXT, values)
    again = await click(configured, teams, card, verbs.REPORT_NEXT, broken)
    assert step_of(again) == step and field in json.dumps(again)
    kept = {n["id"]: n.get("value") for n in walk(again) if n.get("type", "").startswith("Input.")}
    for name, value in broken.items():
        if value and kept.get(name) is not None and name not in ("injured", "police"):
            assert kept[name] == value, name
