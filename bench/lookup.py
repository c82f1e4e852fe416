"""Lookup benchmark: `python -m bench.lookup [--sizes 1000,10000,100000] [--json bench/results.json]`.

Builds a RegisterIndex of N live entries from real addresses (shared/data/addresses/price-paid-1995-sample.csv),
expanded synthetically for size (other house numbers on the same street, flats in the same building), then times
lookups typed the way staff type them: hits with abbreviations, lower case, typos and missing town/postcode; misses
(real addresses not in the register, neighbouring numbers); postcode-only checks; and person names.

Reports, per size: lookups/s, p50/p99/max latency, index build time and the index's memory (tracemalloc, a second
build). Latency is measured twice per lookup: wall clock (what a user waits) and this process's CPU time (what the
lookup costs, unaffected by other processes on a shared machine); the load average is recorded with the results.
Bounded in time: at most `max_queries` lookups or `time_budget_s` seconds of lookups per size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import time
import tracemalloc
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from register.address import split_paon
from register.matching import RegisterIndex
from register.model import Address, Entry, Status, Subject
from tests.addresses import distinct_properties, pp_address, typed_variants

TODAY = date(2025, 6, 1)
FORENAMES = "JOHN JANE DAVID SARAH MICHAEL EMMA PAUL LISA MARK KAREN PETER JULIE ANDREW HELEN JAMES CLAIRE".split()
SURNAMES = (
    "SMITH JONES TAYLOR BROWN WILLIAMS WILSON JOHNSON DAVIES ROBINSON WRIGHT THOMPSON EVANS WALKER WHITE ROBERTS "
    "GREEN HALL WOOD JACKSON CLARKE PATEL KHAN LEWIS HARRIS MARTIN COOPER KING LEE"
).split()


def _expand(base: list[Address], n: int, rng: random.Random) -> list[Address]:
    """n distinct addresses: the real ones first, then other numbers on the same streets and flats in the buildings."""
    out: list[Address] = []
    seen: set[tuple[str, ...]] = set()

    def add(a: Address) -> None:
        k = (a.saon, a.paon, a.street, a.locality, a.town, a.postcode)
        if k not in seen:
            seen.add(k)
            out.append(a)

    for a in base:
        if len(out) >= n:
            return out
        add(a)
    k = 0
    while len(out) < n:
        a = base[k % len(base)]
        k += 1
        parts = split_paon(a.paon)
        if parts.number and parts.lo == parts.hi and rng.random() < 0.75:
            num = str(rng.randint(1, 400)) + (rng.choice("AB") if rng.random() < 0.05 else "")
            paon = f"{a.paon.rsplit(',', 1)[0]}, {num}" if parts.name else num
            add(replace(a, paon=paon, saon="", text=""))
        else:
            add(replace(a, saon=f"FLAT {rng.randint(1, 60)}", text=""))
    return out


def build_entries(n: int, seed: int = 1) -> list[Entry]:
    rng = random.Random(seed)
    props = distinct_properties()
    base = [pp_address(r) for r in props]
    rng.shuffle(base)
    addrs = _expand(base, n, rng)
    # surnames: a few very common ones, the rest as varied as real ones (borrowed from street names)
    rare = sorted({w for a in base for w in a.street.split() if len(w) >= 4 and w.isalpha()})
    entries = []
    for i, a in enumerate(addrs):
        surname = rng.choice(SURNAMES) if rng.random() < 0.3 else rng.choice(rare)
        entries.append(
            Entry(
                ref=f"MCR-{i:06d}",
                subject=Subject.PERSON_AND_PROPERTY,
                status=Status.ACTIVE,
                person_name=f"{rng.choice(FORENAMES)} {surname}",
                address=a,
                review_on=TODAY + timedelta(days=90),
                expires_on=TODAY + timedelta(days=180),
            )
        )
    return entries


def build_queries(entries: list[Entry], count: int, seed: int = 2) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    in_register = {(e.address.paon, e.address.street, e.address.town) for e in entries if e.address}
    outside = [pp_address(r) for r in distinct_properties()]
    outside = [a for a in outside if (a.paon, a.street, a.town) not in in_register]
    queries: list[tuple[str, str]] = []
    while len(queries) < count:
        r = rng.random()
        if r < 0.5:
            e = rng.choice(entries)
            assert e.address is not None
            label, q = rng.choice(typed_variants(e.address, rng))
            queries.append(("hit:" + label, q))
        elif r < 0.8:
            if outside:
                a = rng.choice(outside)
            else:
                # every real address is on a register this big: a miss is a house number nobody is registered at
                e = rng.choice(entries)
                assert e.address is not None
                parts = split_paon(e.address.paon)
                if not parts.number:
                    continue
                num = str(rng.randint(401, 999))
                paon = f"{e.address.paon.rsplit(',', 1)[0]}, {num}" if parts.name else num
                a = replace(e.address, saon="", paon=paon)
            label, q = rng.choice(typed_variants(a, rng))
            queries.append(("miss:" + label, q))
        elif r < 0.88:
            e = rng.choice(entries)
            assert e.address is not None
            parts = split_paon(e.address.paon)
            if parts.number and parts.lo == parts.hi:
                queries.append(("near miss", f"{parts.lo + 100} {e.address.street} {e.address.town}".lower()))
        elif r < 0.95:
            e = rng.choice(entries)
            if e.address is not None and e.address.postcode:
                queries.append(("postcode", e.address.postcode.replace(" ", "").lower()))
        else:
            e = rng.choice(entries)
            queries.append(("person", e.person_name.title()))
    return queries


def _percentile(sorted_ns: list[int], p: float) -> float:
    if not sorted_ns:
        return 0.0
    i = min(len(sorted_ns) - 1, max(0, round(p / 100.0 * (len(sorted_ns) - 1))))
    return sorted_ns[i] / 1e6


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def bench_size(
    n: int,
    *,
    max_queries: int = 5000,
    time_budget_s: float = 10.0,
    measure_memory: bool = True,
    gc_freeze: bool = False,
) -> dict:
    entries = build_entries(n)
    gc.collect()
    t0 = time.perf_counter()
    index = RegisterIndex(today=lambda: TODAY)
    for e in entries:
        index.put_entry(e)
    build_s = time.perf_counter() - t0
    queries = build_queries(entries, max_queries)
    # warm the vocabulary caches the way a running bot would be warm after a few checks
    for _, q in queries[:200]:
        index.lookup(q)
    if gc_freeze:
        # what a service can do after loading its index: move the long-lived objects out of the collector's sight
        gc.collect()
        gc.freeze()
    times: list[int] = []
    cpu: list[int] = []
    outcomes: dict[str, int] = {}
    by_kind: dict[str, list[int]] = {}
    load_before = _load()
    started = time.perf_counter()
    for label, q in queries:
        c = time.process_time_ns()
        t = time.perf_counter_ns()
        res = index.lookup(q)
        dt = time.perf_counter_ns() - t
        cpu.append(time.process_time_ns() - c)
        times.append(dt)
        by_kind.setdefault(label.split(":")[0], []).append(dt)
        outcomes[res.outcome.value] = outcomes.get(res.outcome.value, 0) + 1
        if time.perf_counter() - started > time_budget_s:
            break
    total_s = sum(times) / 1e9
    times.sort()
    cpu.sort()
    result = {
        "entries": len(index),
        "lookups": len(times),
        "lookups_per_s": round(len(times) / total_s, 1) if total_s else 0.0,
        "p50_ms": round(_percentile(times, 50), 4),
        "p99_ms": round(_percentile(times, 99), 4),
        "max_ms": round(times[-1] / 1e6, 4) if times else 0.0,
        "cpu_p50_ms": round(_percentile(cpu, 50), 4),
        "cpu_p99_ms": round(_percentile(cpu, 99), 4),
        "build_s": round(build_s, 3),
        "load_average": [load_before, _load()],
        "outcomes": outcomes,
        "p99_ms_by_kind": {k: round(_percentile(sorted(v), 99), 4) for k, v in sorted(by_kind.items())},
        "gc_frozen": gc_freeze,
    }
    if gc_freeze:
        gc.unfreeze()
    del index
    gc.collect()
    if measure_memory:
        tracemalloc.start()
        index = RegisterIndex(today=lambda: TODAY)
        for e in entries:
            index.put_entry(e)
        current, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["index_memory_mb"] = round(current / 2**20, 1)
        del index
        gc.collect()
    return result


def run(
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000),
    *,
    max_queries: int = 5000,
    time_budget_s: float = 10.0,
    measure_memory: bool = True,
    gc_freeze: bool = False,
) -> dict:
    """Benchmark each size; the results as a dict (what `make bench` writes to bench/results.json)."""
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "sizes": {},
    }
    for n in sizes:
        results["sizes"][str(n)] = bench_size(
            n,
            max_queries=max_queries,
            time_budget_s=time_budget_s,
            measure_memory=measure_memory,
            gc_freeze=gc_freeze,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds of lookups per size")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after building, as a service could")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    res = run(
        sizes,
        max_queries=args.queries,
        time_budget_s=args.budget,
        measure_memory=not args.no_memory,
        gc_freeze=args.gc_freeze,
    )
    print(
        f"{'entries':>8} {'lookups/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p99':>8} "
        f"{'build s':>8} {'mem MB':>7} {'load':>11}"
    )
    for _n, r in res["sizes"].items():
        load = "/".join(str(x) for x in r["load_average"])
        print(
            f"{r['entries']:>8} {r['lookups_per_s']:>10} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8} "
            f"{r['cpu_p50_ms']:>8} {r['cpu_p99_ms']:>8} {r['build_s']:>8} {r.get('index_memory_mb', '-'):>7} {load:>11}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    else:
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
