"""Invisible and look-alike characters (register/normalise.py): what looks the same to a person compares the same.

Text pasted from Word, a PDF or an email carries soft hyphens, zero-width spaces and joiners, odd spaces, and now and
then a Cyrillic or Greek letter that looks Latin. None of them may turn a flagged entry into a clear, on the register's
side or the query's, and the card must not echo a query that looks like what was checked but is not.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards.builders import check_result_card
from register.address import normalise_postcode, parse_address
from register.matching import RegisterIndex
from register.model import Address, Outcome
from register.normalise import _skeleton_table, fold
from tests.addresses import distinct_properties, pp_address
from tests.test_matching import TODAY, entry, refs

# invisible characters a paste can carry (all Unicode category Cf)
INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202a", "\u202c"]
# look-alikes of other scripts for the letters they imitate, taken from the confusables table itself
LOOKALIKES: dict[str, list[str]] = {}
for _code, _latin in sorted(_skeleton_table().items()):
    _ch = chr(_code)
    if unicodedata.category(_ch).startswith("L") and _latin.isalpha() and unicodedata.name(_ch, "").split()[0] in (
        "CYRILLIC",
        "GREEK",
    ):
        LOOKALIKES.setdefault(_latin, []).append(_ch)


def _register(n: int = 400) -> tuple[RegisterIndex, list]:
    rows = distinct_properties()[:n]
    idx = RegisterIndex(today=lambda: TODAY)
    entries = []
    for i, r in enumerate(rows):
        e = entry(f"N{i:04d}", pp_address(r), person=f"{r['street'].title()} {r['town_city'].title()}")
        entries.append(e)
        idx.put_entry(e)
    return idx, entries


IDX, ENTRIES = _register()


def disguise(text: str, rng: random.Random, *, invisible: bool = True, lookalike: bool = True) -> str:
    """The text with invisible characters slipped in and some letters swapped for look-alikes of other scripts."""
    out = []
    for ch in text:
        if lookalike and ch in LOOKALIKES and rng.random() < 0.3:
            ch = rng.choice(LOOKALIKES[ch])
        out.append(ch)
        if invisible and rng.random() < 0.2:
            out.append(rng.choice(INVISIBLE))
    return "".join(out)


def test_the_issue_examples():
    pilling = entry("KP", None, person="Karen Pilling")
    house = entry("H", parse_address("12 High Street, Chorley", "PR7 1AA"))
    idx = RegisterIndex(today=lambda: TODAY)
    idx.put_entry(pilling)
    idx.put_entry(house)
    assert refs(idx.lookup("Karen Pil\u00adling")) == ["KP"]
    assert refs(idx.lookup("1\u200b2 High Street, Chorley")) == ["H"]
    assert refs(idx.lookup("12 High Street, PR7 1\u0410\u0410")) == ["H"]  # Cyrillic A twice
    assert refs(idx.lookup("\uff11\uff12 High\u00a0Street Chorley")) == ["H"]  # fullwidth digits, no-break space
    # the register's side too: an entry imported with the same characters is found by plain text
    idx.put_entry(entry("KP", None, person="K\u0430ren Pil\u00adling"))
    idx.put_entry(entry("H", parse_address("1\u200b2 Hig\u04bb Street, Chorley", "PR7 1\u0410A")))
    assert refs(idx.lookup("Karen Pilling")) == ["KP"]
    assert refs(idx.lookup("12 High Street, PR7 1AA")) == ["H"]


def test_plain_ascii_is_never_rewritten():
    """0/O and 1/l are distinct in a house number or a postcode: TR39 would merge them, the register must not."""
    for text in ("10 Oak Road", "1l", "O0", "PR7 1AA", "Flat 1, 10 Lime Street"):
        assert fold(text) == text
    assert normalise_postcode("PR7 1AA") != normalise_postcode("PR7 1A0")


def test_every_confusable_maps_to_a_letter_or_digit_of_the_same_kind():
    """The table is derived from the Unicode confusables data, not written by hand: check its shape."""
    table = _skeleton_table()
    assert len(table) > 500
    for code, latin in table.items():
        assert latin.isascii() and latin.isalnum(), (hex(code), latin)
    # a few the issue names: Cyrillic and Greek capitals that look like the Latin letters of a postcode
    assert fold("\u0410\u0412\u0421\u0415\u041d\u041a\u041c\u041e\u0420\u0422\u0425") == "ABCEHKMOPTX"
    assert fold("\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7") == (
        "ABEZHIKMNOPTYX"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(ENTRIES) - 1), st.integers(0, 2**32 - 1))
def test_disguised_register_addresses_still_alert(i, seed):
    e = ENTRIES[i]
    rng = random.Random(seed)
    query = disguise(e.address.display(), rng)
    r = IDX.lookup(query)
    assert r.outcome is Outcome.ALERT and e.ref in refs(r), (query, r.outcome, refs(r))
    assert r == IDX.lookup(e.address.display())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(ENTRIES) - 1), st.integers(0, 2**32 - 1))
def test_disguised_names_still_alert(i, seed):
    e = ENTRIES[i]
    query = disguise(e.person_name, random.Random(seed))
    r = IDX.lookup(query)
    assert e.ref in refs(r) and r.outcome in (Outcome.ALERT, Outcome.AMBIGUOUS), (query, r.outcome)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fold_is_idempotent_and_leaves_no_invisible_characters(text):
    once = fold(text)
    assert fold(once) == once
    assert not any(unicodedata.category(c) == "Cf" for c in once)
    # and a lookup of anything at all answers (never raises)
    IDX.lookup(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(ENTRIES) - 1), st.integers(0, 2**32 - 1))
def test_a_disguised_near_miss_is_still_a_near_miss(i, seed):
    """Folding must not make different things equal: 112 for 12 stays a different property when disguised."""
    e = ENTRIES[i]
    a = e.address
    if not a.paon.isdigit() or a.saon:
        return
    q = disguise(f"1{a.paon} {a.street} {a.town}", random.Random(seed))
    r = IDX.lookup(q)
    assert not (r.outcome is Outcome.ALERT and e.ref in refs(r)), q


def test_the_card_shows_the_query_as_it_was_read():
    """A card must not echo text that looks like the query but was compared as something else: it shows the folded
    query (what the matcher read), so what the user sees is what was checked."""
    idx = RegisterIndex(today=lambda: TODAY)
    typed = "K\u0430ren Pil\u00adling"  # Cyrillic a, soft hyphen
    card = check_result_card(typed, idx.lookup(typed), date(2025, 6, 1))
    shown = str(card)
    assert "Karen Pilling" in shown
    assert "\u0430" not in shown and "\u00ad" not in shown


def test_address_parts_are_folded_when_imported():
    a = parse_address("Fl\u0430t 2, 1\u200b2 High St, Chorley", "PR7 1\u0410A")
    assert (a.saon, a.paon, a.street, a.postcode) == ("FLAT 2", "12", "HIGH STREET", "PR7 1AA")
    assert isinstance(a, Address)
