"""Tamper evidence for the audit trail: seals, a SHA-256 hash chain over the records' contents.

The trail is ordered by (`at` in microseconds since the epoch, UTC; then `id`). Seal n covers every record with
`since_us <= at_us < until_us`; its `since_us` is seal n-1's `until_us`, so the seals tile time with no gap, and
empty periods are sealed too (a record back-dated into one is caught). A seal lists each record it covers as
(at_us, id, SHA-256 of the record's canonical serialisation) and carries a digest:

    chain_0 = prev (seal n-1's digest; 64 zeros for seal 1)
    chain_i = SHA-256(chain_{i-1} || record_hash_i)       over the records in order (hex strings)
    digest  = SHA-256(canonical({n, since_us, until_us, count, prev, chain, sealed_at, sealed_by}))

Seals are their own append-only documents, numbered 1, 2, 3...; claiming number n is a create that fails if n
exists (a unique key in SQLite, a 409 in Cosmos), so two bot instances sealing at once cannot fork the chain: the
loser reads the winner's seal and seals after it. A record is sealed only once it is SETTLE old, so that an audit
write still in flight (a store call's retries, clock skew between instances) is not left behind a seal.

`verify_audit` walks the seals in order and names the first record that was altered (its hash differs), removed
(listed by a seal, gone from the store, and not a purge by retention: those take only the oldest records, past the
floor) or inserted out of order (in a sealed period but not in its seal), or the first seal that was altered or
removed. What this proves, and what it cannot (someone holding the database's admin keys can rewrite records and
seals alike; the latest digest, kept somewhere else, is what catches that): SECURITY.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from register.model import AuditRecord
from register.store import AUDIT_FLOOR_DAYS, Store

log = logging.getLogger("register.sealing")

GENESIS = "0" * 64
#: Records younger than this are left to the next seal (an append can take a few seconds with retries, and bot
#: instances' clocks differ a little). A record that appears later inside a sealed period is reported.
SETTLE = timedelta(minutes=5)
#: At most this many records per seal, so that a seal stays a small document (under 250 KB in Cosmos) and one
#: sealing step is short even on a long backlog.
MAX_SEAL_RECORDS = 2000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BEGINNING_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z: the first seal covers everything before it


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, UTC: an order and a range key that does not depend on the UTC offset."""
    return (utc(moment) - _EPOCH) // timedelta(microseconds=1)


def from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def canonical(value: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8: the same bytes for the same content in every store."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def record_hash(record: AuditRecord) -> str:
    return hashlib.sha256(canonical(record.to_dict())).hexdigest()


def record_key(record: AuditRecord) -> tuple[int, str]:
    return epoch_us(record.at), record.id


@dataclass(frozen=True, slots=True)
class Seal:
    n: int
    since_us: int
    until_us: int
    records: tuple[tuple[int, str, str], ...]  # (at_us, id, record hash), in trail order
    prev: str
    sealed_at: str
    sealed_by: str
    digest: str = ""

    def computed_digest(self) -> str:
        chain = self.prev
        for _, _, digest in self.records:
            chain = hashlib.sha256(f"{chain}{digest}".encode()).hexdigest()
        header = {"n": self.n, "since_us": self.since_us, "until_us": self.until_us, "count": len(self.records),
                  "prev": self.prev, "chain": chain, "sealed_at": self.sealed_at, "sealed_by": self.sealed_by}
        return hashlib.sha256(canonical(header)).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "since_us": self.since_us, "until_us": self.until_us,
                "records": [list(r) for r in self.records], "prev": self.prev, "sealed_at": self.sealed_at,
                "sealed_by": self.sealed_by, "digest": self.digest}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seal:
        """Whatever the store holds, read without judging it: verification says what is wrong."""
        return cls(n=int(data.get("n", 0)), since_us=int(data.get("since_us", 0)),
                   until_us=int(data.get("until_us", 0)),
                   records=tuple((int(r[0]), str(r[1]), str(r[2])) for r in data.get("records") or ()),
                   prev=str(data.get("prev", "")), sealed_at=str(data.get("sealed_at", "")),
                   sealed_by=str(data.get("sealed_by", "")), digest=str(data.get("digest", "")))


def build_seal(n: int, since_us: int, until_us: int, records: list[AuditRecord], prev: str, sealed_at: datetime,
               sealed_by: str) -> Seal:
    ordered = sorted(records, key=record_key)
    seal = Seal(n=n, since_us=since_us, until_us=until_us,
                records=tuple((epoch_us(r.at), r.id, record_hash(r)) for r in ordered), prev=prev,
                sealed_at=utc(sealed_at).isoformat(), sealed_by=sealed_by)
    return Seal(**{**{f: getattr(seal, f) for f in Seal.__dataclass_fields__}, "digest": seal.computed_digest()})


# -- sealing ------------------------------------------------------------------------------------------------


async def seal_audit(store: Store, now: datetime, sealed_by: str, *, settle: timedelta = SETTLE,
                     max_records: int = MAX_SEAL_RECORDS, attempts: int = 20) -> list[Seal]:
    """Seal every record older than `now - settle` that no seal covers yet (one seal per `max_records`); return
    the seals this call made. Another instance sealing at the same time costs a retry, never a fork."""
    cutoff = epoch_us(now - settle)
    made: list[Seal] = []
    for _ in range(attempts):
        latest = await store.latest_seal()
        since = latest.until_us if latest else BEGINNING_US
        if since >= cutoff:
            return made
        records = await store.list_audit(since=from_epoch_us(since), until=from_epoch_us(cutoff),
                                          limit=max_records + 1)
        until = cutoff
        if len(records) > max_records:
            records.sort(key=record_key)
            until = epoch_us(records[max_records].at)
            records = [r for r in records if epoch_us(r.at) < until]
            if not records:  # more than max_records in one microsecond: take that microsecond whole
                until += 1
                records = await store.list_audit(since=from_epoch_us(since), until=from_epoch_us(until))
        seal = build_seal(latest.n + 1 if latest else 1, since, until, records, latest.digest if latest else GENESIS,
                          now, sealed_by)
        if isinstance(await store.append_seal(seal), Seal):
            made.append(seal)
        # else: another instance took number n first; read its seal and carry on after it
    return made


async def keep_sealed(store: Store, interval: float, sealed_by: str,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Seal every `interval` seconds, for ever (a background task beside the bot's turns, never in their path).
    Jittered, so that instances started together do not seal together; failures are logged and retried."""
    rng = random.Random()
    while True:
        await asyncio.sleep(interval * rng.uniform(0.8, 1.2))
        try:
            made = await seal_audit(store, clock(), sealed_by)
            if made:
                log.info("sealed the audit trail: seal %d, %d record(s)", made[-1].n,
                         sum(len(s.records) for s in made))
        except Exception:  # noqa: BLE001 - a background task must survive an outage
            log.warning("sealing the audit trail failed; will retry", exc_info=True)


# -- verification ----------------------------------------------------------------------------------------------

Problem = Literal["altered", "removed", "inserted", "seal altered", "seal missing", "digest not found"]


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    seal: int
    record_id: str = ""
    at: datetime | None = None

    def __str__(self) -> str:
        when = f" (at {self.at.isoformat()})" if self.at else ""
        return {
            "altered": f"record {self.record_id}{when} was altered after seal #{self.seal} covered it",
            "removed": f"record {self.record_id}{when}, covered by seal #{self.seal}, was removed",
            "inserted": f"record {self.record_id}{when} was inserted out of order, into the period of seal "
                        f"#{self.seal}, after that seal was made",
            "seal altered": f"seal #{self.seal} was altered (its digest or its link to the previous seal is wrong)",
            "seal missing": f"seal #{self.seal} is missing",
            "digest not found": "no seal has the digest you kept: the seals were rewritten or cut back "
                                f"(the chain now ends at seal #{self.seal})",
        }[self.problem]


@dataclass(slots=True)
class Verification:
    finding: Finding | None = None
    seals: int = 0
    records: int = 0  # records checked against their seal
    purged: int = 0  # sealed records gone by retention (the oldest, past the floor)
    unsealed: int = 0  # records after the latest seal
    latest: Seal | None = None

    @property
    def intact(self) -> bool:
        return self.finding is None


async def verify_audit(store: Store, now: datetime, *, expect: str | None = None, page: int = 100) -> Verification:
    """Check every seal and every record it covers, oldest first; stop at the first problem. `expect`: a digest
    printed by an earlier seal or verify and kept elsewhere; some seal must still have it (a chain rewritten from
    scratch, or cut back, by someone with the admin keys is consistent in itself: only this catches it)."""
    result = Verification()
    horizon = epoch_us(now - timedelta(days=AUDIT_FLOOR_DAYS))
    seen_present = False  # a record still held: from here on nothing may be missing
    digests: set[str] = set()
    prev: Seal | None = None
    while True:
        seals = await store.list_seals(after=prev.n if prev else 0, limit=page)
        if not seals:
            break
        for seal in seals:
            expected = prev.n + 1 if prev else 1
            if seal.n != expected:
                result.finding = Finding("seal missing", expected)
                return result
            if (seal.prev != (prev.digest if prev else GENESIS) or seal.since_us != (prev.until_us if prev
                    else BEGINNING_US) or seal.computed_digest() != seal.digest):
                result.finding = Finding("seal altered", seal.n)
                return result
            stored = {r.id: r for r in await store.list_audit(since=from_epoch_us(seal.since_us),
                                                              until=from_epoch_us(seal.until_us))}
            listed = {record_id for _, record_id, _ in seal.records}
            events: list[tuple[tuple[int, str], Finding | None]] = []
            for at_us, record_id, digest in seal.records:
                record = stored.get(record_id)
                if record is None:
                    if at_us < horizon and not seen_present:
                        result.purged += 1
                        continue
                    events.append(((at_us, record_id), Finding("removed", seal.n, record_id, from_epoch_us(at_us))))
                    continue
                seen_present = True
                if epoch_us(record.at) != at_us or record_hash(record) != digest:
                    events.append(((at_us, record_id), Finding("altered", seal.n, record_id, record.at)))
                else:
                    result.records += 1
            for record in stored.values():
                if record.id not in listed:
                    events.append((record_key(record), Finding("inserted", seal.n, record.id, record.at)))
            if events:
                result.finding = min(events, key=lambda e: e[0])[1]
                return result
            result.seals += 1
            result.latest = prev = seal
            digests.add(seal.digest)
    since = from_epoch_us(prev.until_us) if prev else None
    result.unsealed = len(await store.list_audit(since=since))
    if expect is not None and expect.strip().lower().removeprefix("sha256:") not in digests:
        result.finding = Finding("digest not found", prev.n if prev else 0)
    return result

