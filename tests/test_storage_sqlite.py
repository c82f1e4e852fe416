"""The storage contract on the embedded SQLite backend, plus what only a file-backed store can show."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from storage.sqlite import SQLiteStore
from tests.storage_contract import StoreContract, make_audit, make_entry


@pytest.fixture
async def store(tmp_path):
    s = await SQLiteStore.open(tmp_path / "register.db")
    yield s
    await s.close()


class TestSQLiteContract(StoreContract):
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
