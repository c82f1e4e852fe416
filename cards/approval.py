"""The approval card: the only card that shows an incident's account, and only to approvers and administrators.

Three views of one card, all pure functions:
- the decider's view (the approver the reporter chose, or an administrator): the incident, the reporter's
  recommendation, what the register already holds there, the decision inputs and Approve / Reject / Ask;
- the read-only view (anyone else who sees it): reference and status, no account, no inputs;
- the decided view: who decided what, and when (every copy is replaced by it once decided).
The card carries `refresh` for the people who may decide, so Teams shows them their view and everyone else the
read-only one; the server still checks every click (register/approvals.py), the view is only a view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cards import messages as m
from cards import verbs
from cards.elements import (
    Element,
    action_set,
    adaptive_card,
    choice_set,
    container,
    date_input,
    execute_action,
    refresh_for,
    text_block,
    text_input,
)
from cards.text import clean, plain
from register.approvals import REVIEW_MONTHS, add_months
from register.model import Entry, Incident, Restriction
from register.report_flow import BEHAVIOURS, CONTACT_METHODS, RECOMMENDATIONS, RESTRICTIONS, UK

NARRATIVE_MAX = 3000
LINE_MAX = 300
RELATED_MAX = 8

_TITLES = {c.value: c.title for c in (*BEHAVIOURS, *CONTACT_METHODS, *RECOMMENDATIONS, *RESTRICTIONS)}


def _title(value: str) -> str:
    return _TITLES.get(value, value)


def _data(incident: Incident) -> dict[str, Any]:
    return {"incident": incident.ref}


def _header(incident: Incident) -> list[Element]:
    reporter = incident.reporter.name if incident.reporter else ""
    return [
        text_block(m.approval_title(plain(incident.ref, 40)), size="medium", weight="bolder", style="heading"),
        text_block(m.approval_reported(incident.reported_at.date(), plain(incident.service_area, 60),
                                       plain(reporter, 80)), spacing="none", is_subtle=True),
    ]


def decider_card(incident: Incident, entries: Sequence[Entry], others: Sequence[Incident], today: date, *,
                 refresh_users: Sequence[str] = (), problems: Mapping[str, str] | None = None,
                 values: Mapping[str, str] | None = None, notice: str = "") -> dict[str, Any]:
    problems = problems or {}
    values = values or {}
    body = _header(incident)
    if notice:
        body.append(text_block(plain(notice, 300), color="accent"))
    body += _facts(incident)
    body += _related(entries, others)
    body += _questions(incident)
    body.append(text_block(m.APPROVAL_DECIDE_HEADING, weight="bolder", spacing="medium", separator=True))
    if problems:
        body.append(text_block(m.APPROVAL_FIX_PROBLEMS, color="attention", weight="bolder"))
    current = {r.value for e in entries for r in e.restrictions}
    prefill = ",".join(r.value for r in Restriction if r.value in current | set(incident.recommended_restrictions))
    review_max = add_months(today, REVIEW_MONTHS)
    inputs: list[tuple[str, Element]] = [
        ("decision", choice_set("decision", m.APPROVAL_DECISION_LABEL, [(m.DECISION_TITLES[c.value], c.value)
                                                                        for c in RECOMMENDATIONS],
                                value=values.get("decision") or incident.recommendation or None,
                                placeholder=m.CHOOSE)),
        ("restrictions", choice_set("restrictions", m.APPROVAL_RESTRICTIONS_LABEL,
                                    [(c.title, c.value) for c in RESTRICTIONS], multi=True,
                                    value=values.get("restrictions", prefill) or None, placeholder=m.CHOOSE)),
        ("restriction_other", text_input("restriction_other", m.APPROVAL_OTHER_LABEL, max_length=500,
                                         value=values.get("restriction_other") or incident.restriction_other)),
        ("guidance", text_input("guidance", m.APPROVAL_GUIDANCE_LABEL, multiline=True, max_length=2000,
                                value=values.get("guidance"))),
        ("reason", text_input("reason", m.APPROVAL_REASON_LABEL, multiline=True, max_length=2000,
                              value=values.get("reason"))),
        ("review_on", date_input("review_on", m.APPROVAL_REVIEW_LABEL,
                                 value=values.get("review_on") or review_max.isoformat(),
                                 min_=today.isoformat(), max_=review_max.isoformat())),
        ("notify", choice_set("notify", m.APPROVAL_NOTIFY_LABEL, [(m.APPROVAL_NOTIFY_YES, "true"),
                                                                  (m.APPROVAL_NOTIFY_NO, "false")],
                              value=values.get("notify") or "true")),
        ("withheld_reason", text_input("withheld_reason", m.APPROVAL_WITHHELD_LABEL, max_length=500,
                                       value=values.get("withheld_reason"))),
        ("reject_reason", text_input("reject_reason", m.APPROVAL_REJECT_LABEL, max_length=500,
                                     value=values.get("reject_reason"))),
        ("question", text_input("question", m.APPROVAL_QUESTION_LABEL, max_length=500, value=values.get("question"))),
    ]
    for name, element in inputs:
        body.append(element)
        if name in problems:
            body.append(text_block(plain(problems[name], 300), color="attention", size="small", spacing="none"))
    actions = [
        execute_action(m.APPROVAL_APPROVE, verbs.APPROVAL_DECIDE, _data(incident), style="positive"),
        execute_action(m.APPROVAL_REJECT, verbs.APPROVAL_REJECT, _data(incident), style="destructive"),
        execute_action(m.APPROVAL_ASK, verbs.APPROVAL_ASK, _data(incident)),
    ]
    return adaptive_card(body, actions=actions, fallback_text=m.APPROVAL_FALLBACK,
                         refresh=_refresh(incident, refresh_users))


def read_only_card(incident: Incident, *, refresh_users: Sequence[str] = (), notice: str = "") -> dict[str, Any]:
    body = _header(incident)
    body.append(text_block(m.awaiting(plain(incident.approver_name, 80)), spacing="small"))
    body.append(text_block(plain(notice, 300) if notice else m.APPROVAL_READ_ONLY, is_subtle=True, size="small"))
    return adaptive_card(body, fallback_text=m.APPROVAL_FALLBACK, refresh=_refresh(incident, refresh_users))


def decided_card(incident: Incident) -> dict[str, Any]:
    body = _header(incident)
    decision = incident.decision
    if decision is not None:
        body.append(text_block(m.decided_line(decision.kind.value, plain(decision.by.name, 80), decision.at.date()),
                               weight="bolder", color="good", spacing="small"))
        if decision.entry_ref:
            body.append(text_block(m.decided_entry(plain(decision.entry_ref, 40)), spacing="none"))
    return adaptive_card(body, fallback_text=clean(m.approval_title(incident.ref), 200))


def pending_list_card(incidents: Sequence[Incident]) -> dict[str, Any]:
    """`pending`: what waits for a decision, each with a button that opens its approval card."""
    body: list[Element] = [text_block(m.PENDING_LIST_TITLE, size="medium", weight="bolder", style="heading")]
    if not incidents:
        body.append(text_block(m.PENDING_LIST_NONE))
    for incident in incidents[:20]:
        body.append(container([
            text_block(m.pending_line(plain(incident.ref, 40), incident.reported_at.date(),
                                      plain(incident.service_area, 60), plain(incident.approver_name, 80))),
            action_set([execute_action(m.OPEN_BUTTON, verbs.APPROVAL_OPEN, _data(incident))], spacing="small"),
        ], separator=True))
    return adaptive_card(body, fallback_text=m.PENDING_LIST_TITLE)


def _refresh(incident: Incident, users: Sequence[str]) -> Element | None:
    return refresh_for(users, verbs.APPROVAL_REFRESH, _data(incident)) if users else None


def _facts(incident: Incident) -> list[Element]:
    lines: list[tuple[str, str]] = []
    if incident.address is not None:
        lines.append((m.LABEL_ADDRESS, incident.address.display()))
    if incident.person_name:
        lines.append((m.LABEL_PERSON, incident.person_name))
    for label, value in (("Also known as", incident.other_names), ("Description", incident.person_description),
                         ("How it happened", _title(incident.contact_method)),
                         ("When", _when(incident)),
                         ("Behaviour", ", ".join(_title(b) for b in incident.behaviours)),
                         ("Injured", m.YES if incident.injured else m.NO),
                         ("Police", f"{m.YES}: {incident.crime_reference}" if incident.police else m.NO),
                         ("Witnesses", incident.witnesses)):
        if value:
            lines.append((label, value))
    body = [text_block(m.labelled(label, plain(value, LINE_MAX)), spacing="none") for label, value in lines]
    narrative = plain(incident.narrative, NARRATIVE_MAX)
    body.append(text_block(m.labelled("What happened", narrative), spacing="small"))
    if len(incident.narrative) > NARRATIVE_MAX:
        body.append(text_block(m.APPROVAL_NARRATIVE_SHORTENED, is_subtle=True, size="small", spacing="none"))
    recommendation = _title(incident.recommendation)
    if incident.recommended_restrictions:
        recommendation += ": " + ", ".join(_title(r) for r in incident.recommended_restrictions)
    if incident.restriction_other:
        recommendation += f" ({incident.restriction_other})"
    body.append(text_block(m.labelled("Reporter recommends", plain(recommendation, LINE_MAX)), spacing="small"))
    return body


def _when(incident: Incident) -> str:
    if incident.occurred_at is None:
        return ""
    local = incident.occurred_at.astimezone(UK)
    return f"{m.format_date(local.date())}, {local:%H:%M}"


def _related(entries: Sequence[Entry], others: Sequence[Incident]) -> list[Element]:
    body: list[Element] = [text_block("On the register here", weight="bolder", spacing="medium", separator=True)]
    if not entries and not others:
        body.append(text_block(m.APPROVAL_RELATED_NONE, is_subtle=True))
    for entry in list(entries)[:RELATED_MAX]:
        restrictions = ", ".join(_title(r.value) for r in entry.restrictions) or "-"
        body.append(text_block(plain(f"{entry.ref} ({entry.status.value}): {restrictions}", LINE_MAX),
                               spacing="none"))
    for other in list(others)[:RELATED_MAX]:
        kind = m.DECISION_TITLES.get(other.decision.kind.value, "") if other.decision else "awaiting a decision"
        body.append(text_block(plain(f"{other.ref}, {m.format_date(other.reported_at.date())}: {kind}", LINE_MAX),
                               spacing="none"))
    return body


def _questions(incident: Incident) -> list[Element]:
    body: list[Element] = []
    for q in incident.questions[-5:]:
        body.append(text_block(m.labelled("Question", plain(str(q.get("question") or ""), LINE_MAX)),
                               spacing="small"))
        answer = str(q.get("answer") or "")
        body.append(text_block(m.labelled("Answer", plain(answer, LINE_MAX)) if answer else "Not answered yet.",
                               spacing="none", is_subtle=not answer))
    return body
