"""Pooled outbound HTTP for the Bot Connector client: one aiohttp session, msrest's pipeline on top of it.

Part of the botbuilder replacements (bot/sdk/__init__.py says why they exist).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
from typing import Any

import aiohttp
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import AsyncClientResponse, ClientRequest
from multidict import CIMultiDict
from requests.utils import requote_uri
from yarl import URL

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


class PooledResponse(AsyncClientResponse):
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
        return Response(request, PooledResponse(http_request, resp, body))


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
