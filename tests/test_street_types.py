"""Every UK street descriptor and every abbreviation of it (register/street_types.txt), tried on real addresses.

For each descriptor, real Price Paid properties are put on a register with their street ending in that descriptor;
then each abbreviation is typed in its place (as staff type: upper, lower, with a full stop). Each must alert for that
property, on the register's side too (an entry imported with the abbreviation is found by the full word). The near
misses must not: another house number, or another descriptor typed in its place.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from register.address import STREET_DESCRIPTORS, STREET_TYPES, parse_address, split_paon
from register.matching import RegisterIndex, _word_sim
from register.model import Outcome
from tests.addresses import distinct_properties, pp_address
from tests.test_matching import TODAY, entry, refs

PER_DESCRIPTOR = 3
WITH_ABBREVIATIONS = sorted(d for d, abbreviations in STREET_DESCRIPTORS.items() if abbreviations)


def _core(street: str) -> str:
    """The street's name without its descriptor: 'HIGH STREET' -> 'HIGH'."""
    words = street.split()
    if len(words) > 1 and (words[-1] in STREET_DESCRIPTORS or words[-1] in STREET_TYPES):
        words = words[:-1]
    return " ".join(w for w in words if w != "THE")


def _bases():
    """Real numbered houses (no flat) with a street and a town, in a fixed order."""
    out = []
    for r in distinct_properties():
        a = pp_address(r)
        if a.saon or not a.street or not a.town or not split_paon(a.paon).number or split_paon(a.paon).name:
            continue
        if not _core(a.street) or len(_core(a.street).split()) > 2:
            continue
        out.append(a)
    return out


class Register:
    """For every descriptor, PER_DESCRIPTOR real addresses with their street renamed to end in it."""

    def __init__(self) -> None:
        bases = _bases()
        self.index = RegisterIndex(today=lambda: TODAY)
        self.cases: list[tuple[str, str, object]] = []  # (descriptor, ref, address)
        k = 0
        for d in sorted(STREET_DESCRIPTORS):
            for _ in range(PER_DESCRIPTOR):
                a = bases[(k * 7919) % len(bases)]
                k += 1
                a = replace(a, street=f"{_core(a.street)} {d}", text="")
                ref = f"S{k:04d}"
                self.index.put_entry(entry(ref, a))
                self.cases.append((d, ref, a))


@pytest.fixture(scope="module")
def reg() -> Register:
    return Register()


def _typed(a, street: str, number: str | None = None) -> list[str]:
    number = number or a.paon
    return [f"{number} {street} {a.town}", f"{number} {street}, {a.town}".lower(), f"{number} {street}., {a.town}"]


def test_the_table_is_complete_and_safe():
    """Every descriptor the register knew is in the table; no abbreviation stands for two descriptors or is itself
    a descriptor; and the forms the issue names are there."""
    owners: dict[str, set[str]] = {}
    for d, abbreviations in STREET_DESCRIPTORS.items():
        for a in abbreviations:
            owners.setdefault(a, set()).add(d)
    assert {a: o for a, o in owners.items() if len(o) > 1} == {}
    assert not set(owners) & set(STREET_DESCRIPTORS)
    assert len(STREET_DESCRIPTORS) >= 100 and sum(len(a) for a in STREET_DESCRIPTORS.values()) >= 200
    for d, a in (("CLOSE", "CL"), ("CLOSE", "CLS"), ("AVENUE", "AVE"), ("CRESCENT", "CRES"), ("TERRACE", "TCE")):
        assert a in STREET_DESCRIPTORS[d]
    # one-letter abbreviations would eat flats and initials
    assert all(len(a) > 1 for a in owners)


@pytest.mark.parametrize("descriptor", WITH_ABBREVIATIONS)
def test_every_abbreviation_of_every_descriptor_alerts(reg, descriptor):
    misses = []
    for d, ref, a in reg.cases:
        if d != descriptor:
            continue
        core = _core(a.street)
        for abbreviation in STREET_DESCRIPTORS[d]:
            for q in _typed(a, f"{core} {abbreviation.title()}"):
                r = reg.index.lookup(q)
                if not (r.outcome is Outcome.ALERT and refs(r) == [ref]):
                    misses.append((q, r.outcome.value, refs(r)))
    assert not misses, misses[:10]


@pytest.mark.parametrize("descriptor", WITH_ABBREVIATIONS)
def test_an_entry_imported_with_an_abbreviation_is_found_by_the_full_word(descriptor):
    base = _bases()[WITH_ABBREVIATIONS.index(descriptor)]
    core = _core(base.street)
    for i, abbreviation in enumerate(STREET_DESCRIPTORS[descriptor]):
        idx = RegisterIndex(today=lambda: TODAY)
        imported = parse_address(f"{base.paon} {core} {abbreviation}, {base.town}", base.postcode)
        idx.put_entry(entry(f"I{i}", imported))
        r = idx.lookup(f"{base.paon} {core} {descriptor} {base.town}")
        assert (r.outcome, refs(r)) == (Outcome.ALERT, [f"I{i}"]), (abbreviation, imported)


def _far(a: str, b: str) -> bool:
    """Two descriptors a typo cannot turn into one another (GROVE/GROVES are one edit apart: a typo, not a miss)."""
    return _word_sim(a, b) < 0 and _word_sim(b, a) < 0


@pytest.mark.parametrize("descriptor", WITH_ABBREVIATIONS)
def test_near_misses_with_abbreviations_never_alert(reg, descriptor):
    """Another house number, or another descriptor (by any of its abbreviations) in place of this one."""
    others = [o for o in WITH_ABBREVIATIONS if o != descriptor and _far(o, descriptor)]
    wrong = []
    for d, ref, a in reg.cases:
        if d != descriptor:
            continue
        core = _core(a.street)
        number = split_paon(a.paon).lo
        for abbreviation in STREET_DESCRIPTORS[d]:
            for q in _typed(a, f"{core} {abbreviation}", str(number + 100)):
                r = reg.index.lookup(q)
                if r.outcome is Outcome.ALERT and ref in refs(r):
                    wrong.append(q)
        for o in others[:: max(1, len(others) // 12)]:
            # an abbreviation one slip away from this descriptor is also a typo of it (PARD: PARADE, or PARK mistyped)
            for abbreviation in [x for x in STREET_DESCRIPTORS[o] if _far(x, descriptor)][:2]:
                q = f"{a.paon} {core} {abbreviation} {a.town}"
                r = reg.index.lookup(q)
                if r.outcome is Outcome.ALERT and ref in refs(r):
                    wrong.append(q)
    assert not wrong, wrong[:10]


def test_every_real_street_typed_with_its_abbreviations_alerts():
    """Over the real register addresses as they are: each property of the Price Paid sample whose street ends in a
    descriptor, typed with that descriptor abbreviated (every abbreviation for the first properties of each
    descriptor, one in turn for the rest). A register of all of them, so neighbours and namesakes compete."""
    idx = RegisterIndex(today=lambda: TODAY)
    cases = []
    for i, r in enumerate(distinct_properties()):
        a = pp_address(r)
        idx.put_entry(entry(f"R{i:05d}", a))
        words = a.street.split()
        if len(words) >= 2 and STREET_DESCRIPTORS.get(words[-1]) and a.town:
            cases.append((f"R{i:05d}", a, words))
    seen: dict[str, int] = {}
    checked, misses = 0, []
    for ref, a, words in cases:
        abbreviations = STREET_DESCRIPTORS[words[-1]]
        k = seen.get(words[-1], 0)
        seen[words[-1]] = k + 1
        chosen = abbreviations if k < 5 else (abbreviations[k % len(abbreviations)],)
        flat = f"{a.saon}, " if a.saon else ""
        for abbreviation in chosen:
            q = f"{flat}{a.paon} {' '.join(words[:-1])} {abbreviation.title()}, {a.town}"
            r = idx.lookup(q)
            checked += 1
            if not (ref in refs(r) and r.outcome in (Outcome.ALERT, Outcome.AMBIGUOUS)):
                misses.append((q, a.display(), r.outcome.value, refs(r)))
            elif r.outcome is Outcome.ALERT and refs(r) != [ref] and not all(
                m.address is not None and m.address.street == a.street for m in r.matches
            ):
                misses.append((q, "alert for another property", refs(r)))
    assert checked > 5000
    assert not misses, misses[:10]
