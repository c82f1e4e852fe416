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
    from bench.harness import e2e_target, summary_line
    from bench.loadgen import process_cpu_seconds
    from bench.register_bot import build_register
    from tests.cosmos_server import CosmosServer, CosmosServerError, unique_database

    entries = args.cosmos_entries or (10_000 if args.quick else 100_000)
    texts_file = workdir / "texts.json"
    if not texts_file.exists():  # the e2e part was not run: make the same check texts
        _db, texts, _facts = build_register(entries)
        texts_file.write_text(json.dumps(texts))
    count = max(50, int((1_500 if args.quick else 4_000) * args.scale))
    server = CosmosServer()
    try:
        try:
            server.start()
        except CosmosServerError as exc:
            return {"error": f"the Cosmos DB wire server did not start: {exc}"}
        env = server.env(unique_database("bench"))
        print(f"store: loading {entries} entries into the Cosmos DB wire server ...", flush=True)
        loaded = asyncio.run(_load(env, entries))
        bot_env = {**os.environ, **env,
                   "REGISTER_CHECKS_PER_HOUR": "0" if args.no_rate_limit else "1000000"}
        extra = ["--cosmos", "--adapter", args.check_adapter, "--log", str(workdir / "check_cosmos.bot.log")]
        if args.gc_freeze:
            extra.append("--gc-freeze")
        if args.fast_parse:
            extra.append("--fast-parse")
        print(f"e2e check_cosmos: {count} activities after {count // 10} warm-up ...", flush=True)
        server_cpu = process_cpu_seconds(server.pid) if server.pid else None
        result = e2e_target("check_cosmos", ["bench.register_bot", *extra], count=count, warmup=count // 10,
                            texts=texts_file, workdir=workdir, ready_timeout=args.ready_timeout,
                            concurrency=args.concurrency, max_seconds=args.max_seconds, users=args.users,
                            env=bot_env)
        if server_cpu is not None and server.pid and result.get("completed"):
            used = (process_cpu_seconds(server.pid) or server_cpu) - server_cpu
            # includes the warm-up activities, so divide by all of them
            result["store_server_cpu_ms_per_activity"] = round(used / (count + count // 10) * 1000, 3)
        result["register"] = loaded
        result["outcomes"] = asyncio.run(_outcomes(env))
        print("   " + summary_line("check_cosmos", result), flush=True)
        return result
    except Exception as exc:  # noqa: BLE001 - report, do not lose the other parts
        return {"error": f"{exc.__class__.__name__}: {str(exc)[-1500:]}"}
    finally:
        server.close()
