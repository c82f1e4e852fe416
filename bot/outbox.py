"""Delivering the durable outbox (register/outbox.py) through the Bot Framework connector.

Runs in the background of every bot instance: woken at once when a reply queued something (lazy listeners: the
click is answered first, the messages to other people go after), and every few seconds otherwise, so what an
instance queued before it died is delivered by another. A person is reached in their personal chat with the bot,
through the conversation reference saved when they last wrote to it; someone the bot has never talked to (or who
blocked it) cannot be reached: the message is given up and the administrators are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.bot_adapter import BotAdapter
from botbuilder.schema import ConversationReference

from bot.sdk.serialise import card_message
from register.outbox import Message, Outbox, SentCopy
from register.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0


class Undeliverable(Exception):
    """Retrying will not help: no conversation with that person, or they blocked the bot."""


class OutboxWorker:
    def __init__(self, adapter: BotAdapter, store: Store, outbox: Outbox, app_id: str,
                 on_given_up: Callable[[Message], Awaitable[None]] | None = None,
                 interval: float = INTERVAL_SECONDS,
                 render: Callable[[Message], Awaitable[tuple[dict | None, str]]] | None = None):
        self.adapter = adapter
        self.store = store
        self.outbox = outbox
        self.app_id = app_id
        self.on_given_up = on_given_up
        self.interval = interval
        self.render = render
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """For ever (a background task): deliver what is due, then wait to be woken or for the interval."""
        while True:
            try:
                await self.deliver_due()
            except StoreUnavailable:
                log.warning("outbox: the store is unavailable; will retry")
            except Exception:  # noqa: BLE001 - the worker must survive anything one message does
                log.warning("outbox: delivery round failed; will retry", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Deliver every message that is due and not leased by another instance; how many were delivered."""
        delivered = 0
        async with self._busy:
            for saved in await self.outbox.due():
                claimed = await self.outbox.claim(saved)
                if claimed is None:
                    continue  # another instance has it
                message, etag = claimed
                try:
                    copy = await self._send(message)
                except Undeliverable as exc:
                    log.warning("outbox: message %s cannot be delivered: %s", message.id, exc)
                    if await self.outbox.failed(message, etag, str(exc), permanent=True) and self.on_given_up:
                        await self.on_given_up(message)
                    continue
                except Exception as exc:  # noqa: BLE001 - connector down, throttled, ...: retried with backoff
                    log.warning("outbox: message %s failed (%s); will retry", message.id, exc.__class__.__name__)
                    if await self.outbox.failed(message, etag, exc.__class__.__name__) and self.on_given_up:
                        await self.on_given_up(message)
                    continue
                await self.outbox.delivered(message, copy)
                delivered += 1
        return delivered

    async def _send(self, message: Message) -> SentCopy | None:
        if message.template and self.render is not None:
            card, text = await self.render(message)
            if card is None and not text:
                raise Undeliverable(f"nothing to show for {message.template} {message.subject}")
            message = replace(message, card=card, text=text, template="")
        if message.kind == "update":
            for copy in await self.outbox.copies(message.track):
                await self._continue(copy.reference, functools.partial(self._update, copy=copy, message=message))
            return None
        saved = await self.store.get_conversation_ref(f"aad:{message.to.lower()}")
        if saved is None:
            raise Undeliverable("the bot has no conversation with this person yet")
        sent: list[str] = []

        async def send(turn_context: TurnContext) -> None:
            activity = card_message(message.card) if message.card is not None else MessageFactory.text(message.text)
            response = await turn_context.send_activity(activity)
            sent.append(str(getattr(response, "id", "") or ""))

        await self._continue(saved.reference, send)
        conversation = (saved.reference.get("conversation") or {}).get("id", "")
        return SentCopy(str(conversation), sent[0] if sent else "", saved.reference)

    @staticmethod
    async def _update(turn_context: TurnContext, copy: SentCopy, message: Message) -> None:
        activity = card_message(message.card or {})
        activity.id = copy.activity_id
        await turn_context.update_activity(activity)

    async def _continue(self, reference: dict, callback: Callable[[TurnContext], Awaitable[None]]) -> None:
        try:
            await self.adapter.continue_conversation(ConversationReference().deserialize(reference), callback,
                                                     bot_app_id=self.app_id or None)
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(exc, "status_code", None)
            if status == 403 or "MessageWritesBlocked" in str(exc):
                raise Undeliverable("the person has blocked the bot") from exc
            raise
