"""Settings from environment variables only (secrets included: on App Service use Key Vault references)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from register.config import flag, id_list, is_loopback


def _minutes(name: str, value: str | None, default: float) -> float:
    """0 (off) or a number of minutes up to a day; anything else is refused at start-up with the setting's name."""
    text = (value or "").strip()
    try:
        minutes = float(text) if text else default
    except ValueError:
        raise ValueError(f"{name}={text[:40]!r} is not a number of minutes") from None
    if not (minutes == 0 or 0.001 <= minutes <= 1440):  # NaN fails both
        raise ValueError(f"{name}={text!r}: use 0 (off) or between 0.001 and 1440 minutes")
    return minutes


def _hour(name: str, value: str | None, default: int) -> int | None:
    """An hour of the day (0-23), or None for "off"; anything else refuses to start, naming the setting."""
    text = (value or "").strip().lower()
    if not text:
        return default
    if text == "off":
        return None
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 23:
        raise ValueError(f"{name} must be an hour from 0 to 23, or off (got {value!r})")
    return int(text)


@dataclass(frozen=True)
class Settings:
    app_id: str = ""
    app_password: str = ""
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""
    host: str = "127.0.0.1"
    port: int = 3978
    allow_unauthenticated: bool = False
    demo_if_empty: bool = False
    refresh_seconds: float = 3.0
    tenants: frozenset[str] = frozenset()  # REGISTER_TENANTS: the council's Entra tenant id(s)
    admins: frozenset[str] = frozenset()  # REGISTER_ADMINS: Entra object ids that are always administrators
    checks_per_hour: int = 60  # REGISTER_CHECKS_PER_HOUR: per user, against trawling; 0 turns it off
    seal_minutes: float = 10.0  # REGISTER_SEAL_MINUTES: how often the audit trail is sealed; 0 turns it off
    reviews_hour: int | None = 6  # REGISTER_REVIEWS_HOUR: UTC hour of the daily review run; "off": none in-process
    env: Mapping[str, str] | None = None  # what the store is opened from

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            app_id=env.get("MicrosoftAppId", ""),
            app_password=env.get("MicrosoftAppPassword", ""),
            app_type=env.get("MicrosoftAppType", "") or "MultiTenant",
            app_tenant_id=env.get("MicrosoftAppTenantId", ""),
            host=env.get("REGISTER_HOST", "") or "127.0.0.1",
            port=int(env.get("REGISTER_PORT", "") or 3978),
            allow_unauthenticated=flag(env.get("REGISTER_ALLOW_UNAUTHENTICATED")),
            demo_if_empty=flag(env.get("REGISTER_DEMO")),
            refresh_seconds=float(env.get("REGISTER_REFRESH_SECONDS", "") or 3.0),
            tenants=id_list(env.get("REGISTER_TENANTS")),
            admins=id_list(env.get("REGISTER_ADMINS")),
            checks_per_hour=int(env.get("REGISTER_CHECKS_PER_HOUR", "") or 60),
            seal_minutes=_minutes("REGISTER_SEAL_MINUTES", env.get("REGISTER_SEAL_MINUTES"), 10.0),
            reviews_hour=_hour("REGISTER_REVIEWS_HOUR", env.get("REGISTER_REVIEWS_HOUR"), 6),
            env=env,
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)

    def tenant_allowed(self, tenant_id: str | None) -> bool:
        """With an allow-list, only those tenants (compared case-insensitively; an activity without a tenant id is
        refused). Without one, every tenant only when unauthenticated (local development); an authenticated bot
        without a list allows nobody (and startup_problem refuses to start). The tenant in the body is not covered
        by the JWT: this relies on the connector reporting it truthfully, a second line behind authentication."""
        if not self.tenants:
            return not self.authenticated
        tenant = (tenant_id or "").strip().lower()
        return bool(tenant) and tenant in self.tenants

    def startup_problem(self) -> str | None:
        """Why the bot must not start with these settings, or None."""
        if self.authenticated and not self.tenants:
            return ("MicrosoftAppId is set but REGISTER_TENANTS is empty: any organisation that installs the app "
                    "could query the register. Set REGISTER_TENANTS to the council's Entra tenant id(s).")
        if not self.authenticated and not is_loopback(self.host) and not self.allow_unauthenticated:
            return (f"MicrosoftAppId is not set, so requests are not authenticated, and REGISTER_HOST={self.host} "
                    "is not a loopback address. Set MicrosoftAppId/MicrosoftAppPassword, bind to 127.0.0.1, or set "
                    "REGISTER_ALLOW_UNAUTHENTICATED=1 if something in front of the bot authenticates requests.")
        return None


class BotConfig:
    """The attribute-style configuration ConfigurationBotFrameworkAuthentication reads (APP_ID, ...)."""

    def __init__(self, settings: Settings):
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password
        self.APP_TYPE = settings.app_type
        self.APP_TENANTID = settings.app_tenant_id
        env = settings.env or {}
        for key in ("TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL",
                    "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER", "CHANNEL_SERVICE"):
            if env.get(key):
                setattr(self, key, env[key])
