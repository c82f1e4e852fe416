"""The register's use cases, independent of any host: check (with its audit record), import, export, and
keeping the in-memory lookup index in step with the store (including writes made by other instances)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from register.address import needs_more
from register.matching import LookupResult, RegisterIndex
from register.model import Actor, AuditRecord, Entry, Incident, Outcome, Status, history_event
from register.permissions import ROLES_SETTING, Role, RoleTable
from register.store import Changes, Conflict, Saved, Store

log = logging.getLogger(__name__)


#: the audited outcome of a check that was too vague to answer: the user was asked for the property
NEED_MORE = "need_more"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # changed by someone else during the import


@dataclass(frozen=True, slots=True)
class Lifted:
    entry: Entry


@dataclass(frozen=True, slots=True)
class NotLifted:
    """`missing` (no such entry), `not_active` (already lifted, expired, pending, rejected: `status` says which) or
    `changed` (someone else changed it between our read and our write: nothing was overwritten)."""

    reason: str
    status: str = ""


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The user has used their checks for the past hour. `first` is true once per user per window: the moment to
    tell the administrators (trawling is the abuse this limit exists for)."""

    limit: int
    first: bool


RATE_WINDOW_MINUTES = 60  # the check limit counts the checks of the past hour (a sliding window)


def slide_window(body: dict[str, Any] | None, now_ms: int, limit: int,
                 window_minutes: int = RATE_WINDOW_MINUTES) -> tuple[dict[str, Any] | None, bool, bool]:
    """One check against a user's window document {"minutes": [[minute, checks], ...], "alerted": ms | None}:
    returns (the new document or None to leave it as it is, allowed, first refusal of the window).

    Allowed checks are counted per minute (minutes since the epoch), so the document stays small whatever the
    limit (at most 61 pairs). A check counts until a full window has passed after the end of its minute: no span
    of `window_minutes` ever holds more than `limit` allowed checks (someone may wait up to a minute longer
    than an exact window would make them). Refusals are not counted, so a user who keeps trying is let in again
    as soon as their oldest checks drop out. `alerted` is when the administrators were last told; they are told
    again only once it is a window ago. A refusal that is not the first writes nothing, and an older copy of the
    document can only hold fewer recent checks than the stored one, never more: so a refusal decided from an
    older copy is still right."""
    body = body or {}
    minute = now_ms // 60_000
    oldest = minute - window_minutes - 1  # buckets after this minute are in the window
    minutes = body.get("minutes")
    raw = minutes if isinstance(minutes, list) else []
    buckets = {m: c for m, c in (pair for pair in raw if _is_bucket(pair)) if m > oldest}
    alerted = body.get("alerted")
    if sum(buckets.values()) < limit:
        buckets[minute] = buckets.get(minute, 0) + 1
        return {"minutes": sorted([m, c] for m, c in buckets.items()), "alerted": alerted}, True, False
    if type(alerted) is int and alerted > now_ms - window_minutes * 60_000:
        return None, False, False
    return {"minutes": sorted([m, c] for m, c in buckets.items()), "alerted": now_ms}, False, True


def _is_bucket(pair: Any) -> bool:
    return isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int and type(pair[1]) is int


class Register:
    """One per process. `check` never touches the store for matching (the index is in memory); it writes one
    audit record per lookup, and the result is returned only once that record is stored."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now, *, checks_per_hour: int = 60,
                 bootstrap_admins: Iterable[str] = ()):
        self.store = store
        self.clock = clock
        self.index = RegisterIndex(today=self.today)
        self.checks_per_hour = checks_per_hour
        self._bootstrap_admins = frozenset(a.lower() for a in bootstrap_admins)
        self.roles = RoleTable(bootstrap_admins=self._bootstrap_admins)
        self._cursor: str | None = None
        self._refresh_lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the index has loaded the register at least once. Until then a check must not answer: an empty
        index would clear every address, the worst failure this product can have."""
        return self._cursor is not None

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
            roles = await self.store.get_setting(ROLES_SETTING)
            self.roles = RoleTable.from_dict(roles.value if roles else None, self._bootstrap_admins)
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

    async def check(self, query: str, actor: Actor, conversation_type: str, *, ask_for_more: bool = True
                    ) -> LookupResult:
        """Look up and audit what the user is told. With `ask_for_more` (Teams), a query too vague for "no alert"
        to mean anything comes back `vague` and is audited as `need_more`: the user is asked for the property."""
        if not self.loaded:
            await self.refresh()  # raises StoreUnavailable while the store is still out of reach
        result = self.index.lookup(query)
        if ask_for_more and result.outcome is Outcome.NONE and needs_more(query):
            result = replace(result, vague=True)
        await self.audit(
            actor,
            "check",
            query=query,
            conversation_type=conversation_type,
            outcome=NEED_MORE if result.vague else result.outcome.value,
            refs=tuple(m.ref for m in result.matches),
        )
        return result

    def role_of(self, actor: Actor) -> Role:
        return self.roles.role_of(actor)

    async def rate_limit(self, actor: Actor) -> RateLimited | None:
        """Count this check against the user's allowance: at most `checks_per_hour` in any hour (a sliding window,
        not a clock hour: 120 checks around the turn of an hour are not let through). The window is one small
        store document per user, so every instance shares it; updating it is one store round trip
        (Store.update_document). Returns None when within the limit; otherwise the refusal, which is audited."""
        if self.checks_per_hour <= 0:
            return None
        now_ms = int(self.clock().timestamp() * 1000)
        decided: list[tuple[bool, bool]] = []

        def change(body: dict[str, Any] | None) -> dict[str, Any] | None:
            new, allowed, first = slide_window(body, now_ms, self.checks_per_hour)
            decided.append((allowed, first))  # the store may call this again after a lost race: the last counts
            return new

        await self.store.update_document(f"rate:{actor.user_id}", change)
        allowed, first = decided[-1]
        if allowed:
            return None
        await self.audit(actor, "refused", outcome="rate_limited")
        return RateLimited(self.checks_per_hour, first=first)

    async def lift(self, ref: str, actor: Actor, conversation_type: str, *, reason: str = "") -> Lifted | NotLifted:
        """An approver lifts an active entry: an etag-checked read-modify-write, so two approvers lifting at once
        (on two instances) produce exactly one decision; the other is told it changed under them."""
        saved = await self.store.get_entry(ref)
        if saved is None:
            outcome: Lifted | NotLifted = NotLifted("missing")
        elif saved.value.status is not Status.ACTIVE:
            outcome = NotLifted("not_active", saved.value.status.value)
        else:
            entry = replace(saved.value, status=Status.LIFTED, updated_at=self.clock(),
                            history=[*saved.value.history, history_event(self.clock(), actor, "lifted", reason)])
            result = await self.store.replace_entry(entry, saved.etag)
            if isinstance(result, Conflict):
                outcome = NotLifted("changed")
            else:
                self.index.put_entry(entry)
                outcome = Lifted(entry)
        await self.audit(actor, "lift" if isinstance(outcome, Lifted) else "lift_refused", query=ref,
                         conversation_type=conversation_type,
                         outcome="lifted" if isinstance(outcome, Lifted) else outcome.reason, refs=[ref])
        return outcome

    async def record_notified(self, ref: str, day: date, actor: Actor, conversation_type: str) -> Entry | None:
        """The day the customer was told in writing (the policy: the entry records it); etag-checked, audited."""
        for _ in range(10):
            saved = await self.store.get_entry(ref)
            if saved is None:
                return None
            event = history_event(self.clock(), actor, "notified", day.isoformat())
            entry = replace(saved.value, notified_on=day, notification_withheld="", updated_at=self.clock(),
                            history=[*saved.value.history, event])
            if not isinstance(await self.store.replace_entry(entry, saved.etag), Conflict):
                self.index.put_entry(entry)
                await self.audit(actor, "notified", query=ref, conversation_type=conversation_type,
                                 outcome=day.isoformat(), refs=[ref])
                return entry
        raise RuntimeError(f"the entry {ref} kept changing; try again")

    async def audit_trail(self, ref: str, actor: Actor, conversation_type: str) -> list[AuditRecord]:
        """Who looked at or changed an entry. Looking is itself audited."""
        records = await self.store.list_audit(ref=ref)
        await self.audit(actor, "audit_view", query=ref, conversation_type=conversation_type,
                         outcome=f"records={len(records)}", refs=[ref])
        return records

    async def set_role(self, user: str, role: Role | None, actor: Actor) -> RoleTable:
        """Grant (or with None revoke) a role, etag-checked: two administrators at once both land."""
        for _ in range(10):
            current = await self.store.get_setting(ROLES_SETTING)
            table = RoleTable.from_dict(current.value if current else None, self._bootstrap_admins)
            users = dict(table.users)
            user = user.strip().lower()
            if role is None or role is Role.STAFF:
                users.pop(user, None)
            else:
                users[user] = role
            updated = RoleTable(users, self._bootstrap_admins)
            result = await self.store.put_setting(ROLES_SETTING, updated.to_dict(), current.etag if current else None)
            if isinstance(result, Saved):
                self.roles = updated
                await self.audit(actor, "role_change", query=user, conversation_type="cli",
                                 outcome=(role.name.lower() if role else "staff"))
                return updated
        raise RuntimeError("the role table kept changing; try again")

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
            if existing is not None:
                entry = _keep_lifecycle(existing.value, entry)
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


def _keep_lifecycle(current: Entry, imported: Entry) -> Entry:
    """The import format has no columns for an entry's owner, notification or history: an import (a re-import of
    an export, say) keeps them as they are instead of erasing them."""
    return replace(imported, owner_id=imported.owner_id or current.owner_id,
                   notified_on=imported.notified_on or current.notified_on,
                   notification_withheld=imported.notification_withheld or current.notification_withheld,
                   history=imported.history or current.history)


def _same(a: Entry, b: Entry) -> bool:
    left, right = a.to_dict(), b.to_dict()
    left.pop("updated_at", None)
    right.pop("updated_at", None)
    return left == right
