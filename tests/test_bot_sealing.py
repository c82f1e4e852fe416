"""The running bot seals the audit trail by itself, in a background task beside the turns."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.settings import Settings
from register.sealing import verify_audit
from storage.sqlite import SQLiteStore
from tests.storage_contract import make_audit
from tests.teams import ActivityFactory, start_bot


async def test_the_bot_seals_the_trail_periodically_while_it_answers_checks(tmp_path, connector):
    from bot.app import STORE, create_app

    db = tmp_path / "r.db"
    seeded = await SQLiteStore.open(db)
    earlier = [make_audit(at=datetime.now(UTC) - timedelta(hours=2 - n)) for n in range(2)]
    for record in earlier:
        await seeded.append_audit(record)
    await seeded.close()
    env = {"REGISTER_DB": str(db), "REGISTER_DEMO": "1", "REGISTER_SEAL_MINUTES": "0.005"}
    running = await start_bot(create_app(Settings.from_env(env)))
    try:
        store = running.app[STORE]
        teams = ActivityFactory(connector.url)
        for _ in range(3):
            status, _ = await running.post(teams.personal("check 12 High St"))
            assert status in (200, 201)
        assert all("MCR-2026-0001" in json.dumps(s.cards) for s in connector.sent)
        async with asyncio.timeout(60):
            while (seal := await store.latest_seal()) is None or seal.n < 2:
                await asyncio.sleep(0.05)
        sealed = [r[1] for s in await store.list_seals() for r in s.records]
        assert sealed[:2] == [r.id for r in earlier]  # the seeded records, each once; fresh checks wait to settle
        assert len(sealed) == len(set(sealed))
        result = await verify_audit(store, datetime.now(UTC))
        assert result.intact and result.records >= 2 and result.unsealed >= 3
    finally:
        await running.runner.cleanup()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "ten", "1441", "0.0001"])
def test_a_bad_sealing_interval_is_refused_by_name(value):
    with pytest.raises(ValueError, match="REGISTER_SEAL_MINUTES"):
        Settings.from_env({"REGISTER_SEAL_MINUTES": value})


def test_the_sealing_interval_defaults_to_ten_minutes_and_0_turns_it_off():
    assert Settings.from_env({}).seal_minutes == 10
    assert Settings.from_env({"REGISTER_SEAL_MINUTES": "0"}).seal_minutes == 0
    assert Settings.from_env({"REGISTER_SEAL_MINUTES": " 2.5 "}).seal_minutes == 2.5
