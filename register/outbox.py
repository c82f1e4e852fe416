"""The durable outbox: messages to other people (an approval card for a manager, the outcome for a reporter, a
notice for the administrators) are written to the store first and delivered after, retried until they are
delivered or known undeliverable. A crash between a decision and its message loses nothing; two bot instances
never deliver one message twice at the same time (a delivery is claimed with a lease, etag-checked).

Delivery is at least once: an instance that dies after sending and before recording it will have the message
sent again when the lease runs out. Card updates are idempotent; a new card sent twice is the rare cost.

The sending itself belongs to the host (bot/outbox.py for Teams); this module knows only documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from register.store import Conflict, Document, Saved, Store

OUTBOX, SENT = "outbox", "sent"
PENDING, FAILED = "pending", "failed"
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
#: backoff after each failed attempt (then the last value again)
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(minutes=30), timedelta(hours=1))
FAILED_DAYS = 30
SENT_DAYS = 400  # a sent card can be updated for as long as its incident can be appealed and reviewed

Kind = Literal["card", "text", "update"]


def instant(moment: datetime) -> str:
    """A UTC instant as fixed-width text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Message:
    """`card` or `text` to a person (`to`: an Entra object id), or `update`: replace every copy of the cards sent
    under `track` with `card`. A card sent with `track` is remembered under it, so it can be updated later."""

    kind: Kind
    to: str = ""
    card: dict[str, Any] | None = None
    text: str = ""
    track: str = ""
    #: instead of a card or text written now: what to render at delivery (the host's renderer knows the names,
    #: e.g. "review" of `subject` = an entry ref), so a queue written by the command line needs no card builder
    template: str = ""
    subject: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0
    next_at: str = ""  # ISO instant; empty: now
    lease_until: str = ""
    last_error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "to": self.to, "card": self.card, "text": self.text, "track": self.track,
                "template": self.template, "subject": self.subject,
                "id": self.id, "attempts": self.attempts, "next_at": self.next_at, "lease_until": self.lease_until,
                "last_error": self.last_error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        kind = data.get("kind")
        if kind not in ("card", "text", "update"):
            raise ValueError(f"outbox message of unknown kind {kind!r}")
        return cls(kind=kind, to=str(data.get("to") or ""), card=data.get("card"), text=str(data.get("text") or ""),
                   track=str(data.get("track") or ""), template=str(data.get("template") or ""),
                   subject=str(data.get("subject") or ""), id=str(data["id"]), attempts=int(data.get("attempts") or 0),
                   next_at=str(data.get("next_at") or ""), lease_until=str(data.get("lease_until") or ""),
                   last_error=str(data.get("last_error") or ""))


@dataclass(frozen=True, slots=True)
class SentCopy:
    """Where a tracked card was delivered: enough to update it in place."""

    conversation_id: str
    activity_id: str
    reference: dict[str, Any]  # the host's conversation reference for that chat (opaque here)


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], datetime]):
        self.store = store
        self.clock = clock

    async def put(self, message: Message) -> bool:
        """Queue once: a message whose id is already queued (a retried decision, say) is not queued again."""
        doc = Document(OUTBOX, PENDING, message.id, message.to_dict())
        return not isinstance(await self.store.create_document(doc), Conflict)

    async def due(self) -> list[Saved[Document]]:
        """Queued messages whose time has come and whose lease (if any) has run out, oldest first."""
        now = instant(self.clock())
        found = await self.store.query_documents(OUTBOX, PENDING)
        ready = [s for s in found if (s.value.body.get("next_at") or "") <= now
                 and (s.value.body.get("lease_until") or "") <= now]
        return sorted(ready, key=lambda s: (s.value.body.get("next_at") or "", s.value.id))

    async def claim(self, saved: Saved[Document]) -> tuple[Message, str] | None:
        """Take the message for delivery (a lease); None if another instance took it first."""
        message = Message.from_dict(saved.value.body)
        leased = replace(message, lease_until=instant(self.clock() + LEASE))
        result = await self.store.replace_document(replace(saved.value, body=leased.to_dict()), saved.etag)
        return None if isinstance(result, Conflict) else (leased, result.etag)

    async def delivered(self, message: Message, copy: SentCopy | None = None) -> None:
        if copy is not None and message.track:
            await self.remember(message.track, copy)
        await self.store.delete_document(OUTBOX, PENDING, message.id)

    async def remember(self, track: str, copy: SentCopy) -> None:
        body = {"conversation_id": copy.conversation_id, "activity_id": copy.activity_id,
                "reference": copy.reference}
        doc = Document(SENT, track, copy.conversation_id, body, expires_at=self.clock() + timedelta(days=SENT_DAYS))
        for _ in range(5):
            current = await self.store.get_document(SENT, track, copy.conversation_id)
            result = await (self.store.replace_document(doc, current.etag) if current
                            else self.store.create_document(doc))
            if not isinstance(result, Conflict):
                return

    async def copies(self, track: str) -> list[SentCopy]:
        return [SentCopy(str(s.value.body["conversation_id"]), str(s.value.body["activity_id"]),
                         dict(s.value.body.get("reference") or {}))
                for s in await self.store.query_documents(SENT, track)]

    async def failed(self, message: Message, etag: str, error: str, *, permanent: bool = False) -> bool:
        """Record a failed attempt. Returns True when the message is given up (permanent, or out of attempts): it
        is then kept aside (`failed`) for the administrators, and no longer retried."""
        attempts = message.attempts + 1
        now = self.clock()
        if permanent or attempts >= MAX_ATTEMPTS:
            kept = replace(message, attempts=attempts, last_error=error[:300], lease_until="")
            await self.store.create_document(Document(OUTBOX, FAILED, message.id, kept.to_dict(),
                                                      expires_at=now + timedelta(days=FAILED_DAYS)))
            await self.store.delete_document(OUTBOX, PENDING, message.id)
            return True
        wait = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
        retry = replace(message, attempts=attempts, last_error=error[:300], lease_until="",
                        next_at=instant(now + wait))
        await self.store.replace_document(Document(OUTBOX, PENDING, message.id, retry.to_dict()), etag)
        return False

    async def given_up(self) -> list[Message]:
        return [Message.from_dict(s.value.body) for s in await self.store.query_documents(OUTBOX, FAILED)]
