"""The register's use cases, independent of any host: check (with its audit record), import, export, and
keeping the in-memory lookup index in step with the store (including writes made by other instances)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from register.matching import LookupResult, RegisterIndex
from register.model import Actor, AuditRecord, Entry, Incident
from register.store import Changes, Conflict, Saved, Store

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # changed by someone else during the import


class Register:
    """One per process. `check` never touches the store for matching (the index is in memory); it writes one
    audit record per lookup, and the result is returned only once that record is stored."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now):
        self.store = store
        self.clock = clock
        self.index = RegisterIndex(today=self.today)
        self._cursor: str | None = None
        self._refresh_lock = asyncio.Lock()

    def today(self) -> date:
        return self.clock().date()

    # -- index freshness ------------------------------------------------------------------------------

    async def refresh(self) -> int:
        """Apply every entry and incident written since the last refresh (by this or any other instance).
        Returns how many documents were applied. The first call loads the whole register."""
        async with self._refresh_lock:
            changes: Changes = await self.store.changes_since(self._cursor)
            for entry in changes.entries:
                self.index.put_entry(entry)
            for incident in changes.incidents:
                self.index.put_incident(incident)
            self._cursor = changes.cursor
            return len(changes.entries) + len(changes.incidents)

    async def keep_fresh(self, interval: float) -> None:
        """Poll for other instances' writes for ever (run as a background task). Failures are logged and retried:
        the index keeps serving what it has."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - a poller must survive an outage
                log.warning("register index refresh failed; will retry", exc_info=True)

    # -- use cases --------------------------------------------------------------------------------------

    async def check(self, query: str, actor: Actor, conversation_type: str) -> LookupResult:
        result = self.index.lookup(query)
        await self.audit(
            actor,
            "check",
            query=query,
            conversation_type=conversation_type,
            outcome=result.outcome.value,
            refs=tuple(m.ref for m in result.matches),
        )
        return result

    async def audit(self, actor: Actor, action: str, *, query: str = "", conversation_type: str = "",
                    outcome: str = "", refs: Iterable[str] = ()) -> None:
        await self.store.append_audit(
            AuditRecord(
                id=uuid.uuid4().hex,
                at=self.clock(),
                actor=actor,
                action=action,
                query=query,
                conversation_type=conversation_type,
                outcome=outcome,
                refs=tuple(refs),
            )
        )

    async def import_entries(self, entries: Iterable[Entry], actor: Actor, source: str = "") -> ImportReport:
        """Create new refs, update changed ones (etag-checked), leave identical ones alone: importing the same
        file twice changes nothing."""
        report = ImportReport()
        for entry in entries:
            existing = await self.store.get_entry(entry.ref)
            if existing is None:
                result: Saved[Entry] | Conflict = await self.store.create_entry(entry)
                bucket = report.created
            elif _same(existing.value, entry):
                report.unchanged.append(entry.ref)
                continue
            else:
                result = await self.store.replace_entry(entry, existing.etag)
                bucket = report.updated
            if isinstance(result, Conflict):
                report.conflicts.append(entry.ref)
            else:
                bucket.append(entry.ref)
                self.index.put_entry(entry)
        await self.audit(actor, "import", query=source, conversation_type="cli",
                         outcome=f"created={len(report.created)} updated={len(report.updated)}",
                         refs=report.created + report.updated)
        return report

    async def export_entries(self, actor: Actor) -> list[Entry]:
        entries = sorted(await self.store.list_entries(), key=lambda e: e.ref)
        await self.audit(actor, "export", conversation_type="cli", outcome=f"entries={len(entries)}",
                         refs=[e.ref for e in entries])
        return entries

    async def add_incident(self, incident: Incident) -> Saved[Incident] | Conflict:
        result = await self.store.create_incident(incident)
        if isinstance(result, Saved):
            self.index.put_incident(incident)
        return result


def _same(a: Entry, b: Entry) -> bool:
    left, right = a.to_dict(), b.to_dict()
    left.pop("updated_at", None)
    right.pop("updated_at", None)
    return left == right
