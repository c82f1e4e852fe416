"""Outbound Bot Connector calls without the SDK's per-turn waste, through the SDK's own extension points.

What the stock CloudAdapter (botbuilder 4.17.1) does on every turn, and what this module does instead:

- It builds a new `ConnectorClient` (and a new `TokenApiClient` for the user-token client) per turn. Each one
  constructs msrest's retry configuration, ~4-7 ms of CPU, twice a turn: that alone caps a bot near 100
  activities/s. Here one ConnectorClient is built per (app id, serviceUrl, audience) and reused by every turn,
  and one user-token client per app id.
- Its per-turn client also gets new credentials (a new `MicrosoftAppCredentials`, so a new MSAL application with
  an empty token cache): with an app id configured, that is a token request to Microsoft Entra on every turn,
  made with a blocking call inside the event loop. A reused client keeps its credentials, so MSAL's token cache
  works; and the token is fetched on a worker thread, at most once a minute per client (`TOKEN_REUSE_SECONDS`;
  MSAL only hands out tokens with at least five minutes left), never on the event loop.
- It sends replies with `requests` in a thread pool, a new TCP connection per reply (the client is new each
  turn). Here replies go through one pooled aiohttp `ClientSession` (keep-alive, on the event loop).

- It serialises each reply with msrest, which rebuilds the Adaptive Card node by node (~2.5-4.5 ms for a
  check-result card) and walks every attribute of the Activity. `FastSerializer` writes the same JSON in
  ~0.1 ms; `FastConversationsOperations` sends replies and 1:1 messages straight through the pooled session
  (the same URL, headers and body, the same ResourceResponse/ErrorResponseException); `parse_activity` is
  `Activity().deserialize` at half the cost. Tests compare all three with the SDK's own results.
- Within that: msrest's `body()` re-reads a model tree it was just given, `format_url` parses and urljoins every
  reply URL, timestamps go through isodate, the `{"id"}` answer through msrest's response objects. Each has a
  shortcut here for the usual case, property-tested against msrest, and msrest's own path for anything else.
- TurnContext deep-copies every activity it sends. `card_message()` builds an `OutgoingActivity` with a
  `CardAttachment`: its deep copy skips unset attributes and shares the card, and the card (plain JSON from
  cards/) is written as it is.

Extension points used, all public: `BotFrameworkAuthentication` (the CloudAdapter's constructor argument) wraps
the configured one and delegates everything but connector/user-token client creation; `ConnectorFactory` is the
SDK's factory interface; the connector client is a subclass of the SDK's, made with its public constructor and
the SDK factory's credentials, whose msrest `Configuration.pipeline` has the stock policies (user agent,
credentials, raw deserializer, HTTP logger) over an aiohttp `AsyncHTTPSender`. Nothing in site-packages is
modified and every operation keeps the SDK's signature and results.

Sharing: a cached ConnectorClient is used by concurrent turns. msrest's operations keep no per-call state on the
client; the credentials policy here sets the Authorization header on each request (the stock policy mutates a
shared requests.Session instead). The aiohttp session belongs to one event loop: `PooledHttp` opens one per loop
on first use, so an adapter used from another loop (a test's) gets its own. bot/sdk/auth.py runs
`authenticate_request` on worker threads: the wrapper only wraps the result there, and builds clients on the
loop that sends.

Wiring: in bot/app.py, `adapter = build_adapter(settings, credentials_factory=credentials_factory)` instead of
`CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings), credentials_factory=...))`, and
`await close_adapter(adapter)` at shutdown; in bot/sdk/auth.py, `parse_activity(activity_dict)` instead of
`Activity().deserialize(activity_dict)`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector import models as connector_models
from botframework.connector.aio import ConnectorClient
from botframework.connector.aio.operations_async import AttachmentsOperations, ConversationsOperations
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient
from msrest.exceptions import ClientRequestError
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import ClientRequest

from bot.sdk.auth import install_off_loop_key_refresh
from bot.sdk.http import BearerPolicy, PooledHttp, PooledPipeline, PooledResponse, wire_url
from bot.sdk.serialise import FastDeserializer, FastSerializer, is_json, json_bytes
from bot.settings import BotConfig, Settings

log = logging.getLogger(__name__)

TOKEN_REUSE_SECONDS = 60.0  # how long one signed Authorization header is reused before asking the credentials again
MAX_CLIENTS = 64  # distinct (app id, serviceUrl, audience): Teams uses a handful of regional serviceUrls
CONNECTIONS = 100  # pooled outbound connections (all hosts)
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)



_CLIENT_MODELS = {k: v for k, v in connector_models.__dict__.items() if isinstance(v, type)}
# msrest's client-side validation checks each model's `_validation` constraints; the connector's models declare
# none, so for them it is a walk over every attribute that can never fail.
_MODELS_DECLARE_CONSTRAINTS = any(getattr(m, "_validation", None) for m in _CLIENT_MODELS.values())


_URL_PREFIXES: dict[str, str] = {}  # service URL -> what urljoin makes of it (FastConversationsOperations)


class FastConversationsOperations(ConversationsOperations):
    """The SDK's conversation operations; `reply_to_activity` and `send_to_conversation` (every reply a turn sends,
    and 1:1 messages) build the same request (URL, headers, body) and handle the response the same way
    (ResourceResponse; ErrorResponseException for any other status than 200/201/202), but send it straight
    through the pooled session instead of msrest's request objects and policy chain. Calls with custom headers,
    `raw=True`, per-call configuration or the HTTP logger on take the SDK's path."""

    def __init__(self, client: Any, config: Any, serializer: Any, deserializer: Any):
        super().__init__(client, config, serializer, deserializer)
        self.transport: tuple[PooledHttp, BearerPolicy | None] | None = None

    def _direct(self, custom_headers: Any, raw: bool, operation_config: dict[str, Any]) -> bool:
        return (self.transport is not None and not custom_headers and not raw and not operation_config
                and not self.config.enable_http_logger)

    async def reply_to_activity(self, conversation_id: str, activity_id: str, activity: Activity, *,
                                custom_headers: dict[str, str] | None = None, raw: bool = False,
                                **operation_config: Any) -> Any:
        if not self._direct(custom_headers, raw, operation_config):
            return await super().reply_to_activity(conversation_id, activity_id, activity,
                                                   custom_headers=custom_headers, raw=raw, **operation_config)
        url = self._format_url(ConversationsOperations.reply_to_activity.metadata["url"], **{
            "conversationId": self._serialize.url("conversation_id", conversation_id, "str"),
            "activityId": self._serialize.url("activity_id", activity_id, "str"),
        })
        headers = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8",
                   "x-ms-conversation-id": conversation_id}
        return await self._post(url, headers, self._serialize.body(activity, "Activity"))

    async def send_to_conversation(self, conversation_id: str, activity: Activity, *,
                                   custom_headers: dict[str, str] | None = None, raw: bool = False,
                                   **operation_config: Any) -> Any:
        if not self._direct(custom_headers, raw, operation_config):
            return await super().send_to_conversation(conversation_id, activity, custom_headers=custom_headers,
                                                      raw=raw, **operation_config)
        url = self._format_url(ConversationsOperations.send_to_conversation.metadata["url"], **{
            "conversationId": self._serialize.url("conversation_id", conversation_id, "str"),
        })
        headers = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
        return await self._post(url, headers, self._serialize.body(activity, "Activity"))

    def _format_url(self, template: str, **params: str) -> str:
        """What msrest's format_url builds: the template's path joined onto the service URL with urljoin. urljoin
        drops empty segments and resolves '.' and '..' in the result; the service URL's part of that is worked
        out once per service URL, and a path with any such segment of its own (an odd conversation id) goes to
        format_url itself."""
        base = self.config.base_url
        path = template.format(**params).lstrip("/")
        if not isinstance(base, str) or not template.startswith("/") or "{" in base or "}" in base or any(
                segment in ("", ".", "..") for segment in path.split("/")):
            return self._client.format_url(template, **params)
        prefix = _URL_PREFIXES.get(base)
        if prefix is None:
            if len(_URL_PREFIXES) >= 64:
                _URL_PREFIXES.clear()
            prefix = _URL_PREFIXES[base] = urljoin(base.rstrip("/") + "/", "x")[:-1]
        return prefix + path

    async def _post(self, url: str, headers: dict[str, str], body: Any) -> Any:
        http, bearer = self.transport  # type: ignore[misc]
        headers["User-Agent"] = self.config.user_agent
        authorization = await bearer.authorization() if bearer is not None else None
        if authorization:
            headers["Authorization"] = authorization
        data = json_bytes(body)
        try:
            async with http.session().post(wire_url(url), headers=headers, data=data) as resp:
                content = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientRequestError(f"Error occurred in request: {exc.__class__.__name__}") from exc
        if resp.status in (200, 201, 202) and is_json(resp.headers.get("Content-Type")):
            # the usual answer, {"id": "..."}: what msrest's RawDeserializer and Deserializer make of it, without
            # building msrest's request and response objects (a body orjson refuses, a BOM say, takes that path)
            try:
                answer = orjson.loads(content) if content else None
            except orjson.JSONDecodeError:
                pass
            else:
                return self._deserialize("ResourceResponse", answer)
        response = PooledResponse(ClientRequest("POST", url, headers), resp, content)
        if response.status_code == 401 and bearer is not None:
            bearer.reset()
        # msrest's RawDeserializer step, then the generated code's status handling
        response.context = {RawDeserializer.CONTEXT_NAME: RawDeserializer.deserialize_from_http_generics(
            response.text(), response.headers)}
        if response.status_code not in (200, 201, 202):
            raise connector_models.ErrorResponseException(self._deserialize, response)
        return self._deserialize("ResourceResponse", response)


# the generated code reads its URL template from the method (`self.reply_to_activity.metadata`): a function
# attribute, written through __dict__ because a typed function declares no such attribute
FastConversationsOperations.reply_to_activity.__dict__["metadata"] = ConversationsOperations.reply_to_activity.metadata
FastConversationsOperations.send_to_conversation.__dict__["metadata"] = (
    ConversationsOperations.send_to_conversation.metadata)


class FastConnectorClient(ConnectorClient):
    """The SDK's ConnectorClient with `FastSerializer` for request bodies and `FastConversationsOperations`. Same
    deserialiser and configuration; constructed through the public constructor. `use_pool` sends through a
    `PooledHttp` with a `BearerPolicy` for the credentials."""

    def __init__(self, credentials: Any, base_url: str | None = None, **kwargs: Any):
        super().__init__(credentials, base_url, **kwargs)
        self._serialize = FastSerializer(_CLIENT_MODELS)
        self._serialize.client_side_validation = _MODELS_DECLARE_CONSTRAINTS
        self._deserialize = FastDeserializer(_CLIENT_MODELS)
        self.attachments = AttachmentsOperations(self._client, self.config, self._serialize, self._deserialize)
        self.conversations = FastConversationsOperations(self._client, self.config, self._serialize,
                                                         self._deserialize)

    def use_pool(self, http: PooledHttp) -> None:
        bearer = BearerPolicy(self.config.credentials) if self.config.credentials else None
        self.config.pipeline = PooledPipeline(self.config, http, bearer)
        self.conversations.transport = (http, bearer)


# --------------------------------------------------------------------------- reuse of clients

def app_id_of(claims_identity: ClaimsIdentity | None) -> str | None:
    """The bot's app id for a turn, as the SDK derives it (audience claim, else appid claim)."""
    if claims_identity is None:
        return None
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id


class _ReusingConnectorFactory(ConnectorFactory):
    """Hands out the shared client for (app id, serviceUrl, audience); the SDK's factory builds it the first time."""

    def __init__(self, owner: ReusingBotFrameworkAuthentication, inner: ConnectorFactory, app_id: str | None):
        self._owner = owner
        self._inner = inner
        self._app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return await self._owner.connector_client(self._inner, self._app_id, service_url, audience)


class ReusingBotFrameworkAuthentication(BotFrameworkAuthentication):
    """Wraps the configured BotFrameworkAuthentication: authentication is the inner one's, unchanged; connector
    clients and user-token clients are built once and reused (see the module docstring)."""

    def __init__(self, inner: BotFrameworkAuthentication, http: PooledHttp | None = None,
                 max_clients: int = MAX_CLIENTS):
        self.inner = inner
        self.http = http or PooledHttp()
        self._max_clients = max_clients
        self._clients: OrderedDict[tuple[str | None, str, str | None], ConnectorClient] = OrderedDict()
        self._token_clients: dict[str | None, UserTokenClient] = {}
        self.connector_clients_built = 0  # for tests and diagnostics
        self.user_token_clients_built = 0

    # -- reuse ----------------------------------------------------------------------------------------

    async def connector_client(self, factory: ConnectorFactory, app_id: str | None, service_url: str,
                               audience: str | None) -> ConnectorClient:
        key = (app_id, service_url, audience)
        client = self._clients.get(key)
        if client is not None:
            return client
        # The SDK's factory makes the credentials for this app id and audience (and validates the app id); the
        # client itself is rebuilt with the fast serialiser, and the pooled pipeline.
        stock = await factory.create(service_url, audience)
        client = FastConnectorClient(stock.config.credentials, base_url=stock.config.base_url)
        client.config.user_agent_policy = stock.config.user_agent_policy
        client.use_pool(self.http)
        existing = self._clients.get(key)  # another turn may have built it meanwhile: keep one
        if existing is not None:
            return existing
        self._clients[key] = client
        self.connector_clients_built += 1
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)  # clients own no connections: dropping one closes nothing
        return client

    def _reusing(self, factory: ConnectorFactory | None, identity: ClaimsIdentity | None
                 ) -> ConnectorFactory | None:
        if factory is None or isinstance(factory, _ReusingConnectorFactory):
            return factory
        return _ReusingConnectorFactory(self, factory, app_id_of(identity))

    async def close(self) -> None:
        self._clients.clear()
        self._token_clients.clear()
        await self.http.close()

    # -- BotFrameworkAuthentication -------------------------------------------------------------------

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self.inner.authenticate_request(activity, auth_header)
        if result is not None:
            result.connector_factory = self._reusing(result.connector_factory, result.claims_identity)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str
                                             ) -> AuthenticateRequestResult:
        return await self.inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._reusing(self.inner.create_connector_factory(claims_identity), claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = app_id_of(claims_identity)
        client = self._token_clients.get(app_id)
        if client is None:
            client = await self.inner.create_user_token_client(claims_identity)
            client = self._token_clients.setdefault(app_id, client)
            self.user_token_clients_built += 1
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self.inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self.inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self.inner.authenticate_channel_request(auth_header)


# --------------------------------------------------------------------------- the adapter

def build_authentication(settings: Settings, credentials_factory: ServiceClientCredentialsFactory | None = None,
                         http: PooledHttp | None = None) -> ReusingBotFrameworkAuthentication:
    # the SDK's signing-key fetch moves off the event loop now, at start-up, not when the first request arrives
    install_off_loop_key_refresh()
    inner = ConfigurationBotFrameworkAuthentication(BotConfig(settings), credentials_factory=credentials_factory)
    return ReusingBotFrameworkAuthentication(inner, http)


def build_adapter(settings: Settings, credentials_factory: ServiceClientCredentialsFactory | None = None,
                  http: PooledHttp | None = None) -> CloudAdapter:
    """The stock CloudAdapter over `ReusingBotFrameworkAuthentication`. Authentication is unchanged (the same
    ConfigurationBotFrameworkAuthentication the app used before). `credentials_factory` is for tests
    (bot.sdk.auth.FixedTokenCredentialFactory); None means the configured app id/password."""
    return CloudAdapter(build_authentication(settings, credentials_factory, http))


async def close_adapter(adapter: CloudAdapter) -> None:
    """Close the pooled outbound connections (call at app shutdown)."""
    auth = adapter.bot_framework_authentication
    if isinstance(auth, ReusingBotFrameworkAuthentication):
        await auth.close()
