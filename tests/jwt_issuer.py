"""A local stand-in for the Bot Framework token service: OpenID metadata + JWKS on 127.0.0.1, and a minter of
valid and deliberately bad tokens.

The Bot Framework SDK (4.17.1) fetches the metadata and the keys with a *blocking* `requests.get` called from
inside the event loop, so this server runs in its own thread (`http.server` in a daemon thread), never on the
loop of the test that uses it. The SDK also caches the metadata per URL at class level
(`JwtTokenExtractor.metadataCache`), so every `JwtIssuer` listens on a fresh port: a new issuer is a new
URL and never sees another test's cached keys.

What the SDK checks (botframework/connector/auth/jwt_token_extractor.py and _parameterized_...py):
- the unverified `iss` is the configured issuer (TO_BOT_FROM_CHANNEL_TOKEN_ISSUER), else the token is not even
  looked at;
- the header's `kid` names a key in the JWKS (an unknown kid raises IndexError inside the SDK: a 500 from the
  stock adapter);
- when the key carries `endorsements`, the activity's channelId must be one of them (Teams keys carry
  "msteams");
- `alg` is one of RS256/RS384/RS512, and the signature verifies with RS256 against that key;
- `exp` and `nbf` with a 5-minute leeway (so "expired" must be more than 5 minutes ago);
- `aud` equals the bot's app id, `serviceurl` equals the activity's serviceUrl.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CHANNEL_ISSUER = "https://api.botframework.com"  # what Bot Framework channel tokens carry in `iss`
# An issuer the SDK treats as "the Bot Framework Emulator" (an AAD v1 token from the botframework.com tenant).
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
LEEWAY = 5 * 60  # the SDK's clock tolerance, seconds
OTHER_BOT = "99999999-0000-0000-0000-000000000000"
METADATA_PATHS = ("/v1/.well-known/openidconfiguration", "/.well-known/openid-configuration")


# Every kind of Authorization header JwtIssuer.bad_headers produces (test ids).
BAD_KINDS = (
    "no header", "empty header", "not bearer", "lowercase scheme", "bearer without token", "extra space",
    "garbage", "garbage three parts", "expired", "nbf in the future", "alg none", "alg none no signature dot",
    "hs256 with the public key", "unknown kid", "no kid", "foreign key with a known kid",
    "key not endorsed for msteams", "tampered payload", "signature stripped", "wrong aud", "no aud",
    "wrong iss", "no iss", "wrong serviceurl", "no serviceurl", "no exp", "emulator token", "skill token",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    endorsements: list[str] | None = None  # None: the JWK has no endorsements field at all

    @classmethod
    def generate(cls, kid: str, endorsements: list[str] | None = None) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), endorsements)

    def jwk(self) -> dict[str, Any]:
        data = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        data.update({"kid": self.kid, "use": "sig", "kty": "RSA", "alg": "RS256"})
        if self.endorsements is not None:
            data["endorsements"] = list(self.endorsements)
        return data

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet `http.server` handler that answers JSON (the local token servers' common part)."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class JwtIssuer:
    """OpenID metadata at `/v1/.well-known/openidconfiguration` (the path login.botframework.com uses) and
    `/.well-known/openid-configuration`; JWKS at `/v1/.well-known/keys`.

    Knobs for failure tests: `delay` (seconds before each answer), `status` (answer every request with this
    HTTP status instead), `hits` (a Counter of the paths requested)."""

    issuer: str = CHANNEL_ISSUER
    channel_endorsements: tuple[str, ...] = ("msteams", "webchat", "directline")
    delay: float = 0.0
    status: int | None = None
    hits: Counter = field(default_factory=Counter)
    keys: list[SigningKey] = field(default_factory=list)
    foreign_key: SigningKey | None = None  # never published
    base_url: str = ""
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys = [
                SigningKey.generate("bf-key-1", list(self.channel_endorsements)),
                # A published key that is not endorsed for Teams: it must not sign msteams activities.
                SigningKey.generate("bf-key-webchat-only", ["webchat"]),
            ]
        if self.foreign_key is None:
            # An attacker's key that reuses the kid of a real one.
            self.foreign_key = SigningKey.generate(self.keys[0].kid)

    # ------------------------------------------------------------------ server

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/keys"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base_url}/v1/authorize",
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    def start(self) -> JwtIssuer:
        issuer = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                issuer.hits[self.path] += 1
                if issuer.delay:
                    time.sleep(issuer.delay)
                if issuer.status is not None:
                    self._send(issuer.status, {"error": "unavailable"})
                elif self.path in METADATA_PATHS:
                    self._send(200, issuer.metadata())
                elif self.path == "/v1/.well-known/keys":
                    self._send(200, issuer.jwks())
                else:
                    self._send(404, {"error": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"jwt-issuer-{port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def bot_env(self, app_id: str, password: str = "not-used-with-a-fixed-token") -> dict[str, str]:
        """Environment for bot.settings.Settings.from_env: an app id (so authentication is on) and validation
        pointed at this server for channel and emulator tokens alike."""
        return {
            "MicrosoftAppId": app_id,
            "MicrosoftAppPassword": password,
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": self.metadata_url,
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": self.metadata_url,
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": self.issuer,
        }

    # ------------------------------------------------------------------ tokens

    def claims(self, app_id: str, service_url: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        for name, value in overrides.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(self, claims: dict[str, Any], *, key: SigningKey | None = None, kid: Any = "default",
             alg: str = "RS256") -> str:
        key = key or self.key
        headers: dict[str, Any] = {"typ": "JWT"}
        if kid == "default":
            headers["kid"] = key.kid
        elif kid is not None:
            headers["kid"] = kid
        return jwt.encode(claims, key.private_key, algorithm=alg, headers=headers)

    def token(self, app_id: str, service_url: str, **overrides: Any) -> str:
        return self.sign(self.claims(app_id, service_url, **overrides))

    def bearer(self, app_id: str, service_url: str, **overrides: Any) -> str:
        return f"Bearer {self.token(app_id, service_url, **overrides)}"

    def unsigned(self, claims: dict[str, Any]) -> str:
        """alg=none: header.payload. (empty signature)."""
        return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': self.key.kid})}.{_segment(claims)}."

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """The classic algorithm-confusion forgery: HMAC-SHA256 keyed with the RSA public key's PEM, which
        anyone can download from the JWKS. PyJWT refuses to produce it, so it is assembled by hand."""
        signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': self.key.kid})}.{_segment(claims)}"
        mac = hmac.new(self.key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def bad_headers(self, app_id: str, service_url: str) -> dict[str, str | None]:
        """Authorization header values (None = no header at all) that must each be refused, by kind."""
        now = int(time.time())
        good = self.claims(app_id, service_url)
        valid = self.sign(good)
        head, payload, signature = valid.split(".")
        tampered_claims = dict(good, exp=good["exp"] + 86400)  # a longer life, same signature
        webchat_key = next(k for k in self.keys if k.endorsements == ["webchat"])
        return {
            "no header": None,
            "empty header": "",
            "not bearer": f"Basic {base64.b64encode(b'user:pass').decode()}",
            "lowercase scheme": f"bearer {valid}",
            "bearer without token": "Bearer ",
            "extra space": f"Bearer  {valid}",
            "garbage": "Bearer not-a-jwt",
            "garbage three parts": "Bearer aaa.bbb.ccc",
            "expired": f"Bearer {self.token(app_id, service_url, exp=now - LEEWAY - 600, nbf=now - 7200)}",
            "nbf in the future": f"Bearer {self.token(app_id, service_url, nbf=now + LEEWAY + 600)}",
            "alg none": f"Bearer {self.unsigned(good)}",
            "alg none no signature dot": f"Bearer {self.unsigned(good)[:-1]}",
            "hs256 with the public key": f"Bearer {self.hs256_with_public_key(good)}",
            "unknown kid": f"Bearer {self.sign(good, kid='no-such-key')}",
            "no kid": f"Bearer {self.sign(good, kid=None)}",
            "foreign key with a known kid": f"Bearer {self.sign(good, key=self.foreign_key)}",
            "key not endorsed for msteams": f"Bearer {self.sign(good, key=webchat_key)}",
            "tampered payload": f"Bearer {head}.{_segment(tampered_claims)}.{signature}",
            "signature stripped": f"Bearer {head}.{payload}.",
            "wrong aud": f"Bearer {self.token('11111111-2222-3333-4444-555555555555', service_url)}",
            "no aud": f"Bearer {self.token(app_id, service_url, aud=DROP)}",
            "wrong iss": f"Bearer {self.token(app_id, service_url, iss='https://evil.example.com')}",
            "no iss": f"Bearer {self.token(app_id, service_url, iss=DROP)}",
            "wrong serviceurl": f"Bearer {self.token(app_id, 'http://127.0.0.1:1/evil')}",
            "no serviceurl": f"Bearer {self.token(app_id, service_url, serviceurl=DROP)}",
            "no exp": f"Bearer {self.token(app_id, service_url, exp=DROP)}",
            "emulator token": f"Bearer {self.emulator_token(app_id)}",
            "skill token": f"Bearer {self.skill_token(app_id)}",
        }

    def emulator_token(self, app_id: str) -> str:
        """A token the SDK routes down its *emulator* path: an AAD issuer, `appid` = the bot's own app id, no
        `serviceurl`. On that path the SDK checks the issuer list, the signature (against the emulator
        metadata URL's keys: in production, any Entra ID key) and `appid`, but no serviceUrl. Anyone who
        holds the bot's own credentials can obtain such a token."""
        now = int(time.time())
        return self.sign({"iss": EMULATOR_ISSUER, "aud": app_id, "appid": app_id, "ver": "1.0",
                          "nbf": now - 60, "exp": now + 3600})

    def skill_token(self, app_id: str) -> str:
        """A bot-to-bot (skill) token: `ver` present, `appid` (the calling bot) different from `aud` (us)."""
        now = int(time.time())
        return self.sign({"iss": EMULATOR_ISSUER, "aud": app_id, "ver": "1.0", "appid": OTHER_BOT,
                          "nbf": now - 60, "exp": now + 3600})


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # pass as a claim override to remove that claim
