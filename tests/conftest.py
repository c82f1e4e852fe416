from __future__ import annotations

import pytest

from tests.cosmos_server import cosmos_env, cosmos_server, fresh_cosmos_env  # noqa: F401 - shared fixtures
from tests.teams import ActivityFactory, LocalConnector, start_bot


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
