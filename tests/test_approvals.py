"""Deciding on incidents (register/approvals.py) over a real store: who may decide, exactly once, and what a
decision does to the register."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from register.address import parse_address
from register.approvals import (
    AlreadyDecided,
    Approvals,
    Decided,
    Invalid,
    Refused,
    add_months,
)
from register.model import (
    Actor,
    Address,
    DecisionKind,
    Entry,
    Incident,
    IncidentStatus,
    Outcome,
    Restriction,
    Status,
    Subject,
)
from register.permissions import ROLES_SETTING
from register.service import Register
from storage.cosmos import CosmosStore
from storage.sqlite import SQLiteStore

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
TODAY = NOW.date()
REPORTER = Actor("29:reporter", "aad-reporter", "Riley Field")
APPROVER = Actor("29:approver", "aad-approver", "Morgan Lee")
OTHER_APPROVER = Actor("29:other", "aad-other", "Sam Patel")
ADMIN = Actor("29:admin", "aad-admin", "Ada Admin")
STAFF = Actor("29:staff", "aad-staff", "Sid Staff")
MILL_LANE = "7 Mill Lane, Chorley, PR7 3QQ"

RESTRICT = {"decision": "restriction", "restrictions": "no_lone_visits,written_contact_only",
            "guidance": "Do not visit alone. Write first.", "reason": "You shouted at and threatened an officer.",
            "notify": "true"}


def incident(ref: str = "INC-2026-000001", **kw) -> Incident:
    values = dict(ref=ref, address=parse_address(MILL_LANE), reported_at=NOW - timedelta(hours=2),
                  manager_contact="Morgan Lee", reporter=REPORTER, service_area="Housing",
                  contact_method="property", behaviours=["threats"], narrative="Threatened me.",
                  recommendation="restriction", recommended_restrictions=["no_lone_visits"],
                  approver_id=APPROVER.aad_object_id, approver_name="Morgan Lee")
    values.update(kw)
    return Incident(**values)


async def setup(store) -> Approvals:
    await store.put_setting(ROLES_SETTING, {"users": {
        "aad-approver": "approver", "aad-other": "approver", "aad-admin": "administrator",
        "aad-reporter": "administrator"}}, None)
    register = Register(store, lambda: NOW)
    await register.refresh()
    await register.add_incident(incident())
    return Approvals(register)


@pytest.fixture
async def approvals(tmp_path):
    store = await SQLiteStore.open(tmp_path / "register.db")
    yield await setup(store)
    await store.close()


def outcome_at(approvals: Approvals, query: str = MILL_LANE) -> Outcome:
    return approvals.register.index.lookup(query).outcome


async def test_a_restriction_creates_a_live_entry_and_the_check_alerts_with_it(approvals: Approvals):
    assert outcome_at(approvals) is Outcome.PENDING
    result = await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    assert isinstance(result, Decided) and not result.amended
    entry = result.entry
    assert entry.status is Status.ACTIVE and entry.subject is Subject.PROPERTY
    assert entry.restrictions == [Restriction.NO_LONE_VISITS, Restriction.WRITTEN_CONTACT_ONLY]
    assert entry.guidance == RESTRICT["guidance"] and entry.incident_refs == ["INC-2026-000001"]
    assert entry.decided_on == TODAY and entry.review_on == add_months(TODAY, 6)
    assert entry.expires_on == add_months(TODAY, 12) and entry.owner_id == "aad-approver"
    assert [h["event"] for h in entry.history] == ["created"]
    found = approvals.register.index.lookup(MILL_LANE)
    assert found.outcome is Outcome.ALERT and [m.ref for m in found.matches] == [entry.ref]
    stored = await approvals.store.get_incident("INC-2026-000001")
    assert stored.value.status is IncidentStatus.DECIDED
    assert stored.value.decision.kind is DecisionKind.RESTRICTION and stored.value.decision.entry_ref == entry.ref
    trail = await approvals.store.list_audit(ref="INC-2026-000001")
    assert [(r.action, r.outcome, r.actor.user_id) for r in trail][-1] == ("decision", "restriction",
                                                                         APPROVER.user_id)


@pytest.mark.parametrize("kind", ["informal_warning", "formal_warning", "no_action"])
async def test_a_warning_or_no_action_makes_no_alert_and_ends_the_pending_notice(approvals: Approvals, kind):
    result = await approvals.decide("INC-2026-000001", APPROVER, {"decision": kind, "reason": "Please be civil."})
    assert isinstance(result, Decided) and result.entry is None
    assert result.incident.status is IncidentStatus.DECIDED and result.incident.decision.kind.value == kind
    assert outcome_at(approvals) is Outcome.NONE
    assert await approvals.store.list_entries() == []


async def test_reject_needs_a_reason_and_closes_the_report(approvals: Approvals):
    missing = await approvals.decide("INC-2026-000001", APPROVER, {}, reject=True)
    assert isinstance(missing, Invalid) and "reject_reason" in missing.problems
    done = await approvals.decide("INC-2026-000001", APPROVER, {"reject_reason": "Not a customer matter."},
                                  reject=True)
    assert isinstance(done, Decided) and done.incident.status is IncidentStatus.REJECTED
    assert outcome_at(approvals) is Outcome.NONE


@pytest.mark.parametrize("review_on, ok", [
    ("", True), (add_months(TODAY, 6).isoformat(), True), ((add_months(TODAY, 6) + timedelta(days=1)).isoformat(),
                                                            False),
    (TODAY.isoformat(), False), ("next spring", False), ((TODAY + timedelta(days=30)).isoformat(), True)])
async def test_the_review_date_is_at_most_six_months_after_the_decision(approvals: Approvals, review_on, ok):
    result = await approvals.decide("INC-2026-000001", APPROVER, {**RESTRICT, "review_on": review_on})
    assert isinstance(result, Decided) is ok, result
    if not ok:
        assert "review_on" in result.problems
        assert (await approvals.store.get_incident("INC-2026-000001")).value.status is IncidentStatus.PENDING


@pytest.mark.parametrize("form, field", [
    ({**RESTRICT, "restrictions": ""}, "restrictions"), ({**RESTRICT, "restrictions": "curfew"}, "restrictions"),
    ({**RESTRICT, "restrictions": "other"}, "restriction_other"), ({**RESTRICT, "guidance": ""}, "guidance"),
    ({**RESTRICT, "reason": ""}, "reason"), ({**RESTRICT, "notify": "false"}, "withheld_reason"),
    ({"decision": "banish"}, "decision"), ({"decision": "rejected"}, "decision"), ({}, "decision")])
async def test_a_form_with_a_problem_changes_nothing_and_names_the_field(approvals: Approvals, form, field):
    result = await approvals.decide("INC-2026-000001", APPROVER, form)
    assert isinstance(result, Invalid) and field in result.problems
    assert (await approvals.store.get_incident("INC-2026-000001")).value.decision is None


@pytest.mark.parametrize("actor, reason", [
    (REPORTER, "own_report"), (STAFF, "not_assigned"), (OTHER_APPROVER, "not_assigned")])
async def test_only_the_chosen_approver_or_an_administrator_decides_and_never_the_reporter(
        approvals: Approvals, actor, reason):
    # the reporter holds the administrator role in this register: still refused (separation of duties)
    result = await approvals.decide("INC-2026-000001", actor, RESTRICT)
    assert result == Refused(reason)
    assert (await approvals.store.get_incident("INC-2026-000001")).value.status is IncidentStatus.PENDING
    [refusal] = [r for r in await approvals.store.list_audit() if r.action == "decision_refused"]
    assert refusal.outcome == reason and refusal.actor.user_id == actor.user_id


async def test_an_administrator_may_decide(approvals: Approvals):
    assert isinstance(await approvals.decide("INC-2026-000001", ADMIN, RESTRICT), Decided)


async def test_a_chosen_approver_who_lost_the_role_is_refused(approvals: Approvals):
    await approvals.register.set_role("aad-approver", None, ADMIN)
    assert await approvals.decide("INC-2026-000001", APPROVER, RESTRICT) == Refused("not_approver")


async def test_a_second_click_and_concurrent_decisions_make_one_decision(approvals: Approvals):
    results = await asyncio.gather(
        approvals.decide("INC-2026-000001", APPROVER, RESTRICT),
        approvals.decide("INC-2026-000001", ADMIN, {"decision": "informal_warning", "reason": "Be civil."}),
        approvals.decide("INC-2026-000001", APPROVER, RESTRICT))
    decided = [r for r in results if isinstance(r, Decided)]
    assert len(decided) == 1
    losers = [r for r in results if not isinstance(r, Decided)]
    assert all(isinstance(r, AlreadyDecided) and r.incident.decision == decided[0].incident.decision
               for r in losers)
    assert len(await approvals.store.list_entries()) == (1 if decided[0].entry else 0)
    again = await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    assert isinstance(again, AlreadyDecided) and again.incident.decision.by == decided[0].incident.decision.by


async def test_a_restriction_at_a_flagged_property_amends_its_entry(approvals: Approvals):
    existing = Entry(ref="MCR-2026-0040", subject=Subject.PROPERTY, status=Status.ACTIVE,
                     address=parse_address(MILL_LANE), restrictions=[Restriction.PHONE_LIMITS], guidance="Old.",
                     decided_on=TODAY - timedelta(days=30), review_on=TODAY + timedelta(days=60),
                     expires_on=TODAY + timedelta(days=300), incident_refs=["INC-2026-0009"])
    await approvals.register.import_entries([existing], ADMIN)
    result = await approvals.decide("INC-2026-000001", APPROVER,
                                    {**RESTRICT, "restrictions": "phone_limits,no_lone_visits"})
    assert isinstance(result, Decided) and result.amended and result.entry.ref == "MCR-2026-0040"
    entry = (await approvals.store.get_entry("MCR-2026-0040")).value
    assert entry.restrictions == [Restriction.PHONE_LIMITS, Restriction.NO_LONE_VISITS]
    assert entry.incident_refs == ["INC-2026-0009", "INC-2026-000001"] and entry.guidance == RESTRICT["guidance"]
    assert [h["event"] for h in entry.history] == ["amended"]
    assert len(await approvals.store.list_entries()) == 1


async def test_a_crash_between_the_decision_and_the_entry_is_completed_by_the_next_attempt(approvals: Approvals):
    real = approvals.complete

    async def crash(incident):
        raise ConnectionError("the process died here")

    approvals.complete = crash
    with pytest.raises(ConnectionError):
        await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    assert await approvals.store.list_entries() == []
    approvals.complete = real
    again = await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    assert isinstance(again, AlreadyDecided)
    [entry] = await approvals.store.list_entries()
    assert entry.ref == again.incident.decision.entry_ref and outcome_at(approvals) is Outcome.ALERT


async def test_a_new_entry_number_skips_references_an_import_already_used(approvals: Approvals):
    imported = Entry(ref=f"MCR-{TODAY.year}-0001", subject=Subject.PERSON, status=Status.ACTIVE,
                     person_name="Someone Else", decided_on=TODAY, review_on=TODAY + timedelta(days=10))
    await approvals.register.import_entries([imported], ADMIN)
    result = await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    assert result.entry.ref == f"MCR-{TODAY.year}-0002"


async def test_related_shows_other_incidents_and_entries_there(approvals: Approvals):
    await approvals.register.add_incident(incident("INC-2026-000002", reported_at=NOW - timedelta(days=40)))
    await approvals.decide("INC-2026-000002", APPROVER, {"decision": "formal_warning", "reason": "Stop."})
    entries, others = await approvals.related((await approvals.store.get_incident("INC-2026-000001")).value)
    assert entries == [] and [i.ref for i in others] == ["INC-2026-000002"]
    assert others[0].decision.kind is DecisionKind.FORMAL_WARNING


async def test_an_import_keeps_what_the_spreadsheet_format_has_no_column_for(approvals: Approvals):
    result = await approvals.decide("INC-2026-000001", APPROVER, RESTRICT)
    plain = replace(result.entry, owner_id="", history=[], notified_on=None, notification_withheld="")
    await approvals.register.import_entries([plain], ADMIN)
    kept = (await approvals.store.get_entry(result.entry.ref)).value
    assert kept.owner_id == "aad-approver" and kept.history == result.entry.history


@pytest.mark.parametrize("day, months, expected", [
    (date(2026, 8, 31), 6, date(2027, 2, 28)), (date(2027, 8, 31), 6, date(2028, 2, 29)),
    (date(2026, 12, 2), 6, date(2027, 6, 2)), (date(2026, 7, 15), 12, date(2027, 7, 15)),
    (date(2026, 1, 31), 1, date(2026, 2, 28))])
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.cosmos
async def test_two_instances_deciding_at_once_make_one_decision(fresh_cosmos_env):
    a, b = await CosmosStore.from_env(fresh_cosmos_env), await CosmosStore.from_env(fresh_cosmos_env)
    try:
        one = await setup(a)
        two_register = Register(b, lambda: NOW)
        await two_register.refresh()
        two = Approvals(two_register)
        results = await asyncio.gather(*(
            (one if n % 2 else two).decide("INC-2026-000001", APPROVER if n % 2 else ADMIN, RESTRICT)
            for n in range(6)))
        assert len([r for r in results if isinstance(r, Decided)]) == 1
        assert len(await a.list_entries()) == 1
    finally:
        await a.close()
        await b.close()


def test_an_incident_round_trips_with_its_decision():
    from register.model import Decision

    decided = incident(decision=Decision(DecisionKind.RESTRICTION, APPROVER, NOW, reason="r",
                                         restrictions=("no_lone_visits",), guidance="g",
                                         review_on=TODAY, notify=False, withheld_reason="risk", entry_ref="MCR-1"),
                       questions=[{"question": "Was anyone else there?", "answer": "No"}])
    assert Incident.from_dict(decided.to_dict()) == decided
    assert Address.from_dict(decided.to_dict()["address"]) == decided.address
