"""The working-document value itself (the store behaviour is in tests/storage_contract.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from register.store import MAX_KEY, Document


@pytest.mark.parametrize("field", ["kind", "partition", "id"])
@pytest.mark.parametrize("bad", ["", "x" * (MAX_KEY + 1), None, 12])
def test_a_document_key_must_be_a_short_non_empty_string(field, bad):
    keys = {"kind": "draft", "partition": "u1", "id": "report", field: bad}
    with pytest.raises(ValueError, match=field):
        Document(keys["kind"], keys["partition"], keys["id"], {})


def test_a_kind_cannot_contain_the_partition_separator():
    with pytest.raises(ValueError, match="kind"):
        Document("draft|x", "u1", "report", {})


def test_an_expiry_must_say_its_time_zone():
    with pytest.raises(ValueError, match="timezone"):
        Document("draft", "u1", "r", {}, expires_at=datetime(2026, 12, 2, 12, 0))


def test_expired_from_the_moment_of_expiry():
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    doc = Document("draft", "u1", "r", {}, expires_at=at)
    assert not doc.expired(at - timedelta(microseconds=1))
    assert doc.expired(at)
    assert not Document("draft", "u1", "r", {}).expired(at + timedelta(days=10_000))


DAMAGED = {
    "incident": "from register.model import Incident as K; K.from_dict({'ref': 'INC-2026-0001', 'address': None})",
    "audit": "from register.model import AuditRecord as K; K.from_dict({'id': 'a1', 'actor': {}})",
    "conversation reference": "from register.model import ConversationRef as K; K.from_dict({'user_id': 'u1'})",
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
@pytest.mark.parametrize("flags", [[], ["-O"]])
def test_a_stored_document_missing_its_date_is_refused_even_under_python_O(kind, flags):  # noqa: N802 - `-O`
    import subprocess
    import sys

    code = f"from register.model import InvalidDocument\ntry:\n    {DAMAGED[kind]}\nexcept InvalidDocument as e:\n" \
           "    print('refused:', e)\nelse:\n    print('accepted')"
    out = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().startswith(f"refused: {kind} document without"), out.stdout + out.stderr
