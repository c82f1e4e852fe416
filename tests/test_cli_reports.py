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
