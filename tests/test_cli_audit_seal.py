"""`register-admin audit seal` and `audit verify`, run as an administrator runs them (the installed console script in
a subprocess), on a SQLite file and on the Cosmos DB wire server, against someone who changes the audit trail
directly in the database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from register.sealing import from_epoch_us
from storage.cosmos import AUDIT, audit_partition, doc_id
from storage.sqlite import SQLiteStore
from tests.storage_contract import make_audit
from tests.test_cli import SCRIPT
from tests.test_storage_cosmos import raw_container


def admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("COSMOS_")}
    return subprocess.run([str(SCRIPT), "audit", *args], capture_output=True, text=True, env={**full, **env},
                          timeout=120)


def digest_of(output: str) -> str:
    found = re.search(r"digest sha256:([0-9a-f]{64})", output)
    assert found, output
    return found.group(1)


def old_records(n: int = 4):
    now = datetime.now(UTC)
    return [make_audit((f"MCR-2026-010{i}",), at=now - timedelta(hours=n - i), query=f"q{i}") for i in range(n)]


def test_seal_then_verify_on_sqlite_names_what_someone_with_the_file_changed(tmp_path):
    db = tmp_path / "r.db"
    env = {"REGISTER_DB": str(db)}
    records = old_records()

    async def seed():
        store = await SQLiteStore.open(db)
        for record in records:
            await store.append_audit(record)
        await store.close()

    asyncio.run(seed())
    nothing = admin(env, "verify")
    assert nothing.returncode == 0 and "no seals yet" in nothing.stdout, nothing.stdout + nothing.stderr
    sealed = admin(env, "seal")
    assert sealed.returncode == 0, sealed.stderr
    assert "sealed 4 record(s) in 1 seal(s)" in sealed.stdout
    kept = digest_of(sealed.stdout)
    intact = admin(env, "verify", "--expect", f"sha256:{kept}")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit trail intact: 1 seal(s), 4 record(s) verified" in intact.stdout and kept in intact.stdout
    assert admin(env, "verify", "--ref", "x").returncode == 2

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")  # an administrator of the file can do this
    conn.execute("UPDATE audit SET body = json_set(body, '$.query', 'nothing to see') WHERE id = ?", (records[2].id,))
    conn.close()
    tampered = admin(env, "verify")
    assert tampered.returncode == 1
    assert f"TAMPERED: record {records[2].id}" in tampered.stdout and "altered" in tampered.stdout
    assert kept in tampered.stdout  # the latest seal's digest is still printed
    # the verify runs are audited like every other administrator action
    actions = [json.loads(line) for line in admin(env).stdout.splitlines()]
    assert [a["outcome"][:8] for a in actions if a["action"] == "audit_verify"] == ["intact", "intact", "tampered"]

    # a chain rewritten from scratch is consistent in itself: only the digest kept elsewhere shows it
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_seals_no_delete")
    conn.execute("DELETE FROM audit_seals")
    conn.close()
    resealed = admin(env, "seal")
    assert resealed.returncode == 0 and digest_of(resealed.stdout) != kept
    assert admin(env, "verify").returncode == 0
    caught = admin(env, "verify", "--expect", kept)
    assert caught.returncode == 1 and "no seal has the digest you kept" in caught.stdout


@pytest.mark.cosmos
async def test_seal_then_verify_on_cosmos_names_a_record_replaced_with_the_client(fresh_cosmos_env):
    from storage.cosmos import CosmosStore

    records = old_records()
    store = await CosmosStore.from_env(fresh_cosmos_env)
    try:
        for record in records:
            await store.append_audit(record)
    finally:
        await store.close()
    sealed = await asyncio.to_thread(admin, fresh_cosmos_env, "seal")
    assert sealed.returncode == 0 and "sealed 4 record(s)" in sealed.stdout, sealed.stdout + sealed.stderr
    ok = await asyncio.to_thread(admin, fresh_cosmos_env, "verify")
    assert ok.returncode == 0 and "audit trail intact" in ok.stdout, ok.stdout + ok.stderr

    client, _, container = await raw_container(fresh_cosmos_env, AUDIT)
    try:
        doc = await container.read_item(doc_id(records[1].id), partition_key=audit_partition(records[1].at))
        await container.replace_item(doc["id"], {**doc, "actor": {"user_id": "someone-else", "name": "Nobody"}})
        intruder = make_audit(at=from_epoch_us(doc["at_us"] - 1))  # back-dated just before it
        await container.create_item({**intruder.to_dict(), "id": intruder.id, "pk": audit_partition(intruder.at),
                                     "at_us": doc["at_us"] - 1})
    finally:
        await client.close()
    tampered = await asyncio.to_thread(admin, fresh_cosmos_env, "verify")
    assert tampered.returncode == 1
    assert f"TAMPERED: record {intruder.id}" in tampered.stdout and "inserted out of order" in tampered.stdout
