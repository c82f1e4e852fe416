"""bot/sdk/ (connector, http, serialise) over real HTTP: the reused, pooled connector still delivers every kind
of outbound call to the right URL with the right Authorization header, builds one client per serviceUrl (not one
per turn), and keeps two serviceUrls apart. Inbound requests carry real RS256 channel tokens from a local issuer
(tests/jwt_issuer.py), so the app id path is the production one. No timing assertions."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from aiohttp import web
from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from botbuilder.core.bot_adapter import BotAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from botframework.connector.models import ErrorResponseException
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sdk.auth import FixedTokenCredentialFactory
from bot.sdk.connector import ReusingBotFrameworkAuthentication, build_adapter, close_adapter
from bot.sdk.serialise import card_message, is_plain_json, json_bytes
from bot.settings import Settings
from tests.jwt_issuer import JwtIssuer
from tests.teams import ACTIVITIES as ACTIVITIES_DIR
from tests.teams import ActivityFactory, LocalConnector, start_bot

APP_ID = "7a1c3f2e-0000-4000-8000-00000000b0b0"
TOKEN = "outbound-token-for-tests"


class ProbeBot(ActivityHandler):
    """Replies, updates and messages privately like RegisterBot does, and records the connector of each turn."""

    def __init__(self) -> None:
        self.connectors: list[object] = []
        self.errors: list[BaseException] = []

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        connector = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        self.connectors.append(connector)
        text = (turn_context.activity.text or "").strip()
        if text == "update":
            sent = await turn_context.send_activity(MessageFactory.text("first"))
            replacement = MessageFactory.text("second")
            replacement.id = sent.id
            await turn_context.update_activity(replacement)
        elif text == "private":
            activity = turn_context.activity
            try:
                created = await connector.conversations.create_conversation(ConversationParameters(
                    is_group=False, bot=activity.recipient, members=[ChannelAccount(id=activity.from_property.id)],
                    tenant_id=activity.conversation.tenant_id))
                outgoing = MessageFactory.text("just for you")
                outgoing.from_property, outgoing.recipient = activity.recipient, activity.from_property
                await connector.conversations.send_to_conversation(created.id, outgoing)
            except ErrorResponseException as exc:
                self.errors.append(exc)
                await turn_context.send_activity(MessageFactory.text("could not message you privately"))
        else:
            await turn_context.send_activity(MessageFactory.text(f"echo {text}"))


@pytest.fixture
def issuer():
    started = JwtIssuer().start()
    yield started
    started.stop()


@pytest.fixture
async def second_connector():
    c = await LocalConnector().start()
    yield c
    await c.stop()


async def run_bot(settings: Settings, credentials_factory=None, bot: ActivityHandler | None = None):
    adapter = build_adapter(settings, credentials_factory=credentials_factory)
    bot = bot or ProbeBot()

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    running = await start_bot(app)
    return running, adapter, bot


@pytest.fixture
async def authenticated(issuer):
    running, adapter, bot = await run_bot(Settings.from_env(issuer.bot_env(APP_ID)),
                                          FixedTokenCredentialFactory(APP_ID, TOKEN))
    yield running, adapter, bot
    await running.runner.cleanup()
    await close_adapter(adapter)


async def post_signed(running, issuer: JwtIssuer, activity: dict) -> int:
    status, _ = await running.post(activity, headers={"Authorization": issuer.bearer(APP_ID, activity["serviceUrl"])})
    return status


async def test_replies_reach_the_connector_with_the_bearer_token_and_one_client_serves_every_turn(
        authenticated, issuer, connector):
    running, adapter, bot = authenticated
    teams = ActivityFactory(connector.url)
    activities = [teams.personal(f"hello {i}") for i in range(4)]
    for activity in activities:
        assert await post_signed(running, issuer, activity) == 201

    assert [(s.method, s.reply_to, s.conversation_id) for s in connector.sent] == [
        ("POST", a["id"], a["conversation"]["id"]) for a in activities]
    assert [s.path for s in connector.sent] == [
        f"/v3/conversations/{a['conversation']['id']}/activities/{a['id']}" for a in activities]
    assert {s.authorization for s in connector.sent} == {f"Bearer {TOKEN}"}
    assert [s.text for s in connector.sent] == [f"echo hello {i}" for i in range(4)]
    # one connector client for all four turns, built once; one user-token client too
    assert len(bot.connectors) == 4 and all(c is bot.connectors[0] for c in bot.connectors)
    auth = adapter.bot_framework_authentication
    assert isinstance(auth, ReusingBotFrameworkAuthentication)
    assert auth.connector_clients_built == 1
    assert auth.user_token_clients_built == 1
    assert auth.http.sessions_opened == 1


class CountingCredentialFactory(FixedTokenCredentialFactory):
    """Counts credentials made and tokens asked for: the stock adapter makes new credentials (so, in production,
    a new MSAL token cache and a token request to Entra) on every turn."""

    def __init__(self, app_id: str, token: str):
        super().__init__(app_id, token)
        self.credentials_made = 0
        self.tokens_asked = 0

    async def create_credentials(self, app_id, oauth_scope, login_endpoint, validate_authority):
        credentials = await super().create_credentials(app_id, oauth_scope, login_endpoint, validate_authority)
        self.credentials_made += 1
        factory, get_token = self, credentials.get_access_token

        def counted(force_refresh: bool = False) -> str:
            factory.tokens_asked += 1
            return get_token(force_refresh)

        credentials.get_access_token = counted
        return credentials


async def test_credentials_are_made_once_and_the_token_is_reused(issuer, connector):
    factory = CountingCredentialFactory(APP_ID, TOKEN)
    running, adapter, _ = await run_bot(Settings.from_env(issuer.bot_env(APP_ID)), factory)
    try:
        teams = ActivityFactory(connector.url)
        for i in range(5):
            assert await post_signed(running, issuer, teams.personal(f"hello {i}")) == 201
        assert len(connector.sent) == 5
        assert {s.authorization for s in connector.sent} == {f"Bearer {TOKEN}"}
        assert factory.credentials_made == 2  # one for the connector client, one for the user-token client
        assert factory.tokens_asked == 1
    finally:
        await running.runner.cleanup()
        await close_adapter(adapter)


async def test_update_is_a_put_to_the_activity_with_the_token(authenticated, issuer, connector):
    running, _, _ = authenticated
    activity = ActivityFactory(connector.url).personal("update")
    assert await post_signed(running, issuer, activity) == 201
    first, second = connector.sent
    assert (first.method, first.reply_to) == ("POST", activity["id"])
    assert second.method == "PUT"
    assert second.path.startswith(f"/v3/conversations/{activity['conversation']['id']}/activities/")
    assert second.reply_to and second.reply_to != activity["id"] and second.text == "second"
    assert first.authorization == second.authorization == f"Bearer {TOKEN}"


async def test_private_message_creates_the_1_1_chat_and_posts_to_it_with_the_token(authenticated, issuer,
                                                                                    connector):
    running, _, _ = authenticated
    activity = ActivityFactory(connector.url).mention("private")
    activity["text"] = "private"  # the probe bot does not strip mentions
    assert await post_signed(running, issuer, activity) == 201
    [created] = connector.created
    assert created["members"] == [{"id": "user-id-0"}]
    [private] = connector.sent
    assert (private.method, private.conversation_id, private.reply_to) == ("POST", "personal:user-id-0", None)
    assert private.path == "/v3/conversations/personal:user-id-0/activities"
    assert private.text == "just for you"
    assert private.authorization == f"Bearer {TOKEN}"


async def test_connector_errors_still_raise_the_sdk_exception(authenticated, issuer, connector):
    """RegisterBot relies on an exception when Teams refuses the 1:1 chat (a blocked bot gives 403)."""
    running, _, bot = authenticated
    connector.refuse_conversations = True
    activity = ActivityFactory(connector.url).personal("private")
    assert await post_signed(running, issuer, activity) == 201
    [error] = bot.errors
    assert isinstance(error, ErrorResponseException)
    assert error.response.status_code == 403  # as with the stock sender (a requests.Response)
    assert error.response.json() == {"error": {"code": "MessageWritesBlocked"}}
    [notice] = connector.sent
    assert notice.text == "could not message you privately" and notice.reply_to == activity["id"]


async def test_two_service_urls_get_their_own_clients_and_replies(authenticated, issuer, connector,
                                                                  second_connector):
    running, adapter, bot = authenticated
    first, second = ActivityFactory(connector.url), ActivityFactory(second_connector.url, user_id="user-id-1")
    order = [first.personal("a"), second.personal("b"), first.personal("c"), second.personal("d")]
    for activity in order:
        assert await post_signed(running, issuer, activity) == 201

    assert [s.text for s in connector.sent] == ["echo a", "echo c"]
    assert [s.text for s in second_connector.sent] == ["echo b", "echo d"]
    assert [s.reply_to for s in connector.sent] == [order[0]["id"], order[2]["id"]]
    assert [s.reply_to for s in second_connector.sent] == [order[1]["id"], order[3]["id"]]
    assert {s.authorization for s in connector.sent + second_connector.sent} == {f"Bearer {TOKEN}"}
    a, b, c, d = bot.connectors
    assert a is c and b is d and a is not b
    assert adapter.bot_framework_authentication.connector_clients_built == 2


async def test_proactive_messages_use_a_reused_client_with_the_token(authenticated, issuer, connector):
    running, adapter, _ = authenticated
    activity = ActivityFactory(connector.url).personal("hello")
    assert await post_signed(running, issuer, activity) == 201
    reference = TurnContext.get_conversation_reference(Activity().deserialize(activity))

    async def notify(turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text("reminder"))

    auth = adapter.bot_framework_authentication
    built = []
    for _ in range(3):
        await adapter.continue_conversation(reference, notify, bot_app_id=APP_ID)
        built.append(auth.connector_clients_built)
    reminders = [s for s in connector.sent if s.text == "reminder"]
    assert len(reminders) == 3
    assert all(s.method == "POST" and s.authorization == f"Bearer {TOKEN}" for s in reminders)
    # the SDK's continuation activity has an id of its own, and sends "replies" to it
    assert all(s.path == f"/v3/conversations/{activity['conversation']['id']}/activities/{s.reply_to}"
               and s.reply_to for s in reminders)
    # proactive calls have their own key (no audience), so at most one more client, built once
    assert built[0] == built[1] == built[2] <= 2


async def test_requests_without_a_valid_token_are_still_refused(authenticated, issuer, connector):
    running, adapter, bot = authenticated
    activity = ActivityFactory(connector.url).personal("hello")
    status, _ = await running.post(activity, headers={
        "Authorization": issuer.bearer(APP_ID, "http://127.0.0.1:1/elsewhere")})
    assert status in (401, 403, 500)  # the stock adapter's answers; bot/sdk/auth.py turns them into 401
    assert connector.sent == [] and bot.connectors == []


async def test_without_an_app_id_replies_carry_no_authorization_header(connector):
    running, adapter, bot = await run_bot(Settings())
    try:
        teams = ActivityFactory(connector.url)
        for text in ("one", "two"):
            status, _ = await running.post(teams.personal(text))
            assert status == 201
        assert [s.text for s in connector.sent] == ["echo one", "echo two"]
        assert {s.authorization for s in connector.sent} == {None}
        assert adapter.bot_framework_authentication.connector_clients_built == 1
    finally:
        await running.runner.cleanup()
        await close_adapter(adapter)


class CardBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        card = {"type": "AdaptiveCard", "version": "1.5",
                "body": [{"type": "TextBlock", "text": "Flat 2 · 40 Market Street — ‘café’ £5"}]}
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


async def test_cards_and_non_ascii_text_arrive_intact(connector):
    """The pooled sender sends the SDK's serialised body unchanged."""
    running, adapter, _ = await run_bot(Settings(), bot=CardBot())
    try:
        status, _ = await running.post(ActivityFactory(connector.url).personal("card"))
        assert status == 201
        [sent] = connector.sent
        [card] = sent.cards
        assert card["body"][0]["text"] == "Flat 2 · 40 Market Street — ‘café’ £5"
    finally:
        await running.runner.cleanup()
        await close_adapter(adapter)


# --------------------------------------------------------------------------- the fast serialiser

def _corpus() -> list[Activity]:
    """Inbound Teams activities as captured, replies carrying every sample card, and awkward values."""
    import enum
    from datetime import UTC, datetime

    from botbuilder.schema import Attachment, Entity, Mention
    from msrest.serialization import Model

    from tests.cardcheck.samples import sample_cards
    from tests.teams import ACTIVITIES

    class Plain(enum.Enum):
        FILTERED = "filtered"

    class Str(enum.StrEnum):
        COMPACT = "compact"

    class Extensible(Model):  # a model with open-ended properties, as some Teams models have
        _attribute_map = {"additional_properties": {"key": "", "type": "{object}"},
                          "name": {"key": "name", "type": "str"}, "when": {"key": "when", "type": "iso-8601"},
                          "members": {"key": "members", "type": "[ChannelAccount]"}}

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.additional_properties = kwargs.get("additional_properties")
            self.name, self.when, self.members = kwargs.get("name"), kwargs.get("when"), kwargs.get("members")

    out = [Activity().deserialize(json.loads(p.read_text())) for p in sorted(ACTIVITIES.glob("*.json"))]
    for name, card in sorted(sample_cards().items()):
        reply = MessageFactory.attachment(CardFactory.adaptive_card(card))
        reply.reply_to_id, reply.id = "reply-to", name
        out.append(reply)
        # as the bot sends them (bot/teams.py): the card passed through unchecked
        ours = card_message(card)
        ours.reply_to_id, ours.id = "reply-to", f"ours-{name}"
        out.append(ours)
        out.append(copy.deepcopy(ours))  # what TurnContext sends
    dict_for_model = MessageFactory.text("a dict where msrest expects a model: msrest's body() converts it")
    dict_for_model.from_property = {"id": "bot-id", "name": "Register"}
    dict_for_model.attachments = [{"contentType": "text/plain", "content": "x"}]
    out.append(dict_for_model)
    odd = MessageFactory.attachment(CardFactory.adaptive_card({
        "type": "AdaptiveCard", "version": "1.5",
        "body": [{"type": "Input.ChoiceSet", "style": Plain.FILTERED, "spacing": Str.COMPACT, "n": 1.5,
                  "ok": True, "none": None, "when": datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                  "tuple": ("a", "b"), "nested": [[1, 2], {"deep": [None, "x"]}]}]}))
    odd.channel_data = {"notification": {"alert": True}, "tenant": {"id": "t"},
                        "extensible": Extensible(additional_properties={"x": 1, "y": [Str.COMPACT]}, name="n",
                                                 when=datetime(2026, 1, 2, tzinfo=UTC),
                                                 members=[ChannelAccount(id="u", name=None)])}
    odd.entities = [Mention(text="<at>Bot</at>", type="mention"), Entity(type="clientInfo")]
    odd.attachments.append(Attachment(content_type="text/plain", content="just text"))
    odd.timestamp = datetime(2026, 11, 28, 12, 0, 1, 123456, tzinfo=UTC)
    out.append(odd)
    out.append(MessageFactory.text("naïve café — ‘quoted’"))
    return out


def test_the_fast_serialiser_writes_exactly_what_msrest_writes():
    from botframework.connector import models
    from msrest import Serializer

    from bot.sdk.serialise import FastSerializer

    client_models = {k: v for k, v in models.__dict__.items() if isinstance(v, type)}
    stock, fast = Serializer(client_models), FastSerializer(client_models)
    fast.client_side_validation = False  # as FastConnectorClient sets it: the connector's models declare none
    corpus = _corpus()
    assert len(corpus) > 15
    for activity in corpus:
        expected = stock.body(copy.deepcopy(activity), "Activity")  # msrest's body() may change its input
        got = fast.body(copy.deepcopy(activity), "Activity")
        assert got == expected
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
        assert json.loads(json_bytes(got)) == json.loads(json.dumps(expected))  # the bytes sent mean the same


def test_every_card_the_bot_sends_is_plain_json():
    """CardAttachment content skips msrest's conversion (bot/sdk/serialise.py): it must already be plain JSON."""
    from tests.cardcheck.samples import sample_cards

    for name, card in sample_cards().items():
        assert is_plain_json(card), name


# --------------------------------------------------------------------------- same requests as the SDK's client

class RecordingConnector:
    """Records every request; answers from a table of (method, path suffix) -> (status, body, headers)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: dict[tuple[str, str], tuple[int, object, dict]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> RecordingConnector:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _any(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({
            "method": request.method, "path": request.raw_path, "body": json.loads(body) if body else None,
            "headers": {k: v for k, v in request.headers.items()
                        if k.lower() in ("content-type", "accept", "x-ms-conversation-id", "authorization",
                                         "user-agent")},
        })
        status, payload, headers = self.answers.get((request.method, request.path.rsplit("/", 1)[-1]),
                                                    (200, {"id": "resp-1"}, {}))
        if isinstance(payload, bytes):  # exactly these bytes, with the headers given
            return web.Response(body=payload, status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)


@pytest.fixture
async def recorder():
    r = await RecordingConnector().start()
    yield r
    await r.stop()


async def _outcome(call):
    try:
        result = await call
        return ("ok", result.serialize() if result is not None else None)
    except ErrorResponseException as exc:
        return ("error", type(exc).__name__, exc.response.status_code, exc.response.headers.get("Retry-After"),
                getattr(getattr(exc.error, "error", None), "code", None), exc.message)
    except Exception as exc:  # noqa: BLE001 - both clients must fail the same way
        return ("raised", type(exc).__name__)


async def test_replies_are_the_same_requests_and_results_as_with_the_sdk_client(recorder):
    from botbuilder.schema import ConversationAccount
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    from bot.sdk.connector import FastConnectorClient
    from bot.sdk.http import PooledHttp

    teams_conversation = "19:abc@thread.tacv2;messageid=1700000000000"
    recorder.answers[("POST", "refused")] = (429, {"error": {"code": "TooManyRequests", "message": "slow"}},
                                             {"Retry-After": "3"})
    recorder.answers[("POST", "blocked")] = (403, {"error": {"code": "MessageWritesBlocked", "message": "no"}}, {})
    recorder.answers[("POST", "empty")] = (201, None, {})
    recorder.answers[("POST", "extra")] = (200, {"id": "x", "more": [1, {"a": None}]}, {})
    recorder.answers[("POST", "nothing")] = (201, b"", {"Content-Type": "application/json"})
    recorder.answers[("POST", "bom")] = (200, b'\xef\xbb\xbf{"id": "b"}', {"Content-Type": "application/json"})
    recorder.answers[("POST", "textjson")] = (202, b'{"id": "t"}', {"Content-Type": "text/json; charset=utf-8"})
    recorder.answers[("POST", "octets")] = (200, b'{"id": "o"}', {"Content-Type": "application/octet-stream"})
    recorder.answers[("POST", "broken")] = (200, b'{"id": ', {"Content-Type": "application/json"})
    recorder.answers[("POST", "notid")] = (200, {"id": 5}, {})

    def activity():
        reply = MessageFactory.attachment(CardFactory.adaptive_card(
            {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "£5 — ok"}]}))
        reply.conversation = ConversationAccount(id=teams_conversation)
        return reply

    stock = ConnectorClient(MicrosoftAppCredentials.empty(), recorder.url)
    http = PooledHttp()
    ours = FastConnectorClient(MicrosoftAppCredentials.empty(), recorder.url)
    ours.use_pool(http)
    outcomes = {}
    try:
        for name, client in (("stock", stock), ("ours", ours)):
            conversations = client.conversations
            outcomes[name] = [
                await _outcome(conversations.reply_to_activity(teams_conversation, "1700000000000", activity())),
                await _outcome(conversations.reply_to_activity(teams_conversation, "refused", activity())),
                await _outcome(conversations.reply_to_activity("personal:u", "empty", activity())),
                await _outcome(conversations.send_to_conversation("a:1 /?#..", activity())),
                await _outcome(conversations.send_to_conversation("blocked", activity())),
                await _outcome(conversations.update_activity(teams_conversation, "42", activity())),
                *[await _outcome(conversations.reply_to_activity("personal:u", answer, activity()))
                  for answer in ("extra", "nothing", "bom", "textjson", "octets", "broken", "notid")],
            ]
        sent = recorder.requests
        half = len(sent) // 2
        assert len(sent) == 26
        for a, b in zip(sent[:half], sent[half:], strict=True):
            assert a == b, (a, b)
        assert outcomes["stock"] == outcomes["ours"]
        assert outcomes["ours"][1][:4] == ("error", "ErrorResponseException", 429, "3")
        assert outcomes["ours"][0] == ("ok", {"id": "resp-1"})
        assert outcomes["ours"][6:9] == [("ok", {"id": "x"}), ("ok", None), ("ok", {"id": "b"})]
        # the conversation id is percent-encoded on the wire, as the SDK's client sends it
        assert sent[0]["path"] == ("/v3/conversations/19%3Aabc%40thread.tacv2%3Bmessageid%3D1700000000000"
                                   "/activities/1700000000000")
    finally:
        await http.close()


def _inbound_corpus() -> list[dict]:
    """Activity JSON as it arrives: the captured Teams activities, every reply above as JSON, and odd input."""
    import copy

    from botframework.connector import models
    from msrest import Serializer

    from tests.teams import ACTIVITIES

    serializer = Serializer({k: v for k, v in models.__dict__.items() if isinstance(v, type)})
    out = [json.loads(p.read_text()) for p in sorted(ACTIVITIES.glob("*.json"))]
    out += [json.loads(json.dumps(serializer.body(a, "Activity"))) for a in _corpus()]
    base = json.loads((ACTIVITIES / "message-personal.json").read_text())
    odd = copy.deepcopy(base)
    odd.update({"unknownTopLevel": {"x": [1, None]}, "text": None, "locale": None, "value": [1, "a", {"b": None}],
                "channelData": {"tenant": {"id": "t"}, "eventType": "x", "deep": [[{"a": 1.5}]]}})
    odd["entities"].append({"type": "mention", "text": "<at>Bot</at>", "mentioned": {"id": "b", "name": "Bot"},
                            "extra": {"k": True}})
    odd["from"]["unexpected"] = "kept as an additional property"
    odd["attachments"] = [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {"body": []}},
                          {"contentType": "text/plain", "content": "just text", "name": None}]
    out.append(odd)
    numbers = copy.deepcopy(base)
    numbers.update({"text": 5, "id": 12, "replyToId": True})  # msrest turns these into strings
    out.append(numbers)
    return out


def test_parse_activity_gives_the_same_activity_as_msrest():
    from bot.sdk.serialise import parse_activity

    corpus = _inbound_corpus()
    assert len(corpus) > 20
    for data in corpus:
        original = json.dumps(data, sort_keys=True)
        expected, got = Activity().deserialize(data), parse_activity(data)
        assert type(got) is Activity
        assert got == expected  # msrest models compare their attributes, recursively
        assert got.serialize() == expected.serialize()
        assert json.dumps(data, sort_keys=True) == original  # the input is not changed ...
        if isinstance(got.channel_data, dict):
            assert got.channel_data is not data.get("channelData")  # ... nor shared


def test_parse_activity_refuses_what_msrest_refuses():
    from msrest.exceptions import DeserializationError

    from bot.sdk.serialise import parse_activity

    base = json.loads((ACTIVITIES_DIR / "message-personal.json").read_text())
    for change in ({"timestamp": "not a date"}, {"from": "not an object"}, {"entities": {"not": "a list"}}):
        data = dict(base, **change)
        outcomes = []
        for parse in (lambda d: Activity().deserialize(d), parse_activity):
            try:
                outcomes.append(("ok", parse(data).serialize()))
            except DeserializationError as exc:
                outcomes.append(("error", type(exc).__name__))
        assert outcomes[0] == outcomes[1], change


async def test_a_401_from_the_connector_makes_the_next_request_ask_for_a_token_again(recorder):
    from botbuilder.schema import ConversationAccount

    from bot.sdk.connector import FastConnectorClient
    from bot.sdk.http import PooledHttp

    factory = CountingCredentialFactory(APP_ID, TOKEN)
    credentials = await factory.create_credentials(APP_ID, "https://api.botframework.com", "", True)
    recorder.answers[("POST", "expired")] = (401, {"error": {"code": "Unauthorized", "message": "no"}}, {})
    http = PooledHttp()
    client = FastConnectorClient(credentials, recorder.url)
    client.use_pool(http)
    reply = MessageFactory.text("hello")
    reply.conversation = ConversationAccount(id="c")
    try:
        await client.conversations.reply_to_activity("c", "first", reply)
        await client.conversations.reply_to_activity("c", "second", reply)
        assert factory.tokens_asked == 1  # reused
        with pytest.raises(ErrorResponseException):
            await client.conversations.reply_to_activity("c", "expired", reply)
        await client.conversations.reply_to_activity("c", "after", reply)
        assert factory.tokens_asked == 2
        assert {r["headers"].get("Authorization") for r in recorder.requests} == {f"Bearer {TOKEN}"}
    finally:
        await http.close()


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       st.sampled_from(["Z", "+00:00", "-05:30", "+14:00", "-12:00", "z", "", "+0100"]),
       st.sampled_from([0, 1, 3, 6, 7]), st.booleans())
def test_timestamps_are_read_as_msrest_reads_them(when, zone, digits, lower):
    """The activity's timestamps take a shortcut (bot/sdk/serialise.py _timestamp); for every form, the result (or the
    refusal) must be msrest's, down to the tzinfo isodate would give."""
    from msrest.exceptions import DeserializationError
    from msrest.serialization import Deserializer

    from bot.sdk.serialise import FastDeserializer

    fraction = f".{when.microsecond:06d}{when.microsecond % 10}"[: digits + 1] if digits else ""
    text = when.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + fraction + zone
    text = text.lower() if lower else text
    data = {"type": "message", "timestamp": text}
    try:
        expected = Deserializer.deserialize_iso(text)
    except DeserializationError:
        with pytest.raises(DeserializationError):
            FastDeserializer(Activity._infer_class_models())("Activity", data)
        return
    got = FastDeserializer(Activity._infer_class_models())("Activity", data).timestamp
    assert got == expected and got.microsecond == expected.microsecond
    assert type(got.tzinfo) is type(expected.tzinfo) and got.utcoffset() == expected.utcoffset()
    if expected.tzinfo is not None:
        assert got.tzinfo.tzname(None) == expected.tzinfo.tzname(None)


def test_the_deep_copy_of_a_card_message_is_independent_but_for_the_card():
    """TurnContext deep-copies what it sends and then sets the conversation on the copy: the original must not
    change, and the copy must say the same as a stock deep copy would."""
    from botbuilder.core import TurnContext

    from tests.cardcheck.samples import sample_cards

    card = sample_cards()["alert"]
    original = card_message(card)
    stock = copy.deepcopy(MessageFactory.attachment(CardFactory.adaptive_card(card)))
    clone = copy.deepcopy(original)
    assert clone is not original and clone.attachments is not original.attachments
    assert clone.attachments[0] is not original.attachments[0] and clone.attachments[0].content is card
    reference = TurnContext.get_conversation_reference(Activity().deserialize(
        json.loads((ACTIVITIES_DIR / "message-personal.json").read_text())))
    TurnContext.apply_conversation_reference(clone, reference)
    TurnContext.apply_conversation_reference(stock, reference)
    assert original.conversation is None and original.recipient is None and original.reply_to_id is None
    assert clone.serialize() == stock.serialize()


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/emea",
                        "http://127.0.0.1:3979", "http://127.0.0.1:3979/a/./b//c/../", "https://h/p?q=1#f",
                        "https://h/teams/{x}/"]),
       st.text(alphabet=st.sampled_from(list("ab.:/%?#@; é")), max_size=6),
       st.text(alphabet=st.sampled_from(list("1.x/")), max_size=4))
def test_reply_urls_are_the_ones_msrest_builds(base, conversation_id, activity_id):
    """FastConversationsOperations works out the service URL's part of msrest's urljoin once; for any service
    URL and ids (empty, '.', '..', slashes, percent signs) the URL must be msrest's format_url's."""
    from botframework.connector.aio.operations_async import ConversationsOperations
    from botframework.connector.auth import MicrosoftAppCredentials

    from bot.sdk.connector import FastConnectorClient

    ops = FastConnectorClient(MicrosoftAppCredentials.empty(), base).conversations
    for operation, params in (
        (ConversationsOperations.reply_to_activity, {"conversationId": conversation_id, "activityId": activity_id}),
        (ConversationsOperations.send_to_conversation, {"conversationId": conversation_id}),
    ):
        quoted = {k: ops._serialize.url(k, v, "str") for k, v in params.items()}
        template = operation.metadata["url"]
        assert _url_or_error(ops._format_url, template, quoted) == _url_or_error(ops._client.format_url, template,
                                                                                 quoted)


def _url_or_error(format_url, template, params):
    try:
        return format_url(template, **params)
    except Exception as exc:  # noqa: BLE001 - a service URL with braces: msrest fails, and so must we
        return type(exc).__name__
