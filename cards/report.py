"""The incident report cards, built from the flow's declaration (register/report_flow.py): one card per step, a
review card, and the cards around them (resume offer, confirmation, already submitted, no longer open).

Made for a phone: 360 px wide, one column, short labels, compact choice sets, no column sets. Every input carries
its label and the client-side hints (`isRequired`, `errorMessage`, `maxLength`); the server validates again and a
problem it finds is stated right under its field, with everything typed kept in the inputs. Every button carries
the draft's id and version, so the server can tell a current card from an old one.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    text_block,
    text_input,
    time_input,
    toggle_input,
)
from cards.text import clean, plain
from register.flows import Context, Draft, Field, Kind, Step, choices_of, parse_date, titles
from register.model import Incident
from register.report_flow import MAX_AGE, REPORT, UK

SUMMARY_VALUE_MAX = 600  # characters of a long answer shown on the review card (all of it is kept)


def _data(draft_id: str, draft: Draft, **more: str) -> dict[str, Any]:
    return {"draft": draft_id, "version": draft.version, **more}


def step_card(draft: Draft, draft_id: str, ctx: Context, problems: Mapping[str, str] | None = None,
              notice: str = "") -> dict[str, Any]:
    """The card for the draft's current step (the review card for the last one)."""
    step = REPORT.step(draft.step) or REPORT.first
    if step is REPORT.review:
        return review_card(draft, draft_id, ctx, notice)
    problems = problems or {}
    inputs = [i for i in REPORT.steps if i.fields]
    number = inputs.index(step) + 1
    body: list[Element] = [
        text_block(m.REPORT_TITLE, size="medium", weight="bolder", style="heading"),
        text_block(m.report_step(number, len(inputs), step.title), spacing="none", is_subtle=True),
    ]
    if notice:
        body.append(text_block(notice, color="accent", spacing="small"))
    if problems:
        body.append(text_block(m.REPORT_FIX_PROBLEMS, color="attention", weight="bolder", spacing="small"))
    for f in step.fields:
        body.append(_input(f, draft.values, ctx))
        if f.name in problems:
            body.append(text_block(plain(problems[f.name], 300), color="attention", size="small", spacing="none"))
    buttons = [execute_action(m.REPORT_NEXT, verbs.REPORT_NEXT, _data(draft_id, draft), style="positive")]
    if number > 1:
        buttons.append(execute_action(m.REPORT_BACK, verbs.REPORT_BACK, _data(draft_id, draft),
                                      associated_inputs="auto"))
    body.append(text_block(m.REPORT_SAVED_EACH_STEP, size="small", is_subtle=True, spacing="medium"))
    return adaptive_card(body, actions=buttons, fallback_text=m.REPORT_FALLBACK)


def _input(f: Field, values: Mapping[str, str], ctx: Context) -> Element:
    value = values.get(f.name, "")
    error = f.missing or None
    if f.kind is Kind.DATE:
        today = ctx.now.astimezone(UK).date()
        return date_input(f.name, f.label, value=value, required=f.required, error=error,
                          min_=(today - MAX_AGE).isoformat(), max_=today.isoformat())
    if f.kind is Kind.TIME:
        return time_input(f.name, f.label, value=value, required=f.required, error=error)
    if f.kind is Kind.YES_NO:
        return toggle_input(f.name, f.label, m.YES, value=value == "true")
    if f.kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
        choices = [(clean(c.title, 100), c.value) for c in choices_of(f, values, ctx)]
        return choice_set(f.name, f.label, choices, value=value, multi=f.kind is Kind.MULTI_CHOICE,
                          required=f.required, error=error, placeholder=m.CHOOSE)
    return text_input(f.name, f.label, value=value, required=f.required, error=error, max_length=f.max_length,
                      multiline=True if f.kind is Kind.MULTILINE else None, placeholder=f.placeholder or None)


def review_card(draft: Draft, draft_id: str, ctx: Context, notice: str = "") -> dict[str, Any]:
    """Check and submit: every answer, read-only, with an Edit button per step."""
    body: list[Element] = [
        text_block(m.REPORT_TITLE, size="medium", weight="bolder", style="heading"),
        text_block(m.REPORT_REVIEW, spacing="none", is_subtle=True),
    ]
    if notice:
        body.append(text_block(notice, color="accent", spacing="small"))
    for step in REPORT.steps[:-1]:
        body.append(container(_summary(step, draft.values, ctx), spacing="medium", separator=True))
        body.append(action_set([execute_action(m.report_edit(step.title), verbs.REPORT_EDIT,
                                               _data(draft_id, draft, target=step.name),
                                               associated_inputs="none")], spacing="small"))
    return adaptive_card(body, actions=[
        execute_action(m.REPORT_SUBMIT, verbs.REPORT_SUBMIT, _data(draft_id, draft), style="positive",
                       associated_inputs="none")], fallback_text=m.REPORT_FALLBACK)


def _summary(step: Step, values: Mapping[str, str], ctx: Context) -> list[Element]:
    lines: list[Element] = [text_block(step.title, weight="bolder")]
    for f in step.fields:
        value = values.get(f.name, "")
        if not value:
            continue
        if f.kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
            shown = ", ".join(titles(f, value, values, ctx))
        elif f.kind is Kind.YES_NO:
            shown = m.YES if value == "true" else m.NO
        elif f.kind is Kind.DATE and (day := parse_date(value)) is not None:
            shown = m.format_date(day)
        else:
            shown = value
        lines.append(text_block(m.answered(f.label, plain(shown, SUMMARY_VALUE_MAX)), spacing="none"))
    return lines


def resume_card(draft: Draft, draft_id: str) -> dict[str, Any]:
    step = REPORT.step(draft.step) or REPORT.first
    return adaptive_card([
        text_block(m.REPORT_TITLE, size="medium", weight="bolder", style="heading"),
        text_block(m.report_open_draft(step.title), spacing="small"),
    ], actions=[
        execute_action(m.REPORT_CONTINUE, verbs.REPORT_CONTINUE, _data(draft_id, draft), style="positive"),
        execute_action(m.REPORT_START_AGAIN, verbs.REPORT_START, {"fresh": "1"}),
    ], fallback_text=m.REPORT_FALLBACK)


def submitted_card(incident: Incident) -> dict[str, Any]:
    return adaptive_card([
        text_block(m.REPORT_SUBMITTED_TITLE, size="medium", weight="bolder", style="heading", color="good"),
        text_block(m.labelled(m.LABEL_REFERENCE, plain(incident.ref, 40)), spacing="small"),
        text_block(m.report_who_decides(plain(incident.approver_name, 120)), spacing="small"),
        text_block(m.REPORT_WHAT_NEXT, spacing="small"),
    ], fallback_text=m.report_submitted_fallback(clean(incident.ref, 40)))


def already_submitted_card(ref: str) -> dict[str, Any]:
    return adaptive_card([text_block(m.report_already_submitted(plain(ref, 40)))],
                         fallback_text=m.report_already_submitted(clean(ref, 40)))


def no_draft_card() -> dict[str, Any]:
    return adaptive_card([text_block(m.REPORT_NO_DRAFT)], actions=[
        execute_action(m.REPORT_START_NEW, verbs.REPORT_START, {"fresh": "1"}, style="positive")],
        fallback_text=m.REPORT_NO_DRAFT)


def my_reports_card(incidents: list[Incident]) -> dict[str, Any]:
    """`my reports`: reference, date and status of the reporter's recent reports; no narrative."""
    body: list[Element] = [text_block(m.MY_REPORTS_TITLE, size="medium", weight="bolder", style="heading")]
    if not incidents:
        body.append(text_block(m.MY_REPORTS_NONE, spacing="small"))
    for incident in incidents:
        when = incident.reported_at.astimezone(UK).date()
        body.append(text_block(m.my_report_line(plain(incident.ref, 40), when, incident.status.value),
                               spacing="small"))
    return adaptive_card(body, fallback_text=m.MY_REPORTS_TITLE)


def address_notice(address_read: str, known_here: tuple[str, ...]) -> str:
    """Shown on the step after the address: how the register read it, and what it already holds there."""
    notice: str = m.report_address_read(plain(address_read, 200))
    if known_here:
        notice += " " + m.report_known_here(plain(", ".join(known_here), 200))
    return notice


def question_card(ref: str, question: str, number: int) -> dict[str, Any]:
    """The approver's question, in the reporter's personal chat, with a box to answer it."""
    return adaptive_card([
        text_block(m.QUESTION_TITLE, size="medium", weight="bolder", style="heading"),
        text_block(m.question_for_reporter(plain(ref, 40), plain(question, 500)), spacing="small"),
        text_input("answer", m.ANSWER_LABEL, multiline=True, max_length=2000, required=True,
                   error=m.ANSWER_NEEDED),
    ], actions=[execute_action(m.ANSWER_BUTTON, verbs.REPORT_ANSWER, {"incident": ref, "question": str(number)},
                               style="positive")], fallback_text=m.QUESTION_TITLE)
