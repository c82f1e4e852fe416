"""The durable outbox over real stores: queued once, claimed by one instance at a time, retried with backoff,
given up and kept aside when undeliverable, and sent cards remembered for later updates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from register.outbox import BACKOFF, LEASE, MAX_ATTEMPTS, Message, Outbox, SentCopy
from storage.cosmos import CosmosStore
from storage.sqlite import SQLiteStore

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(tmp_path):
    s = await SQLiteStore.open(tmp_path / "register.db")
    yield s
    await s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox(store, clock):
    store.clock = clock
    return Outbox(store, clock)


async def test_a_message_is_queued_once_and_delivered_once(outbox: Outbox):
    card = {"type": "AdaptiveCard", "version": "1.5", "body": []}
    message = Message("card", to="aad-mgr", card=card, track="approval:INC-1", id="approval:INC-1")
    assert await outbox.put(message) is True
    assert await outbox.put(message) is False  # a retried decision queues nothing more
    [due] = await outbox.due()
    claimed = await outbox.claim(due)
    assert claimed is not None and claimed[0].card == card
    assert await outbox.claim(due) is None  # the same version cannot be claimed twice
    assert await outbox.due() == []  # leased
    await outbox.delivered(claimed[0], SentCopy("conv-1", "act-9", {"conversation": {"id": "conv-1"}}))
    assert await outbox.due() == []
    assert await outbox.copies("approval:INC-1") == [SentCopy("conv-1", "act-9", {"conversation": {"id": "conv-1"}})]


async def test_a_lease_that_runs_out_lets_another_instance_deliver(outbox: Outbox, clock: Clock):
    await outbox.put(Message("text", to="aad-1", text="hello"))
    [due] = await outbox.due()
    assert await outbox.claim(due) is not None
    clock.now = NOW + LEASE + timedelta(seconds=1)  # the first instance died while sending
    [again] = await outbox.due()
    assert await outbox.claim(again) is not None


async def test_failures_back_off_then_give_up_and_keep_the_message_aside(outbox: Outbox, clock: Clock):
    await outbox.put(Message("text", to="aad-1", text="hello", id="m1"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [due] = await outbox.due()
        message, etag = await outbox.claim(due)
        gave_up = await outbox.failed(message, etag, f"503 attempt {attempt}")
        assert gave_up is (attempt == MAX_ATTEMPTS)
        if not gave_up:
            assert await outbox.due() == []  # not before its backoff
            clock.now += BACKOFF[min(attempt - 1, len(BACKOFF) - 1)]
    assert await outbox.due() == []
    [kept] = await outbox.given_up()
    assert kept.id == "m1" and kept.attempts == MAX_ATTEMPTS and "503" in kept.last_error


async def test_a_permanent_failure_is_given_up_at_once(outbox: Outbox):
    await outbox.put(Message("card", to="aad-never-talked", card={}, id="m2"))
    [due] = await outbox.due()
    message, etag = await outbox.claim(due)
    assert await outbox.failed(message, etag, "no conversation with the user", permanent=True) is True
    assert [m.id for m in await outbox.given_up()] == ["m2"]


async def test_a_damaged_message_is_refused_not_misread():
    with pytest.raises(ValueError, match="kind"):
        Message.from_dict({"id": "x", "kind": "telegram"})


@pytest.mark.cosmos
async def test_two_instances_claim_each_message_once(fresh_cosmos_env, clock):
    a, b = await CosmosStore.from_env(fresh_cosmos_env), await CosmosStore.from_env(fresh_cosmos_env)
    try:
        a.clock = b.clock = clock
        one, two = Outbox(a, clock), Outbox(b, clock)
        for n in range(5):
            await one.put(Message("text", to=f"aad-{n}", text="hello", id=f"m{n}"))

        async def take(box: Outbox) -> list[str]:
            taken = []
            for saved in await box.due():
                claimed = await box.claim(saved)
                if claimed is not None:
                    taken.append(claimed[0].id)
            return taken

        first, second = await asyncio.gather(take(one), take(two))
        assert sorted(first + second) == [f"m{n}" for n in range(5)]
        assert not set(first) & set(second)
    finally:
        await a.close()
        await b.close()
