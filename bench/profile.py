"""Summarise a py-spy profile (`py-spy record --format raw`, collapsed stacks): the functions with the most
samples on CPU, by self time and inclusive time, and a few named buckets of the check path.

    python -m bench.profile /tmp/check.raw [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

# Buckets of the check path, first match wins (matched against "function (file:line)" frames, innermost first).
BUCKETS: list[tuple[str, str]] = [
    ("msrest retry-policy / client construction", r"msrest/universal_http/requests\.py|msrest/configuration\.py"),
    ("outbound HTTP via requests (thread pool)", r"site-packages/(requests|urllib3)/|async_requests\.py"),
    ("register lookup (matching)", r"register/matching\.py|register/address\.py|rapidfuzz"),
    ("card building", r"/cards/"),
    ("store (sqlite audit, conversation refs)", r"storage/sqlite\.py|sqlite3"),
    ("JWT / auth", r"site-packages/jwt/|jwt_token_|connector/auth/"),
    ("msrest (de)serialisation", r"msrest/serialization\.py"),
    ("outbound HTTP via aiohttp (pooled)", r"bot/sdk/(connector|http)\.py|aiohttp/client|aiohttp/connector"),
    ("logging", r"/logging/"),
    ("aiohttp server", r"aiohttp/web_|aiohttp/http_|aiohttp/streams"),
    ("asyncio event loop", r"asyncio/"),
]


# Named steps of a check, inclusive (a sample counts for every step on its stack); matched against "function (file".
STEPS: list[tuple[str, str]] = [
    ("aiohttp request handling (whole request)", r"^RequestHandler\._handle_request \(aiohttp/"),
    ("  access log", r"^AccessLogger\.log \("),
    ("  validate the body (bot/app.py)", r"^validate_activity \(bot/app\.py"),
    ("  parse the activity (msrest or parse_activity)", r"^(Model\.deserialize|parse_activity) \("),
    ("  authenticate", r"^authenticate \(bot/auth\.py|^_BuiltinBotFrameworkAuthentication\.authenticate_request"),
    ("  connector/user-token client creation", r"^(_ConnectorFactoryImpl\.create|ReusingBotFrameworkAuthentication\."
     r"connector_client|_BuiltinBotFrameworkAuthentication\.create_user_token_client) \("),
    ("  the turn (bot.on_turn)", r"^RegisterBot\.on_turn \("),
    ("    command text (mentions)", r"^command_text \(bot/teams\.py"),
    ("    rate limit (store counter)", r"^Register\.rate_limit \("),
    ("    lookup (index)", r"^RegisterIndex\.lookup \("),
    ("    audit record (store)", r"^Register\.audit \("),
    ("    check result card", r"^check_result_card \("),
    ("    application log line", r"^Logger\.info \("),
    ("    send the reply (TurnContext.send_activity)", r"^TurnContext\.send_activity \("),
    ("      deepcopy of the reply (TurnContext)", r"^deepcopy \(copy\.py"),
    ("      serialise the reply (msrest Serializer.body)", r"^Serializer\.body \("),
    ("      outbound HTTP (aiohttp client)", r"^ClientSession\._request \("),
    ("      outbound HTTP (requests, thread pool)", r"^AsyncRequestsHTTPSender\.send \(|^Session\.request \(requests"),
    ("store calls handed to the SQLite thread", r"^BaseEventLoop\.run_in_executor \("),
]


def load(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        try:
            stacks[tuple(stack.split(";"))] += int(count)
        except ValueError:
            continue
    return stacks


def _short(frame: str) -> str:
    frame = re.sub(r"\(/[^)]*?site-packages/", "(", frame)
    frame = re.sub(r"\(/[^)]*?/lib/python3\.\d+/", "(", frame)
    return re.sub(r"\(/work/main/", "(", frame)


def summarise(stacks: Counter[tuple[str, ...]], top: int = 25) -> dict[str, Any]:
    total = sum(stacks.values())
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    for stack, n in stacks.items():
        if not stack:
            continue
        self_time[_short(stack[-1])] += n
        for frame in set(stack):
            inclusive[_short(frame)] += n
        for frame in reversed(stack):
            name = next((b for b, pattern in BUCKETS if re.search(pattern, frame)), None)
            if name:
                buckets[name] += n
                break
        else:
            buckets["other"] += n

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    steps: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = [_short(f) for f in stack]
        for label, pattern in STEPS:
            if any(re.search(pattern, f) for f in frames):
                steps[label] += n

    return {
        "samples": total,
        "steps": [(label, pct(steps[label])) for label, _ in STEPS if steps[label]],
        "buckets": [(b, pct(n)) for b, n in buckets.most_common()],
        "self": [(f, pct(n)) for f, n in self_time.most_common(top)],
        "inclusive": [(f, pct(n)) for f, n in inclusive.most_common(top) if pct(n) < 99.5],
    }


def render(summary: dict[str, Any]) -> str:
    lines = [f"{summary['samples']} samples"]
    lines.append("steps of a check (inclusive share of samples):")
    lines += [f"  {p:5.1f}%  {label}" for label, p in summary["steps"]]
    lines.append("by area (innermost frame that matches):")
    lines += [f"  {p:5.1f}%  {b}" for b, p in summary["buckets"]]
    lines.append("top functions, self:")
    lines += [f"  {p:5.1f}%  {f}" for f, p in summary["self"]]
    lines.append("top functions, inclusive:")
    lines += [f"  {p:5.1f}%  {f}" for f, p in summary["inclusive"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(render(summarise(load(args.raw), args.top)))


if __name__ == "__main__":
    main()
