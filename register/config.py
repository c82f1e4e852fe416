"""How a setting's text is read, once for every reader (bot/settings.py, storage/, admin/cli.py): a flag, a list of
ids, a loopback host. Pure functions on strings; where each value comes from is the caller's business."""

from __future__ import annotations

import ipaddress

_TRUE = frozenset({"1", "true", "yes", "on"})


def flag(value: str | None) -> bool:
    """'1', 'true', 'yes', 'on' (any case, spaces around) are true; anything else, unset included, is false."""
    return (value or "").strip().lower() in _TRUE


def id_list(value: str | None) -> frozenset[str]:
    """Ids separated by commas or white space (REGISTER_TENANTS, REGISTER_ADMINS), lower case."""
    return frozenset(part.lower() for part in (value or "").replace(",", " ").split())


def is_loopback(host: str | None) -> bool:
    """localhost, or an IPv4/IPv6 loopback address (brackets allowed)."""
    host = (host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
