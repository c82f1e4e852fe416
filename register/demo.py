"""A realistic demo register for `make run` and `register-admin demo`. People are fictional. Dates are relative to
today so the demo stays live: active entries were decided weeks ago and are due for review months ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from register.address import parse_address
from register.approvers import APPROVERS_SETTING, ApproverTable
from register.model import Actor, Entry, Incident, Restriction, Status, Subject
from register.permissions import Role
from register.report_flow import SERVICE_AREAS

if TYPE_CHECKING:
    from register.service import Register

R = Restriction


def _entry(ref: str, subject: Subject, status: Status, address: str, postcode: str, restrictions: list[Restriction],
           guidance: str, contact: str, decided: date | None, *, person: str = "", aliases: list[str] | None = None,
           review_days: int = 182, expiry_days: int = 365) -> Entry:
    return Entry(
        ref=ref,
        subject=subject,
        status=status,
        person_name=person,
        aliases=aliases or [],
        address=parse_address(address, postcode) if address else None,
        restrictions=restrictions,
        guidance=guidance,
        contact=contact,
        decided_on=decided,
        review_on=decided + timedelta(days=review_days) if decided else None,
        expires_on=decided + timedelta(days=expiry_days) if decided else None,
        incident_refs=[ref.replace("MCR", "INC")],
    )


def demo_entries(today: date) -> list[Entry]:
    def ago(days: int) -> date:
        return today - timedelta(days=days)

    P, H, PH = Subject.PERSON, Subject.PROPERTY, Subject.PERSON_AND_PROPERTY  # noqa: N806 - short, for the table
    active, pending = Status.ACTIVE, Status.PENDING
    housing = "Housing Services team leader, 01257 515151"
    return [
        _entry("MCR-2026-0001", H, active, "12 High Street, Chorley", "PR7 1AA",
               [R.NO_LONE_VISITS], "Do not visit alone. Phone the team leader before any visit.", housing, ago(30)),
        _entry("MCR-2026-0002", PH, active, "Flat 2, 40 Market Street, Chorley", "PR7 2SE",
               [R.SINGLE_POINT_OF_CONTACT, R.WRITTEN_CONTACT_ONLY],
               "All contact through the named officer. Do not discuss the complaint by phone.",
               "Customer Services manager, customer.services@chorley.example", ago(45), person="Gary Hollins"),
        _entry("MCR-2026-0003", H, active, "39A Bolton Road, Chorley", "PR7 3AB", [R.NO_LONE_VISITS],
               "Aggressive dog at the property. Do not enter the garden; phone ahead so it is shut in.",
               "Waste Services supervisor, 01257 515200", ago(10)),
        _entry("MCR-2026-0004", PH, active, "Flat 5, Astley House, Park Road, Chorley", "PR7 1QS",
               [R.OFFICE_APPOINTMENTS_ONLY], "No home visits. Offer an appointment at the Town Hall.",
               housing, ago(60), person="Lee Ashworth"),
        _entry("MCR-2026-0005", P, active, "", "", [R.PHONE_LIMITS, R.SINGLE_POINT_OF_CONTACT],
               "Calls on Tuesdays 10:00-12:00 only, 15 minutes at most. Transfer other calls to the named officer.",
               "Customer Services manager, customer.services@chorley.example", ago(20), person="Karen Pilling",
               aliases=["Karen Hesketh"]),
        _entry("MCR-2026-0006", PH, active, "7 Church Road, Euxton, Chorley", "PR7 6AA",
               [R.PREMISES_EXCLUSION], "Excluded from All Seasons Leisure Centre. Do not admit; call the duty manager.",
               "Leisure duty manager, 01257 515300", ago(90), person="Dean Marsh"),
        _entry("MCR-2026-0007", H, active, "3 St John's Road, Whittle-le-Woods, Chorley", "PR6 7DP",
               [R.NO_LONE_VISITS, R.PHONE_LIMITS],
               "Two officers on every visit. Threats made to an enforcement officer.",
               "Enforcement team leader, 01257 515400", ago(5)),
        _entry("MCR-2026-0008", H, pending, "18 Mill Lane, Coppull, Chorley", "PR7 5AN", [], "",
               "Waste Services supervisor, 01257 515200", None),
        _entry("MCR-2026-0009", H, Status.EXPIRED, "5 Station Road, Adlington, Chorley", "PR7 4EE",
               [R.NO_LONE_VISITS], "Do not visit alone.", housing, ago(400)),
        _entry("MCR-2026-0010", H, Status.LIFTED, "44 Preston Road, Chorley", "PR7 1PP",
               [R.WRITTEN_CONTACT_ONLY], "Written contact only.", housing, ago(120)),
        _entry("MCR-2026-0011", PH, active, "27 Lancaster Gardens, Clayton-le-Woods, Chorley", "PR6 7GG",
               [R.CORRESPONDENCE_ON_FILE, R.WRITTEN_CONTACT_ONLY],
               "Letters on the closed complaint are filed without reply; read each for new issues.",
               "Complaints officer, complaints@chorley.example", ago(75), person="Susan Taylor"),
        _entry("MCR-2026-0012", H, Status.REJECTED, "9 Water Street, Chorley", "PR7 1EX", [], "",
               housing, ago(15)),
    ]


def demo_incidents(today: date) -> list[Incident]:
    return [
        Incident(
            ref="INC-2026-0101",
            address=parse_address("3 Brook Street, Chorley", "PR7 3BN"),
            reported_at=datetime.combine(today - timedelta(days=1), time(15, 40), tzinfo=UTC),
            manager_contact="Housing Services team leader, 01257 515151",
        )
    ]


#: Demo approvers: two of the Agents Playground's sample users (tools/run.py), so a report started as the
#: Playground's own user (Alex Wilber) can be routed to someone else, as the policy requires.
DEMO_APPROVERS = (("00000000-0000-0000-0000-0000000000021", "Megan Bowen"),
                  ("00000000-0000-0000-0000-0000000000022", "Adele Vance"))


async def load_demo(register: Register, actor: Actor, *, only_if_empty: bool = False) -> str:
    """Load the demo register (entries, a pending incident, approvers for every service area); one line saying
    what was done. The same for `make run` (only into an empty store) and `register-admin demo`."""
    if only_if_empty and await register.store.list_entries():
        return "demo register: the store already holds a register; nothing loaded"
    today = register.today()
    report = await register.import_entries(demo_entries(today), actor, source="demo")
    added = 0
    for incident in demo_incidents(today):
        if await register.store.get_incident(incident.ref) is None:
            await register.add_incident(incident)
            added += 1
    approvers = ""
    if await register.store.get_setting(APPROVERS_SETTING) is None:
        table = ApproverTable()
        for area in SERVICE_AREAS:
            for object_id, name in DEMO_APPROVERS:
                table = table.add(area, object_id, name)
        await register.store.put_setting(APPROVERS_SETTING, table.to_dict(), None)
        for object_id, _ in DEMO_APPROVERS:
            await register.set_role(object_id, Role.APPROVER, actor)
        approvers = f", {len(DEMO_APPROVERS)} demo approvers"
    return (f"demo register: {len(report.created)} entries created, {len(report.unchanged)} unchanged, "
            f"{len(report.updated)} updated, {added} incident(s) added{approvers}")
