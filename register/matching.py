"""The in-memory lookup index: what a check shows for an address, a postcode or a person's name.

Safety rules (the policy on what a check shows, and how staff type addresses):

- The house number, the flat and the postcode are exact conditions. 12 never matches 112; 12A is not 12; Flat 1 is not
  Flat 2 (that is a BUILDING notice). A postcode on both sides must be equal; a missing one is not a mismatch.
- Only street and town words match loosely (typos, abbreviations), with rapidfuzz's OSA edit distance: no edit for words
  of up to 3 letters, 1 for 4-7 letters, 2 for 8 or more.
- Several possible properties give AMBIGUOUS, never a guess; each candidate's `address.display()` re-run as a query
  gives exactly that property.
- Entries are checked against `today` at lookup time: an expired, lifted, rejected or lapsed entry never alerts.

How a lookup stays fast at 100,000 entries: nothing scans the register. Candidates come from four small indexes:
postcode -> docs; building name -> docs; (house number, street word) -> docs, reached typo-tolerantly through a
SymSpell-style deletion index over the street-word vocabulary; and the same deletion index over person-name tokens.
Only the few survivors get the precise comparison (`_verify`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from rapidfuzz.distance import OSA

from register.address import (
    DESCRIPTOR_WORDS,
    PLACE_STOPWORDS,
    STREET_TYPES,
    Token,
    Unit,
    find_postcode,
    fold_units,
    normalise_address,
    normalise_postcode,
    number_parts,
    outward_code,
    place_tokens,
    property_path,
    split_paon,
    split_units_at,
    street_tokens,
    tokenise,
    unit_path,
)
from register.model import Address, Entry, Incident, IncidentStatus, Outcome, Status
from register.normalise import fold

__all__ = ["Match", "LookupResult", "RegisterIndex"]

MAX_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class Match:
    ref: str  # entry or incident ref
    kind: Literal["entry", "incident"]
    address: Address | None
    entry: Entry | None = None
    incident: Incident | None = None
    score: float = 100.0
    postcode_differs: bool = False  # a choice offered although the typed postcode is one slip away from its own


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: Outcome
    matches: tuple[Match, ...]  # best first
    # ALERT: the live entries at that property (or, for a name query, for that person)
    # BUILDING: the live/pending entries at OTHER flats of the same building
    # PENDING: the pending entries / pending incidents at that property
    # AMBIGUOUS: one Match per candidate property, at most 5, best first
    # NONE: ()
    #: NONE for a query too vague for "no alert" to mean anything ('12', 'High Street'): the user is asked for the
    #: property instead, and the audit trail says so (Register.check)
    vague: bool = False


_NONE = LookupResult(Outcome.NONE, ())

# relation of a register document to the queried property
_SAME, _COVERED, _BUILDING = 3, 2, 1

_PERSON_TITLES = frozenset("MR MRS MS MISS MX DR PROF REV SIR DAME LADY LORD".split())
_MAX_RANGE = 30  # a number range wider than this is indexed by its ends only
# an index table: key -> doc id, or a set of doc ids when several share the key (keys differ by table)
_Table = dict[Any, int | set[int]]
# words that make a different town of the next one: NEW MALDEN is not MALDON, NORTH SHIELDS is not SOUTH SHIELDS
_TOWN_MODIFIERS = frozenset(
    "NEW OLD NORTH SOUTH EAST WEST GREAT LITTLE UPPER LOWER HIGH LONG NETHER MIDDLE KINGS KINGSTON MARKET CHIPPING "
    "BISHOPS CASTLE CHURCH STONY".split()
)


# --------------------------------------------------------------------------------------------------------------------
# fuzzy words


def _max_edits(word: str) -> int:
    n = len(word)
    return 0 if n <= 3 else (1 if n <= 7 else 2)


def _word_sim(q: str, e: str) -> float:
    """Similarity 0-100 of a typed word to a register word, or -1 if it is not within the allowed edits."""
    if q == e:
        return 100.0
    allow = _max_edits(e)
    if allow == 0 or len(q) < 3:
        return -1.0
    d = OSA.distance(q, e, score_cutoff=allow)
    if d > allow:
        return -1.0
    return 100.0 * (1.0 - d / max(len(q), len(e)))


def _tok_sim(t: Token, e: str) -> float:
    if t.raw == "ST" and e in ("SAINT", "STREET"):
        return 100.0  # St is Street or Saint; the context rule can be wrong in odd orders
    if t.kind != "W":
        return 100.0 if t.value == e else -1.0
    s = _word_sim(t.value, e)
    if s < 100.0 and t.raw != t.value and t.raw.isalpha():
        # a typo that happens to be an abbreviation: 'Est Pastures' for WEST PASTURES, not ESTATE PASTURES
        s = max(s, _word_sim(t.raw, e))
    return s


def _deletes(word: str, depth: int) -> set[str]:
    """The word with up to `depth` (0-2) letters deleted, down to 2 letters."""
    n = len(word)
    out = {word}
    if depth >= 1 and n > 2:
        out.update([word[:i] + word[i + 1 :] for i in range(n)])
        if depth >= 2 and n > 3:
            out.update([word[:i] + word[i + 1 : k] + word[k + 1 :] for i in range(n) for k in range(i + 1, n)])
    return out


def _name_sim(q: str, e: str) -> float:
    """Like _word_sim but symmetric, for people's names: 'Jon' finds JOHN and 'John' finds JON."""
    if q == e:
        return 100.0
    allow = _max_edits(max(q, e, key=len))
    if allow == 0 or min(len(q), len(e)) < 3:
        return -1.0
    d = OSA.distance(q, e, score_cutoff=allow)
    if d > allow:
        return -1.0
    return 100.0 * (1.0 - d / max(len(q), len(e)))


class _Vocabulary:
    """Words with a SymSpell-style deletion index: every word within the allowed OSA distance of a typed word."""

    __slots__ = ("_words", "_deletes", "_cache", "_sim")

    def __init__(self, sim: Callable[[str, str], float] = _word_sim) -> None:
        self._words: set[str] = set()
        self._deletes: dict[str, str | list[str]] = {}  # a lone word is stored bare (most deletions have one)
        self._cache: dict[str, tuple[str, ...]] = {}
        self._sim = sim

    def add(self, word: str) -> None:
        if word in self._words:
            return
        self._words.add(word)
        table = self._deletes
        for d in _deletes(word, _max_edits(word)):
            cur = table.get(d)
            if cur is None:
                table[d] = word
            elif isinstance(cur, str):
                table[d] = [cur, word]
            else:
                cur.append(word)
        self._cache.clear()

    def near(self, q: str) -> tuple[str, ...]:
        hit = self._cache.get(q)
        if hit is not None:
            return hit
        # Within k edits there are at most k deletions on each side. A typed word needs its own 2-deletions only when
        # it has 8+ letters: a shorter one is within 2 edits of an 8+ letter word only through deletions on the
        # register's side (stored) plus at most one of its own.
        depth = 2 if len(q) >= 8 else (1 if len(q) >= 3 else 0)
        seen: set[str] = set()
        table = self._deletes
        for d in _deletes(q, depth):
            cur = table.get(d)
            if cur is None:
                continue
            if isinstance(cur, str):
                seen.add(cur)
            else:
                seen.update(cur)
        out = tuple(w for w in seen if self._sim(q, w) >= 0)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[q] = out
        return out

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._words


# --------------------------------------------------------------------------------------------------------------------
# documents: an entry or incident, with its address taken apart once


def _sig(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w not in PLACE_STOPWORDS)


def _head(words: tuple[str, ...]) -> tuple[str, ...]:
    """The part of a town name before a joiner: NEWCASTLE of NEWCASTLE UPON TYNE, BURY of BURY SAINT EDMUNDS."""
    out: list[str] = []
    for w in words:
        if w in PLACE_STOPWORDS:
            if out:
                break
            continue
        out.append(w)
    return tuple(out)


@dataclass(slots=True, eq=False)
class _Doc:
    id: int
    ref: str
    kind: Literal["entry", "incident"]
    entry: Entry | None
    incident: Incident | None
    address: Address | None
    pc: str = ""
    name: tuple[str, ...] = ()
    name_text: str = ""
    name_set: frozenset[str] = frozenset()
    number: str = ""
    lo: int = 0
    hi: int = 0
    letter: str = ""
    path: tuple[str, ...] = ()
    street: tuple[str, ...] = ()
    has_type: bool = False
    keywords: frozenset[str] = frozenset()
    anchors: frozenset[str] = frozenset()  # street keywords, joined street, place words: for candidate filtering
    the: bool = False  # the street's name starts with THE (THE RODINGS): 'therodings' may be typed
    joins: tuple[str, ...] = ()  # the street's name words run together (NEWMILL for NEW MILL LANE), typo-tolerant
    runs: tuple[str, ...] = ()  # the whole street run together, exact only: MELBACOURT, THERODINGS
    places: tuple[tuple[str, ...], ...] = ()
    heads: tuple[tuple[str, ...], ...] = ()
    place_words: frozenset[str] = frozenset()
    locality: str = ""
    town: str = ""
    bkey: tuple[object, ...] = ()
    # everything _verify reads except the flat path: docs with equal sig differ only in the flat
    sig: tuple[object, ...] = ()
    named_path: bool = False  # a named sub-building ('THE GRANARY'): always compared in full
    persons: tuple[tuple[str, ...], ...] = ()
    person_key: str = ""

    def state(self, today: date) -> str:
        """'live', 'pending' or '' (nothing to show)."""
        if self.entry is not None:
            if self.entry.is_live(today):
                return "live"
            if self.entry.status is Status.PENDING:
                return "pending"
            return ""
        if self.incident is not None and self.incident.status is IncidentStatus.PENDING:
            return "pending"
        return ""


def _person_tokens(text: str) -> tuple[str, ...]:
    out = []
    for w in "".join(c if c.isalpha() else (" " if c not in "'\u2019" else "") for c in fold(text).upper()).split():
        if w not in _PERSON_TITLES:
            out.append(w)
    return tuple(out)


def _no_intern(value: Any) -> Any:
    return value


def _build_doc(
    doc_id: int,
    ref: str,
    kind: Literal["entry", "incident"],
    entry: Entry | None,
    incident: Incident | None,
    address: Address | None,
    intern: Callable[[Any], Any] = _no_intern,
) -> _Doc:
    """Take the address apart once. `intern` shares equal values between docs (a register repeats its streets, towns
    and buildings), which roughly halves the index's memory."""
    addr = normalise_address(address) if address is not None else None
    if addr is not None:
        addr = replace(
            addr,
            saon=intern(addr.saon),
            paon=intern(addr.paon),
            street=intern(addr.street),
            locality=intern(addr.locality),
            town=intern(addr.town),
            postcode=intern(addr.postcode),
        )
    d = _Doc(doc_id, ref, kind, entry, incident, addr)
    if entry is not None:
        names = [_person_tokens(entry.person_name)] + [_person_tokens(a) for a in entry.aliases]
        d.persons = intern(tuple(intern(n) for n in names if n))
        d.person_key = intern(" ".join(sorted(d.persons[0]))) if d.persons else ""
    if addr is None:
        return d
    d.pc = addr.postcode
    parts = split_paon(addr.paon)
    d.name = intern(parts.name)
    d.name_set = intern(frozenset(parts.name))
    d.number = parts.number
    d.lo, d.hi, d.letter = parts.lo, parts.hi, parts.letter
    if parts.name and parts.number:
        d.name_text = addr.paon.rsplit(",", 1)[0].strip()
    elif parts.name:
        d.name_text = addr.paon
    d.path = intern(property_path(addr, parts))

    street = [t.value for t in street_tokens(addr.street)]
    loc = tuple(t.value for t in place_tokens(addr.locality))
    town = tuple(t.value for t in place_tokens(addr.town))
    if not street and parts.number and loc:
        street, loc = list(loc), ()  # '21, THE GREEN, SUNDERLAND': the locality is the street
    the = bool(street) and street[0] == "THE" and len(street) > 1
    if the:
        street = street[1:]
    d.the = the
    d.street = intern(tuple(street))
    d.has_type = len(street) >= 2 and street[-1] in STREET_TYPES
    core = street[:-1] if d.has_type else street
    kw = {w for w in core if w != "THE"} or {w for w in street if w != "THE"}
    d.keywords = intern(frozenset(kw))
    full = [w for w in street if w != "THE"]
    joins = ["".join(w for w in core if w != "THE")] if len(kw) > 1 else []
    d.joins = intern(tuple(joins))
    runs = ["".join(full)] if len(full) > 1 else []
    runs += ["THE" + "".join(full)] if the else []  # 'therodings' for THE RODINGS
    d.runs = intern(tuple(r for r in runs if r not in joins))
    fields = [f for f in (_sig(loc), _sig(town)) if f]
    d.places = intern(tuple(fields))
    d.heads = intern(tuple(h for h in (_head(loc), _head(town)) if h))
    d.place_words = intern(frozenset(w for f in fields for w in f))
    d.anchors = intern(d.keywords | d.place_words | set(d.joins))
    d.locality = intern(" ".join(loc))
    d.town = intern(" ".join(town))
    ident: tuple[object, ...] = ("n", d.lo, d.hi) if d.number else ("b", d.name)
    d.bkey = intern((ident, d.street))
    d.sig = intern((d.pc, d.number, d.letter, d.name, d.street, d.places, d.heads))
    d.named_path = any(p.startswith("~") for p in d.path)
    return d


def _compatible(a: _Doc, b: _Doc) -> bool:
    """Same building as far as the register knows: equal where both are given."""
    if a.bkey != b.bkey:
        return False
    for x, y in ((a.pc, b.pc), (a.town, b.town), (a.locality, b.locality)):
        if x and y and x != y:
            return False
    return True


# --------------------------------------------------------------------------------------------------------------------
# queries


@dataclass(slots=True)
class _Variant:
    units: list[Unit]
    seq: list[Token]
    vals: list[tuple[int, str]]  # (index in seq, value) without THE, for building-name windows
    weak: bool = False  # another reading of what was typed ('12/2' as flat 2 at 12): offered, never an alert
    windows: dict[int, dict[tuple[str, ...], list[int]]] = field(default_factory=dict)

    def starts(self, name: tuple[str, ...]) -> list[int]:
        """Where in `vals` the building name starts (memoised per name length)."""
        n = len(name)
        table = self.windows.get(n)
        if table is None:
            table = {}
            for k in range(len(self.vals) - n + 1):
                table.setdefault(tuple(x for _, x in self.vals[k : k + n]), []).append(k)
            self.windows[n] = table
        return table.get(name, [])


@dataclass(slots=True)
class _Query:
    text: str
    pc: str
    variants: list[_Variant]
    has_number: bool
    words: list[str]
    known_places: frozenset[str] | set[str] = frozenset()  # every town and locality word on the register
    slips: frozenset[str] = frozenset()  # postcodes one slip from a typed one that has no postcode's shape

    @property
    def base(self) -> _Variant:
        return self.variants[0]


def _variant(units: list[Unit], seq: list[Token]) -> _Variant:
    return _Variant(units, seq, [(i, t.value) for i, t in enumerate(seq) if t.value != "THE"])


_SLASH_PAIR = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")
_DASH_PAIR = re.compile(r"\b(\d+)\s*-\s*(\d+)\b")


def _broken_postcode(rest: str) -> tuple[str, frozenset[str], str]:
    """The end of a query that is a postcode with its space misplaced ('PR71 AA': that postcode), or one slip from
    a postcode although it has no postcode's shape itself ('PR7 A1A', 'SN5 B6X', 'PR7 1A', 'PR7 1AAB': the
    postcodes it may be, by one character swapped with its neighbour, changed, left out or added). Returns
    (postcode, slips, the rest of the text); ('', frozenset(), rest) when the end looks like no postcode."""
    words = rest.replace(",", " ").split()
    for k in (2, 1):
        if len(words) <= k:
            continue
        compact = "".join(words[-k:]).upper()
        if not (4 <= len(compact) <= 8 and compact.isalnum() and compact.isascii()):
            continue
        first = words[-k]
        if not (first[:1].isalpha() and any(c.isdigit() for c in first)):
            continue  # a postcode starts with its outward code ('PR7'): 'Mill Ln LS1' is a street and a district
        before = " ".join(words[:-k])
        exact = normalise_postcode(compact)
        if exact:
            return exact, frozenset(), before
        found = {normalise_postcode(compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :])
                 for i in range(len(compact) - 1)}
        found |= {normalise_postcode(compact[:i] + c + compact[i + 1 :])
                  for i in range(len(compact)) for c in _POSTCODE_CHARS}
        found |= {normalise_postcode(compact[:i] + compact[i + 1 :]) for i in range(len(compact))}
        found |= {normalise_postcode(compact[:i] + c + compact[i:])
                  for i in range(len(compact) + 1) for c in _POSTCODE_CHARS}
        found.discard("")
        if found:
            return "", frozenset(found), before
    return "", frozenset(), rest


_POSTCODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _analyse(text: str, second: bool = False) -> _Query:
    pc, rest = find_postcode(text)
    slips: frozenset[str] = frozenset()
    if not pc:
        pc, slips, rest = _broken_postcode(rest)
    toks = tokenise(rest)
    units, seq, where = split_units_at(toks)
    variants = [_variant(units, seq)]
    # 'Flat 48A High Street' with no other number: 48A may be the house number of a flat with no number of its own
    if units and not any(t.kind == "N" for t in seq):
        pos, tok = where[-1]
        if tok is not None and tok.kind == "N" and pos < len(seq) and seq[pos].kind == "W":
            u = units[-1]
            generic = Unit(u.rank, "*" + ("ROOM" if u.rank == 2 else "FLAT"), u.text.split()[0])
            seq2 = seq[:pos] + [Token("N", tok.value, tok.raw, tok.seg)] + seq[pos:]
            variants.append(_variant(units[:-1] + [generic], seq2))
    # '2/12' is flat 2 at 12 (the usual reading); '12/2' may be written the other way round: that reading too, weak
    # '2-12' may be flat 2 at 12 rather than the range 2 to 12: that reading too, weak
    if not second:
        m = _SLASH_PAIR.search(rest)
        if m and m.group(1) != m.group(2):
            swapped = rest[: m.start()] + f"{m.group(2)}/{m.group(1)}" + rest[m.end() :]
            variants += [replace(v, weak=True, windows={}) for v in _analyse(f"{swapped} {pc}", True).variants]
        m = _DASH_PAIR.search(rest)
        if m and int(m.group(1)) != int(m.group(2)):
            flat = rest[: m.start()] + f"{m.group(1)}/{m.group(2)}" + rest[m.end() :]
            variants += [replace(v, weak=True, windows={}) for v in _analyse(f"{flat} {pc}", True).variants]
    has_number = any(t.kind in "NA" for v in variants for t in v.seq)
    words = [t.value for t in seq if t.kind == "W"]
    return _Query(text, pc, variants, has_number, words, slips=slips)


@dataclass(slots=True)
class _Hit:
    doc: _Doc
    rel: int
    strong: bool
    score: float
    complete: bool
    units: list[Unit]
    letter: str
    number: str  # the house number as typed ('' if none)
    qpath: tuple[str, ...] = ()  # the queried flat path, as compared with this doc
    pc_differs: bool = False  # the typed postcode is one slip away from the doc's (never an alert, see _verify)


# --------------------------------------------------------------------------------------------------------------------
# the index


class RegisterIndex:
    """Entries and pending incidents by property and person, for `lookup`. Not thread-safe; one per event loop."""

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self._today = today
        self._docs: dict[int, _Doc] = {}
        self._by_ref: dict[str, int] = {}
        self._next_id = 1
        # key -> doc id, or a set of doc ids when several share the key (most keys have one doc)
        self._by_pc: dict[str, int | set[int]] = {}
        self._by_name: dict[str, int | set[int]] = {}
        self._by_numword: dict[tuple[str, str], int | set[int]] = {}
        self._by_numjoined: dict[tuple[str, str], int | set[int]] = {}
        self._pool: dict[object, object] = {}
        # words that can start a building name / street words filed with a house number (grow only: a stale word
        # costs one dict miss)
        self._name_starts: set[str] = set()
        self._street_words: set[str] = set()
        self._place_words: set[str] = set()  # grow only, like the two above
        self._runs: set[str] = set()  # whole streets run together (exact: a typo on top is a second slip)
        self._streets = _Vocabulary()
        self._by_person: dict[str, int | set[int]] = {}
        self._persons = _Vocabulary(_name_sim)

    # ---------------------------------------------------------------------------------------------- maintenance

    def put_entry(self, entry: Entry) -> None:
        """Insert or replace by ref. Entries that are not active or pending are dropped from the index."""
        self.remove(entry.ref)
        if entry.status not in (Status.ACTIVE, Status.PENDING):
            return
        if entry.address is None and not entry.person_name and not entry.aliases:
            return
        self._add(_build_doc(self._new_id(), entry.ref, "entry", entry, None, entry.address, self._intern))

    def put_incident(self, incident: Incident) -> None:
        """Only pending incidents with an address are indexed; anything else removes the ref."""
        self.remove(incident.ref)
        if incident.status is not IncidentStatus.PENDING or incident.address is None:
            return
        self._add(_build_doc(self._new_id(), incident.ref, "incident", None, incident, incident.address, self._intern))

    def remove(self, ref: str) -> None:
        doc_id = self._by_ref.pop(ref, None)
        if doc_id is None:
            return
        d = self._docs.pop(doc_id)
        for table, key in self._keys(d):
            _table_discard(table, key, doc_id)

    def __len__(self) -> int:
        return len(self._docs)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _intern(self, value: object) -> object:
        return self._pool.setdefault(value, value)

    def _keys(self, d: _Doc) -> list[tuple[_Table, object]]:
        """Where a doc is filed (computed again on removal rather than stored with every doc)."""
        keys: list[tuple[_Table, object]] = []
        if d.address is not None:
            if d.pc:
                keys.append((self._by_pc, d.pc))
            if d.name:
                keys.append((self._by_name, " ".join(d.name)))
            if d.number or not d.name or _row_number(d):
                nums = _numbers(d.lo, d.hi) if d.number else (_row_number(d),)
                for w in d.keywords:
                    for n in nums:
                        keys.append((self._by_numword, (n, w)))
                for j in d.joins + d.runs:
                    for n in nums:
                        keys.append((self._by_numjoined, (n, j)))
        for t in {t for name in d.persons for t in name}:
            keys.append((self._by_person, t))
        return keys

    def _add(self, d: _Doc) -> None:
        self._docs[d.id] = d
        self._by_ref[d.ref] = d.id
        for w in d.anchors:
            self._streets.add(w)
        if d.name:
            self._name_starts.add(d.name[0])
        self._street_words.update(d.keywords)
        self._street_words.update(d.joins)
        self._street_words.update(d.runs)
        self._runs.update(d.runs)
        self._place_words.update(d.place_words)
        for name in d.persons:
            for t in name:
                self._persons.add(t)
        for table, key in self._keys(d):
            _table_add(table, key, d.id)

    # ---------------------------------------------------------------------------------------------- lookup

    def lookup(self, query: str) -> LookupResult:
        q = _analyse(fold(query))
        q.known_places = self._place_words
        if not q.pc and not q.base.seq and not q.base.units:
            return _NONE
        today = self._today()
        if q.pc and not q.has_number and not q.base.units and not q.base.seq:
            return self._postcode_list(q, today)  # a postcode alone: the user picks, even from one
        if not q.has_number and not q.pc and not q.base.units:
            # no number, no flat, no postcode: a person's name or a building name
            by_address = self._address_hits(q, today)
            by_person = self._person_lookup(q, today)
            if by_address and by_person.outcome is not Outcome.NONE:
                places = self._choices(self._group(by_address), q).matches
                matches = tuple(sorted(places + by_person.matches, key=_rank))[:MAX_CANDIDATES]
                return LookupResult(Outcome.AMBIGUOUS, matches)
            if by_address:
                return self._decide(by_address, q, today)
            return by_person
        hits = self._address_hits(q, today)
        if not hits and q.pc and not q.has_number:
            return self._postcode_list(q, today)  # 'Flat 2, PR7 1AA': let them pick the building
        return self._decide(hits, q, today)

    # candidates -----------------------------------------------------------------------------------------------

    def _address_hits(self, q: _Query, today: date) -> list[_Hit]:
        cand: set[int] = set()
        if q.pc:
            cand.update(_table_ids(self._by_pc, q.pc))
        ws = (
            [t for v in q.variants for t in v.seq if t.kind == "W"]
            if len(q.variants) > 1
            else [t for t in q.base.seq if t.kind == "W"]
        )
        words: set[str] = set()
        for t in ws:
            words.add(t.value)
            if t.raw != t.value and t.raw.isalpha():
                words.add(t.raw)
            if t.raw == "ST":
                words.update(("SAINT", "STREET"))
        near: set[str] = set()
        for w in words:
            near.update(self._streets.near(w))
            if w in self._runs:
                near.add(w)  # 'melbacourt' for MELBA COURT
        for a, b in zip(ws, ws[1:], strict=False):
            if a.value + b.value in self._streets:
                near.add(a.value + b.value)  # 'NEW MILL LANE' typed for NEWMILL LANE (exact only)
        # building names: every window of the typed words. A common name (ROSE COTTAGE) is in many places: keep the
        # docs whose street, town or postcode the other typed words could be
        typed = {t.value for t in ws} - {"THE"}
        keys: set[str] = set()
        name_starts = self._name_starts
        for v in q.variants:
            vals = [x for _, x in v.vals]
            for i in range(len(vals)):
                if vals[i] not in name_starts:
                    continue
                for j in range(i + 1, min(len(vals), i + 6) + 1):
                    keys.add(" ".join(vals[i:j]))
        docs = self._docs
        for key in keys:
            for k in _table_ids(self._by_name, key):
                d = docs[k]
                if (q.pc and d.pc == q.pc) or typed <= d.name_set or not d.anchors.isdisjoint(near):
                    cand.add(k)
        # (house number, street word), typo-tolerant through the vocabulary
        nums: set[str] = set()
        no_number = False
        for v in q.variants:
            found = False
            for t in v.seq:
                if t.kind == "N":
                    lo, hi, _ = number_parts(t.value)
                    nums.update(_numbers(lo, hi))
                    found = True
            no_number = no_number or not found
        if no_number:
            nums.add("")
        if nums:
            street_near = [w for w in near if w in self._street_words]
            by_numword, by_joined = self._by_numword, self._by_numjoined
            for n in nums:
                counts: dict[int, int] = {}
                for w in street_near:
                    cur = by_numword.get((n, w))
                    if cur is not None:
                        for i in (cur,) if isinstance(cur, int) else cur:
                            counts[i] = counts.get(i, 0) + 1
                    cur = by_joined.get((n, w))
                    if cur is not None:
                        if isinstance(cur, int):
                            cand.add(cur)
                        else:
                            cand.update(cur)
                for i, c in counts.items():
                    if c >= len(docs[i].keywords):
                        cand.add(i)
        hits = []
        shared: dict[tuple[object, ...], _Hit | None] = {}
        for i in cand:
            d = self._docs[i]
            if not d.state(today):
                continue
            if d.named_path:
                h = _verify(q, d)
            elif d.sig in shared:
                base = shared[d.sig]
                h = (
                    None
                    if base is None
                    else _Hit(
                        d,
                        _relation(base.qpath, bool(base.letter), d.path),
                        base.strong,
                        base.score,
                        base.complete,
                        base.units,
                        base.letter,
                        base.number,
                        base.qpath,
                    )
                )
            else:
                h = _verify(q, d)
                shared[d.sig] = h
            if h is not None:
                hits.append(h)
        return hits

    # decisions ------------------------------------------------------------------------------------------------

    def _group(self, hits: list[_Hit]) -> list[list[_Hit]]:
        """Hits by building: union of docs that are compatible (equal where both give a value)."""
        # compatible docs share a building key: compare within it
        buckets: dict[tuple[object, ...], list[list[_Hit]]] = {}
        for h in sorted(hits, key=lambda h: (-h.rel, -h.score, h.doc.id)):
            joined = [h]
            keep = []
            for g in buckets.get(h.doc.bkey, ()):
                if any(_compatible(h.doc, o.doc) for o in g):
                    joined.extend(g)
                else:
                    keep.append(g)
            buckets[h.doc.bkey] = [*keep, joined]
        return [g for groups in buckets.values() for g in groups]

    def _choices(self, groups: list[list[_Hit]], q: _Query) -> LookupResult:
        """AMBIGUOUS: one button per candidate property, the best five (built only for those five)."""

        def order(g: list[_Hit]) -> tuple[object, ...]:
            h = max(g, key=lambda h: (h.rel, h.score, -h.doc.id))
            a = h.doc.address
            assert a is not None
            return (-h.score, (a.postcode, a.town, a.street, a.paon, a.saon), h.doc.ref)

        best = sorted(groups, key=order)[:MAX_CANDIDATES]
        cands = sorted((self._candidate(g, q) for g in best), key=_rank)
        return LookupResult(Outcome.AMBIGUOUS, tuple(cands))

    def _decide(self, hits: list[_Hit], q: _Query, today: date) -> LookupResult:
        if not hits:
            return _NONE
        strong = [h for h in hits if h.strong]
        if not strong:
            return self._choices(self._group(hits), q)
        # a building where the only thing found is an incident at another flat shows nothing (see _outcome)
        groups = [g for g in self._group(strong) if any(h.rel >= _COVERED or h.doc.kind == "entry" for h in g)]
        slips = [h for h in hits if h.pc_differs]
        if not groups:
            return self._choices(self._group(slips), q) if slips else _NONE
        if len(groups) > 1:
            complete = [g for g in groups if any(h.complete for h in g)]
            if len(complete) == 1:
                groups = complete
        if len(groups) == 1:
            outcome, matches = self._outcome(groups[0], today)
            if outcome is Outcome.NONE and slips:
                return self._choices(self._group(slips), q)
            return LookupResult(outcome, matches)
        return self._choices(groups, q)

    def _outcome(self, g: list[_Hit], today: date) -> tuple[Outcome, tuple[Match, ...]]:
        at = [h for h in g if h.rel >= _COVERED]
        order = sorted(at, key=lambda h: (-h.rel, -h.score, h.doc.ref))
        live = [h for h in order if h.doc.state(today) == "live"]
        if live:
            return Outcome.ALERT, tuple(_match(h.doc, h.doc.address, h.score) for h in live)
        pending = [h for h in order if h.doc.state(today) == "pending"]
        if pending:
            return Outcome.PENDING, tuple(_match(h.doc, h.doc.address, h.score) for h in pending)
        elsewhere = sorted(
            (h for h in g if h.rel == _BUILDING and h.doc.kind == "entry" and h.doc.state(today)),
            key=lambda h: (h.doc.state(today) != "live", -h.score, h.doc.ref),
        )
        if elsewhere:
            return Outcome.BUILDING, tuple(_match(h.doc, h.doc.address, h.score) for h in elsewhere)
        return Outcome.NONE, ()

    def _candidate(self, g: list[_Hit], q: _Query) -> Match:
        """One button for a candidate property: the queried property in that building."""
        h = max(g, key=lambda h: (h.rel, h.score, -h.doc.id))
        d = h.doc
        assert d.address is not None
        if h.rel == _SAME:
            addr = d.address
        else:
            if d.number:
                number = d.number if h.letter == d.letter else f"{d.lo}{h.letter}"
                paon = f"{d.name_text}, {number}" if d.name_text else number
            else:
                paon = d.address.paon
            saon = " ".join(u.text for u in sorted(h.units, key=lambda u: u.rank))
            addr = replace(d.address, saon=saon, paon=paon, text="", uprn="")
        return _match(d, addr, h.score, h.pc_differs)

    def _postcode_list(self, q: _Query, today: date) -> LookupResult:
        """A postcode (with no house number): the register's properties in it, for the user to pick; never a guess."""
        docs = [self._docs[i] for i in _table_ids(self._by_pc, q.pc)]
        docs = [d for d in docs if d.state(today)]
        if q.words:
            # 'High Street PR7 1AA': keep the properties on that street when there are any
            on_street = [d for d in docs if d.street and _street_match(q.base.seq, d) is not None]
            docs = on_street or docs
        props: list[list[_Doc]] = []
        for d in sorted(docs, key=lambda d: (d.lo, d.path, d.ref)):
            for p in props:
                if p[0].path == d.path and any(_compatible(d, o) for o in p):
                    p.append(d)
                    break
            else:
                props.append([d])
        if not props:
            return _NONE
        cands = []
        for p in props:
            best = max(p, key=lambda d: (bool(d.town), bool(d.locality), -d.id))
            cands.append(_match(best, best.address, 100.0))
        return LookupResult(Outcome.AMBIGUOUS, tuple(cands[:MAX_CANDIDATES]))

    # people -----------------------------------------------------------------------------------------------------

    def _person_lookup(self, q: _Query, today: date) -> LookupResult:
        qt = _person_tokens(q.text)
        full = [t for t in qt if len(t) > 1]  # an initial narrows nothing here; _person_score checks it
        if not full:
            return _NONE
        # one person = one name at one address (two John Smiths at two addresses are two people)
        people: dict[tuple[object, ...], list[tuple[float, _Doc, str]]] = {}

        def take(ids: Iterable[int], exact: bool) -> None:
            for i in sorted(ids):
                if len(people) > MAX_CANDIDATES:
                    return  # enough to know it is a choice, and nobody later can rank above these
                d = self._docs[i]
                state = d.state(today)
                if not state:
                    continue
                s = 100.0 if exact and len(d.persons) == 1 else _person_score(qt, d.persons)
                if s is None:
                    continue
                where = (d.bkey, d.pc or d.town) if d.address is not None else None
                people.setdefault((d.person_key, where), []).append((s, d, state))

        # every typed name exactly first; typo variants only if they could still make the list (a short surname has
        # many neighbours: HALL, HILL, HULL, WALL ...)
        exact_all = _intersect([_table_ids(self._by_person, t) for t in full])
        take(exact_all, exact=len(full) == len(qt))
        if len(people) <= MAX_CANDIDATES and len(full) == len(qt):
            # at most one inexact token (_person_score): a typo in one name, the others exact. With an initial typed,
            # the initial is the inexact one and exact_all above was everything.
            exact_sets = [_table_ids(self._by_person, t) for t in full]
            cand: set[int] = set()
            for k, t in enumerate(full):
                others = exact_sets[:k] + exact_sets[k + 1 :]
                base = _intersect(others) if others else None
                if base is not None and not base:
                    continue
                for w in self._persons.near(t):
                    if w == t:
                        continue
                    ids = _table_ids(self._by_person, w)
                    cand.update(ids if base is None else base.intersection(ids))
            take(cand - exact_all, exact=False)
        if not people:
            return _NONE
        if len(people) == 1 and len(qt) >= 2:
            items = sorted(next(iter(people.values())), key=lambda x: (-x[0], x[1].ref))
            live = [(s, d) for s, d, state in items if state == "live"]
            if live:
                return LookupResult(Outcome.ALERT, tuple(_match(d, d.address, s) for s, d in live))
            return LookupResult(Outcome.PENDING, tuple(_match(d, d.address, s) for s, d, _ in items))
        best = [max(items, key=lambda x: (x[0], x[2] == "live", -x[1].id)) for items in people.values()]
        best.sort(key=lambda x: (-x[0], x[2] != "live", x[1].ref))
        cands = sorted((_match(d, d.address, s) for s, d, _ in best[: MAX_CANDIDATES * 4]), key=_rank)
        return LookupResult(Outcome.AMBIGUOUS, tuple(cands[:MAX_CANDIDATES]))


# --------------------------------------------------------------------------------------------------------------------
# precise comparison


def _table_add(table: _Table, key: object, doc_id: int) -> None:
    cur = table.get(key)
    if cur is None:
        table[key] = doc_id
    elif isinstance(cur, int):
        if cur != doc_id:
            table[key] = {cur, doc_id}
    else:
        cur.add(doc_id)


def _table_discard(table: _Table, key: object, doc_id: int) -> None:
    cur = table.get(key)
    if cur is None:
        return
    if isinstance(cur, int):
        if cur == doc_id:
            del table[key]
        return
    cur.discard(doc_id)
    if len(cur) == 1:
        table[key] = next(iter(cur))
    elif not cur:
        del table[key]


def _table_ids(table: _Table, key: object) -> Iterable[int]:
    cur = table.get(key)
    if cur is None:
        return ()
    if isinstance(cur, int):
        return (cur,)
    return cur


def _intersect(sets: list[Iterable[int]]) -> set[int]:
    """Intersection, smallest first, without copying the big ones."""
    if not sets:
        return set()
    ordered = sorted(sets, key=len)  # type: ignore[arg-type]
    out = set(ordered[0])
    for other in ordered[1:]:
        if not out:
            break
        out.intersection_update(other)
    return out


def _numbers(lo: int, hi: int) -> tuple[str, ...]:
    if hi - lo > _MAX_RANGE:
        return (str(lo), str(hi))
    return tuple(str(n) for n in range(lo, hi + 1))


def _match(d: _Doc, addr: Address | None, score: float, pc_differs: bool = False) -> Match:
    return Match(
        ref=d.ref,
        kind=d.kind,
        address=addr,
        entry=d.entry,
        incident=d.incident,
        score=round(score, 1),
        postcode_differs=pc_differs,
    )


def _rank(m: Match) -> tuple[object, ...]:
    a = m.address
    where = (a.postcode, a.town, a.street, a.paon, a.saon) if a is not None else ()
    return (-m.score, where, m.ref)


def _relation(qpath: tuple[str, ...], qsfx: bool, dpath: tuple[str, ...]) -> int:
    if qpath == dpath:
        return _SAME
    n = len(dpath)
    if n < len(qpath) and qpath[:n] == dpath:
        if n == 0 and qsfx:
            return _BUILDING  # an entry on 12 does not alert for 12A: 39A is its own property
        return _COVERED
    return _BUILDING


def _street_match(post: list[Token], d: _Doc) -> tuple[int, float, bool] | None:
    """Does the typed text start with the doc's street? (tokens used, score, exact)."""
    i0 = 1 if post and post[0].value == "THE" else 0
    words: list[Token] = []
    for t in post[i0:]:
        if t.kind != "W":
            break
        words.append(t)
    street = d.street
    n = len(street)
    if not n or not words:
        return None
    w0 = words[0]
    if d.the and i0 == 0 and w0.value.startswith("THE") and len(w0.value) > 6:
        words[0] = Token("W", w0.value[3:], w0.value[3:], w0.seg)  # 'therodings' for THE RODINGS
    best: tuple[int, float, bool] | None = None
    if len(words) >= n:
        sims = [_tok_sim(words[k], street[k]) for k in range(n)]
        if min(sims) >= 0:
            best = (i0 + n, sum(sims) / n, min(sims) == 100.0)
    if best is None and d.has_type and len(words) >= n - 1:
        # the street type left out ('12 High, Chorley'), unless a different type was typed
        sims = [_tok_sim(words[k], street[k]) for k in range(n - 1)]
        nxt = words[n - 1].value if len(words) > n - 1 else ""
        if min(sims) >= 0 and nxt not in DESCRIPTOR_WORDS:
            best = (i0 + n - 1, sum(sims) / (n - 1) - 5.0, False)
    if best is None:
        # words joined or split differently ('NEWMILL LANE' for NEW MILL LANE)
        target = "".join(street)
        core = "".join(street[:-1]) if d.has_type else ""
        for j in range(1, min(len(words), n + 2) + 1):
            if j == n:
                continue
            typed = "".join(t.value for t in words[:j])
            after = words[j].value if j < len(words) else ""
            for tgt in (target, core):
                if tgt is core and after in DESCRIPTOR_WORDS:
                    continue  # '12 High Road' is not HIGH STREET
                if tgt and len(typed) >= 4 and _word_sim(typed, tgt) >= 0:
                    sim = _word_sim(typed, tgt) - (5.0 if tgt is core else 0.0)
                    if best is None or sim > best[1]:
                        best = (i0 + j, sim, False)
    return best


def _place_check(
    rest: list[Token], d: _Doc, known: frozenset[str] | set[str] = frozenset()
) -> tuple[bool, bool, float, bool]:
    """Typed town/locality words against the doc's: (acceptable, complete, score, another place).

    `another place` is true when a typed word matched one of the doc's only as a slip although it is itself a place
    word of the register (HERTFORD typed, HARTFORD held): perhaps a slip, perhaps another town.

    Acceptable when every typed place word matches one of the doc's, or when the doc's town or locality is there in
    full (so a county or an extra district is tolerated): `12 High St Leyland` is not 12 High St, Chorley."""
    # 'St' in a place name is Saint whatever the context rule made of it ('Bury St Edmunds'); STREET, the town in
    # Somerset, is a real place word
    words = [t for t in rest if t.value not in PLACE_STOPWORDS and t.raw != "ST"]
    if not words:
        return True, not d.places, 100.0, False
    matched: list[tuple[Token, str, float]] = []
    unmatched = 0
    unmatched_at: list[int] = []
    for pos, t in enumerate(words):
        if t.kind == "A" and outward_code(t.value):
            if d.pc and d.pc.split()[0] != t.value:
                return False, False, 0.0, False
            if d.pc:
                matched.append((t, t.value, 100.0))
            continue
        best = -1.0
        best_w = ""
        for w in d.place_words:
            s = _tok_sim(t, w)
            if s > best:
                best, best_w = s, w
        if best >= 0:
            matched.append((t, best_w, best))
        else:
            unmatched += 1
            unmatched_at.append(pos)
    exact_present = {w for _, w, s in matched if s == 100.0}
    # with words left over (a county, a district) the town or locality must be there exactly, and not be part of a
    # longer name: 'New Malden' is not MALDON, 'North Shields' is not SHIELDS
    heads_ok = False
    if unmatched:
        for h in d.heads:
            if not all(w in exact_present for w in h):
                continue
            first = next(i for i, t in enumerate(words) if _tok_sim(t, h[0]) == 100.0)
            before = words[first - 1] if first > 0 else None
            if (
                before is not None
                and (first - 1) in unmatched_at
                and before.value in _TOWN_MODIFIERS
                and before.seg == words[first].seg
            ):
                continue
            heads_ok = True
            break
    # no town in the register: a missing town is not a mismatch (an outward code was still checked above)
    ok = unmatched == 0 or heads_ok or not d.places
    complete = (
        unmatched == 0
        and all(s == 100.0 for _, _, s in matched)
        and all(all(w in exact_present for w in f) for f in d.places)
    )
    score = 100.0 - 2.0 * unmatched - sum(100.0 - s for _, _, s in matched) / max(len(matched), 1)
    other = any(s < 100.0 and t.value in known and t.value not in d.place_words for t, _, s in matched)
    return ok, complete, score, other


def _verify(q: _Query, d: _Doc) -> _Hit | None:
    """The precise comparison of a query with one register document; None if it is not this building."""
    if d.pc and (q.pc or q.slips) and q.pc != d.pc:
        if not (d.pc in q.slips or (q.pc and _one_slip(q.pc, d.pc))):
            return None
        # the same number and street under a postcode one slip away in the same district: the postcode stays exact
        # for an alert, but this is offered as a choice, never cleared
        h = _verify(replace(q, pc="", slips=frozenset()), d)
        if h is None or h.rel < _COVERED:
            return None
        h.strong, h.pc_differs, h.score = False, True, min(h.score, 70.0)
        return h
    pc_eq = bool(q.pc) and q.pc == d.pc
    best: _Hit | None = None

    weak = False

    def consider(h: _Hit | None) -> None:
        nonlocal best
        if h is not None and weak:
            h.strong, h.score = False, min(h.score, 60.0)
        if h is not None and (best is None or (h.strong, h.rel, h.score) > (best.strong, best.rel, best.score)):
            best = h

    name_nums = {w for w in d.name if w[:1].isdigit()}
    named_units = [p[1:] for p in d.path if p.startswith("~")]
    for v in q.variants:
        seq = v.seq
        weak = v.weak
        if d.number:
            for i, t in enumerate(seq):
                if t.kind != "N":
                    continue
                lo, hi, letter = number_parts(t.value)
                if hi < d.lo or lo > d.hi:
                    continue
                if i + 1 < len(seq) and seq[i + 1].kind == "N":
                    continue  # '2 12 High St': 2 is a flat, 12 the house
                pre = [x for x in seq[:i] if _is_unit_id(x) and x.value not in name_nums]
                extra = _named_unit(seq[:i], named_units)
                h = _after_anchor(q, d, v.units + extra, pre, seq[i + 1 :], letter, t.value, pc_eq, "num")
                if h is not None and hi > lo and t.value != d.number:
                    h.strong = False  # a typed range that is not the register's ('2-12' may be flat 2 at 12)
                consider(h)
                if " " in t.raw and d.street and d.street[0] == letter:
                    # '1 A Road' typed with a space: the letter may start the street rather than end the number
                    post = [Token("W", letter, letter, t.seg), *seq[i + 1 :]]
                    consider(_after_anchor(q, d, v.units + extra, pre, post, "", str(lo), pc_eq, "num"))
        if d.name:
            n = len(d.name)
            vals = v.vals
            for k in v.starts(d.name):
                start, end = vals[k][0], vals[k + n - 1][0] + 1
                pre = [x for x in seq[:start] if _is_unit_id(x)]
                extra = _named_unit(seq[:start], named_units)
                loose = [x for x in seq[:start] if x.kind == "W" and x.value != "THE" and not _is_unit_id(x)]
                if loose and not extra:
                    continue  # '37 Audley Firs' is not 37, The Firs: words before the name are unexplained
                post = seq[end:]
                number = ""
                letter = d.letter
                if post and post[0].kind == "N":
                    lo, hi, letter2 = number_parts(post[0].value)
                    if d.number and (hi < d.lo or lo > d.hi):
                        continue  # the number is exact: LOLANO HOUSE 5 is not LOLANO HOUSE, 3B
                    number = post[0].value
                    letter = letter2 if d.number else d.letter
                    post = post[1:]
                consider(_after_anchor(q, d, v.units + extra, pre, post, letter, number, pc_eq, "name"))
        if not d.number and not d.name:
            if any(t.kind == "N" for t in seq):
                continue
            consider(_after_anchor(q, d, v.units, [], seq, "", "", pc_eq, "street"))
    row = _row_number(d)
    if best is None and row and d.street:
        # '2 The Street' for 2 BOURNE COTTAGES, THE STREET: the number of a house in a named row typed as if it were
        # the street's. Perhaps that house, perhaps 2 The Street itself: offered as a choice, never an alert.
        for v in q.variants:
            for i, t in enumerate(v.seq):
                if t.kind != "N" or t.value != row or (i + 1 < len(v.seq) and v.seq[i + 1].kind == "N"):
                    continue
                if any(x.kind == "W" and x.value != "THE" for x in v.seq[:i]):
                    continue  # words before the number: another building's name
                units = v.units + [Unit(1, row, row)]
                h = _after_anchor(q, d, units, [], v.seq[i + 1 :], "", "", pc_eq, "num")
                if h is not None:
                    h.strong = False
                    h.score = min(h.score, 60.0)
                    consider(h)
    if best is None and pc_eq and d.number and d.street and not any(t.kind == "N" for t in q.base.seq):
        # 'Flat 24, Artichoke Hill, E1W 2BA' for FLAT 24, 2 ARTICHOKE HILL: no house number typed, but the street and
        # the postcode agree. Not a sure match (another building may share them): offered as a choice, never a clear.
        h = _after_anchor(q, d, q.base.units, [], q.base.seq, "", "", pc_eq, "street")
        if h is not None:
            h.strong = False
            h.score = min(h.score, 60.0)
            best = h
    return best


def _one_slip(typed: str, held: str) -> bool:
    """Two postcodes of the same district ('SN5') whose inward codes differ by one character typed wrong or two
    neighbours swapped: 'SN5 6BY' or 'SN5 6XB' for SN5 6BX. Another district is another place."""
    t_out, _, t_in = typed.partition(" ")
    h_out, _, h_in = held.partition(" ")
    if t_out != h_out or len(t_in) != len(h_in):
        return False
    diff = [i for i in range(len(t_in)) if t_in[i] != h_in[i]]
    if len(diff) == 1:
        return True
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return False
    i, j = diff
    return t_in[i] == h_in[j] and t_in[j] == h_in[i]


def _row_number(d: _Doc) -> str:
    """The number of a house in a named row or building with no number on the street ('2, BOURNE COTTAGES, THE
    STREET'), or ''."""
    if d.name and not d.number and len(d.path) == 1 and d.path[0].isdigit():
        return d.path[0]
    return ""


def _is_unit_id(t: Token) -> bool:
    """A number or a lone letter before the house number is a flat: '2, 12 High St', 'B, 27 Sandyhurst Close'."""
    return t.kind in "NA" or (t.kind == "W" and len(t.value) == 1 and t.value.isalpha())


def _named_unit(pre: list[Token], names: list[str]) -> list[Unit]:
    """A named part of a building typed before it ('The Granary, Bottom Farm')."""
    if not names:
        return []
    typed = " ".join(t.value for t in pre if t.kind == "W" and t.value != "THE")
    return [Unit(1, "~" + n, n) for n in names if n and typed == n]


def _after_anchor(
    q: _Query,
    d: _Doc,
    units: list[Unit],
    pre: list[Token],
    post: list[Token],
    letter: str,
    number: str,
    pc_eq: bool,
    via: str,
) -> _Hit | None:
    all_units = list(units) + [Unit(1, x.value, x.value) for x in pre]
    folded = fold_units(all_units, d.lo, d.hi) if d.number else all_units
    qpath = unit_path(folded, letter)
    rel = _relation(qpath, bool(letter), d.path)
    strong = True
    score = 100.0
    street_exact = True
    typed_words = any(t.kind == "W" for t in post)
    if d.street:
        sm = _street_match(post, d)
        if sm is None:
            street_exact = False
            if not typed_words:
                rest = post
                if not pc_eq and via != "name":
                    return None  # a bare '12' is no address
                score -= 5.0
            elif via == "name":
                rest = post  # 'Lolano House, Leeds': the street left out; the rest must be its town
                score -= 5.0
            elif pc_eq:
                strong = False  # the same number in the same postcode on a street we cannot match: let them pick
                rest = []
                score = 50.0
            else:
                return None
        else:
            used, s_score, street_exact = sm
            score = min(score, s_score)
            rest = post[used:]
    else:
        rest = post
        if via == "num" and not pc_eq and not typed_words:
            return None
    ok, place_complete, p_score, other_place = _place_check(rest, d, q.known_places)
    if other_place and not pc_eq:
        strong = False  # 'Hertford' typed for HARTFORD: another real place, or a slip? Offered, never an alert
    if not ok:
        if not pc_eq:
            return None
        p_score = 90.0  # the postcode agrees; the town was written another way
    score = min(score, p_score) if strong else score
    if via == "num" and number != d.number:
        score -= 1.0  # a range end ('12' for 12-14)
    complete = (
        strong
        and street_exact
        and place_complete
        and (not d.pc or pc_eq)
        and (via != "num" or number == d.number)
        and (via != "name" or not d.number or number == d.number)
    )
    return _Hit(d, rel, strong, score, complete, all_units, letter, number, qpath)


def _person_score(qt: tuple[str, ...], names: tuple[tuple[str, ...], ...]) -> float | None:
    """Every typed name token matched to a distinct token of one of the person's names, in any order; at most one of
    them inexact (a typo, or an initial). 'John Smith' matches 'SMITH JOHN' and 'Jon Smith', not 'Joan Smyth'."""
    best: float | None = None
    for name in names:
        if len(qt) > len(name):
            continue
        free = list(name)
        inexact = 0
        total = 0.0
        todo: list[str] = []
        for t in qt:
            if t in free:
                free.remove(t)
                total += 100.0
            else:
                todo.append(t)
        ok = True
        for t in todo:
            choice = None
            for w in free:
                if len(t) == 1:
                    s = 90.0 if w.startswith(t) else -1.0
                else:
                    s = _name_sim(t, w)
                if s >= 0 and (choice is None or s > choice[0]):
                    choice = (s, w)
            if choice is None:
                ok = False
                break
            free.remove(choice[1])
            inexact += 1
            total += choice[0]
        if not ok or inexact > 1:
            continue
        score = total / len(qt)
        if best is None or score > best:
            best = score
    return best
