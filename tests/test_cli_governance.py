"""register-admin's data-protection duties: retention, subject access, audit export and roles."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta

from register.address import parse_address
from register.model import Actor, AuditRecord, Entry, Incident, IncidentStatus, Restriction, Status, Subject
from storage.sqlite import SQLiteStore
from tests.test_cli import run

TODAY = date.today()


def entry(ref, status, address, postcode, decided, person="", subject=Subject.PROPERTY, incidents=()):
    return Entry(ref=ref, subject=subject, status=status, person_name=person,
                 address=parse_address(address, postcode) if address else None,
                 restrictions=[Restriction.NO_LONE_VISITS], guidance="Two officers.", contact="Team leader",
                 decided_on=decided, review_on=decided + timedelta(days=182), expires_on=decided + timedelta(days=365),
                 incident_refs=list(incidents))


def seed(db):
    async def _seed():
        store = await SQLiteStore.open(db)
        years = lambda n: TODAY - timedelta(days=365 * n)  # noqa: E731
        for e in [
            entry("MCR-2017-0001", Status.EXPIRED, "5 Station Road, Adlington", "PR7 4EE", years(8),
                  incidents=["INC-2017-0001"]),
            entry("MCR-2017-0002", Status.LIFTED, "6 Station Road, Adlington", "PR7 4EE", years(8)),
            entry("MCR-2024-0003", Status.LIFTED, "7 Station Road, Adlington", "PR7 4EE", years(2)),
            entry("MCR-2024-0004", Status.REJECTED, "8 Station Road, Adlington", "PR7 4EE", years(2)),
            entry("MCR-2026-0005", Status.REJECTED, "9 Station Road, Adlington", "PR7 4EE", TODAY - timedelta(days=30)),
            entry("MCR-2026-0006", Status.ACTIVE, "Flat 2, 40 Market Street, Chorley", "PR7 2SE",
                  TODAY - timedelta(days=10), person="Gary Hollins", subject=Subject.PERSON_AND_PROPERTY,
                  incidents=["INC-2026-0006"]),
            entry("MCR-2019-0007", Status.EXPIRED, "Flat 2, 40 Market Street, Chorley", "PR7 2SE",
                  years(7) - timedelta(days=60),
                  person="Gary Hollins", subject=Subject.PERSON_AND_PROPERTY),
        ]:
            await store.create_entry(e)
        for ref, status, when in [("INC-2017-0001", IncidentStatus.DECIDED, years(8)),
                                  ("INC-2026-0006", IncidentStatus.DECIDED, TODAY - timedelta(days=12)),
                                  ("INC-2024-0009", IncidentStatus.REJECTED, years(2))]:
            await store.create_incident(Incident(ref=ref, address=parse_address("40 Market Street", "PR7 2SE"),
                                                 reported_at=datetime.combine(when, datetime.min.time(), UTC),
                                                 status=status))
        await store.append_audit(AuditRecord(id="old", at=datetime.now(UTC) - timedelta(days=365 * 8),
                                             actor=Actor("u-1", "aad-1", "Old Viewer"), action="check",
                                             query="5 station rd", outcome="alert", refs=("MCR-2017-0001",)))
        await store.append_audit(AuditRecord(id="recent", at=datetime.now(UTC) - timedelta(days=3),
                                             actor=Actor("u-2", "aad-2", "Pat Viewer"), action="check",
                                             query="flat 2 40 market st", outcome="alert",
                                             refs=("MCR-2026-0006",)))
        await store.close()

    asyncio.run(_seed())


def state(db):
    async def _state():
        store = await SQLiteStore.open(db)
        try:
            return (sorted(e.ref for e in await store.list_entries()),
                    sorted(i.ref for i in await store.list_incidents()),
                    [a.id for a in await store.list_audit()])
        finally:
            await store.close()

    return asyncio.run(_state())


def test_retention_dry_run_lists_and_changes_nothing_then_run_purges(tmp_path):
    db = tmp_path / "r.db"
    seed(db)
    before = state(db)
    dry = run(db, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for ref in ("MCR-2017-0001", "MCR-2017-0002", "MCR-2024-0004", "INC-2017-0001", "INC-2024-0009",
                "MCR-2019-0007"):
        assert f" {ref} " in dry.stdout, (ref, dry.stdout)
    for kept in ("MCR-2024-0003", "MCR-2026-0005", "MCR-2026-0006", "INC-2026-0006"):
        assert kept not in dry.stdout
    assert "1 audit record(s)" in dry.stdout
    after_dry = state(db)
    assert after_dry[:2] == before[:2]
    assert after_dry[2][:2] == before[2] and len(after_dry[2]) == len(before[2]) + 1  # the dry run is audited
    real = run(db, "retention", "run")
    assert real.returncode == 0, real.stderr
    entries, incidents, audit = state(db)
    assert entries == ["MCR-2024-0003", "MCR-2026-0005", "MCR-2026-0006"]
    assert incidents == ["INC-2026-0006"]
    assert "old" not in audit and "recent" in audit


def test_subject_access_by_name_and_address_with_who_viewed(tmp_path):
    db = tmp_path / "r.db"
    seed(db)
    html_path = tmp_path / "sar.html"
    by_name = run(db, "sar", "--name", "gary hollins", "--html", str(html_path))
    assert by_name.returncode == 0, by_name.stderr
    report = json.loads(by_name.stdout)
    assert report["outcome"] == "found"
    assert [e["ref"] for e in report["entries"]] == ["MCR-2019-0007", "MCR-2026-0006"]  # expired ones too
    assert [i["ref"] for i in report["incidents"]] == ["INC-2026-0006"]
    assert [a["actor"]["name"] for a in report["audit"] if a["action"] == "check"] == ["Pat Viewer"]
    page = html_path.read_text()
    assert "MCR-2026-0006" in page and "Pat Viewer" in page and "<script" not in page
    by_address = json.loads(run(db, "sar", "--address", "Flat 2, 40 Market St, PR7 2SE").stdout)
    assert [e["ref"] for e in by_address["entries"]] == ["MCR-2019-0007", "MCR-2026-0006"]
    other_flat = json.loads(run(db, "sar", "--address", "Flat 3, 40 Market St, PR7 2SE").stdout)
    assert other_flat["entries"] == []
    station = run(db, "sar", "--address", "Station Road, Adlington")
    assert json.loads(station.stdout)["outcome"] in ("ambiguous", "none")


def test_sar_report_escapes_what_it_shows(tmp_path):
    from register.governance import SubjectAccess, subject_access_html

    hostile = entry("MCR-2026-0100", Status.ACTIVE, "1 High Street", "PR7 1AA", TODAY,
                    person="<script>alert(1)</script>", subject=Subject.PERSON)
    page = subject_access_html(SubjectAccess(query="<b>x</b>", outcome="found", entries=[hostile]),
                               datetime.now(UTC))
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>x</b>" not in page


def test_audit_export_by_dates_and_ref(tmp_path):
    db = tmp_path / "r.db"
    seed(db)
    since = (TODAY - timedelta(days=10)).isoformat()
    result = run(db, "audit", "--from", since, "--to", TODAY.isoformat())
    assert result.returncode == 0, result.stderr
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == ["recent"]
    by_ref = run(db, "audit", "--ref", "MCR-2017-0001")
    assert [json.loads(line)["id"] for line in by_ref.stdout.splitlines()] == ["old"]
    assert run(db, "audit", "--from", "yesterday").returncode == 2


def test_roles_grant_list_revoke_are_audited(tmp_path):
    db = tmp_path / "r.db"
    assert run(db, "roles", "grant", "AAD-Approver-1", "approver").returncode == 0
    assert run(db, "roles", "grant", "aad-admin-2", "administrator").returncode == 0
    listed = run(db, "roles", "list").stdout
    assert "aad-approver-1\tapprover" in listed and "aad-admin-2\tadministrator" in listed
    assert run(db, "roles", "revoke", "aad-approver-1").returncode == 0
    assert "aad-approver-1" not in run(db, "roles", "list").stdout
    assert run(db, "roles", "grant", "x").returncode == 2
    exported = [json.loads(line) for line in run(db, "audit").stdout.splitlines()]
    assert [(a["action"], a["query"], a["outcome"]) for a in exported if a["action"] == "role_change"] == [
        ("role_change", "aad-approver-1", "approver"), ("role_change", "aad-admin-2", "administrator"),
        ("role_change", "aad-approver-1", "staff")]



def run_with(db, env: dict[str, str], *args: str):
    import os
    import subprocess

    from tests.test_cli import SCRIPT

    full = {**os.environ, "REGISTER_DB": str(db), **env}
    full.pop("COSMOS_ENDPOINT", None)
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=60)


def test_retention_refuses_settings_that_would_erase_the_audit_trail_and_audits_the_refusal(tmp_path):
    """`REGISTER_AUDIT_RETENTION_DAYS=-1 register-admin retention run` used to purge every audit record."""
    db = tmp_path / "r.db"
    seed(db)
    before = state(db)
    for env in ({"REGISTER_AUDIT_RETENTION_DAYS": "-1"}, {"REGISTER_AUDIT_RETENTION_DAYS": "0"},
                {"REGISTER_AUDIT_RETENTION_DAYS": "30"}, {"REGISTER_AUDIT_RETENTION_DAYS": "seven years"},
                {"REGISTER_AUDIT_RETENTION_DAYS": "99999999999999"},
                {"REGISTER_RETENTION_DAYS": "3650"},  # entries kept 10 years: a 7-year trail would go first
                {"REGISTER_REJECTED_RETENTION_DAYS": "-5"}):
        result = run_with(db, env, "retention", "run")
        assert result.returncode == 2, (env, result.stdout, result.stderr)
        assert "retention refused" in result.stderr and next(iter(env)) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    entries, incidents, audit = state(db)
    assert (entries, incidents) == before[:2] and audit[:2] == before[2]  # nothing purged
    refusals = [json.loads(line) for line in run(db, "audit").stdout.splitlines()]
    assert [r["action"] for r in refusals].count("retention_refused") == 7
    # a longer audit retention than the floor is fine, and purges only what it says
    ok = run_with(db, {"REGISTER_AUDIT_RETENTION_DAYS": str(365 * 9)}, "retention", "run")
    assert ok.returncode == 0, ok.stderr
    assert "old" in state(db)[2]
