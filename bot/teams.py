"""The Teams edge: translates Bot Framework activities into router requests and replies into activities.

Everything botbuilder-specific about a turn lives here (and the adapter set-up in bot/app.py), so another host
(the Microsoft 365 Agents SDK, say) would replace only this layer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.bot_adapter import BotAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationParameters,
    Mention,
)
from botframework.connector import ConnectorClient
from msrest.serialization import Model

from bot.router import MAX_TEXT, Reply, Request, Router, parse_command
from bot.sdk.serialise import card_message
from cards import messages
from cards.builders import error_card
from register.model import Actor, ConversationRef
from register.outbox import Outbox, SentCopy
from register.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

PERSONAL = "personal"
SHARED = "groupChat"  # what a conversation that does not say it is personal (or a channel) counts as


class AdaptiveCardInvokeBody(Model):
    """The body of an `adaptiveCard/action` invoke response. A msrest Model, so the aiohttp integration serialises
    it once (the SDK's own path in botbuilder 4.17.1 serialises twice and answers 500)."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "object"},
    }

    def __init__(self, *, status_code: int = 200, type: str = "", value: Any = None, **kwargs: Any):  # noqa: A002
        super().__init__(**kwargs)
        self.status_code = status_code
        self.type = type
        self.value = value


CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


def conversation_type(activity: Activity) -> str:
    """personal, groupChat or channel. Fail closed: only a conversation that says it is personal is personal;
    one that does not say (or says something else) is treated as shared, so a reply never lands in front of
    others because a field was missing."""
    conv = activity.conversation
    kind = (conv.conversation_type if conv else None) or ""
    if kind in (PERSONAL, "channel"):
        return kind
    return SHARED


def _object(value: Any) -> dict[str, Any]:
    """A JSON object where the channel should have sent one, else an empty one."""
    return value if isinstance(value, dict) else {}


def tenant_of(activity: Activity) -> str:
    channel_data = _object(activity.channel_data)
    tenant = _object(channel_data.get("tenant"))
    conv_tenant = activity.conversation.tenant_id if activity.conversation else None
    return str(tenant.get("id") or conv_tenant or "")


def actor_of(activity: Activity) -> Actor:
    user = activity.from_property or ChannelAccount()
    return Actor(user_id=str(user.id or ""), aad_object_id=str(user.aad_object_id or ""), name=str(user.name or ""))


LEADING_MENTION = re.compile(r"^\s*<at>[^<]{0,100}</at>", re.IGNORECASE)


def command_text(activity: Activity) -> str:
    """The message text without the bot's @mention (group chats and channels), whitespace trimmed.
    Our own version of TurnContext.remove_recipient_mention, which raises on a missing text or recipient."""
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = activity.recipient.id if activity.recipient is not None else None
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue  # clientInfo and the like: not worth a parse
        try:
            mention = Mention().deserialize(entity.serialize())
        except Exception:  # noqa: BLE001 - a malformed entity is ignored, not fatal
            continue
        if mention.type == "mention" and mention.mentioned and mention.mentioned.id == bot_id and mention.text:
            text = text.replace(mention.text, " ")
    text = LEADING_MENTION.sub(" ", text)  # the mention entity is missing or names the bot differently
    return " ".join(text.replace("\u00a0", " ").split())


class RegisterBot(ActivityHandler):
    def __init__(self, router: Router, store: Store, tenant_allowed: Callable[[str], bool] = lambda _: True,
                 on_refusal: Callable[[Actor, str], Awaitable[None]] | None = None, outbox: Outbox | None = None):
        self.router = router
        self.store = store
        self.outbox = outbox
        self.tenant_allowed = tenant_allowed
        self.on_refusal = on_refusal
        self._saved_refs: set[tuple[str, str]] = set()

    # -- turn entry points ------------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        tenant = tenant_of(activity)
        if not self.tenant_allowed(tenant):
            # Another organisation: no data, nothing stored but the audit of the refusal.
            log.warning("refused an activity from tenant %s (not in REGISTER_TENANTS)", tenant or "(none)")
            if self.on_refusal is not None:
                await self.on_refusal(actor_of(activity), f"tenant {tenant or '(none)'}")
            if activity.type == ActivityTypes.message:
                await turn_context.send_activity(messages.TENANT_NOT_ALLOWED)
            elif activity.type == ActivityTypes.invoke:
                await turn_context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(
                    status=200, body=AdaptiveCardInvokeBody(type=MESSAGE_TYPE, value=messages.TENANT_NOT_ALLOWED))))
            return
        await self._remember_conversation(turn_context)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and not (activity.text or "").strip():
            data = activity.value
            request = self._request(activity, str(data.get("verb") or ""), data=data, via="submit",
                                    card_id=str(activity.reply_to_id or ""))
            reply = await self._dispatch(request, card=True)
        else:
            text = command_text(activity)
            command = parse_command(text)
            if len(text) > MAX_TEXT:
                reply = Reply(card=error_card(messages.TOO_LONG), shared_notice=self.router.notice_for(command.verb))
            else:
                reply = await self._dispatch(self._request(activity, command.verb, command.args))
        await self._deliver(turn_context, reply)

    async def on_invoke_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            # Bot Framework's answer to an invoke a bot does not implement. Not the SDK's handler: for some names
            # (signin/tokenExchange) it calls a method ActivityHandler does not have, and the turn fails.
            return InvokeResponse(status=HTTPStatus.NOT_IMPLEMENTED)
        value = _object(activity.value)
        action = _object(value.get("action"))
        data = _object(action.get("data"))
        via = "refresh" if value.get("trigger") == "automatic" else "execute"
        request = self._request(activity, str(action.get("verb") or data.get("verb") or ""), data=data, via=via,
                                card_id=str(activity.reply_to_id or ""))
        reply = await self._dispatch(request, card=True)
        if not request.is_private:
            return self._invoke_response(AdaptiveCardInvokeBody(type=MESSAGE_TYPE,
                                                                value=await self._privately(turn_context, reply)))
        if reply.card is not None:
            if via == "execute":  # the answer replaces the clicked card: that card is now a copy to keep current
                await self._track(turn_context, reply, request.card_id)
            return self._invoke_response(AdaptiveCardInvokeBody(type=CARD_TYPE, value=reply.card))
        return self._invoke_response(AdaptiveCardInvokeBody(type=MESSAGE_TYPE, value=reply.text or ""))

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        return  # the conversation reference was saved in on_turn

    # -- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _invoke_response(body: AdaptiveCardInvokeBody) -> InvokeResponse:
        # Not ActivityHandler._create_invoke_response: it serialises the body, and the aiohttp integration then
        # serialises it again and answers 500 (a botbuilder 4.17.1 defect). Hand over the Model; it is serialised once.
        return InvokeResponse(status=200, body=body)

    @staticmethod
    def _request(activity: Activity, verb: str, args: str = "", data: dict | None = None, via: str = "text",
                 card_id: str = "") -> Request:
        return Request(
            actor=actor_of(activity),
            conversation_type=conversation_type(activity),
            tenant_id=tenant_of(activity),
            verb=verb.strip().lower()[:64],
            args=args,
            data=data or {},
            via=via,
            card_id=card_id,
        )

    async def _dispatch(self, request: Request, card: bool = False) -> Reply:
        try:
            return await self.router.dispatch(request, card=card)
        except StoreUnavailable:
            log.warning("store unavailable while handling %r", request.verb)
            return Reply(card=error_card(messages.REGISTER_UNAVAILABLE),
                         shared_notice=self.router.notice_for(request.verb, card=card))

    async def _deliver(self, turn_context: TurnContext, reply: Reply) -> None:
        if conversation_type(turn_context.activity) != PERSONAL:
            await turn_context.send_activity(await self._privately(turn_context, reply))
            return
        response = await turn_context.send_activity(self._activity(reply))
        await self._track(turn_context, reply, str(getattr(response, "id", "") or ""))

    async def _track(self, turn_context: TurnContext, reply: Reply, activity_id: str) -> None:
        """Remember where a tracked card now is (the card a click replaced, or the message just sent), so that
        updates reach it too. Best effort: the card in the store is what counts, this only keeps the copy fresh."""
        if not reply.track or not activity_id or self.outbox is None or turn_context.activity.conversation is None:
            return
        reference = TurnContext.get_conversation_reference(turn_context.activity).serialize()
        try:
            await self.outbox.remember(reply.track, SentCopy(str(turn_context.activity.conversation.id),
                                                             activity_id, reference))
        except StoreUnavailable:
            log.warning("could not remember a card copy for later updates")

    async def _privately(self, turn_context: TurnContext, reply: Reply) -> str:
        """Need to know: in a group chat or channel, every reply (a check result, a refusal, "is lifted", "there
        is no entry", the rate-limit notice, help) goes to the asker 1:1, and what the shared conversation is told
        is the same neutral line whatever the outcome, so it cannot tell one outcome from another. Returns that
        line (or, if the asker cannot be messaged 1:1, the line saying so)."""
        delivered = await self._send_privately(turn_context, reply)
        return (reply.shared_notice or messages.RESULT_SENT_PRIVATELY) if delivered \
            else messages.CANNOT_MESSAGE_PRIVATELY

    @staticmethod
    def _activity(reply: Reply) -> Activity:
        if reply.card is not None:
            # a card is sent on its own (no text), so that it can be updated in place later
            return card_message(reply.card)
        return MessageFactory.text(reply.text or "")

    async def _send_privately(self, turn_context: TurnContext, reply: Reply) -> bool:
        """Open (or reuse) the asker's 1:1 chat with the bot and send the reply there."""
        activity = turn_context.activity
        connector: ConnectorClient | None = turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        if connector is None or activity.from_property is None:
            return False
        tenant = tenant_of(activity)
        params = ConversationParameters(
            is_group=False,
            bot=activity.recipient,
            members=[ChannelAccount(id=activity.from_property.id)],
            tenant_id=tenant or None,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        try:
            created = await connector.conversations.create_conversation(params)
            outgoing = self._activity(reply)
            outgoing.from_property = activity.recipient
            outgoing.recipient = activity.from_property
            outgoing.channel_id = activity.channel_id
            outgoing.service_url = activity.service_url
            await connector.conversations.send_to_conversation(created.id, outgoing)
            return True
        except Exception:  # noqa: BLE001 - blocked bot (403), app not installed for the user, connector down
            log.warning("could not message user %s privately", activity.from_property.id, exc_info=True)
            return False

    async def _remember_conversation(self, turn_context: TurnContext) -> None:
        """Save the reference of every user's personal chat (approvals and reminders will message them), once per
        process per conversation, so the hot path does not write on every message."""
        activity = turn_context.activity
        if activity.type not in (ActivityTypes.message, ActivityTypes.installation_update,
                                 ActivityTypes.conversation_update, ActivityTypes.invoke):
            return
        if conversation_type(activity) != PERSONAL or not activity.conversation or not activity.from_property:
            return
        key = (str(activity.from_property.id), str(activity.conversation.id))
        if not key[0] or key in self._saved_refs:
            return
        reference = TurnContext.get_conversation_reference(activity)
        aad = str(activity.from_property.aad_object_id or "")
        saved = ConversationRef(user_id=key[0], tenant_id=tenant_of(activity), aad_object_id=aad,
                                reference=reference.serialize(), updated_at=datetime.now(UTC))
        try:
            await self.store.save_conversation_ref(saved)
            if aad:  # roles are keyed by Entra object id: keep a second key so administrators can be reached
                await self.store.save_conversation_ref(replace(saved, user_id=f"aad:{aad.lower()}"))
            self._saved_refs.add(key)
        except StoreUnavailable:
            log.warning("could not save a conversation reference; will try on the next message")
