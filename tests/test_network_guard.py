"""The loopback-only guard of tests/conftest.py applies to every test: a test that tries to reach anything but
this machine fails, before a packet or a DNS query leaves."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest


@pytest.mark.parametrize("host", ["example.invalid", "192.0.2.1", "2001:db8::1", b"example.invalid"])
def test_a_lookup_or_connection_off_loopback_is_refused_and_recorded(loopback_only, host):
    with pytest.raises(OSError, match="loopback only"):
        socket.getaddrinfo(host, 443)
    name = host.decode() if isinstance(host, bytes) else host
    with socket.socket(socket.AF_INET6 if ":" in name else socket.AF_INET) as s, pytest.raises(OSError):
        s.connect((name, 443))
    assert loopback_only[0] == name
    loopback_only.clear()  # refused as it should be: this test passes


async def test_an_http_client_is_refused_too(loopback_only):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(session.get("https://login.microsoftonline.com/"), 5)
    assert loopback_only == ["login.microsoftonline.com"]
    loopback_only.clear()


def test_loopback_is_allowed(loopback_only):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert loopback_only == []
