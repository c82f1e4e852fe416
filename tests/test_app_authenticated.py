"""The whole app as production runs it: an app id, a tenant allow-list, signed requests (tokens from a local
OpenID/JWKS server), outbound replies carrying the bot's token (a fixed one: nothing contacts Microsoft)."""

from __future__ import annotations

import json

import pytest

from bot.sdk.auth import FixedTokenCredentialFactory
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


def _bad_bodies(good: dict) -> dict[str, bytes]:
    """Bodies the bot refuses with 400 (or 413) once the caller is authenticated."""
    return {
        "not json": b"{oops",
        "empty": b"",
        "a list": b"[]",
        "null": b"null",
        "not utf-8": b"\xff\xfe\x00",
        "no type": json.dumps({k: v for k, v in good.items() if k != "type"}).encode(),
        "type not a string": json.dumps({**good, "type": 7}).encode(),
        "from not an object": json.dumps({**good, "from": "user-id-0"}).encode(),
        "no serviceUrl": json.dumps({**good, "serviceUrl": None}).encode(),
        "too large": json.dumps({**good, "text": "x" * 300_000}).encode(),
    }


CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream")


async def test_a_bad_token_is_a_bare_401_whatever_the_body_and_a_valid_one_gets_400_or_415_as_before(
        secure_bot, connector, teams):
    """Authentication comes first: a caller without a valid token learns nothing from the body's fate (no 400 with
    a reason, no 415, no 413); only then is the body judged. "wrong serviceurl" is a genuine token for another
    conversation: it is refused when it meets an activity (below, and
    test_a_token_for_another_service_url_cannot_redirect_replies), so it is not in the product."""
    running, issuer = secure_bot
    from bot.app import STORE

    good = teams.personal("check 12 High St")
    bodies = {"a good activity": json.dumps(good).encode(), **_bad_bodies(good)}
    bad = {kind: header for kind, header in issuer.bad_headers(APP_ID, teams.service_url).items()
           if kind != "wrong serviceurl"}
    assert len(bad) >= 27
    for kind, header in bad.items():
        for name, raw in bodies.items():
            for content_type in CONTENT_TYPES:
                headers = {"Content-Type": content_type}
                if header is not None:
                    headers["Authorization"] = header
                status, body = await running.post(None, raw=raw, headers=headers)
                assert (status, body) == (401, None), (kind, name, content_type, status, body)
    assert connector.sent == []
    assert [r for r in await running.app[STORE].list_audit() if r.action == "check"] == []

    # Once the caller is authenticated, the body is judged as before: 400 (413 when too large), 415.
    token = {"Authorization": issuer.bearer(APP_ID, teams.service_url)}
    for name, raw in _bad_bodies(good).items():
        status, _ = await running.post(None, raw=raw, headers=token)
        assert status == (413 if name == "too large" else 400), (name, status)
    for content_type in CONTENT_TYPES[1:]:
        status, _ = await running.post(good, headers={**token, "Content-Type": content_type})
        assert status == 415, (content_type, status)
    # ... and the activity must be the one the token speaks for: its channel and its serviceUrl.
    assert (await running.post({**good, "channelId": "webchat"}, headers=token)) == (401, None)
    other = {"Authorization": issuer.bearer(APP_ID, "http://127.0.0.1:9/elsewhere")}
    assert (await running.post(good, headers=other)) == (401, None)
    assert connector.sent == []
    status, _ = await running.post(good, headers=token)
    assert status in (200, 201) and len(connector.sent) == 1
