"""Sample register data and one card of every kind, for the card tests, the golden files and screenshots.

Built from the domain dataclasses directly (no store, no matcher), so the cards are tested on exactly the
inputs they are given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cards import check_result_card, error_card, help_card, messages
from register.matching import LookupResult, Match
from register.model import Address, Entry, Incident, Outcome, Restriction, Status, Subject

TODAY = date(2026, 11, 28)

HOSTILE_QUERY = (
    "**URGENT** _now_ [click here](http://evil.example/x) ![img](http://evil.example/i.png) `code` "
    "<script>alert(1)</script> <at>Someone</at> ~~gone~~ &#91;x&#93; {{DATE(2017-02-14T06:08:39Z, SHORT)}} "
    "www.evil.example \u202egnp.exe\u200b\x00\n# heading\n- list\n1. item"
)
LONG_QUERY = "12 High Street " * 400

HIGH_ST = Address(text="12 High St, Chorley", paon="12", street="HIGH STREET", town="CHORLEY",
                  postcode="PR7 1AA")
MARYS = Address(saon="GROUND FLOOR FLAT", paon="123", street="SAINT MARY'S ROAD", locality="WHITTLE-LE-WOODS",
                town="CHORLEY", postcode="PR6 7AB")


def flat(n: int) -> Address:
    return Address(saon=f"FLAT {n}", paon="40", street="MARKET STREET", town="CHORLEY", postcode="PR7 2SE")


def entry(ref: str = "MCR-2026-0007", **changes: Any) -> Entry:
    values: dict[str, Any] = {
        "subject": Subject.PROPERTY,
        "status": Status.ACTIVE,
        "address": HIGH_ST,
        "restrictions": [Restriction.NO_LONE_VISITS, Restriction.WRITTEN_CONTACT_ONLY],
        "guidance": "Do not visit alone. Phone the team leader first.",
        "contact": "Sam Patel, Housing team leader, 01257 515151",
        "decided_on": date(2026, 11, 28),
        "review_on": date(2027, 5, 28),
        "expires_on": date(2027, 11, 27),
        "incident_refs": ["INC-2026-0031"],
    }
    values.update(changes)
    return Entry(ref=ref, **values)


def entry_match(e: Entry, address: Address | None = None, **extra: Any) -> Match:
    where = address if address is not None else e.address
    return Match(ref=e.ref, kind="entry", address=where, entry=e, **extra)


def incident_match(ref: str = "INC-2026-0040", address: Address = HIGH_ST,
                   manager: str = "Alex Jones") -> Match:
    incident = Incident(ref=ref, address=address, reported_at=datetime(2026, 11, 27, 15, 30),
                        manager_contact=manager)
    return Match(ref=ref, kind="incident", address=address, incident=incident)


def person_entry() -> Entry:
    return entry("MCR-2026-0011", subject=Subject.PERSON, address=None, person_name="Jane Smith",
                 restrictions=[Restriction.SINGLE_POINT_OF_CONTACT, Restriction.PREMISES_EXCLUSION],
                 guidance="Excluded from the civic offices and Chorley leisure centre.",
                 contact="Customer services team inbox")


def result(outcome: Outcome, *matches: Match) -> LookupResult:
    return LookupResult(outcome=outcome, matches=tuple(matches))


def sample_cards() -> dict[str, dict[str, Any]]:
    """name -> card: every outcome, the awkward inputs (several entries, long guidance, a person-only entry,
    hostile and very long queries), help and every error."""
    several = (
        entry_match(entry()),
        entry_match(entry("MCR-2025-0112", subject=Subject.PERSON_AND_PROPERTY, person_name="John Doe",
                          restrictions=list(Restriction), contact="", review_on=None,
                          guidance="Dog at the property: phone ahead so that it is shut away.")),
        entry_match(entry("MCR-2026-0020", restrictions=[], guidance="")),
    )
    huge = tuple(
        entry_match(entry(f"MCR-2026-{i:04d}", guidance="Take care. " * 600, contact="Contact name " * 500,
                          person_name="Person name " * 500))
        for i in range(1, 13)
    )
    hostile = entry(guidance="**Call** [me](http://evil.example) <b>now</b>",
                    contact="[Sam](mailto:sam@evil.example)")
    flats = tuple(entry_match(entry(f"MCR-2026-01{n:02d}", address=flat(n))) for n in range(1, 9))
    towns = [("CHORLEY", "PR7 1AA"), ("LEYLAND", "PR25 1AB"), ("ADLINGTON", "PR6 9AA"), ("EUXTON", "PR7 6AA"),
             ("COPPULL", "PR7 5AA"), ("CROSTON", "PR26 9AA")]
    candidates = tuple(
        entry_match(entry(f"MCR-2026-02{i:02d}"),
                    Address(paon="12", street="HIGH STREET", town=town, postcode=pc))
        for i, (town, pc) in enumerate(towns)
    )
    pending_entry = entry(status=Status.PENDING, contact="Priya Shah")

    def check(query: str, outcome: Outcome, *matches: Match) -> dict[str, Any]:
        return check_result_card(query, result(outcome, *matches), TODAY)

    cards: dict[str, dict[str, Any]] = {
        "alert": check("12 high st", Outcome.ALERT, entry_match(entry())),
        "alert_several": check("12 High St", Outcome.ALERT, *several),
        "alert_long_guidance": check("12 High St", Outcome.ALERT, *huge),
        "alert_person": check("Jane Smith", Outcome.ALERT, entry_match(person_entry())),
        "alert_hostile": check(HOSTILE_QUERY, Outcome.ALERT, entry_match(hostile)),
        "building": check("40 Market St", Outcome.BUILDING, flats[0], flats[3]),
        "building_many": check("Flat 9, 40 Market St", Outcome.BUILDING, *flats),
        "pending": check("12 High St", Outcome.PENDING, incident_match()),
        "pending_entry": check("12 High St", Outcome.PENDING, entry_match(pending_entry)),
        "pending_no_contact": check("12 High St", Outcome.PENDING, incident_match(manager="")),
        "ambiguous": check("12 High St", Outcome.AMBIGUOUS, *candidates),
        "ambiguous_person": check("smith", Outcome.AMBIGUOUS, entry_match(person_entry()),
                                  entry_match(entry(address=MARYS))),
        "none": check("99 Nowhere Road, Chorley", Outcome.NONE),
        "none_hostile": check(HOSTILE_QUERY, Outcome.NONE),
        "none_long": check(LONG_QUERY, Outcome.NONE),
        "help": help_card(messages.HELP_SAMPLE),
        "help_unknown": help_card(messages.HELP_SAMPLE, messages.UNKNOWN_COMMAND),
        "error_hostile": error_card(HOSTILE_QUERY),
    }
    for name in ERROR_MESSAGES:
        cards[f"error_{name.lower()}"] = error_card(getattr(messages, name))
    return cards


ERROR_MESSAGES = ("UNKNOWN_COMMAND", "EMPTY_CHECK", "REGISTER_UNAVAILABLE", "RESULT_SENT_PRIVATELY",
                  "CANNOT_MESSAGE_PRIVATELY", "SOMETHING_WENT_WRONG", "NOT_ALLOWED", "TOO_LONG")
