"""Streets named after their descriptor: The Street, The Green, The Avenue, The Close, The Drive, The Square ...

Every such address in the Price Paid sample goes on a register twice: from its parts (Price Paid columns), and from a
one-line import (the way a council spreadsheet holds it). The address shown is what was imported, never rewritten
('The Street' never comes back as 'The Saint'); and the ways staff type it find it.
"""

from __future__ import annotations

import re

import pytest

from register.address import STREET_DESCRIPTORS, parse_address, split_paon
from register.matching import RegisterIndex
from register.model import Outcome
from tests.addresses import distinct_properties, pp_address
from tests.test_matching import TODAY, entry, refs


def _rows():
    out = []
    for r in distinct_properties():
        words = r["street"].split()
        if len(words) == 2 and words[0] == "THE" and words[1] in STREET_DESCRIPTORS:
            out.append(r)
    return out


ROWS = _rows()


def _line(r: dict[str, str]) -> str:
    """The address as a council spreadsheet would hold it, in one cell: '2 Bourne Cottages, The Street, ...'."""
    saon, paon = r["saon"].title(), r["paon"].title()
    first = f"{saon} {paon}" if saon and re.fullmatch(r"\d+[A-Z]?", saon) else ", ".join(p for p in (saon, paon) if p)
    return ", ".join(p for p in (first, r["street"].title(), r["locality"].title(), r["town_city"].title()) if p)


def test_there_are_enough_of_them():
    assert len(ROWS) >= 100
    assert len({r["street"] for r in ROWS}) >= 8  # The Street, The Green, The Avenue, The Drive, The Crescent ...


def test_the_issue_example_is_shown_as_imported_and_found():
    a = parse_address("2 Bourne Cottages, The Street, Bishopsbourne", "CT4 5HZ")
    assert a.display() == "2 Bourne Cottages, The Street, Bishopsbourne, CT4 5HZ"
    assert (a.saon, a.paon, a.street, a.town) == ("2", "BOURNE COTTAGES", "THE STREET", "BISHOPSBOURNE")
    idx = RegisterIndex(today=lambda: TODAY)
    idx.put_entry(entry("BC", a))
    for q in ("2 Bourne Cottages, The Street, Bishopsbourne", "2 bourne cottages the st bishopsbourne", a.display()):
        assert (idx.lookup(q).outcome, refs(idx.lookup(q))) == (Outcome.ALERT, ["BC"]), q
    # the number belongs to the row of cottages: '2 The Street' may be another house. Offered, never cleared.
    r = idx.lookup("2 The Street Bishopsbourne")
    assert (r.outcome, refs(r)) == (Outcome.AMBIGUOUS, ["BC"])
    assert idx.lookup(r.matches[0].address.display()).outcome is Outcome.ALERT
    assert idx.lookup("3 The Street Bishopsbourne").outcome is Outcome.NONE


@pytest.mark.parametrize("source", ["parts", "one line"])
def test_every_descriptor_street_is_shown_as_imported_and_found(source):
    idx = RegisterIndex(today=lambda: TODAY)
    cases = []
    for i, r in enumerate(ROWS):
        a = pp_address(r) if source == "parts" else parse_address(_line(r), r["postcode"])
        e = entry(f"D{i:04d}", a)
        idx.put_entry(e)
        cases.append((r, e))
    shown_wrong, clears, wrong = [], [], []
    for r, e in cases:
        a = e.address
        shown = a.display()
        if "Saint" in shown and "ST" not in f"{r['street']} {r['locality']} {r['town_city']} {r['paon']}".split():
            shown_wrong.append(shown)
        descriptor = r["street"].split()[1]
        p = split_paon(a.paon)
        town = (r["locality"] or r["town_city"]).title()
        if p.number and not p.name and not a.saon:
            number = p.number
            typed = [f"{number} The {descriptor.title()} {town}", f"{number} the {descriptor.lower()}, {town.lower()}"]
            typed += [f"{number} The {x.title()} {town}" for x in STREET_DESCRIPTORS[descriptor][:3]]
            typed.append(f"{number} The {descriptor.title()} {r['postcode']}")
        else:
            typed = [shown, _line(r).lower()]
        for q in typed:
            res = idx.lookup(q)
            if res.outcome is Outcome.NONE or e.ref not in refs(res):
                clears.append((q, shown, res.outcome.value, refs(res)))
            elif res.outcome is Outcome.ALERT and refs(res) != [e.ref]:
                wrong.append((q, refs(res)))
        if p.number and not p.name and not a.saon and p.lo:
            q = f"{p.lo + 100} The {descriptor.title()} {town}"
            res = idx.lookup(q)
            if res.outcome is Outcome.ALERT and e.ref in refs(res):
                wrong.append((q, refs(res)))
    assert not shown_wrong, shown_wrong[:10]
    assert not clears, clears[:10]
    assert not wrong, wrong[:10]
