"""An entry's life over real HTTP and the command line: the review reminder reaches the owning approver, who
extends, amends or lifts from the card; entries lapse at their review date; `entry`, `notified`, `reviews run`."""

from __future__ import annotations

import json
from datetime import date, timedelta

from bot.app import OUTBOX_WORKER
from cards import messages, verbs
from register.address import parse_address
from register.model import Actor, Entry, Restriction, Status, Subject
from register.outbox import Outbox
from register.permissions import Role
from register.reviews import Reviews
from tests.teams import ActivityFactory
from tests.test_cards import walk
from tests.test_cli import run

OWNER_USER = "user-id-owner"
ADDRESS = "7 Mill Lane, Chorley, PR7 3QQ"


def entry(review_in_days: int, today: date) -> Entry:
    return Entry(ref="MCR-2026-0300", subject=Subject.PROPERTY, status=Status.ACTIVE, address=parse_address(ADDRESS),
                 restrictions=[Restriction.NO_LONE_VISITS], guidance="Do not visit alone.",
                 decided_on=today - timedelta(days=170), review_on=today + timedelta(days=review_in_days),
                 expires_on=today + timedelta(days=190), owner_id=f"aad-{OWNER_USER}")


async def test_the_owner_reviews_from_the_reminder_card(bot, connector, register, store):
    owner = ActivityFactory(connector.url, user_id=OWNER_USER, user_name="Morgan Lee")
    await register.set_role(f"aad-{OWNER_USER}", Role.APPROVER,
                            Actor("cli:test"))
    await bot.post(owner.installation())
    await register.import_entries([entry(10, register.today())], Actor("cli:test"))
    done = await Reviews(register, Outbox(store, register.clock)).run(Actor("system:test"))
    assert done.reminded == ["MCR-2026-0300"]
    await bot.app[OUTBOX_WORKER].deliver_due()
    [card] = [c for s in connector.sent if s.conversation_id == f"personal-{OWNER_USER}" for c in s.cards]
    assert "MCR-2026-0300" in json.dumps(card) and "Review due" in json.dumps(card)
    save = next(n for n in walk(card) if n.get("type") == "Action.Execute")
    # a problem first: no reason
    status, body = await bot.post(owner.execute(save["verb"], {**save["data"], "action": "extend"}))
    assert "Please give the reason" in json.dumps(body["value"])
    status, body = await bot.post(owner.execute(save["verb"], {**save["data"], "action": "lift",
                                                               "reason": "Moved away."}))
    assert "lifted" in json.dumps(body["value"]).lower()
    assert (await store.get_entry("MCR-2026-0300")).value.status is Status.LIFTED
    # someone else may not review it
    other = ActivityFactory(connector.url, user_id="user-id-other", user_name="Sid")
    status, body = await bot.post(other.execute(verbs.REVIEW_DECIDE, {"entry": "MCR-2026-0300", "action": "lift",
                                                                     "reason": "x"}))
    assert messages.REVIEW_REFUSAL["not_active"] in json.dumps(body) or \
        messages.REVIEW_REFUSAL["not_allowed"] in json.dumps(body)


async def test_entry_and_notified_for_approvers_only(bot, connector, teams, register, store):
    await register.import_entries([entry(30, register.today())], Actor("cli:test"))
    approver = ActivityFactory(connector.url, user_id=OWNER_USER, user_name="Morgan Lee")
    await register.set_role(f"aad-{OWNER_USER}", Role.APPROVER,
                            Actor("cli:test"))
    await bot.post(teams.personal("entry MCR-2026-0300"))
    assert messages.NOT_ALLOWED in json.dumps(connector.sent[-1].cards)
    await bot.post(approver.personal("entry MCR-2026-0300"))
    shown = json.dumps(connector.sent[-1].cards)
    assert "MCR-2026-0300" in shown and "No lone visits" in shown
    await bot.post(approver.personal(f"notified MCR-2026-0300 {register.today().isoformat()}"))
    assert "was told in writing" in json.dumps(connector.sent[-1].cards)
    assert (await store.get_entry("MCR-2026-0300")).value.notified_on == register.today()
    await bot.post(approver.personal("notified MCR-2026-0300 tomorrow"))
    assert messages.NOTIFIED_NEEDS in json.dumps(connector.sent[-1].cards)
    audit = [r.action for r in await store.list_audit(ref="MCR-2026-0300")]
    assert "entry_view" in audit and "notified" in audit


def test_reviews_run_from_the_command_line_expires_what_is_past_its_review(tmp_path):
    import asyncio

    from storage.sqlite import SQLiteStore

    db = tmp_path / "register.db"

    async def seed() -> None:
        store = await SQLiteStore.open(db)
        try:
            await store.create_entry(entry(-1, date.today()))
        finally:
            await store.close()

    asyncio.run(seed())
    out = run(db, "reviews", "run")
    assert out.returncode == 0, out.stderr
    assert "expired: MCR-2026-0300" in out.stdout
    again = run(db, "reviews", "run")
    assert "0 reminder(s), 0 expired" in again.stdout
    check = run(db, "check", "--json", ADDRESS)
    assert json.loads(check.stdout)["outcome"] == "none"




async def test_an_appeal_goes_to_another_approver_and_the_original_one_is_refused(bot, connector, register, store):
    from register.approvers import APPROVERS_SETTING, ApproverTable

    admin = Actor("cli:test")
    other = ActivityFactory(connector.url, user_id="user-id-second", user_name="Sam Patel")
    owner = ActivityFactory(connector.url, user_id=OWNER_USER, user_name="Morgan Lee")
    for user in (OWNER_USER, "user-id-second", "user-id-admin"):
        role = Role.ADMINISTRATOR if user == "user-id-admin" else Role.APPROVER
        await register.set_role(f"aad-{user}", role, admin)
    table = ApproverTable().add("Housing", f"aad-{OWNER_USER}", "Morgan Lee").add("Housing", "aad-user-id-second",
                                                                                  "Sam Patel")
    current = await store.get_setting(APPROVERS_SETTING)
    await store.put_setting(APPROVERS_SETTING, table.to_dict(), current.etag if current else None)
    await register.import_entries([entry(60, register.today())], admin)
    for factory in (other, owner):
        await bot.post(factory.installation())
    administrator = ActivityFactory(connector.url, user_id="user-id-admin", user_name="Ada Admin")
    await bot.post(administrator.personal("appeal MCR-2026-0300 not-a-date grounds"))
    assert messages.APPEAL_NEEDS in json.dumps(connector.sent[-1].cards)
    await bot.post(administrator.personal(
        f"appeal MCR-2026-0300 {register.today().isoformat()} I need to pay my rent at the office"))
    assert "Sam Patel" in json.dumps(connector.sent[-1].cards)
    await bot.app[OUTBOX_WORKER].deliver_due()
    [card] = [c for s in connector.sent if s.conversation_id == "personal-user-id-second" for c in s.cards]
    assert "pay my rent" in json.dumps(card)
    decide = next(n for n in walk(card) if n.get("type") == "Action.Execute")
    status, body = await bot.post(owner.execute(decide["verb"], {**decide["data"], "action": "lift",
                                                                "reason": "I decided it, I'll lift it."}))
    assert messages.APPEAL_REFUSAL["original_decider"] in json.dumps(body)
    assert (await store.get_entry("MCR-2026-0300")).value.status is Status.ACTIVE
    status, body = await bot.post(other.execute(decide["verb"], {**decide["data"], "action": "uphold",
                                                                "reason": "Payments can be made by phone."}))
    assert "Reviewed" in json.dumps(body["value"])
    history = [h["event"] for h in (await store.get_entry("MCR-2026-0300")).value.history]
    assert history == ["appeal received", "appeal upheld"]
    actions = [r.action for r in await store.list_audit(ref="MCR-2026-0300")]
    assert "appeal" in actions and "appeal_refused" in actions and "appeal_decision" in actions
