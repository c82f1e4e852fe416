"""The storage contract on the embedded SQLite backend, plus what only a file-backed store can show."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime

import pytest

from register.sealing import GENESIS, build_seal
from register.store import StoreUnavailable
from storage.sqlite import SQLiteStore
from tests.storage_contract import AuditSealContract, StoreContract, make_audit, make_entry


@pytest.fixture
async def store(tmp_path):
    s = await SQLiteStore.open(tmp_path / "register.db")
    yield s
    await s.close()


class SQLiteTamper:
    """Someone with the file and admin rights: the append-only triggers dropped, rows changed directly."""

    def __init__(self, path):
        self.path = path

    def _sql(self, sql: str, *args) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(sql, args)
        finally:
            conn.close()

    async def alter(self, record, **changes) -> None:
        self._sql("UPDATE audit SET body = ? WHERE id = ?", json.dumps({**record.to_dict(), **changes}), record.id)

    async def delete(self, record) -> None:
        self._sql("DELETE FROM audit_refs WHERE audit_seq = (SELECT seq FROM audit WHERE id = ?)", record.id)
        self._sql("DELETE FROM audit WHERE id = ?", record.id)

    async def alter_seal(self, n: int, **changes) -> None:
        for key, value in changes.items():
            self._sql(f"UPDATE audit_seals SET body = json_set(body, '$.{key}', ?) WHERE n = ?", value, n)

    async def delete_seal(self, n: int) -> None:
        self._sql("DELETE FROM audit_seals WHERE n = ?", n)


@pytest.fixture
def tamper(tmp_path):
    return SQLiteTamper(tmp_path / "register.db")


class TestSQLiteContract(StoreContract, AuditSealContract):
    pass


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path):
    """The bot and register-admin share the file: a write by one appears in the other's changes_since."""
    one = await SQLiteStore.open(tmp_path / "r.db")
    two = await SQLiteStore.open(tmp_path / "r.db")
    try:
        cursor = (await two.changes_since(None)).cursor
        await one.create_entry(make_entry("MCR-2026-0042"))
        changes = await two.changes_since(cursor)
        assert [e.ref for e in changes.entries] == ["MCR-2026-0042"]
    finally:
        await one.close()
        await two.close()


async def test_audit_rows_cannot_be_changed_even_with_raw_sql(tmp_path):
    store = await SQLiteStore.open(tmp_path / "r.db")
    await store.append_audit(make_audit())
    await store.close()
    conn = sqlite3.connect(tmp_path / "r.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET body = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()
    # the retention path can only take records older than its cutoff, and leaves the guard armed afterwards
    store = await SQLiteStore.open(tmp_path / "r.db")
    assert await store.purge_audit(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    await store.close()
    conn = sqlite3.connect(tmp_path / "r.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()


async def test_the_reference_index_and_the_floor_hold_against_raw_sql(tmp_path):
    """Someone with the file but not the will to drop triggers: `audit --ref` and the subject access export read
    the reference index, so it is as append-only as the records; a cut-off written into the file is not trusted
    (the floor is the database's own clock); INSERT OR REPLACE, which deletes without firing delete triggers, is
    refused too."""
    store = await SQLiteStore.open(tmp_path / "r.db")
    kept = make_audit(("MCR-2026-0001",))
    await store.append_audit(kept)
    await store.append_seal(build_seal(1, 0, 1, [], GENESIS, datetime.now(UTC), "test"))
    await store.close()
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    try:
        for sql in ("DELETE FROM audit_refs", "UPDATE audit_refs SET ref = 'MCR-0000-0000'",
                    "INSERT OR REPLACE INTO audit (seq, id, at, body) SELECT seq, id, at, '{}' FROM audit",
                    "INSERT OR REPLACE INTO audit (id, at, body) SELECT id, at, '{}' FROM audit",
                    "DELETE FROM audit_seals", "UPDATE audit_seals SET body = '{}'",
                    "INSERT OR REPLACE INTO audit_seals (n, body) VALUES (1, '{}')"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
        # the cut-off the purge used to write, and the trigger used to trust
        conn.execute("CREATE TABLE IF NOT EXISTS audit_purge_floor (value TEXT NOT NULL)")
        conn.execute("INSERT INTO audit_purge_floor (value) VALUES ('9999-12-31')")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
    finally:
        conn.close()
    store = await SQLiteStore.open(tmp_path / "r.db")
    try:
        assert await store.list_audit(ref="MCR-2026-0001") == [kept]
    finally:
        await store.close()


async def test_a_file_made_by_the_old_schema_loses_the_trusting_trigger(tmp_path):
    """A register file created before the floor moved into the database keeps its data and gets the new guard."""
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.executescript("""
        CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, at TEXT NOT NULL,
                            body TEXT NOT NULL);
        CREATE TABLE audit_purge_floor (value TEXT NOT NULL);
        CREATE TRIGGER audit_delete_only_past_retention BEFORE DELETE ON audit
            WHEN old.at >= COALESCE((SELECT value FROM audit_purge_floor), '')
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """)
    conn.close()
    store = await SQLiteStore.open(tmp_path / "r.db")
    await store.append_audit(make_audit())
    await store.close()
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "audit_purge_floor" not in names and "audit_delete_only_past_retention" not in names
        assert "audit_delete_only_past_floor" in names
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
    finally:
        conn.close()


def _count_batches(store: SQLiteStore) -> list[int]:
    """Record the size of every batch the store's worker applies (the group commit)."""
    sizes: list[int] = []
    apply = store._apply

    def recording(ops):
        sizes.append(len(ops))
        return apply(ops)

    store._apply = recording
    return sizes


async def test_concurrent_writes_share_a_commit_and_each_gets_its_own_answer(tmp_path):
    store = await SQLiteStore.open(tmp_path / "r.db")
    sizes = _count_batches(store)
    try:
        audits = [make_audit(f"MCR-2026-{i:04d}") for i in range(40)]
        results = await asyncio.gather(
            *(store.next_number("rate:u1") for _ in range(40)),
            *(store.append_audit(a) for a in audits),
            store.create_entry(make_entry("MCR-2026-0001")),
            store.create_entry(make_entry("MCR-2026-0001")),
        )
        assert sorted(results[:40]) == list(range(1, 41))  # every caller its own number, none twice
        created = results[80:]
        assert sorted(type(r).__name__ for r in created) == ["Conflict", "Saved"]
        assert max(sizes) > 1 and sum(sizes) == 82  # batched, and every write applied once
    finally:
        await store.close()
    again = await SQLiteStore.open(tmp_path / "r.db")  # committed, not just visible to the writer
    try:
        assert await again.next_number("rate:u1") == 41
        assert {r.id for r in await again.list_audit()} == {a.id for a in audits}
        assert (await again.get_entry("MCR-2026-0001")) is not None
    finally:
        await again.close()


async def test_a_failing_write_in_a_batch_is_rolled_back_alone(tmp_path):
    store = await SQLiteStore.open(tmp_path / "r.db")
    sizes = _count_batches(store)

    def failing() -> None:
        with store._tx():
            store.conn.execute("INSERT INTO counters (name, value) VALUES ('half-done', 1)")
            raise ValueError("boom")

    try:
        results = await asyncio.gather(store.next_number("n"), store._write(failing), store.next_number("n"),
                                       return_exceptions=True)
        assert results[0] == 1 and results[2] == 2
        assert isinstance(results[1], ValueError)
        assert sizes == [3]
        assert store.conn.execute("SELECT COUNT(*) FROM counters WHERE name = 'half-done'").fetchone()[0] == 0
    finally:
        await store.close()


async def test_a_batch_whose_transaction_is_lost_fails_every_write_in_it(tmp_path):
    """If SQLite rolls the whole transaction back mid-batch (disk full, I/O error), no caller is told its write
    landed: every one gets StoreUnavailable, and none of them is in the file."""
    store = await SQLiteStore.open(tmp_path / "r.db")
    sizes = _count_batches(store)

    def lost() -> None:
        store.conn.execute("ROLLBACK")  # what SQLite does itself on SQLITE_FULL or SQLITE_IOERR

    try:
        results = await asyncio.gather(store.next_number("n"), store._write(lost), store.next_number("n"),
                                       return_exceptions=True)
        assert sizes == [3]
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert await store.next_number("n") == 1  # the first write did not land either
    finally:
        await store.close()
