"""UK address parsing and normalisation.

Staff type addresses the way people do (`12 high st`, `Flat 2, 12 High Street, PR7 1AA`, `pr71aa`), and
spreadsheets and Price Paid style data give them in parts. Everything here turns either form into the same normalised
words, so the lookup index (register/matching.py) compares like with like:

- upper case, punctuation dropped, abbreviations expanded (`Rd` -> ROAD, `Gdns` -> GARDENS, `Hse` -> HOUSE);
- `St` is STREET after a street-name word and SAINT before one (`St Johns Rd` -> SAINT JOHNS ROAD,
  `Air Balloon Road St George` -> ... ROAD SAINT GEORGE);
- `39 A` is `39A`; `12 - 14` is `12-14`; `2/12` is flat 2 at number 12;
- flats and rooms (the SAON) are recognised wherever they appear: `Flat C`, `Apt 3`, `Room 106`, `Ground Floor Flat`,
  `GFF`;
- postcodes are found with or without the space and written `PR7 1AA`.

The house number, the flat and the postcode are exact conditions for a match; this module only makes them comparable
(`Flat A, 37` and `37A` get the same unit path, see `unit_path`). Loose matching of street and town words is done by the
index with rapidfuzz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from register.model import Address
from register.normalise import fold

__all__ = [
    "Token",
    "Unit",
    "PaonParts",
    "STREET_TYPES",
    "STREET_DESCRIPTORS",
    "DESCRIPTOR_WORDS",
    "PLACE_STOPWORDS",
    "normalise_postcode",
    "find_postcode",
    "needs_more",
    "parse_address",
    "address_from_parts",
    "tokenise",
    "split_units",
    "split_units_at",
    "number_parts",
    "normalise_address",
    "outward_code",
    "unit_path",
    "split_paon",
    "fold_units",
    "property_path",
    "street_tokens",
    "place_tokens",
]

# --------------------------------------------------------------------------------------------------------------------
# Vocabulary

# Street-type words: the last word of most street names. Used for the St rule, to leave the type out of the typo index
# (ROAD is not evidence for anything) and to accept `12 High` for HIGH STREET when no other type was typed.
STREET_TYPES = frozenset(
    """ROAD STREET AVENUE LANE DRIVE CLOSE CRESCENT GARDENS PLACE COURT TERRACE SQUARE GROVE PARK WAY WALK HILL MEWS
    ROW RISE VIEW GREEN PARADE ESTATE BUILDINGS MOUNT GATE VALE BANK END FIELDS WHARF QUAY CHASE CROFT MEAD GARTH WYND
    BROW BOULEVARD APPROACH CIRCUS HEIGHTS CORNER YARD PASSAGE CAUSEWAY MEADOW MEADOWS PATH LAWN LAWNS LINK GLADE DALE
    ORCHARD PADDOCK PADDOCKS FOLD HOLLOW WALKWAY ESPLANADE PROMENADE BROADWAY DRIFT LEA VILLAS COTTAGES GROVES WOOD
    GARDEN CROSS GREENWAY TRACK""".split()
)

# Abbreviation -> full word, for any position. `ST` is contextual (see _expand_st) and `NO` before a number is dropped.
# Street descriptors come from street_types.txt (derived from libpostal's list, see its header); the rest are the
# other words of UK addresses.
_ABBREVIATIONS = {
    "HSE": "HOUSE",
    "HO": "HOUSE",
    "COTT": "COTTAGE",
    "CTG": "COTTAGE",
    "CTGE": "COTTAGE",
    "COTTS": "COTTAGES",
    "FM": "FARM",
    "LDG": "LODGE",
    "NTH": "NORTH",
    "STH": "SOUTH",
    "UPR": "UPPER",
    "LWR": "LOWER",
    "GT": "GREAT",
    "LTL": "LITTLE",
    "STN": "STATION",
    "MKT": "MARKET",
    "CHR": "CHURCH",
    "CHU": "CHURCH",
    "MANS": "MANSIONS",
    "APTS": "APARTMENTS",
    # flats and floors
    "FLT": "FLAT",
    "APT": "APARTMENT",
    "APPT": "APARTMENT",
    "APMT": "APARTMENT",
    "RM": "ROOM",
    "MAIS": "MAISONETTE",
    "BSMT": "BASEMENT",
    "BSMNT": "BASEMENT",
    "GRD": "GROUND",
    "GND": "GROUND",
    "FLR": "FLOOR",
    "1ST": "FIRST",
    "2ND": "SECOND",
    "3RD": "THIRD",
    "4TH": "FOURTH",
    "5TH": "FIFTH",
    "6TH": "SIXTH",
    "7TH": "SEVENTH",
    "8TH": "EIGHTH",
    "9TH": "NINTH",
    "10TH": "TENTH",
}


def _read_street_types() -> dict[str, tuple[str, ...]]:
    """street_types.txt: descriptor -> its abbreviations (ST among STREET's)."""
    table: dict[str, tuple[str, ...]] = {}
    text = resources.files("register").joinpath("street_types.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            table[words[0]] = tuple(words[1:])
    return table


# descriptor -> abbreviations, as read (the tests try every one of them)
STREET_DESCRIPTORS = _read_street_types()
for _descriptor, _abbreviations in STREET_DESCRIPTORS.items():
    for _abbreviation in _abbreviations:
        if _abbreviation != "ST":
            _ABBREVIATIONS.setdefault(_abbreviation, _descriptor)

# Every word that ends a street name, for the rules that must know a descriptor when they see one ('12 High Acres' is
# not 12 HIGH STREET with the type left out). STREET_TYPES stays the narrower set the parser splits streets on.
DESCRIPTOR_WORDS = STREET_TYPES | frozenset(STREET_DESCRIPTORS)

# Letter codes for floor flats: `GFF`, `FFF`.
_FLOOR_CODES = {
    "GFF": ("GROUND", "FLOOR", "FLAT"),
    "FFF": ("FIRST", "FLOOR", "FLAT"),
    "SFF": ("SECOND", "FLOOR", "FLAT"),
    "LGF": ("LOWER", "GROUND", "FLOOR"),
    "UGF": ("UPPER", "GROUND", "FLOOR"),
    "GFLAT": ("GROUND", "FLOOR", "FLAT"),
}

# Unit words and their rank: a ROOM sits inside a FLAT, a FLAT inside a BLOCK.
_UNIT_WORDS = {
    "FLAT": 1,
    "FLATS": 1,
    "APARTMENT": 1,
    "UNIT": 1,
    "STUDIO": 1,
    "SUITE": 1,
    "MAISONETTE": 1,
    "BEDSIT": 2,
    "ROOM": 2,
    "BLOCK": 0,
}
_GENERIC_UNIT = {
    "FLAT": "FLAT",
    "FLATS": "FLAT",
    "APARTMENT": "FLAT",
    "MAISONETTE": "FLAT",
    "STUDIO": "FLAT",
    "UNIT": "UNIT",
    "SUITE": "UNIT",
    "ROOM": "ROOM",
    "BEDSIT": "ROOM",
    "BLOCK": "BLOCK",
}
_FLOOR_WORDS = frozenset(
    "GROUND FIRST SECOND THIRD FOURTH FIFTH SIXTH SEVENTH EIGHTH NINTH TENTH TOP BASEMENT LOWER UPPER GARDEN REAR "
    "FRONT ATTIC MIDDLE HALL".split()
)
_FLOOR_END = frozenset(("FLAT", "MAISONETTE", "FLOOR", "APARTMENT"))

# Words that carry no identity in a town or locality name (`Newcastle upon Tyne`, `Bury St Edmunds`).
PLACE_STOPWORDS = frozenset("THE ON UPON UNDER LE LA LES DE IN BY CUM AND EN SUR NEXT OF SAINT SUPER".split())

_PC_RE = re.compile(r"\b((?:GIR ?0AA)|(?:[A-Z]{1,2}[0-9][A-Z0-9]?) ?[0-9][A-Z]{2})\b")
_PC_FULL = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})|(GIR)(0AA))$")
_OUTWARD_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
_NUM_RE = re.compile(r"^\d+[A-Z]?(?:-\d+[A-Z]?)?$")
_ALNUM_RE = re.compile(r"^[A-Z]{1,3}\d+[A-Z]?$")
_ORDINAL_RE = re.compile(r"^\d+(?:ST|ND|RD|TH)$")
_NUMBER_PART_RE = re.compile(r"^(\d+)([A-Z]?)$")
_LEADING_ZEROS_RE = re.compile(r"^0+(?=\d)")
_SPACES_RE = re.compile(r"\s{2,}")
_PC_JUNK_RE = re.compile(r"[\s\-]")
_RANGE_RE = re.compile(r"(\d[A-Z]?)\s*-\s*(\d)")
_SLASH_RE = re.compile(r"\b(\d+[A-Z]?|[A-Z])\s*/\s*(\d+[A-Z]?)\b")
_GLUED_UNIT_RE = re.compile(r"\b(FLAT|FLT|APT|APARTMENT|UNIT|ROOM|RM|NO)(\d)")
_OTHER_CHARS_RE = re.compile(r"[^A-Z0-9,\- ]")
_WORD_HYPHEN_RE = re.compile(r"(?<![0-9])(?<![0-9][A-Z])(?<!\b[A-Z])-|-(?![0-9])(?![A-Z]\b)")
_LETTER_RANGE_RE = re.compile(r"^[A-Z]-[A-Z]$")


# --------------------------------------------------------------------------------------------------------------------
# Postcodes


def normalise_postcode(text: str) -> str:
    """'pr71aa' -> 'PR7 1AA'. '' unless the whole text has the shape of a UK postcode."""
    compact = _PC_JUNK_RE.sub("", fold(text).upper())
    m = _PC_FULL.match(compact)
    if not m:
        return ""
    if m.group(3):
        return "GIR 0AA"
    return f"{m.group(1)} {m.group(2)}"


def find_postcode(text: str) -> tuple[str, str]:
    """The postcode anywhere in `text` (the last one if several) and the text with it removed:
    '12 High St PR7 1AA' -> ('PR7 1AA', '12 High St'). The text comes back folded (register/normalise.py)."""
    text = fold(text)
    upper = text.upper()
    if len(upper) != len(text):  # 'ß' upper-cases to two letters: keep the offsets of `upper` valid for `text`
        text = upper
    found = list(_PC_RE.finditer(upper))
    if not found:
        return "", text or ""
    m = found[-1]
    rest = (text[: m.start()] + " " + text[m.end() :]).strip(" ,")
    rest = _SPACES_RE.sub(" ", rest)
    return normalise_postcode(m.group(1)), rest


def outward_code(token: str) -> bool:
    """True if the token could be a postcode's outward part ('PR7', 'E5', 'EC1V')."""
    return bool(_OUTWARD_RE.match(token))


# --------------------------------------------------------------------------------------------------------------------
# Tokens


class Token(NamedTuple):
    kind: str  # 'N' house number ('12', '39A', '12-14'); 'A' letters+digits ('A15', 'E5'); 'W' word
    value: str  # normalised
    raw: str  # as typed (upper case), e.g. 'ST' for both SAINT and STREET
    seg: int  # comma-separated segment it came from


def _clean(text: str) -> str:
    s = fold(text).upper()
    s = s.replace("\u2019", "").replace("'", "").replace("`", "").replace("&", " AND ")
    s = s.replace(".", " ")
    if "-" in s:
        s = _RANGE_RE.sub(r"\1-\2", s)  # 12 - 14 -> 12-14, 2B - 2C -> 2B-2C
    if "/" in s:
        s = _SLASH_RE.sub(r" FLAT \1 \2 ", s)  # 2/12, B/27 -> flat 2 at 12
    s = _GLUED_UNIT_RE.sub(r"\1 \2", s)  # FLT10 -> FLT 10
    s = _OTHER_CHARS_RE.sub(" ", s)
    # keep the hyphen of a number range (12-14, 2B-2C); between words it is a space (BURTON-ON-TRENT)
    if "-" in s:
        s = _WORD_HYPHEN_RE.sub(" ", s)
    s = s.replace(",", " , ")
    return s


def _classify(tok: str) -> str:
    if _NUM_RE.match(tok):
        return "N"
    if _ORDINAL_RE.match(tok):
        return "W"
    if _ALNUM_RE.match(tok):
        return "A"
    return "W"


def _norm_num(tok: str) -> str:
    """'012' -> '12', '2B-2C' stays, '39a' -> '39A'."""
    if not tok.startswith("0") and "-0" not in tok:
        return tok
    return "-".join(_LEADING_ZEROS_RE.sub("", p) for p in tok.split("-"))


def tokenise(text: str, *, field: str = "") -> list[Token]:
    """Split an address (postcode already removed) into normalised tokens.

    `field` says which part of an address the text is ('street', 'place', 'name'), which decides `St`; '' is free text.
    """
    if field:
        return list(_tokenise_cached(text or "", field))
    return list(_tokenise(text or "", field))  # free text (a check, an import line): not kept in memory


@lru_cache(maxsize=32768)
def _tokenise_cached(text: str, field: str) -> tuple[Token, ...]:
    # a register repeats its street, town and locality names many times
    return _tokenise(text, field)


def _tokenise(text: str, field: str) -> tuple[Token, ...]:
    raw_tokens: list[tuple[str, int]] = []
    seg = 0
    for t in _clean(text).split():
        if t == ",":
            seg += 1
            continue
        raw_tokens.append((t, seg))

    # join '39 A' -> '39A' (a single letter straight after a plain number)
    joined: list[tuple[str, int]] = []
    i = 0
    while i < len(raw_tokens):
        t, s = raw_tokens[i]
        if (
            t.isdigit()
            and i + 1 < len(raw_tokens)
            and len(raw_tokens[i + 1][0]) == 1
            and raw_tokens[i + 1][0].isalpha()
            and raw_tokens[i + 1][1] == s
            and raw_tokens[i + 1][0] != "Y"  # Welsh 'the': 14 Y BRYN
        ):
            joined.append((t + " " + raw_tokens[i + 1][0], s))
            i += 2
            continue
        joined.append((t, s))
        i += 1

    tokens: list[Token] = []
    n = len(joined)
    for i, (t, s) in enumerate(joined):
        if " " in t:  # '39 A' joined: the raw keeps the space, so a matcher can still read it as 39 + 'A ...'
            tokens.append(Token("N", _norm_num(t.replace(" ", "")), t, s))
            continue
        kind = _classify(t)
        if kind == "N":
            tokens.append(Token("N", _norm_num(t), t, s))
            continue
        if kind == "A":
            tokens.append(Token("A", t, t, s))
            continue
        nxt = joined[i + 1][0] if i + 1 < n else ""
        if t in ("NO", "NUMBER") and nxt and _classify(nxt) == "N":
            continue  # 'No 12'
        if t in _FLOOR_CODES:
            for w in _FLOOR_CODES[t]:
                tokens.append(Token("W", w, t, s))
            continue
        if t == "ST":
            tokens.append(Token("W", _expand_st(joined, i, field), t, s))
            continue
        tokens.append(Token("W", _ABBREVIATIONS.get(t, t), t, s))
    return tuple(tokens)


def _expand_st(toks: list[tuple[str, int]], i: int, field: str) -> str:
    """`St` is STREET after a street-name word and SAINT before one."""
    prev = toks[i - 1] if i > 0 else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    seg = toks[i][1]
    if field == "place":
        return "SAINT" if nxt is not None else "STREET"
    if prev is None or prev[1] != seg or " " in prev[0] or _classify(prev[0]) != "W":
        return "SAINT"  # start, after a comma, after a number: St Johns Road
    if nxt is None or nxt[1] != seg or " " in nxt[0] or _classify(nxt[0]) != "W":
        return "STREET"  # the end of the street: High St
    prev_word = _ABBREVIATIONS.get(prev[0], prev[0])
    if prev_word in STREET_TYPES or prev_word in ("ST", "STREET", "SAINT"):
        return "SAINT"  # Air Balloon Road St George
    if field != "street":
        # a street type further on in the same part means this St starts a name: Lolano House St Johns Road
        for t, s in toks[i + 1 :]:
            if s != seg:
                break
            if _ABBREVIATIONS.get(t, t) in STREET_TYPES and t != "ST":
                return "SAINT"
    return "STREET"


# --------------------------------------------------------------------------------------------------------------------
# Flats and rooms (SAON)


@dataclass(frozen=True, slots=True)
class Unit:
    """One level of a sub-building: rank 0 block, 1 flat, 2 room. `id` is what must be equal ('2', 'C', '~GROUND')."""

    rank: int
    id: str
    text: str


def _unit_id(tok: Token) -> str:
    return _norm_num(tok.value) if tok.kind == "N" else tok.value


def split_units(tokens: list[Token]) -> tuple[list[Unit], list[Token]]:
    """Take the flats and rooms out of a token list wherever they are ('31, Flat C, Richmond Avenue').
    Returns (units, rest)."""
    units, rest, _ = split_units_at(tokens)
    return units, rest


def split_units_at(tokens: list[Token]) -> tuple[list[Unit], list[Token], list[tuple[int, Token | None]]]:
    """split_units, and for each unit where it stood in `rest` and the token that gave its id (None if none)."""
    where: list[tuple[int, Token | None]] = []
    units: list[Unit] = []
    rest: list[Token] = []
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        v = t.value
        if t.kind == "W" and v in _UNIT_WORDS:
            kind = "APARTMENT" if v == "APARTMENT" else _GENERIC_UNIT[v]
            generic = v in ("FLAT", "MAISONETTE") and bool(rest) and rest[-1].value == "THE"  # 'THE FLAT 48A ...'
            if rest and rest[-1].kind == "W" and rest[-1].value == "THE":
                rest.pop()
            nxt = tokens[i + 1] if i + 1 < n and tokens[i + 1].seg == t.seg else None
            if (
                nxt is not None
                and not generic
                and (
                    nxt.kind in "NA" or (nxt.kind == "W" and (len(nxt.value) == 1 or _LETTER_RANGE_RE.match(nxt.value)))
                )
            ):
                ident = _unit_id(nxt)
                units.append(Unit(_UNIT_WORDS[v], ident, f"{kind} {ident}"))
                where.append((len(rest), nxt))
                i += 2
                continue
            if v in ("FLAT", "FLATS", "MAISONETTE", "APARTMENT", "STUDIO") or (nxt is None or nxt.kind != "W"):
                units.append(Unit(_UNIT_WORDS[v], "*" + _GENERIC_UNIT[v], kind))
                where.append((len(rest), None))
                i += 1
                continue
            # 'UNIT' / 'ROOM' / 'BLOCK' followed by a word: not a unit ('Suite Road'? keep as a word)
            rest.append(t)
            i += 1
            continue
        if t.kind == "W" and v in _FLOOR_WORDS:
            j = i
            words: list[str] = []
            while (
                j < n
                and tokens[j].kind == "W"
                and (tokens[j].value in _FLOOR_WORDS or tokens[j].value in ("AND", "FLOOR"))
            ):
                words.append(tokens[j].value)
                j += 1
            end = tokens[j].value if j < n and tokens[j].kind == "W" else ""
            if end in _FLOOR_END:
                words.append(end)
                j += 1
            if words and (words[-1] in _FLOOR_END or (words == ["BASEMENT"] and (j >= n or tokens[j].kind != "W"))):
                if rest and rest[-1].kind == "W" and rest[-1].value == "THE":
                    rest.pop()
                key = " ".join(w for w in words if w not in _FLOOR_END)
                if not key:
                    key = "FLAT"
                # 'BASEMENT FLAT A 1 RIDGE ROAD', 'TOP FLOOR FLAT 1, 12 HIGH ST': an id, then the house number; the
                # id is what identifies the flat. ('GROUND FLOOR FLAT 12 HIGH ST': 12 is the house number.)
                idt = tokens[j] if j < n else None
                after = tokens[j + 1] if j + 1 < n else None
                if (
                    idt is not None
                    and (after is None or after.kind == "N")
                    and words[-1] in ("FLAT", "APARTMENT", "MAISONETTE")
                    and (idt.kind in "NA" or (idt.kind == "W" and len(idt.value) == 1))
                ):
                    units.append(Unit(1, _unit_id(idt), f"{' '.join(words)} {idt.value}"))
                    where.append((len(rest), idt))
                    i = j + 1
                    continue
                units.append(Unit(1, "~" + key, " ".join(words)))
                where.append((len(rest), None))
                i = j
                continue
        rest.append(t)
        i += 1
    return units, rest, where


def unit_path(units: list[Unit], letter: str = "") -> tuple[str, ...]:
    """The comparable flat path: a house-number suffix letter first ('39A' -> ('A',)), then the units outermost first.

    'Flat A, 37' and '37A' both give ('A',): the labelled AddressBase data records them as the same property.
    """
    ordered = sorted(units, key=lambda u: u.rank)
    ids = [u.id for u in ordered]
    # a generic 'FLAT' with no id next to a numbered unit adds nothing ('Flat, Room 3')
    if len(ids) > 1:
        ids = [x for x in ids if not x.startswith("*")] or ids[:1]
    return ((letter,) if letter else ()) + tuple(ids)


# --------------------------------------------------------------------------------------------------------------------
# Building name / number (PAON)


@dataclass(frozen=True, slots=True)
class PaonParts:
    name: tuple[str, ...]  # building name tokens without THE: ('LOLANO', 'HOUSE')
    number: str  # '12', '39A', '12-14' or ''
    lo: int  # first number of the range (0 if none)
    hi: int
    letter: str  # suffix letter of a single number ('A' for 39A)
    units: tuple[Unit, ...]  # a unit written in the PAON column ('FLAT 15')


def number_parts(num: str) -> tuple[int, int, str]:
    """'39A' -> (39, 39, 'A'); '12-14' -> (12, 14, ''); '2B-2C' -> (2, 2, '')."""
    parts = num.split("-")
    m1 = _NUMBER_PART_RE.match(parts[0])
    if not m1:
        return 0, 0, ""
    lo = int(m1.group(1))
    if len(parts) == 1:
        return lo, lo, m1.group(2)
    m2 = _NUMBER_PART_RE.match(parts[-1])
    hi = int(m2.group(1)) if m2 else lo
    if hi < lo:
        lo, hi = hi, lo
    if lo == hi and m1.group(2) == (m2.group(2) if m2 else ""):
        return lo, hi, m1.group(2)
    return lo, hi, ""


def split_paon(paon: str) -> PaonParts:
    """'SAFFRON COURT, 50' -> name SAFFRON COURT, number 50; 'THE CHAPEL LODGE 39 A' -> name CHAPEL LODGE, 39A."""
    toks = tokenise(paon, field="name")
    units, rest = split_units(toks)
    number = ""
    if rest and rest[-1].kind == "N":
        number = rest[-1].value
        rest = rest[:-1]
    elif len(rest) == 1 and rest[0].kind == "A":
        # 'A15' as the whole PAON: a number-like name; keep it as the name
        pass
    name = tuple(t.value for t in rest if not (t.kind == "W" and t.value == "THE"))
    lo, hi, letter = number_parts(number) if number else (0, 0, "")
    return PaonParts(name, number, lo, hi, letter, tuple(units))


def fold_units(units: list[Unit], lo: int, hi: int) -> list[Unit]:
    """'Flat 202B' at 202 is flat B: AddressBase writes '202 B 202 BROOKE ROAD' for what is sold as 202B."""
    out = []
    for u in units:
        digits, letter = u.id[:-1], u.id[-1:]
        if letter.isalpha() and digits.isdigit() and lo <= int(digits) <= hi:
            u = Unit(u.rank, letter, u.text)
        out.append(u)
    return out


def property_path(address: Address, parts: PaonParts | None = None) -> tuple[str, ...]:
    """The comparable flat path of a (normalised) address: ('A',) for 39A and for FLAT A, 39; () for the building."""
    parts = parts or split_paon(address.paon)
    units, _ = split_units(tokenise(address.saon, field="name"))
    if not units and address.saon:
        # a SAON with no unit word: '2' (Price Paid) or a name ('THE GRANARY')
        toks = [t for t in tokenise(address.saon, field="name") if t.value not in ("THE", "AT", "OF")]
        if len(toks) == 1 and (toks[0].kind in "NA" or len(toks[0].value) == 1):
            units = [Unit(1, toks[0].value, toks[0].value)]
        elif toks:
            units = [Unit(1, "~" + " ".join(t.value for t in toks), address.saon)]
    # a unit word in the PAON ('HADLEIGH HALL FLATS') and the SAON's number ('4') together: flat 4 of the flats
    units = list(parts.units) + units
    if parts.number:
        units = fold_units(units, parts.lo, parts.hi)
    return unit_path(units, parts.letter)


# --------------------------------------------------------------------------------------------------------------------
# Normalised parts


def _join(tokens: list[Token]) -> str:
    return " ".join(t.value for t in tokens)


def street_tokens(street: str) -> list[Token]:
    return tokenise(street, field="street")


def place_tokens(place: str) -> list[Token]:
    return tokenise(place, field="place")


def _norm_saon(saon: str) -> str:
    toks = tokenise(saon, field="name")
    units, rest = split_units(toks)
    words = [t.value for t in rest]
    if units and all(w in ("AT", "THE", "OF") for w in words):
        return " ".join(u.text for u in sorted(units, key=lambda u: u.rank, reverse=True))
    return " ".join(t.value for t in toks)


def _norm_paon(paon: str) -> str:
    parts = split_paon(paon)
    toks = tokenise(paon, field="name")
    if parts.number and parts.name:
        # keep the name as written (with THE) and the number after a comma, Price Paid style: 'SAFFRON COURT, 50'
        _, rest = split_units(toks)
        name = " ".join(t.value for t in rest[:-1])
        return f"{name}, {parts.number}"
    return " ".join(t.value for t in toks)


def address_from_parts(
    *,
    paon: str,
    saon: str = "",
    street: str = "",
    locality: str = "",
    town: str = "",
    postcode: str = "",
    text: str = "",
    uprn: str = "",
) -> Address:
    """An Address from its parts (Price Paid columns, an import spreadsheet), each part normalised."""
    saon_n = _norm_saon(saon)
    paon_n = _norm_paon(paon)
    pparts = split_paon(paon)
    if pparts.units and not pparts.name and not pparts.number and not saon_n:
        saon_n, paon_n = paon_n, ""  # 'FLAT 15' in the PAON column
    pc = normalise_postcode(postcode)
    if not pc and postcode:
        pc, _ = find_postcode(postcode)
    if not text:
        # a building name stands apart from its street, as Address.display writes it: 'Rose Cottage, Mill Lane'
        sep = ", " if paon.strip()[:1].isalpha() and not paon.strip()[-1:].isdigit() else " "
        first = sep.join(p for p in (paon.strip(), street.strip()) if p)
        text = ", ".join(
            p for p in (saon.strip(), first, locality.strip(), town.strip(), (postcode or "").strip()) if p
        )
    loc = _join(place_tokens(locality))
    twn = _join(place_tokens(town))
    if loc == twn:
        loc = ""  # Price Paid repeats the town as locality
    return Address(
        text=text,
        saon=saon_n,
        paon=paon_n,
        street=_join(street_tokens(street)),
        locality=loc,
        town=twn,
        postcode=pc,
        uprn=uprn,
    )


def normalise_address(address: Address) -> Address:
    """The normalised form of an Address however it was built (parts, or only `text`)."""
    if not (address.paon or address.saon or address.street) and address.text:
        parsed = parse_address(address.text, postcode=address.postcode, town=address.town, locality=address.locality)
        return replace(parsed, text=address.text, uprn=address.uprn)
    return address_from_parts(
        paon=address.paon,
        saon=address.saon,
        street=address.street,
        locality=address.locality,
        town=address.town,
        postcode=address.postcode,
        text=address.text,
        uprn=address.uprn,
    )


def parse_address(text: str, postcode: str = "", town: str = "", locality: str = "") -> Address:
    """Parse an address written the way staff or a spreadsheet write it: 'Flat 2, 12 High Street, Chorley'.

    The postcode may be in the text or given separately; so may the town and locality (Price Paid style). Street and
    town are split by commas when there are any, otherwise at the first street-type word after the house number.
    """
    original = text or ""
    pc = normalise_postcode(postcode) if postcode else ""
    found, rest_text = find_postcode(original)
    if not pc:
        pc = found
    elif found:
        rest_text = rest_text if found == pc else original
    toks = tokenise(rest_text)
    units, rest = split_units(toks)

    town_t = place_tokens(town) if town else []
    loc_t = place_tokens(locality) if locality else []

    def strip_tail(seq: list[Token], words: list[Token]) -> list[Token]:
        values = [t.value for t in words]
        if values and len(seq) >= len(values) and [t.value for t in seq[-len(values) :]] == values:
            return seq[: -len(values)]
        return seq

    rest = strip_tail(rest, town_t)
    rest = strip_tail(rest, loc_t)

    # the house number: the last plain number that is followed by words (or the last number of all)
    anchor = -1
    for i, t in enumerate(rest):
        if t.kind == "N" and (i + 1 >= len(rest) or rest[i + 1].kind == "W"):
            anchor = i
    if anchor < 0:
        for i, t in enumerate(rest):
            if t.kind == "N":
                anchor = i
    extra_units: list[Unit] = []
    name_toks: list[Token] = []
    if anchor >= 0:
        pre = rest[:anchor]
        post = rest[anchor + 1 :]
        number = rest[anchor].value
        # numbers before the house number are flats ('2, 12 High St'), unless a name follows them ('2 Kings Mews, 47')
        for t in pre:
            if t.kind in "NA" and not name_toks:
                extra_units.append(Unit(1, _unit_id(t), t.value))
            else:
                name_toks.append(t)
        # '2 Bourne Cottages, The Street, Bishopsbourne', '12 The Oaks, The Street': a numbered house of a named row
        # or building, then plainly a street (Price Paid: SAON 2, PAON BOURNE COTTAGES); the number is the row's
        seg_ids = sorted({t.seg for t in post})
        if not pre and not units and len(seg_ids) >= 2:
            first = [t for t in post if t.seg == seg_ids[0]]
            second = [t for t in post if t.seg == seg_ids[1]]
            if (
                len(first) >= 2
                and not _plainly_a_street([t.value for t in first])
                and _plainly_a_street([t.value for t in second], first[-1].value in _ROW_WORDS)
                and not any(t.kind != "W" for t in first + second)
            ):
                extra_units.append(Unit(1, _unit_id(rest[anchor]), rest[anchor].value))
                number = ""
                name_toks = [t for t in first if t.value != "THE"] or first
                post = [t for t in post if t.seg != seg_ids[0]]
    else:
        number = ""
        pre, post = [], rest
        # no number: a leading number-like token is a flat in a named building ('32 Hume Court, Hawes Street')
        if post and post[0].kind in "NA" and len(post) > 1:
            extra_units.append(Unit(1, _unit_id(post[0]), post[0].value))
            post = post[1:]
        # the building name runs up to the first comma when there is one
        if post and len({t.seg for t in post}) > 1:
            first_seg = post[0].seg
            name_toks = [t for t in post if t.seg == first_seg]
            post = [t for t in post if t.seg != first_seg]
            if _looks_like_street(name_toks):
                # 'The Old Post House Burford Road, ...' (how Address.display writes a name before a street)
                cut = _name_street_cut(name_toks)
                if cut > 0:
                    name_toks, post = name_toks[:cut], name_toks[cut:] + post
                elif (
                    units
                    and post
                    and not _looks_like_street(post)
                    and not any(t.value in _BUILDING_WORDS for t in name_toks)  # GEORGES COURT is a building
                ):
                    name_toks, post = [], name_toks + post  # 'Flat 24, Artichoke Hill, London': no house at all
        else:
            # 'Lolano House Barker Place': the name is what comes before the street
            cut = _name_street_cut(post)
            name_toks, post = post[:cut], post[cut:]

    street_t, place_t = _split_street_place(post, has_number=bool(number or name_toks))
    loc_words = loc_t
    town_words = town_t
    if not town_words and place_t:
        segs: list[list[Token]] = []
        for t in place_t:
            if segs and segs[-1][-1].seg == t.seg:
                segs[-1].append(t)
            else:
                segs.append([t])
        after_comma = bool(street_t) and street_t[-1].seg != place_t[0].seg
        if len(segs) > 1 or after_comma:
            town_words = segs[-1]
            if not loc_words:
                loc_words = [t for seg in segs[:-1] for t in seg]
        else:
            cut = _town_start([t.value for t in place_t])
            town_words = place_t[cut:]
            if not loc_words:
                loc_words = place_t[:cut]

    all_units = units + extra_units
    saon = " ".join(u.text for u in sorted(all_units, key=lambda u: u.rank))
    if all(t.value in ("AT", "OF", "THE") for t in name_toks):
        name_toks = []  # 'THE LOWER MAISONETTE AT, 22 OFFLEY ROAD': the words that tie a flat to its house
    name = " ".join(t.value for t in name_toks)
    paon = f"{name}, {number}" if name and number else (name or number)
    loc = " ".join(_place_fix(loc_words))
    twn = " ".join(_place_fix(town_words))
    if loc == twn:
        loc = ""
    return Address(
        text=original,
        saon=saon,
        paon=paon,
        street=" ".join(t.value for t in street_t),
        locality=loc,
        town=twn,
        postcode=pc,
    )


def _place_fix(words: list[Token]) -> list[str]:
    # in a town name a typed St is Saint ('Bury St Edmunds'), as address_from_parts does for the town column; the
    # word STREET typed in full stays STREET ('The Street, Bishopsbourne' is not 'The Saint')
    return [
        "SAINT" if t.value == "STREET" and t.raw == "ST" and i + 1 < len(words) else t.value
        for i, t in enumerate(words)
    ]


def _looks_like_street(toks: list[Token]) -> bool:
    return any(t.kind == "W" and t.value in STREET_TYPES for t in toks)


def _first_type_end(toks: list[Token]) -> int:
    """Index just after the first street-type word (not the first word), or -1."""
    for i, t in enumerate(toks):
        if (
            t.value in _NAME_TYPES
            and i + 1 < len(toks)
            and toks[i + 1].value in _HOUSE_WORDS
            and toks[i + 1].seg == t.seg
        ):
            continue  # 'FURZE HILL HOUSE': HILL names the house, it does not end a street
        if i > 0 and t.kind == "W" and t.value in STREET_TYPES:
            # 'HIGH STREET NORTH' / 'ST GEORGES LANE NORTH': a compass word right after the type belongs to the street
            j = i + 1
            if (
                j < len(toks)
                and toks[j].value in ("NORTH", "SOUTH", "EAST", "WEST", "CENTRAL")
                and toks[j].seg == t.seg
            ):
                if j + 1 >= len(toks) or toks[j + 1].seg != t.seg:
                    j += 1
            return j
        if i == 0 and t.kind == "W" and t.value in STREET_TYPES and len(toks) > 1 and toks[0].value == "THE":
            return 1
    if len(toks) >= 2 and toks[0].value == "THE" and toks[1].value in STREET_TYPES:
        return 2
    return -1


# street types that also end house names ('FURZE HILL HOUSE', 'PARK FARM'), and the house words that follow them
_NAME_TYPES = frozenset("HILL PARK GREEN VIEW END BANK CROFT MEAD WOOD FIELDS VALE DALE LEA ORCHARD GROVE".split())
_HOUSE_WORDS = frozenset("HOUSE COTTAGE COTTAGES FARM LODGE BARN BUNGALOW VILLA HALL".split())

_BUILDING_WORDS = frozenset(
    """HOUSE COURT COTTAGE COTTAGES FARM LODGE HALL MANSIONS APARTMENTS BUILDINGS TOWER HOUSES BARN MILL MANOR
    CHAMBERS BUNGALOW VILLA VILLAS GRANGE CENTRE HOTEL HOME WHARF POINT PLACE VIEW""".split()
)


# what ends the name of a numbered row of houses ('BOURNE COTTAGES', 'PARK VILLAS'), and what is a street after it
# (after any other name a locality can end in STREET or LANE too: CROFTERS COURT, RED STREET is a village's)
_ROW_WORDS = _HOUSE_WORDS | frozenset("VILLAS BUILDINGS MANSIONS HOUSES CHAMBERS".split())
_STREET_ONLY = frozenset("ROAD STREET LANE AVENUE DRIVE CLOSE CRESCENT WAY GARDENS SQUARE".split())


def _plainly_a_street(words: list[str], after_row: bool = True) -> bool:
    """A street named after its descriptor ('THE STREET', 'THE GREEN'); after a row's name also 'HIGH STREET'."""
    if len(words) == 2 and words[0] == "THE" and words[1] in DESCRIPTOR_WORDS:
        return True
    return after_row and len(words) >= 2 and words[-1] in _STREET_ONLY


def _name_street_cut(toks: list[Token]) -> int:
    """Where the building name ends in an address with no house number ('LOLANO HOUSE BARKER PLACE LEEDS' -> 2).

    Such an address has a name; the street, if any, is the run that ends at a street-type word."""
    types = [
        i
        for i, t in enumerate(toks)
        if i > 0 and t.value in STREET_TYPES and not (i + 1 < len(toks) and toks[i + 1].value in _BUILDING_WORDS)
    ]
    bwords = [i for i, t in enumerate(toks) if t.value in _BUILDING_WORDS and t.value not in STREET_TYPES]
    if not types:
        return (bwords[-1] + 1) if bwords else min(1, len(toks))
    first = types[0]
    if bwords and bwords[0] < first:
        return bwords[0] + 1  # ROSE COTTAGE | CHURCH LANE
    if len(types) >= 2 and types[1] - first <= 3:
        return first + 1  # OAKLEY COURT | PRITCHATTS ROAD
    start = first - 1  # THE CLOISTERS | GORDON SQUARE: one name word before the type
    if start >= 1 and toks[start - 1].value == "SAINT":
        start -= 1
    return max(start, 0)


def _split_street_place(post: list[Token], has_number: bool = True) -> tuple[list[Token], list[Token]]:
    if not post:
        return [], []
    segs = {t.seg for t in post}
    if len(segs) > 1:
        first = post[0].seg
        street = [t for t in post if t.seg == first]
        place = [t for t in post if t.seg != first]
        return street, place
    end = _first_type_end(post)
    if end <= 0:
        if not has_number:
            return [], post  # 'Furze Hill House, Hildersham, Cambridge': a named house with no street
        # no street type ('25 Kingsdon Somerton'): the first word is the street
        end = 1 if post[0].value != "THE" else min(2, len(post))
    return post[:end], post[end:]


_TOWN_JOINERS = frozenset("ON UPON UNDER LE LA DE IN BY CUM EN SUR SAINT SUPER AND THE".split())


def _town_start(words: list[str]) -> int:
    """Where the town starts in 'SAINT GEORGE BRISTOL' (2) or 'NEWCASTLE UPON TYNE' (0): the last word with the words
    joined to it ('X UPON Y', 'BURY SAINT EDMUNDS')."""
    if not words:
        return 0
    i = len(words) - 1
    while i >= 2 and words[i - 1] in _TOWN_JOINERS:
        i -= 2
    while i >= 1 and words[i - 1] in _TOWN_JOINERS and i - 1 == 0:
        i -= 1
    return max(i, 0)


def needs_more(query: str) -> bool:
    """True when a query is too vague for "no alert" to mean anything: a number with no street or postcode
    (`12`, `flat 2`), a street with no house number or name (`High Street`), a lone word (`Chorley`), or only the
    first half of a postcode (`PR7`). Asked only after a lookup found nothing, so a person named like a street is
    still found first. A full postcode is always specific enough: a clear for it covers every property in it."""
    postcode, rest = find_postcode(query)
    if postcode:
        return False
    tokens = tokenise(rest)
    # a house number; the number straight after 'Flat', 'Unit', ... is the flat's, not the building's
    numbers = [t for i, t in enumerate(tokens) if t.kind in ("N", "A")
               and not (i and tokens[i - 1].kind == "W" and tokens[i - 1].value in _UNIT_WORDS)]
    words = [t for t in tokens if t.kind == "W" and t.value not in _UNIT_WORDS and t.value not in _FLOOR_WORDS]
    if not words:
        return True  # '12', 'flat 2', 'PR7', ''
    if numbers:
        return False  # a number and a street or building: an address
    street_segments = [t.seg for t in words if t.value in STREET_TYPES]
    if street_segments:
        # a street without a house number; unless a building name stands before it ('Rose Cottage, Mill Lane')
        return not any(t.seg < min(street_segments) for t in words)
    return len(words) < 2  # one word: neither a full name nor an address
