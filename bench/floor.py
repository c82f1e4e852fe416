"""The floor: the least a Bot Framework bot can do per activity in Python on aiohttp.

A bare aiohttp handler that parses the activity, builds the reply and POSTs it to
`{serviceUrl}/v3/conversations/{id}/activities/{replyToId}` through one pooled ClientSession, then answers 201
(as the SDK does: the reply is sent inside the request). No SDK, no authentication, no card, no store.

    python -m bench.floor --port 3981
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import quote

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)


async def messages(request: web.Request) -> web.Response:
    activity = json.loads(await request.read())
    if activity.get("type") != "message":
        return web.Response(status=201)
    conversation = activity["conversation"]
    reply = {
        "type": "message",
        "text": f"Echo: {activity.get('text') or ''}",
        "from": activity.get("recipient"),
        "recipient": activity.get("from"),
        "conversation": conversation,
        "replyToId": activity["id"],
        "serviceUrl": activity["serviceUrl"],
        "channelId": activity.get("channelId"),
    }
    url = (f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{quote(conversation['id'], safe='')}"
           f"/activities/{quote(activity['id'], safe='')}")
    async with request.app[SESSION].post(url, data=json.dumps(reply),
                                         headers={"Content-Type": "application/json"}) as resp:
        await resp.read()
    return web.Response(status=201)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app() -> web.Application:
    app = web.Application()

    async def session(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3981)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop (if installed)")
    args = parser.parse_args()
    loop = None
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
