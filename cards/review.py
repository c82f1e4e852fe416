"""The review card (sent to the owning approver before an entry's review date) and the entry card (`entry <ref>`,
for approvers and administrators: the whole entry and its history). Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from cards import messages as m
from cards import verbs
from cards.elements import (
    Element,
    adaptive_card,
    choice_set,
    date_input,
    execute_action,
    text_block,
    text_input,
)
from cards.text import clean, plain
from register.approvals import REVIEW_MONTHS, add_months
from register.model import Entry
from register.report_flow import RESTRICTIONS

HISTORY_MAX = 12


def _summary(entry: Entry) -> list[Element]:
    body = [text_block(m.labelled(m.LABEL_REFERENCE, plain(entry.ref, 40)), spacing="small")]
    if entry.address is not None:
        body.append(text_block(m.labelled(m.LABEL_ADDRESS, plain(entry.address.display(), 200)), spacing="none"))
    if entry.person_name:
        body.append(text_block(m.labelled(m.LABEL_PERSON, plain(entry.person_name, 120)), spacing="none"))
    body.append(text_block(m.labelled(m.APPROVAL_RESTRICTIONS_LABEL, plain(
        ", ".join(m.RESTRICTION_TITLES.get(r.value, r.value) for r in entry.restrictions) or "-", 400)),
        spacing="none"))
    if entry.guidance:
        body.append(text_block(m.labelled(m.HEADING_STAFF_GUIDANCE, plain(entry.guidance, 600)), spacing="none"))
    if entry.review_on:
        body.append(text_block(m.labelled(m.LABEL_REVIEW_DATE, m.format_date(entry.review_on)), spacing="none"))
    return body


def _outcome_inputs(entry: Entry, today: date, actions: list[tuple[str, str]], review_on: date,
                    problems: Mapping[str, str], values: Mapping[str, str]) -> list[Element]:
    """The inputs shared by the review and the appeal card: the outcome, a new review date (at most 6 months
    ahead), the restrictions and guidance (as they are, to amend), the reason; each problem under its field."""
    latest = add_months(today, REVIEW_MONTHS)
    inputs = [
        ("action", choice_set("action", m.REVIEW_ACTION_LABEL, actions, value=values.get("action"), required=True,
                              error=m.REVIEW_ACTION_NEEDED, placeholder=m.CHOOSE)),
        ("review_on", date_input("review_on", m.REVIEW_NEW_DATE_LABEL,
                                 value=values.get("review_on") or min(review_on, latest).isoformat(),
                                 min_=today.isoformat(), max_=latest.isoformat())),
        ("restrictions", choice_set("restrictions", m.APPROVAL_RESTRICTIONS_LABEL,
                                    [(c.title, c.value) for c in RESTRICTIONS], multi=True,
                                    value=values.get("restrictions") or ",".join(r.value for r in entry.restrictions)
                                    or None, placeholder=m.CHOOSE)),
        ("guidance", text_input("guidance", m.APPROVAL_GUIDANCE_LABEL, multiline=True, max_length=2000,
                                value=values.get("guidance") or entry.guidance)),
        ("reason", text_input("reason", m.REVIEW_REASON_LABEL, multiline=True, max_length=2000, required=True,
                              error=m.REVIEW_REASON_NEEDED, value=values.get("reason"))),
    ]
    body: list[Element] = []
    for name, element in inputs:
        body.append(element)
        if name in problems:
            body.append(text_block(plain(problems[name], 300), color="attention", size="small", spacing="none"))
    return body


def review_card(entry: Entry, today: date, *, problems: Mapping[str, str] | None = None,
                values: Mapping[str, str] | None = None) -> dict[str, Any]:
    problems = problems or {}
    values = values or {}
    latest = add_months(today, REVIEW_MONTHS)
    body: list[Element] = [
        text_block(m.review_title(plain(entry.ref, 40)), size="medium", weight="bolder", style="heading"),
        text_block(m.REVIEW_INTRO, spacing="none", is_subtle=True),
        *_summary(entry),
    ]
    body += _outcome_inputs(entry, today, [(m.REVIEW_EXTEND, "extend"), (m.REVIEW_AMEND, "amend"),
                                           (m.REVIEW_LIFT, "lift")], latest, problems, values)
    return adaptive_card(body, actions=[execute_action(m.REVIEW_SAVE, verbs.REVIEW_DECIDE, {"entry": entry.ref},
                                                       style="positive")],
                         fallback_text=clean(m.review_title(entry.ref), 200))


def reviewed_card(entry: Entry) -> dict[str, Any]:
    last = entry.history[-1] if entry.history else {}
    return adaptive_card([
        text_block(m.review_title(plain(entry.ref, 40)), size="medium", weight="bolder", style="heading"),
        text_block(m.reviewed_line(str(last.get("event") or ""), entry.status.value), color="good", weight="bolder"),
        *_summary(entry),
    ], fallback_text=clean(m.review_title(entry.ref), 200))


def entry_card(entry: Entry) -> dict[str, Any]:
    """`entry <ref>`: the entry, its dates, its notification, its incidents and its history (no narrative)."""
    body: list[Element] = [
        text_block(m.entry_title(plain(entry.ref, 40), entry.status.value), size="medium", weight="bolder",
                   style="heading"),
        *_summary(entry),
    ]
    for label, value in ((m.ENTRY_DECIDED, m.format_date(entry.decided_on) if entry.decided_on else ""),
                         (m.ENTRY_EXPIRES, m.format_date(entry.expires_on) if entry.expires_on else ""),
                         (m.ENTRY_NOTIFIED, m.format_date(entry.notified_on) if entry.notified_on else
                          plain(entry.notification_withheld, 300)),
                         (m.ENTRY_INCIDENTS, plain(", ".join(entry.incident_refs), 300))):
        if value:
            body.append(text_block(m.labelled(label, value), spacing="none"))
    if entry.history:
        body.append(text_block(m.ENTRY_HISTORY, weight="bolder", spacing="medium", separator=True))
    for event in entry.history[-HISTORY_MAX:]:
        body.append(text_block(plain(f"{str(event.get('at') or '')[:10]} {event.get('event', '')}: "
                                     f"{event.get('detail', '')}", 300), spacing="none", size="small"))
    return adaptive_card(body, fallback_text=clean(m.entry_title(entry.ref, entry.status.value), 200))



def appeal_card(entry: Entry, today: date, received: str, grounds: str, *,
                problems: Mapping[str, str] | None = None, values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The customer's appeal, for an approver who did not make the original decision: uphold, amend or lift."""
    problems = problems or {}
    values = values or {}
    latest = add_months(today, REVIEW_MONTHS)
    body: list[Element] = [
        text_block(m.appeal_title(plain(entry.ref, 40)), size="medium", weight="bolder", style="heading"),
        text_block(m.APPEAL_INTRO, spacing="none", is_subtle=True),
        text_block(m.labelled(m.APPEAL_RECEIVED, plain(received, 20)), spacing="small"),
        text_block(m.labelled(m.APPEAL_GROUNDS, plain(grounds, 1500)), spacing="none"),
        *_summary(entry),
    ]
    body += _outcome_inputs(entry, today, [(m.APPEAL_UPHOLD, "uphold"), (m.REVIEW_AMEND, "amend"),
                                           (m.REVIEW_LIFT, "lift")], entry.review_on or latest, problems, values)
    return adaptive_card(body, actions=[execute_action(m.APPEAL_SAVE, verbs.APPEAL_DECIDE, {"entry": entry.ref},
                                                       style="positive")],
                         fallback_text=clean(m.appeal_title(entry.ref), 200))
