"""Azure Cosmos DB backend (NoSQL API, `azure.cosmos.aio`), for running the bot on more than one instance.

Layout (docs/cosmos.md, "Data in Cosmos DB", says why): one database (COSMOS_DATABASE, default
`register`) with seven containers, all partitioned on `/pk`, names optionally prefixed by
COSMOS_CONTAINER_PREFIX:

  entries        pk = entry ref        id = entry ref      one document per partition; etag writes
  incidents      pk = incident ref     id = incident ref   the same
  audit          pk = UTC day of `at`  id = record id      append-only; `refs` is an array (ARRAY_CONTAINS)
  conversations  pk = Teams user id    id = user id        saved once per user and chat by each instance, point reads
  counters       pk = counter name     id = counter name   etag read-modify-write (numbers, rate windows)
  settings       pk = setting name     id = setting name   small documents (the role table), etag writes
  seals          pk = 'chain'          id = seal number    append-only seals of the audit trail (register/sealing.py)
  documents      pk = kind|partition   id = document id    working documents (drafts, outbox, claims); etag
                                                           writes; per-item `ttl` where a document expires

A document is the model's `to_dict()` plus `id`, `pk` and `write_id` (a fresh uuid per write, so that a
write whose response was lost can be recognised as ours when its retry meets 409/412); audit documents also
carry `at_us` (microseconds since the epoch, UTC) for range queries and ordering. Cosmos's `_etag` is the
etag we hand out.

Failure policy, in one place (`call_with_retries`): 429/449/503/408, connection errors and timeouts are
retried with jittered exponential backoff, honouring `x-ms-retry-after-ms`, bounded by attempts AND by a time
budget (COSMOS_TIMEOUT_SECONDS, default 4 s); then `StoreUnavailable`. The SDK's own throttle and connection
retries are switched off (it would otherwise retry a 429 up to 9 times over 30 s), so nothing retries behind
our back.

Entries, incidents and the audit trail never carry `ttl`: their expiry is decided by dates in the domain
(`Entry.is_live`) and by `register-admin retention run`. Working documents with an expiry carry `ttl` (the
`documents` container has TTL on with no default), and the code hides them once `expires_at` has passed
whether or not the service has deleted them yet (the local wire server never does).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import math
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.async_paging import AsyncPageIterator
from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import AioHttpTransport
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.documents import ConnectionPolicy, RetryOptions
from azure.cosmos.exceptions import CosmosClientTimeoutError, CosmosHttpResponseError

from register.config import flag
from register.model import AuditRecord, ConversationRef, Entry, Incident
from register.sealing import Seal, epoch_us, utc
from register.store import AUDIT_FLOOR_DAYS, Changes, Conflict, Document, Saved, StoreUnavailable

log = logging.getLogger("register.storage.cosmos")

T = TypeVar("T")

# -- settings --------------------------------------------------------------------------------------

DEFAULT_DATABASE = "register"
PK_PATH = "/pk"

ENTRIES, INCIDENTS, AUDIT = "entries", "incidents", "audit"
CONVERSATIONS, COUNTERS, SETTINGS = "conversations", "counters", "settings"
SEALS = "seals"
#: Every seal is in one logical partition: the chain is read in order, and written once every few minutes.
SEALS_PK = "chain"
DOCUMENTS = "documents"
QUERY_PAGE_SIZE = 1000
CONTAINERS = (ENTRIES, INCIDENTS, AUDIT, CONVERSATIONS, COUNTERS, SETTINGS, SEALS, DOCUMENTS)
#: Containers whose documents may carry a per-item `ttl` (TTL on, no default: `default_ttl=-1`).
TTL_CONTAINERS = frozenset({DOCUMENTS})

#: Indexing policy per container (docs/cosmos.md explains each). Everything queried is indexed; free text
#: that is only ever displayed (guidance, contact, the raw address, the audit query text) is excluded: it
#: costs RU on every write and would put personal data into the index. Point-read-only containers index
#: nothing.
INDEXING_POLICIES: dict[str, dict[str, Any]] = {
    ENTRIES: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": "/guidance/?"}, {"path": "/contact/?"}, {"path": "/address/text/?"}],
    },
    INCIDENTS: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [
            {"path": "/address/text/?"},
            {"path": "/manager_contact/?"},
            {"path": "/narrative/?"},
        ],
    },
    AUDIT: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": "/query/?"}, {"path": "/actor/name/?"}],
    },
    CONVERSATIONS: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [],
        "excludedPaths": [{"path": "/*"}],
    },
    COUNTERS: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [],
        "excludedPaths": [{"path": "/*"}],
    },
    SETTINGS: {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [],
        "excludedPaths": [{"path": "/*"}],
    },
    SEALS: {  # read in order of the seal number; the record lists are never filtered on
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/n/?"}, {"path": "/pk/?"}],
        "excludedPaths": [{"path": "/*"}],
    },
    DOCUMENTS: {  # read by point reads and single-partition queries on pk; the expiry purge reads expires_us
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/pk/?"}, {"path": "/expires_us/?"}],
        "excludedPaths": [{"path": "/*"}],
    },
}

_NAME_FORBIDDEN = set('/\\#?')


#: Stricter than register.config.is_loopback on purpose: TLS verification is skipped only for these exact hosts.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_endpoint(endpoint: str) -> bool:
    """True only for https://127.0.0.1, https://localhost and https://[::1] (any port)."""
    try:
        host = urlsplit(endpoint).hostname
    except ValueError:
        return False
    return host in LOOPBACK_HOSTS


def tls_verification(endpoint: str, insecure_local: str | None) -> bool:
    """Whether to verify the server's TLS certificate. Always yes, except when the operator asked for the
    local wire server (COSMOS_INSECURE_LOCAL=1) AND the endpoint is this machine: the local server's
    certificate is self-signed and expired, and cannot be trusted through a CA bundle. A remote endpoint is
    verified whatever the setting says."""
    asked = flag(insecure_local)
    if not asked:
        return True
    if is_loopback_endpoint(endpoint):
        return False
    log.warning("COSMOS_INSECURE_LOCAL is ignored: the endpoint is not a loopback address; TLS is verified")
    return True


def _check_name(what: str, name: str) -> str:
    if not name or len(name) > 255 or any(c in _NAME_FORBIDDEN for c in name) or name != name.strip():
        raise ValueError(f"{what} {name!r} is not a valid Cosmos DB name")
    return name


@dataclass(frozen=True, slots=True)
class CosmosSettings:
    endpoint: str
    key: str | None = None
    database: str = DEFAULT_DATABASE
    container_prefix: str = ""
    verify_tls: bool = True
    #: Time budget of one store call, retries included (the bot must answer within a few seconds).
    timeout: float = 4.0
    #: TCP connect and socket read timeouts of one HTTP request.
    connect_timeout: float = 2.0
    read_timeout: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CosmosSettings:
        endpoint = (env.get("COSMOS_ENDPOINT") or "").strip()
        if not endpoint:
            raise ValueError("COSMOS_ENDPOINT is not set")
        if urlsplit(endpoint).scheme not in ("https", "http"):
            raise ValueError(f"COSMOS_ENDPOINT must be an https:// URL, got {endpoint!r}")
        timeout = float(env.get("COSMOS_TIMEOUT_SECONDS") or 4.0)
        if not 0.1 <= timeout <= 60:
            raise ValueError("COSMOS_TIMEOUT_SECONDS must be between 0.1 and 60")
        prefix = env.get("COSMOS_CONTAINER_PREFIX") or ""
        if prefix:
            _check_name("COSMOS_CONTAINER_PREFIX", prefix)
        return cls(
            endpoint=endpoint,
            key=env.get("COSMOS_KEY") or None,
            database=_check_name("COSMOS_DATABASE", env.get("COSMOS_DATABASE") or DEFAULT_DATABASE),
            container_prefix=prefix,
            verify_tls=tls_verification(endpoint, env.get("COSMOS_INSECURE_LOCAL")),
            timeout=timeout,
            connect_timeout=min(2.0, timeout),
            read_timeout=min(3.0, timeout),
        )

    def container_name(self, base: str) -> str:
        return f"{self.container_prefix}{base}"

    def where(self) -> str:
        """For messages: where the store is (never the key)."""
        return f"Cosmos DB at {self.endpoint}, database '{self.database}'"


class _TlsTransport(AioHttpTransport):
    """Makes our TLS decision final. azure-cosmos on its own skips certificate verification for any
    `localhost`/`127.0.0.1` endpoint (meant for the emulator), whatever `connection_verify` says; here the
    only way to skip it is COSMOS_INSECURE_LOCAL=1 with a loopback endpoint (`tls_verification`)."""

    def __init__(self, *, verify: bool, **kwargs: Any):
        super().__init__(**kwargs)
        self.verify = verify

    async def send(self, request: Any, **config: Any) -> Any:
        config["connection_verify"] = self.verify
        return await super().send(request, **config)


async def open_client(settings: CosmosSettings) -> tuple[CosmosClient, Any]:
    """The client (and the credential to close with it, if we made one). Retries inside the SDK are switched
    off (throttling, connection and read retries): `call_with_retries` is the only retry layer, and it has a
    time budget."""
    credential: Any = settings.key
    owned_credential = None
    if credential is None:
        try:
            from azure.identity.aio import DefaultAzureCredential  # noqa: PLC0415 - only without a key
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError(
                "COSMOS_KEY is not set, so Entra ID (managed identity) is used, but the package "
                "azure-identity is not installed: pip install azure-identity"
            ) from exc
        credential = owned_credential = DefaultAzureCredential()
    policy = ConnectionPolicy()
    policy.RetryOptions = RetryOptions(max_retry_attempt_count=0, max_wait_time_in_seconds=0)
    client = CosmosClient(
        settings.endpoint,
        credential,
        connection_policy=policy,
        connection_verify=settings.verify_tls,
        # no HTTP(S)_PROXY from the environment for a server on this machine
        transport=_TlsTransport(verify=settings.verify_tls,
                                use_env_settings=not is_loopback_endpoint(settings.endpoint)),
        connection_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retry_total=0,
        retry_connect=0,
        retry_read=0,
        retry_status=0,
        user_agent_suffix="managed-contact-register",
    )
    return client, owned_credential


# -- retries ---------------------------------------------------------------------------------------

RETRY_STATUS = frozenset({408, 429, 449, 503})
SUBSTATUS_OWNER_MISSING = 1003  # 404 on an item operation because the database or container does not exist


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded in attempts and in time. The delay before retry n (0-based) is `retry_after` (what the service
    asked for, if it did) plus "equal jitter" exponential backoff: half of min(cap, base * 2**n) fixed, the
    other half random, so that instances throttled together do not come back together."""

    attempts: int = 4
    budget: float = 4.0
    base: float = 0.1
    cap: float = 1.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        step = min(self.cap, self.base * (2**retry))
        backoff = step / 2 + rng.uniform(0, step / 2)
        return (retry_after or 0.0) + backoff


def retry_after_seconds(exc: BaseException) -> float | None:
    """What the service asked us to wait: `x-ms-retry-after-ms` (Cosmos), else `Retry-After` (seconds)."""
    headers = getattr(exc, "headers", None) or {}
    try:
        lowered = {str(k).lower(): v for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return None
    for name, scale in (("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value not in (None, ""):
            try:
                return max(0.0, float(value) * scale)
            except (TypeError, ValueError):
                continue
    return None


def classify(exc: BaseException) -> str:
    """'retry' (transient), 'unavailable' (give up now: the store cannot serve us) or 'raise' (a real answer
    such as 404/409/412, or a bug such as 400: the caller deals with it)."""
    if isinstance(exc, CosmosHttpResponseError):
        status = exc.status_code or 0
        if status in RETRY_STATUS:
            return "retry"
        if status in (401, 403):
            return "unavailable"
        if status == 404 and getattr(exc, "sub_status", None) == SUBSTATUS_OWNER_MISSING:
            return "unavailable"
        if status >= 500:
            return "unavailable"
        return "raise"
    if isinstance(exc, ClientAuthenticationError):
        return "unavailable"
    if isinstance(exc, CosmosClientTimeoutError | ServiceRequestError | ServiceResponseError | TimeoutError
                  | ConnectionError):
        return "retry"
    if isinstance(exc, OSError):
        return "retry"
    try:
        import aiohttp  # noqa: PLC0415

        if isinstance(exc, aiohttp.ClientError):
            return "retry"
    except ImportError:  # pragma: no cover
        pass
    return "raise"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CosmosHttpResponseError):
        sub = getattr(exc, "sub_status", None)
        return f"HTTP {exc.status_code}" + (f"/{sub}" if sub else "")
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.__class__.__name__


_rng = random.Random()


class RetriesExhausted(StoreUnavailable):
    """Transient failures (timeouts, connection errors, throttling) went on for the whole budget."""


async def call_with_retries(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random = _rng,
) -> T:
    """Run `attempt` until it succeeds, fails for good, or the attempts or the time budget run out.
    Each attempt is cut off at the deadline, so the whole call never takes much longer than the budget."""
    start = clock()
    deadline = start + policy.budget if deadline is None else deadline
    last: BaseException | None = None
    for n in range(policy.attempts):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below; anything unknown is re-raised
            kind = classify(exc)
            if kind == "raise":
                raise
            last = exc
            if kind == "unavailable":
                refused = getattr(exc, "status_code", None) in (401, 403)
                hint = ""
                if refused or isinstance(exc, ClientAuthenticationError):
                    hint = " (credentials refused: check COSMOS_KEY or the identity's data-plane role)"
                raise StoreUnavailable(f"Cosmos DB {what}: {_describe(exc)}{hint}") from exc
            if n + 1 >= policy.attempts:
                break
            wait = policy.delay(n, retry_after_seconds(exc), rng)
            if clock() + wait >= deadline:
                log.warning("cosmos %s: %s; no time left to retry", what, _describe(exc))
                break
            log.info("cosmos %s: %s; retry %d in %.0f ms", what, _describe(exc), n + 1, wait * 1000)
            await sleep(wait)
    elapsed = clock() - start
    reason = _describe(last) if last else "no time left"
    raise RetriesExhausted(f"Cosmos DB {what}: {reason} (gave up after {elapsed:.1f} s)") from last


# -- documents -------------------------------------------------------------------------------------

_SYSTEM = ("_rid", "_self", "_etag", "_attachments", "_ts", "_lsn")
_ID_FORBIDDEN = set('/\\?#')


def doc_id(key: str) -> str:
    """Cosmos ids may not contain / \\ ? # (and should be short and printable). Refs and Teams user ids are
    fine as they are; anything else gets a stable hash. The key itself is always kept in `pk` and the body."""
    plain = key and len(key) <= 200 and key.isprintable() and key == key.strip()
    if plain and not set(key) & _ID_FORBIDDEN:
        return key
    return "~" + base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode().rstrip("=")


def from_epoch_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def audit_partition(moment: datetime) -> str:
    """The audit partition of a record: its UTC day, `YYYY-MM-DD`."""
    return utc(moment).date().isoformat()


def audit_days(since: datetime, until: datetime) -> list[str]:
    first, last = utc(since).date(), utc(until).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


#: Time-range audit queries name their day partitions (`c.pk IN (...)`) up to this many days; longer ranges
#: query all partitions with the same range filter.
MAX_AUDIT_DAYS = 92


def _body(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _SYSTEM}


_COUNTER_KEYS = frozenset((*_SYSTEM, "id", "pk", "name", "write_id"))


def _counter_body(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What update_document's caller sees of a counters document: its own fields only."""
    return {k: v for k, v in doc.items() if k not in _COUNTER_KEYS}


# -- change polling --------------------------------------------------------------------------------

#: How far below the high-water mark each poll looks again (seconds). `_ts` has one-second resolution, and on
#: the real service a write can become visible to another instance slightly after a later write in another
#: partition (replication, clock skew): re-reading the last few seconds and skipping what the cursor has
#: already seen makes both cases safe. docs/cosmos.md discusses the bound.
CHANGE_WINDOW_S = 5


@dataclass(frozen=True, slots=True)
class Watermark:
    """Per container: the highest `_ts` delivered, and a short hash of (id, _etag) of every document delivered
    whose `_ts` is within CHANGE_WINDOW_S of it."""

    ts: int = 0
    seen: frozenset[str] = field(default_factory=frozenset)

    def query_from(self, window: int = CHANGE_WINDOW_S) -> int:
        return max(0, self.ts - window)


def change_key(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{doc['id']}\n{doc['_etag']}".encode()).hexdigest()[:16]


def advance(mark: Watermark, docs: list[dict[str, Any]], window: int = CHANGE_WINDOW_S) -> tuple[
        list[dict[str, Any]], Watermark]:
    """Given every document with `_ts >= mark.query_from()`, return the ones not delivered yet (oldest first)
    and the next watermark. A replace changes `_etag`, so a replaced document is new again."""
    fresh = sorted((d for d in docs if change_key(d) not in mark.seen), key=lambda d: d["_ts"])
    top = max([mark.ts, *(int(d["_ts"]) for d in docs)])
    keep = frozenset(change_key(d) for d in docs if int(d["_ts"]) >= top - window)
    return fresh, Watermark(top, keep)


def encode_cursor(marks: Mapping[str, Watermark]) -> str:
    raw = {"v": 1, **{name: [m.ts, sorted(m.seen)] for name, m in marks.items()}}
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, names: tuple[str, ...]) -> dict[str, Watermark]:
    """An absent or unreadable cursor (another backend's, a corrupted one) means: from the beginning."""
    empty = {name: Watermark() for name in names}
    if not cursor:
        return empty
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if raw.get("v") != 1:
            return empty
        return {name: Watermark(int(raw[name][0]), frozenset(str(k) for k in raw[name][1])) for name in names}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        log.warning("unreadable changes cursor; starting from the beginning")
        return empty


# -- the store -------------------------------------------------------------------------------------

_COUNTER_ATTEMPTS = 200
#: Counter documents remembered by update_document (the most recently used; a user's rate window is one each).
COUNTER_CACHE = 10_000

#: After a call ran out of retries, calls made in the next DEGRADED_S seconds get one short attempt
#: (PROBE) instead of the full budget: during an outage a bot turn that touches the store twice answers in
#: about `timeout` + 1 s, not twice `timeout`. The first success ends it. Nothing fails without trying.
DEGRADED_S = 10.0
PROBE = RetryPolicy(attempts=1, budget=1.0)


class CosmosStore:
    """The Store protocol on Cosmos DB. One instance per process (it owns one HTTP connection pool)."""

    def __init__(self, settings: CosmosSettings, client: CosmosClient, credential: Any = None,
                 retry: RetryPolicy | None = None):
        self.settings = settings
        self._client = client
        self._credential = credential
        self._retry = retry or RetryPolicy(budget=settings.timeout)
        self._probe = PROBE if PROBE.budget < self._retry.budget else self._retry
        self._degraded_until = 0.0
        self._counters: OrderedDict[str, dict[str, Any]] = OrderedDict()  # update_document: last copy, by name
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # what "now" is for document expiry
        self._db: DatabaseProxy = client.get_database_client(settings.database)
        self._c: dict[str, ContainerProxy] = {
            name: self._db.get_container_client(settings.container_name(name)) for name in CONTAINERS
        }

    @classmethod
    async def from_env(cls, env: Mapping[str, str]) -> CosmosStore:
        settings = CosmosSettings.from_env(env)
        client, credential = await open_client(settings)
        return cls(settings, client, credential)

    async def close(self) -> None:
        await self._client.close()
        if self._credential is not None:
            await self._credential.close()

    # -- plumbing ----------------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """True for a while after a call ran out of retries (see DEGRADED_S)."""
        return time.monotonic() < self._degraded_until

    async def _call(self, what: str, attempt: Callable[[], Awaitable[T]], deadline: float | None = None) -> T:
        policy = self._retry
        if self.degraded:
            policy = self._probe
            probe_end = time.monotonic() + policy.budget
            deadline = probe_end if deadline is None else min(deadline, probe_end)
        try:
            result = await call_with_retries(what, attempt, policy, deadline=deadline)
        except RetriesExhausted:
            self._degraded_until = time.monotonic() + DEGRADED_S
            raise
        self._degraded_until = 0.0
        return result

    async def _read(self, name: str, key: str, pk: str,
                    deadline: float | None = None) -> dict[str, Any] | None:
        container = self._c[name]

        async def attempt() -> dict[str, Any] | None:
            try:
                return dict(await container.read_item(doc_id(key), partition_key=pk))
            except CosmosHttpResponseError as exc:
                if exc.status_code == 404 and getattr(exc, "sub_status", None) != SUBSTATUS_OWNER_MISSING:
                    return None
                raise

        return await self._call(f"read {name}", attempt, deadline)

    async def _create(self, name: str, doc: dict[str, Any], deadline: float | None = None
                      ) -> dict[str, Any] | Conflict:
        """Create; 409 → Conflict('exists'). If an earlier attempt failed ambiguously (timeout, lost response)
        and the retry meets 409, the document is read back: if it carries our `write_id`, it is our write."""
        container = self._c[name]
        doc = {**doc, "write_id": uuid.uuid4().hex}
        tries = 0

        async def attempt() -> dict[str, Any] | Conflict:
            nonlocal tries
            tries += 1
            try:
                return dict(await container.create_item(doc))
            except CosmosHttpResponseError as exc:
                if exc.status_code != 409:
                    raise
            if tries > 1:
                current = await self._read_doc(container, doc["id"], doc["pk"])
                if current is not None and current.get("write_id") == doc["write_id"]:
                    return current
            return Conflict("exists")

        return await self._call(f"create in {name}", attempt, deadline)

    async def _replace(self, name: str, doc: dict[str, Any], etag: str, deadline: float | None = None
                       ) -> dict[str, Any] | Conflict:
        """Replace if unchanged since `etag` (If-Match): 412 → Conflict('changed'), 404 → Conflict('missing');
        a 412 after an ambiguous attempt is checked for our own `write_id` as in `_create`."""
        container = self._c[name]
        doc = {**doc, "write_id": uuid.uuid4().hex}
        tries = 0

        async def attempt() -> dict[str, Any] | Conflict:
            nonlocal tries
            tries += 1
            try:
                return dict(await container.replace_item(
                    doc["id"], doc, etag=etag, match_condition=MatchConditions.IfNotModified))
            except CosmosHttpResponseError as exc:
                if exc.status_code == 404 and getattr(exc, "sub_status", None) != SUBSTATUS_OWNER_MISSING:
                    return Conflict("missing")
                if exc.status_code != 412:
                    raise
            if tries > 1:
                current = await self._read_doc(container, doc["id"], doc["pk"])
                if current is not None and current.get("write_id") == doc["write_id"]:
                    return current
            return Conflict("changed")

        return await self._call(f"replace in {name}", attempt, deadline)

    @staticmethod
    async def _read_doc(container: ContainerProxy, id_: str, pk: str) -> dict[str, Any] | None:
        try:
            return dict(await container.read_item(id_, partition_key=pk))
        except CosmosHttpResponseError as exc:
            if exc.status_code == 404 and getattr(exc, "sub_status", None) != SUBSTATUS_OWNER_MISSING:
                return None
            raise

    async def _query(self, name: str, sql: str, parameters: list[dict[str, Any]],
                     partition_key: str | None = None) -> list[dict[str, Any]]:
        """Always parameterised. `partition_key` routes a single-partition query on the real service; the
        WHERE clause must still say `c.pk = @pk` (the local server ignores the option)."""
        container = self._c[name]
        options: dict[str, Any] = {"max_item_count": QUERY_PAGE_SIZE}
        if partition_key is not None:
            options["partition_key"] = partition_key

        # Page by page, each page its own bounded call (retries included): loading a large register at start-up
        # makes steady progress instead of racing one time budget, and a dead server still fails fast.
        async def page(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            # by_page is annotated as a plain AsyncIterator; it returns a page iterator, which has the token
            pager = cast(AsyncPageIterator[dict[str, Any]],
                         container.query_items(sql, parameters=parameters, **options).by_page(token))
            try:
                items = [dict(d) async for d in await pager.__anext__()]
            except StopAsyncIteration:
                return [], None
            return items, pager.continuation_token

        docs: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            items, token = await self._call(f"query {name}", functools.partial(page, token))
            docs.extend(items)
            if not token:
                return docs

    # -- Store protocol ----------------------------------------------------------------------------

    async def ping(self) -> None:
        """Reachable, and database and containers exist with the expected partition key. The message says
        exactly what is missing and how to fix it."""
        where = self.settings.where()

        async def props(proxy: DatabaseProxy | ContainerProxy) -> dict[str, Any] | None:
            async def attempt() -> dict[str, Any] | None:
                try:
                    return dict(await proxy.read())
                except CosmosHttpResponseError as exc:
                    if exc.status_code == 404:
                        return None
                    raise

            return await self._call("ping", attempt)

        if await props(self._db) is None:
            raise StoreUnavailable(
                f"{where}: the database '{self.settings.database}' does not exist. "
                "Run `register-admin init` to create it and its containers."
            )
        found = await asyncio.gather(*(props(self._c[name]) for name in CONTAINERS))
        named = list(zip(CONTAINERS, found, strict=True))
        missing = [self.settings.container_name(n) for n, p in named if p is None]
        if missing:
            raise StoreUnavailable(
                f"{where}: missing container{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
                "Run `register-admin init` to create them."
            )
        wrong = []
        for name, p in named:
            paths = ((p or {}).get("partitionKey") or {}).get("paths") or []
            if paths != [PK_PATH]:
                wrong.append(f"{self.settings.container_name(name)} (partition key {paths}, "
                             f"expected ['{PK_PATH}'])")
        if wrong:
            raise StoreUnavailable(
                f"{where}: wrong partition key on {', '.join(wrong)}. A partition key cannot be changed: "
                "recreate the container (export, delete, `register-admin init`, import)."
            )

    # entries

    @staticmethod
    def _entry_doc(entry: Entry) -> dict[str, Any]:
        return {"id": doc_id(entry.ref), "pk": entry.ref, **entry.to_dict()}

    async def get_entry(self, ref: str) -> Saved[Entry] | None:
        doc = await self._read(ENTRIES, ref, ref)
        return Saved(Entry.from_dict(doc), doc["_etag"]) if doc else None

    async def create_entry(self, entry: Entry) -> Saved[Entry] | Conflict:
        result = await self._create(ENTRIES, self._entry_doc(entry))
        return result if isinstance(result, Conflict) else Saved(entry, result["_etag"])

    async def replace_entry(self, entry: Entry, etag: str) -> Saved[Entry] | Conflict:
        result = await self._replace(ENTRIES, self._entry_doc(entry), etag)
        return result if isinstance(result, Conflict) else Saved(entry, result["_etag"])

    async def list_entries(self) -> list[Entry]:
        docs = await self._query(ENTRIES, "SELECT * FROM c", [])
        return [Entry.from_dict(d) for d in docs]

    # incidents

    @staticmethod
    def _incident_doc(incident: Incident) -> dict[str, Any]:
        return {"id": doc_id(incident.ref), "pk": incident.ref, **incident.to_dict()}

    async def get_incident(self, ref: str) -> Saved[Incident] | None:
        doc = await self._read(INCIDENTS, ref, ref)
        return Saved(Incident.from_dict(doc), doc["_etag"]) if doc else None

    async def create_incident(self, incident: Incident) -> Saved[Incident] | Conflict:
        result = await self._create(INCIDENTS, self._incident_doc(incident))
        return result if isinstance(result, Conflict) else Saved(incident, result["_etag"])

    async def replace_incident(self, incident: Incident, etag: str) -> Saved[Incident] | Conflict:
        result = await self._replace(INCIDENTS, self._incident_doc(incident), etag)
        return result if isinstance(result, Conflict) else Saved(incident, result["_etag"])

    async def list_incidents(self) -> list[Incident]:
        docs = await self._query(INCIDENTS, "SELECT * FROM c", [])
        return [Incident.from_dict(d) for d in docs]

    # changes

    async def changes_since(self, cursor: str | None) -> Changes:
        """Portable polling on `_ts` (works on the local server, whose change feed is a stub): per container,
        `SELECT * FROM c WHERE c._ts >= @from` with @from a few seconds below the cursor's high-water mark,
        minus the documents the cursor says were already delivered. See `advance` and docs/cosmos.md."""
        names = (ENTRIES, INCIDENTS)
        marks = decode_cursor(cursor, names)
        sql = "SELECT * FROM c WHERE c._ts >= @from"  # no ORDER BY: advance() sorts; a server-side sort costs RU
        results = await asyncio.gather(*(
            self._query(name, sql, [{"name": "@from", "value": marks[name].query_from()}]) for name in names
        ))
        fresh: dict[str, list[dict[str, Any]]] = {}
        nxt: dict[str, Watermark] = {}
        for name, docs in zip(names, results, strict=True):
            fresh[name], nxt[name] = advance(marks[name], docs)
        return Changes(
            entries=[Entry.from_dict(d) for d in fresh[ENTRIES]],
            incidents=[Incident.from_dict(d) for d in fresh[INCIDENTS]],
            cursor=encode_cursor(nxt),
        )

    # audit (append-only: this class has no method that replaces or deletes an audit document)

    async def append_audit(self, record: AuditRecord) -> None:
        doc = {**record.to_dict(), "id": doc_id(record.id), "pk": audit_partition(record.at),
               "at_us": epoch_us(record.at)}
        result = await self._create(AUDIT, doc)
        if isinstance(result, Conflict):
            # The same record id is already in the trail: a caller retrying an append that did land. Same
            # content: nothing to do. Different content under the same id is a bug; nothing is overwritten.
            existing = await self._read(AUDIT, record.id, doc["pk"])
            if existing is None or AuditRecord.from_dict(existing) != record:
                raise ValueError(f"audit record id {record.id} already used for a different record")

    async def list_audit(
        self, *, ref: str | None = None, since: datetime | None = None, until: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        where: list[str] = []
        params: list[dict[str, Any]] = []
        if since is not None and until is not None and (utc(until).date() - utc(since).date()).days < MAX_AUDIT_DAYS:
            days = audit_days(since, until)
            if days:
                names = [f"@d{n}" for n in range(len(days))]
                where.append(f"c.pk IN ({', '.join(names)})")
                params += [{"name": n, "value": d} for n, d in zip(names, days, strict=True)]
        if since is not None:
            where.append("c.at_us >= @since")
            params.append({"name": "@since", "value": epoch_us(since)})
        if until is not None:
            where.append("c.at_us < @until")
            params.append({"name": "@until", "value": epoch_us(until)})
        if ref is not None:
            where.append("ARRAY_CONTAINS(c.refs, @ref)")
            params.append({"name": "@ref", "value": ref})
        top = ""
        if limit is not None:
            top = "TOP @limit "
            params.append({"name": "@limit", "value": int(limit)})
        sql = f"SELECT {top}* FROM c" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY c.at_us"
        return [AuditRecord.from_dict(d) for d in await self._query(AUDIT, sql, params)]

    # audit seals (append-only: created with their number as id, never replaced or deleted by this class)

    async def latest_seal(self) -> Seal | None:
        docs = await self._query(SEALS, "SELECT TOP 1 * FROM c WHERE c.pk = @pk ORDER BY c.n DESC",
                                 [{"name": "@pk", "value": SEALS_PK}], partition_key=SEALS_PK)
        return Seal.from_dict(docs[0]) if docs else None

    async def append_seal(self, seal: Seal) -> Seal | Conflict:
        doc = {**seal.to_dict(), "id": f"{seal.n:012d}", "pk": SEALS_PK}
        result = await self._create(SEALS, doc)
        return result if isinstance(result, Conflict) else seal

    async def list_seals(self, *, after: int = 0, limit: int = 100) -> list[Seal]:
        docs = await self._query(
            SEALS, "SELECT TOP @limit * FROM c WHERE c.pk = @pk AND c.n > @after ORDER BY c.n",
            [{"name": "@limit", "value": int(limit)}, {"name": "@pk", "value": SEALS_PK},
             {"name": "@after", "value": int(after)}], partition_key=SEALS_PK)
        return [Seal.from_dict(d) for d in docs]

    # conversation references

    async def save_conversation_ref(self, ref: ConversationRef) -> None:
        doc = {"id": doc_id(ref.user_id), "pk": ref.user_id, **ref.to_dict(), "write_id": uuid.uuid4().hex}
        container = self._c[CONVERSATIONS]

        async def attempt() -> None:
            await container.upsert_item(doc)  # last writer wins: the newest reference is the right one

        await self._call("upsert in conversations", attempt)

    async def get_conversation_ref(self, user_id: str) -> ConversationRef | None:
        doc = await self._read(CONVERSATIONS, user_id, user_id)
        return ConversationRef.from_dict(doc) if doc else None

    # settings documents: the caller's dict is kept under `body`, so its keys never meet ours

    async def get_setting(self, name: str) -> Saved[dict[str, Any]] | None:
        doc = await self._read(SETTINGS, name, name)
        return Saved(dict(doc.get("body") or {}), doc["_etag"]) if doc else None

    async def put_setting(self, name: str, body: dict[str, Any], etag: str | None
                          ) -> Saved[dict[str, Any]] | Conflict:
        doc = {"id": doc_id(name), "pk": name, "name": name, "body": body}
        result = await (self._create(SETTINGS, doc) if etag is None else self._replace(SETTINGS, doc, etag))
        return result if isinstance(result, Conflict) else Saved(body, result["_etag"])

    # working documents (register.store.Document): the caller's dict is kept under `body`

    def _document_doc(self, doc: Document) -> dict[str, Any]:
        out: dict[str, Any] = {"id": doc_id(doc.id), "pk": f"{doc.kind}|{doc.partition}", "kind": doc.kind,
                               "partition": doc.partition, "key": doc.id, "body": doc.body, "expires_us": None}
        if doc.expires_at is not None:
            out["expires_us"] = epoch_us(doc.expires_at)
            # the service deletes it a little after it expires; until then reads hide it (see _live)
            out["ttl"] = max(1, math.ceil((doc.expires_at - self.clock()).total_seconds()) + 60)
        return out

    def _live(self, doc: Mapping[str, Any] | None) -> bool:
        return doc is not None and (doc.get("expires_us") is None or doc["expires_us"] > epoch_us(self.clock()))

    @staticmethod
    def _from_document_doc(doc: Mapping[str, Any]) -> Saved[Document]:
        expires = doc.get("expires_us")
        return Saved(Document(doc["kind"], doc["partition"], doc["key"], dict(doc.get("body") or {}),
                              from_epoch_us(expires) if expires is not None else None), doc["_etag"])

    async def get_document(self, kind: str, partition: str, id: str) -> Saved[Document] | None:  # noqa: A002
        doc = await self._read(DOCUMENTS, id, f"{kind}|{partition}")
        return self._from_document_doc(doc) if doc is not None and self._live(doc) else None

    async def create_document(self, doc: Document) -> Saved[Document] | Conflict:
        body = self._document_doc(doc)
        deadline = time.monotonic() + self._retry.budget
        for _ in range(_COUNTER_ATTEMPTS):
            result = await self._create(DOCUMENTS, body, deadline)
            if not isinstance(result, Conflict):
                return Saved(doc, result["_etag"])
            current = await self._read(DOCUMENTS, doc.id, body["pk"], deadline)
            if current is None:
                continue  # deleted (by TTL, say) between the two calls: create again
            if self._live(current):
                return Conflict("exists")
            # an expired document still stored (TTL not run yet, or not supported): take its place, etag-checked
            replaced = await self._replace(DOCUMENTS, body, current["_etag"], deadline)
            if not isinstance(replaced, Conflict):
                return Saved(doc, replaced["_etag"])
        return Conflict("exists")

    async def replace_document(self, doc: Document, etag: str) -> Saved[Document] | Conflict:
        body = self._document_doc(doc)
        # read first: a document past its expiry is gone for the caller even while the service still stores it
        current = await self._read(DOCUMENTS, doc.id, body["pk"])
        if current is None or not self._live(current):
            return Conflict("missing")
        if current["_etag"] != etag:
            return Conflict("changed")
        result = await self._replace(DOCUMENTS, body, etag)
        return result if isinstance(result, Conflict) else Saved(doc, result["_etag"])

    async def query_documents(self, kind: str, partition: str) -> list[Saved[Document]]:
        pk = f"{kind}|{partition}"
        docs = await self._query(DOCUMENTS, "SELECT * FROM c WHERE c.pk = @pk", [{"name": "@pk", "value": pk}],
                                 partition_key=pk)
        found = [self._from_document_doc(d) for d in docs if self._live(d)]
        return sorted(found, key=lambda saved: saved.value.id)

    async def delete_document(self, kind: str, partition: str, id: str) -> bool:  # noqa: A002
        return await self._delete(DOCUMENTS, doc_id(id), f"{kind}|{partition}")

    async def purge_expired_documents(self) -> int:
        sql = "SELECT c.id, c.pk FROM c WHERE c.expires_us <= @now"
        old = await self._query(DOCUMENTS, sql, [{"name": "@now", "value": epoch_us(self.clock())}])
        return sum([await self._delete(DOCUMENTS, d["id"], d["pk"]) for d in old])

    # retention: the only deletions (run by `register-admin retention run`, not by the bot)

    async def _delete(self, name: str, id_: str, pk: str, deadline: float | None = None) -> bool:
        """Point delete. True if the document was there. A 404 on a retry after an ambiguous attempt is
        counted as ours (the first attempt most likely deleted it)."""
        container = self._c[name]
        tries = 0

        async def attempt() -> bool:
            nonlocal tries
            tries += 1
            try:
                await container.delete_item(id_, partition_key=pk)
                return True
            except CosmosHttpResponseError as exc:
                if exc.status_code == 404 and getattr(exc, "sub_status", None) != SUBSTATUS_OWNER_MISSING:
                    return tries > 1
                raise

        return await self._call(f"delete in {name}", attempt, deadline)

    async def delete_entry(self, ref: str) -> bool:
        return await self._delete(ENTRIES, doc_id(ref), ref)

    async def delete_incident(self, ref: str) -> bool:
        return await self._delete(INCIDENTS, doc_id(ref), ref)

    async def purge_audit(self, before: datetime) -> int:
        """Delete audit records with `at` < `before`, but never one inside the floor (AUDIT_FLOOR_DAYS, by this
        process's clock), whatever `before` says: one cross-partition query for their ids, then point deletes, a
        few at a time. The reference index is the `refs` array inside each record, so it goes with its record
        and nothing else deletes it."""
        cutoff = min(epoch_us(before), epoch_us(datetime.now(UTC) - timedelta(days=AUDIT_FLOOR_DAYS)))
        sql = "SELECT c.id, c.pk, c.at_us FROM c WHERE c.at_us < @before"
        old = await self._query(AUDIT, sql, [{"name": "@before", "value": cutoff}])
        gate = asyncio.Semaphore(8)

        async def one(doc: dict[str, Any]) -> bool:
            if not isinstance(doc.get("at_us"), int) or doc["at_us"] >= cutoff:
                return False  # belt and braces: only what the query was asked for
            async with gate:
                return await self._delete(AUDIT, doc["id"], doc["pk"])

        return sum(await asyncio.gather(*(one(d) for d in old)))

    # counters

    async def next_number(self, name: str) -> int:
        """An `update_document` that adds one: two instances can never both get n."""
        body = await self.update_document(name, lambda doc: {"value": int(doc["value"]) + 1 if doc else 1})
        assert body is not None
        return int(body["value"])

    async def update_document(
        self, name: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read-modify-write with the etag: a lost race re-reads and tries again, with a little jitter, within one
        time budget. Only one replace of an etag succeeds, so no update is ever lost.

        The document this instance last wrote (or read) is remembered: when nobody else has written since, its etag
        still matches and the update is one round trip instead of a read and a replace (a user's rate window is
        written on every check). A stale copy is a 412 like any lost race, and costs the read it saved. When
        `change` leaves the document as it is, the remembered copy is the answer (no round trip)."""
        deadline = time.monotonic() + self._retry.budget
        current = self._counters.pop(name, None)
        for attempt in range(_COUNTER_ATTEMPTS):
            cached = current is not None
            if current is None:
                current = await self._read(COUNTERS, name, name, deadline)
            body = change(_counter_body(current) if current is not None else None)
            if body is None:
                if current is not None:
                    self._remember_counter(name, current)
                    return _counter_body(current)
                return None
            doc = {**body, "id": doc_id(name), "pk": name, "name": name}
            if current is None:
                result = await self._create(COUNTERS, doc, deadline)
            else:
                result = await self._replace(COUNTERS, doc, current["_etag"], deadline)
            if not isinstance(result, Conflict):
                self._remember_counter(name, result)
                return _counter_body(result)
            current = None
            if cached:
                continue  # our copy was out of date: read the current one at once
            pause = _rng.uniform(0, min(0.05, 0.002 * 2 ** min(attempt, 5)))
            if time.monotonic() + pause >= deadline:
                break
            await asyncio.sleep(pause)
        raise StoreUnavailable(f"Cosmos DB counter '{name}': too many concurrent writers, try again")

    def _remember_counter(self, name: str, doc: dict[str, Any]) -> None:
        self._counters[name] = doc
        while len(self._counters) > COUNTER_CACHE:
            self._counters.popitem(last=False)
