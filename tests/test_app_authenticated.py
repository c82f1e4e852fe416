"""The whole app as production runs it: an app id, a tenant allow-list, signed requests (tokens from a local
OpenID/JWKS server), outbound replies carrying the bot's token (a fixed one: nothing contacts Microsoft)."""

from __future__ import annotations

import json

import pytest

from bot.auth import FixedTokenCredentialFactory
from bot.settings import Settings
from tests.jwt_issuer import JwtIssuer
from tests.teams import TENANT, start_bot

APP_ID = "6f1b7a52-0c1e-4b8e-a0f2-6c9d2e4b1a77"
OUTBOUND = "outbound-token-for-tests"


@pytest.fixture
async def secure_bot(tmp_path):
    from bot.app import create_app

    issuer = JwtIssuer().start()
    env = {"REGISTER_DB": str(tmp_path / "r.db"), "REGISTER_DEMO": "1", "REGISTER_TENANTS": TENANT,
           **issuer.bot_env(APP_ID)}
    app = create_app(Settings.from_env(env), credentials_factory=FixedTokenCredentialFactory(APP_ID, OUTBOUND))
    running = await start_bot(app)
    yield running, issuer
    await running.runner.cleanup()
    issuer.stop()


async def test_a_signed_check_is_answered_with_the_bots_token(secure_bot, connector, teams):
    running, issuer = secure_bot
    activity = teams.personal("check 12 High St")
    status, _ = await running.post(activity, headers={"Authorization": issuer.bearer(APP_ID, teams.service_url)})
    assert status in (200, 201)
    [reply] = connector.sent
    assert reply.authorization == f"Bearer {OUTBOUND}"
    assert "MCR-2026-0001" in json.dumps(reply.cards)


async def test_every_bad_token_is_a_401_with_nothing_done(secure_bot, connector, teams):
    running, issuer = secure_bot
    from bot.app import STORE

    activity = teams.personal("check 12 High St")
    for kind, header in issuer.bad_headers(APP_ID, teams.service_url).items():
        headers = {} if header is None else {"Authorization": header}
        status, body = await running.post(activity, headers=headers)
        assert status == 401, (kind, status, body)
        assert body in (None, ""), kind
    assert connector.sent == []
    assert [r for r in await running.app[STORE].list_audit() if r.action == "check"] == []


async def test_a_token_for_another_service_url_cannot_redirect_replies(secure_bot, connector, teams):
    running, issuer = secure_bot
    activity = teams.personal("check 12 High St")
    activity["serviceUrl"] = "http://127.0.0.1:9/elsewhere"
    status, _ = await running.post(activity, headers={"Authorization": issuer.bearer(APP_ID, teams.service_url)})
    assert status == 401
    assert connector.sent == []


async def test_a_signed_request_from_another_tenant_gets_no_data(secure_bot, connector, teams):
    running, issuer = secure_bot
    activity = teams.personal("check 12 High St")
    activity["conversation"]["tenantId"] = "99999999-9999-9999-9999-999999999999"
    activity["channelData"] = {"tenant": {"id": "99999999-9999-9999-9999-999999999999"}}
    status, _ = await running.post(activity, headers={"Authorization": issuer.bearer(APP_ID, teams.service_url)})
    assert status in (200, 201)
    assert "MCR-" not in json.dumps([s.body for s in connector.sent])


async def test_malformed_json_with_a_token_is_400_and_without_one_401(secure_bot, teams):
    running, issuer = secure_bot
    header = {"Authorization": issuer.bearer(APP_ID, teams.service_url)}
    assert (await running.post(None, raw=b"{oops", headers=header))[0] == 400
    assert (await running.post(None, raw=b"{oops"))[0] == 401
