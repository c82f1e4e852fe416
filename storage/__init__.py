"""Storage backends for the register. `open_store()` picks one from the environment, the same way for the bot
and for `register-admin`: Cosmos DB when COSMOS_ENDPOINT is set, otherwise the embedded SQLite file at
REGISTER_DB (default ./data/register.db)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from register.store import Store

DEFAULT_DB = "data/register.db"


def describe(env: Mapping[str, str] | None = None) -> str:
    """Where the store is, for logs and the CLI (never the key)."""
    env = os.environ if env is None else env
    if env.get("COSMOS_ENDPOINT"):
        return f"Cosmos DB at {env['COSMOS_ENDPOINT']}"
    return f"SQLite file {env.get('REGISTER_DB') or DEFAULT_DB}"


async def open_store(env: Mapping[str, str] | None = None) -> Store:
    env = os.environ if env is None else env
    if env.get("COSMOS_ENDPOINT"):
        from storage.cosmos import CosmosStore  # noqa: PLC0415 - only when configured

        return await CosmosStore.from_env(env)
    from storage.sqlite import SQLiteStore  # noqa: PLC0415

    return await SQLiteStore.open(env.get("REGISTER_DB") or DEFAULT_DB)
