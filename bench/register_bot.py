"""The real bot (bot.app.create_app) for the end-to-end benchmark, with a large register in a SQLite file.

    python -m bench.register_bot --port 3982 --db bench/.cache/run.db [--adapter app|stock]

The register is built from HM Land Registry Price Paid addresses (../shared/data/addresses/price-paid-1995-sample.csv,
10,298 rows), expanded synthetically to the size asked for: round k > 0 repeats each row with its house number moved
by 200 * k (a named building gets `FLAT k`). Most entries are active; some are pending or expired. The file is
written in one bulk transaction into SQLiteStore's own schema, then read back through SQLiteStore to check it.
It is cached (bench/.cache) and copied for each run, since a run appends audit records.

`--adapter`: `app` runs what bot.app.create_app builds (bot/sdk/connector.py's reusing adapter); `stock` swaps in the
stock `CloudAdapter(ConfigurationBotFrameworkAuthentication(...))`, the "before" of the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("REGISTER_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
ADDRESSES = SHARED / "data" / "addresses"
PRICE_PAID = ADDRESSES / "price-paid-1995-sample.csv"
OTHER_ADDRESSES = ADDRESSES / "price-paid-flattened-2000.tsv"
CACHE = Path(__file__).resolve().parent / ".cache"
FORMAT = 2  # bump when the generated register changes, to invalidate the cache
STEP = 200  # house-number shift per synthetic round


def _rows() -> list[dict[str, str]]:
    with PRICE_PAID.open(newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("street") and r.get("postcode")]


def _shifted(paon: str, saon: str, k: int) -> tuple[str, str]:
    if k == 0:
        return paon, saon
    digits = "".join(c for c in paon if c.isdigit())
    if paon.isdigit() or (digits and paon[: len(digits)] == digits and len(paon) - len(digits) <= 1):
        return str(int(digits) + STEP * k) + paon[len(digits):], saon
    return paon, (f"{saon} FLAT {k}".strip() if saon else f"FLAT {k}")


def generate_entries(n: int, today: date) -> list[Any]:
    """n entries (register.model.Entry) from the Price Paid rows, deterministic for a given n. Each row's address
    is normalised once (register.address); a synthetic copy shifts the normalised house number."""
    from dataclasses import replace

    from register.address import address_from_parts
    from register.model import Entry, Restriction, Status, Subject

    rows = _rows()
    base = [address_from_parts(paon=r["paon"], saon=r["saon"], street=r["street"], locality=r["locality"],
                               town=r["town_city"], postcode=r["postcode"]) for r in rows]
    rng = random.Random(20261128)
    out = []
    for i in range(n):
        k, j = divmod(i, len(rows))
        row, address = rows[j], base[j]
        if k:
            paon, saon = _shifted(address.paon, address.saon, k)
            if paon != address.paon:
                text = ", ".join(p for p in (address.saon, f"{paon} {address.street}", address.town,
                                             address.postcode) if p)
                address = replace(address, paon=paon, text=text)
            else:
                address = address_from_parts(paon=row["paon"], saon=saon, street=row["street"],
                                             locality=row["locality"], town=row["town_city"],
                                             postcode=row["postcode"])
        roll = rng.random()
        status = Status.ACTIVE if roll < 0.9 else (Status.PENDING if roll < 0.95 else Status.EXPIRED)
        decided = today - timedelta(days=rng.randint(5, 150)) if status is not Status.PENDING else None
        out.append(Entry(
            ref=f"MCR-B{i:06d}",
            subject=Subject.PROPERTY,
            status=status,
            address=address,
            restrictions=[Restriction.NO_LONE_VISITS] if status is not Status.PENDING else [],
            guidance="Do not visit alone. Phone the team leader before any visit.",
            contact="Housing Services team leader, 01257 515151",
            decided_on=decided,
            review_on=decided + timedelta(days=182) if decided else None,
            expires_on=(decided + timedelta(days=365 if status is Status.ACTIVE else 30)) if decided else None,
            incident_refs=[],
            updated_at=datetime.now(UTC),
        ))
    return out


def _title(part: str) -> str:
    return " ".join(w.capitalize() if w.isalpha() else w for w in part.split())


def check_texts(entries: list[Any], count: int, today: date, alert_share: float = 0.5) -> list[str]:
    """`check ...` messages typed the way staff type: half for live entries (alerts), half for addresses of another
    year's sales, which are almost all not in the register (clears)."""
    rng = random.Random(7)
    live = [e for e in entries if e.is_live(today) and e.address is not None and e.address.paon]
    others = []
    with OTHER_ADDRESSES.open() as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                others.append((parts[1], parts[2]))
    texts = []
    for i in range(count):
        if rng.random() < alert_share:
            a = rng.choice(live).address
            first = " ".join(p for p in (a.saon.lower(), a.paon, _title(a.street)) if p)
            texts.append(f"check {first}, {a.postcode}" if i % 2 else f"check {first} {_title(a.town)}")
        else:
            text, postcode = rng.choice(others)
            line = ", ".join(p.strip() for p in text.split(",")[:3])
            texts.append(f"check {_title(line)} {postcode}" if i % 2 else f"check {line.lower()}")
    return texts


def _write(path: Path, entries: list[Any]) -> None:
    from storage.sqlite import ENTRY, SQLiteStore

    async def schema() -> None:
        store = await SQLiteStore.open(path)
        await store.close()

    asyncio.run(schema())
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO docs (kind, id, body, etag, seq) VALUES (?, ?, ?, ?, ?)",
            ((ENTRY, e.ref, json.dumps(e.to_dict()), uuid.uuid4().hex, i + 1) for i, e in enumerate(entries)),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _check(path: Path, n: int) -> None:
    from storage.sqlite import SQLiteStore

    async def count() -> int:
        store = await SQLiteStore.open(path)
        try:
            return len((await store.changes_since(None)).entries)
        finally:
            await store.close()

    got = asyncio.run(count())
    if got != n:
        raise RuntimeError(f"the generated register has {got} entries, expected {n}")


def build_register(n: int, *, cache: Path = CACHE) -> tuple[Path, list[str], dict[str, Any]]:
    """A SQLite register of n entries (cached) and its check texts. Returns (db, texts, facts)."""
    cache.mkdir(parents=True, exist_ok=True)
    today = date.today()
    db = cache / f"register-{n}-v{FORMAT}-{today.isoformat()}.db"
    texts_file = db.with_suffix(".texts.json")
    facts: dict[str, Any] = {"entries": n}
    if db.exists() and texts_file.exists():
        facts["generated_seconds"] = 0.0
        facts["cached"] = True
        return db, json.loads(texts_file.read_text()), facts
    for old in cache.glob(f"register-{n}-*"):
        old.unlink()
    t0 = time.perf_counter()
    entries = generate_entries(n, today)
    tmp = db.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    _write(tmp, entries)
    _check(tmp, n)
    tmp.rename(db)
    texts = check_texts(entries, 2000, today)
    texts_file.write_text(json.dumps(texts))
    facts["generated_seconds"] = round(time.perf_counter() - t0, 1)
    facts["cached"] = False
    return db, texts, facts


def copy_register(db: Path, dest: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, dest)
    return dest


def audit_outcomes(db: Path) -> dict[str, int]:
    """How the checks of a run came out (from the audit trail the bot wrote)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts: dict[str, int] = {}
        for (body,) in conn.execute("SELECT body FROM audit"):
            record = json.loads(body)
            if record.get("action") == "check":
                counts[record.get("outcome", "")] = counts.get(record.get("outcome", ""), 0) + 1
        return counts
    finally:
        conn.close()


# --------------------------------------------------------------------------- the bot process

def _record_gc_pauses(app: Any) -> None:
    import gc

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    async def install(app: Any) -> None:  # after start-up: only the pauses under load count
        gc.callbacks.append(callback)

    async def report(app: Any) -> None:
        for gen, values in pauses.items():
            if values:
                logging.getLogger("bench").warning(
                    "BENCH gc gen%d: %d collections, max %.1f ms, total %.1f ms", gen, len(values),
                    max(values) * 1000, sum(values) * 1000)

    app.on_startup.append(install)
    app.on_shutdown.append(report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3982)
    parser.add_argument("--db", help="the register's SQLite file (default: a fresh copy of the cached one)")
    parser.add_argument("--entries", type=int, default=100_000, help="register size when --db is not given")
    parser.add_argument("--adapter", choices=("app", "stock"), default="app")
    parser.add_argument("--cosmos", action="store_true",
                        help="use the store named by COSMOS_* in the environment instead of --db")
    parser.add_argument("--log", default="", help="log file (default: stderr)")
    parser.add_argument("--gc-stats", action="store_true", help="log garbage-collection pauses at exit")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop (if installed)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        filename=args.log or None)
    from aiohttp import web

    from bot import app as bot_app
    from bot.settings import Settings

    env = dict(os.environ)
    if not args.cosmos:
        env.pop("COSMOS_ENDPOINT", None)
        db = Path(args.db) if args.db else copy_register(build_register(args.entries)[0], CACHE / "run.db")
        env["REGISTER_DB"] = str(db)
    env.pop("MicrosoftAppId", None)
    env["REGISTER_DEMO"] = ""
    env["REGISTER_HOST"] = "127.0.0.1"
    settings = Settings.from_env(env)
    app = bot_app.create_app(settings)

    async def swap_adapter(app: web.Application) -> None:
        if args.adapter == "app":
            return
        from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

        from bot.settings import BotConfig

        adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings)))
        adapter.on_turn_error = app[bot_app.ADAPTER].on_turn_error
        app[bot_app.ADAPTER] = adapter

    async def report_adapter(app: web.Application) -> None:
        auth = app[bot_app.ADAPTER].bot_framework_authentication
        logging.getLogger("bench").warning("BENCH adapter=%s auth=%s", type(app[bot_app.ADAPTER]).__name__,
                                           type(auth).__name__)

    app.on_startup.append(swap_adapter)  # runs after create_app's start-up (which builds its own adapter)
    app.on_startup.append(report_adapter)
    if args.gc_stats:
        _record_gc_pauses(app)
    print(f"register bot: adapter={args.adapter} port={args.port}", file=sys.stderr)
    loop = None
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
        logging.getLogger("bench").warning("BENCH loop=uvloop %s", uvloop.__version__)
    # as bot.app.main runs it: no access log (the platform in front logs requests)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, loop=loop, access_log=None)


if __name__ == "__main__":
    main()
