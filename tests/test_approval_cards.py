"""The approval card's three views and the pending list: schema 1.5, size, renderer at desktop and phone width,
the account shown only in the decider's view, the inputs pre-filled, the buttons routed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from cards import verbs
from cards.approval import decided_card, decider_card, pending_list_card, read_only_card
from cards.elements import TEAMS_MAX_CARD_BYTES, card_size
from register.address import parse_address
from register.approvals import add_months
from register.model import Actor, Decision, DecisionKind, Entry, Incident, Restriction, Status, Subject
from tests.cardcheck.samples import HOSTILE_QUERY
from tests.test_cards import schema_validator, walk

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
TODAY = NOW.date()
NARRATIVE = "He shouted, threatened to set the dog on me and followed me to the van."


def incident(**kw) -> Incident:
    values = dict(ref="INC-2026-000123", address=parse_address("7 Mill Lane, Chorley, PR7 3QQ"),
                  reported_at=NOW, reporter=Actor("29:r", "aad-r", "Riley Field"), occurred_at=NOW,
                  service_area="Housing", contact_method="property", behaviours=["threats", "animal"],
                  narrative=NARRATIVE, police=True, crime_reference="LC-1", person_name="Gary Hollins",
                  recommendation="restriction", recommended_restrictions=["no_lone_visits"],
                  approver_id="aad-mgr", approver_name="Morgan Lee")
    values.update(kw)
    return Incident(**values)


ENTRY = Entry(ref="MCR-2026-0040", subject=Subject.PROPERTY, status=Status.ACTIVE, address=incident().address,
              restrictions=[Restriction.PHONE_LIMITS], decided_on=TODAY, review_on=TODAY + timedelta(days=90))
WARNED = incident(ref="INC-2026-000050", reported_at=NOW - timedelta(days=60),
                  decision=Decision(DecisionKind.FORMAL_WARNING, Actor("29:m", "aad-mgr", "Morgan Lee"),
                                    NOW - timedelta(days=59), reason="Stop."))
DECIDED = incident(decision=Decision(DecisionKind.RESTRICTION, Actor("29:m", "aad-mgr", "Morgan Lee"), NOW,
                                     reason="r", restrictions=("no_lone_visits",), guidance="g",
                                     review_on=TODAY, entry_ref="MCR-2026-0041"))

CARDS = {
    "decider": decider_card(incident(), [ENTRY], [WARNED], TODAY, refresh_users=["29:m", "29:admin"]),
    "decider_problems": decider_card(incident(), [], [], TODAY, problems={"reason": "Please give the reason."},
                                     values={"decision": "formal_warning", "guidance": "Be careful."}),
    "decider_hostile": decider_card(incident(narrative=HOSTILE_QUERY * 30, person_name=HOSTILE_QUERY[:90],
                                             witnesses=HOSTILE_QUERY), [], [], TODAY),
    "read_only": read_only_card(incident(), refresh_users=["29:m"]),
    "decided": decided_card(DECIDED),
    "pending_list": pending_list_card([incident(), WARNED]),
    "pending_none": pending_list_card([]),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_valid_small_and_every_button_routed(name):
    card = CARDS[name]
    assert [e.message for e in schema_validator().iter_errors(card)] == []
    assert card_size(card) < TEAMS_MAX_CARD_BYTES * 0.9
    for node in walk(card):
        if node.get("type") == "Action.Execute":
            assert node["verb"] in verbs.CARD_VERBS and node["data"]["incident"].startswith("INC-")


def test_only_the_deciders_view_shows_the_account():
    assert NARRATIVE in json.dumps(CARDS["decider"])
    for name in ("read_only", "decided", "pending_list"):
        text = json.dumps(CARDS[name])
        assert NARRATIVE not in text and "Gary Hollins" not in text, name


def test_the_deciders_view_prefills_the_recommendation_and_the_review_date():
    inputs = {n["id"]: n for n in walk(CARDS["decider"]) if n.get("type", "").startswith("Input.")}
    assert inputs["decision"]["value"] == "restriction"
    assert inputs["restrictions"]["value"] == "phone_limits,no_lone_visits"  # the entry's and the recommended
    assert inputs["review_on"]["value"] == inputs["review_on"]["max"] == add_months(TODAY, 6).isoformat()
    assert [a["verb"] for a in CARDS["decider"]["actions"]] == [
        verbs.APPROVAL_DECIDE, verbs.APPROVAL_REJECT, verbs.APPROVAL_ASK]
    text = json.dumps(CARDS["decider"])
    assert "MCR-2026-0040" in text and "INC-2026-000050" in text and "Formal warning" in text


def test_the_card_asks_teams_for_user_specific_views():
    refresh = CARDS["decider"]["refresh"]
    assert refresh["userIds"] == ["29:m", "29:admin"] and refresh["action"]["verb"] == verbs.APPROVAL_REFRESH
    assert "refresh" not in CARDS["decided"]


def test_problems_sit_beside_their_fields_and_the_typed_values_stay():
    body = CARDS["decider_problems"]["body"]
    ids = [n.get("id") for n in body]
    i = ids.index("reason")
    assert body[i + 1]["color"] == "attention"
    values = {n["id"]: n.get("value") for n in body if n.get("id")}
    assert values["decision"] == "formal_warning" and values["guidance"] == "Be careful."


def test_hostile_text_stays_text():
    for node in walk(CARDS["decider_hostile"]):
        if node.get("type") == "TextBlock":
            assert "[click here](" not in node["text"] and "<script>" not in node["text"]




@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(CARDS))
def test_renders_with_no_warnings(name, card_browser):
    report = card_browser.check(CARDS[name])
    assert report.errors == [] and report.rendered
    assert not report.overflows, report.clipped
    assert report.anchors == 0


@pytest.mark.browser
def test_screenshot_of_the_approval_card(card_browser, tmp_path):
    import os
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "approval" \
        if os.environ.get("REPORT_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("decider", "decided"):
        report = card_browser.screenshot(CARDS[name], folder / f"{name}-{card_browser.width}.png")
        assert report.errors == []


def test_dates_use_the_uk_form():
    assert "2 December 2026" in json.dumps(CARDS["decided"])
    assert date(2026, 12, 2) == TODAY
