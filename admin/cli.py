"""`register-admin`: the administrators' command line. It finds the store exactly as the bot does
(storage.open_store), and every action is audited as the person running it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from register.config import id_list
from register.csvio import read_csv, write_csv
from register.demo import load_demo
from register.governance import PolicyError, RetentionPolicy, run_retention, subject_access, subject_access_html
from register.matching import LookupResult
from register.model import Actor
from register.outbox import Outbox
from register.permissions import Role
from register.reporting import ApproverRoleMissing, Reporting, UnknownServiceArea
from register.reviews import Reviews
from register.sealing import Seal, seal_audit, verify_audit
from register.service import Register
from register.store import StoreUnavailable
from storage import describe, open_store


def _actor() -> Actor:
    user = getpass.getuser()
    return Actor(user_id=f"cli:{user}", name=user)


def _csv_env(name: str) -> list[str]:
    return sorted(id_list(os.environ.get(name)))


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
    aud = sub.add_parser("audit", help="export the audit trail (JSON lines), seal it, or verify its seals")
    aud.add_argument("action", nargs="?", choices=("export", "seal", "verify"), default="export",
                     help="export (default): JSON lines; seal: seal the records not sealed yet; verify: check "
                          "every seal and name the first record altered, removed or inserted out of order")
    aud.add_argument("--expect", metavar="DIGEST",
                     help="verify: a seal digest kept elsewhere earlier, which the chain must still contain")
    aud.add_argument("--from", dest="since", type=_day, help="first day, YYYY-MM-DD (inclusive)")
    aud.add_argument("--to", dest="until", type=_day, help="last day, YYYY-MM-DD (inclusive)")
    aud.add_argument("--ref", help="only records that name this reference")
    ret = sub.add_parser("retention", help="purge what the retention policy no longer allows us to keep")
    ret.add_argument("action", choices=("run",))
    ret.add_argument("--dry-run", action="store_true", help="list what would be purged; change nothing")
    sar = sub.add_parser("sar", help="subject access: everything held about a person or a property")
    who = sar.add_mutually_exclusive_group(required=True)
    who.add_argument("--name")
    who.add_argument("--address")
    sar.add_argument("--html", type=Path, help="also write a readable HTML report to this file")
    rol = sub.add_parser("roles", help="list, grant or revoke approver and administrator roles")
    rol.add_argument("action", choices=("list", "grant", "revoke"))
    rol.add_argument("user", nargs="?", help="the user's Entra object id")
    rol.add_argument("role", nargs="?", choices=("approver", "administrator"))
    rev = sub.add_parser("reviews", help="send due review reminders; expire entries whose review date has passed")
    rev.add_argument("action", choices=("run",))
    inc = sub.add_parser("incidents", help="list incident reports (no narrative unless --full)")
    inc.add_argument("--status", choices=("pending", "decided", "rejected"))
    inc.add_argument("--json", action="store_true", help="one JSON object per incident")
    inc.add_argument("--full", action="store_true", help="include what happened and the people involved")
    apv = sub.add_parser("approvers", help="who decides on incidents, per service area")
    apv.add_argument("action", choices=("list", "add", "remove"))
    apv.add_argument("user", nargs="?", help="the approver's Entra object id")
    apv.add_argument("--area", help="the service area (e.g. Housing)")
    apv.add_argument("--name", default="", help="the name reporters see in their list")
    return p


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in the form YYYY-MM-DD") from None


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
        register = Register(store, bootstrap_admins=_csv_env("REGISTER_ADMINS"))
        await register.refresh()
        return await COMMANDS[args.command](register, args)
    finally:
        await store.close()


async def _init() -> int:
    if os.environ.get("COSMOS_ENDPOINT"):
        from storage.cosmos_admin import InitError, init  # noqa: PLC0415

        try:
            for line in await init(os.environ):
                print(line)
        except InitError as exc:
            print(f"register-admin: {exc}", file=sys.stderr)
            return 2
        return 0
    store = await open_store()  # SQLite creates its schema on open
    await store.close()
    print(f"ready: {describe()}")
    return 0


async def _import(register: Register, args: argparse.Namespace) -> int:
    try:
        with args.file.open(encoding="utf-8-sig", newline="") as f:  # the csv module handles line ends itself
            text = f.read()
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
        result = await register.check(query.strip(), actor, "cli", ask_for_more=False)  # the CLI says `none`
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
        args.output.write_text(text, encoding="utf-8", newline="")
        print(f"exported {len(entries)} entries to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _demo(register: Register, args: argparse.Namespace) -> int:
    print(f"{await load_demo(register, _actor())} ({describe()})")
    return 0


async def _audit(register: Register, args: argparse.Namespace) -> int:
    if args.action != "export" and (args.since or args.until or args.ref):
        print("register-admin: --from, --to and --ref apply to the export only", file=sys.stderr)
        return 2
    if args.expect and args.action != "verify":
        print("register-admin: --expect applies to verify only", file=sys.stderr)
        return 2
    if args.action == "seal":
        return await _audit_seal(register)
    if args.action == "verify":
        return await _audit_verify(register, args.expect)
    since = datetime.combine(args.since, time.min, tzinfo=UTC) if args.since else None
    until = datetime.combine(args.until + timedelta(days=1), time.min, tzinfo=UTC) if args.until else None
    records = await register.store.list_audit(ref=args.ref, since=since, until=until)
    for record in records:
        print(json.dumps(record.to_dict()))
    await register.audit(_actor(), "audit_export", query=args.ref or "", conversation_type="cli",
                         outcome=f"records={len(records)}")
    print(f"exported {len(records)} audit record(s)", file=sys.stderr)
    return 0


def _seal_line(seal: Seal | None) -> str:
    if seal is None:
        return "no seals yet: run `register-admin audit seal`"
    return (f"latest seal: #{seal.n}, sealed {seal.sealed_at} by {seal.sealed_by}, digest sha256:{seal.digest}\n"
            "keep this digest somewhere the register's database administrators cannot change it; "
            "`register-admin audit verify --expect DIGEST` checks the chain still holds it")


async def _audit_seal(register: Register) -> int:
    actor = _actor()
    made = await seal_audit(register.store, register.clock(), actor.user_id)
    count = sum(len(s.records) for s in made)
    print(f"sealed {count} record(s) in {len(made)} seal(s)" if made else "nothing new to seal")
    print(_seal_line(await register.store.latest_seal()))
    await register.audit(actor, "audit_seal", conversation_type="cli",
                         outcome=f"seals={len(made)} records={count}")
    return 0


async def _audit_verify(register: Register, expect: str | None) -> int:
    result = await verify_audit(register.store, register.clock(), expect=expect)
    if result.intact:
        print(f"audit trail intact: {result.seals} seal(s), {result.records} record(s) verified, "
              f"{result.purged} purged by retention, {result.unsealed} not sealed yet")
    else:
        print(f"TAMPERED: {result.finding}")
    print(_seal_line(await register.store.latest_seal()))
    await register.audit(_actor(), "audit_verify", conversation_type="cli",
                         outcome="intact" if result.intact else f"tampered: {result.finding}")
    return 0 if result.intact else 1


async def _retention(register: Register, args: argparse.Namespace) -> int:
    try:
        policy = RetentionPolicy.from_settings(os.environ)
    except PolicyError as exc:
        await register.audit(_actor(), "retention_refused", conversation_type="cli", outcome=str(exc))
        print(f"register-admin: retention refused: {exc}", file=sys.stderr)
        return 2
    plan = await run_retention(register, policy, _actor(), dry_run=args.dry_run)
    verb = "would purge" if args.dry_run else "purged"
    for purge in plan.purges:
        print(f"{verb} {purge.kind} {purge.ref} ({purge.reason})")
    cutoff = plan.audit_before.date().isoformat() if plan.audit_before else "-"
    print(f"{verb} {len(plan.purges)} document(s) and {plan.audit_records} audit record(s) older than {cutoff}")
    return 0


async def _sar(register: Register, args: argparse.Namespace) -> int:
    found = await subject_access(register, _actor(), name=args.name or "", address=args.address or "")
    print(json.dumps(found.to_dict(), indent=2))
    if args.html:
        args.html.write_text(subject_access_html(found, register.clock()), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if found.outcome == "ambiguous":
        print("register-admin: several possible matches; search again with one of the candidates", file=sys.stderr)
        return 1
    return 0


async def _roles(register: Register, args: argparse.Namespace) -> int:
    if args.action == "list":
        for user, granted in sorted(register.roles.users.items()):
            print(f"{user}\t{granted.name.lower()}")
        for user in sorted(register.roles.bootstrap_admins):
            print(f"{user}\tadministrator (REGISTER_ADMINS)")
        return 0
    if not args.user or (args.action == "grant" and not args.role):
        print("register-admin: roles grant USER ROLE | roles revoke USER", file=sys.stderr)
        return 2
    role = Role.parse(args.role) if args.action == "grant" else None
    await register.set_role(args.user, role, _actor())
    print(f"{args.user}: {role.name.lower() if role else 'staff'}")
    return 0


#: what `incidents` shows without --full: never the narrative, the people, or the witnesses
INCIDENT_SUMMARY = ("ref", "status", "reported_at", "service_area", "contact_method", "approver_name")


async def _incidents(register: Register, args: argparse.Namespace) -> int:
    found = await Reporting(register).incidents(_actor(), status=args.status or "", full=args.full)
    for incident in found:
        doc = incident.to_dict()
        shown = doc if args.full else {k: doc[k] for k in INCIDENT_SUMMARY}
        if not args.full:
            shown["address"] = incident.address.display() if incident.address else ""
        if args.json:
            print(json.dumps(shown))
        else:
            print("\t".join(str(shown[k] or "") for k in (*INCIDENT_SUMMARY, "address") if k in shown))
    print(f"{len(found)} incident(s)", file=sys.stderr)
    return 0


async def _approvers(register: Register, args: argparse.Namespace) -> int:
    reporting = Reporting(register)
    if args.action == "list":
        table = await reporting.approvers()
        for area in await reporting.service_areas():
            for approver in table.for_area(area):
                print(f"{area}\t{approver.object_id}\t{approver.name}")
        return 0
    if not args.user or not args.area:
        print("register-admin: approvers add|remove USER --area AREA [--name NAME]", file=sys.stderr)
        return 2
    try:
        await reporting.set_approver(args.area, args.user, _actor(), name=args.name, remove=args.action == "remove")
    except UnknownServiceArea:
        areas = ", ".join(await reporting.service_areas())
        print(f"register-admin: '{args.area}' is not a service area ({areas})", file=sys.stderr)
        return 2
    except ApproverRoleMissing:
        print(f"register-admin: {args.user} does not hold the approver role: "
              f"register-admin roles grant {args.user} approver", file=sys.stderr)
        return 2
    print(f"{args.area}: {args.user} {'removed' if args.action == 'remove' else 'added'}")
    return 0


async def _reviews(register: Register, args: argparse.Namespace) -> int:
    """The same step the bot runs daily (safe to run beside it: every reminder and expiry is claimed once). The
    reminders and notices are queued in the store; a running bot delivers them."""
    done = await Reviews(register, Outbox(register.store, register.clock)).run(_actor())
    for ref in done.reminded:
        print(f"reminder queued: {ref}")
    for ref in done.expired:
        print(f"expired: {ref}")
    print(f"{len(done.reminded)} reminder(s), {len(done.expired)} expired, {len(done.overdue)} overdue notice(s)")
    return 0


COMMANDS = {"import": _import, "check": _check, "export": _export, "demo": _demo, "audit": _audit,
            "retention": _retention, "sar": _sar, "roles": _roles, "incidents": _incidents,
            "approvers": _approvers, "reviews": _reviews}


if __name__ == "__main__":
    raise SystemExit(main())
