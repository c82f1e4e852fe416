"""The reporting use case over a real store: drafts saved at every step, resume anywhere, submit exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from register.approvers import APPROVERS_SETTING, Approver, ApproverTable
from register.flows import Move
from register.model import Actor, IncidentStatus, Outcome
from register.permissions import ROLES_SETTING
from register.reporting import (
    DRAFT,
    AlreadySubmitted,
    NoDraft,
    Progress,
    Reporting,
    Resumable,
    Stale,
    Submitted,
)
from register.service import Register
from storage.cosmos import CosmosStore
from storage.sqlite import SQLiteStore

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
REPORTER = Actor("29:reporter", "aad-reporter", "Riley Field")
MANAGER = "aad-mgr-1"

WHERE = {"address": "12 High Street, Chorley, PR7 1AA", "occurred_on": "2026-12-02", "occurred_time": "10:15",
         "service_area": "Housing", "contact_method": "property"}
WHAT = {"behaviours": "verbal_abuse,threats", "description": "Shouted and threatened me at the door.",
        "injured": "false", "police": "false"}
WHO = {"recommendation": "formal_warning", "approver": MANAGER}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def configure(store) -> None:
    table = ApproverTable().add("Housing", MANAGER, "Morgan Lee").add("Housing", "aad-reporter", "Riley Field")
    await store.put_setting(APPROVERS_SETTING, table.to_dict(), None)
    await store.put_setting(ROLES_SETTING, {"users": {MANAGER: "approver", "aad-reporter": "approver"}}, None)


async def make_register(store, clock: Clock) -> Register:
    store.clock = clock
    register = Register(store, clock)
    await register.refresh()
    return register


@pytest.fixture
async def sqlite_store(tmp_path):
    store = await SQLiteStore.open(tmp_path / "register.db")
    await configure(store)
    yield store
    await store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def reporting(sqlite_store, clock) -> Reporting:
    return Reporting(await make_register(sqlite_store, clock))


async def through(reporting: Reporting, progress: Progress, steps=(WHERE, WHAT, WHO)) -> Progress:
    for values in steps:
        moved = await reporting.move(REPORTER, progress.draft_id, progress.draft.version, Move.NEXT, values)
        assert isinstance(moved, Progress) and moved.problems == {}, moved
        progress = moved
    return progress


async def test_a_report_from_start_to_pending_check(reporting: Reporting):
    started = await reporting.begin(REPORTER, "12 High St")
    assert isinstance(started, Progress) and started.draft.values["address"] == "12 High St"
    review = await through(reporting, started)
    assert review.draft.step == "review"
    done = await reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
    assert isinstance(done, Submitted)
    incident = done.incident
    assert incident.ref == "INC-2026-000001" and incident.status is IncidentStatus.PENDING
    assert incident.reporter == REPORTER and incident.approver_id == MANAGER
    assert incident.manager_contact == "Morgan Lee"
    assert incident.narrative == WHAT["description"] and incident.behaviours == ["verbal_abuse", "threats"]
    stored = await reporting.store.get_incident(incident.ref)
    assert stored is not None and stored.value == incident
    # a check at that property now says a report awaits a decision, and whom to contact
    result = reporting.register.index.lookup("12 High Street PR7 1AA")
    assert result.outcome is Outcome.PENDING
    trail = await reporting.store.list_audit(ref=incident.ref)
    assert [(r.action, r.outcome, r.actor.user_id) for r in trail] == [("report", "submitted", REPORTER.user_id)]
    assert await reporting.store.get_document(DRAFT, REPORTER.user_id, "report") is None


async def test_the_reporter_is_never_offered_as_the_approver_of_their_own_report(reporting: Reporting):
    started = await reporting.begin(REPORTER)
    choices = started.context.choices("approvers", {"service_area": "Housing"})
    assert [c.value for c in choices] == [MANAGER]
    progress = await through(reporting, started, (WHERE, WHAT))
    own = await reporting.move(REPORTER, progress.draft_id, progress.draft.version, Move.NEXT,
                               {**WHO, "approver": "aad-reporter"})
    assert isinstance(own, Progress) and "approver" in own.problems


async def test_an_approver_without_the_approver_role_is_not_offered(reporting: Reporting, sqlite_store):
    current = await sqlite_store.get_setting(ROLES_SETTING)
    await sqlite_store.put_setting(ROLES_SETTING, {"users": {}}, current.etag)
    await reporting.register.refresh()
    started = await reporting.begin(REPORTER)
    assert started.context.choices("approvers", {"service_area": "Housing"}) == ()


async def test_every_step_is_saved_so_a_new_instance_continues_where_the_user_was(sqlite_store, clock, tmp_path):
    first = Reporting(await make_register(sqlite_store, clock))
    progress = await through(first, await first.begin(REPORTER), (WHERE, WHAT))
    # another process over the same file (a restart, or a second instance)
    other_store = await SQLiteStore.open(tmp_path / "register.db")
    try:
        second = Reporting(await make_register(other_store, clock))
        resumed = await second.resume(REPORTER)
        assert isinstance(resumed, Progress) and resumed.draft == progress.draft and resumed.resumed
        again = await second.begin(REPORTER)
        assert isinstance(again, Resumable) and again.progress.draft == progress.draft
        review = await through(second, resumed, (WHO,))
        done = await second.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
        assert isinstance(done, Submitted) and done.incident.narrative == WHAT["description"]
    finally:
        await other_store.close()


async def test_a_validation_problem_saves_what_was_typed(reporting: Reporting):
    started = await reporting.begin(REPORTER)
    typed = {**WHERE, "contact_method": "", "address": "Flat 2, 40 Market St"}
    moved = await reporting.move(REPORTER, started.draft_id, started.draft.version, Move.NEXT, typed)
    assert isinstance(moved, Progress) and set(moved.problems) == {"contact_method"}
    resumed = await reporting.resume(REPORTER)
    assert resumed.draft.values["address"] == "Flat 2, 40 Market St"


async def test_a_card_clicked_twice_is_stale_and_changes_nothing(reporting: Reporting):
    started = await reporting.begin(REPORTER)
    first = await reporting.move(REPORTER, started.draft_id, started.draft.version, Move.NEXT, WHERE)
    second = await reporting.move(REPORTER, started.draft_id, started.draft.version, Move.NEXT,
                                  {**WHERE, "address": "99 Other Road"})
    assert isinstance(second, Stale) and second.progress.draft == first.draft
    assert (await reporting.resume(REPORTER)).draft.values["address"] == WHERE["address"]


async def test_submit_twice_and_at_once_makes_one_incident(reporting: Reporting):
    review = await through(reporting, await reporting.begin(REPORTER))
    results = await asyncio.gather(*(
        reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {}) for _ in range(5)))
    submitted = [r for r in results if isinstance(r, Submitted)]
    assert len(submitted) == 1
    ref = submitted[0].incident.ref
    assert all(r == AlreadySubmitted(ref) for r in results if not isinstance(r, Submitted))
    later = await reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
    assert later == AlreadySubmitted(ref)
    assert [i.ref for i in await reporting.store.list_incidents()] == [ref]
    assert len([r for r in await reporting.store.list_audit(ref=ref) if r.action == "report"]) == 1


async def test_a_crash_between_the_claim_and_the_incident_is_completed_by_the_retry(reporting: Reporting):
    review = await through(reporting, await reporting.begin(REPORTER))
    real = reporting.register.add_incident

    async def crash(incident):
        raise ConnectionError("the process died here")

    reporting.register.add_incident = crash
    with pytest.raises(ConnectionError):
        await reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
    assert await reporting.store.list_incidents() == []
    reporting.register.add_incident = real
    done = await reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
    assert isinstance(done, Submitted) and done.incident.ref == "INC-2026-000001"


async def test_start_again_abandons_the_draft_and_an_old_card_says_so(reporting: Reporting):
    old = await through(reporting, await reporting.begin(REPORTER), (WHERE,))
    fresh = await reporting.begin(REPORTER, fresh=True)
    assert isinstance(fresh, Progress) and fresh.draft_id != old.draft_id and fresh.draft.step == "where"
    clicked = await reporting.move(REPORTER, old.draft_id, old.draft.version, Move.NEXT, WHAT)
    assert isinstance(clicked, Stale) and clicked.progress.draft_id == fresh.draft_id


async def test_a_draft_expires_after_14_days(reporting: Reporting, clock: Clock):
    started = await reporting.begin(REPORTER)
    clock.now = NOW + timedelta(days=14, minutes=1)
    assert isinstance(await reporting.resume(REPORTER), NoDraft)
    clicked = await reporting.move(REPORTER, started.draft_id, started.draft.version, Move.NEXT, WHERE)
    assert isinstance(clicked, NoDraft)


async def test_my_reports_lists_only_mine_newest_first(reporting: Reporting, clock: Clock):
    refs = []
    for minutes in (0, 5):
        clock.now = NOW + timedelta(minutes=minutes)
        review = await through(reporting, await reporting.begin(REPORTER, fresh=True))
        done = await reporting.move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
        refs.append(done.incident.ref)
    assert [i.ref for i in await reporting.mine(REPORTER)] == refs[::-1]
    assert await reporting.mine(Actor("29:someone-else")) == []


@pytest.mark.cosmos
async def test_two_instances_submitting_the_same_click_make_one_incident(fresh_cosmos_env, clock):
    a, b = await CosmosStore.from_env(fresh_cosmos_env), await CosmosStore.from_env(fresh_cosmos_env)
    try:
        await configure(a)
        one, two = Reporting(await make_register(a, clock)), Reporting(await make_register(b, clock))
        review = await through(one, await one.begin(REPORTER))
        # the draft was saved through instance one; instance two continues it
        resumed = await two.resume(REPORTER)
        assert resumed.draft == review.draft
        results = await asyncio.gather(*(
            (one if n % 2 else two).move(REPORTER, review.draft_id, review.draft.version, Move.SUBMIT, {})
            for n in range(6)))
        submitted = [r for r in results if isinstance(r, Submitted)]
        assert len(submitted) == 1
        assert len(await a.list_incidents()) == 1
    finally:
        await a.close()
        await b.close()


def test_the_approver_table_adds_removes_and_survives_a_damaged_document():
    table = ApproverTable().add("Housing", "AAD-1", " Morgan Lee ").add("Housing", "aad-2").add("Leisure", "aad-1")
    assert [a.object_id for a in table.for_area("Housing")] == ["aad-1", "aad-2"]
    assert table.find("AAD-1").name == "Morgan Lee" and table.for_area("Housing")[1].title == "aad-2"
    again = ApproverTable.from_dict(table.to_dict())
    assert again == table
    assert table.add("Housing", "aad-1", "M. Lee").for_area("Housing")[-1].name == "M. Lee"  # re-adding renames
    emptied = table.remove("Leisure", "aad-1")
    assert "Leisure" not in emptied.areas and emptied.for_area("Housing") == table.for_area("Housing")
    damaged = {"areas": {"Housing": "not a list", "Waste and Recycling": [{"name": "no id"}, 7, {"id": "AAD-9"}]}}
    assert ApproverTable.from_dict(damaged).areas == {"Waste and Recycling": (Approver("aad-9", ""),)}
    assert ApproverTable.from_dict(None).areas == {}


async def test_the_accepted_address_is_read_back_with_what_the_register_holds_there(reporting: Reporting):
    from register.demo import demo_entries

    flagged = next(e for e in demo_entries(NOW.date()) if e.address is not None and e.status.value == "active")
    reporting.register.index.put_entry(flagged)
    started = await reporting.begin(REPORTER)
    typed = {**WHERE, "address": flagged.address.text or flagged.address.display()}
    moved = await reporting.move(REPORTER, started.draft_id, started.draft.version, Move.NEXT, typed)
    assert isinstance(moved, Progress) and moved.draft.step == "what"
    assert moved.known_here == (flagged.ref,)
    assert moved.address_read and moved.address_read.upper().startswith(flagged.address.paon)
    looked = [r for r in await reporting.store.list_audit() if r.action == "report_lookup"]
    assert [(r.outcome, r.refs) for r in looked] == [("alert", (flagged.ref,))]
