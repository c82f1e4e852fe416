"""Multi-step card flows declared as data, and one pure function that moves a draft through them.

A flow is a table (python-telegram-bot's ConversationHandler is the model): its steps, each step's fields with
their limits, the rules that tie fields together, and the order. `advance()` takes the draft as it was, what the
user pressed and what they typed, and returns the new draft and the problems, without I/O. The use case around
it (register/reporting.py for incident reports) saves the draft in the store at every step, keyed by user and
flow, never by conversation: a report started on a phone continues on a desktop.

Values are kept as the user typed them (strings, as Adaptive Card inputs send them), even when they are wrong,
so a card sent back with a problem beside a field still holds everything typed. `parsed()` turns them into
typed values for whoever needs them (the summary, the submitted incident).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What an input is; the card builder picks the Adaptive Card input from it."""

    TEXT = "text"
    MULTILINE = "multiline"
    DATE = "date"
    TIME = "time"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    title: str


Choices = tuple[Choice, ...]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: Kind = Kind.TEXT
    required: bool = False
    max_length: int = 200
    choices: Choices = ()
    #: choices that depend on configuration or on other answers (the approvers for the chosen service area):
    #: the flow's context supplies them by this name
    choices_from: str = ""
    placeholder: str = ""
    #: the problem to show when it is required and left empty (also the card's client-side errorMessage)
    missing: str = ""


#: A cross-field rule: the step's values (and the whole draft's), the context; returns {field: problem}.
Rule = Callable[[Mapping[str, str], "Context"], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    title: str
    fields: tuple[Field, ...] = ()
    rules: tuple[Rule, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Flow:
    """Steps in order; the last one is the review step (no inputs: a summary, Edit buttons and Submit)."""

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"flow {self.name}: step names must be unique and there must be at least one")
        fields = [f.name for s in self.steps for f in s.fields]
        if len(set(fields)) != len(fields):
            raise ValueError(f"flow {self.name}: field names must be unique across the flow")
        if self.steps[-1].fields:
            raise ValueError(f"flow {self.name}: the last step is the review step and has no inputs")

    @property
    def first(self) -> Step:
        return self.steps[0]

    @property
    def review(self) -> Step:
        return self.steps[-1]

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def after(self, step: Step) -> Step:
        return self.steps[min(self.steps.index(step) + 1, len(self.steps) - 1)]

    def before(self, step: Step) -> Step:
        return self.steps[max(self.steps.index(step) - 1, 0)]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(f for s in self.steps for f in s.fields)


class Context:
    """What validation may know beyond the values: the time, the configured lists. Subclass per flow."""

    def __init__(self, now: datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now

    def choices(self, source: str, values: Mapping[str, str]) -> Choices:
        raise KeyError(source)


@dataclass(frozen=True, slots=True)
class Draft:
    """Where a user is in a flow and everything they typed. `version` grows with every accepted move, so a card
    built from an older version can be recognised as stale."""

    flow: str
    step: str
    values: dict[str, str] = field(default_factory=dict)
    version: int = 0
    #: steps whose values passed validation; the review step needs all of them
    done: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "step": self.step, "values": dict(self.values), "version": self.version,
                "done": list(self.done)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Draft:
        values = data.get("values") or {}
        return cls(flow=str(data["flow"]), step=str(data["step"]),
                   values={str(k): str(v) for k, v in values.items()}, version=int(data.get("version") or 0),
                   done=tuple(str(s) for s in data.get("done") or ()))


class Move(StrEnum):
    NEXT = "next"  # validate this step, go to the next
    BACK = "back"  # keep what was typed (unvalidated), go to the previous
    EDIT = "edit"  # from the review: go to a named step
    SUBMIT = "submit"  # from the review: everything must be valid


@dataclass(frozen=True, slots=True)
class Advanced:
    draft: Draft
    #: field name → the problem, in the user's words; empty when the move was accepted
    problems: dict[str, str] = field(default_factory=dict)
    #: true when SUBMIT was accepted: the caller stores the result exactly once
    submitted: bool = False


def start(flow: Flow, prefill: Mapping[str, str] | None = None) -> Draft:
    known = {f.name for f in flow.fields}
    values = {k: clean(v) for k, v in (prefill or {}).items() if k in known and clean(v)}
    return Draft(flow=flow.name, step=flow.first.name, values=values)


def clean(value: Any) -> str:
    """A typed value as kept: text with its line breaks, stripped of surrounding space; anything else as text."""
    if value is None or isinstance(value, bool | dict | list):
        return "true" if value is True else "false" if value is False else ""
    return str(value).replace("\r\n", "\n").strip()


def advance(flow: Flow, draft: Draft, move: Move, inputs: Mapping[str, Any], ctx: Context,
            *, target: str = "") -> Advanced:
    """The one transition function. Inputs for fields of the current step are kept whatever happens; fields of
    other steps in `inputs` are ignored (a forged card cannot write a step it does not show)."""
    step = flow.step(draft.step) or flow.first
    typed = {f.name: clean(inputs[f.name]) for f in step.fields if f.name in inputs}
    values = {**draft.values, **typed}
    values = {k: v for k, v in values.items() if v != ""}
    kept = replace(draft, values=values)

    if move is Move.BACK:
        return Advanced(replace(kept, step=flow.before(step).name, version=draft.version + 1))
    if move is Move.EDIT:
        wanted = flow.step(target)
        if wanted is None:
            return Advanced(kept, {"": "That step does not exist."})
        return Advanced(replace(kept, step=wanted.name, version=draft.version + 1))
    if move is Move.NEXT:
        problems = check_step(step, values, ctx)
        done = tuple(s for s in kept.done if s != step.name)
        if problems:
            return Advanced(replace(kept, done=done), problems)
        done = (*done, step.name)
        # after an edit from the review, go straight back to the review when everything else is still done
        nxt = flow.review if all(s.name in done for s in flow.steps[:-1]) else flow.after(step)
        return Advanced(replace(kept, step=nxt.name, done=done, version=draft.version + 1))
    # SUBMIT: every step is validated again (the configuration, or the clock, may have moved on)
    for each in flow.steps:
        problems = check_step(each, values, ctx)
        if problems:
            done = tuple(s for s in kept.done if s != each.name)
            return Advanced(replace(kept, step=each.name, done=done, version=draft.version + 1), problems)
    return Advanced(replace(kept, version=draft.version + 1), submitted=True)


def check_step(step: Step, values: Mapping[str, str], ctx: Context) -> dict[str, str]:
    problems: dict[str, str] = {}
    for f in step.fields:
        value = values.get(f.name, "")
        problem = check_field(f, value, values, ctx)
        if problem:
            problems[f.name] = problem
    for rule in step.rules:
        for name, problem in rule(values, ctx).items():
            problems.setdefault(name, problem)
    return problems


def check_field(f: Field, value: str, values: Mapping[str, str], ctx: Context) -> str:
    if not value:
        return (f.missing or f"Please fill in {f.label.lower()}.") if f.required else ""
    if len(value) > f.max_length:
        return f"{f.label} is too long: at most {f.max_length:,} characters (this has {len(value):,})."
    if f.kind is Kind.DATE and parse_date(value) is None:
        return f"{f.label}: please give a date such as 2026-12-02."
    if f.kind is Kind.TIME and parse_time(value) is None:
        return f"{f.label}: please give a time such as 14:30."
    if f.kind is Kind.YES_NO and value not in ("true", "false"):
        return f"{f.label}: please answer yes or no."
    if f.kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
        allowed = {c.value for c in choices_of(f, values, ctx)}
        picked = split_multi(value) if f.kind is Kind.MULTI_CHOICE else [value]
        if any(p not in allowed for p in picked):
            return f"{f.label}: please choose from the list."
    return ""


def choices_of(f: Field, values: Mapping[str, str], ctx: Context) -> Choices:
    return ctx.choices(f.choices_from, values) if f.choices_from else f.choices


def split_multi(value: str) -> list[str]:
    """An Input.ChoiceSet with isMultiSelect sends 'a,b,c'."""
    return [v for v in (p.strip() for p in value.split(",")) if v]


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if len(value) >= 10 else None
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)


def yes(value: str) -> bool:
    return value == "true"


def titles(f: Field, value: str, values: Mapping[str, str], ctx: Context) -> Sequence[str]:
    """The titles of the chosen values, for a summary."""
    by_value = {c.value: c.title for c in choices_of(f, values, ctx)}
    picked = split_multi(value) if f.kind is Kind.MULTI_CHOICE else [value]
    return [by_value.get(p, p) for p in picked if p]
