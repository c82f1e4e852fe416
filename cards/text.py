"""Making text safe to show in a card.

Teams reads every TextBlock (and FactSet value) as markdown, so a query such as
``[call me](https://evil.example)`` or ``**URGENT**`` would turn into a link or bold text inside an
official-looking alert. Anything that did not come from cards/messages.py (what the user typed, and what the
register holds: names, addresses, guidance, contacts) goes through `plain()` before it is put into a card, and the
sentence functions of cards/messages.py pass every value they are given through it (plain-text messages too: Teams
renders a bot's text messages as markdown as well).

Escaping is deliberately narrow: Teams on Android and older iOS builds show some backslashes literally, so
only the characters that can start markdown structure are escaped; ordinary address punctuation (``,`` ``-``
``'`` ``/`` ``.`` and ``&``) is left alone unless it could form a link, an entity or a list.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"

# What opens emphasis, code, links, images, strikethrough, HTML/autolinks or tables, and the escape itself.
_SPECIAL = re.compile(r"([\\`*_\[\]<>~|])")
# A dot inside something that looks like a domain ('evil.com', 'www.x'): linkifiers would turn it into a link.
_DOMAIN_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z]{2})")
# 'http://', 'mailto://': a scheme makes a link even without a dot.
_SCHEME_COLON = re.compile(r":(?=//)")
# '&#91;', '&amp;': an entity would be decoded into the character it names.
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# '{{DATE(...)}}' and '{{TIME(...)}}' are Adaptive Card functions, evaluated before markdown.
_DOUBLE_BRACE = re.compile(r"(?<=\{)\{")
# What turns a line's start into a heading, list item or thematic break ('#5' and '+44 1257' are left alone).
_BLOCK_START = re.compile(r"^([#+\-])(?=[\s#+\-]|$)|^(\d+)([.)])(?=\s|$)")
_SPACES = re.compile(r"\s+")
# Every character the patterns above can act on, and the starts _BLOCK_START can act on: text without any of
# them is left as it is.
_MAY_NEED_ESCAPING = re.compile(r"[\\`*_\[\]<>~|.:&{]|^(?:[#+\-]|\d+[.)])")
# In ASCII the only characters `clean` changes are the controls (category Cc), which become spaces.
_ASCII_CONTROLS = {i: " " for i in (*range(32), 127)}


def clean(text: str, max_chars: int) -> str:
    """One line of visible text: control and invisible formatting characters removed (no bidi tricks, no
    zero-width joins, no line breaks that could start a markdown block), whitespace collapsed, and at most
    `max_chars` characters (the last one an ellipsis when cut)."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    text = text or ""
    if text.isascii():  # most text: no need to look up each character's category
        if not text.isprintable():
            text = text.translate(_ASCII_CONTROLS)
        line = text.strip()  # only spaces are left to collapse
        return _cut(_SPACES.sub(" ", line) if "  " in line else line, max_chars)
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif category in ("Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return _cut(_SPACES.sub(" ", "".join(out)).strip(), max_chars)


def _cut(line: str, max_chars: int) -> str:
    if len(line) > max_chars:
        return line[: max_chars - 1].rstrip() + ELLIPSIS
    return line


def escape_markdown(line: str) -> str:
    """Escape one line of plain text so that a markdown renderer shows it as typed (CommonMark escapes)."""
    if _MAY_NEED_ESCAPING.search(line) is None:  # most text: one search instead of six substitutions
        return line
    return _escape_all(line)


def _escape_all(line: str) -> str:
    line = _SPECIAL.sub(r"\\\1", line)
    line = _DOMAIN_DOT.sub(r"\\.", line)
    line = _SCHEME_COLON.sub(r"\\:", line)
    line = _ENTITY.sub(r"\\&", line)
    line = _DOUBLE_BRACE.sub(r"\\{", line)
    return _BLOCK_START.sub(_escape_block_start, line)


def _escape_block_start(match: re.Match[str]) -> str:
    if match.group(1):
        return f"\\{match.group(1)}"
    return f"{match.group(2)}\\{match.group(3)}"


class Shown(str):
    """Text that may go into markdown as it is: what `plain` returned, or a sentence of cards/messages.py built from
    such parts. `plain` hands it back unchanged, because escaping twice would show the backslashes; so a sentence
    can be put into another sentence, or into `error_card`, and stay as it was written. cards/elements.py stores it
    in a card as an ordinary str."""

    __slots__ = ()


def plain(text: str, max_chars: int) -> Shown:
    """`clean` then `escape_markdown`: the one call to use for any text that is not ours. Text that is already
    `Shown` is returned as it is."""
    if isinstance(text, Shown):
        return text
    return Shown(escape_markdown(clean(text, max_chars)))
