"""Small typed builders for the Adaptive Card 1.5 elements this bot uses.

Each returns the element's JSON as a plain dict, leaving out every property that was not given, so a card is
assembled from readable calls instead of copied dictionaries. Only properties that the 1.5 schema and Teams
support are offered; the tests validate every card against the schema and in the official renderer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson

SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
TEAMS_MAX_CARD_BYTES = 28 * 1024

TextSize = Literal["small", "default", "medium", "large", "extraLarge"]
TextWeight = Literal["lighter", "default", "bolder"]
TextColor = Literal["default", "dark", "light", "accent", "good", "warning", "attention"]
TextStyle = Literal["default", "heading"]
ContainerStyle = Literal["default", "emphasis", "good", "attention", "warning", "accent"]
Spacing = Literal["none", "small", "default", "medium", "large", "extraLarge", "padding"]
ColumnWidth = Literal["auto", "stretch"] | int
VerticalAlignment = Literal["top", "center", "bottom"]
ActionStyle = Literal["default", "positive", "destructive"]

Element = dict[str, Any]


def _props(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def text_block(
    text: str,
    *,
    size: TextSize | None = None,
    weight: TextWeight | None = None,
    color: TextColor | None = None,
    is_subtle: bool | None = None,
    style: TextStyle | None = None,
    spacing: Spacing | None = None,
    separator: bool | None = None,
    wrap: bool = True,
) -> Element:
    """A TextBlock. Teams reads `text` as markdown: pass only our own sentences or `cards.text.plain(...)`."""
    return {
        "type": "TextBlock",
        "text": str(text),  # a plain str in the card, also when it is cards.text.Shown
        "wrap": wrap,
        **_props(size=size, weight=weight, color=color, isSubtle=is_subtle, style=style, spacing=spacing,
                 separator=separator),
    }


def container(
    items: Iterable[Element],
    *,
    style: ContainerStyle | None = None,
    bleed: bool | None = None,
    spacing: Spacing | None = None,
    separator: bool | None = None,
) -> Element:
    return {"type": "Container", "items": list(items),
            **_props(style=style, bleed=bleed, spacing=spacing, separator=separator)}


def column(
    items: Iterable[Element],
    *,
    width: ColumnWidth = "stretch",
    vertical_content_alignment: VerticalAlignment | None = None,
) -> Element:
    return {"type": "Column", "width": width, "items": list(items),
            **_props(verticalContentAlignment=vertical_content_alignment)}


def column_set(
    columns: Iterable[Element],
    *,
    spacing: Spacing | None = None,
    separator: bool | None = None,
) -> Element:
    return {"type": "ColumnSet", "columns": list(columns), **_props(spacing=spacing, separator=separator)}


def submit_action(
    title: str,
    data: Mapping[str, Any],
    *,
    tooltip: str | None = None,
    style: ActionStyle | None = None,
) -> Element:
    """A plain Action.Submit: arrives as a message activity whose `value` is `data` (works in Teams and the
    Agents Playground, unlike the msteams messageBack variants)."""
    return {"type": "Action.Submit", "title": str(title), "data": dict(data),
            **_props(tooltip=None if tooltip is None else str(tooltip), style=style)}


def execute_action(
    title: str,
    verb: str,
    data: Mapping[str, Any] | None = None,
    *,
    style: ActionStyle | None = None,
    associated_inputs: Literal["auto", "none"] | None = None,
) -> Element:
    """An Action.Execute (universal actions): arrives as an `adaptiveCard/action` invoke whose answer replaces the
    card. The verb is in the data as well, so a client that sends it as a plain Submit is routed the same way.
    `associated_inputs="none"` sends no inputs (Back, Edit: nothing typed is judged)."""
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": {**(data or {}), "verb": verb},
            **_props(style=style, associatedInputs=associated_inputs)}


def _input(kind: str, id_: str, label: str, *, required: bool, error: str | None, **props: Any) -> Element:
    """Every input carries a label and, when required, `isRequired` with its `errorMessage`: hints for the
    client only, the server validates again."""
    element = {"type": kind, "id": id_, "label": label, **_props(**props)}
    if required:
        element["isRequired"] = True
        element["errorMessage"] = error or f"{label} is required."
    return element


def text_input(id_: str, label: str, *, value: str | None = None, required: bool = False, error: str | None = None,
               max_length: int | None = None, multiline: bool | None = None, placeholder: str | None = None,
               spacing: Spacing | None = None) -> Element:
    return _input("Input.Text", id_, label, required=required, error=error, value=value or None,
                  maxLength=max_length, isMultiline=multiline, placeholder=placeholder, spacing=spacing)


def date_input(id_: str, label: str, *, value: str | None = None, required: bool = False, error: str | None = None,
               min_: str | None = None, max_: str | None = None) -> Element:
    return _input("Input.Date", id_, label, required=required, error=error, value=value or None, min=min_, max=max_)


def time_input(id_: str, label: str, *, value: str | None = None, required: bool = False,
               error: str | None = None) -> Element:
    return _input("Input.Time", id_, label, required=required, error=error, value=value or None)


def choice_set(id_: str, label: str, choices: Iterable[tuple[str, str]], *, value: str | None = None,
               multi: bool = False, required: bool = False, error: str | None = None,
               style: Literal["compact", "expanded"] = "compact", placeholder: str | None = None) -> Element:
    """An Input.ChoiceSet of (title, value) pairs. Compact by default: a phone shows a drop-down, not a wall."""
    return _input("Input.ChoiceSet", id_, label, required=required, error=error,
                  choices=[{"title": t, "value": v} for t, v in choices], value=value or None,
                  isMultiSelect=True if multi else None, style=style, placeholder=placeholder)


def toggle_input(id_: str, label: str, title: str, *, value: bool = False) -> Element:
    return _input("Input.Toggle", id_, label, required=False, error=None, title=title,
                  value="true" if value else "false", valueOn="true", valueOff="false")


def action_set(actions: Iterable[Element], *, spacing: Spacing | None = None) -> Element:
    return {"type": "ActionSet", "actions": list(actions), **_props(spacing=spacing)}


def adaptive_card(
    body: Iterable[Element],
    *,
    actions: Iterable[Element] | None = None,
    fallback_text: str | None = None,
    refresh: Element | None = None,
) -> Element:
    """The top-level card, schema 1.5. `refresh` (see `refresh_for`) makes Teams fetch a user-specific view."""
    card: Element = {"$schema": SCHEMA_URL, "type": "AdaptiveCard", "version": CARD_VERSION,
                     "body": list(body)}
    if actions is not None:
        card["actions"] = list(actions)
    if refresh is not None:
        card["refresh"] = refresh
    if fallback_text is not None:
        card["fallbackText"] = str(fallback_text)
    return card


#: Teams asks for a user-specific view for at most this many users
REFRESH_MAX_USERS = 60


def refresh_for(user_ids: Iterable[str], verb: str, data: Mapping[str, Any] | None = None) -> Element:
    """A card's `refresh`: Teams sends `verb` as an invoke for each of these users when they see the card, and
    shows them the card the bot answers with. Only a view: the server still checks every click."""
    users = list(dict.fromkeys(u for u in user_ids if u))[:REFRESH_MAX_USERS]
    return {"action": execute_action("Refresh", verb, data), "userIds": users}


def card_size(card: Mapping[str, Any]) -> int:
    """Bytes of the card as JSON with every non-ASCII character escaped: never less than what is sent. The same
    figure as `json.dumps(card, separators=(",", ":"), ensure_ascii=True)`, from orjson's compact UTF-8 (a tenth of
    the cost): escaped, each character beyond ASCII takes six bytes per UTF-16 code unit (a surrogate pair beyond
    the BMP), and DEL, which orjson leaves as it is, six."""
    try:
        data = orjson.dumps(card)
    except TypeError:  # a key that is not a string, an integer beyond 64 bits
        return len(json.dumps(card, separators=(",", ":"), ensure_ascii=True))
    delete = 5 * data.count(b"\x7f")
    if data.isascii():
        return len(data) + delete
    ascii_bytes = len(data) - len(data.translate(None, _ASCII))
    utf16_units = len(data.decode("utf-8").encode("utf-16-le")) // 2
    return ascii_bytes + 6 * (utf16_units - ascii_bytes) + delete


_ASCII = bytes(range(128))
