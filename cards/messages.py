"""Every sentence a user of the register reads: card text and plain-text bot replies.

One module, so the wording is reviewed (and, one day, translated) in one place. British English, plain words,
no jargon.

The functions below compose sentences from values this module did not write (a display name, a reference, what
was typed, an address). Teams renders markdown in cards AND in a bot's plain text messages, so each function is a
`_sentence`: every str (or list of str) it is given goes through `cards.text.plain` (one line, markdown escaped)
unless it is already `Shown` (escaped by `plain`, or another sentence), and the sentence comes back `Shown`. A
parameter that only chooses the wording and is never shown is named in `_sentence(...)`. The one function whose
text is not markdown (a button tooltip) is `_plain_text`. tests/test_messages.py feeds every parameter of every
function hostile markdown and HTML.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from cards.text import Shown, clean, plain
from register.model import Restriction

VALUE_MAX_CHARS = 200  # one value from outside (a name, a reference, a query) inside a sentence


def _shown(value: Any) -> Any:
    kind = type(value)
    if kind is Shown or kind is int:  # the usual arguments: already escaped, or a count
        return value
    if isinstance(value, str):
        return plain(value, VALUE_MAX_CHARS)
    if isinstance(value, list | tuple):
        return [_shown(item) for item in value]
    return value


def _sentence(*choices: str) -> Callable[[Callable[..., str]], Callable[..., Shown]]:
    """A sentence with values from outside made safe to show (module docstring). `choices` names parameters that
    select the wording (compared, never shown): they are passed through as given."""

    def decorate(fn: Callable[..., str]) -> Callable[..., Shown]:
        positions = frozenset(i for i, name in enumerate(inspect.signature(fn).parameters) if name in choices)

        @functools.wraps(fn)
        def sentence(*args: Any, **kwargs: Any) -> Shown:
            if positions or kwargs:
                args = tuple(arg if i in positions else _shown(arg) for i, arg in enumerate(args))
                kwargs = {name: arg if name in choices else _shown(arg) for name, arg in kwargs.items()}
                return Shown(fn(*args, **kwargs))
            return Shown(fn(*map(_shown, args)))  # the usual call, on every card: kept cheap

        sentence.markdown = True  # type: ignore[attr-defined]
        sentence.choices = choices  # type: ignore[attr-defined]
        return sentence

    return decorate


def _plain_text(fn: Callable[..., str]) -> Callable[..., str]:
    """A sentence for a field Teams does not read as markdown (a tooltip): values are cleaned to one line, not
    escaped (a backslash would show)."""

    def cleaned(value: Any) -> Any:
        return clean(value, VALUE_MAX_CHARS) if isinstance(value, str) else value

    @functools.wraps(fn)
    def sentence(*args: Any, **kwargs: Any) -> str:
        return fn(*map(cleaned, args), **{name: cleaned(arg) for name, arg in kwargs.items()})

    sentence.markdown = False  # type: ignore[attr-defined]
    sentence.choices = ()  # type: ignore[attr-defined]
    return sentence

# --- plain-text replies (the bot sends them as text or through cards.error_card) ----------------------------

UNKNOWN_COMMAND = "Sorry, I don't know that command. Here is what I can do."
EMPTY_CHECK = "Tell me what to check, e.g. check 12 High St"
REGISTER_UNAVAILABLE = "The register is unavailable, please try again in a minute."
RESULT_SENT_PRIVATELY = "I've sent you the result privately."
CANNOT_MESSAGE_PRIVATELY = (
    "Please ask me in a personal chat: I can't send you the result privately yet. "
    "Open a chat with me and type your check there."
)
NOT_ALLOWED = "Sorry, you can't do that. Ask the register administrators if you need to."
NEED_MORE = ("I need a little more to check that: a house number or name with the street (check 12 High St), "
             "a full postcode (check PR7 1AA), or a person's full name.")
TOO_LONG = "That's too long for me to check. Please send a shorter address, postcode or name."
SOMETHING_WENT_WRONG = (
    "Something went wrong on my side. Please try again; "
    "if it keeps happening, tell the register administrators."
)

# --- restrictions as guidance for staff (the policy's menu of restrictions) -----------------------------

RESTRICTION_GUIDANCE: Mapping[Restriction, str] = MappingProxyType({
    Restriction.SINGLE_POINT_OF_CONTACT: (
        "Single point of contact: all contact goes through the named contact below."
    ),
    Restriction.WRITTEN_CONTACT_ONLY: (
        "Written contact only (letter or email), subject to any reasonable adjustments."
    ),
    Restriction.PHONE_LIMITS: (
        "Telephone calls are limited to set days, times and length: see the staff guidance."
    ),
    Restriction.NO_LONE_VISITS: "Do not visit alone: two officers, or a witness present.",
    Restriction.OFFICE_APPOINTMENTS_ONLY: "No home visits: appointments at council offices only.",
    Restriction.PREMISES_EXCLUSION: "Excluded from named council premises: see the staff guidance for which.",
    Restriction.CORRESPONDENCE_ON_FILE: (
        "Letters on a closed matter are filed without reply, but still read for new issues and safeguarding."
    ),
    Restriction.OTHER: "Other restriction: see the staff guidance.",
})

# --- shared by the check results ----------------------------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@_sentence()
def format_date(d: date) -> str:
    """en-GB long date, '28 May 2027' (independent of the server's locale)."""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


@_sentence()
def you_checked(query: str) -> str:
    return f"You checked: {query}"


@_sentence()
def checked_on(today: date) -> str:
    return f"Checked on {format_date(today)}."


@_sentence()
def quoted(text: str) -> str:
    return f"“{text}”"


NO_GUARANTEE = "No alert is no guarantee: follow the lone-working procedure."

# --- alert --------------------------------------------------------------------------------------------------

ALERT_TITLE = "⚠ Alert: restrictions on contact"
ALERT_INTRO_PROPERTY = "Restrictions on contact apply at this address. Read before you visit, call or write."
ALERT_INTRO_PERSON = "Restrictions on contact apply to this person. Read before you visit, call or write."
ALERT_DETAILS_MISSING = (
    "The details of this alert could not be shown. Contact the register administrators before any contact."
)


@_sentence()
def alert_several(count: int) -> str:
    return f"{count} entries on the register apply. Follow all of them."


@_sentence()
def entry_position(position: int, count: int) -> str:
    return f"Entry {position} of {count}"


@_sentence()
def alert_more(refs: list[str]) -> str:
    return (f"Also on the register here: {', '.join(refs)}. There is too much to show on one card: "
            "ask the register administrators for the details before any contact.")


@_sentence()
def labelled(label: str, value: str) -> str:
    return f"**{label}:** {value}"


LABEL_ADDRESS = "Address"
LABEL_PERSON = "Person"
LABEL_REFERENCE = "Reference"
LABEL_REVIEW_DATE = "Review date"
LABEL_CONTACT = "Contact"
HEADING_WHAT_TO_DO = "What to do"
HEADING_STAFF_GUIDANCE = "Staff guidance"
BULLET = "•"
NO_RESTRICTIONS_RECORDED = "No restriction recorded: follow the staff guidance; speak to the contact first."
GUIDANCE_SHORTENED = "Shortened here: ask the contact for the full guidance."
CONTACT_NOT_RECORDED = "Not recorded: ask your manager or the register administrators."
REVIEW_DATE_NOT_RECORDED = "Not recorded"
ESSENTIAL_SERVICES_TITLE = "Essential services stay open"
ESSENTIAL_SERVICES = (
    "Whatever the restriction, the person can still pay, report an emergency or a repair, "
    "and raise a safeguarding concern."
)
KEEP_PRIVATE = "This alert is for you: don't forward it or share it beyond those who need to know."
ALERT_FALLBACK = "⚠ Alert: restrictions on contact apply. Open this message in Microsoft Teams to read them."

# --- building -----------------------------------------------------------------------------------------------

BUILDING_TITLE = "Notice: an entry at another flat in this building"
BUILDING_BODY = (
    "There is an active register entry at another flat in the same building. "
    "It may not apply to the flat you are visiting."
)
BUILDING_CHOOSE = "Check the specific flat before you visit:"


@_sentence()
def building_more(count: int) -> str:
    return f"And {count} more: check the flat you are visiting by its full address."


BUILDING_FALLBACK = "Notice: a register entry at another flat in this building. Open this message in Teams."

# --- pending ------------------------------------------------------------------------------------------------

PENDING_TITLE = "Notice: speak to a manager before visiting"
PENDING_BODY = (
    "A recent incident at this address is awaiting a decision. No details are shown until it is decided."
)


@_sentence()
def pending_contact(contacts: list[str]) -> str:
    return f"Before you visit, contact {' or '.join(contacts)}."


PENDING_CONTACT_UNKNOWN = "Contact your manager before you visit."
PENDING_FALLBACK = "Notice: speak to a manager before visiting. Open this message in Microsoft Teams."

# --- ambiguous ----------------------------------------------------------------------------------------------

AMBIGUOUS_TITLE = "Several possible properties"
AMBIGUOUS_BODY = "Never a guess: choose the property you're visiting."
AMBIGUOUS_NOT_LISTED = "Not listed? Check again with the full address and postcode."
POSTCODE_DIFFERS = (
    "The postcode differs: the register holds this address under a postcode one character different from the one "
    "you typed. Check which is right before you visit."
)
AMBIGUOUS_FALLBACK = "Several possible properties: check again with the full address and postcode."


CHECK_BUTTON = "Check"


@_plain_text
def check_button_tooltip(target: str) -> str:
    return f"Check {target}"

# --- none ---------------------------------------------------------------------------------------------------


@_sentence()
def no_alert_for(query: str) -> str:
    return f"No alert on the register for {query}"


NONE_TIP = "For the most reliable result, check the full address with its postcode."
NONE_FALLBACK = "No alert on the register. No alert is no guarantee: follow the lone-working procedure."

# --- help ---------------------------------------------------------------------------------------------------

HELP_TITLE = "Managed Contact Register"
HELP_INTRO = "Check a property or a person before a visit or a call."
#: the help card's sample list (tests, screenshots); the bot builds its own from the router (bot/handlers.py)
HELP_SAMPLE: tuple[tuple[str, str], ...] = (
    ("check 12 High St", "check an address, postcode or name"),
    ("report 12 High St", "report an incident (in your personal chat)"),
    ("help", "list the commands"),
)
HELP_CHECK_TIP = "A postcode (check PR7 1AA) or a name (check Jane Smith) works too."
HELP_PRIVACY = "In channels and group chats, @mention me: I send results to you privately."
HELP_FALLBACK = "Type: check 12 High St (or a postcode, or a name), or help."

# --- errors -------------------------------------------------------------------------------------------------

ERROR_FALLBACK = "Something went wrong. Please try again."


# --- security and administration ------------------------------------------------------------------------------

TENANT_NOT_ALLOWED = "Sorry, the register is not available to your organisation."
AUDIT_NEEDS_REF = "Tell me which entry, e.g. audit MCR-2026-0007"
AUDIT_EMPTY = "No one has looked at or changed this entry yet."


@_sentence()
def rate_limited(limit: int) -> str:
    return (f"You've reached the limit of {limit} checks an hour. Please try again later; if you need more for "
            "your work, ask the register administrators.")


@_sentence()
def rate_limit_alert(who: str, limit: int) -> str:
    return (f"Register: {who} has reached the limit of {limit} checks in an hour. Further checks are refused "
            "while they have made that many in the past hour. The audit trail shows what was checked.")


@_sentence()
def audit_title(ref: str) -> str:
    return f"Audit trail: {ref}"


@_sentence()
def audit_row(who: str, action: str, outcome: str) -> str:
    return f"{who}: {action}" + (f" ({outcome})" if outcome else "")


@_sentence()
def audit_more(count: int) -> str:
    return f"{count} older record(s) not shown: register-admin audit --ref gives the full trail."


# --- lifting an entry (approvers) -----------------------------------------------------------------------------

LIFT_NEEDS_REF = "Tell me which entry to lift, e.g. lift MCR-2026-0007"


@_sentence()
def lifted(ref: str) -> str:
    return f"{ref} is lifted. It no longer alerts; the decision is recorded in the audit trail."


@_sentence("reason")
def not_lifted(ref: str, reason: str, status: str = "") -> str:
    if reason == "missing":
        return f"There is no entry {ref} on the register."
    if reason == "not_active":
        return f"{ref} is not active (it is {status}), so there is nothing to lift."
    return f"{ref} was changed by someone else just now. Nothing was overwritten: check it and try again."

# --- incident reports ----------------------------------------------------------------------------------------

REPORT_TITLE = "Report an incident"
REPORT_FALLBACK = "Report an incident: open this message in Microsoft Teams to continue."
REPORT_FIX_PROBLEMS = "Please check the answers marked below."
REPORT_NEXT = "Next"
REPORT_BACK = "Back"
REPORT_SUBMIT = "Submit report"
REPORT_CONTINUE = "Continue"
REPORT_START_AGAIN = "Start again"
REPORT_START_NEW = "Start a new report"
REPORT_REVIEW = "Check your answers, then submit."
REPORT_SAVED_EACH_STEP = "Your answers are saved at every step: you can finish later, on any device."
REPORT_SUBMITTED_TITLE = "✓ Report submitted"
REPORT_WHAT_NEXT = (
    "Until a decision is made, colleagues checking this property are told to speak to a manager before "
    "visiting. You'll hear the outcome here. Type my reports to see your reports."
)
REPORT_NO_DRAFT = (
    "That report is no longer open: a report that isn't submitted is kept for 14 days, or you started a new one."
)
REPORT_STALE = "This card was out of date, so nothing was changed: here is your report as it is saved."
REPORT_RESUMED = "Continuing your saved report."
REPORT_SENT_PRIVATELY = "I've sent you a private message to take your report."
REPORT_CANNOT_MESSAGE_PRIVATELY = "Please open a personal chat with me and type report there."
REPORT_IN_PERSONAL_CHAT = "Reports are taken in your personal chat with me: type report there."
YES = "Yes"
NO = "No"
CHOOSE = "Choose"
MY_REPORTS_TITLE = "Your recent reports"
MY_REPORTS_NONE = "You haven't submitted any reports yet. Type report to start one."

REPORT_STATUS: Mapping[str, str] = MappingProxyType({
    "pending": "awaiting a decision",
    "decided": "decided",
    "rejected": "closed without an entry",
})


@_sentence()
def answered(label: str, value: str) -> str:
    """'**Label:** value', or '**Was anyone injured?** No' for a question."""
    return f"**{label}** {value}" if label.endswith("?") else labelled(label, value)


@_sentence()
def report_step(number: int, total: int, title: str) -> str:
    return f"Step {number} of {total}: {title}"


@_sentence()
def report_edit(title: str) -> str:
    return f"Edit: {title}"


@_sentence()
def report_open_draft(step_title: str) -> str:
    return f"You have a report in progress (next: {step_title}). Continue it, or start again?"


@_sentence()
def report_who_decides(approver: str) -> str:
    return f"{approver} will decide on it." if approver else "A manager will decide on it."


@_sentence()
def report_submitted_fallback(ref: str) -> str:
    return f"Report submitted: {ref}."


@_sentence()
def report_already_submitted(ref: str) -> str:
    return f"This report was already submitted: {ref}." if ref else "This report was already submitted."


@_sentence("status")
def my_report_line(ref: str, when: date, status: str) -> str:
    return f"{ref}, {format_date(when)}: {REPORT_STATUS.get(status, 'status unknown')}"


@_sentence()
def report_address_read(address: str) -> str:
    return f"Address recorded as: {address}. If that's not right, go back and correct it."


@_sentence()
def report_known_here(refs: str) -> str:
    return f"The register already holds {refs} at this address: your report will be added for the approver."


# --- approvals -----------------------------------------------------------------------------------------------

APPROVAL_FALLBACK = "A report awaits your decision: open this message in Microsoft Teams."
APPROVAL_NARRATIVE_SHORTENED = "Shortened here: the full account is in the subject access export."
APPROVAL_RELATED_NONE = "Nothing else on the register at this property or for this person."
APPROVAL_DECIDE_HEADING = "Your decision"
APPROVAL_APPROVE = "Approve"
APPROVAL_REJECT = "Reject report"
APPROVAL_ASK = "Ask the reporter"
APPROVAL_QUESTION_LABEL = "Question for the reporter"
APPROVAL_DECISION_LABEL = "Decision"
APPROVAL_RESTRICTIONS_LABEL = "Restrictions"
APPROVAL_OTHER_LABEL = "Other restriction"
APPROVAL_GUIDANCE_LABEL = "Staff guidance (plain words)"
APPROVAL_REASON_LABEL = "Reason (for the letter to the customer)"
APPROVAL_REVIEW_LABEL = "Review date"
APPROVAL_NOTIFY_LABEL = "Customer notification"
APPROVAL_NOTIFY_YES = "Will be told in writing"
APPROVAL_NOTIFY_NO = "Withheld (it would put staff at risk)"
APPROVAL_WITHHELD_LABEL = "Why notification is withheld"
APPROVAL_REJECT_LABEL = "Reason for rejecting (if you reject)"
APPROVAL_FIX_PROBLEMS = "Nothing was decided yet: please check the answers marked below."
APPROVAL_READ_ONLY = "Only the approver chosen for this report, or an administrator, can decide on it."
APPROVAL_OWN_REPORT = "You reported this incident, so you can't decide on it: another approver will."
APPROVAL_QUESTION_SENT = "Your question was sent to the reporter. Their answer will appear on this card."
DECISION_TITLES: Mapping[str, str] = MappingProxyType({
    "no_action": "No action",
    "informal_warning": "Informal warning",
    "formal_warning": "Formal warning",
    "restriction": "Restriction",
    "rejected": "Report rejected",
})
REFUSAL: Mapping[str, str] = MappingProxyType({
    "missing": "There is no such report.",
    "own_report": "You reported this incident, so you can't decide on it: another approver will.",
    "not_assigned": "Only the approver chosen for this report, or an administrator, can decide on it.",
    "not_approver": "You no longer hold the approver role, so you can't decide on this report.",
})
PENDING_LIST_TITLE = "Reports awaiting a decision"
PENDING_LIST_NONE = "No report is waiting for a decision."
OPEN_BUTTON = "Open"


@_sentence()
def approval_title(ref: str) -> str:
    return f"Decision needed: report {ref}"


@_sentence()
def approval_reported(when: date, area: str, reporter: str) -> str:
    return f"Reported {format_date(when)} by {reporter or 'a member of staff'}" + (f", {area}" if area else "")


@_sentence("kind")
def decided_line(kind: str, by: str, when: date) -> str:
    return f"Decided: {DECISION_TITLES.get(kind, 'a decision')}, by {by or 'an approver'} on {format_date(when)}."


@_sentence()
def decided_entry(ref: str) -> str:
    return f"Register entry: {ref}"


@_sentence()
def awaiting(approver: str) -> str:
    return f"Awaiting a decision by {approver}." if approver else "Awaiting a decision."


@_sentence()
def pending_line(ref: str, when: date, area: str, approver: str) -> str:
    return f"{ref}, reported {format_date(when)}" + (f", {area}" if area else "") + (
        f": {approver}" if approver else "")


@_sentence("kind")
def reporter_outcome(ref: str, kind: str) -> str:
    """What the reporter is told: the outcome, never the approver's letter wording."""
    return {
        "restriction": f"Your report {ref} was decided: restrictions now apply, and colleagues checking will see them.",
        "formal_warning": f"Your report {ref} was decided: a formal warning.",
        "informal_warning": f"Your report {ref} was decided: an informal warning.",
        "no_action": f"Your report {ref} was decided: no action on the register.",
        "rejected": f"Your report {ref} was closed without an entry on the register.",
    }.get(kind, f"Your report {ref} was decided.")


@_sentence()
def question_for_reporter(ref: str, question: str) -> str:
    return f"The approver has a question about your report {ref}: {question}"


@_sentence()
def approver_new_report(ref: str) -> str:
    return f"A new report, {ref}, awaits your decision."


@_sentence()
def approval_undeliverable(ref: str, approver: str) -> str:
    return (f"The approval card for report {ref} could not be sent to {approver or 'its approver'} (they may not "
            "have opened the bot yet). Type pending to open it.")
APPROVAL_QUESTION_NEEDED = "Please type your question for the reporter."
ANSWER_NEEDED = "Please type your answer."
ANSWER_NOT_TAKEN = "That question was already answered, or is no longer open."
ANSWER_SENT = "Thank you: your answer was sent to the approver."
QUESTION_TITLE = "A question about your report"
ANSWER_LABEL = "Your answer"
ANSWER_BUTTON = "Send answer"

# --- reviews and the entry's life ---------------------------------------------------------------------------

RESTRICTION_TITLES: Mapping[str, str] = MappingProxyType({
    "single_point_of_contact": "Single point of contact",
    "written_contact_only": "Written contact only",
    "phone_limits": "Telephone limits",
    "no_lone_visits": "No lone visits",
    "office_appointments_only": "No home visits: office appointments",
    "premises_exclusion": "Exclusion from named premises",
    "correspondence_on_file": "Closed matter: correspondence on file",
    "other": "Other",
})
REVIEW_INTRO = ("This entry's review is due. Extend it, amend its restrictions, or lift it; it lapses at the "
                "review date.")
REVIEW_ACTION_LABEL = "Outcome of the review"
REVIEW_EXTEND = "Extend (new review date)"
REVIEW_AMEND = "Amend the restrictions"
REVIEW_LIFT = "Lift the entry"
REVIEW_ACTION_NEEDED = "Please choose the outcome of the review."
REVIEW_NEW_DATE_LABEL = "New review date (if extended)"
REVIEW_REASON_LABEL = "Reason"
REVIEW_REASON_NEEDED = "Please give the reason."
REVIEW_SAVE = "Save review"
REVIEW_REFUSAL: Mapping[str, str] = MappingProxyType({
    "missing": "There is no such entry.",
    "not_active": "This entry is no longer active: nothing to review.",
    "not_allowed": "Only the approver who owns this entry, or an administrator, can review it.",
    "changed": "Someone else reviewed this entry at the same moment: nothing was changed. Open it again.",
})
ENTRY_DECIDED = "Decided"
ENTRY_EXPIRES = "Expires"
ENTRY_NOTIFIED = "Customer told"
ENTRY_INCIDENTS = "Incidents"
ENTRY_HISTORY = "History"
ENTRY_NEEDS_REF = "Tell me which entry, e.g. entry MCR-2026-0001"
LIFT_NEEDS_REASON = "Please give the reason, e.g. lift MCR-2026-0001 moved away from the area"
NOTIFIED_NEEDS = "Tell me the entry and the date the customer was told, e.g. notified MCR-2026-0001 2026-12-02"
NO_SUCH_ENTRY = "There is no such entry."


@_sentence()
def review_title(ref: str) -> str:
    return f"Review due: {ref}"


@_sentence("event", "status")
def reviewed_line(event: str, status: str) -> str:
    return {"extended": "Reviewed: extended.", "amended": "Reviewed: restrictions amended.",
            "lifted": "Reviewed: lifted. It no longer alerts."}.get(event, "Reviewed.")


@_sentence("status")
def entry_title(ref: str, status: str) -> str:
    shown = {"active": "active", "lifted": "lifted", "expired": "expired", "pending": "pending",
             "rejected": "rejected"}.get(status, "status unknown")
    return f"Entry {ref} ({shown})"


@_sentence()
def overdue_review(ref: str) -> str:
    return f"The review of {ref} was not done by its review date: the entry has lapsed and no longer alerts."


@_sentence()
def notified(ref: str, when: date) -> str:
    return f"Recorded: the customer of {ref} was told in writing on {format_date(when)}."
APPEAL_INTRO = "The customer has appealed. You did not make the original decision: uphold it, amend it, or lift it."
APPEAL_RECEIVED = "Received"
APPEAL_GROUNDS = "Grounds"
APPEAL_UPHOLD = "Uphold the decision"
APPEAL_SAVE = "Decide the appeal"
APPEAL_NEEDS = ("Tell me the entry, the date the appeal was received and the customer's grounds, e.g. "
                "appeal MCR-2026-0001 2026-12-01 the restriction stops me paying my rent")
APPEAL_REFUSAL: Mapping[str, str] = MappingProxyType({
    "missing": "There is no open appeal for this entry.",
    "not_active": "This entry is no longer active: there is nothing to appeal.",
    "original_decider": "You made the original decision, so the appeal must be decided by someone else.",
    "not_allowed": "Only the approver the appeal was assigned to, or an administrator, can decide it.",
    "changed": "Someone else changed this entry at the same moment: nothing was changed. Open it again.",
})


@_sentence()
def appeal_title(ref: str) -> str:
    return f"Appeal: {ref}"


@_sentence()
def appeal_recorded(ref: str, assigned: str) -> str:
    who = f"the approver {assigned}" if assigned else "the administrators (no other approver is available)"
    return f"The appeal against {ref} is recorded and has gone to {who}."
REPORT_HERE = "Report an incident here"
