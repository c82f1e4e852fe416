"""Reviews, expiry and lifting (register/reviews.py) over real stores: each reminder sent once across instances,
entries lapse at their review date in every instance, only the owner or an administrator reviews."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from register.address import parse_address
from register.approvals import add_months
from register.model import Actor, Entry, Outcome, Restriction, Status, Subject
from register.outbox import Outbox
from register.permissions import ROLES_SETTING
from register.reviews import REMINDER_DAYS, NotReviewed, Reviewed, Reviews, next_run
from register.service import Register
from storage.cosmos import CosmosStore
from storage.sqlite import SQLiteStore

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
OWNER = Actor("29:owner", "aad-owner", "Morgan Lee")
OTHER = Actor("29:other", "aad-other", "Sam Patel")
ADMIN = Actor("29:admin", "aad-admin", "Ada Admin")
SYSTEM = Actor("system:scheduler", name="scheduler")
ADDRESS = "7 Mill Lane, Chorley, PR7 3QQ"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def entry(review_in_days: int, ref: str = "MCR-2026-0100") -> Entry:
    today = NOW.date()
    return Entry(ref=ref, subject=Subject.PROPERTY, status=Status.ACTIVE, address=parse_address(ADDRESS),
                 restrictions=[Restriction.NO_LONE_VISITS], guidance="Do not visit alone.",
                 decided_on=today - timedelta(days=170), review_on=today + timedelta(days=review_in_days),
                 expires_on=today + timedelta(days=190), owner_id="aad-owner")


async def make(store, clock: Clock) -> tuple[Register, Reviews, Outbox]:
    store.clock = clock
    if await store.get_setting(ROLES_SETTING) is None:  # the second instance finds the first one's
        await store.put_setting(ROLES_SETTING, {"users": {"aad-owner": "approver", "aad-other": "approver"}}, None)
    register = Register(store, clock, bootstrap_admins=["aad-admin"])
    await register.refresh()
    outbox = Outbox(store, clock)
    return register, Reviews(register, outbox), outbox


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def setup(tmp_path, clock):
    store = await SQLiteStore.open(tmp_path / "register.db")
    yield await make(store, clock)
    await store.close()


async def test_the_owner_is_reminded_once_fourteen_days_before_the_review(setup, clock):
    register, reviews, outbox = setup
    await register.import_entries([entry(REMINDER_DAYS + 1)], ADMIN)
    assert (await reviews.run(SYSTEM)).reminded == []
    clock.now += timedelta(days=1)
    assert (await reviews.run(SYSTEM)).reminded == ["MCR-2026-0100"]
    assert (await reviews.run(SYSTEM)).reminded == []  # once
    [message] = [s.value.body for s in await outbox.due()]
    assert message["to"] == "aad-owner" and message["kind"] == "card"


async def test_an_unreviewed_entry_expires_at_its_review_date_and_the_administrators_are_told(setup, clock):
    register, reviews, outbox = setup
    await register.import_entries([entry(3)], ADMIN)
    assert register.index.lookup(ADDRESS).outcome is Outcome.ALERT
    clock.now += timedelta(days=4)
    done = await reviews.run(SYSTEM)
    assert done.expired == ["MCR-2026-0100"] and done.overdue == ["MCR-2026-0100"]
    stored = (await register.store.get_entry("MCR-2026-0100")).value
    assert stored.status is Status.EXPIRED and stored.history[-1]["event"] == "expired"
    assert register.index.lookup(ADDRESS).outcome is Outcome.NONE
    told = [s.value.body for s in await outbox.due() if s.value.body["kind"] == "text"]
    assert [(m["to"], m["template"], m["subject"]) for m in told] == [("aad-admin", "overdue", "MCR-2026-0100")]
    again = await reviews.run(SYSTEM)
    assert again.expired == [] and again.overdue == []


async def test_extend_amend_and_lift_by_the_owner_with_a_reason(setup, clock):
    register, reviews, _ = setup
    today = NOW.date()
    await register.import_entries([entry(10)], ADMIN)
    assert await reviews.review("MCR-2026-0100", OWNER, {"action": "extend"}) == NotReviewed(
        "invalid", {"reason": "Please give the reason for the review's outcome."})
    late = await reviews.review("MCR-2026-0100", OWNER, {"action": "extend", "reason": "Still shouting.",
                                                          "review_on": (add_months(today, 6) + timedelta(days=1))
                                                          .isoformat()})
    assert isinstance(late, NotReviewed) and "review_on" in late.problems
    extended = await reviews.review("MCR-2026-0100", OWNER, {"action": "extend", "reason": "Still shouting."})
    assert isinstance(extended, Reviewed)
    assert extended.entry.review_on == add_months(today, 6) and extended.entry.expires_on == add_months(today, 12)
    amended = await reviews.review("MCR-2026-0100", ADMIN, {"action": "amend", "reason": "Calmer now.",
                                                             "restrictions": "written_contact_only"})
    assert amended.entry.restrictions == [Restriction.WRITTEN_CONTACT_ONLY]
    lifted = await reviews.review("MCR-2026-0100", OWNER, {"action": "lift", "reason": "Moved away."})
    assert lifted.entry.status is Status.LIFTED
    assert [h["event"] for h in lifted.entry.history] == ["extended", "amended", "lifted"]
    assert register.index.lookup(ADDRESS).outcome is Outcome.NONE
    actions = [(r.action, r.outcome) for r in await register.store.list_audit(ref="MCR-2026-0100")
               if r.action.startswith("review")]
    assert actions == [("review_refused", "invalid"), ("review_refused", "invalid"), ("review", "extend"),
                       ("review", "amend"), ("review", "lift")]


async def test_only_the_owner_or_an_administrator_reviews(setup):
    register, reviews, _ = setup
    await register.import_entries([entry(10)], ADMIN)
    refused = await reviews.review("MCR-2026-0100", OTHER, {"action": "lift", "reason": "x"})
    assert refused == NotReviewed("not_allowed")
    assert (await register.store.get_entry("MCR-2026-0100")).value.status is Status.ACTIVE


def test_the_scheduler_runs_at_the_configured_hour():
    assert next_run(datetime(2026, 12, 2, 5, 0, tzinfo=UTC), 6) == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    assert next_run(datetime(2026, 12, 2, 6, 0, tzinfo=UTC), 6) == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


@pytest.mark.cosmos
async def test_two_instances_send_each_reminder_once_and_expire_once(fresh_cosmos_env, clock):
    a, b = await CosmosStore.from_env(fresh_cosmos_env), await CosmosStore.from_env(fresh_cosmos_env)
    try:
        ra, one, outbox = await make(a, clock)
        _, two, _ = await make(b, clock)
        await ra.import_entries([entry(REMINDER_DAYS - 1), entry(-1, ref="MCR-2026-0101")], ADMIN)
        for instance in (one, two):
            await instance.register.refresh()
        first, second = await asyncio.gather(one.run(SYSTEM), two.run(SYSTEM))
        assert sorted(first.reminded + second.reminded) == ["MCR-2026-0100"]
        assert sorted(first.expired + second.expired) == ["MCR-2026-0101"]
        kinds = sorted(s.value.body["kind"] for s in await outbox.due())
        assert kinds == ["card", "text"]  # one reminder, one overdue notice (one administrator)
    finally:
        await a.close()
        await b.close()


