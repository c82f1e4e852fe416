"""The report part of `make bench`: the server time of one step of the incident report flow, draft save included.

In process, on the real use case (register/reporting.py) over a real store: SQLite in a temporary file, and the
local Cosmos DB wire server when node and the npm tools are there. Each simulated reporter starts a report, moves
through the three input steps with Next and submits; every call is timed from the moment the bot would call the
use case until it has the card's data (validation, the draft's read and etag-checked write, the address read-back
lookup and its audit record, the claim, the incident and its audit record on submit). HTTP and card building are
not included: the end-to-end part measures those for `check`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

REPORTERS = 200
CONCURRENCY = 8

WHERE = {"address": "7 Mill Lane, Chorley, PR7 3QQ", "service_area": "Housing", "contact_method": "property"}
WHAT = {"behaviours": "verbal_abuse", "description": "Swore at me on the doorstep and slammed the door.",
        "injured": "false", "police": "false"}
WHO = {"recommendation": "informal_warning", "approver": "aad-bench-manager"}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "max_ms": round(ordered[-1], 3)}


async def _run(store: Any, reporters: int) -> dict[str, Any]:
    from register.approvers import APPROVERS_SETTING, ApproverTable
    from register.flows import Move
    from register.model import Actor
    from register.permissions import ROLES_SETTING
    from register.reporting import Progress, Reporting, Submitted
    from register.service import Register

    await store.put_setting(ROLES_SETTING, {"users": {"aad-bench-manager": "approver"}}, None)
    await store.put_setting(APPROVERS_SETTING, ApproverTable().add("Housing", "aad-bench-manager", "M").to_dict(),
                            None)
    register = Register(store)
    await register.refresh()
    reporting = Reporting(register)
    timings: dict[str, list[float]] = {"start": [], "next": [], "submit": []}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def timed(kind: str, call: Any) -> Any:
        began = time.perf_counter()
        result = await call
        timings[kind].append((time.perf_counter() - began) * 1000)
        return result

    async def one(n: int) -> None:
        actor = Actor(f"29:bench-{n}", f"aad-bench-{n}", "Bench Reporter")
        async with gate:
            progress = await timed("start", reporting.begin(actor, fresh=True))
            for values in (WHERE, WHAT, WHO):
                progress = await timed("next", reporting.move(actor, progress.draft_id, progress.draft.version,
                                                              Move.NEXT, values))
                if not isinstance(progress, Progress) or progress.problems:
                    raise RuntimeError(f"the bench report did not validate: {progress}")
            done = await timed("submit", reporting.move(actor, progress.draft_id, progress.draft.version,
                                                        Move.SUBMIT, {}))
            if not isinstance(done, Submitted):
                raise RuntimeError(f"the bench report was not submitted: {done}")

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(reporters)))
    elapsed = time.perf_counter() - began
    return {"reporters": reporters, "concurrency": CONCURRENCY, "seconds": round(elapsed, 2),
            **{kind: _percentiles(samples) for kind, samples in timings.items()}}


async def _sqlite(workdir: Path, reporters: int) -> dict[str, Any]:
    from storage.sqlite import SQLiteStore

    store = await SQLiteStore.open(workdir / "report-bench.db")
    try:
        return await _run(store, reporters)
    finally:
        await store.close()


async def _cosmos(reporters: int) -> dict[str, Any]:
    from storage import cosmos_admin
    from storage.cosmos import CosmosStore
    from tests.cosmos_server import start_server, unique_database

    server = start_server()
    try:
        env = server.env(unique_database("bench-report"))
        await cosmos_admin.init(env)
        store = await CosmosStore.from_env(env)
        try:
            return await _run(store, reporters)
        finally:
            await store.close()
    finally:
        server.stop()


def run(workdir: Path, *, quick: bool = False) -> dict[str, Any]:
    reporters = 50 if quick else REPORTERS
    out: dict[str, Any] = {"note": __doc__.split("\n\n")[0] if __doc__ else ""}
    print(f"report: {reporters} reporters on SQLite ...", flush=True)
    out["sqlite"] = asyncio.run(_sqlite(workdir, reporters))
    print(f"report: {reporters} reporters on the Cosmos wire server ...", flush=True)
    try:
        out["cosmos"] = asyncio.run(_cosmos(reporters))
    except Exception as exc:  # noqa: BLE001 - node or the npm tools missing: the SQLite figures still stand
        out["cosmos"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return out
