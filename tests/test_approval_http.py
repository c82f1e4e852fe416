"""Approvals over real HTTP: a submitted report reaches its approver's personal chat through the durable outbox,
the approver decides from the card, every copy of the card is updated, the reporter is told, and the register
changes; everyone who may not decide is refused and nothing changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.app import OUTBOX_WORKER, STORE, create_app
from bot.settings import Settings
from cards import messages, verbs
from register.model import Actor, IncidentStatus, Outcome
from register.permissions import Role
from tests.teams import ActivityFactory, start_bot
from tests.test_cards import walk
from tests.test_report_http import MANAGER, WHAT, click, configure, reported, start_report, walk_to_review

MANAGER_USER = MANAGER.removeprefix("aad-")  # ActivityFactory makes the Entra object id "aad-" + the user id
ADMIN_USER = "user-id-admin"


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def bot_env(request, tmp_path):
    """Every test here runs twice: on the embedded store and on the Cosmos DB wire server (a fresh database)."""
    common = {"REGISTER_DEMO": "1", "REGISTER_REFRESH_SECONDS": "0.2", "REGISTER_ADMINS": f"aad-{ADMIN_USER}"}
    if request.param == "sqlite":
        return {"REGISTER_DB": str(tmp_path / "register.db"), **common}
    from storage.cosmos_admin import init
    from tests.cosmos_server import unique_database

    env = {**request.getfixturevalue("cosmos_env"), "COSMOS_DATABASE": unique_database()}
    asyncio.run(init(env))
    return {**env, **common}


@pytest.fixture
async def ready(bot, store, register, connector):
    await configure(store)
    await register.refresh()
    return bot


def as_user(connector, user: str, name: str = "Morgan Lee") -> ActivityFactory:
    return ActivityFactory(connector.url, user_id=user, user_name=name)


async def drain(bot) -> None:
    """Let the outbox deliver what the last request queued (it runs in the background)."""
    await bot.app[OUTBOX_WORKER].deliver_due()


async def submit_report(bot, connector, teams) -> str:
    review = await walk_to_review(bot, teams, await start_report(bot, teams, connector))
    await click(bot, teams, review, verbs.REPORT_SUBMIT)
    [incident] = await reported(bot.app[STORE], teams)
    return incident.ref


def cards_to(connector, user: str) -> list[dict[str, Any]]:
    return [c for s in connector.sent if s.conversation_id == f"personal-{user}" for c in s.cards]


def texts_to(connector, user: str) -> list[str]:
    return [s.text for s in connector.sent if s.conversation_id == f"personal-{user}" and s.text]


async def execute(bot, factory: ActivityFactory, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    status, body = await bot.post(factory.execute(verb, data))
    assert status == 200, body
    return body


RESTRICT = {"decision": "restriction", "restrictions": "no_lone_visits", "guidance": "Do not visit alone.",
            "reason": "You threatened an officer.", "notify": "true"}


async def test_the_approver_gets_the_card_decides_and_everyone_sees_the_outcome(ready, connector, teams):
    manager = as_user(connector, MANAGER_USER)
    await ready.post(manager.installation())  # the approver has the app: the bot can reach them
    ref = await submit_report(ready, connector, teams)
    await drain(ready)
    [card] = [c for c in cards_to(connector, MANAGER_USER) if ref in json.dumps(c)]
    assert WHAT["description"] in json.dumps(card)  # the approver sees the account
    decide = next(n for n in walk(card) if n.get("type") == "Action.Execute" and n["verb"] == verbs.APPROVAL_DECIDE)
    body = await execute(ready, manager, verbs.APPROVAL_DECIDE, {**decide["data"], **RESTRICT})
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Decided" in json.dumps(body["value"]) and WHAT["description"] not in json.dumps(body["value"])
    await drain(ready)
    # the card sent to the approver was updated in place
    updates = [s for s in connector.sent if s.method == "PUT" and s.conversation_id == f"personal-{MANAGER_USER}"]
    assert updates and "Decided" in json.dumps(updates[-1].cards[0])
    # the reporter was told, without the letter's wording
    told = texts_to(connector, teams.user_id)
    assert any(ref in t and "restrictions now apply" in t for t in told), told
    assert not any(RESTRICT["reason"] in t for t in told)
    # and a check there now alerts, with the chosen restriction
    await ready.post(teams.personal("check 7 Mill Lane PR7 3QQ"))
    alert = json.dumps(connector.sent[-1].cards[0])
    assert "Do not visit alone" in alert and "MCR-" in alert
    incident = (await ready.app[STORE].get_incident(ref)).value
    assert incident.status is IncidentStatus.DECIDED and incident.decision.by.user_id == MANAGER_USER


@pytest.mark.parametrize("who", ["staff", "reporter_as_admin", "other_approver"])
async def test_anyone_but_the_chosen_approver_or_an_administrator_is_refused(ready, connector, teams, register,
                                                                            who):
    ref = await submit_report(ready, connector, teams)
    if who == "reporter_as_admin":  # separation of duties holds even for an administrator
        await register.set_role(f"aad-{teams.user_id}", Role.ADMINISTRATOR, Actor("cli:test"))
    factory = {"staff": as_user(connector, "user-id-staff", "Sid"), "reporter_as_admin": teams,
               "other_approver": as_user(connector, "user-id-other", "Sam")}[who]
    body = await execute(ready, factory, verbs.APPROVAL_DECIDE, {"incident": ref, **RESTRICT})
    text = json.dumps(body)
    assert "Decided" not in text and WHAT["description"] not in text
    assert (await ready.app[STORE].get_incident(ref)).value.status is IncidentStatus.PENDING
    refusals = [r for r in await ready.app[STORE].list_audit(ref=ref) if r.action == "decision_refused"]
    assert refusals


async def test_an_approver_the_bot_cannot_reach_is_reported_to_the_administrators_and_listed(ready, connector,
                                                                                            teams):
    admin = as_user(connector, ADMIN_USER, "Ada Admin")
    await ready.post(admin.installation())
    ref = await submit_report(ready, connector, teams)  # the approver never opened the bot
    await drain(ready)
    assert any(ref in t for t in texts_to(connector, ADMIN_USER))
    await ready.post(admin.personal("pending"))
    listing = connector.sent[-1].cards[0]
    assert ref in json.dumps(listing) and WHAT["description"] not in json.dumps(listing)
    opened = await execute(ready, admin, verbs.APPROVAL_OPEN, {"incident": ref})
    assert WHAT["description"] in json.dumps(opened["value"])
    # staff may not list pending reports
    await ready.post(teams.personal("pending"))
    assert ref not in json.dumps(connector.sent[-1].body)


async def test_refresh_shows_the_deciders_view_only_to_those_who_may_decide(ready, connector, teams):
    ref = await submit_report(ready, connector, teams)
    manager = as_user(connector, MANAGER_USER)
    own = await execute(ready, manager, verbs.APPROVAL_REFRESH, {"incident": ref})
    assert WHAT["description"] in json.dumps(own["value"])
    other = await execute(ready, as_user(connector, "user-id-staff", "Sid"), verbs.APPROVAL_REFRESH,
                          {"incident": ref})
    assert WHAT["description"] not in json.dumps(other["value"]) and ref in json.dumps(other["value"])
    reporter = await execute(ready, teams, verbs.APPROVAL_REFRESH, {"incident": ref})
    assert WHAT["description"] not in json.dumps(reporter["value"])


async def test_a_problem_keeps_the_typed_decision_and_changes_nothing(ready, connector, teams):
    ref = await submit_report(ready, connector, teams)
    manager = as_user(connector, MANAGER_USER)
    body = await execute(ready, manager, verbs.APPROVAL_DECIDE,
                         {"incident": ref, **RESTRICT, "guidance": "", "reason": "Kept reason."})
    card = body["value"]
    values = {n["id"]: n.get("value") for n in walk(card) if n.get("id")}
    assert values["reason"] == "Kept reason." and "guidance" in values
    assert (await ready.app[STORE].get_incident(ref)).value.status is IncidentStatus.PENDING


async def test_a_double_click_and_two_instances_at_once_make_one_decision(ready, connector, teams, bot_env):
    ref = await submit_report(ready, connector, teams)
    manager = as_user(connector, MANAGER_USER)
    second = await start_bot(create_app(Settings.from_env(bot_env)))
    try:
        results = await asyncio.gather(*(
            (ready if n % 2 else second).post(manager.execute(verbs.APPROVAL_DECIDE, {"incident": ref, **RESTRICT}))
            for n in range(4)))
    finally:
        await second.runner.cleanup()
    assert all(status == 200 and "Decided" in json.dumps(body) for status, body in results)
    entries = [e for e in await ready.app[STORE].list_entries() if ref in e.incident_refs]
    assert len(entries) == 1
    decisions = [r for r in await ready.app[STORE].list_audit(ref=ref) if r.action == "decision"]
    assert len(decisions) == 1


async def test_reject_with_a_reason_closes_the_report_and_the_pending_notice(ready, connector, teams, register):
    ref = await submit_report(ready, connector, teams)
    manager = as_user(connector, MANAGER_USER)
    assert register.index.lookup("7 Mill Lane PR7 3QQ").outcome is Outcome.PENDING
    body = await execute(ready, manager, verbs.APPROVAL_REJECT, {"incident": ref, "reject_reason": "Not ours."})
    assert "Report rejected" in json.dumps(body["value"])
    assert register.index.lookup("7 Mill Lane PR7 3QQ").outcome is Outcome.NONE


async def test_ask_the_reporter_and_the_answer_returns_to_the_card(ready, connector, teams):
    manager = as_user(connector, MANAGER_USER)
    await ready.post(manager.installation())
    ref = await submit_report(ready, connector, teams)
    await drain(ready)
    body = await execute(ready, manager, verbs.APPROVAL_ASK, {"incident": ref, "question": "Was anyone with you?"})
    assert messages.APPROVAL_QUESTION_SENT in json.dumps(body["value"])
    await drain(ready)
    [question_card] = [c for c in cards_to(connector, teams.user_id) if "Was anyone with you?" in json.dumps(c)]
    answer = next(n for n in walk(question_card) if n.get("type") == "Action.Execute")
    await execute(ready, teams, answer["verb"], {**answer["data"], "answer": "No, I was alone."})
    await drain(ready)
    updated = [s for s in connector.sent if s.method == "PUT" and s.conversation_id == f"personal-{MANAGER_USER}"]
    assert updated and "No, I was alone." in json.dumps(updated[-1].cards[0])
    incident = (await ready.app[STORE].get_incident(ref)).value
    assert incident.questions[-1]["answer"] == "No, I was alone." and incident.status is IncidentStatus.PENDING

