"""Flows as data (register/flows.py) and the incident report flow (register/report_flow.py): pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from register.flows import Draft, Field, Flow, Kind, Move, Step, advance, clean, start
from register.report_flow import (
    CONTACT_METHODS,
    DESCRIPTION_MAX,
    REMOTE,
    REPORT,
    SERVICE_AREAS,
    ReportContext,
    prefill,
)
from tests.addresses import flattened, price_paid

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
APPROVERS = {"Housing": [("aad-mgr-1", "Morgan Lee"), ("aad-mgr-2", "Sam Patel")], "Leisure": [("aad-mgr-3", "Jo")]}


def ctx(now: datetime = NOW, approvers: dict | None = None) -> ReportContext:
    table = APPROVERS if approvers is None else approvers
    return ReportContext(now, approvers=lambda area: table.get(area, []))


WHERE = {"address": "12 High Street, Chorley, PR7 1AA", "occurred_on": "2026-12-02", "occurred_time": "10:15",
         "service_area": "Housing", "contact_method": "property"}
WHAT = {"behaviours": "verbal_abuse,threats", "description": "Shouted and threatened to set the dog on me.",
        "injured": "false", "police": "false"}
WHO = {"person_name": "", "recommendation": "formal_warning", "approver": "aad-mgr-1"}
STEPS = {"where": WHERE, "what": WHAT, "who": WHO}


def walk(values_by_step: dict[str, dict[str, str]] | None = None, context: ReportContext | None = None) -> Draft:
    """Through the three input steps with Next; returns the draft on the review step (or wherever it stopped)."""
    context = context or ctx()
    values_by_step = values_by_step or STEPS
    draft = start(REPORT)
    for name in ("where", "what", "who"):
        assert draft.step == name
        moved = advance(REPORT, draft, Move.NEXT, values_by_step[name], context)
        assert moved.problems == {}, (name, moved.problems)
        draft = moved.draft
    return draft


def test_the_happy_path_reaches_the_review_and_submits_once_everything_is_valid():
    draft = walk()
    assert draft.step == "review" and set(draft.done) == {"where", "what", "who"}
    submitted = advance(REPORT, draft, Move.SUBMIT, {}, ctx())
    assert submitted.submitted and submitted.problems == {}
    assert submitted.draft.values["description"] == WHAT["description"]
    assert submitted.draft.version > draft.version


def test_versions_grow_with_every_accepted_move_so_older_cards_are_recognisably_stale():
    draft = start(REPORT)
    versions = [draft.version]
    for name in ("where", "what"):
        draft = advance(REPORT, draft, Move.NEXT, STEPS[name], ctx()).draft
        versions.append(draft.version)
    draft = advance(REPORT, draft, Move.BACK, {}, ctx()).draft
    versions.append(draft.version)
    assert versions == sorted(set(versions))


@pytest.mark.parametrize("step", ["where", "what", "who"])
def test_each_required_field_left_empty_is_named_and_everything_typed_is_kept(step):
    flow_step = REPORT.step(step)
    required = [f.name for f in flow_step.fields if f.required]
    assert required
    for name in required:
        values = {**STEPS[step], name: ""}
        draft = start(REPORT)
        for earlier in ("where", "what", "who"):
            if earlier == step:
                break
            draft = advance(REPORT, draft, Move.NEXT, STEPS[earlier], ctx()).draft
        moved = advance(REPORT, draft, Move.NEXT, values, ctx())
        assert name in moved.problems, name
        assert moved.draft.step == step  # the same card comes back
        for kept, typed in values.items():
            if typed:
                assert moved.draft.values[kept] == typed


def test_a_remote_contact_needs_no_address_but_then_needs_the_name():
    for method in sorted(REMOTE):
        where = {**WHERE, "address": "", "contact_method": method}
        draft = start(REPORT)
        draft = advance(REPORT, draft, Move.NEXT, where, ctx()).draft
        assert draft.step == "what"
        draft = advance(REPORT, draft, Move.NEXT, WHAT, ctx()).draft
        nameless = advance(REPORT, draft, Move.NEXT, WHO, ctx())
        assert "person_name" in nameless.problems
        named = advance(REPORT, draft, Move.NEXT, {**WHO, "person_name": "Karen Pilling"}, ctx())
        assert named.problems == {} and named.draft.step == "review"


def test_a_visit_to_a_property_needs_its_address():
    moved = advance(REPORT, start(REPORT), Move.NEXT, {**WHERE, "address": ""}, ctx())
    assert "address" in moved.problems


@pytest.mark.parametrize("delta, ok", [
    (timedelta(0), True), (timedelta(minutes=5), True), (timedelta(hours=2), False), (timedelta(days=1), False),
    (-timedelta(days=364), True), (-timedelta(days=366), False),
])
def test_the_incident_is_never_in_the_future_and_never_more_than_a_year_ago(delta, ok):
    from register.report_flow import UK

    local = (NOW + delta).astimezone(UK)
    where = {**WHERE, "occurred_on": local.date().isoformat(), "occurred_time": local.strftime("%H:%M")}
    moved = advance(REPORT, start(REPORT), Move.NEXT, where, ctx())
    assert ("occurred_on" not in moved.problems) is ok, moved.problems


@pytest.mark.parametrize("bad", ["02/12/2026", "2026-13-01", "yesterday", "2026-02-30"])
def test_a_date_that_does_not_parse_is_a_problem_not_a_crash(bad):
    moved = advance(REPORT, start(REPORT), Move.NEXT, {**WHERE, "occurred_on": bad}, ctx())
    assert "occurred_on" in moved.problems and moved.draft.values["occurred_on"] == bad


def test_the_description_may_be_4000_characters_and_not_one_more():
    draft = advance(REPORT, start(REPORT), Move.NEXT, WHERE, ctx()).draft
    fits = advance(REPORT, draft, Move.NEXT, {**WHAT, "description": "x" * DESCRIPTION_MAX}, ctx())
    assert fits.problems == {}
    over = advance(REPORT, draft, Move.NEXT, {**WHAT, "description": "x" * (DESCRIPTION_MAX + 1)}, ctx())
    assert "description" in over.problems and len(over.draft.values["description"]) == DESCRIPTION_MAX + 1


def test_police_involvement_needs_the_crime_reference():
    draft = advance(REPORT, start(REPORT), Move.NEXT, WHERE, ctx()).draft
    moved = advance(REPORT, draft, Move.NEXT, {**WHAT, "police": "true"}, ctx())
    assert "crime_reference" in moved.problems
    moved = advance(REPORT, draft, Move.NEXT, {**WHAT, "police": "true", "crime_reference": "LC-20261202-0042"}, ctx())
    assert moved.problems == {}


def test_recommending_a_restriction_needs_one_and_other_needs_describing():
    draft = walk()
    draft = advance(REPORT, draft, Move.EDIT, {}, ctx(), target="who").draft
    none = advance(REPORT, draft, Move.NEXT, {**WHO, "recommendation": "restriction"}, ctx())
    assert "restrictions" in none.problems
    other = advance(REPORT, draft, Move.NEXT, {**WHO, "recommendation": "restriction", "restrictions": "other"}, ctx())
    assert "restriction_other" in other.problems
    fine = advance(REPORT, draft, Move.NEXT, {**WHO, "recommendation": "restriction",
                                              "restrictions": "no_lone_visits,written_contact_only"}, ctx())
    assert fine.problems == {} and fine.draft.step == "review"


def test_the_approver_must_be_one_configured_for_the_service_area():
    draft = walk()
    draft = advance(REPORT, draft, Move.EDIT, {}, ctx(), target="who").draft
    leisure_manager = advance(REPORT, draft, Move.NEXT, {**WHO, "approver": "aad-mgr-3"}, ctx())
    assert "approver" in leisure_manager.problems  # configured for Leisure, not for Housing


def test_submit_validates_again_and_sends_the_user_to_the_step_that_no_longer_holds():
    draft = walk()
    # the approver was removed from the Housing list after the step was accepted
    moved = advance(REPORT, draft, Move.SUBMIT, {}, ctx(approvers={"Housing": [("aad-mgr-2", "Sam Patel")]}))
    assert not moved.submitted and moved.draft.step == "who" and "approver" in moved.problems
    # and a report left a year and a day is no longer in the allowed window
    late = advance(REPORT, draft, Move.SUBMIT, {}, ctx(now=NOW + timedelta(days=366)))
    assert not late.submitted and late.draft.step == "where"


def test_an_edit_from_the_review_comes_back_to_the_review():
    draft = walk()
    draft = advance(REPORT, draft, Move.EDIT, {}, ctx(), target="what").draft
    assert draft.step == "what" and draft.values["description"] == WHAT["description"]
    draft = advance(REPORT, draft, Move.NEXT, {**WHAT, "description": "Corrected."}, ctx()).draft
    assert draft.step == "review" and draft.values["description"] == "Corrected."


def test_back_keeps_what_was_typed_without_judging_it():
    draft = advance(REPORT, start(REPORT), Move.NEXT, WHERE, ctx()).draft
    back = advance(REPORT, draft, Move.BACK, {"description": "half a sentence", "behaviours": "nonsense"}, ctx())
    assert back.problems == {} and back.draft.step == "where"
    assert back.draft.values["description"] == "half a sentence"


def test_a_forged_card_cannot_write_fields_of_another_step():
    draft = start(REPORT)
    moved = advance(REPORT, draft, Move.NEXT, {**WHERE, "approver": "aad-attacker", "description": "forged"}, ctx())
    assert "approver" not in moved.draft.values and "description" not in moved.draft.values


def test_an_unknown_edit_target_changes_nothing():
    draft = walk()
    moved = advance(REPORT, draft, Move.EDIT, {}, ctx(), target="nowhere")
    assert moved.problems and moved.draft == draft


def test_a_new_report_starts_now_in_uk_time_with_the_address_it_came_from():
    summer = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July in London (BST)
    values = prefill(summer, "12 High St")
    assert values == {"occurred_on": "2026-07-02", "occurred_time": "00:30", "address": "12 High St"}
    draft = start(REPORT, {**values, "not_a_field": "x"})
    assert "not_a_field" not in draft.values and draft.values["address"] == "12 High St"


def test_every_service_area_and_contact_method_is_accepted():
    for area in SERVICE_AREAS:
        for method in CONTACT_METHODS:
            moved = advance(REPORT, start(REPORT), Move.NEXT,
                            {**WHERE, "service_area": area, "contact_method": method.value}, ctx())
            assert moved.problems == {}, (area, method, moved.problems)


# -- postcodes: the real data's postcodes are accepted; mangled ones are named --------------------------------


def _real_addresses() -> list[str]:
    rows = [f"{r['text']}, {r['postcode']}" for r in flattened()]
    rows += [f"{r['paon']} {r['street']}, {r['town_city']} {r['postcode']}" for r in price_paid() if r.get("postcode")]
    return rows


def test_every_real_address_with_its_postcode_is_accepted():
    wrong = []
    for text in _real_addresses():
        moved = advance(REPORT, start(REPORT), Move.NEXT, {**WHERE, "address": text}, ctx())
        if "address" in moved.problems:
            wrong.append((text, moved.problems["address"]))
    assert wrong == []


def test_a_postcode_with_letters_and_digits_in_the_wrong_places_is_named():
    named = 0
    for row in flattened()[:300]:
        outward, inward = row["postcode"].split()
        mangled = f"{outward} {inward[1:]}{inward[0]}"  # '1AA' -> 'AA1': never a valid inward code
        moved = advance(REPORT, start(REPORT), Move.NEXT, {**WHERE, "address": f"{row['text']}, {mangled}"}, ctx())
        named += "address" in moved.problems
    assert named == 300


# -- the engine, generatively ----------------------------------------------------------------------------------

TEXT = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(step=st.sampled_from(["where", "what", "who", "review"]), move=st.sampled_from(list(Move)),
       inputs=st.dictionaries(st.sampled_from([f.name for f in REPORT.fields] + ["x", ""]),
                              st.one_of(TEXT, st.booleans(), st.none(), st.integers(), st.lists(TEXT, max_size=2))),
       target=TEXT)
def test_advance_never_raises_and_keeps_every_non_empty_value_of_the_shown_step(step, move, inputs, target):
    draft = Draft("report", step, {"description": "earlier"}, version=3)
    moved = advance(REPORT, draft, move, inputs, ctx(), target=target)
    shown = {f.name for f in REPORT.step(step).fields}
    for name, value in inputs.items():
        if name in shown and clean(value):
            assert moved.draft.values[name] == clean(value)
    assert moved.draft.version >= draft.version
    assert not moved.submitted or (move is Move.SUBMIT and not moved.problems)
    assert Draft.from_dict(moved.draft.to_dict()) == moved.draft


def test_a_flow_declaration_is_checked_when_it_is_made():
    with pytest.raises(ValueError, match="unique"):
        Flow("f", (Step("a", "A"), Step("a", "A")))
    with pytest.raises(ValueError, match="unique"):
        Flow("f", (Step("a", "A", (Field("x", "X"),)), Step("b", "B", (Field("x", "X"),)), Step("r", "R")))
    with pytest.raises(ValueError, match="review"):
        Flow("f", (Step("a", "A", (Field("x", "X", Kind.TEXT),)),))
