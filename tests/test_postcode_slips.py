"""A postcode typed with one character wrong, or two neighbours swapped (`SN5 6BY`, `SN5 6XB` for SN5 6BX).

The postcode stays exact for an alert. But a query whose number and street match a flagged property under a postcode
one slip away in the same district is never a clear: it is AMBIGUOUS with that property as a choice, and the card says
the postcode differs. Another district (the same street name in another town) stays a clear.
"""

from __future__ import annotations

import string
from datetime import date

import pytest

from cards import messages
from cards.builders import check_result_card
from register.address import split_paon
from register.matching import RegisterIndex, _one_slip
from register.model import Outcome
from tests.addresses import distinct_properties, pp_address
from tests.test_matching import TODAY, entry, refs

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in an inward code


def slips(postcode: str) -> list[str]:
    """Every valid-shaped postcode of the same district one substitution or one adjacent swap away."""
    out, inward = set(), postcode.split()[1]
    outward = postcode.split()[0]
    for i, ch in enumerate(inward):
        for c in string.digits if i == 0 else INWARD_LETTERS:
            if c != ch:
                out.add(f"{outward} {inward[:i]}{c}{inward[i + 1:]}")
    swapped = inward[0] + inward[2] + inward[1]
    if swapped != inward:
        out.add(f"{outward} {swapped}")
    return sorted(out)


def _houses(n: int):
    out = []
    for r in distinct_properties():
        a = pp_address(r)
        p = split_paon(a.paon)
        if a.postcode and a.street and p.number and not p.name and not a.saon:
            out.append(a)
        if len(out) >= n:
            break
    return out


@pytest.fixture(scope="module")
def reg():
    idx = RegisterIndex(today=lambda: TODAY)
    houses = _houses(150)
    for i, a in enumerate(houses):
        idx.put_entry(entry(f"P{i:04d}", a))
    return idx, houses


def test_one_slip_is_exactly_one_substitution_or_one_adjacent_swap():
    assert _one_slip("SN5 6BY", "SN5 6BX") and _one_slip("SN5 6XB", "SN5 6BX") and _one_slip("SN5 7BX", "SN5 6BX")
    assert not _one_slip("SN5 6XX", "SN5 6BY")  # two characters
    assert not _one_slip("SN6 6BX", "SN5 6BX")  # another district
    assert not _one_slip("SN5 X6B", "SN5 6BX")


def test_every_one_slip_postcode_offers_the_property_never_a_clear(reg):
    idx, houses = reg
    wrong = []
    checked = 0
    for i, a in enumerate(houses):
        number = split_paon(a.paon).number
        for pc in slips(a.postcode):
            for q in (f"{number} {a.street} {pc}", f"{number} {a.street.lower()}, {pc.replace(' ', '').lower()}"):
                r = idx.lookup(q)
                checked += 1
                if r.outcome is Outcome.ALERT:
                    if refs(r) != [f"P{i:04d}"] or pc != a.postcode:
                        wrong.append((q, "alert", refs(r)))
                elif not (r.outcome is Outcome.AMBIGUOUS and f"P{i:04d}" in refs(r) and len(r.matches) <= 5):
                    wrong.append((q, r.outcome.value, refs(r)))
                else:
                    m = next(m for m in r.matches if m.ref == f"P{i:04d}")
                    if not m.postcode_differs or idx.lookup(m.address.display()).outcome is not Outcome.ALERT:
                        wrong.append((q, "choice", m.address.display()))
    assert checked > 10000
    assert not wrong, wrong[:10]


def test_near_misses_under_a_slipped_postcode_stay_clear(reg):
    """Another house number, or another district, with the slipped postcode: nothing offered for the property."""
    idx, houses = reg
    wrong = []
    for i, a in enumerate(houses):
        p = split_paon(a.paon)
        pc = slips(a.postcode)[0]
        outward, inward = a.postcode.split()
        other_district = f"{outward[:-1]}{(int(outward[-1]) + 1) % 10 if outward[-1].isdigit() else 'Z'} {inward}"
        for q in (f"{p.lo + 100} {a.street} {pc}", f"{p.number} {a.street} {other_district}"):
            r = idx.lookup(q)
            if f"P{i:04d}" in refs(r):
                wrong.append((q, r.outcome.value))
    assert not wrong, wrong[:10]


def test_the_card_says_the_postcode_differs(reg):
    idx, houses = reg
    a = houses[0]
    q = f"{split_paon(a.paon).number} {a.street} {slips(a.postcode)[0]}"
    r = idx.lookup(q)
    assert r.outcome is Outcome.AMBIGUOUS
    card = str(check_result_card(q, r, date(2025, 6, 1)))
    assert messages.POSTCODE_DIFFERS in card
    exact = f"{split_paon(a.paon).number} {a.street}"
    assert messages.POSTCODE_DIFFERS not in str(check_result_card(exact, idx.lookup(exact), date(2025, 6, 1)))


def broken(postcode: str) -> list[str]:
    """One slip that leaves no postcode's shape: the inward code's digit swapped with its first letter, its last
    letter left out, a letter added."""
    outward, inward = postcode.split()
    return [f"{outward} {inward[1]}{inward[0]}{inward[2]}", f"{outward} {inward[:2]}", f"{outward} {inward}A"]


def test_a_slip_that_breaks_the_postcodes_shape_still_offers_the_property(reg):
    idx, houses = reg
    wrong = []
    for i, a in enumerate(houses):
        number = split_paon(a.paon).number
        for pc in broken(a.postcode):
            q = f"{number} {a.street} {pc}"
            r = idx.lookup(q)
            if not (r.outcome is Outcome.AMBIGUOUS and f"P{i:04d}" in refs(r)):
                wrong.append((q, r.outcome.value, refs(r)))
            elif not next(m for m in r.matches if m.ref == f"P{i:04d}").postcode_differs:
                wrong.append((q, "postcode_differs not set"))
        # the space in the wrong place is the same postcode: an alert
        outward, inward = a.postcode.split()
        q = f"{number} {a.street} {outward}{inward[0]} {inward[1:]}"
        r = idx.lookup(q)
        if (r.outcome, refs(r)) != (Outcome.ALERT, [f"P{i:04d}"]):
            wrong.append((q, r.outcome.value, refs(r)))
        # another house number under the broken postcode: nothing for this property
        q = f"{split_paon(a.paon).lo + 100} {a.street} {broken(a.postcode)[0]}"
        if f"P{i:04d}" in refs(idx.lookup(q)):
            wrong.append((q, "near miss offered"))
    assert not wrong, wrong[:10]
