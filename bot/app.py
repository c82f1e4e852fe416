"""The aiohttp application: POST /api/messages (Bot Framework CloudAdapter), GET /healthz, GET /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botframework.connector.auth import ServiceClientCredentialsFactory

from bot.handlers import build_router
from bot.outbox import OutboxWorker
from bot.sdk.auth import authenticate_caller, process_authenticated, unauthorized
from bot.sdk.connector import build_adapter, close_adapter
from bot.settings import Settings, is_loopback
from bot.teams import RegisterBot
from cards import messages
from cards.builders import error_card
from cards.review import appeal_card, review_card
from register.demo import load_demo
from register.model import Actor
from register.outbox import Message as OutboxMessage
from register.outbox import Outbox
from register.permissions import Role
from register.reviews import Reviews, next_run
from register.sealing import keep_sealed
from register.service import Register, utc_now
from register.store import Store, StoreUnavailable
from storage import describe, open_store

log = logging.getLogger("register.bot")

MAX_BODY = 256 * 1024
SYSTEM = Actor(user_id="system:register-bot", name="Register bot")

STORE = web.AppKey("store", Store)
REGISTER = web.AppKey("register", Register)
ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", RegisterBot)
SETTINGS = web.AppKey("settings", Settings)
OUTBOX_WORKER = web.AppKey("outbox_worker", OutboxWorker)


def bad_request(reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=400)


def validate_activity(body: bytes, settings: Settings) -> tuple[dict[str, Any] | None, str]:
    """Return (activity, "") or (None, reason). The stock adapter answers 500 to malformed JSON and to several
    wrongly-typed fields; we answer 400 before it sees them."""
    try:
        data = orjson.loads(body)  # stricter than json.loads: NaN, lone surrogates and huge integers are refused
    except ValueError:
        return None, "the body is not JSON"
    if not isinstance(data, dict):
        return None, "the body is not an activity"
    kind = data.get("type")
    if not isinstance(kind, str) or not kind.strip():
        return None, "the activity has no type"
    for key in ("id", "text", "serviceUrl", "channelId", "name", "replyToId", "locale", "textFormat"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            return None, f"{key} must be a string"
    for key in ("from", "recipient", "conversation"):
        part = data.get(key)
        if part is not None and not isinstance(part, dict):
            return None, f"{key} must be an object"
        if isinstance(part, dict) and part.get("id") is not None and not isinstance(part.get("id"), str):
            return None, f"{key}.id must be a string"
    for key in ("entities", "attachments", "membersAdded", "membersRemoved"):
        if key in data and data[key] is not None and not (
            isinstance(data[key], list) and all(isinstance(x, dict) for x in data[key])
        ):
            return None, f"{key} must be a list of objects"
    if "channelData" in data and data["channelData"] is not None and not isinstance(data["channelData"], dict):
        return None, "channelData must be an object"
    if kind in ("message", "invoke"):
        service_url = data.get("serviceUrl")
        conversation = data.get("conversation") or {}
        sender = data.get("from") or {}
        recipient = data.get("recipient") or {}
        if not service_url or not conversation.get("id") or not sender.get("id") or not recipient.get("id"):
            return None, "a message needs serviceUrl, conversation.id, from.id and recipient.id"
        if kind == "invoke" and not (isinstance(data.get("name"), str) and data["name"].strip()):
            return None, "an invoke needs a name"
        parts = urlsplit(service_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None, "serviceUrl is not an http(s) URL"
        if not settings.authenticated and not is_loopback(parts.hostname):
            # Unauthenticated mode is for loopback only: never let an unsigned request make us call out.
            return None, "serviceUrl must be a loopback address when the bot runs without authentication"
    return data, ""


async def messages_endpoint(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    adapter = request.app[ADAPTER]
    caller = None
    if settings.authenticated:
        # Authenticate before anything else: without a valid token, a bare 401 whatever the body or its content
        # type (nothing is read, parsed or explained). Our own wrapper: never the stock adapter's 500 (botbuilder
        # 4.17.1 lets the error escape).
        caller = await authenticate_caller(adapter.bot_framework_authentication, request.headers.get("Authorization"))
        if caller is None:
            return unauthorized()
    if request.content_type != "application/json":
        return web.json_response({"error": "send application/json"}, status=415)
    body = await request.read()
    activity, reason = validate_activity(body, settings)
    if activity is None:
        log.info("refused a request to /api/messages: %s", reason)
        return bad_request(reason)
    return await process_authenticated(adapter, adapter.bot_framework_authentication, request, activity,
                                       request.app[BOT], caller=caller)


# What the unauthenticated endpoints answer: constant bodies, so that anyone who can reach them learns whether the
# bot is up and ready, and nothing about the register (its size, when it grows, what is missing: those go to the log).
ALIVE = {"status": "ok"}
READY = {"ready": True}
NOT_READY = {"ready": False}


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(ALIVE)


async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[STORE].ping(), timeout=2.0)
    except (StoreUnavailable, TimeoutError) as exc:
        # The details (endpoint, what is missing) go to the log, not to whoever can reach this URL.
        log.warning("not ready: %s", exc or "the store did not answer in 2 s")
        return web.json_response(NOT_READY, status=503)
    if not request.app[REGISTER].loaded:
        log.warning("not ready: the register has not loaded yet")
        return web.json_response(NOT_READY, status=503)
    return web.json_response(READY)


async def keep_reviewing(reviews: Reviews, hour: int, wake: Callable[[], None]) -> None:
    """Once at start (a day missed while the bot was down is caught up) and then daily at `hour` UTC. Every
    instance runs it: each reminder, notice and expiry is claimed in the store, so each happens once."""
    while True:
        try:
            done = await reviews.run(SYSTEM)
            if done.reminded or done.expired or done.overdue:
                log.info("reviews: %d reminded, %d expired", len(done.reminded), len(done.expired))
                wake()
        except Exception:  # noqa: BLE001 - the scheduler must survive an outage; tomorrow's run catches up
            log.warning("the review run failed; it runs again at the next hour", exc_info=True)
        now = reviews.register.clock()
        await asyncio.sleep(max(1.0, (next_run(now, hour) - now).total_seconds()))


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    log.error("unhandled error in a turn: %s", error.__class__.__name__, exc_info=error)
    with contextlib.suppress(Exception):
        card = CardFactory.adaptive_card(error_card(messages.SOMETHING_WENT_WRONG))
        await context.send_activity(MessageFactory.attachment(card))


def create_app(settings: Settings, store: Store | None = None, *,
               credentials_factory: ServiceClientCredentialsFactory | None = None,
               clock: Callable[[], datetime] = utc_now) -> web.Application:
    """`credentials_factory` replaces how outbound calls get their token (tests: a fixed token, so nothing
    contacts Microsoft); by default the app id and password from the settings. `clock` is the register's (tests)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application):
        app[STORE] = store if store is not None else await open_store(settings.env)
        register = Register(app[STORE], clock, checks_per_hour=settings.checks_per_hour,
                            bootstrap_admins=settings.admins)
        app[REGISTER] = register
        try:
            await app[STORE].ping()
            if settings.demo_if_empty:
                log.info(await load_demo(register, SYSTEM, only_if_empty=True))
            await register.refresh()
        except StoreUnavailable as exc:
            # Start anyway, not ready: /readyz says 503, checks answer "unavailable" (never a clear from an empty
            # index) and the poller keeps trying. The message says what is missing and how to fix it.
            log.error("the register store is not ready: %s", exc)
        # The index is long-lived: keep the garbage collector from walking it again and again (a full collection
        # over 100,000 entries took 130-160 ms, a pause every user would feel).
        gc.freeze()
        # The stock CloudAdapter over an authentication that reuses one connector client per service URL and
        # sends replies through a pooled aiohttp session (bot/sdk/): the SDK's per-turn construction
        # cost is the bulk of a stock bot's CPU (measured in bench/).
        adapter = build_adapter(settings, credentials_factory=credentials_factory)
        adapter.on_turn_error = _on_turn_error
        app[ADAPTER] = adapter
        # Messages to other people (approval cards, outcomes, notices) go through the durable outbox in the store,
        # delivered in the background by every instance (bot/outbox.py, register/outbox.py).
        outbox = Outbox(app[STORE], register.clock)

        async def given_up(message: OutboxMessage) -> None:
            """An approval card nobody could deliver: the administrators are told (and `pending` lists it)."""
            if not message.id.startswith("approval:"):
                return  # a notice that could not be delivered is not itself reported (no loop)
            ref = message.id.removeprefix("approval:")
            saved = await register.store.get_incident(ref)
            approver = saved.value.approver_name if saved else ""
            for admin in register.roles.holders(Role.ADMINISTRATOR):
                await outbox.put(OutboxMessage("text", to=admin, text=messages.approval_undeliverable(ref, approver),
                                               id=f"undeliverable:{ref}:{admin}"))
            worker.wake()

        async def render(message: OutboxMessage) -> tuple[dict | None, str]:
            """Messages queued by name (by the review run, perhaps in `register-admin`): built when delivered."""
            if message.template == "review":
                saved = await register.store.get_entry(message.subject)
                return (review_card(saved.value, register.today()) if saved else None), ""
            if message.template == "overdue":
                return None, messages.overdue_review(message.subject)
            if message.template == "appeal":
                saved = await register.store.get_entry(message.subject)
                found = await Reviews(register, outbox).open_appeal(message.subject)
                if saved is None or found is None:
                    return None, ""
                return appeal_card(saved.value, register.today(), found[1]["received"], found[1]["grounds"]), ""
            return message.card, message.text

        worker = OutboxWorker(adapter, app[STORE], outbox, settings.app_id, on_given_up=given_up, render=render)
        app[OUTBOX_WORKER] = worker

        async def refused(actor: Actor, reason: str) -> None:
            await register.audit(actor, "refused", outcome=reason)

        app[BOT] = RegisterBot(build_router(register, outbox, worker.wake), app[STORE],
                               tenant_allowed=settings.tenant_allowed, on_refusal=refused, outbox=outbox)
        poller = asyncio.create_task(register.keep_fresh(settings.refresh_seconds))
        delivery = asyncio.create_task(worker.run())
        reviewer = (asyncio.create_task(keep_reviewing(Reviews(register, outbox), settings.reviews_hour, worker.wake))
                    if settings.reviews_hour is not None else None)
        # Tamper evidence beside the turns, never in their path: a check only appends its record (register/sealing.py).
        sealer = (asyncio.create_task(keep_sealed(app[STORE], settings.seal_minutes * 60, SYSTEM.user_id))
                  if settings.seal_minutes else None)
        log.info("register bot ready: %d entries indexed from %s", len(register.index), describe(settings.env))
        yield
        for task in (poller, sealer, delivery, reviewer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await close_adapter(adapter)
        if store is None:
            await app[STORE].close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/api/messages", messages_endpoint)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Azure SDKs log every HTTP request (URLs carry entry refs) at INFO: keep them to warnings.
    logging.getLogger("azure").setLevel(logging.WARNING)
    settings = Settings.from_env()
    problem = settings.startup_problem()
    if problem:
        log.error("refusing to start: %s", problem)
        sys.exit(2)
    if not settings.authenticated:
        log.warning("MicrosoftAppId is not set: requests to /api/messages are NOT authenticated "
                    "(acceptable only on loopback for local development)")
    # No access log: the platform in front (App Service, a reverse proxy) logs requests; here it cost 2-3% of CPU.
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
