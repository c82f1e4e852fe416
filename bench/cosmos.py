"""The store part of `make bench`: the end-to-end `check` run with the register in the local Cosmos DB wire
server (tools/cosmos-server.cjs, started and stopped by PID through tests/cosmos_server.py), to compare with the
same run on SQLite and show what the store adds per check (a rate-limit counter and an audit record per check,
a conversation reference per new user; lookups never touch the store).

The register is loaded with the same generated entries as the SQLite run (bench/register_bot.py), written
through CosmosStore.create_entry with 32 writes in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

LOAD_CONCURRENCY = 32
COSMOS_ENTRIES = 10_000
SIZE_NOTE = ("10,000 entries in both runs: the store's first changes_since (SELECT ... ORDER BY c._ts over the whole "
             "entries container) takes longer than its 3 s read timeout on the local wire server above ~15,000 "
             "entries, so the bot cannot start there with 100,000. Lookups never touch the store, so the "
             "difference between the two runs is the store's cost per check.")


async def _load(env: dict[str, str], n: int) -> dict[str, Any]:
    from bench.register_bot import generate_entries
    from storage import cosmos_admin
    from storage.cosmos import CosmosStore

    await cosmos_admin.init(env)
    store = await CosmosStore.from_env(env)
    try:
        entries = generate_entries(n, date.today())
        gate = asyncio.Semaphore(LOAD_CONCURRENCY)

        async def put(entry: Any) -> None:
            async with gate:
                await store.create_entry(entry)

        t0 = time.perf_counter()
        await asyncio.gather(*(put(e) for e in entries))
        return {"entries": n, "load_seconds": round(time.perf_counter() - t0, 1)}
    finally:
        await store.close()


async def _outcomes(env: dict[str, str]) -> dict[str, int]:
    from storage.cosmos import CosmosStore

    store = await CosmosStore.from_env(env)
    try:
        counts: dict[str, int] = {}
        for record in await store.list_audit():
            if record.action == "check":
                counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return counts
    finally:
        await store.close()


def run_cosmos_check(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Two runs with the same register size: SQLite, then the Cosmos DB wire server. Returns both and the
    difference per check."""
    from bench.harness import e2e_target, summary_line
    from bench.loadgen import process_cpu_seconds
    from bench.register_bot import CACHE, build_register, copy_register
    from tests.cosmos_server import CosmosServer, CosmosServerError, unique_database

    entries = args.cosmos_entries or COSMOS_ENTRIES
    db, texts, _facts = build_register(entries)
    texts_file = workdir / f"texts-{entries}.json"
    texts_file.write_text(json.dumps(texts))
    count = max(50, int((1_500 if args.quick else 4_000) * args.scale))
    flags: list[str] = []
    common = dict(count=count, warmup=count // 10, texts=texts_file, workdir=workdir,
                  ready_timeout=args.ready_timeout, concurrency=args.concurrency, max_seconds=args.max_seconds,
                  users=args.users)
    limit = {"REGISTER_CHECKS_PER_HOUR": "0" if args.no_rate_limit else "1000000"}
    out: dict[str, Any] = {"entries": entries, "note": SIZE_NOTE}

    print(f"e2e check_sqlite ({entries} entries): {count} activities after {count // 10} warm-up ...", flush=True)
    try:
        run_db = copy_register(db, CACHE / "check_sqlite_small.db")
        out["sqlite"] = e2e_target("check_sqlite", ["bench.register_bot", "--db", str(run_db), *flags],
                                   env={**os.environ, **limit}, **common)
    except Exception as exc:  # noqa: BLE001
        out["sqlite"] = {"error": f"{exc.__class__.__name__}: {str(exc)[-1500:]}"}
    print("   " + summary_line("check_sqlite", out["sqlite"]), flush=True)

    server = CosmosServer()
    try:
        try:
            server.start()
        except CosmosServerError as exc:
            out["cosmos"] = {"error": f"the Cosmos DB wire server did not start: {exc}"}
            return out
        env = server.env(unique_database("bench"))
        print(f"store: loading {entries} entries into the Cosmos DB wire server ...", flush=True)
        loaded = asyncio.run(_load(env, entries))
        print(f"e2e check_cosmos ({entries} entries): {count} activities after {count // 10} warm-up ...",
              flush=True)
        server_cpu = process_cpu_seconds(server.pid) if server.pid else None
        result = e2e_target("check_cosmos", ["bench.register_bot", "--cosmos", *flags],
                            env={**os.environ, **env, **limit}, **common)
        if server_cpu is not None and server.pid and result.get("completed"):
            used = (process_cpu_seconds(server.pid) or server_cpu) - server_cpu
            # includes the warm-up activities, so divide by all of them
            result["store_server_cpu_ms_per_activity"] = round(used / (count + count // 10) * 1000, 3)
        result["register"] = loaded
        result["outcomes"] = asyncio.run(_outcomes(env))
        out["cosmos"] = result
    except Exception as exc:  # noqa: BLE001 - report, do not lose the other parts
        out["cosmos"] = {"error": f"{exc.__class__.__name__}: {str(exc)[-1500:]}"}
    finally:
        server.close()
    print("   " + summary_line("check_cosmos", out["cosmos"]), flush=True)
    sqlite, cosmos = out.get("sqlite") or {}, out.get("cosmos") or {}
    if not sqlite.get("error") and not cosmos.get("error"):
        def delta(key: str, sub: str | None = None) -> float | None:
            a = sqlite.get(key) if sub is None else (sqlite.get(key) or {}).get(sub)
            b = cosmos.get(key) if sub is None else (cosmos.get(key) or {}).get(sub)
            return round(b - a, 3) if a is not None and b is not None else None

        out["cosmos_minus_sqlite"] = {
            "bot_cpu_ms_per_activity": delta("bot_cpu_ms_per_activity"),
            "bot_main_thread_cpu_ms_per_activity": delta("bot_main_thread_cpu_ms_per_activity"),
            "latency_p50_ms": delta("latency_ms", "p50"),
            "latency_p99_ms": delta("latency_ms", "p99"),
            "store_server_cpu_ms_per_activity": cosmos.get("store_server_cpu_ms_per_activity"),
            "activities_per_s_ratio": round(cosmos["activities_per_s"] / sqlite["activities_per_s"], 3)
            if sqlite.get("activities_per_s") and cosmos.get("activities_per_s") else None,
        }
    return out
