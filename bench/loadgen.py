"""Load generator for the end-to-end benchmark, run as its own process.

It serves a local Bot Framework connector (replies, new activities, updates, 1:1 creation) on loopback, POSTs
Teams-shaped personal `message` activities to the bot's /api/messages with a fixed number in flight, and times each
activity from the start of its POST until the connector has received the bot's reply to it (the reply's replyToId,
taken from the URL `.../activities/{replyToId}`, is the activity's id). A warm-up runs first and is not counted.
Everything is bounded: a fixed count, a per-request timeout and an overall deadline.

    python -m bench.loadgen --target http://127.0.0.1:3980/api/messages --count 3000 --texts texts.json

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import os
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

SHARED = Path(os.environ.get("REGISTER_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
TEMPLATE = SHARED / "data" / "activities" / "message-personal.json"

# The captured Teams personal message (data/activities/message-personal.json), in case that file is absent.
FALLBACK_TEMPLATE: dict[str, Any] = {
    "type": "message",
    "text": "hello bot",
    "id": "",
    "from": {"id": "user-id-0", "name": "Alex Wilber", "aadObjectId": "00000000-0000-0000-0000-0000000000020"},
    "timestamp": "2026-11-28T17:42:13.978Z",
    "localTimestamp": "2026-11-28T17:42:13.978+00:00",
    "localTimezone": "UTC",
    "serviceUrl": "",
    "conversation": {"conversationType": "personal", "tenantId": "00000000-0000-0000-0000-0000000000001",
                     "id": ""},
    "recipient": {"id": "00000000-0000-0000-0000-00000000000011", "name": "Test Bot"},
    "textFormat": "plain",
    "locale": "en-US",
    "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "UTC"}],
    "channelData": {"tenant": {"id": "00000000-0000-0000-0000-0000000000001"}},
    "channelId": "msteams",
}

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int, stat: str = "") -> float | None:
    """User + system CPU time of another process (Linux /proc), or None."""
    try:
        fields = Path(stat or f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def thread_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process's main thread (its event loop), without its worker threads."""
    return process_cpu_seconds(pid, f"/proc/{pid}/task/{pid}/stat")


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[k]


class Connector:
    """The connector side: records when the reply to each activity id arrives."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.replies = 0
        self.unmatched = 0
        self.created = 0
        self.authorization: set[str] = set()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._activity)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{bound}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created += 1
        member = (body.get("members") or [{}])[0].get("id", "unknown")
        return web.json_response({"id": f"personal:{member}"}, status=201)

    async def _activity(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        await request.read()
        self.replies += 1
        auth = request.headers.get("Authorization")
        if auth and len(self.authorization) < 4:
            self.authorization.add(auth.split(" ", 1)[0])
        reply_to = request.match_info.get("aid")
        future = self.waiting.pop(unquote(reply_to), None) if reply_to else None
        if future is not None and not future.done():
            future.set_result(now)
        else:
            self.unmatched += 1
        return web.json_response({"id": uuid.uuid4().hex})


def build_activities(n: int, texts: list[str], service_url: str, users: int, template: dict[str, Any]
                     ) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        activity = copy.deepcopy(template)
        user = i % users
        activity["id"] = uuid.uuid4().hex
        activity["text"] = texts[i % len(texts)]
        activity["serviceUrl"] = service_url
        activity["from"] = {"id": f"user-{user}", "name": f"Bench User {user}",
                            "aadObjectId": f"00000000-0000-0000-0000-{user:013d}"}
        activity["conversation"]["id"] = f"personal-user-{user}"
        out.append((activity["id"], json.dumps(activity).encode()))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    texts = json.loads(Path(args.texts).read_text()) if args.texts else ["hello bot"]
    template = json.loads(TEMPLATE.read_text()) if TEMPLATE.exists() else FALLBACK_TEMPLATE
    connector = Connector()
    await connector.start()
    total = args.warmup + args.count
    activities = build_activities(total, texts, connector.url, args.users, template)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.max_seconds
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    latencies: list[float] = []
    post_latencies: list[float] = []
    errors: dict[str, int] = {}
    next_index = 0
    phase: dict[str, Any] = {"timed_start": None, "cpu_start": None}

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        activity_id, body = activities[index]
        future: asyncio.Future[float] = loop.create_future()
        connector.waiting[activity_id] = future
        t0 = time.perf_counter()
        try:
            async with session.post(args.target, data=body, headers=headers, timeout=timeout) as resp:
                await resp.read()
                status = resp.status
            t_post = time.perf_counter()
            if status not in (200, 201, 202):
                error(f"http_{status}")
                return
            t_reply = await asyncio.wait_for(future, timeout=args.request_timeout)
        except TimeoutError:
            error("timeout")
            return
        except aiohttp.ClientError as exc:
            error(exc.__class__.__name__)
            return
        finally:
            connector.waiting.pop(activity_id, None)
        if index >= args.warmup:
            latencies.append(t_reply - t0)
            post_latencies.append(t_post - t0)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < total and loop.time() < deadline:
            index = next_index
            next_index += 1
            if index == args.warmup and phase["timed_start"] is None:
                phase["timed_start"] = time.perf_counter()
                phase["cpu_start"] = process_cpu_seconds(args.bot_pid) if args.bot_pid else None
                phase["main_start"] = thread_cpu_seconds(args.bot_pid) if args.bot_pid else None
                phase["self_start"] = resource.getrusage(resource.RUSAGE_SELF)
            await one(session, index)

    conn = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as session:
        if args.warmup == 0:
            phase["timed_start"] = time.perf_counter()
            phase["cpu_start"] = process_cpu_seconds(args.bot_pid) if args.bot_pid else None
            phase["main_start"] = thread_cpu_seconds(args.bot_pid) if args.bot_pid else None
            phase["self_start"] = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
    t_end = time.perf_counter()
    cpu_end = process_cpu_seconds(args.bot_pid) if args.bot_pid else None
    main_end = thread_cpu_seconds(args.bot_pid) if args.bot_pid else None
    self_end = resource.getrusage(resource.RUSAGE_SELF)
    await connector.stop()

    started = phase["timed_start"] or t_end
    seconds = t_end - started
    done = len(latencies)
    lat = sorted(latencies)
    post = sorted(post_latencies)
    result: dict[str, Any] = {
        "target": args.target,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "count": args.count,
        "completed": done,
        "errors": errors,
        "truncated": done + sum(errors.values()) < args.count and loop.time() >= deadline,
        "seconds": round(seconds, 3),
        "activities_per_s": round(done / seconds, 1) if seconds > 0 else None,
        "latency_ms": {
            "p50": round(percentile(lat, 50) * 1000, 2),
            "p90": round(percentile(lat, 90) * 1000, 2),
            "p99": round(percentile(lat, 99) * 1000, 2),
            "max": round(lat[-1] * 1000, 2) if lat else None,
            "mean": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        },
        "post_latency_ms": {"p50": round(percentile(post, 50) * 1000, 2),
                            "p99": round(percentile(post, 99) * 1000, 2)},
        "replies_received": connector.replies,
        "replies_unmatched": connector.unmatched,
        "conversations_created": connector.created,
        "authorization_schemes": sorted(connector.authorization),
    }
    if phase.get("cpu_start") is not None and cpu_end is not None and done:
        bot_cpu = cpu_end - phase["cpu_start"]
        result["bot_cpu_seconds"] = round(bot_cpu, 2)
        result["bot_cpu_ms_per_activity"] = round(bot_cpu / done * 1000, 3)
    if phase.get("main_start") is not None and main_end is not None and done:
        result["bot_main_thread_cpu_ms_per_activity"] = round((main_end - phase["main_start"]) / done * 1000, 3)
    if "self_start" in phase and done:
        s0 = phase["self_start"]
        own = (self_end.ru_utime - s0.ru_utime) + (self_end.ru_stime - s0.ru_stime)
        result["loadgen_cpu_ms_per_activity"] = round(own / done * 1000, 3)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the bot's /api/messages URL (loopback)")
    parser.add_argument("--count", type=int, default=3000, help="timed activities")
    parser.add_argument("--warmup", type=int, default=300, help="activities sent first and not timed")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--texts", help="JSON file: a list of message texts, used in turn")
    parser.add_argument("--users", type=int, default=64, help="distinct users (one personal chat each)")
    parser.add_argument("--request-timeout", type=float, default=15.0)
    parser.add_argument("--max-seconds", type=float, default=180.0, help="overall deadline")
    parser.add_argument("--bot-pid", type=int, help="measure this process's CPU time during the timed phase")
    args = parser.parse_args(argv)
    from urllib.parse import urlsplit

    host = urlsplit(args.target).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the load generator only targets loopback")
    if args.count < 1 or args.concurrency < 1:
        parser.error("count and concurrency must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    result = asyncio.run(run(parse_args(argv)))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
