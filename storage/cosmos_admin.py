"""`register-admin init` for Cosmos DB: create the database and the containers, idempotently.

Run it once per environment (and again after an upgrade: it converges the indexing policies). It never deletes
or recreates anything: a container with the wrong partition key is reported, not "fixed", because that would
need a data migration (export, delete, init, import).

Containers and indexing policies are defined in storage/cosmos.py (`CONTAINERS`, `INDEXING_POLICIES`) and
explained in docs/cosmos.md. Optional COSMOS_DATABASE_THROUGHPUT sets shared throughput when the database is
created on a provisioned-throughput account: `400` (manual RU/s) or `autoscale:1000` (maximum RU/s). Leave it
unset on a serverless account.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from azure.cosmos import PartitionKey, ThroughputProperties
from azure.cosmos.aio import CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import CosmosHttpResponseError

from storage.cosmos import (
    CONTAINERS,
    INDEXING_POLICIES,
    PK_PATH,
    TTL_CONTAINERS,
    CosmosSettings,
    RetryPolicy,
    call_with_retries,
    open_client,
)

#: Admin commands are not answering a user in Teams: they can wait longer for a throttled or slow service.
ADMIN_RETRY = RetryPolicy(attempts=6, budget=30.0)


class InitError(RuntimeError):
    """Something init cannot do or fix by itself: a wrong partition key, or no permission to create."""


#: Cosmos DB's data-plane roles (Entra ID) cannot create or change databases and containers.
_NO_CONTROL_PLANE = (
    "{what}: refused (HTTP 403). With Entra ID (no COSMOS_KEY), Cosmos DB data-plane roles cannot create or "
    "change databases and containers: create them through Azure Resource Manager (Bicep, az cosmosdb sql "
    "container create) with the partition key /pk and the indexing policies in docs/cosmos.md, or run "
    "`register-admin init` once with COSMOS_KEY set."
)


def _raise_if_refused(exc: CosmosHttpResponseError, what: str) -> None:
    if exc.status_code == 403:
        raise InitError(_NO_CONTROL_PLANE.format(what=what)) from exc


def parse_throughput(value: str | None) -> int | ThroughputProperties | None:
    """'' → None (serverless, or throughput managed elsewhere); '400' → 400 RU/s manual;
    'autoscale:1000' → autoscale with a 1000 RU/s maximum."""
    value = (value or "").strip().lower()
    if not value:
        return None
    if value.startswith("autoscale:"):
        top = int(value.removeprefix("autoscale:"))
        if top < 1000 or top % 1000:
            raise ValueError("COSMOS_DATABASE_THROUGHPUT: the autoscale maximum is a multiple of 1000 RU/s")
        return ThroughputProperties(auto_scale_max_throughput=top)
    manual = int(value)
    if manual < 400:
        raise ValueError("COSMOS_DATABASE_THROUGHPUT must be at least 400 RU/s")
    return manual


def _paths(policy: Mapping[str, Any], key: str) -> list[str]:
    # The service adds /"_etag"/? to excludedPaths by itself; it is not ours to compare.
    return sorted(p["path"] for p in policy.get(key) or [] if "_etag" not in p["path"])


def indexing_differs(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    current = current or {}
    return (
        str(current.get("indexingMode", "consistent")).lower() != wanted["indexingMode"]
        or _paths(current, "includedPaths") != _paths(wanted, "includedPaths")
        or _paths(current, "excludedPaths") != _paths(wanted, "excludedPaths")
    )


async def _read(what: str, proxy: Any) -> dict[str, Any] | None:
    async def attempt() -> dict[str, Any] | None:
        try:
            return dict(await proxy.read())
        except CosmosHttpResponseError as exc:
            if exc.status_code == 404:
                return None
            raise

    return await call_with_retries(what, attempt, ADMIN_RETRY)


async def _ensure_database(client: CosmosClient, settings: CosmosSettings, throughput: Any) -> tuple[
        DatabaseProxy, str]:
    name = settings.database
    db = client.get_database_client(name)
    if await _read(f"read database {name}", db) is not None:
        return db, f"database '{name}': found"

    async def create() -> str:
        try:
            await client.create_database(name, offer_throughput=throughput)
            shared = f" with shared throughput {_describe_throughput(throughput)}" if throughput else ""
            return f"database '{name}': created{shared}"
        except CosmosHttpResponseError as exc:
            if exc.status_code == 409:  # another init got there first
                return f"database '{name}': found"
            _raise_if_refused(exc, f"creating database '{name}'")
            raise

    return db, await call_with_retries(f"create database {name}", create, ADMIN_RETRY)


def _describe_throughput(throughput: Any) -> str:
    if isinstance(throughput, ThroughputProperties):
        return f"autoscale up to {throughput.auto_scale_max_throughput} RU/s"
    return f"{throughput} RU/s"


async def _ensure_container(db: DatabaseProxy, settings: CosmosSettings, base: str) -> str:
    name = settings.container_name(base)
    policy = INDEXING_POLICIES[base]
    label = f"container '{name}' (partition key {PK_PATH})"
    # TTL on with no default (-1): only documents that carry their own `ttl` expire; None leaves TTL off (the SDK
    # sends no defaultTtl)
    ttl = -1 if base in TTL_CONTAINERS else None
    proxy = db.get_container_client(name)
    current = await _read(f"read container {name}", proxy)
    if current is None:
        async def create() -> str:
            try:
                await db.create_container(
                    name, partition_key=PartitionKey(path=PK_PATH), indexing_policy=policy, default_ttl=ttl)
                return f"{label}: created"
            except CosmosHttpResponseError as exc:
                if exc.status_code == 409:
                    return f"{label}: found"
                _raise_if_refused(exc, f"creating container '{name}'")
                raise

        return await call_with_retries(f"create container {name}", create, ADMIN_RETRY)

    paths = (current.get("partitionKey") or {}).get("paths") or []
    if paths != [PK_PATH]:
        raise InitError(
            f"container '{name}' has partition key {paths}, expected ['{PK_PATH}']. A partition key cannot "
            "be changed in place: export the data, delete the container, run init again, and import."
        )
    if not indexing_differs(current.get("indexingPolicy"), policy):
        return f"{label}: found"

    async def update() -> str:
        try:
            await db.replace_container(
                proxy, partition_key=PartitionKey(path=PK_PATH), indexing_policy=policy, default_ttl=ttl)
        except CosmosHttpResponseError as exc:
            _raise_if_refused(exc, f"updating the indexing policy of '{name}'")
            raise
        return f"{label}: found; indexing policy updated (the service re-indexes in the background)"

    return await call_with_retries(f"update container {name}", update, ADMIN_RETRY)


async def init(env: Mapping[str, str] | None = None) -> list[str]:
    """Create the database and containers if missing; converge the indexing policies. Returns one line per
    resource saying what was created, found or updated. Safe to run any number of times, concurrently too."""
    env = os.environ if env is None else env
    settings = CosmosSettings.from_env(env)
    throughput = parse_throughput(env.get("COSMOS_DATABASE_THROUGHPUT"))
    # creating a container can take the service several seconds: wait longer than the bot would
    client, credential = await open_client(dataclasses.replace(settings, timeout=ADMIN_RETRY.budget,
                                                               connect_timeout=5.0, read_timeout=20.0))
    try:
        db, line = await _ensure_database(client, settings, throughput)
        lines = [f"{settings.where()}", line]
        for base in CONTAINERS:
            lines.append(await _ensure_container(db, settings, base))
        return lines
    finally:
        await client.close()
        if credential is not None:
            await credential.close()
