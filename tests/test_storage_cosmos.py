"""The storage contract on Cosmos DB (the local wire server, tools/cosmos-server.cjs), plus what only a
networked, multi-instance store has to show: concurrency across instances, setup checks, TLS settings,
bounded retries, and behaviour during an outage."""

from __future__ import annotations

import asyncio
import http.client
import random
import ssl
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.cosmos import PartitionKey
from azure.cosmos.exceptions import CosmosHttpResponseError

from register.model import AuditRecord, Status
from register.sealing import seal_audit, verify_audit
from register.store import Conflict, Document, Saved, StoreUnavailable
from storage.cosmos import (
    AUDIT,
    CONTAINERS,
    INDEXING_POLICIES,
    MAX_AUDIT_DAYS,
    SEALS,
    SEALS_PK,
    TTL_CONTAINERS,
    CosmosSettings,
    CosmosStore,
    RetryPolicy,
    Watermark,
    advance,
    audit_partition,
    call_with_retries,
    change_key,
    classify,
    decode_cursor,
    doc_id,
    encode_cursor,
    open_client,
    retry_after_seconds,
    tls_verification,
)
from storage.cosmos_admin import InitError, indexing_differs, init, parse_throughput
from tests.cosmos_server import EMULATOR_KEY, start_server, unique_database
from tests.storage_contract import AuditSealContract, StoreContract, make_audit, make_entry

# the shared fixtures (tests/cosmos_server.py, through tests/conftest.py): server per session, env per session,
# fresh database per test

REF = "MCR-2026-0001"


@pytest.fixture
async def store(fresh_cosmos_env):
    s = await CosmosStore.from_env(fresh_cosmos_env)
    yield s
    await s.close()


@pytest.fixture
async def two_instances(fresh_cosmos_env):
    """Two stores with their own clients and connection pools: two bot instances sharing one database."""
    a = await CosmosStore.from_env(fresh_cosmos_env)
    b = await CosmosStore.from_env(fresh_cosmos_env)
    yield a, b
    await a.close()
    await b.close()


async def raw_container(env: dict[str, str], base: str):
    settings = CosmosSettings.from_env(env)
    client, _ = await open_client(settings)
    db = client.get_database_client(settings.database)
    return client, db, db.get_container_client(settings.container_name(base))


class CosmosTamper:
    """Someone with the account key: items replaced or deleted directly with the client, behind the store."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    async def _with(self, base: str, change) -> None:
        client, _, container = await raw_container(self.env, base)
        try:
            await change(container)
        finally:
            await client.close()

    async def alter(self, record: AuditRecord, **changes: Any) -> None:
        async def change(container) -> None:
            doc = await container.read_item(doc_id(record.id), partition_key=audit_partition(record.at))
            await container.replace_item(doc["id"], {**doc, **changes})

        await self._with(AUDIT, change)

    async def delete(self, record: AuditRecord) -> None:
        await self._with(AUDIT, lambda c: c.delete_item(doc_id(record.id), partition_key=audit_partition(record.at)))

    async def alter_seal(self, n: int, **changes: Any) -> None:
        async def change(container) -> None:
            doc = await container.read_item(f"{n:012d}", partition_key=SEALS_PK)
            await container.replace_item(doc["id"], {**doc, **changes})

        await self._with(SEALS, change)

    async def delete_seal(self, n: int) -> None:
        await self._with(SEALS, lambda c: c.delete_item(f"{n:012d}", partition_key=SEALS_PK))


@pytest.fixture
def tamper(fresh_cosmos_env):
    return CosmosTamper(fresh_cosmos_env)


@pytest.mark.cosmos
class TestCosmosContract(StoreContract, AuditSealContract):
    pass


@pytest.mark.cosmos
async def test_an_expiring_document_carries_a_ttl_for_the_service_and_a_lasting_one_none(store, fresh_cosmos_env):
    now = datetime.now(UTC)
    await store.create_document(Document("draft", "u1", "r", {}, expires_at=now + timedelta(days=14)))
    await store.create_document(Document("draft", "u1", "kept", {}))
    client, _, container = await raw_container(fresh_cosmos_env, "documents")
    try:
        expiring = await container.read_item("r", partition_key="draft|u1")
        lasting = await container.read_item("kept", partition_key="draft|u1")
    finally:
        await client.close()
    # the service deletes it a minute after it expires (the code hides it from that moment)
    assert 14 * 86400 <= expiring["ttl"] <= 14 * 86400 + 61
    assert "ttl" not in lasting


@pytest.mark.cosmos
async def test_two_instances_sealing_at_once_make_one_chain(two_instances):
    a, b = two_instances
    now = datetime.now(UTC)
    records = [make_audit(at=now - timedelta(minutes=60 - n)) for n in range(7)]
    for record in records:
        await (a if record.id < "8" else b).append_audit(record)
    made = await asyncio.gather(*(seal_audit(store, now, f"instance-{n}", max_records=2)
                                  for n, store in enumerate((a, b, a, b))))
    seals = await b.list_seals()
    assert [s.n for s in seals] == [1, 2, 3, 4] and sum(len(m) for m in made) == 4
    assert [r[1] for s in seals for r in s.records] == [r.id for r in records]
    assert (await verify_audit(a, now)).intact


# -- concurrency across instances ------------------------------------------------------------------


@pytest.mark.cosmos
async def test_concurrent_replaces_of_one_etag_have_one_winner_and_every_loser_gets_conflict(two_instances):
    a, b = two_instances
    created = await a.create_entry(make_entry())
    assert isinstance(created, Saved)

    async def write(n: int):
        return await (a if n % 2 else b).replace_entry(make_entry(guidance=f"writer {n}"), created.etag)

    results = await asyncio.gather(*(write(n) for n in range(16)))
    winners = [r for r in results if isinstance(r, Saved)]
    losers = [r for r in results if not isinstance(r, Saved)]
    assert len(winners) == 1
    assert losers == [Conflict("changed")] * 15
    got = await b.get_entry(REF)
    assert got is not None
    assert got.value.guidance == winners[0].value.guidance and got.etag == winners[0].etag


@pytest.mark.cosmos
async def test_read_modify_write_from_two_instances_loses_nothing_and_counts_every_conflict(two_instances):
    a, b = two_instances
    await a.create_entry(make_entry())
    attempts = conflicts = 0

    async def add(n: int) -> None:
        nonlocal attempts, conflicts
        store = a if n % 2 else b
        while True:
            got = await store.get_entry(REF)
            assert got is not None
            got.value.incident_refs.append(f"INC-{n}")
            attempts += 1
            result = await store.replace_entry(got.value, got.etag)
            if isinstance(result, Saved):
                return
            assert result == Conflict("changed")
            conflicts += 1

    await asyncio.gather(*(add(n) for n in range(30)))
    got = await a.get_entry(REF)
    assert got is not None
    assert sorted(got.value.incident_refs) == sorted(f"INC-{n}" for n in range(30))
    assert attempts - conflicts == 30  # every attempt either won once or was told it lost


@pytest.mark.cosmos
async def test_next_number_is_unique_across_instances(two_instances):
    a, b = two_instances
    numbers = await asyncio.gather(*((a if n % 2 else b).next_number("entry-2026") for n in range(30)))
    assert sorted(numbers) == list(range(1, 31))


def count_calls(container: Any, method: str) -> list[int]:
    real = getattr(container, method)
    calls: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    setattr(container, method, counted)
    return calls


@pytest.mark.cosmos
async def test_an_uncontended_counter_costs_one_request_and_a_stale_copy_one_more(two_instances):
    """A per-user rate counter is written on every check: the instance that wrote it last replaces it with the
    etag it got back, without reading it first. When the other instance has written since, that is a 412 and
    a read, and the numbers still never repeat."""
    a, b = two_instances
    reads = count_calls(a._c["counters"], "read_item")
    assert [await a.next_number("rate:u:2026112809") for _ in range(5)] == [1, 2, 3, 4, 5]
    assert len(reads) == 1  # the first call only (the counter did not exist)
    assert await b.next_number("rate:u:2026112809") == 6
    assert await a.next_number("rate:u:2026112809") == 7  # a's copy was stale: 412, read, replace
    assert len(reads) == 2


@pytest.mark.cosmos
async def test_the_check_window_is_shared_by_instances_at_one_request_a_check(two_instances):
    """The per-user window (Register.rate_limit) over two instances: exactly `limit` checks pass whichever instance
    answers, the administrators are told once; an instance that wrote the window last updates it with one request
    (no read), a stale copy costs one read more, and a repeated refusal costs no request at all."""
    from register.model import Actor
    from register.service import Register

    a, b = two_instances
    now = [datetime(2026, 11, 28, 10, 59, 30, tzinfo=UTC)]
    ra, rb = (Register(store, clock=lambda: now[0], checks_per_hour=5) for store in (a, b))
    actor = Actor("user-1", "aad-1", "Sam Staff")
    reads, replaces = count_calls(a._c["counters"], "read_item"), count_calls(a._c["counters"], "replace_item")
    assert [await ra.rate_limit(actor) for _ in range(3)] == [None] * 3
    assert (len(reads), len(replaces)) == (1, 2)  # the first check read (nothing there) and created
    now[0] += timedelta(minutes=1)  # 11:00:30: a new clock hour, the same window
    assert await rb.rate_limit(actor) is None
    assert await ra.rate_limit(actor) is None  # a's copy was stale: 412, read, replace
    assert (len(reads), len(replaces)) == (2, 4)
    refusals = [await (ra if n % 2 else rb).rate_limit(actor) for n in range(4)]
    assert all(r is not None for r in refusals) and [r.first for r in refusals] == [True, False, False, False]
    before = (len(reads), len(replaces))
    assert await ra.rate_limit(actor) is not None
    assert (len(reads), len(replaces)) == before  # refused from the copy a holds: no request


@pytest.mark.cosmos
async def test_one_instance_sees_the_others_writes_including_same_second_writes(two_instances):
    a, b = two_instances
    cursor = (await b.changes_since(None)).cursor
    first = await a.create_entry(make_entry("MCR-2026-0001"))
    assert isinstance(first, Saved)
    seen = await b.changes_since(cursor)
    assert [e.ref for e in seen.entries] == ["MCR-2026-0001"]
    # written within the same second as the previous one (`_ts` has 1 s resolution): still delivered, once
    await a.create_entry(make_entry("MCR-2026-0002"))
    again = await b.changes_since(seen.cursor)
    assert [e.ref for e in again.entries] == ["MCR-2026-0002"]
    lifted = await a.replace_entry(make_entry("MCR-2026-0001", status=Status.LIFTED), first.etag)
    assert isinstance(lifted, Saved)
    third = await b.changes_since(again.cursor)
    assert [(e.ref, e.status) for e in third.entries] == [("MCR-2026-0001", Status.LIFTED)]
    assert (await b.changes_since(third.cursor)).entries == []


# -- the polling cursor, as a pure function --------------------------------------------------------


def _doc(id_: str, ts: int, etag: str = "e1") -> dict[str, Any]:
    return {"id": id_, "_ts": ts, "_etag": etag}


def test_advance_delivers_a_late_visible_write_below_the_high_water_mark():
    """On the real service a write in one partition can become visible after a later write in another.
    The poll re-reads a window below the mark, so it is still delivered; nothing delivered is repeated."""
    d1 = _doc("a", 100)
    fresh, mark = advance(Watermark(), [d1])
    assert fresh == [d1] and mark.ts == 100
    assert mark.query_from() == 95
    late = _doc("b", 98)
    fresh, mark = advance(mark, [late, d1])
    assert fresh == [late] and mark.ts == 100
    fresh, mark = advance(mark, [late, d1])
    assert fresh == []
    replaced = _doc("a", 100, etag="e2")  # same second, new etag
    fresh, mark = advance(mark, [late, replaced])
    assert fresh == [replaced]


def test_advance_forgets_what_falls_out_of_the_window():
    old = _doc("a", 100)
    _, mark = advance(Watermark(), [old])
    newer = _doc("b", 200)
    fresh, mark = advance(mark, [old, newer])
    assert fresh == [newer]
    assert mark == Watermark(200, frozenset({change_key(newer)}))


def test_cursor_round_trips_and_a_foreign_or_broken_cursor_means_from_the_beginning():
    marks = {"entries": Watermark(7, frozenset({"abc"})), "incidents": Watermark()}
    assert decode_cursor(encode_cursor(marks), ("entries", "incidents")) == marks
    empty = {"entries": Watermark(), "incidents": Watermark()}
    for bad in (None, "", "42", "not base64!", encode_cursor({"entries": Watermark()})):
        assert decode_cursor(bad, ("entries", "incidents")) == empty


# -- setup: ping and init --------------------------------------------------------------------------


@pytest.mark.cosmos
async def test_ping_names_the_missing_container_and_the_fix(fresh_cosmos_env):
    client, db, _ = await raw_container(fresh_cosmos_env, "audit")
    try:
        await db.delete_container("audit")
    finally:
        await client.close()
    store = await CosmosStore.from_env(fresh_cosmos_env)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.ping()
    finally:
        await store.close()
    message = str(caught.value)
    assert "missing container audit." in message
    assert "register-admin init" in message
    assert fresh_cosmos_env["COSMOS_DATABASE"] in message and "entries" not in message


@pytest.mark.cosmos
async def test_ping_names_a_missing_database(cosmos_env):
    env = {**cosmos_env, "COSMOS_DATABASE": unique_database("never-created")}
    store = await CosmosStore.from_env(env)
    try:
        with pytest.raises(StoreUnavailable, match=r"database '.*' does not exist.*register-admin init"):
            await store.ping()
    finally:
        await store.close()


@pytest.mark.cosmos
async def test_init_is_idempotent_and_sets_partition_keys_and_indexing(cosmos_env):
    env = {**cosmos_env, "COSMOS_DATABASE": unique_database(), "COSMOS_CONTAINER_PREFIX": "mcr_"}
    first = await init(env)
    assert first[1].endswith(": created")
    assert [line.split("'")[1] for line in first[2:]] == [f"mcr_{name}" for name in CONTAINERS]
    assert all(line.endswith(": created") for line in first[2:])
    second, third = await asyncio.gather(init(env), init(env))  # concurrent runs are fine too
    for again in (second, third):
        assert all(line.endswith(": found") for line in again[1:])
    client, db, _ = await raw_container(env, "entries")
    try:
        for name in CONTAINERS:
            props = await db.get_container_client(f"mcr_{name}").read()
            assert props["partitionKey"]["paths"] == ["/pk"]
            # TTL on (no default) only where working documents carry their own expiry
            assert props.get("defaultTtl") == (-1 if name in TTL_CONTAINERS else None)
            assert not indexing_differs(props.get("indexingPolicy"), INDEXING_POLICIES[name])
        # someone changed an indexing policy by hand: init puts it back
        everything = {"indexingMode": "consistent", "includedPaths": [{"path": "/*"}], "excludedPaths": []}
        await db.replace_container("mcr_audit", partition_key=PartitionKey(path="/pk"),
                                   indexing_policy=everything)
        fixed = await init(env)
        assert [line for line in fixed if "updated" in line] == [
            "container 'mcr_audit' (partition key /pk): found; indexing policy updated "
            "(the service re-indexes in the background)"]
        props = await db.get_container_client("mcr_audit").read()
        assert not indexing_differs(props.get("indexingPolicy"), INDEXING_POLICIES["audit"])
        store = await CosmosStore.from_env(env)
        try:
            await store.ping()
        finally:
            await store.close()
    finally:
        await client.delete_database(env["COSMOS_DATABASE"])
        await client.close()


@pytest.mark.cosmos
async def test_a_wrong_partition_key_is_reported_not_fixed(cosmos_env):
    env = {**cosmos_env, "COSMOS_DATABASE": unique_database()}
    client, db, _ = await raw_container(env, "counters")
    try:
        await init(env)
        await db.delete_container("counters")
        await db.create_container("counters", partition_key=PartitionKey(path="/id"))
        with pytest.raises(InitError, match=r"container 'counters' has partition key \['/id'\]"):
            await init(env)
        store = await CosmosStore.from_env(env)
        try:
            with pytest.raises(StoreUnavailable, match="wrong partition key on counters"):
                await store.ping()
        finally:
            await store.close()
    finally:
        await client.delete_database(env["COSMOS_DATABASE"])
        await client.close()


def test_parse_throughput():
    assert parse_throughput(None) is None and parse_throughput("") is None
    assert parse_throughput("400") == 400
    auto = parse_throughput("autoscale:4000")
    assert auto.auto_scale_max_throughput == 4000
    for bad in ("100", "autoscale:1500", "lots"):
        with pytest.raises(ValueError):
            parse_throughput(bad)


# -- TLS -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "flag", "verify"),
    [
        ("https://127.0.0.1:8081", "1", False),
        ("https://localhost:8081/", "1", False),
        ("https://[::1]:8081", "1", False),
        ("https://LOCALHOST:8081", "true", False),
        ("https://127.0.0.1:8081", None, True),
        ("https://127.0.0.1:8081", "", True),
        ("https://127.0.0.1:8081", "0", True),
        ("https://register.documents.azure.com:443/", "1", True),
        ("https://127.0.0.1.nip.io:8081", "1", True),
        ("https://localhost@attacker.example", "1", True),
        ("https://attacker.example/?127.0.0.1", "1", True),
        ("https://127.0.0.2:8081", "1", True),
        ("https://10.0.0.5:8081", "1", True),
    ],
)
def test_tls_is_verified_unless_insecure_local_and_the_endpoint_is_loopback(endpoint, flag, verify):
    assert tls_verification(endpoint, flag) is verify
    env = {"COSMOS_ENDPOINT": endpoint, "COSMOS_KEY": EMULATOR_KEY}
    if flag is not None:
        env["COSMOS_INSECURE_LOCAL"] = flag
    assert CosmosSettings.from_env(env).verify_tls is verify


async def test_the_client_is_built_with_the_tls_setting_and_without_sdk_retries():
    """The transport's `verify` is what every request uses (azure-cosmos on its own would skip verification
    for any 127.0.0.1/localhost endpoint); the SDK's own throttle retries are off."""
    cases = [("https://127.0.0.1:1", "1", False), ("https://127.0.0.1:1", None, True),
             ("https://register.documents.azure.com:443/", "1", True)]
    for endpoint, flag, verify in cases:
        env = {"COSMOS_ENDPOINT": endpoint, "COSMOS_KEY": EMULATOR_KEY}
        if flag:
            env["COSMOS_INSECURE_LOCAL"] = flag
        store = await CosmosStore.from_env(env)
        try:
            connection = store._client.client_connection
            assert connection.pipeline_client._pipeline._transport.verify is verify
            assert connection.connection_policy.DisableSSLVerification is not verify
            assert connection.connection_policy.RetryOptions.MaxRetryAttemptCount == 0
        finally:
            await store.close()


def test_settings_from_the_environment():
    settings = CosmosSettings.from_env({"COSMOS_ENDPOINT": "https://register.documents.azure.com:443/"})
    assert settings.key is None and settings.database == "register" and settings.container_prefix == ""
    assert settings.verify_tls and settings.timeout == 4.0
    assert settings.container_name("audit") == "audit"
    custom = CosmosSettings.from_env({"COSMOS_ENDPOINT": "https://x.documents.azure.com",
                                      "COSMOS_KEY": "s3cret", "COSMOS_DATABASE": "mcr",
                                      "COSMOS_CONTAINER_PREFIX": "test_", "COSMOS_TIMEOUT_SECONDS": "2.5"})
    assert custom.container_name("audit") == "test_audit" and custom.timeout == 2.5
    assert custom.read_timeout <= custom.timeout and "s3cret" not in custom.where()
    for bad in ({}, {"COSMOS_ENDPOINT": "ftp://x"},
                {"COSMOS_ENDPOINT": "https://x", "COSMOS_DATABASE": "a/b"},
                {"COSMOS_ENDPOINT": "https://x", "COSMOS_TIMEOUT_SECONDS": "600"}):
        with pytest.raises(ValueError):
            CosmosSettings.from_env(bad)


async def test_without_a_key_the_store_uses_entra_id():
    from azure.identity.aio import DefaultAzureCredential

    store = await CosmosStore.from_env({"COSMOS_ENDPOINT": "https://register.documents.azure.com:443/"})
    try:
        assert isinstance(store._credential, DefaultAzureCredential)
    finally:
        await store.close()


@pytest.mark.cosmos
async def test_without_the_local_setting_the_self_signed_certificate_is_refused(cosmos_env):
    env = {k: v for k, v in cosmos_env.items() if k != "COSMOS_INSECURE_LOCAL"}
    store = await CosmosStore.from_env(env)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await store.ping()
        assert time.monotonic() - started < 8
    finally:
        await store.close()
    chain, exc = [], caught.value
    while exc is not None:
        chain.append(repr(exc))
        exc = exc.__cause__ or getattr(exc, "inner_exception", None)
    assert "certificate" in " ".join(chain).lower()


# -- retries ---------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def http_error(status: int, **headers: str) -> CosmosHttpResponseError:
    exc = CosmosHttpResponseError(status_code=status, message=f"HTTP {status}")
    exc.headers = {k.replace("_", "-"): v for k, v in headers.items()}
    return exc


def test_backoff_is_jittered_exponential_capped_and_honours_retry_after():
    policy = RetryPolicy(attempts=6, budget=10, base=0.1, cap=1.0)
    rng = random.Random(1)
    bounds = [(0.05, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.8), (0.5, 1.0), (0.5, 1.0)]
    for retry, (low, high) in enumerate(bounds):
        delays = [policy.delay(retry, None, rng) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert len({round(d, 6) for d in delays}) > 100  # jittered, not fixed
    assert 0.75 <= policy.delay(0, 0.7, rng) <= 0.8


def test_retry_after_is_read_from_the_cosmos_header_or_retry_after():
    assert retry_after_seconds(http_error(429, x_ms_retry_after_ms="250")) == 0.25
    assert retry_after_seconds(http_error(503, Retry_After="2")) == 2.0
    assert retry_after_seconds(http_error(429)) is None
    assert retry_after_seconds(http_error(429, x_ms_retry_after_ms="soon")) is None


def test_what_is_retried():
    for status in (408, 429, 449, 503):
        assert classify(http_error(status)) == "retry"
    for status in (401, 403, 500):
        assert classify(http_error(status)) == "unavailable"
    for status in (400, 404, 409, 412, 413):
        assert classify(http_error(status)) == "raise"
    assert classify(ServiceRequestError("refused")) == "retry"
    assert classify(ServiceResponseError("reset")) == "retry"
    assert classify(TimeoutError()) == "retry"
    assert classify(ValueError()) == "raise"


async def test_throttling_is_retried_after_what_the_service_asked():
    fake, calls = FakeTime(), []

    async def attempt() -> str:
        calls.append(fake.now)
        if len(calls) < 3:
            raise http_error(429, x_ms_retry_after_ms="300")
        return "done"

    policy = RetryPolicy(attempts=4, budget=5)
    assert await call_with_retries("t", attempt, policy, sleep=fake.sleep, clock=fake.clock,
                                   rng=random.Random(2)) == "done"
    assert len(calls) == 3
    # what the service asked (0.3 s) plus the jittered backoff of that retry (0.05-0.1 s, then 0.1-0.2 s)
    assert len(fake.sleeps) == 2
    assert 0.35 <= fake.sleeps[0] <= 0.4 and 0.4 <= fake.sleeps[1] <= 0.5


async def test_retries_are_bounded_in_count():
    fake, calls = FakeTime(), []

    async def attempt() -> None:
        calls.append(1)
        raise ServiceRequestError("connection refused")

    with pytest.raises(StoreUnavailable, match="ServiceRequestError"):
        await call_with_retries("read", attempt, RetryPolicy(attempts=4, budget=5), sleep=fake.sleep,
                                clock=fake.clock)
    assert len(calls) == 4 and fake.now < 1.0


async def test_retries_are_bounded_in_time_and_never_sleep_past_the_budget():
    fake, calls = FakeTime(), []

    async def attempt() -> None:
        calls.append(1)
        raise http_error(429, x_ms_retry_after_ms="2000")

    with pytest.raises(StoreUnavailable, match="429"):
        await call_with_retries("read", attempt, RetryPolicy(attempts=10, budget=5), sleep=fake.sleep,
                                clock=fake.clock)
    assert len(calls) == 3  # waited 2 s + jitter twice; a third wait would end after the budget
    assert fake.now < 5


async def test_answers_and_bugs_are_not_retried_and_auth_failures_are_unavailable_at_once():
    fake = FakeTime()
    for exc, expected in ((http_error(412), CosmosHttpResponseError), (ValueError("bug"), ValueError),
                          (http_error(401), StoreUnavailable)):
        calls: list[int] = []

        async def attempt(exc: Exception = exc, calls: list[int] = calls) -> None:
            calls.append(1)
            raise exc

        with pytest.raises(expected):
            await call_with_retries("x", attempt, RetryPolicy(), sleep=fake.sleep, clock=fake.clock)
        assert len(calls) == 1


async def test_refused_credentials_say_so():
    async def attempt() -> None:
        raise http_error(401)

    with pytest.raises(StoreUnavailable, match="HTTP 401 .*credentials refused"):
        await call_with_retries("read entries", attempt, RetryPolicy())


async def test_a_slow_attempt_is_cut_off_at_the_budget():
    async def attempt() -> None:
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="timed out"):
        await call_with_retries("read", attempt, RetryPolicy(attempts=3, budget=0.3))
    assert time.monotonic() - started < 1.0


class ThrottlingServer:
    """A tiny Cosmos look-alike over plain HTTP on 127.0.0.1: it answers the account and container reads,
    then 429 with x-ms-retry-after-ms to the first `throttle` item reads. It shows that the real SDK does not
    retry by itself (every 429 reaches our policy) and that the wait the service asks for is honoured."""

    def __init__(self, throttle: int, retry_after_ms: int = 200):
        self.throttle, self.retry_after_ms = throttle, retry_after_ms
        self.item_reads: list[float] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        if path == "":
            here = f"http://{request.host}/"
            location = [{"name": "Local", "databaseAccountEndpoint": here}]
            return web.json_response({
                "id": "local", "_rid": "local", "_self": "", "_dbs": "//dbs/", "media": "//media/",
                "addresses": "//addresses/", "writableLocations": location, "readableLocations": location,
                "enableMultipleWriteLocations": False, "queryEngineConfiguration": "{}",
                "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
                "userReplicationPolicy": {"minReplicaSetSize": 1, "maxReplicasetSize": 4},
                "systemReplicationPolicy": {"minReplicaSetSize": 1, "maxReplicasetSize": 4},
                "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
            })
        if path.count("/") == 4:  # /dbs/{db}/colls/{coll}
            return web.json_response({"id": path.rsplit("/", 1)[1], "_rid": "AAAAAA==", "_self": "",
                                      "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}})
        self.item_reads.append(time.monotonic())
        if len(self.item_reads) <= self.throttle:
            return web.json_response({"code": "TooManyRequests", "message": "Request rate is large"},
                                     status=429, headers={"x-ms-retry-after-ms": str(self.retry_after_ms),
                                                          "x-ms-substatus": "3200"})
        body = {"id": REF, "pk": REF, "_etag": "etag-1", "_ts": 1, **make_entry().to_dict()}
        return web.json_response(body, headers={"etag": "etag-1"})

    async def __aenter__(self) -> ThrottlingServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def env(self, **extra: str) -> dict[str, str]:
        return {"COSMOS_ENDPOINT": f"http://127.0.0.1:{self.port}", "COSMOS_KEY": EMULATOR_KEY,
                "COSMOS_DATABASE": "register", **extra}


async def test_sdk_does_not_retry_behind_our_back_and_retry_after_is_honoured():
    async with ThrottlingServer(throttle=2, retry_after_ms=200) as server:
        store = await CosmosStore.from_env(server.env())
        try:
            got = await store.get_entry(REF)
        finally:
            await store.close()
    assert got is not None and got.value == make_entry() and got.etag == "etag-1"
    assert len(server.item_reads) == 3
    gaps = [b - a for a, b in zip(server.item_reads, server.item_reads[1:], strict=False)]
    assert all(0.2 <= gap < 1.0 for gap in gaps)


async def test_persistent_throttling_becomes_unavailable_within_the_budget():
    async with ThrottlingServer(throttle=1000, retry_after_ms=100) as server:
        store = await CosmosStore.from_env(server.env(COSMOS_TIMEOUT_SECONDS="2"))
        started = time.monotonic()
        try:
            with pytest.raises(StoreUnavailable, match="429"):
                await store.get_entry(REF)
        finally:
            await store.close()
        assert time.monotonic() - started < 2.5
        assert 2 <= len(server.item_reads) <= RetryPolicy().attempts


class DataPlaneOnlyServer(ThrottlingServer):
    """Answers like Cosmos DB to an Entra ID identity with data-plane roles only: the database is not there
    (404) and creating it is forbidden (403)."""

    def __init__(self) -> None:
        super().__init__(throttle=0)

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.rstrip("/") == "":
            return await super().handle(request)
        if request.method == "POST":
            return web.json_response({"code": "Forbidden", "message": "Request blocked by Auth"}, status=403,
                                     headers={"x-ms-substatus": "5301"})
        return web.json_response({"code": "NotFound", "message": "Owner resource does not exist"}, status=404)


async def test_init_without_control_plane_rights_says_what_to_do():
    async with DataPlaneOnlyServer() as server:
        with pytest.raises(InitError, match=r"creating database 'register': refused \(HTTP 403\).*COSMOS_KEY"):
            await init(server.env())


# -- writes whose answer was lost ------------------------------------------------------------------


def lose_first_answer(container: Any, method: str, *, applied: bool) -> list[int]:
    """Fault injection on one container client: the first call of `method` fails as if the connection dropped,
    after the service applied it (`applied=True`) or before the request left (`applied=False`)."""
    real = getattr(container, method)
    calls: list[int] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            if applied:
                await real(*args, **kwargs)
                raise ServiceResponseError("connection reset while reading the response")
            raise ServiceRequestError("connection refused")
        return await real(*args, **kwargs)

    setattr(container, method, flaky)
    return calls


@pytest.mark.cosmos
async def test_a_create_whose_answer_was_lost_is_recognised_as_ours(store):
    calls = lose_first_answer(store._c["entries"], "create_item", applied=True)
    created = await store.create_entry(make_entry())
    assert isinstance(created, Saved) and len(calls) == 2
    got = await store.get_entry(REF)
    assert got is not None and got.etag == created.etag
    assert await store.create_entry(make_entry()) == Conflict("exists")


@pytest.mark.cosmos
async def test_a_retried_create_that_meets_someone_elses_document_is_a_conflict(two_instances):
    a, b = two_instances
    lose_first_answer(a._c["entries"], "create_item", applied=False)
    await b.create_entry(make_entry(guidance="theirs"))
    assert await a.create_entry(make_entry(guidance="mine")) == Conflict("exists")


@pytest.mark.cosmos
async def test_a_replace_whose_answer_was_lost_is_recognised_as_ours(store):
    created = await store.create_entry(make_entry())
    assert isinstance(created, Saved)
    lose_first_answer(store._c["entries"], "replace_item", applied=True)
    replaced = await store.replace_entry(make_entry(guidance="new"), created.etag)
    assert isinstance(replaced, Saved)
    assert await store.replace_entry(make_entry(guidance="newer"), created.etag) == Conflict("changed")


@pytest.mark.cosmos
async def test_a_counter_increment_whose_answer_was_lost_is_neither_repeated_nor_skipped(store):
    assert await store.next_number("n") == 1
    lose_first_answer(store._c["counters"], "replace_item", applied=True)
    assert await store.next_number("n") == 2
    assert await store.next_number("n") == 3


# -- documents -------------------------------------------------------------------------------------


@pytest.mark.cosmos
async def test_audit_is_partitioned_by_utc_day_and_carries_no_ttl(store, fresh_cosmos_env):
    late_evening_in_new_york = datetime(2026, 11, 1, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    record = make_audit(("MCR-2026-0007",), at=late_evening_in_new_york)
    await store.append_audit(record)
    client, _, audit = await raw_container(fresh_cosmos_env, "audit")
    try:
        docs = [d async for d in audit.query_items("SELECT * FROM c WHERE c.id = @id",
                                                   parameters=[{"name": "@id", "value": record.id}])]
    finally:
        await client.close()
    assert len(docs) == 1
    assert docs[0]["pk"] == "2026-11-02" == audit_partition(record.at)
    assert docs[0]["refs"] == ["MCR-2026-0007"]
    assert "ttl" not in docs[0]
    assert AuditRecord.from_dict(docs[0]) == record


@pytest.mark.cosmos
async def test_audit_time_ranges_across_days_and_long_ranges(store):
    t0 = datetime(2026, 10, 30, 23, 0, tzinfo=UTC)
    records = [make_audit((f"MCR-2026-000{n % 2}",), at=t0 + timedelta(hours=12 * n)) for n in range(6)]
    for record in reversed(records):  # appended out of order: listed by time
        await store.append_audit(record)
    assert await store.list_audit() == records
    assert await store.list_audit(since=records[1].at, until=records[4].at) == records[1:4]
    assert await store.list_audit(ref="MCR-2026-0001", since=records[1].at, until=records[4].at) == [
        records[1], records[3]]
    long_ago = t0 - timedelta(days=MAX_AUDIT_DAYS + 30)
    assert await store.list_audit(since=long_ago, until=records[2].at) == records[:2]
    assert await store.list_audit(since=records[5].at) == records[5:]
    assert await store.list_audit(until=records[1].at) == records[:1]


@pytest.mark.cosmos
async def test_purge_cuts_inside_a_day_partition_and_touches_nothing_after_the_cutoff(store):
    day = datetime(2018, 3, 1, tzinfo=UTC)  # past the floor: nothing younger can be purged
    times = [day + timedelta(hours=10), day + timedelta(days=1, hours=9), day + timedelta(days=1, hours=11),
             day + timedelta(days=2)]
    records = [make_audit(at=t) for t in times]
    for record in records:
        await store.append_audit(record)
    assert await store.purge_audit(day + timedelta(days=1, hours=10)) == 2
    assert await store.list_audit() == records[2:]
    assert await store.list_audit(since=day, until=day + timedelta(days=3)) == records[2:]


@pytest.mark.cosmos
async def test_appending_the_same_audit_record_twice_keeps_one_and_a_reused_id_is_refused(store):
    record = make_audit()
    await store.append_audit(record)
    await store.append_audit(record)  # a caller retrying after a lost answer
    assert await store.list_audit() == [record]
    fields = {f: getattr(record, f) for f in record.__dataclass_fields__}
    forged = AuditRecord(**{**fields, "outcome": "none"})
    with pytest.raises(ValueError, match="already used"):
        await store.append_audit(forged)
    assert await store.list_audit() == [record]


@pytest.mark.cosmos
async def test_keys_that_are_not_valid_cosmos_ids_still_work(store):
    odd = "MCR/2026#0001?"
    assert doc_id(odd) != odd
    created = await store.create_entry(make_entry(odd))
    assert isinstance(created, Saved)
    got = await store.get_entry(odd)
    assert got is not None and got.value.ref == odd
    assert await store.get_entry("MCR/2026#0002?") is None


@pytest.mark.cosmos
async def test_the_local_server_wrapper_answers_404_and_keeps_connections_alive(store, cosmos_server):
    with pytest.raises(CosmosHttpResponseError) as caught:
        await store._c["entries"].read_item("MCR-1999-0001", partition_key="MCR-1999-0001")
    assert caught.value.status_code == 404
    conn = http.client.HTTPSConnection("127.0.0.1", cosmos_server.port, timeout=5,
                                       context=ssl._create_unverified_context())  # the local test server only
    try:
        for _ in range(2):  # the second request goes over the same connection
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("connection") == "keep-alive"
    finally:
        conn.close()


# -- outage ----------------------------------------------------------------------------------------


#: A behaviour guarantee (the bot can answer "the register is unavailable" in time), not a benchmark.
OUTAGE_BOUND_S = 8.0


async def timed_unavailable(call) -> float:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await call
    return time.monotonic() - started


@pytest.mark.cosmos
async def test_server_stopped_mid_run_gives_unavailable_fast_and_recovers_after_restart():
    server = start_server()
    store = None
    try:
        env = server.env(unique_database())
        await init(env)
        store = await CosmosStore.from_env(env)
        await store.create_entry(make_entry())

        outcomes: list[tuple[str, float]] = []
        running = True

        async def bot_traffic() -> None:
            while running:
                started = time.monotonic()
                try:
                    await store.get_entry(REF)
                    outcomes.append(("ok", time.monotonic() - started))
                except StoreUnavailable:
                    outcomes.append(("unavailable", time.monotonic() - started))
                await asyncio.sleep(0.01)

        traffic = asyncio.create_task(bot_traffic())
        await asyncio.sleep(0.3)
        server.stop()  # by PID
        await asyncio.sleep(1.0)
        running = False
        await traffic
        assert {kind for kind, _ in outcomes} == {"ok", "unavailable"}
        assert outcomes[-1][0] == "unavailable"
        assert max(seconds for _, seconds in outcomes) < OUTAGE_BOUND_S

        for call in (store.get_entry(REF), store.create_entry(make_entry("MCR-2026-0002")),
                     store.replace_entry(make_entry(), "etag"), store.list_entries(),
                     store.changes_since(None), store.append_audit(make_audit()), store.list_audit(),
                     store.next_number("entry-2026"), store.get_conversation_ref("user-1"), store.ping()):
            assert await timed_unavailable(call) < OUTAGE_BOUND_S

        server.start()  # same port; the in-memory server starts empty
        with pytest.raises(StoreUnavailable, match="register-admin init"):
            await store.ping()
        await init(env)
        await store.ping()
        assert await store.get_entry(REF) is None
        assert isinstance(await store.create_entry(make_entry()), Saved)
        assert (await store.get_entry(REF)) is not None
    finally:
        if store is not None:
            await store.close()
        server.close()


@pytest.mark.cosmos
async def test_a_hung_server_gives_unavailable_within_the_bound_and_recovers():
    server = start_server()
    store = None
    try:
        env = server.env(unique_database())
        await init(env)
        store = await CosmosStore.from_env(env)  # default settings: the guarantee is about the defaults
        await store.create_entry(make_entry())
        server.pause()  # SIGSTOP: connections open, nothing answers
        try:
            first = await timed_unavailable(store.get_entry(REF))
            # the same bot turn then writes its audit record: one short attempt, not another full budget
            second = await timed_unavailable(store.append_audit(make_audit()))
        finally:
            server.resume()
        assert first < OUTAGE_BOUND_S
        assert second < 1.5 and first + second < OUTAGE_BOUND_S
        assert store.degraded
        got = await store.get_entry(REF)  # the first success ends the degraded mode
        assert got is not None and not store.degraded
    finally:
        if store is not None:
            await store.close()
        server.close()


async def test_queries_page_through_a_register_larger_than_one_page(store, monkeypatch):
    """Each page is its own bounded call: a register of any size loads, page by page."""
    import storage.cosmos as cosmos

    monkeypatch.setattr(cosmos, "QUERY_PAGE_SIZE", 40)
    refs = [f"MCR-2026-{n:04d}" for n in range(130)]
    for chunk in range(0, len(refs), 26):
        await asyncio.gather(*(store.create_entry(make_entry(ref)) for ref in refs[chunk:chunk + 26]))
    assert sorted(e.ref for e in await store.list_entries()) == refs
    assert sorted(e.ref for e in (await store.changes_since(None)).entries) == refs
