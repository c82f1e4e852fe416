"""One router from command verbs (typed text) and card verbs (button data) to handlers.

Parse once: the Teams layer strips the mention; here the text is split into verb and arguments. The first
registered match runs; an unknown verb gets help, never silence. Roles are checked here, not in handlers.
Requests and replies are plain data, so handlers know nothing of botbuilder.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from register.model import Actor
from register.permissions import Role, allows

log = logging.getLogger(__name__)

MAX_TEXT = 500  # longer commands are refused politely, not processed


@dataclass(frozen=True, slots=True)
class Command:
    verb: str
    args: str


def parse_command(text: str) -> Command:
    """'check 12 High St' -> Command('check', '12 High St'). Case-insensitive verb; whitespace folded."""
    words = (text or "").split()
    if not words:
        return Command("", "")
    return Command(words[0].lower().rstrip(":,."), " ".join(words[1:]))


@dataclass(frozen=True, slots=True)
class Request:
    actor: Actor
    conversation_type: str  # personal | groupChat | channel
    tenant_id: str
    verb: str
    args: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # card data for card verbs
    #: how it arrived: typed `text`, a card's `submit` (a new message answers it), a card's `execute` (the answer
    #: replaces the card) or a `refresh` (Teams asking for a user-specific view of a card)
    via: str = "text"
    card_id: str = ""  # the activity id of the card that was clicked, when the channel says it

    @property
    def is_private(self) -> bool:
        return self.conversation_type == "personal"


@dataclass(frozen=True, slots=True)
class Reply:
    """What to say, to the asker only: the Teams layer delivers every reply 1:1 when the request came from a group
    chat or channel (where it says the same neutral line whatever the reply), so a handler never decides what a
    shared conversation sees."""

    card: dict[str, Any] | None = None
    text: str | None = None
    #: what a group chat or channel is told when the reply goes 1:1 instead (the same whatever the outcome)
    shared_notice: str | None = None
    #: a reply that replaces a clicked card: remember that card under this key, so it is updated with the others
    #: (every copy of an approval card shows the decision)
    track: str = ""


Handler = Callable[[Request], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Route:
    verb: str
    handler: Handler
    role: Role
    summary: str
    #: what a group chat or channel is told when this verb's reply goes 1:1 (None: "the result was sent")
    notice: str | None = None
    #: how it is typed, with an example, for the help card ("check 12 High St")
    usage: str = ""


class Router:
    def __init__(self, role_of: Callable[[Actor], Role], fallback: Handler, refused: Handler):
        self._commands: dict[str, Route] = {}
        self._actions: dict[str, Route] = {}
        self._role_of = role_of
        self._fallback = fallback
        self._refused = refused

    def command(self, verb: str, *aliases: str, role: Role = Role.STAFF, summary: str = "",
                notice: str | None = None, usage: str = ""):
        def register(handler: Handler) -> Handler:
            for name in (verb, *aliases):
                self._commands[name] = Route(verb, handler, role, summary, notice, usage or verb)
            return handler

        return register

    def action(self, verb: str, role: Role = Role.STAFF, notice: str | None = None):
        def register(handler: Handler) -> Handler:
            self._actions[verb] = Route(verb, handler, role, "", notice)
            return handler

        return register

    def commands_for(self, actor: Actor) -> list[Route]:
        """The commands this person may use, in the order they were registered: what the help card lists."""
        role = self._role_of(actor)
        return [route for route in self.commands if allows(role, route.role)]

    def notice_for(self, verb: str, *, card: bool = False) -> str | None:
        """The shared conversation's line for a verb: fixed by what was asked, never by how it turned out."""
        route = (self._actions if card else self._commands).get(verb)
        return route.notice if route is not None else None

    @property
    def actions(self) -> list[Route]:
        return list(self._actions.values())

    @property
    def commands(self) -> list[Route]:
        seen: dict[str, Route] = {}
        for route in self._commands.values():
            seen.setdefault(route.verb, route)
        return list(seen.values())

    async def dispatch(self, request: Request, *, card: bool = False) -> Reply:
        table = self._actions if card else self._commands
        route = table.get(request.verb)
        if not card and request.args:  # a two-word command ('my reports') before the one-word reading of it
            first, _, rest = request.args.partition(" ")
            two = table.get(f"{request.verb} {first.lower()}")
            if two is not None:
                route, request = two, replace(request, verb=two.verb, args=rest.strip())
        if route is None:
            # The verb is whatever the user typed first (a surname, a postcode): not logged.
            log.info("unknown %s verb; answering with help", "card" if card else "command")
            return await self._fallback(request)
        if route.notice is not None:
            return replace(await self._run(route, request), shared_notice=route.notice)
        return await self._run(route, request)

    async def _run(self, route: Route, request: Request) -> Reply:
        if not allows(self._role_of(request.actor), route.role):
            log.warning("refused %s to user %s (needs %s)", route.verb, request.actor.user_id, route.role.name)
            return await self._refused(request)
        return await route.handler(request)
