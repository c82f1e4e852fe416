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
on first use, so an adapter used from another loop (a test's) gets its own. bot/auth.py runs
`authenticate_request` on worker threads: the wrapper only wraps the result there, and builds clients on the
loop that sends.

Wiring: in bot/app.py, `adapter = build_adapter(settings, credentials_factory=credentials_factory)` instead of
`CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings), credentials_factory=...))`, and
`await close_adapter(adapter)` at shutdown; in bot/auth.py, `parse_activity(activity_dict)` instead of
`Activity().deserialize(activity_dict)`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import ssl
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

import aiohttp
import isodate
import orjson
from botbuilder.core import CardFactory
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, Attachment, AttachmentLayoutTypes
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
from msrest import Serializer
from msrest.exceptions import ClientRequestError, DeserializationError
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import (
    Deserializer,
    Model,
    full_restapi_key_transformer,
    rest_key_extractor,
    xml_key_extractor,
)
from msrest.universal_http import AsyncClientResponse, ClientRequest
from multidict import CIMultiDict
from requests.utils import requote_uri
from yarl import URL

from bot.settings import BotConfig, Settings

log = logging.getLogger(__name__)

TOKEN_REUSE_SECONDS = 60.0  # how long one signed Authorization header is reused before asking the credentials again
MAX_CLIENTS = 64  # distinct (app id, serviceUrl, audience): Teams uses a handful of regional serviceUrls
CONNECTIONS = 100  # pooled outbound connections (all hosts)
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


# --------------------------------------------------------------------------- pooled outbound HTTP

def _default_ssl_context() -> ssl.SSLContext:
    """The CA bundle `requests` (the stock sender) verifies with, so the trust store does not change."""
    try:
        import certifi  # noqa: PLC0415 - installed with requests, which the SDK depends on

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover
        return ssl.create_default_context()


def _proxy_configured() -> bool:
    """Whether the environment names a proxy. requests (the stock sender) honours HTTP(S)_PROXY/NO_PROXY; so does
    aiohttp with trust_env, but then it also reads ~/.netrc and the proxy variables on every request, so it is
    only turned on when a proxy is actually configured."""
    return any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                                 "ALL_PROXY", "all_proxy"))


class PooledHttp:
    """One aiohttp ClientSession (a keep-alive connection pool) per event loop, opened on first use."""

    def __init__(self, *, limit: int = CONNECTIONS, timeout: aiohttp.ClientTimeout = TIMEOUT):
        self._limit = limit
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None
        self.sessions_opened = 0

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            if self._ssl is None:
                self._ssl = _default_ssl_context()
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl),
                timeout=self._timeout,
                trust_env=_proxy_configured(),
                skip_auto_headers=("User-Agent",),
            )
            self._session, self._loop = session, loop
            self.sessions_opened += 1
        return session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:  # pragma: no cover
                running = None
            if running is self._loop:
                await session.close()


class ResponseSnapshot:
    """What msrest exposes as `ErrorResponseException.response` (the transport's response). The stock sender
    gives a requests.Response, so code that handles connector errors (403 MessageWritesBlocked, 429 with
    Retry-After, ...) reads `status_code`, `headers`, `text`, `json()`: all kept, with aiohttp's `status` too."""

    def __init__(self, url: str, status: int, reason: str | None, headers: CIMultiDict, content: bytes):
        self.url = url
        self.status_code = self.status = status
        self.reason = reason
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def __repr__(self) -> str:
        return f"<ResponseSnapshot [{self.status_code}]>"


def wire_url(url: str) -> URL:
    """The URL exactly as the stock sender (requests) puts it on the wire. aiohttp would otherwise re-normalise
    the path and decode what msrest encoded (`19%3Aabc%40thread.tacv2` would go out as `19:abc@thread.tacv2`)."""
    return URL(requote_uri(url), encoded=True)


class _PooledResponse(AsyncClientResponse):
    """An msrest response over an aiohttp response whose body has been read."""

    context: dict[str, Any]  # set by FastConversationsOperations._post, read by msrest's Deserializer

    def __init__(self, request: ClientRequest, response: aiohttp.ClientResponse, body: bytes):
        headers = CIMultiDict(response.headers)
        super().__init__(request, ResponseSnapshot(str(response.url), response.status, response.reason, headers,
                                                   body))
        self.status_code = response.status
        self.headers = headers
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body

    def raise_for_status(self) -> None:
        if (self.status_code or 0) >= 400:  # always set, from aiohttp's status; msrest declares it Optional
            raise ClientRequestError(f"Received status code {self.status_code}")

    def stream_download(self, chunk_size=None, callback=None):  # noqa: ANN001 - msrest's signature
        async def once():
            if callback:
                callback(self._body, self.internal_response)
            yield self._body

        return once()


class PooledSender(AsyncHTTPSender):
    """msrest AsyncHTTPSender that sends through `PooledHttp`. The body is read before returning, so the
    connection goes straight back to the pool."""

    def __init__(self, http: PooledHttp):
        self._http = http

    async def __aenter__(self) -> PooledSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None

    def build_context(self) -> Any:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http_request: ClientRequest = request.http_request
        if http_request.files:
            raise ValueError("multipart bodies are not used by the Bot Connector API")
        headers = {k: v for k, v in http_request.headers.items() if k.lower() != "content-length"}
        data = http_request.data
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            async with self._http.session().request(http_request.method, wire_url(http_request.url),
                                                    headers=headers, data=data) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientRequestError(f"Error occurred in request: {exc.__class__.__name__}") from exc
        return Response(request, _PooledResponse(http_request, resp, body))


class _HeaderSink:
    """What AppCredentials.signed_session(session) writes to: only `.headers` is used."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}


def _signed_authorization(credentials: Any) -> str | None:
    """The Authorization header the stock pipeline would put on the session (blocking: may ask Entra)."""
    sink = _HeaderSink()
    try:
        credentials.signed_session(sink)
        return sink.headers.get("Authorization")
    except TypeError:  # credentials that cannot sign a given session
        return credentials.signed_session().headers.get("Authorization")


class BearerPolicy(AsyncHTTPPolicy):
    """Puts the credentials' Authorization header on each request. The header is obtained on a worker thread
    (MSAL may call Entra with a blocking request) and reused for `reuse_seconds`; a 401 from the connector makes
    the next request ask the credentials again."""

    def __init__(self, credentials: Any, reuse_seconds: float = TOKEN_REUSE_SECONDS):
        super().__init__()
        self._credentials = credentials
        self._reuse = reuse_seconds
        self._header: str | None = None
        self._fresh_until = 0.0
        self._inflight: tuple[asyncio.AbstractEventLoop, asyncio.Future[str | None]] | None = None

    def reset(self) -> None:
        """Ask the credentials again on the next request (after a 401)."""
        self._fresh_until = 0.0

    async def authorization(self) -> str | None:
        if time.monotonic() < self._fresh_until:
            return self._header
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is not None and inflight[0] is loop and not inflight[1].done():
            return await asyncio.shield(inflight[1])  # one token request, however many turns are waiting
        future = asyncio.ensure_future(asyncio.to_thread(_signed_authorization, self._credentials))
        self._inflight = (loop, future)
        header = await asyncio.shield(future)
        self._header, self._fresh_until = header, time.monotonic() + self._reuse
        return header

    async def send(self, request: Request, **kwargs: Any) -> Response:
        header = await self.authorization()
        if header:
            request.http_request.headers["Authorization"] = header
        else:
            request.http_request.headers.pop("Authorization", None)
        assert self.next is not None  # the pipeline links its policies before it sends
        response = await self.next.send(request, **kwargs)
        if response.http_response.status_code == 401:
            self.reset()
        return response


class PooledPipeline(AsyncPipeline):
    """The stock connector pipeline's policies (botframework AsyncBfPipeline / msrest ServiceClientAsync) with
    `BearerPolicy` for credentials and `PooledSender` for transport."""

    def __init__(self, config: Any, http: PooledHttp, bearer: BearerPolicy | None = None):
        policies: list[Any] = [config.user_agent_policy]
        if bearer is None and config.credentials:
            bearer = BearerPolicy(config.credentials)
        if bearer is not None:
            policies.append(bearer)
        policies += [RawDeserializer(), config.http_logger_policy]
        super().__init__(policies, PooledSender(http))


# --------------------------------------------------------------------------- serialisation

_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
T = TypeVar("T")
_MAX_DEPTH = 64


_MAX_NODES = 100_000


def is_plain_json(value: Any) -> bool:
    """True for dicts/lists/str/int/float/bool/None of exactly those types (no subclasses, no Enums), str keys.
    Iterative, with a node budget (a structure that refers to itself is not plain: msrest gets it)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    budget = _MAX_NODES
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is int or kind is float or kind is bool or item is None:
            continue
        budget -= 1
        if budget < 0:
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            push(item.values())
        elif kind is list:
            push(item)
        else:
            return False
    return True


_PLANS: dict[type, tuple[tuple[str, str | None, str], ...] | None] = {}


def _model_plan(cls: type[Model]) -> tuple[tuple[str, str | None, str], ...] | None:
    """(attribute, JSON key or None for additional_properties, msrest type) for each attribute msrest would
    write, in msrest's order; None for a model msrest must handle itself (XML, flattened or read-only keys)."""
    try:
        return _PLANS[cls]
    except KeyError:
        pass
    plan: list[tuple[str, str | None, str]] = []
    try:
        if cls.is_xml_model():
            raise ValueError("XML model")
        for attr, desc in cls._attribute_map.items():
            if (getattr(cls, "_validation", None) or {}).get(attr, {}).get("readonly", False):
                raise ValueError("read-only attribute")
            if attr == "additional_properties" and desc["key"] == "":
                plan.append((attr, None, desc["type"]))
                continue
            keys, _ = full_restapi_key_transformer(attr, dict(desc), None)
            keys = keys if isinstance(keys, list) else [keys]
            if len(keys) != 1:
                raise ValueError("flattened key")
            plan.append((attr, keys[0], desc["type"]))
    except (AttributeError, KeyError, TypeError, ValueError):
        _PLANS[cls] = None
    else:
        _PLANS[cls] = tuple(plan)
    return _PLANS[cls]


# msrest types whose (de)serialisation hands back a value of exactly that Python type unchanged
_EXACT: dict[str, type] = {"str": str, "bool": bool, "int": int}


class CardAttachment(Attachment):
    """An Adaptive Card attachment whose content is a card this bot built for one outgoing message (cards/: plain
    JSON, not changed after). Two per-reply costs go:
    - TurnContext deep-copies every activity it sends (botbuilder-core turn_context.py, `send_activities`), a few
      hundred dicts and lists for a check result; this attachment's deep copy shares the card and copies the rest;
    - FastSerializer passes the card through without checking it is plain JSON first (orjson writes the body;
      tests/test_connector_reuse.py checks the bytes equal msrest's for every card the bot sends)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> CardAttachment:
        return _deep_copy(self, memo, shared="content")


class OutgoingActivity(Activity):
    """An activity this bot builds to send. TurnContext deep-copies every activity it sends; an Activity has
    ~45 attributes, nearly all None, and copy.deepcopy walks every one. This copy takes None and plain scalars as
    they are and deep-copies the rest (a CardAttachment still shares its card)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> OutgoingActivity:
        return _deep_copy(self, memo)


def _deep_copy(model: T, memo: dict[int, Any], shared: str = "") -> T:
    """copy.deepcopy of a model, but None and plain scalars are taken as they are (most of an Activity's ~45
    attributes are None) and the attribute named `shared` is shared, not copied."""
    clone = model.__class__.__new__(model.__class__)
    memo[id(model)] = clone
    clone.__dict__.update({key: value if value is None or type(value) in _JSON_SCALARS or key == shared
                           else copy.deepcopy(value, memo) for key, value in vars(model).items()})
    return clone


def card_message(card: dict[str, Any]) -> OutgoingActivity:
    """A message with one Adaptive Card: what MessageFactory.attachment(CardFactory.adaptive_card(card)) builds."""
    return OutgoingActivity(type=ActivityTypes.message, attachment_layout=AttachmentLayoutTypes.list,
                            attachments=[CardAttachment(content_type=CardFactory.content_types.adaptive_card,
                                                        content=card)])


_MODEL_ATTRS: dict[type, tuple[tuple[str, type, bool], ...] | None] = {}


def _model_attrs(cls: type, dependencies: dict[str, Any]) -> tuple[tuple[str, type, bool], ...] | None:
    """(attribute, model class, is a list) for each attribute of `cls` that holds models; None if one holds a
    dict of models or a list of lists (msrest's body() then does the work)."""
    try:
        return _MODEL_ATTRS[cls]
    except KeyError:
        pass
    out: list[tuple[str, type, bool]] = []
    for attr, desc in getattr(cls, "_attribute_map", {}).items():
        kind = desc["type"]
        inner = dependencies.get(kind.strip("[]{}"))
        if not (isinstance(inner, type) and issubclass(inner, Model)):
            continue
        if kind.startswith("{") or kind.startswith("[["):
            _MODEL_ATTRS[cls] = None
            return None
        out.append((attr, inner, kind.startswith("[")))
    _MODEL_ATTRS[cls] = tuple(out)
    return _MODEL_ATTRS[cls]


class FastSerializer(Serializer):
    """msrest's Serializer, producing the same output with less work:
    - a value of type `object` (an attachment's `content`, `channelData`, `value`) that is already plain JSON is
      passed through instead of being rebuilt node by node: msrest would produce an equal copy, at ~1 microsecond
      per node (it calls `eval` for every number), which is ~2.5 ms for a check-result card. Anything else (Enums,
      str subclasses, models, dates) takes msrest's own path;
    - a model is walked with a per-class plan of (attribute, key, type), skipping None attributes, where msrest
      parses every key and raises and catches a ValueError for each None attribute (an Activity has ~45).
    tests/test_connector_reuse.py checks the output equals msrest's for captured and generated activities."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        """msrest's body() first runs a Deserializer over the data ("just in case this is a dict"), which turns a
        dict found where a model belongs into that model. For data that is models all the way down (every
        activity this bot sends) the pass changes nothing, so it is skipped; anything else takes msrest's path."""
        model = self.dependencies.get(data_type)
        if (kwargs or self.client_side_validation or not (isinstance(model, type) and isinstance(data, model))
                or not self._models_all_the_way(data, 0)):
            return super().body(data, data_type, **kwargs)
        return self._serialize(data, data_type, is_xml=False)

    def _models_all_the_way(self, obj: Any, depth: int) -> bool:
        attrs = _model_attrs(type(obj), self.dependencies)
        if attrs is None or depth > _MAX_DEPTH:
            return False
        for attr, model, many in attrs:
            value = getattr(obj, attr, None)
            if value is None:
                continue
            if many and type(value) is not list:
                return False
            for item in value if many else (value,):
                if not isinstance(item, model) or not self._models_all_the_way(item, depth + 1):
                    return False
        return True

    def _serialize(self, target_obj: Any, data_type: str | None = None, **kwargs: Any) -> Any:
        model = self.dependencies.get(data_type) if data_type else None
        plan = (_model_plan(type(target_obj)) if isinstance(target_obj, Model)
                and (data_type is None or (isinstance(model, type) and isinstance(target_obj, model))) else None)
        if plan is None or kwargs.keys() - {"is_xml"} or kwargs.get("is_xml"):
            return super()._serialize(target_obj, data_type, **kwargs)
        # msrest's model walk, without its per-attribute key parsing and without raising for every None
        serialized: dict[str, Any] = {}
        for attr, key, attr_type in plan:
            value = getattr(target_obj, attr)
            if value is None:
                continue
            if key is None:  # additional_properties
                serialized.update(value)
                continue
            if type(value) is _EXACT.get(attr_type):  # msrest returns an exact str, bool or int as it is
                serialized[key] = value
                continue
            if attr == "content" and type(target_obj) is CardAttachment:
                serialized[key] = value
                continue
            try:
                serialized[key] = self.serialize_data(value, attr_type, **kwargs)
            except ValueError:
                continue
        return serialized

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        if (type(attr) in (dict, list) and not kwargs.get("is_xml") and not kwargs.get("basic_types_serializers")
                and is_plain_json(attr)):
            return attr
        return super().serialize_object(attr, **kwargs)


_READ_PLANS: dict[type, tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None] = {}


def _read_plan(cls: type[Model]) -> tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None:
    """((attribute, JSON key, msrest type), ...) and the keys msrest knows (for additional_properties: None when
    the model declares a real `additional_properties`), or None when msrest must handle the model itself
    (flattened or escaped keys, polymorphic models)."""
    try:
        return _READ_PLANS[cls]
    except KeyError:
        pass
    plan: tuple[tuple[tuple[str, str, str], ...], frozenset[str] | None] | None
    try:
        if getattr(cls, "_subtype_map", None):
            raise ValueError("polymorphic")
        attrs = []
        for attr, desc in cls._attribute_map.items():
            if attr == "additional_properties" and desc["key"] == "":
                continue
            key = desc["key"]
            if not key or "." in key or "\\" in key:
                raise ValueError("flattened or escaped key")
            attrs.append((attr, key, desc["type"]))
        amap = cls._attribute_map
        real_extra = "additional_properties" in amap and amap["additional_properties"].get("key") != ""
        known = None if real_extra else frozenset(d["key"] for d in amap.values() if d["key"] != "")
        plan = (tuple(attrs), known)
    except (AttributeError, KeyError, TypeError, ValueError):
        plan = None
    _READ_PLANS[cls] = plan
    return plan


def _copy_plain_json(value: Any, depth: int = 0) -> Any:
    """A copy of plain JSON (exact dict/list/str/int/float/bool/None types); raises TypeError otherwise."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if depth > _MAX_DEPTH:
        raise TypeError("too deep")
    if kind is dict:
        return {k if type(k) is str else _raise(): _copy_plain_json(v, depth + 1) for k, v in value.items()}
    if kind is list:
        return [_copy_plain_json(v, depth + 1) for v in value]
    raise TypeError("not plain JSON")


def _raise() -> Any:
    raise TypeError("not plain JSON")


# A timestamp as Teams and the Bot Framework write them: '2026-11-28T17:42:13.978Z', '...13.978+00:00'.
_TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)")
_TIMEZONES: dict[str, Any] = {}


def _timestamp(text: str) -> datetime | None:
    """What msrest's deserialize_iso returns (isodate's datetime, with isodate's UTC or FixedOffset) for the
    common form, without its string surgery and isodate's regex and Decimal arithmetic; None for anything else
    (seven fraction digits, lower case, no zone, ...), which then takes msrest's own path."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if not "0001" < year < "9999":  # msrest refuses a time whose UTC year leaves 1..9999: its path decides
        return None
    tz = _TIMEZONES.get(zone)
    if tz is None:
        tz = _TIMEZONES.setdefault(zone, isodate.parse_tzinfo(zone))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=tz)
    except ValueError:  # 31 February, hour 24, year 0: msrest words the error
        return None


class FastDeserializer(Deserializer):
    """msrest's Deserializer with the same results for JSON input, with less work:
    - a model read from a dict uses a per-class plan (each attribute's key looked up once) instead of running
      every key extractor over every attribute;
    - a value of type `object` (channelData, value, an attachment's content) that is plain JSON is copied in one
      pass, where msrest rebuilds it node by node through `eval`.
    Anything else (XML, flattened keys, polymorphic models, custom key extractors) takes msrest's path.
    tests/test_connector_reuse.py checks the results equal msrest's for captured and generated activities."""

    def _deserialize(self, target_obj: Any, data: Any) -> Any:
        if (type(data) is not dict or not self.additional_properties_detection
                or self.key_extractors != [rest_key_extractor, xml_key_extractor]):
            return super()._deserialize(target_obj, data)
        response, class_name = self._classify_target(target_obj, data)
        plan = _read_plan(response) if isinstance(response, type) and issubclass(response, Model) else None
        if plan is None:
            return super()._deserialize(target_obj, data)
        attrs, known = plan
        values = {}
        try:
            for attr, key, attr_type in attrs:
                value = data.get(key)
                # msrest returns None, and an exact str, bool or int of that type, as it is
                if value is None or type(value) is _EXACT.get(attr_type):
                    values[attr] = value
                elif attr_type == "iso-8601" and type(value) is str and (when := _timestamp(value)) is not None:
                    values[attr] = when
                else:
                    values[attr] = self.deserialize_data(value, attr_type)
        except (AttributeError, TypeError, KeyError) as err:
            raise DeserializationError("Unable to deserialize to object: " + class_name) from err
        extra = None if known is None else {k: data[k] for k in data.keys() - known}
        return self._instantiate_model(response, values, extra)

    def deserialize_object(self, attr: Any, **kwargs: Any) -> Any:
        if type(attr) in (dict, list):
            try:
                return _copy_plain_json(attr)
            except TypeError:
                pass
        return super().deserialize_object(attr, **kwargs)


_ACTIVITY_DESERIALIZER: FastDeserializer | None = None


def _is_json(content_type: str | None) -> bool:
    """msrest's RawDeserializer reads a body as JSON when its content type says so, or says nothing."""
    return content_type is None or content_type.split(";")[0].strip().lower() == "application/json"


def json_bytes(body: Any) -> bytes:
    """The request body msrest's ClientRequest.add_content would send (JSON as UTF-8), by orjson: about a tenth of
    json.dumps's cost for a card. Non-ASCII text goes as UTF-8 rather than as \\u escapes (the same JSON). What
    orjson refuses (a key that is not a string, an integer beyond 64 bits) takes json.dumps."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode("utf-8")


def parse_activity(data: dict[str, Any]) -> Activity:
    """`Activity().deserialize(data)`, faster (see FastDeserializer); the same Activity for the same JSON."""
    global _ACTIVITY_DESERIALIZER
    if _ACTIVITY_DESERIALIZER is None:
        _ACTIVITY_DESERIALIZER = FastDeserializer(Activity._infer_class_models())
    return _ACTIVITY_DESERIALIZER("Activity", data)


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
        if resp.status in (200, 201, 202) and _is_json(resp.headers.get("Content-Type")):
            # the usual answer, {"id": "..."}: what msrest's RawDeserializer and Deserializer make of it, without
            # building msrest's request and response objects (a body orjson refuses, a BOM say, takes that path)
            try:
                answer = orjson.loads(content) if content else None
            except orjson.JSONDecodeError:
                pass
            else:
                return self._deserialize("ResourceResponse", answer)
        response = _PooledResponse(ClientRequest("POST", url, headers), resp, content)
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
    inner = ConfigurationBotFrameworkAuthentication(BotConfig(settings), credentials_factory=credentials_factory)
    return ReusingBotFrameworkAuthentication(inner, http)


def build_adapter(settings: Settings, credentials_factory: ServiceClientCredentialsFactory | None = None,
                  http: PooledHttp | None = None) -> CloudAdapter:
    """The stock CloudAdapter over `ReusingBotFrameworkAuthentication`. Authentication is unchanged (the same
    ConfigurationBotFrameworkAuthentication the app used before). `credentials_factory` is for tests
    (bot.auth.FixedTokenCredentialFactory); None means the configured app id/password."""
    return CloudAdapter(build_authentication(settings, credentials_factory, http))


async def close_adapter(adapter: CloudAdapter) -> None:
    """Close the pooled outbound connections (call at app shutdown)."""
    auth = adapter.bot_framework_authentication
    if isinstance(auth, ReusingBotFrameworkAuthentication):
        await auth.close()
