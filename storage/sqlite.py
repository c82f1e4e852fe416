"""Embedded store: one SQLite file, so the bot runs on a laptop with nothing else installed.

Documents are stored as JSON (like Cosmos), each with an etag; a global sequence number on every write gives
`changes_since` for other processes sharing the file (the bot and `register-admin`). All calls run on one
worker thread that owns the connection; the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from register.model import AuditRecord, ConversationRef, Entry, Incident
from register.sealing import Seal, utc
from register.store import AUDIT_FLOOR_DAYS, Changes, Conflict, Document, Saved, StoreUnavailable

T = TypeVar("T")


def _unavailable(exc: sqlite3.OperationalError) -> StoreUnavailable:
    """Locked past the timeout, disk gone, ...: what the register is told."""
    unavailable = StoreUnavailable(f"sqlite: {exc.__class__.__name__}")
    unavailable.__cause__ = exc
    return unavailable


_INSTANT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _instant(moment: datetime) -> str:
    """A UTC instant as fixed-width text, so that SQLite's text comparison orders instants correctly."""
    return moment.astimezone(UTC).strftime(_INSTANT)


def _from_instant(text: str) -> datetime:
    return datetime.strptime(text, _INSTANT).replace(tzinfo=UTC)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


#: A record is "past the floor" when SQLite's own clock says it is older than AUDIT_FLOOR_DAYS. An `at` that SQLite
#: cannot read counts as inside the floor (fail closed).
_INSIDE_FLOOR = f"COALESCE(julianday({{at}}) >= julianday('now', '-{AUDIT_FLOOR_DAYS} days'), 1)"

_SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    body TEXT NOT NULL,
    etag TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS docs_seq ON docs (seq);
CREATE TABLE IF NOT EXISTS audit (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    id   TEXT NOT NULL UNIQUE,
    at   TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS audit_refs (
    audit_seq INTEGER NOT NULL REFERENCES audit (seq),
    ref TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_refs_ref ON audit_refs (ref);
CREATE INDEX IF NOT EXISTS audit_refs_seq ON audit_refs (audit_seq);
CREATE TABLE IF NOT EXISTS audit_seals (
    n    INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
-- The audit trail, its reference index and its seals are append-only. Deletion is possible only for records
-- past the floor, judged by the database's own clock (never by a value a caller writes), and for their index
-- rows. INSERT OR REPLACE would delete without firing the delete triggers, so an insert may not reuse a key.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
    WHEN EXISTS (SELECT 1 FROM audit WHERE id = new.id OR seq = new.seq)
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_delete_only_past_floor BEFORE DELETE ON audit
    WHEN {_INSIDE_FLOOR.format(at="old.at")}
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_refs_no_update BEFORE UPDATE ON audit_refs
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_refs_delete_only_past_floor BEFORE DELETE ON audit_refs
    WHEN EXISTS (SELECT 1 FROM audit WHERE seq = old.audit_seq AND {_INSIDE_FLOOR.format(at="at")})
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_seals_no_update BEFORE UPDATE ON audit_seals
    BEGIN SELECT RAISE(ABORT, 'the audit seals are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_seals_no_delete BEFORE DELETE ON audit_seals
    BEGIN SELECT RAISE(ABORT, 'the audit seals are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_seals_no_replace BEFORE INSERT ON audit_seals
    WHEN EXISTS (SELECT 1 FROM audit_seals WHERE n = new.n)
    BEGIN SELECT RAISE(ABORT, 'the audit seals are append-only'); END;
-- before the floor was the database's own: a cut-off the purge wrote into a table, which the trigger trusted
DROP TRIGGER IF EXISTS audit_delete_only_past_retention;
DROP TABLE IF EXISTS audit_purge_floor;
CREATE TABLE IF NOT EXISTS documents (
    kind       TEXT NOT NULL,
    part       TEXT NOT NULL,
    id         TEXT NOT NULL,
    body       TEXT NOT NULL,
    etag       TEXT NOT NULL,
    expires_at TEXT,
    PRIMARY KEY (kind, part, id)
);
CREATE INDEX IF NOT EXISTS documents_expiry ON documents (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counter_docs (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
COMMIT;
"""

ENTRY, INCIDENT, CONVERSATION, SETTING = "entry", "incident", "conversation", "setting"


class SQLiteStore:
    def __init__(self, path: str | Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.path = str(path)
        self.clock = clock  # what "now" is for document expiry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._writes: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteStore:
        store = cls(path)
        await store._run(store._connect)
        return store

    # -- plumbing ---------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise StoreUnavailable("sqlite store is closed")
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk gone, ...
            raise _unavailable(exc) from exc

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a write (a function that opens its own `_tx()`) with group commit: writes that arrive while the
        worker is busy are applied together in one transaction, each in its own savepoint, and settled with one
        hand-off back to the event loop. Under load that is one commit and one thread round trip for many
        writes instead of one each; alone, a write is applied at once, as `_run` would."""
        if self._closed:
            raise StoreUnavailable("sqlite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writes.append((fn, args, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._writes:
                batch, self._writes = self._writes, []
                try:
                    results = await loop.run_in_executor(self._pool, self._apply, [(f, a) for f, a, _ in batch])
                except asyncio.CancelledError:  # the loop is shutting down: nobody is left to tell
                    for _, _, future in (*batch, *self._writes):
                        future.cancel()
                    self._writes = []
                    raise
                except Exception as exc:  # noqa: BLE001 - the pool is gone; every waiter is told
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results, strict=True):
                    if future.done():  # the caller was cancelled; its write was still applied
                        continue
                    if isinstance(result, sqlite3.OperationalError):
                        future.set_exception(_unavailable(result))
                    elif isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flusher = None

    def _apply(self, ops: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
        """On the worker thread: each write's result, or the exception it raised."""
        if len(ops) == 1:
            fn, args = ops[0]
            try:
                return [fn(*args)]
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                return [exc]
        results: list[Any] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for fn, args in ops:
                try:
                    results.append(fn(*args))  # its _tx() is a savepoint inside this transaction
                except Exception as exc:  # noqa: BLE001 - handed to the caller; its savepoint was rolled back
                    results.append(exc)
                if not self.conn.in_transaction:  # SQLite rolled the whole transaction back (disk full, I/O)
                    raise sqlite3.OperationalError("the batch's transaction was rolled back")
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            return [exc if isinstance(exc, sqlite3.OperationalError) else sqlite3.OperationalError(str(exc))] * len(ops)
        return results

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable("sqlite store is closed")
        return self._conn

    def _next_seq(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM docs").fetchone()
        return int(row[0])

    def _get(self, kind: str, id_: str) -> tuple[dict[str, Any], str] | None:
        row = self.conn.execute("SELECT body, etag FROM docs WHERE kind = ? AND id = ?", (kind, id_)).fetchone()
        return (orjson.loads(row[0]), row[1]) if row else None

    def _create(self, kind: str, id_: str, body: dict[str, Any]) -> str | None:
        etag = uuid.uuid4().hex
        with self._tx():
            try:
                self.conn.execute(
                    "INSERT INTO docs (kind, id, body, etag, seq) VALUES (?, ?, ?, ?, ?)",
                    (kind, id_, _dumps(body), etag, self._next_seq()),
                )
            except sqlite3.IntegrityError:
                return None
        return etag

    def _replace(self, kind: str, id_: str, body: dict[str, Any], etag: str | None) -> str | Conflict:
        """Replace if the stored etag is `etag` (or unconditionally upsert when etag is None)."""
        new_etag = uuid.uuid4().hex
        with self._tx():
            seq = self._next_seq()
            if etag is None:
                self.conn.execute(
                    "INSERT INTO docs (kind, id, body, etag, seq) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, "
                    "seq = excluded.seq",
                    (kind, id_, _dumps(body), new_etag, seq),
                )
                return new_etag
            cur = self.conn.execute(
                "UPDATE docs SET body = ?, etag = ?, seq = ? WHERE kind = ? AND id = ? AND etag = ?",
                (_dumps(body), new_etag, seq, kind, id_, etag),
            )
            if cur.rowcount == 1:
                return new_etag
            exists = self.conn.execute("SELECT 1 FROM docs WHERE kind = ? AND id = ?", (kind, id_)).fetchone()
            return Conflict("changed" if exists else "missing")

    def _list(self, kind: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT body FROM docs WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)

    # -- Store protocol -----------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._run(lambda: self.conn.execute("SELECT 1 FROM docs LIMIT 1").fetchall())

    async def close(self) -> None:
        if self._closed:
            return
        if self._flusher is not None:
            await asyncio.shield(self._flusher)  # the writes already accepted are applied first

        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(_close)
        self._closed = True
        self._pool.shutdown(wait=True)

    async def get_entry(self, ref: str) -> Saved[Entry] | None:
        found = await self._run(self._get, ENTRY, ref)
        return Saved(Entry.from_dict(found[0]), found[1]) if found else None

    async def create_entry(self, entry: Entry) -> Saved[Entry] | Conflict:
        etag = await self._write(self._create, ENTRY, entry.ref, entry.to_dict())
        return Saved(entry, etag) if etag else Conflict("exists")

    async def replace_entry(self, entry: Entry, etag: str) -> Saved[Entry] | Conflict:
        result = await self._write(self._replace, ENTRY, entry.ref, entry.to_dict(), etag)
        return result if isinstance(result, Conflict) else Saved(entry, result)

    async def list_entries(self) -> list[Entry]:
        return [Entry.from_dict(d) for d in await self._run(self._list, ENTRY)]

    async def get_incident(self, ref: str) -> Saved[Incident] | None:
        found = await self._run(self._get, INCIDENT, ref)
        return Saved(Incident.from_dict(found[0]), found[1]) if found else None

    async def create_incident(self, incident: Incident) -> Saved[Incident] | Conflict:
        etag = await self._write(self._create, INCIDENT, incident.ref, incident.to_dict())
        return Saved(incident, etag) if etag else Conflict("exists")

    async def replace_incident(self, incident: Incident, etag: str) -> Saved[Incident] | Conflict:
        result = await self._write(self._replace, INCIDENT, incident.ref, incident.to_dict(), etag)
        return result if isinstance(result, Conflict) else Saved(incident, result)

    async def list_incidents(self) -> list[Incident]:
        return [Incident.from_dict(d) for d in await self._run(self._list, INCIDENT)]

    async def changes_since(self, cursor: str | None) -> Changes:
        def _changes() -> Changes:
            after = int(cursor) if cursor else 0
            rows = self.conn.execute(
                "SELECT kind, body, seq FROM docs WHERE seq > ? AND kind IN (?, ?) ORDER BY seq",
                (after, ENTRY, INCIDENT),
            ).fetchall()
            top = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM docs").fetchone()[0]
            entries = [Entry.from_dict(orjson.loads(b)) for k, b, _ in rows if k == ENTRY]
            incidents = [Incident.from_dict(orjson.loads(b)) for k, b, _ in rows if k == INCIDENT]
            return Changes(entries, incidents, str(max(after, int(top))))

        return await self._run(_changes)

    async def append_audit(self, record: AuditRecord) -> None:
        def _append() -> None:
            with self._tx():
                cur = self.conn.execute(
                    "INSERT INTO audit (id, at, body) VALUES (?, ?, ?)",
                    (record.id, record.at.isoformat(), _dumps(record.to_dict())),
                )
                self.conn.executemany(
                    "INSERT INTO audit_refs (audit_seq, ref) VALUES (?, ?)",
                    [(cur.lastrowid, ref) for ref in record.refs],
                )

        await self._write(_append)

    async def list_audit(
        self, *, ref: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        def _list() -> list[AuditRecord]:
            sql = "SELECT a.body FROM audit a"
            where: list[str] = []
            args: list[str | int] = []
            if ref is not None:
                sql += " JOIN audit_refs r ON r.audit_seq = a.seq"
                where.append("r.ref = ?")
                args.append(ref)
            if since is not None:
                where.append("a.at >= ?")
                args.append(since.isoformat())
            if until is not None:
                where.append("a.at < ?")
                args.append(until.isoformat())
            if where:
                sql += " WHERE " + " AND ".join(where)
            if limit is None:
                sql += " ORDER BY a.seq"
            else:
                sql += " ORDER BY a.at, a.id LIMIT ?"
                args.append(limit)
            return [AuditRecord.from_dict(orjson.loads(r[0])) for r in self.conn.execute(sql, args)]

        return await self._run(_list)

    async def latest_seal(self) -> Seal | None:
        row = await self._run(lambda: self.conn.execute(
            "SELECT body FROM audit_seals ORDER BY n DESC LIMIT 1").fetchone())
        return Seal.from_dict(orjson.loads(row[0])) if row else None

    async def append_seal(self, seal: Seal) -> Seal | Conflict:
        def _append() -> bool:
            with self._tx():
                try:
                    self.conn.execute("INSERT INTO audit_seals (n, body) VALUES (?, ?)",
                                      (seal.n, _dumps(seal.to_dict())))
                except sqlite3.IntegrityError:
                    return False
            return True

        return seal if await self._write(_append) else Conflict("exists")

    async def list_seals(self, *, after: int = 0, limit: int = 100) -> list[Seal]:
        rows = await self._run(lambda: self.conn.execute(
            "SELECT body FROM audit_seals WHERE n > ? ORDER BY n LIMIT ?", (after, limit)).fetchall())
        return [Seal.from_dict(orjson.loads(r[0])) for r in rows]

    async def save_conversation_ref(self, ref: ConversationRef) -> None:
        await self._write(self._replace, CONVERSATION, ref.user_id, ref.to_dict(), None)

    async def get_conversation_ref(self, user_id: str) -> ConversationRef | None:
        found = await self._run(self._get, CONVERSATION, user_id)
        return ConversationRef.from_dict(found[0]) if found else None

    async def next_number(self, name: str) -> int:
        def _next() -> int:
            with self._tx():
                self.conn.execute(
                    "INSERT INTO counters (name, value) VALUES (?, 1) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + 1",
                    (name,),
                )
                return int(self.conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

        return await self._write(_next)

    async def update_document(
        self, name: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read and write in one transaction on the worker thread (the write lock is taken first, so no other
        process can interleave): `change` runs there, once."""

        def _update() -> dict[str, Any] | None:
            with self._tx():
                row = self.conn.execute("SELECT body FROM counter_docs WHERE name = ?", (name,)).fetchone()
                current = orjson.loads(row[0]) if row else None
                body = change(current)
                if body is None:
                    return current
                self.conn.execute(
                    "INSERT INTO counter_docs (name, body) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                    (name, _dumps(body)),
                )
                return body

        return await self._write(_update)

    async def get_setting(self, name: str) -> Saved[dict[str, Any]] | None:
        found = await self._run(self._get, SETTING, name)
        return Saved(found[0], found[1]) if found else None

    async def put_setting(self, name: str, body: dict[str, Any], etag: str | None
                          ) -> Saved[dict[str, Any]] | Conflict:
        if etag is None:
            created = await self._write(self._create, SETTING, name, body)
            return Saved(body, created) if created else Conflict("exists")
        result = await self._write(self._replace, SETTING, name, body, etag)
        return result if isinstance(result, Conflict) else Saved(body, result)

    # -- working documents (register.store.Document) ------------------------------------------------------

    @staticmethod
    def _expiry(doc: Document) -> str | None:
        return _instant(doc.expires_at) if doc.expires_at else None

    @staticmethod
    def _document(kind: str, part: str, id_: str, body: str, expires_at: str | None) -> Document:
        return Document(kind, part, id_, orjson.loads(body), _from_instant(expires_at) if expires_at else None)

    def _now(self) -> str:
        return _instant(self.clock())

    async def get_document(self, kind: str, partition: str, id: str) -> Saved[Document] | None:  # noqa: A002
        def _read() -> Saved[Document] | None:
            row = self.conn.execute(
                "SELECT body, etag, expires_at FROM documents WHERE kind = ? AND part = ? AND id = ? "
                "AND (expires_at IS NULL OR expires_at > ?)", (kind, partition, id, self._now())).fetchone()
            return Saved(self._document(kind, partition, id, row[0], row[2]), row[1]) if row else None

        return await self._run(_read)

    async def create_document(self, doc: Document) -> Saved[Document] | Conflict:
        def _create() -> str | None:
            etag = uuid.uuid4().hex
            with self._tx():
                cur = self.conn.execute(
                    "INSERT INTO documents (kind, part, id, body, etag, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (kind, part, id) DO UPDATE SET body = excluded.body, etag = excluded.etag, "
                    "expires_at = excluded.expires_at "
                    "WHERE documents.expires_at IS NOT NULL AND documents.expires_at <= ?",
                    (doc.kind, doc.partition, doc.id, _dumps(doc.body), etag, self._expiry(doc), self._now()))
                return etag if cur.rowcount == 1 else None

        etag = await self._write(_create)
        return Saved(doc, etag) if etag else Conflict("exists")

    async def replace_document(self, doc: Document, etag: str) -> Saved[Document] | Conflict:
        def _replace() -> str | Conflict:
            new_etag = uuid.uuid4().hex
            now = self._now()
            with self._tx():
                cur = self.conn.execute(
                    "UPDATE documents SET body = ?, etag = ?, expires_at = ? WHERE kind = ? AND part = ? AND id = ? "
                    "AND etag = ? AND (expires_at IS NULL OR expires_at > ?)",
                    (_dumps(doc.body), new_etag, self._expiry(doc), doc.kind, doc.partition, doc.id, etag, now))
                if cur.rowcount == 1:
                    return new_etag
                live = self.conn.execute(
                    "SELECT 1 FROM documents WHERE kind = ? AND part = ? AND id = ? "
                    "AND (expires_at IS NULL OR expires_at > ?)", (doc.kind, doc.partition, doc.id, now)).fetchone()
                return Conflict("changed" if live else "missing")

        result = await self._write(_replace)
        return result if isinstance(result, Conflict) else Saved(doc, result)

    async def query_documents(self, kind: str, partition: str) -> list[Saved[Document]]:
        def _query() -> list[Saved[Document]]:
            rows = self.conn.execute(
                "SELECT id, body, etag, expires_at FROM documents WHERE kind = ? AND part = ? "
                "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id", (kind, partition, self._now())).fetchall()
            return [Saved(self._document(kind, partition, i, b, x), e) for i, b, e, x in rows]

        return await self._run(_query)

    async def delete_document(self, kind: str, partition: str, id: str) -> bool:  # noqa: A002
        def _delete() -> bool:
            with self._tx():
                return self.conn.execute("DELETE FROM documents WHERE kind = ? AND part = ? AND id = ?",
                                         (kind, partition, id)).rowcount == 1

        return await self._write(_delete)

    async def purge_expired_documents(self) -> int:
        def _purge() -> int:
            with self._tx():
                return self.conn.execute("DELETE FROM documents WHERE expires_at IS NOT NULL AND expires_at <= ?",
                                         (self._now(),)).rowcount

        return await self._write(_purge)

    def _delete(self, kind: str, id_: str) -> bool:
        with self._tx():
            return self.conn.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, id_)).rowcount == 1

    async def delete_entry(self, ref: str) -> bool:
        return await self._write(self._delete, ENTRY, ref)

    async def delete_incident(self, ref: str) -> bool:
        return await self._write(self._delete, INCIDENT, ref)

    async def purge_audit(self, before: datetime) -> int:
        def _purge() -> int:
            # The triggers refuse to delete anything inside the floor whatever `before` says; the same condition
            # here keeps one too-young record from aborting the whole purge.
            past = f"julianday(at) < julianday(?) AND NOT {_INSIDE_FLOOR.format(at='at')}"
            cutoff = utc(before).isoformat()
            with self._tx():
                self.conn.execute(
                    f"DELETE FROM audit_refs WHERE audit_seq IN (SELECT seq FROM audit WHERE {past})", (cutoff,))
                return self.conn.execute(f"DELETE FROM audit WHERE {past}", (cutoff,)).rowcount

        return await self._write(_purge)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so two processes sharing the file
    cannot both read the same MAX(seq)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> None:
        self.nested = self.conn.in_transaction  # inside a group commit (SQLiteStore._apply): a savepoint
        self.conn.execute("SAVEPOINT write" if self.nested else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.nested:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        elif not self.conn.in_transaction:
            return  # SQLite already rolled the whole transaction back; _apply reports it
        elif exc_type:
            self.conn.execute("ROLLBACK TO write")
            self.conn.execute("RELEASE write")
        else:
            self.conn.execute("RELEASE write")
