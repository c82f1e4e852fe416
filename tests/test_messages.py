"""Every sentence function of cards/messages.py, found by introspection, with hostile markdown and HTML in each of
its parameters: the sentence must render exactly as it does with a harmless value (no link, image, HTML,
emphasis, heading, list or table that was not in the wording), and show the value as it was typed.

Teams renders markdown in cards and in a bot's plain text messages alike (the administrators' rate-limit notice is
a text message carrying a display name), so this holds for every sentence, wherever it is sent.
"""

from __future__ import annotations

import html
import inspect
import re
import typing
from datetime import date
from typing import Any

import pytest
from markdown_it import MarkdownIt

from cards import messages
from cards.text import clean

HOSTILE = (
    "[Review the audit trail](https://evil.example/audit)",
    "![logo](https://evil.example/x.png)",
    "<https://evil.example>",
    "https://evil.example/path?q=1",
    "see www.evil.example now",
    "mail admin@evil.example",
    "<b>bold</b> <img src=x onerror=alert(1)> <script>alert(1)</script> <a href='https://evil.example'>x</a>",
    "**bold** __bold__ *em* _em_ ~~gone~~ `code`",
    "# Heading",
    "- item",
    "+ item",
    "1. item",
    "> quoted",
    "---",
    "| a | b |",
    "line one\n# heading\r\n- item\u2028[x](y)",
    "&lt;b&gt; &#91;x&#93; &amp;",
    "{{DATE(2026-01-01T00:00:00Z, SHORT)}}",
    "\\[x\\](https://evil.example)",
    "\u202e\u200b[x](javascript:alert(1))",
    "[x]: https://evil.example",
    "[x][y]",
)
HARMLESS = {str: "Sam", int: 3, date: date(2027, 5, 28)}

MD = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"])
# A bare URL or domain that a linkifier (Teams has one) would turn into a link, unless an escape breaks it.
LINKABLE = re.compile(r"://|www\.|[A-Za-z0-9]\.[A-Za-z]{2}")


def sentence_functions() -> list[tuple[str, Any]]:
    return [(name, fn) for name, fn in inspect.getmembers(messages, inspect.isfunction)
            if fn.__module__ == messages.__name__ and not name.startswith("_")]


def harmless(kind: Any) -> Any:
    if typing.get_origin(kind) in (list, tuple):
        return [HARMLESS[typing.get_args(kind)[0]]]
    return HARMLESS[kind]


def hostile(kind: Any, value: str) -> Any:
    return [value, value] if typing.get_origin(kind) in (list, tuple) else value


def structure(markdown: str) -> tuple[list[str], int]:
    """What the markdown makes, apart from plain text: its HTML tags in order, and how many linkable spots."""
    rendered = MD.render(markdown)
    unescaped = re.sub(r"\\.", "", markdown)  # an escaped character cannot start a link
    return re.findall(r"</?[a-z][a-z0-9]*", rendered), len(LINKABLE.findall(unescaped))


def visible(markdown: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", MD.render(markdown))).split())


def test_every_message_function_declares_how_its_values_are_shown():
    functions = sentence_functions()
    assert len(functions) >= 15
    undeclared = [name for name, fn in functions if not hasattr(fn, "markdown")]
    assert undeclared == [], "decorate each with _sentence(...) (markdown) or _plain_text (cards/messages.py)"


@pytest.mark.parametrize("name,fn", sentence_functions())
def test_hostile_values_never_change_how_a_sentence_renders(name, fn):
    hints = typing.get_type_hints(inspect.unwrap(fn))
    params = [p for p in inspect.signature(fn).parameters]
    base = {p: harmless(hints[p]) for p in params}
    if name == "not_lifted":
        base["reason"] = "not_active"
    reference = fn(**base)
    for param in params:
        if hints[param] is not str and typing.get_origin(hints[param]) not in (list, tuple):
            continue  # numbers and dates are formatted by the sentence itself
        for value in HOSTILE:
            out = fn(**{**base, param: hostile(hints[param], value)})
            if not fn.markdown:  # a tooltip: one line of text, as typed
                assert out == " ".join(out.split()) and clean(value, 500) in out, (name, param, out)
                continue
            assert structure(out) == structure(reference), (name, param, value, out, MD.render(out))
            if param not in fn.choices:
                assert " ".join(clean(value, 500).split()) in visible(out), (name, param, value, out)


def test_the_rate_limit_notice_shows_a_display_name_as_typed_and_never_as_a_link():
    name = "[Review the audit trail](https://evil.example/audit)"
    notice = messages.rate_limit_alert(name, 60)
    assert "<a " not in MD.render(notice)
    assert name in visible(notice)


def test_a_sentence_in_a_sentence_is_not_escaped_twice():
    query = "**12** High St"
    once = messages.you_checked(messages.quoted(query))
    assert visible(once) == f"You checked: “{query}”"
    assert messages.labelled("Review date", messages.format_date(date(2027, 5, 28))) == "**Review date:** 28 May 2027"
