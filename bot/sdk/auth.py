"""Authentication of requests to /api/messages, around the Bot Framework SDK (4.17.1).

Why this exists (a security defect of botbuilder 4.17.1): with an app id configured, the stock
`CloudAdapter.process` answers **500**, not 401, to a request with no Authorization header or with a
forged, expired, alg=none or unknown-key token, because the SDK lets AttributeError, IndexError and PyJWT
errors escape. Here every authentication failure becomes `None` from `authenticate` and a bare 401 from
`process_authenticated`, and the reason is logged as a *kind* only (never the token, never claims).

On top of the SDK's own checks, a request that carries a token must also:
- come from an allowed channel (default: Teams only), so the SDK's key-endorsement check always applies;
- carry a token whose `serviceurl` claim equals the activity's serviceUrl. The SDK checks this only on
  its channel-token path. On its *emulator* path it accepts any Entra ID token from a Bot Framework or
  Microsoft issuer whose `appid` is the bot's own app id (so, anyone holding the bot's credentials can mint
  one), with no serviceUrl binding: that request would run a turn as any user it names and make the bot
  send its own bearer token to any serviceUrl. Teams always sends channel tokens, so that path is closed;
- carry an `exp` claim (PyJWT, as the SDK calls it, accepts a token without one).

Blocking I/O: the SDK fetches the OpenID metadata and the signing keys with a blocking `requests.get` (no
timeout) from inside the coroutine that validates the token: once a day per metadata URL, and again (at
most hourly) when a token names an unknown key id. `install_off_loop_key_refresh` (called once at start-up,
when the adapter is built) replaces the SDK's per-URL metadata cache entry class with one that does
that fetch on a small thread pool, with timeouts, one fetch at a time per URL, a short back-off after a
failure, and the cached keys kept (for up to `MAX_STALE_KEYS`) when a daily refresh fails. Validation
itself stays on the event loop (~0.3 ms of CPU, mostly PyJWT); the loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import jwt
import requests
from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth import jwt_token_extractor as _sdk_jwt
from msrest.serialization import Model

from bot.sdk.serialise import parse_activity

log = logging.getLogger("register.auth")

TEAMS_CHANNEL = "msteams"
TEAMS_CHANNELS: frozenset[str] = frozenset({TEAMS_CHANNEL})
ALLOWED_ALGORITHMS: frozenset[str] = frozenset(AuthenticationConstants.ALLOWED_SIGNING_ALGORITHMS)
_ANONYMOUS = AuthenticationConstants.ANONYMOUS_AUTH_TYPE
_SERVICE_URL_CLAIM = AuthenticationConstants.SERVICE_URL_CLAIM
KEY_FETCH_TIMEOUT_SECONDS = 5.0  # per HTTP request (connect, then read), off the event loop
KEY_WAIT_SECONDS = 5.0  # how long a request waits for a key refresh before it is refused (Teams: ~10-15 s)
RETRY_AFTER_FAILURE_SECONDS = 10.0  # after a failed refresh, no new attempt (and no waiting) before this
MAX_STALE_KEYS = timedelta(days=3)  # cached keys still used while refreshes fail, up to this age


# ---------------------------------------------------------------- the SDK's blocking key refresh

_key_fetcher: ThreadPoolExecutor | None = None


def _fetcher() -> ThreadPoolExecutor:
    """The key-fetch threads, created on first use (no threads exist until a refresh is needed)."""
    global _key_fetcher
    if _key_fetcher is None:
        _key_fetcher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bf-keys")
    return _key_fetcher


class _Refused(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class _OffLoopOpenIdMetadata(_sdk_jwt._OpenIdMetadata):
    """The SDK's per-URL cache of signing keys (`jwt_token_extractor._OpenIdMetadata`), with `_refresh`
    moved off the event loop. The SDK decides *when* to refresh (keys older than a day; an unknown key id,
    at most hourly); this decides *how*."""

    keys: list[dict[str, Any]]  # the SDK's attributes, set by its __init__
    last_updated: datetime

    def __init__(self, url: str):
        super().__init__(url)
        self._lock = threading.Lock()
        self._retry_at = 0.0  # time.monotonic()

    async def _refresh(self) -> None:
        if time.monotonic() < self._retry_at:
            self._keep_stale_or_fail()
            return
        future = _fetcher().submit(self._fetch, self.last_updated)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), KEY_WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - timeout or fetch failure: fall back to recent keys, if any
            self._keep_stale_or_fail()

    def _keep_stale_or_fail(self) -> None:
        if self.keys and self.last_updated > datetime.now() - MAX_STALE_KEYS:
            return
        raise _Refused("signing keys unavailable")

    def _fetch(self, seen: datetime) -> None:
        """On a worker thread. One fetch at a time per URL; a fetch that someone else finished meanwhile
        is not repeated."""
        with self._lock:
            if self.last_updated != seen:
                return
            try:
                response = requests.get(self.url, timeout=KEY_FETCH_TIMEOUT_SECONDS)
                response.raise_for_status()
                keys_response = requests.get(response.json()["jwks_uri"], timeout=KEY_FETCH_TIMEOUT_SECONDS)
                keys_response.raise_for_status()
                keys = [k for k in keys_response.json()["keys"] if isinstance(k, dict) and k.get("kid")]
                if not keys:
                    raise ValueError("no signing keys")
            except Exception as exc:
                self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
                log.warning("could not refresh the token signing keys (%s); %s", exc.__class__.__name__,
                            "keeping the cached keys" if self.keys else "no keys cached")
                raise
            self.keys = keys
            self.last_updated = datetime.now()
            self._retry_at = 0.0


def install_off_loop_key_refresh() -> None:
    """Make the SDK fetch signing keys off the event loop. Idempotent; called once at start-up when the adapter
    is built (bot/sdk/connector.py build_authentication), not lazily by the first request.

    Rebinds `botframework.connector.auth.jwt_token_extractor._OpenIdMetadata`, which
    `JwtTokenExtractor.get_open_id_metadata` instantiates once per metadata URL, and converts any entry
    already in `JwtTokenExtractor.metadataCache`. These are private names of an archived SDK pinned at its
    last release (4.17.1); should they ever change, this class definition or this function fails loudly
    rather than letting the bot run with the blocking fetch."""
    if _sdk_jwt._OpenIdMetadata is _OffLoopOpenIdMetadata:
        return
    cache = _sdk_jwt.JwtTokenExtractor.metadataCache
    if not isinstance(cache, dict):
        raise RuntimeError("botframework's JwtTokenExtractor.metadataCache is no longer a dict")
    _sdk_jwt._OpenIdMetadata = _OffLoopOpenIdMetadata
    for url, entry in list(cache.items()):
        if not isinstance(entry, _OffLoopOpenIdMetadata):
            replacement = _OffLoopOpenIdMetadata(url)
            replacement.keys, replacement.last_updated = entry.keys, entry.last_updated
            cache[url] = replacement


# ---------------------------------------------------------------- classification of failures

def _kind_of(exc: BaseException) -> str:
    """A short, fixed description of why validation failed. Never includes the token or its claims."""
    if isinstance(exc, _Refused):
        return exc.kind
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not yet valid"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "disallowed algorithm"
    if isinstance(exc, jwt.DecodeError):
        return "malformed token"
    if isinstance(exc, jwt.InvalidTokenError):
        return "invalid token"
    if isinstance(exc, requests.RequestException | KeyError):
        return "signing keys unavailable"  # metadata/JWKS unreachable, HTTP error or not the expected JSON
    if isinstance(exc, IndexError):
        return "unknown signing key"  # the SDK's key lookup is `[...][0]`
    if isinstance(exc, PermissionError):
        return "claims refused (issuer, audience or serviceurl)"
    # The SDK raises bare Exceptions for a key not endorsed for the activity's channel and for a disallowed
    # algorithm (pre-checked above). Never classified by message text: the decision never depends on this.
    return f"token refused by the SDK ({exc.__class__.__name__}; e.g. key not endorsed for the channel)"


def _refuse(kind: str) -> None:
    log.warning("refused an unauthenticated request to /api/messages: %s", kind)


# ---------------------------------------------------------------- authenticate

def _segment(data: str) -> dict[str, Any]:
    decoded = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    return decoded


def _unverified(auth_header: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The token's header, claims and segments, NOT verified (for pre-checks only)."""
    parts = auth_header.split(" ")
    if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
        raise _Refused("malformed Authorization header")
    segments = parts[1].split(".")
    if len(segments) != 3:
        raise _Refused("malformed token")
    try:
        header, claims = _segment(segments[0]), _segment(segments[1])
    except (ValueError, binascii.Error):  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _Refused("malformed token") from None
    return header, claims, segments


def _precheck(auth_header: str, activity: Activity, channel_ids: frozenset[str]) -> None:
    """Cheap checks on the *unverified* token, so junk costs no signature check and no key refresh, and the
    log says precisely what was wrong. The SDK still does the real validation afterwards."""
    if activity.channel_id not in channel_ids:
        raise _Refused("channel not allowed")
    if not activity.service_url:
        raise _Refused("activity has no serviceUrl")
    header, claims, segments = _unverified(auth_header)
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise _Refused("disallowed algorithm")
    if not segments[2]:
        raise _Refused("no signature")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise _Refused("no key id")
    if not isinstance(claims.get("iss"), str) or not claims["iss"]:
        raise _Refused("no issuer")
    if claims.get(_SERVICE_URL_CLAIM) != activity.service_url:
        raise _Refused("serviceurl claim mismatch (or not a channel token)")


def _postcheck(result: AuthenticateRequestResult | None, activity: Activity) -> AuthenticateRequestResult:
    identity = result.claims_identity if result is not None else None
    if result is None or identity is None or not identity.is_authenticated:
        raise _Refused("no identity")
    if identity.authentication_type == _ANONYMOUS:
        raise _Refused("anonymous identity for a request that carried a token")
    claims = identity.claims or {}
    if claims.get(_SERVICE_URL_CLAIM) != activity.service_url:
        raise _Refused("serviceurl claim mismatch (or not a channel token)")
    if "exp" not in claims:
        raise _Refused("no expiry")
    if result.connector_factory is None:
        raise _Refused("no connector factory")
    return result


async def authenticate(
    bfa: BotFrameworkAuthentication,
    activity: Activity,
    auth_header: str | None,
    *,
    channel_ids: Iterable[str] = TEAMS_CHANNELS,
) -> AuthenticateRequestResult | None:
    """Authenticate one inbound activity. Returns the SDK's AuthenticateRequestResult (pass it to
    `adapter.process_activity`), or None for *any* failure; never raises for a bad request.

    - No app id configured (the SDK's "authentication disabled"): the SDK's anonymous result, as the stock
      adapter gives, whatever the Authorization header says (nothing could validate it, and no key fetch
      is attempted). Settings only lets that mode run on loopback.
    - An app id configured: no header is a refusal; a header goes through pre-checks on the unverified
      token, the SDK's validation, then the extra checks described in the module docstring.
    """
    # Ask the SDK for the anonymous result first: it gives one only when authentication is disabled, and
    # otherwise raises PermissionError at once (no I/O either way).
    try:
        anonymous = await bfa.authenticate_request(activity, None)
    except PermissionError:
        anonymous = None
    except Exception as exc:  # noqa: BLE001 - every failure is a refusal
        _refuse(f"anonymous request not accepted ({exc.__class__.__name__})")
        return None
    if anonymous is not None:
        identity = anonymous.claims_identity
        if identity is not None and identity.authentication_type == _ANONYMOUS:
            return anonymous
        _refuse("unexpected result for an anonymous request")
        return None

    if not auth_header:
        _refuse("missing Authorization header")
        return None
    try:
        _precheck(auth_header, activity, frozenset(channel_ids))
        return _postcheck(await bfa.authenticate_request(activity, auth_header), activity)
    except Exception as exc:  # noqa: BLE001 - every failure is a refusal, logged by kind only
        _refuse(_kind_of(exc))
        return None


async def authenticate_caller(
    bfa: BotFrameworkAuthentication,
    auth_header: str | None,
    *,
    channel_id: str = TEAMS_CHANNEL,
) -> AuthenticateRequestResult | None:
    """With an app id: authenticate the token on its own, before the request body is read, so that a caller
    without a valid token learns nothing (not even whether its body would have been accepted: a bare 401
    whatever the body or its content type). The token is validated exactly as `authenticate` does, against the
    serviceUrl its own `serviceurl` claim names and the given channel; `bound_to` then checks, once the body is
    parsed, that the activity is the one the token was issued for. None for any failure."""
    if not auth_header:
        _refuse("missing Authorization header")
        return None
    try:
        claims = _unverified(auth_header)[1]
    except _Refused as exc:
        _refuse(exc.kind)
        return None
    claimed = claims.get(_SERVICE_URL_CLAIM)
    probe = Activity(channel_id=channel_id, service_url=claimed if isinstance(claimed, str) else None)
    return await authenticate(bfa, probe, auth_header, channel_ids={channel_id})


def bound_to(result: AuthenticateRequestResult, activity: Activity,
             channel_ids: Iterable[str] = TEAMS_CHANNELS) -> bool:
    """Whether an activity is the one `authenticate_caller`'s token speaks for: an allowed channel, and the
    serviceUrl the token signs (so the bot never sends its own token anywhere else)."""
    try:
        if activity.channel_id not in frozenset(channel_ids):
            raise _Refused("channel not allowed")
        _postcheck(result, activity)
    except _Refused as exc:
        _refuse(exc.kind)
        return False
    return True


# ---------------------------------------------------------------- the /api/messages body

async def process_authenticated(
    adapter: CloudAdapter,
    bfa: BotFrameworkAuthentication | None,
    request: web.Request,
    activity_dict: dict[str, Any],
    bot: Any,
    *,
    caller: AuthenticateRequestResult | None = None,
) -> web.Response:
    """What `CloudAdapter.process` does for a POST, with authentication that answers 401 instead of 500.

    `activity_dict` is the already-parsed, already-validated JSON body (bot.app.validate_activity). `bfa`
    must be the adapter's own BotFrameworkAuthentication (None means `adapter.bot_framework_authentication`).
    `caller` is `authenticate_caller`'s result when the token was checked before the body was read; the activity
    must then be bound to it (`bound_to`), else 401.
    Answers: 400 if the body does not deserialise to an activity with a type; 401 with an empty body if
    authentication fails; the invoke response as JSON (its body serialised once, with the SDK's
    serializer_helper); else 201. Errors raised by the turn itself are not caught here (the adapter's
    on_turn_error handles turn errors)."""
    bfa = bfa or adapter.bot_framework_authentication
    try:
        activity = parse_activity(activity_dict)
    except Exception:  # noqa: BLE001 - msrest raises several kinds of error for a wrongly-typed body
        return web.json_response({"error": "the body is not an activity"}, status=400)
    if not activity.type:
        return web.json_response({"error": "the activity has no type"}, status=400)

    if caller is not None:  # the token was checked before the body was read (authenticate_caller)
        result = caller if bound_to(caller, activity) else None
    else:
        result = await authenticate(bfa, activity, request.headers.get("Authorization"))
    if result is None:
        return unauthorized()

    invoke_response = await adapter.process_activity(result, activity, bot.on_turn)
    if invoke_response:
        body = invoke_response.body
        if isinstance(body, Model):
            body = serializer_helper(body)
        return web.json_response(data=body, status=invoke_response.status)
    return web.Response(status=201)


def unauthorized() -> web.Response:
    """401 with an empty body. `WWW-Authenticate: Bearer` (RFC 7235 requires the header) names the scheme
    only."""
    return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})


# ---------------------------------------------------------------- outbound credentials for tests

class _FixedTokenCredentials(AppCredentials):
    def __init__(self, app_id: str, token: str, oauth_scope: str | None):
        super().__init__(app_id=app_id, oauth_scope=oauth_scope)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class FixedTokenCredentialFactory(ServiceClientCredentialsFactory):
    """Outbound credentials that send `Authorization: Bearer <token>` without asking Microsoft Entra for a
    token. For tests and local development only: pass it to ConfigurationBotFrameworkAuthentication(...,
    credentials_factory=...). Nothing reads it from the environment, so production cannot select it by
    configuration; if it were wired in by mistake, the connector would refuse the fixed token (inbound
    validation depends on it only for the app id it holds)."""

    def __init__(self, app_id: str, token: str):
        if not app_id or not token:
            raise ValueError("FixedTokenCredentialFactory needs an app id and a token")
        self.app_id = app_id
        self.token = token

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        if app_id != self.app_id:
            raise PermissionError("credentials requested for another app id")
        return _FixedTokenCredentials(app_id, self.token, oauth_scope)
