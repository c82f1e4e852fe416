from __future__ import annotations

import socket
from typing import Any

import pytest

from register.config import is_loopback
from tests.cosmos_server import cosmos_env, cosmos_server, fresh_cosmos_env  # noqa: F401 - shared fixtures
from tests.teams import ActivityFactory, LocalConnector, start_bot


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every test: refuse, and record, every attempt to reach anything but loopback (DNS included), and fail
    the test that made one. Subprocesses (node tools) carry their own guard: tools/playground-guard.cjs."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(host: Any) -> None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not is_loopback(name):
            attempts.append(name)
            raise OSError(f"tests may reach loopback only, not {name}")

    def getaddrinfo(host, *args, **kwargs):
        if host is not None:
            check(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if isinstance(address, tuple):
            check(address[0])
        return real_connect(self, address)

    def connect_ex(self, address):
        if isinstance(address, tuple):
            check(address[0])
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], f"non-loopback traffic was attempted: {attempts}"


@pytest.fixture
async def connector():
    c = await LocalConnector().start()
    yield c
    await c.stop()


@pytest.fixture
def bot_env(tmp_path):
    return {"REGISTER_DB": str(tmp_path / "register.db"), "REGISTER_DEMO": "1", "REGISTER_REFRESH_SECONDS": "0.2"}


@pytest.fixture
async def bot(bot_env):
    """The real aiohttp app on a loopback port, with the demo register in a fresh SQLite file."""
    from bot.app import create_app
    from bot.settings import Settings

    running = await start_bot(create_app(Settings.from_env(bot_env)))
    yield running
    await running.runner.cleanup()


@pytest.fixture
def register(bot):
    from bot.app import REGISTER

    return bot.app[REGISTER]


@pytest.fixture
def store(bot):
    from bot.app import STORE

    return bot.app[STORE]


@pytest.fixture
def teams(connector):
    return ActivityFactory(connector.url)


@pytest.fixture(scope="module", params=[360, 1000])
def card_browser(request):
    """The official Adaptive Cards renderer in headless Chromium, at a phone's width and a desktop's (a missing
    tool fails the test, saying how to install it)."""
    from tests.cardcheck import CardChecker, ToolsMissing

    try:
        checker = CardChecker(width=request.param)
    except ToolsMissing as exc:
        pytest.fail(str(exc))
    yield checker
    checker.close()


@pytest.fixture
async def in_process(tmp_path):
    """The router and its handlers over a real store (the demo register in a fresh SQLite file), without HTTP or
    botbuilder: `await in_process.ask("check 12 High St")` answers like the bot would, in personal chat."""
    from types import SimpleNamespace

    from bot.handlers import build_router
    from bot.router import Request, parse_command
    from register.demo import load_demo
    from register.model import Actor
    from register.outbox import Outbox
    from register.service import Register
    from storage.sqlite import SQLiteStore

    store = await SQLiteStore.open(tmp_path / "register.db")
    register = Register(store)
    await load_demo(register, Actor("cli:test"))
    await register.refresh()
    outbox = Outbox(store, register.clock)
    router = build_router(register, outbox)

    staff = Actor("29:staff", "aad-staff", "Sam Staff")

    async def ask(text: str, actor: Actor = staff, conversation_type: str = "personal"):
        command = parse_command(text)
        return await router.dispatch(Request(actor, conversation_type, "tenant", command.verb, command.args))

    async def click(verb: str, data: dict, actor: Actor = staff):
        return await router.dispatch(Request(actor, "personal", "tenant", verb, data=data, via="execute"),
                                     card=True)

    yield SimpleNamespace(router=router, register=register, store=store, outbox=outbox, ask=ask, click=click)
    await store.close()
