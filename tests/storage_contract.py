"""The storage contract: every backend subclasses `StoreContract` and provides a `store` fixture (a fresh, empty
store per test) and a `tamper` fixture: what someone with the database's admin rights can do behind the store's
back (alter or delete an audit record or a seal directly, triggers and all). Behaviour the register relies on is
asserted here once, for all backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

from register.model import (
    Actor,
    Address,
    AuditRecord,
    ConversationRef,
    Entry,
    Incident,
    IncidentStatus,
    Restriction,
    Status,
    Subject,
)
from register.sealing import GENESIS, Finding, Seal, build_seal, seal_audit, verify_audit
from register.store import AUDIT_FLOOR_DAYS, Changes, Conflict, Document, Saved, Store


def make_entry(ref: str = "MCR-2026-0001", **kw) -> Entry:
    base = dict(
        ref=ref,
        subject=Subject.PROPERTY,
        status=Status.ACTIVE,
        person_name="",
        address=Address(text="12 High Street, Chorley", paon="12", street="HIGH STREET", town="CHORLEY",
                        postcode="PR7 1AA"),
        restrictions=[Restriction.NO_LONE_VISITS],
        guidance="Do not visit alone.",
        contact="Housing team leader, 01257 000000",
        decided_on=date(2026, 6, 1),
        review_on=date(2026, 12, 1),
        expires_on=date(2027, 6, 1),
    )
    base.update(kw)
    return Entry(**base)


def make_audit(refs: tuple[str, ...] = ("MCR-2026-0001",), at: datetime | None = None, query: str = "12 high st"):
    return AuditRecord(
        id=uuid.uuid4().hex,
        at=at or datetime.now(UTC),
        actor=Actor("user-1", "aad-1", "Alex Wilber"),
        action="check",
        query=query,
        conversation_type="personal",
        outcome="alert",
        refs=refs,
    )


class StoreContract:
    """Subclass and provide an async `store` fixture."""

    async def test_ping_succeeds_on_a_fresh_store(self, store: Store):
        await store.ping()

    async def test_entry_round_trips_every_field(self, store: Store):
        entry = make_entry(person_name="John Smith", aliases=["J Smith"], subject=Subject.PERSON_AND_PROPERTY,
                           incident_refs=["INC-2026-0001"],
                           restrictions=[Restriction.NO_LONE_VISITS, Restriction.WRITTEN_CONTACT_ONLY])
        created = await store.create_entry(entry)
        assert isinstance(created, Saved) and created.etag
        got = await store.get_entry(entry.ref)
        assert got is not None
        assert got.value == entry
        assert got.etag == created.etag

    async def test_missing_entry_is_none(self, store: Store):
        assert await store.get_entry("MCR-1999-9999") is None

    async def test_create_twice_is_a_conflict_not_an_overwrite(self, store: Store):
        await store.create_entry(make_entry(guidance="first"))
        again = await store.create_entry(make_entry(guidance="second"))
        assert again == Conflict("exists")
        got = await store.get_entry("MCR-2026-0001")
        assert got is not None and got.value.guidance == "first"

    async def test_replace_with_current_etag_succeeds_and_changes_etag(self, store: Store):
        created = await store.create_entry(make_entry())
        assert isinstance(created, Saved)
        entry = created.value
        entry.status = Status.LIFTED
        replaced = await store.replace_entry(entry, created.etag)
        assert isinstance(replaced, Saved)
        assert replaced.etag != created.etag
        got = await store.get_entry(entry.ref)
        assert got is not None and got.value.status is Status.LIFTED and got.etag == replaced.etag

    async def test_replace_with_stale_etag_is_refused(self, store: Store):
        created = await store.create_entry(make_entry())
        assert isinstance(created, Saved)
        first = await store.replace_entry(make_entry(guidance="A"), created.etag)
        assert isinstance(first, Saved)
        second = await store.replace_entry(make_entry(guidance="B"), created.etag)
        assert second == Conflict("changed")
        got = await store.get_entry("MCR-2026-0001")
        assert got is not None and got.value.guidance == "A"

    async def test_replace_of_missing_entry_is_refused(self, store: Store):
        result = await store.replace_entry(make_entry(), "no-such-etag")
        assert isinstance(result, Conflict)
        assert await store.get_entry("MCR-2026-0001") is None

    async def test_concurrent_read_modify_writes_lose_nothing(self, store: Store):
        """Many writers each add one incident ref with read-modify-write and retry on conflict:
        every ref ends up in the entry, and every lost race was reported as a Conflict."""
        await store.create_entry(make_entry())
        conflicts = 0

        async def add(n: int) -> None:
            nonlocal conflicts
            while True:
                got = await store.get_entry("MCR-2026-0001")
                assert got is not None
                got.value.incident_refs.append(f"INC-{n}")
                result = await store.replace_entry(got.value, got.etag)
                if isinstance(result, Saved):
                    return
                conflicts += 1

        await asyncio.gather(*(add(n) for n in range(20)))
        got = await store.get_entry("MCR-2026-0001")
        assert got is not None
        assert sorted(got.value.incident_refs) == sorted(f"INC-{n}" for n in range(20))

    async def test_list_entries(self, store: Store):
        for n in range(3):
            await store.create_entry(make_entry(f"MCR-2026-000{n}"))
        assert sorted(e.ref for e in await store.list_entries()) == ["MCR-2026-0000", "MCR-2026-0001",
                                                                    "MCR-2026-0002"]

    async def test_incident_round_trip_and_etag(self, store: Store):
        incident = Incident(
            ref="INC-2026-0001", address=Address(text="3 Mill Lane", paon="3", street="MILL LANE"),
            reported_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC), manager_contact="Ann Lee",
            reporter=Actor("29:u1", "aad-u1", "Alex Wilber"), occurred_at=datetime(2026, 11, 1, 8, 45, tzinfo=UTC),
            service_area="Housing", contact_method="property", behaviours=["verbal_abuse", "threats"],
            narrative="Shouted at me.\nThreatened the dog on me — «again».", injured=True, police=True,
            crime_reference="LC-1", witnesses="A neighbour", person_name="John Smith", person_description="Tall",
            other_names="J Smith", recommendation="restriction", recommended_restrictions=["no_lone_visits"],
            restriction_other="", approver_id="aad-mgr", approver_name="Ann Lee", draft_id="d-1")
        created = await store.create_incident(incident)
        assert isinstance(created, Saved)
        assert await store.create_incident(incident) == Conflict("exists")
        got = await store.get_incident("INC-2026-0001")
        assert got is not None and got.value == incident
        incident.status = IncidentStatus.DECIDED
        assert isinstance(await store.replace_incident(incident, created.etag), Saved)
        assert await store.replace_incident(incident, created.etag) == Conflict("changed")
        assert [i.status for i in await store.list_incidents()] == [IncidentStatus.DECIDED]
        assert await store.get_incident("INC-1999-0001") is None

    async def test_changes_since_returns_only_newer_writes(self, store: Store):
        first = await store.changes_since(None)
        assert isinstance(first, Changes) and first.entries == [] and first.incidents == []
        await store.create_entry(make_entry("MCR-2026-0001"))
        second = await store.changes_since(first.cursor)
        assert [e.ref for e in second.entries] == ["MCR-2026-0001"]
        created = await store.create_entry(make_entry("MCR-2026-0002"))
        assert isinstance(created, Saved)
        await store.create_incident(Incident(ref="INC-2026-0001", address=None,
                                             reported_at=datetime(2026, 11, 1, tzinfo=UTC)))
        third = await store.changes_since(second.cursor)
        assert [e.ref for e in third.entries] == ["MCR-2026-0002"]
        assert [i.ref for i in third.incidents] == ["INC-2026-0001"]
        # a replace shows up again as a change
        lifted = make_entry("MCR-2026-0002", status=Status.LIFTED)
        assert isinstance(await store.replace_entry(lifted, created.etag), Saved)
        fourth = await store.changes_since(third.cursor)
        assert [(e.ref, e.status) for e in fourth.entries] == [("MCR-2026-0002", Status.LIFTED)]
        assert (await store.changes_since(fourth.cursor)).entries == []
        everything = await store.changes_since(None)
        assert sorted(e.ref for e in everything.entries) == ["MCR-2026-0001", "MCR-2026-0002"]

    async def test_audit_is_appended_and_listed_by_ref_and_time(self, store: Store):
        t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        a = make_audit(("MCR-2026-0001",), at=t0)
        b = make_audit(("MCR-2026-0002", "MCR-2026-0001"), at=t0 + timedelta(hours=1))
        c = make_audit((), at=t0 + timedelta(hours=2), query="nothing here")
        for record in (a, b, c):
            await store.append_audit(record)
        assert await store.list_audit() == [a, b, c]
        assert await store.list_audit(ref="MCR-2026-0001") == [a, b]
        assert await store.list_audit(ref="MCR-2026-0002") == [b]
        assert await store.list_audit(since=t0 + timedelta(minutes=30)) == [b, c]
        assert await store.list_audit(until=t0 + timedelta(minutes=30)) == [a]

    async def test_store_offers_no_way_to_edit_or_delete_audit(self, store: Store):
        names = [n for n in dir(store) if "audit" in n and not n.startswith("_")]
        assert sorted(names) == ["append_audit", "list_audit", "purge_audit"]
        seals = [n for n in dir(store) if "seal" in n and not n.startswith("_")]
        assert sorted(seals) == ["append_seal", "latest_seal", "list_seals"]

    async def test_purge_audit_takes_only_records_older_than_the_cutoff(self, store: Store):
        t0 = datetime(2019, 1, 1, tzinfo=UTC)
        old = make_audit(("MCR-2019-0001",), at=t0)
        recent = make_audit(("MCR-2019-0001",), at=t0 + timedelta(days=3000))
        await store.append_audit(old)
        await store.append_audit(recent)
        assert await store.purge_audit(t0 + timedelta(days=1)) == 1
        assert await store.list_audit() == [recent]
        assert await store.list_audit(ref="MCR-2019-0001") == [recent]
        assert await store.purge_audit(t0 + timedelta(days=1)) == 0

    async def test_purge_audit_never_reaches_inside_the_floor_whatever_it_is_told(self, store: Store):
        """`REGISTER_AUDIT_RETENTION_DAYS=-1` used to purge everything: the store itself keeps every record younger
        than AUDIT_FLOOR_DAYS, and its reference index with it, even when asked to purge up to the far future."""
        now = datetime.now(UTC)
        past = make_audit(("MCR-2018-0001",), at=now - timedelta(days=AUDIT_FLOOR_DAYS + 30))
        inside = [make_audit(("MCR-2018-0001",), at=now - timedelta(days=AUDIT_FLOOR_DAYS - 1)),
                  make_audit(("MCR-2018-0001",), at=now - timedelta(minutes=1)),
                  make_audit(("MCR-2018-0001",), at=now + timedelta(days=1))]
        for record in (past, *inside):
            await store.append_audit(record)
        assert await store.purge_audit(now + timedelta(days=3650)) == 1
        assert await store.purge_audit(datetime(9999, 1, 1, tzinfo=UTC)) == 0
        assert await store.list_audit() == inside
        assert await store.list_audit(ref="MCR-2018-0001") == inside

    async def test_settings_documents_are_etag_checked(self, store: Store):
        assert await store.get_setting("roles") is None
        created = await store.put_setting("roles", {"users": {"a": "approver"}}, None)
        assert isinstance(created, Saved)
        assert await store.put_setting("roles", {"users": {}}, None) == Conflict("exists")
        updated = await store.put_setting("roles", {"users": {"a": "administrator"}}, created.etag)
        assert isinstance(updated, Saved)
        assert await store.put_setting("roles", {"users": {}}, created.etag) == Conflict("changed")
        got = await store.get_setting("roles")
        assert got is not None and got.value == {"users": {"a": "administrator"}} and got.etag == updated.etag

    async def test_retention_deletes_entries_and_incidents(self, store: Store):
        await store.create_entry(make_entry("MCR-2019-0001"))
        await store.create_incident(Incident(ref="INC-2019-0001", address=None,
                                             reported_at=datetime(2019, 1, 1, tzinfo=UTC)))
        assert await store.delete_entry("MCR-2019-0001") is True
        assert await store.delete_entry("MCR-2019-0001") is False
        assert await store.delete_incident("INC-2019-0001") is True
        assert await store.get_entry("MCR-2019-0001") is None
        assert await store.get_incident("INC-2019-0001") is None
        assert await store.list_entries() == [] and await store.list_incidents() == []

    async def test_conversation_refs_upsert(self, store: Store):
        assert await store.get_conversation_ref("user-1") is None
        ref = ConversationRef("user-1", "tenant-1", "aad-1", {"conversation": {"id": "a"}},
                              datetime(2026, 11, 1, tzinfo=UTC))
        await store.save_conversation_ref(ref)
        newer = ConversationRef("user-1", "tenant-1", "aad-1", {"conversation": {"id": "b"}},
                                datetime(2026, 11, 2, tzinfo=UTC))
        await store.save_conversation_ref(newer)
        assert await store.get_conversation_ref("user-1") == newer

    async def test_next_number_never_repeats_under_concurrency(self, store: Store):
        numbers = await asyncio.gather(*(store.next_number("entry-2026") for _ in range(25)))
        assert sorted(numbers) == list(range(1, 26))
        assert await store.next_number("incident-2026") == 1


    # -- working documents (drafts, outbox items, claims): one API for every kind ------------------------

    async def test_a_document_round_trips_and_a_second_create_is_refused(self, store: Store):
        doc = Document("draft", "user-1", "report", {"step": "where", "fields": {"address": "12 High St"}})
        created = await store.create_document(doc)
        assert isinstance(created, Saved) and created.etag
        got = await store.get_document("draft", "user-1", "report")
        assert got == Saved(doc, created.etag)
        again = await store.create_document(Document("draft", "user-1", "report", {"step": "other"}))
        assert again == Conflict("exists")
        assert (await store.get_document("draft", "user-1", "report")).value.body == doc.body

    async def test_documents_are_keyed_by_kind_partition_and_id(self, store: Store):
        for kind, part, id_ in [("draft", "u1", "a"), ("draft", "u2", "a"), ("outbox", "u1", "a"),
                                ("draft", "u1", "b")]:
            assert isinstance(await store.create_document(Document(kind, part, id_, {"k": [kind, part, id_]})), Saved)
        assert (await store.get_document("draft", "u2", "a")).value.body == {"k": ["draft", "u2", "a"]}
        assert await store.get_document("draft", "u3", "a") is None
        listed = await store.query_documents("draft", "u1")
        assert [s.value.id for s in listed] == ["a", "b"]
        assert await store.query_documents("outbox", "u2") == []

    async def test_replace_needs_the_current_etag(self, store: Store):
        first = await store.create_document(Document("draft", "u1", "r", {"n": 1}))
        second = await store.replace_document(Document("draft", "u1", "r", {"n": 2}), first.etag)
        assert isinstance(second, Saved) and second.etag != first.etag
        stale = await store.replace_document(Document("draft", "u1", "r", {"n": 3}), first.etag)
        assert stale == Conflict("changed")
        assert (await store.get_document("draft", "u1", "r")).value.body == {"n": 2}
        gone = await store.replace_document(Document("draft", "u1", "nothing", {"n": 1}), second.etag)
        assert gone == Conflict("missing")

    async def test_two_writers_with_one_etag_one_wins(self, store: Store):
        first = await store.create_document(Document("claim", "reminders", "MCR-1", {"by": None}))
        results = await asyncio.gather(*(
            store.replace_document(Document("claim", "reminders", "MCR-1", {"by": n}), first.etag) for n in range(6)))
        winners = [r for r in results if isinstance(r, Saved)]
        assert len(winners) == 1
        assert all(r == Conflict("changed") for r in results if not isinstance(r, Saved))
        assert (await store.get_document("claim", "reminders", "MCR-1")).value.body == winners[0].value.body

    async def test_keys_with_awkward_characters_round_trip(self, store: Store):
        for id_ in ["29:1a/b\\c?d#e", " padded ", "ünïcødé", "x" * 200]:
            doc = Document("idem", "29:user/1", id_, {"id": id_})
            assert isinstance(await store.create_document(doc), Saved)
            assert (await store.get_document("idem", "29:user/1", id_)).value == doc
        assert sorted(s.value.id for s in await store.query_documents("idem", "29:user/1")) == sorted(
            ["29:1a/b\\c?d#e", " padded ", "ünïcødé", "x" * 200])

    async def test_an_expired_document_is_absent_and_its_key_can_be_used_again(self, store: Store):
        now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
        store.clock = lambda: now
        doc = Document("draft", "u1", "report", {"n": 1}, expires_at=now + timedelta(days=14))
        created = await store.create_document(doc)
        assert (await store.get_document("draft", "u1", "report")).value.expires_at == doc.expires_at
        store.clock = lambda: now + timedelta(days=14, seconds=1)
        assert await store.get_document("draft", "u1", "report") is None
        assert await store.query_documents("draft", "u1") == []
        assert await store.replace_document(doc, created.etag) == Conflict("missing")
        fresh = await store.create_document(Document("draft", "u1", "report", {"n": 2}))
        assert isinstance(fresh, Saved)
        assert (await store.get_document("draft", "u1", "report")).value.body == {"n": 2}

    async def test_purge_removes_only_expired_documents(self, store: Store):
        now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
        store.clock = lambda: now
        await store.create_document(Document("draft", "u1", "old", {}, expires_at=now + timedelta(hours=1)))
        await store.create_document(Document("draft", "u1", "new", {}, expires_at=now + timedelta(days=2)))
        await store.create_document(Document("draft", "u1", "kept", {}))
        store.clock = lambda: now + timedelta(days=1)
        assert await store.purge_expired_documents() == 1
        store.clock = lambda: now  # even seen from before its expiry, the purged one is gone
        assert [s.value.id for s in await store.query_documents("draft", "u1")] == ["kept", "new"]

    async def test_delete_document(self, store: Store):
        await store.create_document(Document("outbox", "pending", "m1", {"to": "u1"}))
        assert await store.delete_document("outbox", "pending", "m1") is True
        assert await store.delete_document("outbox", "pending", "m1") is False
        assert await store.get_document("outbox", "pending", "m1") is None

    async def test_update_document_creates_changes_and_leaves_alone(self, store: Store):
        assert await store.update_document("rate:u1", lambda body: None) is None
        assert await store.update_document("rate:u1", lambda body: {"n": [1]} if body is None else None) == {"n": [1]}
        assert await store.update_document("rate:u1", lambda body: {"n": [*body["n"], 2]}) == {"n": [1, 2]}
        assert await store.update_document("rate:u1", lambda body: None) == {"n": [1, 2]}
        assert await store.update_document("rate:u2", lambda body: None) is None

    async def test_update_document_loses_no_update_under_concurrency(self, store: Store):
        def add(n: int):
            return lambda body: {"n": [*(body or {}).get("n", []), n]}

        await asyncio.gather(*(store.update_document("rate:u1", add(n)) for n in range(25)))
        final = await store.update_document("rate:u1", lambda body: None)
        assert final is not None and sorted(final["n"]) == list(range(25))

    async def test_the_check_limit_is_a_sliding_window_not_a_clock_hour(self, store: Store):
        """120 checks in the two minutes around 11:00 with a limit of 60: 60 pass (a clock-hour bucket let all 120
        through). Administrators are told once per window; the user is let in again once their oldest checks are
        an hour old. Two registers (two instances) share the window through the store."""
        from register.service import Register

        now = [datetime(2026, 11, 28, 10, 59, 0, tzinfo=UTC)]
        one, two = (Register(store, clock=lambda: now[0], checks_per_hour=60) for _ in range(2))
        actor = Actor("user-1", "aad-1", "Sam Staff")
        outcomes = []
        for second in range(120):
            now[0] = datetime(2026, 11, 28, 10, 59, 0, tzinfo=UTC) + timedelta(seconds=second)
            outcomes.append(await (one if second % 2 else two).rate_limit(actor))
        assert [o is None for o in outcomes] == [True] * 60 + [False] * 60
        assert [o.first for o in outcomes[60:]] == [True] + [False] * 59
        window = await store.update_document("rate:user-1", lambda body: None)
        assert window is not None and sum(c for _, c in window["minutes"]) == 60 and len(window["minutes"]) <= 61
        now[0] = datetime(2026, 11, 28, 11, 59, 59, tzinfo=UTC)  # less than an hour after the end of 10:59
        refused = await two.rate_limit(actor)
        assert refused is not None and not refused.first  # the administrators were told at 11:00:00
        now[0] = datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC)  # the 10:59 checks are out of the window
        later = [await one.rate_limit(actor) for _ in range(61)]  # 60 pass again; then a new window's notice
        assert [o is None for o in later] == [True] * 60 + [False] and later[-1].first
        assert await one.rate_limit(Actor("user-2", "aad-2", "Other")) is None  # per user
        assert len([r for r in await store.list_audit() if r.outcome == "rate_limited"]) == 62

class AuditSealContract:
    """Tamper evidence (register/sealing.py) on a real backend. Needs `store` and `tamper` fixtures."""

    @staticmethod
    async def trail(store: Store, hours: int = 5) -> tuple[datetime, list[AuditRecord]]:
        now = datetime.now(UTC)
        records = [make_audit((f"MCR-2026-000{n}",), at=now - timedelta(hours=hours - n), query=f"q{n}")
                   for n in range(hours)]
        for record in records:
            await store.append_audit(record)
        return now, records

    async def test_list_audit_with_a_limit_gives_the_oldest_first(self, store: Store):
        now, records = await self.trail(store)
        assert await store.list_audit(limit=2) == records[:2]
        assert await store.list_audit(since=records[1].at, until=now, limit=3) == records[1:4]

    async def test_seal_numbers_are_claimed_once_and_seals_are_listed_in_order(self, store: Store):
        assert await store.latest_seal() is None and await store.list_seals() == []
        first = build_seal(1, 0, 10, [], GENESIS, datetime.now(UTC), "instance-a")
        assert await store.append_seal(first) == first
        rival = build_seal(1, 0, 20, [], GENESIS, datetime.now(UTC), "instance-b")
        assert await store.append_seal(rival) == Conflict("exists")
        second = build_seal(2, 10, 30, [], first.digest, datetime.now(UTC), "instance-b")
        assert await store.append_seal(second) == second
        assert await store.latest_seal() == second
        assert await store.list_seals() == [first, second]
        assert await store.list_seals(after=1) == [second] and await store.list_seals(limit=1) == [first]

    async def test_sealing_covers_settled_records_once_and_verify_says_intact(self, store: Store):
        now, records = await self.trail(store)
        fresh = make_audit(at=now - timedelta(seconds=30))  # too young to seal: an append may still be in flight
        await store.append_audit(fresh)
        made = await seal_audit(store, now, "test", max_records=2)
        assert [[r[1] for r in s.records] for s in made] == [[r.id for r in records[i:i + 2]] for i in (0, 2, 4)]
        assert await seal_audit(store, now, "test") == []  # nothing new: nothing sealed twice
        result = await verify_audit(store, now)
        assert result.intact and (result.seals, result.records, result.unsealed) == (3, 5, 1)
        assert result.latest == made[-1] and result.latest.digest == made[-1].computed_digest()
        later = await seal_audit(store, now + timedelta(minutes=10), "test")
        assert [r[1] for r in later[0].records] == [fresh.id] and later[0].prev == made[-1].digest
        assert (await verify_audit(store, now)).intact

    async def test_two_sealers_at_once_make_one_chain(self, store: Store):
        now, records = await self.trail(store)
        results = await asyncio.gather(*(seal_audit(store, now, f"instance-{n}", max_records=2) for n in range(3)))
        seals = await store.list_seals()
        assert [s.n for s in seals] == [1, 2, 3] and sum(len(r) for r in results) == 3
        assert [r[1] for s in seals for r in s.records] == [r.id for r in records]
        assert (await verify_audit(store, now)).intact

    async def test_verify_names_the_first_record_altered_removed_or_inserted_out_of_order(self, store: Store, tamper):
        now, records = await self.trail(store)
        await seal_audit(store, now - timedelta(minutes=90), "test")  # seal 1: records 0-3
        await seal_audit(store, now, "test")  # seal 2: record 4
        assert (await verify_audit(store, now)).intact
        await tamper.alter(records[4], outcome="none")
        assert (await verify_audit(store, now)).finding == Finding("altered", 2, records[4].id, records[4].at)
        await tamper.alter(records[3], refs=[])  # the index would forget this record: so does the seal not
        assert (await verify_audit(store, now)).finding == Finding("altered", 1, records[3].id, records[3].at)
        await tamper.delete(records[2])
        assert (await verify_audit(store, now)).finding == Finding("removed", 1, records[2].id, records[2].at)
        backdated = make_audit(at=records[0].at + timedelta(minutes=1))  # appended through the store's own API
        await store.append_audit(backdated)
        found = (await verify_audit(store, now)).finding
        assert found == Finding("inserted", 1, backdated.id, backdated.at)
        assert backdated.id in str(found) and "out of order" in str(found)

    async def test_verify_names_an_altered_or_missing_seal(self, store: Store, tamper):
        now, _ = await self.trail(store)
        await seal_audit(store, now - timedelta(hours=2), "test")
        await seal_audit(store, now, "test")
        await tamper.alter_seal(1, until_us=0)
        assert (await verify_audit(store, now)).finding == Finding("seal altered", 1)
        await tamper.delete_seal(1)
        assert (await verify_audit(store, now)).finding == Finding("seal missing", 1)

    async def test_a_retention_purge_is_not_tampering_but_a_deletion_after_it_is(self, store: Store, tamper):
        now = datetime.now(UTC)
        old = [make_audit(at=now - timedelta(days=AUDIT_FLOOR_DAYS + 10 - n)) for n in range(3)]
        recent = [make_audit(at=now - timedelta(hours=3 - n)) for n in range(2)]
        for record in (*old, *recent):
            await store.append_audit(record)
        await seal_audit(store, now, "test")
        assert await store.purge_audit(now - timedelta(days=AUDIT_FLOOR_DAYS + 8, hours=12)) == 2
        result = await verify_audit(store, now)
        assert result.intact and (result.purged, result.records) == (2, 3)
        await tamper.delete(recent[0])
        assert (await verify_audit(store, now)).finding == Finding("removed", 1, recent[0].id, recent[0].at)

    async def test_seals_round_trip_every_field(self, store: Store):
        seal = build_seal(1, -5, 7, [make_audit(at=datetime(2026, 1, 1, tzinfo=UTC))], GENESIS,
                          datetime(2026, 1, 2, tzinfo=UTC), "cli:admin")
        await store.append_seal(seal)
        assert await store.latest_seal() == seal and isinstance(seal, Seal)
