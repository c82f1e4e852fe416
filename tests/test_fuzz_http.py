"""Hostile input, property-based: over 10,000 malformed and hostile activities and card submissions go to the running
bot over HTTP. None may get a 500 or crash it, and a request that is refused stores nothing.

The activities are driven by the Bot Framework schema itself (tests/activity_schema.py, from botbuilder.schema's
`_attribute_map`s and enums): every top-level field, with the values the schema allows (every activity type,
delivery mode, role, ...) as well as wrong types and hostile text. Schema-valid activities must also get a sensible
answer (a reply, an invoke response, or ExpectedReplies), so the next field like `deliveryMode: expectReplies`
(which answered 500) is found by these tests rather than by a probe.

The bot and its local connector run on their own event loop in a background thread; hypothesis drives plain HTTP
over one keep-alive connection from the test thread, so each example costs a round trip, not a new client.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sqlite3
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import messages
from tests.activity_schema import (
    ENUM_FIELDS,
    ENUMS_USED,
    MODELS,
    activity_fields,
    reachable_models,
    schema_enums,
    type_value,
)
from tests.teams import TENANT, ActivityFactory, LocalConnector, load_activity, start_bot

EXAMPLES = 2600  # per test; four tests: > 10,000 requests in all
ACCEPTED = {200, 201, 202, 204}
REFUSED = {400, 401, 403, 413, 415}

HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)),
            max_size=200),
    st.sampled_from([
        "check ' OR 1=1 --", "check \"; DROP TABLE docs; --", "check SELECT * FROM c WHERE 1=1",
        "check ${jndi:ldap://x}", "check {{7*7}}", "check <script>alert(1)</script>", "check [x](https://evil)",
        "check \u202e12 High St", "check 12\u0000High St", "check " + "A" * 100_000, "<at>Register</at>",
        "<at>Register</at> <at>Register</at> check", "check\t\n\r12 High St", "CHECK 12 HIGH ST", "audit MCR-2026-0001",
        "check 12 High St" + "\u0301" * 500, "check 💣💣💣", "check %00%0d%0a", "help " * 1000,
    ]),
).map(lambda s: s if len(s) < 200_000 else s[:200_000])

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=50))
JSON = st.recursive(JSON_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                      st.dictionaries(st.text(max_size=10), kids, max_size=4)),
                    max_leaves=20)


class Harness:
    """The bot (fresh SQLite, demo register) and a recording connector, on a private loop in a thread."""

    def __init__(self, tmp_path):
        self.db = tmp_path / "fuzz.db"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.connector, self.bot = self._call(self._start())
        self.port = int(self.bot.url.rsplit(":", 1)[1])
        self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.teams = ActivityFactory(self.connector.url)

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    async def _start(self):
        from bot.app import create_app
        from bot.settings import Settings

        connector = await LocalConnector().start()
        env = {"REGISTER_DB": str(self.db), "REGISTER_DEMO": "1", "REGISTER_CHECKS_PER_HOUR": "0"}
        return connector, await start_bot(create_app(Settings.from_env(env)))

    def close(self) -> None:
        self.http.close()
        self._call(self.bot.runner.cleanup())
        self._call(self.connector.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def post(self, body: bytes, content_type: str = "application/json") -> int:
        return self.exchange(body, content_type)[0]

    def exchange(self, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        try:
            self.http.request("POST", "/api/messages", body=body, headers={"Content-Type": content_type})
            response = self.http.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, ConnectionError):
            self.http.close()
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise

    def stored(self) -> tuple[int, int]:
        """(audit records, documents): what a refused request must not change."""
        with sqlite3.connect(self.db) as conn:
            return (conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0],
                    conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0])

    def healthy(self) -> bool:
        self.http.request("GET", "/healthz")
        response = self.http.getresponse()
        response.read()
        return response.status == 200

    def check(self, body: bytes, content_type: str = "application/json") -> int:
        return self.check_exchange(body, content_type)[0]

    def check_exchange(self, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        before = self.stored()
        status, answer = self.exchange(body, content_type)
        if status == 501:  # Bot Framework's answer to a well-formed invoke the bot does not implement
            sent = json.loads(body)
            assert sent["type"] == "invoke" and sent["name"] != "adaptiveCard/action", body[:300]
            assert self.stored() == before
            return status, answer
        assert status < 500, (status, body[:300])
        assert status in ACCEPTED | REFUSED, (status, body[:300])
        if status in REFUSED:
            assert self.stored() == before, ("a refused request stored something", body[:300])
        return status, answer


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    assert h.healthy(), "the bot stopped answering after the fuzzing"
    h.close()


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


@FUZZ
@given(body=st.one_of(st.binary(max_size=400), JSON.map(lambda v: json.dumps(v).encode())),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]))
def test_arbitrary_bodies_never_get_a_500(harness, body, content_type):
    harness.check(body, content_type)


def _mutate(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    activity = json.loads(json.dumps(base))
    for key, value in changes.items():
        if value is _DELETE:
            activity.pop(key, None)
        else:
            activity[key] = value
    return activity


_DELETE = object()
#: Every top-level field of the Bot Framework schema (botbuilder.schema.Activity), each with the values the schema
#: allows (tests/activity_schema.py): a field the SDK adds is fuzzed without being listed here.
SCHEMA_FIELDS = activity_fields()
TEMPLATES = ["message-personal", "message-groupChat-mention", "message-channel-mention", "message-submit-personal",
             "invoke-adaptiveCard-action", "installationUpdate-personal", "conversationUpdate-channel"]


def test_the_schema_strategies_cover_every_field_and_enum():
    """Generated from the SDK's schema: every model reachable from Activity has a strategy, and every enum the SDK
    declares is mapped to the field whose values it lists (a new enum fails here until it is mapped)."""
    models = reachable_models()
    assert {"Activity", "ChannelAccount", "ConversationAccount", "Attachment", "Entity"} <= set(models)
    for name in models:
        for attr, desc in MODELS[name]._attribute_map.items():
            assert type_value(desc["type"]) is not None, (name, attr)
    assert set(SCHEMA_FIELDS) == {desc["key"] for desc in MODELS["Activity"]._attribute_map.values()}
    assert schema_enums() == ENUMS_USED
    assert "expectReplies" in ENUM_FIELDS[("Activity", "delivery_mode")]


@FUZZ
@given(template=st.sampled_from(TEMPLATES),
       changes=st.lists(st.one_of([st.tuples(st.just(key), st.one_of(st.just(_DELETE), JSON, HOSTILE_TEXT, allowed))
                                   for key, allowed in SCHEMA_FIELDS.items()]), max_size=5).map(dict))
def test_activities_with_wrong_or_missing_fields(harness, template, changes):
    activity = load_activity(template)
    activity["serviceUrl"] = harness.connector.url
    harness.check(json.dumps(_mutate(activity, changes)).encode())


@FUZZ
@given(text=HOSTILE_TEXT, scope=st.sampled_from(["personal", "groupChat", "channel"]))
def test_hostile_message_text(harness, text, scope):
    teams = harness.teams
    activity = teams.personal(text) if scope == "personal" else teams.mention(text, scope=scope)
    activity["text"] = text if scope == "personal" else f"<at>Test Bot</at> {text}"
    harness.check(json.dumps(activity).encode())


@FUZZ
@given(data=st.one_of(JSON, st.dictionaries(st.sampled_from(["verb", "query", "ref", "action", "data"]),
                                             st.one_of(JSON, HOSTILE_TEXT), max_size=4)),
       invoke=st.booleans(), verb=st.one_of(st.none(), HOSTILE_TEXT, st.sampled_from(["check", "audit", "approve"])))
def test_hostile_card_submissions_and_invokes(harness, data, invoke, verb):
    teams = harness.teams
    if invoke:
        activity = teams.execute("check", {})
        activity["value"] = {"action": {"type": "Action.Execute", "verb": verb, "data": data}}
    else:
        activity = teams.submit({})
        activity["value"] = data
    activity["conversation"]["tenantId"] = TENANT
    harness.check(json.dumps(activity).encode())


COMMANDS = st.sampled_from(["check 12 High St", "check 99 Nowhere Road", "help", "audit MCR-2026-0001",
                            "lift MCR-2026-0001", "check", "<at>Register</at> check 12 high street"])
SCOPES = {"personal": "message-personal", "groupChat": "message-groupChat-mention",
          "channel": "message-channel-mention"}
SCHEMA_EXAMPLES = 1500


@settings(FUZZ, max_examples=SCHEMA_EXAMPLES)
@given(scope=st.sampled_from(sorted(SCOPES)), fields=st.fixed_dictionaries(
    {"type": SCHEMA_FIELDS["type"]},
    optional={**{k: v for k, v in SCHEMA_FIELDS.items() if k != "type"},
              "text": st.one_of(COMMANDS, SCHEMA_FIELDS["text"])}))
def test_every_activity_the_schema_allows_gets_a_sensible_answer(harness, scope, fields):
    """Every top-level field with a value the Bot Framework schema allows (every activity type, delivery mode, role,
    input hint, text format, ...), on a Teams activity that says where to answer: never a 5xx (but Bot Framework's
    501 for an invoke the bot does not implement), never the turn-error card, and an answer that fits the request."""
    base = load_activity(SCOPES[scope])
    activity = {**base, **fields, "serviceUrl": harness.connector.url, "channelId": "msteams"}
    for key in ("from", "recipient", "conversation"):  # whatever else they say, they name the same accounts
        part = fields.get(key) if isinstance(fields.get(key), dict) else {}
        activity[key] = {**base[key], **part, "id": base[key]["id"]}
    kind = activity["type"]
    if kind == "invoke" and not activity.get("name"):
        activity["name"] = "adaptiveCard/action"
    sent_before = len(harness.connector.sent)
    status, answer = harness.check_exchange(json.dumps(activity).encode())
    sent = harness.connector.sent[sent_before:]
    body = json.loads(answer) if answer else None
    seen = json.dumps([s.body for s in sent]) + json.dumps(body)
    assert messages.SOMETHING_WENT_WRONG not in seen, activity
    assert status not in REFUSED, (status, answer[:300], activity)
    if activity.get("deliveryMode") == "expectReplies":
        # The replies come back in the HTTP response (ExpectedReplies), not through the connector.
        assert status == 200 and isinstance(body, dict) and isinstance(body.get("activities"), list), (status, answer)
        replies = body["activities"]
        if kind == "message":
            assert replies and all(r["type"] == "message" for r in replies), replies
        if kind == "invoke":
            assert [r["type"] for r in replies] == ["invokeResponse"], replies
        return
    if kind == "message":
        assert status in (200, 201) and sent, (status, activity)
    elif kind == "invoke" and activity["name"] == "adaptiveCard/action":
        assert status == 200 and body["statusCode"] == 200, (status, body)
    elif kind == "invoke":
        assert status == 501, (status, answer)
    else:
        assert status in (200, 201), (status, answer)
