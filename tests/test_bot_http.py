"""The bot over real HTTP on loopback: Teams-shaped activities in, what it sent to the local connector out."""

from __future__ import annotations

import json

from cards import messages
from register.model import Actor, Outcome

PERSONAL_ADDRESS_BITS = ("MCR-", "High Street", "HIGH STREET", "Chorley", "PR7")


async def checks(store, **kw):
    return [r for r in await store.list_audit(**kw) if r.action == "check"]


def body_text(sent) -> str:
    return json.dumps([s.body for s in sent])


async def test_check_in_personal_chat_replies_with_the_alert_card(bot, connector, teams, store):
    activity = teams.personal("check 12 High St")
    status, _ = await bot.post(activity)
    assert status in (200, 201)
    [reply] = connector.sent
    assert reply.method == "POST"
    assert reply.conversation_id == activity["conversation"]["id"]
    assert reply.reply_to == activity["id"]
    [card] = reply.cards
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert "MCR-2026-0001" in json.dumps(card)
    [record] = await checks(store, ref="MCR-2026-0001")
    assert (record.actor.user_id, record.actor.aad_object_id, record.actor.name) == (
        "user-id-0", "aad-user-id-0", "Alex Wilber")
    assert (record.action, record.query, record.outcome, record.conversation_type) == (
        "check", "12 High St", Outcome.ALERT.value, "personal")
    assert record.refs == ("MCR-2026-0001",)


async def test_check_with_no_alert_says_so_and_is_audited(bot, connector, teams, store):
    await bot.post(teams.personal("check 99 Nowhere Road, Chorley"))
    [reply] = connector.sent
    assert messages.NO_GUARANTEE in json.dumps(reply.cards[0])
    [record] = await checks(store)
    assert record.outcome == "none" and record.refs == ()


async def test_group_chat_check_sends_the_card_privately_and_no_personal_data_to_the_group(bot, connector,
                                                                                          teams):
    activity = teams.mention("check 12 high street")
    assert activity["text"].startswith("<at>")
    status, _ = await bot.post(activity)
    assert status in (200, 201)
    group = connector.to(activity["conversation"]["id"])
    assert [s.text for s in group] == [messages.RESULT_SENT_PRIVATELY]
    assert not any(bit in body_text(group) for bit in PERSONAL_ADDRESS_BITS)
    assert not group[0].cards
    [created] = connector.created
    assert created["members"] == [{"id": "user-id-0"}]
    assert created["channelData"]["tenant"]["id"] == activity["conversation"]["tenantId"]
    [private] = connector.to("personal:user-id-0")
    assert "MCR-2026-0001" in json.dumps(private.cards)


async def test_channel_check_is_private_too(bot, connector, teams):
    activity = teams.mention("check 12 High St", scope="channel")
    await bot.post(activity)
    channel = connector.to(activity["conversation"]["id"])
    assert [s.text for s in channel] == [messages.RESULT_SENT_PRIVATELY]
    assert "MCR-2026-0001" in json.dumps(connector.to("personal:user-id-0")[0].cards)


async def test_a_no_alert_result_is_private_as_well(bot, connector, teams):
    """Otherwise the channel would learn which addresses are flagged from which answers are private."""
    activity = teams.mention("check 99 Nowhere Road")
    await bot.post(activity)
    assert [s.text for s in connector.to(activity["conversation"]["id"])] == [messages.RESULT_SENT_PRIVATELY]


async def test_when_the_user_cannot_be_messaged_privately_the_group_gets_a_notice_only(bot, connector, teams):
    connector.refuse_conversations = True
    activity = teams.mention("check 12 High St")
    status, _ = await bot.post(activity)
    assert status in (200, 201)
    assert [s.text for s in connector.sent] == [messages.CANNOT_MESSAGE_PRIVATELY]
    assert not any(bit in body_text(connector.sent) for bit in PERSONAL_ADDRESS_BITS)


async def test_help_and_unknown_verbs_get_the_help_card(bot, connector, teams):
    await bot.post(teams.personal("help"))
    await bot.post(teams.personal("frobnicate the widgets"))
    mention = teams.mention("what can you do")
    await bot.post(mention)  # in a group chat, help too goes 1:1 (every reply does)
    assert [s.text for s in connector.to(mention["conversation"]["id"])] == [messages.RESULT_SENT_PRIVATELY]
    answers = [s for s in connector.sent if s.conversation_id != mention["conversation"]["id"]]
    assert len(answers) == 3
    cards = [json.dumps(s.cards) for s in answers]
    assert all("check 12 High St" in c for c in cards), cards
    assert messages.UNKNOWN_COMMAND not in cards[0]
    assert messages.UNKNOWN_COMMAND in cards[1] and messages.UNKNOWN_COMMAND in cards[2]


async def test_help_lists_the_routers_commands_that_the_asker_may_use(bot, connector, teams, register):
    from bot.app import BOT
    from cards.text import plain
    from register.model import Actor
    from register.permissions import Role

    def shown(usage: str, card: str) -> bool:  # as the card holds it: markdown-escaped, inside JSON
        return json.dumps(plain(usage, 100))[1:-1] in card

    router = bot.app[BOT].router
    await bot.post(teams.personal("help"))
    staff_help = json.dumps(connector.sent[-1].cards)
    for route in router.commands:
        # every staff command, and no approver's or administrator's
        assert shown(route.usage, staff_help) == (route.role is Role.STAFF), route.verb
    await register.set_role(f"aad-{teams.user_id}", Role.ADMINISTRATOR, Actor("cli:test"))
    await bot.post(teams.personal("help"))
    admin_help = json.dumps(connector.sent[-1].cards)
    assert all(shown(route.usage, admin_help) for route in router.commands)


async def test_empty_check_asks_what_to_check_and_audits_nothing(bot, connector, teams, store):
    await bot.post(teams.personal("check"))
    [reply] = connector.sent
    assert messages.EMPTY_CHECK in json.dumps(reply.cards)
    assert await checks(store) == []


async def test_a_card_choice_reruns_the_check(bot, connector, teams):
    await bot.post(teams.submit({"verb": "check", "query": "12 High Street, Chorley, PR7 1AA"}))
    [reply] = connector.sent
    assert "MCR-2026-0001" in json.dumps(reply.cards)


async def test_a_card_submit_with_missing_fields_is_answered_politely(bot, connector, teams, store):
    await bot.post(teams.submit({"verb": "check"}))
    await bot.post(teams.submit({"verb": "check", "query": ["not", "a", "string"]}))
    await bot.post(teams.submit({}))
    assert len(connector.sent) == 3
    assert messages.EMPTY_CHECK in json.dumps(connector.sent[0].cards)
    assert messages.EMPTY_CHECK in json.dumps(connector.sent[1].cards)
    assert "check 12 High St" in json.dumps(connector.sent[2].cards)  # no verb: help
    assert await checks(store) == []


async def test_action_execute_invoke_answers_200_with_a_card_body(bot, connector, teams):
    status, body = await bot.post(teams.execute("check", {"query": "12 High St"}))
    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"
    assert "MCR-2026-0001" in json.dumps(body["value"])


async def test_overlong_text_is_refused_politely(bot, connector, teams, store):
    await bot.post(teams.personal("check " + "x" * 5000))
    [reply] = connector.sent
    assert messages.TOO_LONG in json.dumps(reply.cards)
    assert await checks(store) == []


async def test_installation_saves_the_conversation_reference(bot, teams, store):
    status, _ = await bot.post(teams.installation())
    assert status in (200, 201)
    ref = await store.get_conversation_ref("user-id-0")
    assert ref is not None
    assert ref.reference["conversation"]["id"] == "personal-user-id-0"
    assert ref.tenant_id == "00000000-0000-0000-0000-0000000000001"


async def test_a_message_saves_the_conversation_reference(bot, teams, store):
    await bot.post(teams.personal("help"))
    ref = await store.get_conversation_ref("user-id-0")
    assert ref is not None and ref.reference["serviceUrl"] == teams.service_url


async def test_malformed_requests_get_400_and_change_nothing(bot, connector, teams, store):
    good = teams.personal("check 12 High St")
    cases = [
        b"{not json",
        b"",
        b"[]",
        b"null",
        json.dumps({"text": "check 12 High St"}).encode(),
        json.dumps({**good, "type": 7}).encode(),
        json.dumps({**good, "from": "user-id-0"}).encode(),
        json.dumps({**good, "conversation": None}).encode(),
        json.dumps({**good, "serviceUrl": None}).encode(),
        json.dumps({**good, "serviceUrl": "http://203.0.113.9/"}).encode(),
        json.dumps({**good, "entities": "mention"}).encode(),
        json.dumps({**good, "text": {"a": 1}}).encode(),
        b"\xff\xfe\x00",
    ]
    for raw in cases:
        status, body = await bot.post(None, raw=raw)
        assert status == 400, (raw, status, body)
    status, _ = await bot.post(None, raw=json.dumps(good).encode(), headers={"Content-Type": "text/plain"})
    assert status == 415
    assert connector.sent == []
    assert await checks(store) == []
    assert await store.get_conversation_ref("user-id-0") is None


async def test_unknown_activity_types_are_accepted_quietly(bot, connector, teams):
    for kind in ("typing", "messageReaction", "event", "endOfConversation", "somethingNew"):
        activity = teams.personal("")
        activity["type"] = kind
        status, _ = await bot.post(activity)
        assert status in (200, 201), kind
    assert connector.sent == []


async def test_health_and_readiness(bot, store):
    assert await bot.get("/healthz") == (200, {"status": "ok"})
    assert await bot.get("/readyz") == (200, {"ready": True})
    await store.close()
    assert await bot.get("/readyz") == (503, {"ready": False})


async def _raw_get(bot, path: str) -> tuple[int, bytes]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}{path}") as resp:
        return resp.status, await resp.read()


async def test_unauthenticated_endpoints_say_nothing_about_the_register(bot, store, register):
    """Every route anyone can GET without a token answers a constant body: ready or not, never how many entries
    the register holds or when it grows."""
    from register.address import parse_address
    from register.model import Entry, Restriction, Status, Subject

    paths = sorted({route.resource.canonical for route in bot.app.router.routes()
                    if route.method in ("GET", "HEAD") and route.resource is not None})
    assert paths == ["/healthz", "/readyz"]  # a new unauthenticated route must be added to this test
    before = {path: await _raw_get(bot, path) for path in paths}
    for n in range(3):
        await register.import_entries([Entry(
            ref=f"MCR-2026-09{n:02d}", subject=Subject.PROPERTY, status=Status.ACTIVE,
            address=parse_address(f"{n + 1} Matfen Place, Newcastle upon Tyne", "NE4 9DN"),
            restrictions=[Restriction.NO_LONE_VISITS], guidance="", contact="", decided_on=None, review_on=None)],
            actor=Actor("system:test", "", "test"))
    after = {path: await _raw_get(bot, path) for path in paths}
    assert after == before
    for status, body in after.values():
        assert status == 200 and not any(ch.isdigit() for ch in body.decode()), body
    await store.close()
    down = {path: await _raw_get(bot, path) for path in paths}
    assert down["/healthz"] == before["/healthz"]
    assert down["/readyz"] == (503, b'{"ready": false}')


async def test_an_entry_written_by_another_process_alerts_within_seconds(bot, bot_env, connector, teams):
    """The index follows the store: register-admin (another SQLite connection) adds an entry; the bot alerts."""
    import asyncio

    from register.address import parse_address
    from register.model import Entry, Restriction, Status, Subject
    from storage.sqlite import SQLiteStore

    other = await SQLiteStore.open(bot_env["REGISTER_DB"])
    await other.create_entry(Entry(ref="MCR-2026-0500", subject=Subject.PROPERTY, status=Status.ACTIVE,
                                   address=parse_address("8 Matfen Place, Newcastle upon Tyne", "NE4 9DN"),
                                   restrictions=[Restriction.NO_LONE_VISITS], guidance="Two officers.",
                                   contact="Team leader", decided_on=None, review_on=None))
    await other.close()
    for _ in range(50):
        connector.sent.clear()
        await bot.post(teams.personal("check 8 matfen pl NE49DN"))
        if "MCR-2026-0500" in json.dumps(connector.sent[0].cards):
            break
        await asyncio.sleep(0.1)
    assert "MCR-2026-0500" in json.dumps(connector.sent[0].cards)


async def test_a_vague_query_that_finds_nothing_asks_for_the_property_instead_of_clearing(bot, connector, teams,
                                                                                           store):
    vague = ("12", "High Street", "flat 2", "Chorley", "pr7", "Flat 2, High Street")
    for query in vague:
        connector.sent.clear()
        await bot.post(teams.personal(f"check {query}"))
        card = json.dumps(connector.sent[0].cards)
        assert messages.NEED_MORE in card, query
        assert messages.NO_GUARANTEE not in card, query
    # the audit trail records what the user was told: asked for the property, not "no alert"
    audited = {r.query: r.outcome for r in await store.list_audit() if r.action == "check"}
    assert {q: audited[q] for q in vague} == dict.fromkeys(vague, "need_more")
    connector.sent.clear()
    await bot.post(teams.personal("check Karen Pilling"))  # a person's name is specific
    assert "MCR-2026-0005" in json.dumps(connector.sent[0].cards)
    connector.sent.clear()
    await bot.post(teams.personal("check PR7 9ZZ"))  # a full postcode with nothing flagged: a real clear
    assert messages.NO_GUARANTEE in json.dumps(connector.sent[0].cards)


async def test_expect_replies_returns_the_replies_in_the_response_body(bot, connector, teams):
    """deliveryMode expectReplies (Bot Framework skills, test clients): the replies come back in the HTTP response as
    ExpectedReplies instead of through the connector. It answered 500 (the body was serialised twice)."""
    personal = {**teams.personal("check 12 High St"), "deliveryMode": "expectReplies"}
    status, body = await bot.post(personal)
    assert status == 200
    [reply] = body["activities"]
    assert reply["type"] == "message" and reply["replyToId"] == personal["id"]
    assert "MCR-2026-0001" in json.dumps(reply["attachments"][0]["content"])
    assert connector.sent == []

    shared = {**teams.mention("check 12 High St", scope="channel"), "deliveryMode": "expectReplies"}
    status, body = await bot.post(shared)
    assert status == 200 and [r["text"] for r in body["activities"]] == [messages.RESULT_SENT_PRIVATELY]
    assert "MCR-" not in json.dumps(body)
    [private] = connector.to("personal:user-id-0")  # the 1:1 message is another conversation: sent as usual
    assert "MCR-2026-0001" in json.dumps(private.cards)

    invoke = {**teams.execute("check", {"query": "12 High St"}), "deliveryMode": "expectReplies"}
    status, body = await bot.post(invoke)
    assert status == 200
    [answer] = body["activities"]
    assert answer["type"] == "invokeResponse" and answer["value"]["status"] == 200
    assert answer["value"]["body"]["type"] == "application/vnd.microsoft.card.adaptive"


async def test_invokes_the_bot_does_not_implement_get_501_and_no_error_card(bot, connector, teams):
    for name in ("signin/tokenExchange", "signin/verifyState", "composeExtension/query", "task/fetch", "x"):
        invoke = {**teams.execute("check", {}), "name": name}
        status, _ = await bot.post(invoke)
        assert status == 501, name
    assert connector.sent == []
