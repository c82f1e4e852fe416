"""How setting values are read (register/config.py): one reader for the bot, the stores and register-admin."""

from __future__ import annotations

import pytest

from register.config import flag, id_list, is_loopback


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), (" YES ", True), ("on", True), ("0", False), ("", False), (None, False),
    ("no", False), ("truthy", False)])
def test_flag(value, expected):
    assert flag(value) is expected


def test_id_list_takes_commas_or_white_space_and_lower_cases():
    assert id_list(" A-1, b-2  C-3,,\n d-4 ") == frozenset({"a-1", "b-2", "c-3", "d-4"})
    assert id_list(None) == id_list(" , ") == frozenset()


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.5.6.7", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("10.0.0.1", False), ("example.org", False), ("", False), (None, False)])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected
