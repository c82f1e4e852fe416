"""`register-admin` as an administrator runs it: the installed console script, in a subprocess, on a real file."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.sqlite import SQLiteStore

SCRIPT = Path(sys.executable).with_name("register-admin")

HEADER = "ref,subject,person_name,address,postcode,restrictions,guidance,contact,status,decided_on,review_on,expires_on"
GOOD = [
    'MCR-2026-0101,property,,"12 High Street, Chorley",PR7 1AA,no_lone_visits,Do not visit alone.,'
    "Team leader 01257 000000,active,2026-09-01,2027-03-01,2027-09-01",
    'MCR-2026-0102,person_and_property,Gary Hollins,"Flat 2, 40 Market Street, Chorley",PR7 2SE,'
    'single_point_of_contact;written_contact_only,"Contact through the named officer only.",'
    "CS manager,active,2026-10-01,2027-04-01,2027-10-01",
    "MCR-2026-0103,person,Karen Pilling,,,phone_limits,Tuesdays only.,CS manager,active,2026-10-01,2027-04-01,",
    'MCR-2026-0104,property,,"18 Mill Lane, Coppull",PR7 5AN,,,Waste supervisor,pending,,,',
    'MCR-2025-0009,property,,"5 Station Road, Adlington",PR7 4EE,no_lone_visits,,Housing,expired,'
    "2025-01-01,2025-07-01,2026-01-01",
]


def run(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "REGISTER_DB": str(db)}
    env.pop("COSMOS_ENDPOINT", None)
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "register.db"


@pytest.fixture
def good_csv(tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("\n".join([HEADER, *GOOD]) + "\n")
    return path


def refs_in(db: Path) -> list[str]:
    async def _refs():
        store = await SQLiteStore.open(db)
        try:
            return sorted(e.ref for e in await store.list_entries())
        finally:
            await store.close()

    return asyncio.run(_refs())


def test_import_then_import_again_creates_no_duplicates(db, good_csv):
    first = run(db, "import", str(good_csv))
    assert first.returncode == 0, first.stderr
    assert "5 created" in first.stdout
    second = run(db, "import", str(good_csv))
    assert second.returncode == 0, second.stderr
    assert "0 created" in second.stdout and "5 unchanged" in second.stdout
    assert refs_in(db) == ["MCR-2025-0009", "MCR-2026-0101", "MCR-2026-0102", "MCR-2026-0103", "MCR-2026-0104"]


def test_a_file_with_bad_rows_imports_nothing_and_names_each_bad_line(db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([
        HEADER,
        GOOD[0],
        GOOD[1].replace("active", "activ"),                             # line 3: bad status
        GOOD[2].replace("phone_limits", "no_phones"),                   # line 4: unknown restriction
        GOOD[0].replace("MCR-2026-0101", "MCR-2026-0105").replace("2026-09-01", "01/09/2026"),  # line 5: date
        GOOD[0],                                                        # line 6: duplicate ref
        "MCR-2026-0106,property,,,,no_lone_visits,,x,active,2026-01-01,2026-06-01,",  # line 7: no address
    ]) + "\n")
    result = run(db, "import", str(bad))
    assert result.returncode == 1
    for line, words in [(3, "status 'activ'"), (4, "restriction 'no_phones'"), (5, "decided_on '01/09/2026'"),
                        (6, "already appears on line 2"), (7, "needs an address")]:
        assert f"line {line}: " in result.stderr and words in result.stderr, (line, result.stderr)
    assert "nothing imported" in result.stderr
    assert refs_in(db) == []
    skipped = run(db, "import", "--skip-invalid", str(bad))
    assert skipped.returncode == 0, skipped.stderr
    assert refs_in(db) == ["MCR-2026-0101"]


def test_a_file_without_the_header_is_refused(db, tmp_path):
    bad = tmp_path / "noheader.csv"
    bad.write_text("\n".join(GOOD) + "\n")
    result = run(db, "import", str(bad))
    assert result.returncode == 1 and "line 1: the header is missing column(s)" in result.stderr


def test_check_json_reads_stdin_one_object_per_line_in_order(db, good_csv):
    assert run(db, "import", str(good_csv)).returncode == 0
    queries = ["12 high st", "flat 2, 40 market st, pr7 2se", "5 Station Road, Adlington", "18 mill lane coppull",
               "99 Nowhere Road", "flat 3 40 market street chorley", "karen pilling"]
    result = run(db, "check", "--json", stdin="\n".join(queries) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(queries)
    answers = [json.loads(line) for line in lines]
    assert [a["query"] for a in answers] == queries
    assert [a["outcome"] for a in answers] == ["alert", "alert", "none", "pending", "none", "building", "alert"]
    assert answers[0]["matches"][0] == {"ref": "MCR-2026-0101", "address": answers[0]["matches"][0]["address"],
                                        "postcode": "PR7 1AA"}
    assert "12 High Street" in answers[0]["matches"][0]["address"]
    assert answers[5]["matches"][0]["ref"] == "MCR-2026-0102"
    assert answers[6]["matches"][0]["ref"] == "MCR-2026-0103"


def test_checks_are_audited_as_the_administrator(db, good_csv):
    run(db, "import", str(good_csv))
    assert run(db, "check", "12", "High", "St").returncode == 0

    async def audit():
        store = await SQLiteStore.open(db)
        try:
            return await store.list_audit(ref="MCR-2026-0101")
        finally:
            await store.close()

    records = asyncio.run(audit())
    checks = [r for r in records if r.action == "check"]
    assert len(checks) == 1
    assert checks[0].actor.user_id == f"cli:{getpass.getuser()}"
    assert checks[0].query == "12 High St" and checks[0].conversation_type == "cli"
    assert [r.action for r in records] == ["import", "check"]


def test_export_round_trips_through_import(db, good_csv, tmp_path):
    run(db, "import", str(good_csv))
    exported = run(db, "export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines()[0] == HEADER
    again = tmp_path / "again.csv"
    again.write_text(exported.stdout)
    other_db = tmp_path / "other.db"
    assert run(other_db, "import", str(again)).returncode == 0
    assert run(other_db, "export").stdout == exported.stdout
    as_json = json.loads(run(db, "export", "--format", "json").stdout)
    assert [e["ref"] for e in as_json] == refs_in(db)


def test_demo_loads_the_demo_register(db):
    result = run(db, "demo")
    assert result.returncode == 0, result.stderr
    assert len(refs_in(db)) == 12
    check = run(db, "check", "--json", "12 High St")
    assert json.loads(check.stdout)["outcome"] == "alert"
