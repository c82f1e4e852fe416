"""The incident report cards: schema 1.5, size, phone-width rendering in the official renderer with no warnings,
buttons that carry the draft's id and version, problems beside their fields, and hostile text kept inert.
Screenshots of each step go to docs/screenshots/report/ (REPORT_SCREENSHOTS=1 rewrites them)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cards import verbs
from cards.elements import TEAMS_MAX_CARD_BYTES, card_size
from cards.report import (
    already_submitted_card,
    no_draft_card,
    resume_card,
    review_card,
    step_card,
    submitted_card,
)
from register.flows import Draft, Move, advance, start
from register.model import Actor, Address, Incident
from register.report_flow import DESCRIPTION_MAX, REPORT, ReportContext, prefill
from tests.cardcheck.samples import HOSTILE_QUERY
from tests.test_cards import schema_validator, walk

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
CTX = ReportContext(NOW, approvers=lambda area: [("aad-mgr-1", "Morgan Lee"), ("aad-mgr-2", "Sam Patel")])
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "report"

WHERE = {"address": "12 High Street, Chorley, PR7 1AA", "occurred_on": "2026-12-02", "occurred_time": "10:15",
         "service_area": "Housing", "contact_method": "property"}
WHAT = {"behaviours": "verbal_abuse,threats", "description": "Shouted and threatened me at the door.",
        "injured": "false", "police": "true", "crime_reference": "LC-20261202-0042", "witnesses": "A neighbour"}
WHO = {"person_name": "John Smith", "recommendation": "restriction", "restrictions": "no_lone_visits",
       "approver": "aad-mgr-1"}


def at(step: str, values: dict[str, str] | None = None) -> Draft:
    return Draft("report", step, values or {**WHERE, **WHAT, **WHO}, version=4)


def sample_cards() -> dict[str, dict[str, Any]]:
    fresh = start(REPORT, prefill(NOW, "12 High St"))
    problems = advance(REPORT, fresh, Move.NEXT, {**WHERE, "contact_method": "", "occurred_on": "2027-01-01",
                                                  "address": "12 High St, PR7 AA1"}, CTX)
    hostile = {k: HOSTILE_QUERY[:200] for k in ("address", "witnesses", "person_name", "other_names")}
    hostile["description"] = (HOSTILE_QUERY * 20)[:DESCRIPTION_MAX]
    incident = Incident(ref="INC-2026-000123", address=Address(text="12 High Street"), reported_at=NOW,
                        approver_name="Morgan Lee", reporter=Actor("29:u"))
    return {
        "step_where": step_card(fresh, "d1", CTX),
        "step_where_problems": step_card(problems.draft, "d1", CTX, problems.problems),
        "step_what": step_card(at("what"), "d1", CTX),
        "step_who": step_card(at("who"), "d1", CTX),
        "step_who_resumed": step_card(at("who"), "d1", CTX, notice="Continuing your saved report."),
        "review": review_card(at("review"), "d1", CTX),
        "review_hostile": review_card(at("review", {**WHERE, **WHAT, **WHO, **hostile}), "d1", CTX),
        "resume": resume_card(at("what"), "d1"),
        "submitted": submitted_card(incident),
        "already_submitted": already_submitted_card("INC-2026-000123"),
        "no_draft": no_draft_card(),
    }


CARDS = sample_cards()


@pytest.mark.parametrize("name", sorted(CARDS))
def test_report_card_is_valid_1_5_and_small(name):
    card = CARDS[name]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema_validator().iter_errors(card)]
    assert errors == []
    json.dumps(card, allow_nan=False)
    assert card_size(card) < TEAMS_MAX_CARD_BYTES * 0.9


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_button_is_an_execute_with_a_known_verb_and_the_draft_it_belongs_to(name):
    for node in walk(CARDS[name]):
        if node.get("type", "").startswith("Action."):
            assert node["type"] == "Action.Execute"
            assert node["verb"] in verbs.CARD_VERBS and node["data"]["verb"] == node["verb"]
            if node["verb"] in (verbs.REPORT_NEXT, verbs.REPORT_BACK, verbs.REPORT_EDIT, verbs.REPORT_SUBMIT,
                                verbs.REPORT_CONTINUE):
                assert node["data"]["draft"] == "d1" and isinstance(node["data"]["version"], int)


def test_each_input_step_shows_its_fields_with_labels_hints_and_the_typed_values():
    for step in REPORT.steps[:-1]:
        card = step_card(at(step.name), "d1", CTX)
        inputs = {n["id"]: n for n in walk(card) if n.get("type", "").startswith("Input.")}
        assert set(inputs) == {f.name for f in step.fields}
        for f in step.fields:
            element = inputs[f.name]
            assert element["label"] == f.label
            assert element.get("isRequired", False) == f.required
            if f.required:
                assert element["errorMessage"]
            value = at(step.name).values.get(f.name)
            if value and element["type"] != "Input.Toggle":
                assert element["value"] == value
        for element in inputs.values():
            if element["type"] == "Input.ChoiceSet":
                assert element["style"] == "compact" and element["choices"]


def test_a_problem_is_stated_under_its_field_and_the_typed_values_stay():
    card = CARDS["step_where_problems"]
    body = card["body"]
    ids = [n.get("id") for n in body]
    texts = [n.get("text", "") for n in body]
    for field in ("contact_method", "occurred_on", "address"):
        i = ids.index(field)
        assert body[i + 1]["type"] == "TextBlock" and body[i + 1]["color"] == "attention", field
    assert any("not a UK postcode" in t for t in texts)
    assert body[ids.index("address")]["value"] == "12 High St, PR7 AA1"


def test_the_review_shows_every_answer_by_its_title_and_offers_an_edit_per_step():
    text = json.dumps(CARDS["review"])
    for shown in ("Housing", "At a property", "Verbal abuse", "Threats (incl. of violence)", "LC-20261202-0042",
                  "Morgan Lee", "No lone visits", "Restriction"):
        assert shown in text, shown
    edits = [n["data"]["target"] for n in walk(CARDS["review"])
             if n.get("type") == "Action.Execute" and n["verb"] == verbs.REPORT_EDIT]
    assert edits == ["where", "what", "who"]


def test_hostile_text_is_escaped_on_the_review():
    for node in walk(CARDS["review_hostile"]):
        if node.get("type") == "TextBlock":
            assert "[click here](" not in node["text"] and "<script>" not in node["text"]




@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(CARDS))
def test_renders_in_the_official_renderer_with_no_warnings(name, card_browser):
    report = card_browser.check(CARDS[name])
    assert report.errors == []
    assert report.rendered and report.height > 40
    assert not report.overflows, f"wider than the screen, or text cut off: {report.clipped}"
    assert report.anchors == 0


@pytest.mark.browser
def test_screenshots_of_each_step(card_browser, tmp_path):
    """What a phone (360) and a desktop (1000) show; REPORT_SCREENSHOTS=1 writes them to docs/screenshots/report/
    (<card>-<width>.png) for the README."""
    folder = SCREENSHOTS if os.environ.get("REPORT_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("step_where", "step_where_problems", "step_what", "step_who", "review", "submitted"):
        path = folder / f"{name}-{card_browser.width}.png"
        report = card_browser.screenshot(CARDS[name], path)
        assert report.errors == [] and path.stat().st_size > 1000
