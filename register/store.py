"""The storage protocol the register needs.

Shaped for Cosmos DB (string ids, one partition key per kind of document, etags for optimistic concurrency) and
met by the embedded SQLite backend too; both pass the same contract suite (tests/storage_contract.py).

A lost race is a normal outcome, returned as `Conflict`, never an exception and never a silent overwrite.
An unreachable backend raises `StoreUnavailable`: the caller tells the user to try again, and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from register.model import AuditRecord, ConversationRef, Entry, Incident

if TYPE_CHECKING:
    from register.sealing import Seal

T = TypeVar("T")

#: The audit trail's floor, in days: no audit record (nor its reference index) younger than this can be deleted,
#: whatever a caller passes; each backend enforces it itself (SQLite in a trigger against its own clock, Cosmos in
#: the purge code). 7 x 365 days = the 6 years the policy keeps closed entries by default, plus the 12 months an
#: entry can run before it must be reviewed: the trail outlives the entries it explains. Not configurable: a
#: floor that a setting can lower is not a floor. `RetentionPolicy` refuses anything shorter (docs: SECURITY.md).
AUDIT_FLOOR_DAYS = 7 * 365


@dataclass(frozen=True, slots=True)
class Saved(Generic[T]):
    value: T
    etag: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """The write did not happen: `exists` (create of an id already there) or `changed` (the etag is stale:
    someone else changed the document since it was read), or `missing` (replace of a document that is gone)."""

    reason: Literal["exists", "changed", "missing"]


@dataclass(frozen=True, slots=True)
class Changes:
    """Documents written since a cursor. `cursor` is opaque; pass it back to get what came after."""

    entries: list[Entry] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A small JSON document of one `kind` (draft, outbox item, reminder claim, idempotency key, ...), kept in one
    `partition` (a user id, say: the documents a query reads together) under an `id` unique in that partition.

    Every kind of working document the flows need goes through this one etag-checked API instead of four new
    methods per kind per backend. `expires_at` makes it vanish at that moment: reads, queries and creates treat
    an expired document as absent whether or not the backend has deleted it yet (Cosmos DB deletes it by TTL;
    SQLite when `purge_expired_documents` runs)."""

    kind: str
    partition: str
    id: str
    body: dict[str, Any]
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("kind", "partition", "id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > MAX_KEY:
                raise ValueError(f"Document.{name} must be a non-empty string of at most {MAX_KEY} characters")
        if "|" in self.kind:
            raise ValueError("Document.kind may not contain '|'")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("Document.expires_at must be timezone-aware")

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


#: Longest kind, partition or id a document may have (Cosmos DB allows 1,023 bytes in an id; ours stay well short).
MAX_KEY = 200


class StoreUnavailable(Exception):
    """The backend cannot be reached or answered too slowly. Safe to retry later."""


class Store(Protocol):
    async def ping(self) -> None:
        """Return if the store is reachable and set up; raise StoreUnavailable otherwise."""

    async def close(self) -> None: ...

    # entries (partition: the entry ref)
    async def get_entry(self, ref: str) -> Saved[Entry] | None: ...
    async def create_entry(self, entry: Entry) -> Saved[Entry] | Conflict: ...
    async def replace_entry(self, entry: Entry, etag: str) -> Saved[Entry] | Conflict: ...
    async def list_entries(self) -> list[Entry]: ...

    # incidents (partition: the incident ref)
    async def get_incident(self, ref: str) -> Saved[Incident] | None: ...
    async def create_incident(self, incident: Incident) -> Saved[Incident] | Conflict: ...
    async def replace_incident(self, incident: Incident, etag: str) -> Saved[Incident] | Conflict: ...
    async def list_incidents(self) -> list[Incident]: ...

    async def changes_since(self, cursor: str | None) -> Changes:
        """Entries and incidents written after `cursor` (all of them when cursor is None), oldest first.
        This is how an instance's lookup index learns of writes made by other instances."""

    # audit (append-only: no update, no delete)
    async def append_audit(self, record: AuditRecord) -> None: ...
    async def list_audit(
        self, *, ref: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records with since <= at < until (and naming `ref`). With `limit`, only the first `limit` by `at`."""

    # audit seals (append-only, numbered 1, 2, 3...: register/sealing.py)
    async def latest_seal(self) -> Seal | None: ...
    async def append_seal(self, seal: Seal) -> Seal | Conflict:
        """Create seal number `seal.n`; Conflict('exists') if that number is taken (another instance sealed)."""

    async def list_seals(self, *, after: int = 0, limit: int = 100) -> list[Seal]:
        """Seals numbered above `after`, in order, at most `limit`."""

    # conversation references (partition: the user id)
    async def save_conversation_ref(self, ref: ConversationRef) -> None: ...
    async def get_conversation_ref(self, user_id: str) -> ConversationRef | None: ...

    async def next_number(self, name: str) -> int:
        """A counter that never gives the same number twice, even to two instances at once (etag retry)."""

    async def update_document(
        self, name: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read-modify-write of a small named document (a user's recent checks, ...), safe with several instances:
        `change` gets the current body (None if there is none) and returns the new one, or None to leave it as it
        is. It must be a pure function: after a lost race it is called again with the newer body, and the body its
        LAST call returned is the one stored. Returns the body as stored (or as read, when left as it is).

        One store round trip in the usual case (Cosmos: a replace with the etag of this instance's last write of
        that document, a read only after a conflict). When `change` leaves the document as it is, the answer may
        come from this instance's last copy without a round trip: use that only for decisions an older copy cannot
        get wrong (a document that only ever gains entries, say)."""

    # small named settings documents (the role table, ...), etag-checked like entries
    async def get_setting(self, name: str) -> Saved[dict[str, Any]] | None: ...
    async def put_setting(self, name: str, body: dict[str, Any], etag: str | None) -> Saved[dict[str, Any]] | Conflict:
        """Replace if `etag` is current; with etag None, create only (Conflict('exists') if it is there)."""

    # working documents: drafts, outbox items, reminder claims, idempotency keys (see `Document`)
    async def get_document(self, kind: str, partition: str, id: str) -> Saved[Document] | None:  # noqa: A002
        """The document, or None when it is missing or expired."""

    async def create_document(self, doc: Document) -> Saved[Document] | Conflict:
        """Create if absent: Conflict('exists') when a live document has that key. An expired one is replaced."""

    async def replace_document(self, doc: Document, etag: str) -> Saved[Document] | Conflict:
        """Replace if `etag` is current: Conflict('changed') if not, Conflict('missing') if it is gone or expired."""

    async def query_documents(self, kind: str, partition: str) -> list[Saved[Document]]:
        """Every live document of that kind in that partition, in id order."""

    async def delete_document(self, kind: str, partition: str, id: str) -> bool:  # noqa: A002
        """Delete; True if a document was there (expired or not)."""

    async def purge_expired_documents(self) -> int:
        """Delete the documents whose expiry has passed; how many. Reads already hide them: this frees space."""

    # retention: the only deletions the product makes, run by `register-admin retention run`
    async def delete_entry(self, ref: str) -> bool: ...
    async def delete_incident(self, ref: str) -> bool: ...
    async def purge_audit(self, before: datetime) -> int:
        """Delete audit records older than `before` (the audit retention period) and their reference index, but
        never one younger than AUDIT_FLOOR_DAYS, whatever `before` says. Nothing else edits the trail."""
