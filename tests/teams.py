"""Test seams at the HTTP boundary: a local Bot Framework connector that records what the bot sent, activity
factories in the shape a real Teams client sends (../shared/data/activities), and a running bot on loopback."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

SHARED = Path(os.environ.get("REGISTER_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
ACTIVITIES = SHARED / "data" / "activities"
BOT_ID = "00000000-0000-0000-0000-00000000000011"
TENANT = "00000000-0000-0000-0000-0000000000001"


def load_activity(name: str) -> dict[str, Any]:
    return json.loads((ACTIVITIES / f"{name}.json").read_text())


@dataclass
class Sent:
    method: str
    path: str
    conversation_id: str
    reply_to: str | None
    body: dict[str, Any]
    authorization: str | None

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]

    @property
    def text(self) -> str:
        return self.body.get("text") or ""


@dataclass
class LocalConnector:
    """Serves the parts of the Bot Connector API the bot calls: replies (POST .../activities/{replyToId}), new
    activities (POST .../activities), updates (PUT .../activities/{id}) and 1:1 conversation creation
    (POST /v3/conversations). `refuse_conversations` makes creation answer 403, as Teams does for a user who
    blocked the bot."""

    sent: list[Sent] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    refuse_conversations: bool = False
    url: str = ""
    _runner: web.AppRunner | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> LocalConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        # Any id the channel may have sent ('{' and '}' too: aiohttp's default pattern refuses them).
        app.router.add_post("/v3/conversations/{cid:[^/]+}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid:[^/]+}/activities/{aid:[^/]+}", self._activity)
        app.router.add_put("/v3/conversations/{cid:[^/]+}/activities/{aid:[^/]+}", self._activity)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body)
        if self.refuse_conversations:
            return web.json_response({"error": {"code": "MessageWritesBlocked"}}, status=403)
        member = (body.get("members") or [{}])[0].get("id", "unknown")
        return web.json_response({"id": f"personal:{member}"}, status=201)

    async def _activity(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.sent.append(Sent(
            method=request.method,
            path=request.path,
            conversation_id=unquote(request.match_info["cid"]),
            reply_to=request.match_info.get("aid"),
            body=body,
            authorization=request.headers.get("Authorization"),
        ))
        self._event.set()
        return web.json_response({"id": uuid.uuid4().hex}, status=200)

    def to(self, conversation_id: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation_id == conversation_id]


class ActivityFactory:
    """Activities shaped like the captured Teams ones, pointed at the local connector."""

    def __init__(self, service_url: str, user_id: str = "user-id-0", user_name: str = "Alex Wilber"):
        self.service_url = service_url
        self.user_id = user_id
        self.user_name = user_name

    def _base(self, template: str) -> dict[str, Any]:
        activity = copy.deepcopy(load_activity(template))
        activity["id"] = uuid.uuid4().hex
        activity["serviceUrl"] = self.service_url
        activity["from"] = {"id": self.user_id, "name": self.user_name,
                            "aadObjectId": f"aad-{self.user_id}"}
        return activity

    def personal(self, text: str) -> dict[str, Any]:
        activity = self._base("message-personal")
        activity["text"] = text
        activity["conversation"]["id"] = f"personal-{self.user_id}"
        return activity

    def mention(self, text: str, scope: str = "groupChat") -> dict[str, Any]:
        template = "message-channel-mention" if scope == "channel" else "message-groupChat-mention"
        activity = self._base(template)
        mention = next(e for e in activity["entities"] if e["type"] == "mention")
        activity["text"] = f"{mention['text']} {text}"
        return activity

    def _in(self, activity: dict[str, Any], scope: str) -> dict[str, Any]:
        """Put an activity in the user's personal chat, or in the group chat / channel of the captured mentions."""
        if scope == "personal":
            activity["conversation"]["id"] = f"personal-{self.user_id}"
        else:
            shared = load_activity("message-channel-mention" if scope == "channel" else "message-groupChat-mention")
            activity["conversation"] = shared["conversation"]
            activity["channelData"] = {**shared["channelData"], **(activity.get("channelData") or {})}
        return activity

    def submit(self, data: dict[str, Any], scope: str = "personal") -> dict[str, Any]:
        activity = self._base("message-submit-personal")
        activity["value"] = data
        return self._in(activity, scope)

    def execute(self, verb: str, data: dict[str, Any], scope: str = "personal") -> dict[str, Any]:
        activity = self._base("invoke-adaptiveCard-action")
        activity["value"]["action"]["verb"] = verb
        activity["value"]["action"]["data"] = data
        return self._in(activity, scope)

    def installation(self) -> dict[str, Any]:
        activity = self._base("installationUpdate-personal")
        activity["conversation"]["id"] = f"personal-{self.user_id}"
        return activity


@dataclass
class RunningBot:
    url: str
    app: web.Application
    runner: web.AppRunner

    async def post(self, activity: Any, *, raw: bytes | None = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            data = raw if raw is not None else json.dumps(activity).encode()
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            async with session.post(f"{self.url}/api/messages", data=data, headers=hdrs) as resp:
                text = await resp.text()
                try:
                    return resp.status, json.loads(text) if text else None
                except ValueError:
                    return resp.status, text

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}{path}") as resp:
            return resp.status, await resp.json()


async def start_bot(app: web.Application) -> RunningBot:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return RunningBot(f"http://127.0.0.1:{port}", app, runner)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
