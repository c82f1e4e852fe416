"""Several bot instances over one Cosmos DB (the local wire server), as a council scales out; and an outage.

Each bot is a real process (`python -m bot.app`) on its own loopback port. Replies go to a local connector."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

from cards import messages
from tests.cosmos_server import start_server, unique_database
from tests.teams import ActivityFactory, free_port

pytestmark = pytest.mark.cosmos
ROOT = Path(__file__).resolve().parents[1]
APPROVER_AAD = "aad-approver-7"


def admin_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "admin.cli", *args], input=stdin, capture_output=True, text=True,
                            env={**os.environ, **env}, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


class BotProcess:
    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {**os.environ, **env, "REGISTER_HOST": "127.0.0.1", "REGISTER_PORT": str(self.port),
                "REGISTER_REFRESH_SECONDS": "0.5", "REGISTER_ADMINS": APPROVER_AAD, "REGISTER_CHECKS_PER_HOUR": "0"}
        full.pop("MicrosoftAppId", None)
        # output to a file, not a pipe: an undrained pipe fills and blocks the bot's logging, and its event loop
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.app"], cwd=ROOT, env=full,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)

    async def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"bot exited: {self.output()}")
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"bot on {self.url} not ready in {timeout}s")

    async def post(self, activity: dict) -> tuple[int, float]:
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(f"{self.url}/api/messages", json=activity) as r:
            await r.read()
            return r.status, time.monotonic() - started

    async def readyz(self) -> int:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(f"{self.url}/readyz") as resp:
            return resp.status

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        out = self.output()
        self.log.close()
        return out


def cards_to(connector, activity) -> str:
    return json.dumps([s.body for s in connector.to(activity["conversation"]["id"])])


@pytest.fixture
def cosmos_register(cosmos_server):
    env = cosmos_server.env(unique_database("instances"))
    admin_cli(env, "init")
    admin_cli(env, "demo")
    return env


async def eventually(predicate, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s")


async def test_two_instances_share_one_register(cosmos_register, connector, tmp_path):
    one, two = BotProcess(cosmos_register), BotProcess(cosmos_register)
    try:
        await asyncio.gather(one.ready(), two.ready())
        teams = ActivityFactory(connector.url)

        async def alerts(bot: BotProcess, query: str, ref: str) -> bool:
            activity = teams.personal(f"check {query}")
            status, _ = await bot.post(activity)
            assert status in (200, 201)
            return ref in json.dumps(connector.to(activity["conversation"]["id"])[-1].cards)

        assert await alerts(one, "12 High St", "MCR-2026-0001") and await alerts(two, "12 High St", "MCR-2026-0001")

        # an entry written by another process (register-admin) alerts through both instances within seconds
        csv_file = tmp_path / "new.csv"
        csv_file.write_text(
            "ref,subject,person_name,address,postcode,restrictions,guidance,contact,status,decided_on,review_on,"
            "expires_on\nMCR-2026-0300,property,,\"8 Matfen Place, Newcastle upon Tyne\",NE4 9DN,no_lone_visits,"
            "Two officers.,Team leader,active,2026-11-01,2027-05-01,2027-11-01\n")
        admin_cli(cosmos_register, "import", str(csv_file))
        for bot in (one, two):
            await eventually(lambda bot=bot: alerts(bot, "8 matfen pl NE4 9DN", "MCR-2026-0300"))

        # two approvers lift the same entry at the same moment, one through each instance: exactly one decision
        approver = ActivityFactory(connector.url, user_id="user-approver", user_name="Ann Approver")
        lifts = []
        for _ in range(2):
            activity = approver.personal("lift MCR-2026-0003 the household moved away")
            activity["from"]["aadObjectId"] = APPROVER_AAD
            activity["conversation"]["id"] = f"personal-approver-{len(lifts)}"
            lifts.append(activity)
        statuses = await asyncio.gather(one.post(lifts[0]), two.post(lifts[1]))
        assert all(s in (200, 201) for s, _ in statuses)
        answers = [cards_to(connector, a) for a in lifts]
        assert sum(messages.lifted("MCR-2026-0003") in a for a in answers) == 1, answers
        loser = next(a for a in answers if messages.lifted("MCR-2026-0003") not in a)
        assert (messages.not_lifted("MCR-2026-0003", "changed") in loser
                or messages.not_lifted("MCR-2026-0003", "not_active", "lifted") in loser), loser
        exported = [json.loads(line) for line in admin_cli(cosmos_register, "audit", "--ref", "MCR-2026-0003")
                    .stdout.splitlines()]
        assert [a["action"] for a in exported if a["action"] == "lift"] == ["lift"]

        # the lift made through one instance stops the alert on the other within seconds
        async def cleared(bot: BotProcess) -> bool:
            return not await alerts(bot, "39A Bolton Road, Chorley", "MCR-2026-0003")

        for bot in (one, two):
            await eventually(lambda bot=bot: cleared(bot))
    finally:
        logs = one.stop() + two.stop()
    assert "Traceback" not in logs, logs[-3000:]


async def test_an_outage_gets_a_clear_answer_fast_and_the_bot_recovers(connector):
    server = start_server()
    env = server.env(unique_database("outage"))
    bot = None
    try:
        admin_cli(env, "init")
        admin_cli(env, "demo")
        bot = BotProcess(env)
        await bot.ready()
        teams = ActivityFactory(connector.url)
        first = teams.personal("check 12 High St")
        assert (await bot.post(first))[0] in (200, 201)
        assert "MCR-2026-0001" in cards_to(connector, first)

        server.stop()
        during = teams.personal("check 12 High St")
        during["conversation"]["id"] = "personal-during-outage"
        status, seconds = await bot.post(during)
        assert status in (200, 201), status  # never a 500
        assert seconds < 8, f"the unavailable answer took {seconds:.1f}s"
        answer = cards_to(connector, during)
        assert messages.REGISTER_UNAVAILABLE in answer and "MCR-2026-0001" not in answer
        await eventually(lambda: _is(bot.readyz(), 503), timeout=10)

        server.restart()
        admin_cli(env, "init")
        admin_cli(env, "demo")
        await eventually(lambda: _is(bot.readyz(), 200), timeout=20)
        after = teams.personal("check 12 High St")
        after["conversation"]["id"] = "personal-after-outage"
        assert (await bot.post(after))[0] in (200, 201)
        assert "MCR-2026-0001" in cards_to(connector, after)
    finally:
        logs = bot.stop() if bot else ""
        server.close()
    assert "Error handling request" not in logs, logs[-3000:]  # aiohttp's log line for a 500


async def _is(status_coro, expected: int) -> bool:
    try:
        return await status_coro == expected
    except aiohttp.ClientError:
        return False


async def test_a_bot_started_while_the_store_is_down_never_clears_anyone(connector, tmp_path):
    """Started with Cosmos unreachable, the bot's index is empty: it must say 'unavailable', not 'no alert'."""
    from bot.app import create_app
    from bot.settings import Settings
    from tests.cosmos_server import EMULATOR_KEY
    from tests.teams import start_bot

    env = {"COSMOS_ENDPOINT": f"https://127.0.0.1:{free_port()}", "COSMOS_KEY": EMULATOR_KEY,
           "COSMOS_INSECURE_LOCAL": "1", "COSMOS_DATABASE": unique_database("down"), "REGISTER_REFRESH_SECONDS": "60"}
    running = await start_bot(create_app(Settings.from_env(env)))
    try:
        status, body = await running.get("/readyz")
        assert status == 503 and body == {"ready": False}
        teams = ActivityFactory(connector.url)
        status, _ = await running.post(teams.personal("check 12 High St"))
        assert status in (200, 201)
        answer = json.dumps(connector.sent[0].cards)
        assert messages.REGISTER_UNAVAILABLE in answer and messages.NO_GUARANTEE not in answer
    finally:
        await running.runner.cleanup()
