"""Text as the register reads it: what looks the same to a person compares the same here.

Text pasted from Word, a PDF or an email carries characters a person cannot see or cannot tell apart from plain
Latin ones: a soft hyphen inside a name (`Pil<U+00AD>ling`), a zero-width space between the digits of a house
number, a non-breaking space, a Cyrillic `А` or a Greek `Ο` in a postcode. Left alone, each one makes a flagged
entry look different from the query and the check clears it. Everything that reaches the matcher (the register's
addresses and names when they are indexed, and every query) goes through `fold` first:

1. Unicode NFKC: compatibility forms become their plain letters (fullwidth `１２`, ligatures, mathematical letters,
   non-breaking and other odd spaces);
2. format characters (category Cf: soft hyphen, zero-width space / joiner / non-joiner, word joiner, byte order
   mark, bidi controls) are dropped; line and paragraph separators become spaces;
3. confusable letters of other scripts are mapped to their Latin skeleton as Unicode TR39 describes, from the
   Unicode confusables table as the `confusable_homoglyphs` package ships it (not a list of our own). Only
   non-ASCII characters are mapped: plain ASCII is never rewritten, so `0` and `O`, `1` and `l` stay distinct (a
   house number and a postcode are exact);
4. accents are folded (`é` -> `e`, Welsh `ŵ` -> `w`): staff rarely type them, and no UK address differs by one.

`fold` keeps case; the address and name code upper-cases afterwards.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

__all__ = ["fold"]

_SEPARATORS = frozenset(("Zl", "Zp"))


@cache
def _skeleton_table() -> dict[int, str]:
    """Non-ASCII character -> the ASCII letter or digit it is confusable with (TR39's prototype), for str.translate.

    The package's table lists, for each character, the characters it can be confused with. A character whose list
    holds ASCII letters or digits maps to one of them: a letter of the same case first (Greek capital iota is `I`,
    Cyrillic small `і` is `i`), then any letter, then a digit (Cyrillic `З` is `3`)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    table: dict[int, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_alnum = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if not ascii_alnum:
            continue
        letters = [c for c in ascii_alnum if c.isalpha()]
        if char.isalpha():
            # TR39's prototype for capital I is small l: take the ASCII letter of the right case that shares it
            letters += [g["c"] for c in letters for g in data.get(c, ()) if len(g["c"]) == 1 and g["c"].isascii()
                        and g["c"].isalpha()]
        same_case = [c for c in letters if c.isupper() == char.isupper()] if char.isalpha() else []
        choice = (same_case or letters or ascii_alnum)[0]
        table[ord(char)] = choice
    # the matcher compares upper case: a small letter whose capital is confusable (Cyrillic `в`, `н`, `к`, whose
    # capitals look like B, H, K) maps to the small form of that capital's skeleton
    for code, choice in list(table.items()):
        small = chr(code).lower()
        if len(small) == 1 and small != chr(code) and ord(small) not in table and choice.isalpha():
            table[ord(small)] = choice.lower()
    return table


def fold(text: str) -> str:
    """`text` as the matcher compares it (see the module notes). ASCII text is returned as it is."""
    if not text or text.isascii():
        return text or ""
    # the confusables table first as well: NFKC turns a few look-alikes into letters that look like nothing Latin
    # (Greek lunate sigma, which looks like c, becomes final sigma)
    table = _skeleton_table()
    text = unicodedata.normalize("NFKC", text.translate(table))
    out: list[str] = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category in _SEPARATORS:
            out.append(" ")
            continue
        out.append(ch)
    text = "".join(out)
    if not text.isascii():
        # accents: decompose, drop the combining marks, compose what is left (a Greek letter that had one may now
        # be in the table: the look-alikes go last)
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))
    return text.translate(table)
