"""`register-admin incidents` and `register-admin approvers`, as an administrator runs them (a subprocess)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from register.address import parse_address
from register.model import Actor, Incident
from storage.sqlite import SQLiteStore
from tests.test_cli import run

MANAGER = "AAD-MANAGER-7"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "register.db"


def add_incident(path, ref: str, status: str = "pending") -> None:
    async def add() -> None:
        store = await SQLiteStore.open(path)
        try:
            await store.create_incident(Incident.from_dict({
                **Incident(ref=ref, address=parse_address("7 Mill Lane, Chorley", "PR7 3QQ"),
                           reported_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC), reporter=Actor("29:r", "aad-r"),
                           narrative="Swore at me on the doorstep.", person_name="Gary Hollins",
                           witnesses="Pat Jones", service_area="Housing", approver_name="Morgan Lee").to_dict(),
                "status": status}))
        finally:
            await store.close()

    asyncio.run(add())


def test_incidents_lists_without_the_narrative_unless_asked(db):
    add_incident(db, "INC-2026-000001")
    add_incident(db, "INC-2026-000002", status="rejected")
    out = run(db, "incidents")
    assert out.returncode == 0, out.stderr
    assert "INC-2026-000001" in out.stdout and "INC-2026-000002" in out.stdout and "Morgan Lee" in out.stdout
    for secret in ("Swore at me", "Gary Hollins", "Pat Jones"):
        assert secret not in out.stdout
    pending = run(db, "incidents", "--status", "pending", "--json")
    rows = [json.loads(line) for line in pending.stdout.splitlines()]
    assert [r["ref"] for r in rows] == ["INC-2026-000001"] and "narrative" not in rows[0]
    full = run(db, "incidents", "--json", "--full")
    assert {json.loads(line)["narrative"] for line in full.stdout.splitlines()} == {"Swore at me on the doorstep."}
    audit = [json.loads(line) for line in run(db, "audit").stdout.splitlines()]
    views = [r for r in audit if r["action"] == "incidents_view"]
    assert [v["outcome"] for v in views] == ["incidents=2", "incidents=1", "incidents=2 full"]
    assert views[-1]["refs"] == ["INC-2026-000001", "INC-2026-000002"]


def test_approvers_need_the_role_a_known_area_and_are_audited(db):
    refused = run(db, "approvers", "add", MANAGER, "--area", "Housing")
    assert refused.returncode == 2 and "roles grant" in refused.stderr
    assert run(db, "roles", "grant", MANAGER, "approver").returncode == 0
    unknown = run(db, "approvers", "add", MANAGER, "--area", "Potholes")
    assert unknown.returncode == 2 and "not a service area" in unknown.stderr and "Housing" in unknown.stderr
    added = run(db, "approvers", "add", MANAGER, "--area", "Housing", "--name", "Morgan Lee")
    assert added.returncode == 0, added.stderr
    assert run(db, "approvers", "list").stdout == "Housing\taad-manager-7\tMorgan Lee\n"
    assert run(db, "approvers", "remove", MANAGER, "--area", "Housing").returncode == 0
    assert run(db, "approvers", "list").stdout == ""
    assert run(db, "approvers", "add").returncode == 2
    audit = [json.loads(line) for line in run(db, "audit").stdout.splitlines()]
    assert [(r["action"], r["outcome"]) for r in audit if r["action"] == "approver_change"] == [
        ("approver_change", "added"), ("approver_change", "removed")]


def test_subject_access_by_name_includes_the_reports_about_that_person(db):
    add_incident(db, "INC-2026-000001")  # person "Gary Hollins" (see add_incident)
    out = run(db, "sar", "--name", "gary  HOLLINS")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert [i["ref"] for i in found["incidents"]] == ["INC-2026-000001"]
    assert found["incidents"][0]["narrative"] == "Swore at me on the doorstep."  # everything held is exported
    nobody = json.loads(run(db, "sar", "--name", "Somebody Else").stdout)
    assert nobody["incidents"] == []


def test_retention_run_purges_expired_report_drafts(db):
    from datetime import timedelta

    from register.store import Document

    async def drafts() -> None:
        store = await SQLiteStore.open(db)
        try:
            now = datetime.now(UTC)
            await store.create_document(Document("draft", "u1", "report", {}, expires_at=now - timedelta(days=1)))
            await store.create_document(Document("draft", "u2", "report", {}, expires_at=now + timedelta(days=1)))
        finally:
            await store.close()

    async def left() -> list[str]:
        store = await SQLiteStore.open(db)
        try:
            rows = store.conn  # the raw table: what is still stored, hidden or not
            return await store._run(lambda: [r[0] for r in rows.execute("SELECT part FROM documents").fetchall()])
        finally:
            await store.close()

    asyncio.run(drafts())
    out = run(db, "retention", "run")
    assert out.returncode == 0, out.stderr
    assert asyncio.run(left()) == ["u2"]
