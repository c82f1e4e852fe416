"""`register-admin`: the administrators' command line. It finds the store exactly as the bot does
(storage.open_store), and every action is audited as the person running it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from register.csvio import read_csv, write_csv
from register.demo import demo_entries, demo_incidents
from register.matching import LookupResult
from register.model import Actor
from register.service import Register
from register.store import StoreUnavailable
from storage import describe, open_store


def _actor() -> Actor:
    user = getpass.getuser()
    return Actor(user_id=f"cli:{user}", name=user)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="register-admin", description="Administer the Managed Contact Register.")
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import register entries from a CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if some rows are bad")
    chk = sub.add_parser("check", help="check a query, or one query per line from standard input")
    chk.add_argument("--json", action="store_true", help="one JSON object per query")
    chk.add_argument("query", nargs="*", help="an address, postcode or name (reads stdin when omitted)")
    exp = sub.add_parser("export", help="export every entry (the import format)")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")
    sub.add_parser("demo", help="load the demo register (fictional people)")
    sub.add_parser("init", help="create the store's database and containers (idempotent)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except StoreUnavailable as exc:
        print(f"register-admin: the register is unavailable ({describe()}): {exc}", file=sys.stderr)
        return 3


async def _run(args: argparse.Namespace) -> int:
    if args.command == "init":
        return await _init()
    store = await open_store()
    try:
        register = Register(store)
        await register.refresh()
        return await COMMANDS[args.command](register, args)
    finally:
        await store.close()


async def _init() -> int:
    import os

    if os.environ.get("COSMOS_ENDPOINT"):
        from storage.cosmos_admin import init  # noqa: PLC0415

        for line in await init(os.environ):
            print(line)
        return 0
    store = await open_store()  # SQLite creates its schema on open
    await store.close()
    print(f"ready: {describe()}")
    return 0


async def _import(register: Register, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"register-admin: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    parsed = read_csv(text)
    for error in parsed.errors:
        print(f"{args.file}: {error}", file=sys.stderr)
    if parsed.errors and not args.skip_invalid:
        print(f"register-admin: {len(parsed.errors)} bad row(s); nothing imported "
              "(fix them, or use --skip-invalid to import the valid rows)", file=sys.stderr)
        return 1
    report = await register.import_entries(parsed.entries, _actor(), source=str(args.file))
    print(f"imported {args.file}: {len(report.created)} created, {len(report.updated)} updated, "
          f"{len(report.unchanged)} unchanged, {len(parsed.errors)} skipped")
    for ref in report.conflicts:
        print(f"register-admin: {ref} was changed by someone else during the import; not overwritten",
              file=sys.stderr)
    return 1 if report.conflicts else 0


def _result_json(query: str, result: LookupResult) -> dict:
    return {
        "query": query,
        "outcome": result.outcome.value,
        "matches": [
            {
                "ref": m.ref,
                "address": m.address.display() if m.address else "",
                "postcode": m.address.postcode if m.address else "",
            }
            for m in result.matches
        ],
    }


async def _check(register: Register, args: argparse.Namespace) -> int:
    queries = [" ".join(args.query)] if args.query else (line.rstrip("\n") for line in sys.stdin)
    actor = _actor()
    for query in queries:
        if not query.strip():
            if args.json:
                print(json.dumps({"query": query, "outcome": "none", "matches": [],
                                  "error": "empty query"}), flush=True)
            continue
        result = await register.check(query.strip(), actor, "cli")
        if args.json:
            print(json.dumps(_result_json(query, result)), flush=True)
        else:
            shown = "; ".join(f"{m.ref} {m.address.display() if m.address else ''}".strip()
                              for m in result.matches)
            print(f"{query}\t{result.outcome.value}\t{shown}", flush=True)
    return 0


async def _export(register: Register, args: argparse.Namespace) -> int:
    entries = await register.export_entries(_actor())
    if args.format == "csv":
        text = write_csv(entries)
    else:
        text = json.dumps([e.to_dict() for e in entries], indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"exported {len(entries)} entries to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _demo(register: Register, args: argparse.Namespace) -> int:
    today = register.today()
    report = await register.import_entries(demo_entries(today), _actor(), source="demo")
    added = 0
    for incident in demo_incidents(today):
        if await register.store.get_incident(incident.ref) is None:
            await register.add_incident(incident)
            added += 1
    print(f"demo register: {len(report.created)} entries created, {len(report.unchanged)} unchanged, "
          f"{len(report.updated)} updated, {added} incident(s) added ({describe()})")
    return 0


COMMANDS = {"import": _import, "check": _check, "export": _export, "demo": _demo}


if __name__ == "__main__":
    raise SystemExit(main())
