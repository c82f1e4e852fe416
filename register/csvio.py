"""The spreadsheet format councils already keep, for `register-admin import` and `export` (they round-trip).

Header: ref,subject,person_name,address,postcode,restrictions,guidance,contact,status,decided_on,review_on,expires_on

Formula injection (OWASP "CSV injection"): a cell that begins with = + - @ (or their full-width forms), a tab, CR
or LF is opened by a spreadsheet as a formula (`=HYPERLINK(...)`, `+cmd|...`, `-2+3`). The export writes such a
cell with a single quote in front, which spreadsheets show as text; the import takes that quote off again. A value
that itself begins with a quote followed by one of those characters or by another quote gets one more quote, so
every value comes back exactly as it was (import, export, import changes nothing). Lines end in CRLF, so a CR or
LF inside a value is always inside quotes: it cannot start a new row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import TypeVar

from register.address import parse_address
from register.model import REF_PATTERN, Entry, Restriction, Status, Subject

COLUMNS = ("ref", "subject", "person_name", "address", "postcode", "restrictions", "guidance", "contact",
           "status", "decided_on", "review_on", "expires_on")
MAX_FIELD = 2000


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # line number in the file, header = 1
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ParsedFile:
    entries: list[Entry]
    errors: list[RowError]


def read_csv(text: str) -> ParsedFile:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return ParsedFile([], [RowError(1, f"the header is missing column(s): {', '.join(missing)}")])
    reader.fieldnames = header
    entries: list[Entry] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        try:
            entry = _entry_from_row(row)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if entry.ref in seen:
            errors.append(RowError(line, f"ref {entry.ref} already appears on line {seen[entry.ref]}"))
            continue
        seen[entry.ref] = line
        entries.append(entry)
    return ParsedFile(entries, errors)


#: Leading characters that make a spreadsheet read a cell as a formula (OWASP), with their full-width forms, which
#: some spreadsheet locales turn into the ASCII ones.
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def _needs_guard(value: str) -> bool:
    first, second = value[:1], value[1:2]
    return first in FORMULA_START or (first == "'" and bool(second) and (second in FORMULA_START or second == "'"))


def guard_cell(value: str) -> str:
    """What the export writes: the value as text a spreadsheet will not evaluate."""
    return "'" + value if value and _needs_guard(value) else value


def unguard_cell(value: str) -> str:
    """What the import reads: the exact inverse of guard_cell."""
    return value[1:] if value.startswith("'") and _needs_guard(value[1:]) else value


_Row = Mapping[str, str | None]  # a csv.DictReader row: a short row has None for its missing cells
_E = TypeVar("_E", bound=Enum)


def _field(row: _Row, name: str) -> str:
    value = unguard_cell((row.get(name) or "").strip())
    if len(value) > MAX_FIELD:
        raise ValueError(f"{name} is longer than {MAX_FIELD} characters")
    return value


def _date(row: _Row, name: str) -> date | None:
    value = _field(row, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} '{value}' is not a date in the form YYYY-MM-DD") from None


def _choice(enum: type[_E], row: _Row, name: str) -> _E:
    value = _field(row, name).lower()
    try:
        return enum(value)
    except ValueError:
        allowed = "|".join(m.value for m in enum)
        raise ValueError(f"{name} '{value}' is not one of {allowed}") from None


def _entry_from_row(row: _Row) -> Entry:
    ref = _field(row, "ref").upper()
    if not REF_PATTERN.match(ref):
        raise ValueError(f"ref '{ref}' is not a reference like MCR-2026-0007")
    subject = _choice(Subject, row, "subject")
    status = _choice(Status, row, "status")
    person_name = _field(row, "person_name")
    address_text, postcode = _field(row, "address"), _field(row, "postcode")
    if subject in (Subject.PERSON, Subject.PERSON_AND_PROPERTY) and not person_name:
        raise ValueError(f"subject {subject.value} needs a person_name")
    if subject in (Subject.PROPERTY, Subject.PERSON_AND_PROPERTY) and not address_text:
        raise ValueError(f"subject {subject.value} needs an address")
    address = parse_address(address_text, postcode) if address_text else None
    if address is not None and not (address.paon or address.postcode):
        raise ValueError(f"address '{address_text}' has no house number, building name or postcode")
    if postcode and address is not None and not address.postcode:
        raise ValueError(f"postcode '{postcode}' is not a valid UK postcode")
    restrictions = []
    for code in filter(None, (c.strip().lower() for c in _field(row, "restrictions").split(";"))):
        try:
            restrictions.append(Restriction(code))
        except ValueError:
            raise ValueError(f"restriction '{code}' is not one of the codes "
                             f"({', '.join(r.value for r in Restriction)})") from None
    decided_on, review_on, expires_on = (_date(row, n) for n in ("decided_on", "review_on", "expires_on"))
    if status is Status.ACTIVE:
        if not restrictions:
            raise ValueError("an active entry needs at least one restriction")
        if decided_on is None or review_on is None:
            raise ValueError("an active entry needs decided_on and review_on")
    for name, later in (("review_on", review_on), ("expires_on", expires_on)):
        if decided_on and later and later < decided_on:
            raise ValueError(f"{name} is before decided_on")
    if review_on and expires_on and expires_on < review_on:
        raise ValueError("expires_on is before review_on")
    return Entry(
        ref=ref,
        subject=subject,
        status=status,
        person_name=person_name,
        address=address,
        restrictions=restrictions,
        guidance=_field(row, "guidance"),
        contact=_field(row, "contact"),
        decided_on=decided_on,
        review_on=review_on,
        expires_on=expires_on,
    )


def write_csv(entries: Iterable[Entry]) -> str:
    out = io.StringIO()
    # CRLF (RFC 4180): the csv module quotes a cell holding any character of the line terminator, so a CR or LF
    # inside a value can never end the row early and start a new one (whose first cell could be a formula).
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({column: guard_cell(value) for column, value in _row(e).items()})
    return out.getvalue()


def _row(e: Entry) -> dict[str, str]:
    return {
        "ref": e.ref,
        "subject": e.subject.value,
        "person_name": e.person_name,
        "address": e.address.text if e.address else "",
        "postcode": e.address.postcode if e.address else "",
        "restrictions": ";".join(r.value for r in e.restrictions),
        "guidance": e.guidance,
        "contact": e.contact,
        "status": e.status.value,
        "decided_on": e.decided_on.isoformat() if e.decided_on else "",
        "review_on": e.review_on.isoformat() if e.review_on else "",
        "expires_on": e.expires_on.isoformat() if e.expires_on else "",
    }
