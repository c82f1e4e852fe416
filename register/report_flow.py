"""The incident report flow, declared as data (register/flows.py runs it; register/reporting.py is the use case).

Four steps, each short enough for a phone: where and when; what happened; who, and what next; check and submit.
The lists (service areas, contact methods, behaviour categories, recommendations, restrictions) come from the
council's policy; the service areas and the approvers for each are the council's configuration, supplied by the
context. The rules here are the server's: the card carries hints (`isRequired`, `maxLength`), the server decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from register.address import normalise_postcode, outward_code
from register.flows import (
    Choice,
    Choices,
    Context,
    Field,
    Flow,
    Kind,
    Step,
    parse_date,
    parse_time,
    split_multi,
    yes,
)
from register.model import Restriction

UK = ZoneInfo("Europe/London")

SERVICE_AREAS: tuple[str, ...] = (
    "Waste and Recycling", "Housing", "Revenues and Benefits", "Leisure", "Customer Services", "Planning",
    "Environmental Health", "Other",
)

CONTACT_METHODS: Choices = (
    Choice("property", "At a property"),
    Choice("premises", "At council premises"),
    Choice("phone", "By phone"),
    Choice("writing", "By email or letter"),
    Choice("social", "On social media"),
    Choice("public", "In a public place"),
)
#: contact that happened at a distance: no address needed, but then the person's name is
REMOTE = frozenset({"phone", "writing", "social"})

BEHAVIOURS: Choices = (
    Choice("verbal_abuse", "Verbal abuse"),
    Choice("threats", "Threats (incl. of violence)"),
    Choice("assault", "Physical assault"),
    Choice("hate", "Hate or discriminatory abuse"),
    Choice("damage", "Damage to property"),
    Choice("animal", "Aggressive animal"),
    Choice("harassment", "Harassment or intimidation"),
    Choice("persistence", "Unreasonable persistence"),
    Choice("demands", "Unreasonable demands"),
    Choice("refusal", "Refusal to cooperate"),
    Choice("other", "Other (describe it)"),
)

RECOMMENDATIONS: Choices = (
    Choice("no_action", "No action"),
    Choice("informal_warning", "Informal warning"),
    Choice("formal_warning", "Formal warning"),
    Choice("restriction", "Restriction"),
)

RESTRICTIONS: Choices = (
    Choice(Restriction.SINGLE_POINT_OF_CONTACT, "Single point of contact"),
    Choice(Restriction.WRITTEN_CONTACT_ONLY, "Written contact only"),
    Choice(Restriction.PHONE_LIMITS, "Telephone limits"),
    Choice(Restriction.NO_LONE_VISITS, "No lone visits"),
    Choice(Restriction.OFFICE_APPOINTMENTS_ONLY, "No home visits: office appointments"),
    Choice(Restriction.PREMISES_EXCLUSION, "Exclusion from named premises"),
    Choice(Restriction.CORRESPONDENCE_ON_FILE, "Closed matter: correspondence on file"),
    Choice(Restriction.OTHER, "Other (describe it)"),
)

DESCRIPTION_MAX = 4000
MAX_AGE = timedelta(days=365)
#: a phone's clock a few minutes ahead of ours is not a report from the future
CLOCK_SLACK = timedelta(minutes=10)

YES_NO: Choices = (Choice("false", "No"), Choice("true", "Yes"))


class ReportContext(Context):
    """The time now, and the council's configuration: service areas and who may decide for each."""

    def __init__(self, now: datetime, service_areas: Sequence[str] = SERVICE_AREAS,
                 approvers: Callable[[str], Sequence[tuple[str, str]]] = lambda area: ()):
        super().__init__(now)
        self.service_areas = tuple(service_areas)
        self.approvers = approvers  # area -> [(object id, display name)]

    def choices(self, source: str, values: Mapping[str, str]) -> Choices:
        if source == "service_areas":
            return tuple(Choice(a, a) for a in self.service_areas)
        if source == "approvers":
            return tuple(Choice(i, n) for i, n in self.approvers(values.get("service_area", "")))
        raise KeyError(source)


def occurred_at(values: Mapping[str, str]) -> datetime | None:
    """The moment of the incident (UK local time as typed), in UTC; None if the date or time does not parse."""
    day, clock = parse_date(values.get("occurred_on", "")), parse_time(values.get("occurred_time", "") or "00:00")
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, UK).astimezone(UTC)


def _when(values: Mapping[str, str], ctx: Context) -> dict[str, str]:
    if not isinstance(ctx, ReportContext):
        raise TypeError("the report flow runs with a ReportContext")
    moment = occurred_at(values)
    if moment is None:
        return {}  # the field checks have said what is wrong
    if moment > ctx.now + CLOCK_SLACK:
        return {"occurred_on": "The date and time cannot be in the future."}
    if moment < ctx.now - MAX_AGE:
        return {"occurred_on": "This is more than a year ago: please contact your manager to record it."}
    return {}


def _where(values: Mapping[str, str], ctx: Context) -> dict[str, str]:
    method, address = values.get("contact_method", ""), values.get("address", "")
    problems: dict[str, str] = {}
    if method == "property" and not address:
        problems["address"] = "Please give the address of the property."
    if address:
        typed = _postcode_like(address)
        if typed:
            problems["address"] = f"'{typed}' is not a UK postcode: please check it (or leave the postcode out)."
    return problems


def _postcode_like(address: str) -> str:
    """The end of an address when it is shaped like an attempt at a postcode but is not a valid one: an outward
    code and a three-character inward part ('PR7 1AZZ' is not; 'PR7 AA1' is), or one compact token ending in a
    digit and two letters ('PR71A1' is not such a token; 'PRR71AA' is and is invalid). '' otherwise."""
    words = address.upper().replace(",", " ").split()
    if len(words) >= 2 and outward_code(words[-2]) and len(words[-1]) == 3 and any(c.isdigit() for c in words[-1]):
        pair = f"{words[-2]} {words[-1]}"
        return "" if normalise_postcode(pair) else pair
    last = words[-1] if words else ""
    shaped = 5 <= len(last) <= 8 and last[0].isalpha() and last[-2:].isalpha() and last[-3].isdigit()
    return last if shaped and last.isalnum() and not normalise_postcode(last) else ""


def _what(values: Mapping[str, str], ctx: Context) -> dict[str, str]:
    problems: dict[str, str] = {}
    if yes(values.get("police", "")) and not values.get("crime_reference"):
        problems["crime_reference"] = "Please give the police crime reference (or say the police were not involved)."
    return problems


def _who(values: Mapping[str, str], ctx: Context) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not values.get("address") and not values.get("person_name"):
        if values.get("contact_method") in REMOTE:
            problems["person_name"] = "Without an address, please give the person's name."
        else:
            problems["person_name"] = "Please give the person's name, or an address on the first step."
    restrictions = split_multi(values.get("restrictions", ""))
    if values.get("recommendation") == "restriction" and not restrictions:
        problems["restrictions"] = "Please choose at least one restriction to recommend."
    if Restriction.OTHER.value in restrictions and not values.get("restriction_other"):
        problems["restriction_other"] = "Please describe the other restriction."
    return problems


REPORT = Flow("report", (
    Step("where", "Where and when", (
        Field("address", "Address", placeholder="12 High Street, PR7 1AA", max_length=200),
        Field("occurred_on", "Date", Kind.DATE, required=True, max_length=10, missing="Please give the date."),
        Field("occurred_time", "Time", Kind.TIME, max_length=8),
        Field("service_area", "Service area", Kind.CHOICE, required=True, choices_from="service_areas",
              missing="Please choose your service area."),
        Field("contact_method", "How it happened", Kind.CHOICE, required=True, choices=CONTACT_METHODS,
              missing="Please say how the contact happened."),
    ), (_where, _when)),
    Step("what", "What happened", (
        Field("behaviours", "Behaviour", Kind.MULTI_CHOICE, required=True, choices=BEHAVIOURS, max_length=400,
              missing="Please choose at least one kind of behaviour."),
        Field("description", "What happened", Kind.MULTILINE, required=True, max_length=DESCRIPTION_MAX,
              missing="Please describe what happened."),
        Field("injured", "Was anyone injured?", Kind.YES_NO, choices=YES_NO, max_length=5),
        Field("police", "Were the police involved?", Kind.YES_NO, choices=YES_NO, max_length=5),
        Field("crime_reference", "Crime reference", max_length=50),
        Field("witnesses", "Witnesses", Kind.MULTILINE, max_length=500),
    ), (_what,)),
    Step("who", "Who, and what next", (
        Field("person_name", "Name (if known)", max_length=100),
        Field("person_description", "Short description", Kind.MULTILINE, max_length=500),
        Field("other_names", "Other names used", max_length=200),
        Field("recommendation", "Your recommendation", Kind.CHOICE, required=True, choices=RECOMMENDATIONS,
              missing="Please choose a recommendation."),
        Field("restrictions", "Restrictions", Kind.MULTI_CHOICE, choices=RESTRICTIONS, max_length=400),
        Field("restriction_other", "Other restriction", max_length=500),
        Field("approver", "Who should decide", Kind.CHOICE, required=True, choices_from="approvers",
              missing="Please choose who should decide."),
    ), (_who,)),
    Step("review", "Check and submit"),
))


def prefill(now: datetime, address: str = "") -> dict[str, str]:
    """A new report: today's date and the time now (UK), and the address it was started from, if any."""
    local = now.astimezone(UK)
    values = {"occurred_on": local.date().isoformat(), "occurred_time": local.strftime("%H:%M")}
    if address:
        values["address"] = address
    return values


def today_uk(now: datetime) -> date:
    return now.astimezone(UK).date()
