"""The bot's cards, as pure functions from domain objects to Adaptive Card 1.5 JSON (plain dicts).

No I/O and no host imports: the Teams layer sends what these return. Every piece of text that did not come
from cards.messages goes through cards.text.plain (markdown-escaped, length-capped) before it reaches a
TextBlock.

The alert card carries personal detail (a name, an address, staff guidance). It is built for the person who
asked, in a personal chat; the caller must never post it in a channel or group chat (need to know: the policy's
data-protection rules).
It never shows an incident narrative: it reads only the entry's restrictions, guidance, contact, dates and
reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from cards import messages as m
from cards import verbs
from cards.elements import (
    Element,
    Spacing,
    action_set,
    adaptive_card,
    card_size,
    column,
    column_set,
    container,
    submit_action,
    text_block,
)
from cards.text import clean, plain
from register.matching import LookupResult, Match
from register.model import Address, Entry, Outcome, Restriction, Subject
from register.normalise import fold

MAX_CHOICES = 5
QUERY_MAX_CHARS = 80

# Length caps for text that comes from the register, so a long value cannot push a card past Teams' 28 KB.
NAME_MAX_CHARS = 120
ADDRESS_MAX_CHARS = 200
CONTACT_MAX_CHARS = 200
REF_MAX_CHARS = 40
CHOICE_MAX_CHARS = 100
# Layouts of the alert card, tried in order until the card fits the budget: (staff guidance shortened to at
# most this many characters, compact bullets); 0 replaces the guidance by 'ask the contact'.
ALERT_LAYOUTS = ((1500, False), (800, False), (400, False), (200, False), (200, True), (80, True), (0, True))
CARD_BUDGET_BYTES = 24 * 1024  # well under Teams' 28 KB, leaving room for the activity envelope


def check_result_card(query: str, result: LookupResult, today: date) -> dict[str, Any]:
    """The answer to `check <query>`: one card per outcome (the policy: what a check shows)."""
    builders: dict[Outcome, Callable[[str, tuple[Match, ...], date], dict[str, Any]]] = {
        Outcome.ALERT: alert_card,
        Outcome.BUILDING: building_card,
        Outcome.PENDING: pending_card,
        Outcome.AMBIGUOUS: ambiguous_card,
        Outcome.NONE: none_card,
    }
    return builders[Outcome(result.outcome)](query, tuple(result.matches), today)


# --- alert --------------------------------------------------------------------------------------------------


def alert_card(query: str, matches: tuple[Match, ...], today: date) -> dict[str, Any]:
    """Live entries at the property or for the person: every one of them, with its restrictions as guidance.

    A card over Teams' limit is not delivered at all, which would hide the alert. So when the entries are too
    long for one card, the staff guidance is shortened first, then the bullets are made compact; only if a
    (so far unheard-of) number of entries still does not fit are the last ones listed by reference alone,
    with whom to ask."""
    entries = [(match, match.entry) for match in matches if match.entry is not None]
    card: dict[str, Any] = {}
    for guidance_max, compact in ALERT_LAYOUTS:
        card = _alert_card(query, entries, today, guidance_max, compact, len(entries))
        if card_size(card) <= CARD_BUDGET_BYTES:
            return card
    for detailed in range(len(entries) - 1, 0, -1):
        card = _alert_card(query, entries, today, 0, True, detailed)
        if card_size(card) <= CARD_BUDGET_BYTES:
            break
    return card


def _alert_card(
    query: str,
    entries: list[tuple[Match, Entry]],
    today: date,
    guidance_max: int,
    compact: bool,
    detailed: int,
) -> dict[str, Any]:
    shown = entries[:detailed]
    if not entries:
        intro = m.ALERT_DETAILS_MISSING
    elif len(entries) > 1:
        intro = m.alert_several(len(entries))
    elif all(entry.subject is Subject.PERSON for _, entry in entries):
        intro = m.ALERT_INTRO_PERSON
    else:
        intro = m.ALERT_INTRO_PROPERTY
    header = container(
        [
            text_block(m.ALERT_TITLE, size="large", weight="bolder", color="attention", style="heading"),
            text_block(intro, weight="bolder", spacing="small"),
            _you_checked(query),
        ],
        style="attention",
        bleed=True,
    )
    body: list[Element] = [header]
    for index, (match, entry) in enumerate(shown):
        body.append(_entry_section(match, entry, guidance_max, compact, index=index, count=len(entries)))
    if len(shown) < len(entries):
        refs = [plain(entry.ref, REF_MAX_CHARS) for _, entry in entries[len(shown):]]
        body.append(text_block(m.alert_more(refs), weight="bolder", color="attention", spacing="large",
                               separator=True))
    body.append(container(
        [
            text_block(m.ESSENTIAL_SERVICES_TITLE, weight="bolder"),
            text_block(m.ESSENTIAL_SERVICES, spacing="small"),
        ],
        style="emphasis",
        spacing="medium",
    ))
    body.append(text_block(m.KEEP_PRIVATE, size="small", is_subtle=True, spacing="medium"))
    where = next((a for a in (_address_of(match) for match, _ in entries) if a), "")
    body.append(_report_here(where or query))
    body.append(_checked_on(today))
    return adaptive_card(body, fallback_text=m.ALERT_FALLBACK)


def _entry_section(
    match: Match, entry: Entry, guidance_max: int, compact: bool, *, index: int, count: int
) -> Element:
    who: list[tuple[str, str]] = []
    if entry.subject in (Subject.PERSON, Subject.PERSON_AND_PROPERTY) and entry.person_name:
        who.append((m.LABEL_PERSON, plain(entry.person_name, NAME_MAX_CHARS)))
    address = match.address or entry.address
    if address is not None and entry.subject is not Subject.PERSON:
        who.append((m.LABEL_ADDRESS, plain(address.display(), ADDRESS_MAX_CHARS)))

    items: list[Element] = []
    if count > 1:
        items.append(text_block(m.entry_position(index + 1, count), size="small", weight="bolder",
                                is_subtle=True))
    if who:
        items.append(_facts(who))
    items.append(text_block(m.HEADING_WHAT_TO_DO, weight="bolder", color="attention", spacing="medium"))
    restrictions = list(dict.fromkeys(entry.restrictions))  # keep order, drop repeats
    other = m.RESTRICTION_GUIDANCE[Restriction.OTHER]
    sentences = [m.RESTRICTION_GUIDANCE.get(r, other) for r in restrictions] or [m.NO_RESTRICTIONS_RECORDED]
    items.extend(_bullet(sentence, compact) for sentence in sentences)
    guidance = clean(entry.guidance, max(len(entry.guidance), 1))
    if guidance:
        items.append(text_block(m.HEADING_STAFF_GUIDANCE, weight="bolder", spacing="medium"))
        if guidance_max:
            items.append(text_block(plain(guidance, guidance_max), spacing="small"))
        if len(guidance) > guidance_max:
            items.append(text_block(m.GUIDANCE_SHORTENED, size="small", is_subtle=True, spacing="small"))
    items.append(_facts(
        [
            (m.LABEL_REVIEW_DATE, _review_date(entry)),
            (m.LABEL_CONTACT, plain(entry.contact, CONTACT_MAX_CHARS) or m.CONTACT_NOT_RECORDED),
            (m.LABEL_REFERENCE, plain(entry.ref, REF_MAX_CHARS)),
        ],
        spacing="medium",
    ))
    return container(items, separator=index > 0, spacing="large" if index else "medium")


def _facts(facts: list[tuple[str, str]], *, spacing: Spacing | None = None) -> Element:
    """'Label: value' lines, the label bold. Not a FactSet: on a phone its label column squeezes the values,
    and a long value (an email address) is cut off instead of wrapping. Values must already be safe."""
    return container([text_block(m.labelled(label, value), spacing="none") for label, value in facts],
                     spacing=spacing)


def _review_date(entry: Entry) -> str:
    return m.format_date(entry.review_on) if entry.review_on else m.REVIEW_DATE_NOT_RECORDED


def _bullet(sentence: str, compact: bool) -> Element:
    """A bullet with a hanging indent, or (compact, when the card must shrink) a bullet character in front.

    Not a markdown list: renderers differ in how they indent and wrap one, and the sentences matter most."""
    if compact:
        return text_block(f"{m.BULLET} {sentence}", spacing="small")
    return column_set(
        [
            column([text_block(m.BULLET, weight="bolder", color="attention")], width="auto"),
            column([text_block(sentence)]),
        ],
        spacing="small",
    )


# --- building -----------------------------------------------------------------------------------------------


def building_card(query: str, matches: tuple[Match, ...], today: date) -> dict[str, Any]:
    """An active entry at another flat of the same building: say so, with no personal detail, and offer a
    check of each flat."""
    targets = _unique(_address_of(match) for match in matches)
    body: list[Element] = [_notice_header(m.BUILDING_TITLE, m.BUILDING_BODY, query)]
    if targets:
        body.append(text_block(m.BUILDING_CHOOSE, weight="bolder", spacing="medium"))
        body.extend(_check_buttons(targets[:MAX_CHOICES]))
        if len(targets) > MAX_CHOICES:
            body.append(text_block(m.building_more(len(targets) - MAX_CHOICES), size="small", is_subtle=True))
    body.append(text_block(m.NO_GUARANTEE, spacing="medium"))
    body.append(_report_here(query))
    body.append(_checked_on(today))
    return adaptive_card(body, fallback_text=m.BUILDING_FALLBACK)


# --- pending ------------------------------------------------------------------------------------------------


def pending_card(query: str, matches: tuple[Match, ...], today: date) -> dict[str, Any]:
    """A recent incident (or a pending entry) at the property awaiting a decision: speak to the named manager
    first. No detail of what happened, and no reference."""
    contacts = _unique(
        plain(contact, CONTACT_MAX_CHARS)
        for contact in (_pending_contact(match) for match in matches)
        if clean(contact, CONTACT_MAX_CHARS)
    )
    addresses = _unique(plain(a, ADDRESS_MAX_CHARS) for a in (_address_of(match) for match in matches) if a)
    body: list[Element] = [_notice_header(m.PENDING_TITLE, m.PENDING_BODY, query)]
    if addresses:
        body.append(_facts([(m.LABEL_ADDRESS, a) for a in addresses[:MAX_CHOICES]], spacing="medium"))
    body.append(text_block(m.pending_contact(contacts) if contacts else m.PENDING_CONTACT_UNKNOWN,
                           weight="bolder", spacing="medium"))
    body.append(text_block(m.NO_GUARANTEE, spacing="medium"))
    body.append(_report_here(next((a for a in (_address_of(match) for match in matches) if a), query)))
    body.append(_checked_on(today))
    return adaptive_card(body, fallback_text=m.PENDING_FALLBACK)


def _pending_contact(match: Match) -> str:
    if match.incident is not None and match.incident.manager_contact:
        return match.incident.manager_contact
    if match.entry is not None:
        return match.entry.contact
    return ""


# --- ambiguous ----------------------------------------------------------------------------------------------


def ambiguous_card(query: str, matches: tuple[Match, ...], today: date) -> dict[str, Any]:
    """Several candidate properties (or people): a button per candidate that re-runs the check for it. Never a
    guess."""
    targets = _unique(_check_target(match) for match in matches)[:MAX_CHOICES]
    body: list[Element] = [
        text_block(m.AMBIGUOUS_TITLE, size="medium", weight="bolder", style="heading"),
        text_block(m.AMBIGUOUS_BODY, spacing="small"),
        _you_checked(query),
    ]
    if any(match.postcode_differs for match in matches):
        body.append(text_block(m.POSTCODE_DIFFERS, weight="bolder", color="attention", spacing="medium"))
    if targets:
        body.extend(_check_buttons(targets))
    body.append(text_block(m.AMBIGUOUS_NOT_LISTED, spacing="medium"))
    body.append(_checked_on(today))
    return adaptive_card(body, fallback_text=m.AMBIGUOUS_FALLBACK)


def _check_target(match: Match) -> str:
    """What to check again for a candidate: its address, or for a person with no address, the name."""
    address = _address_of(match)
    if address:
        return address
    if match.entry is not None:
        return match.entry.person_name
    return ""


# --- none ---------------------------------------------------------------------------------------------------


def none_card(query: str, matches: tuple[Match, ...], today: date) -> dict[str, Any]:
    """Nothing on the register: say so clearly, and that it is no guarantee."""
    del matches  # always empty for NONE; the signature is shared by every outcome
    return adaptive_card(
        [
            text_block(m.no_alert_for(_query(query)), size="medium", weight="bolder", style="heading"),
            container(
                [text_block(m.NO_GUARANTEE, weight="bolder", color="attention")],
                style="emphasis",
                spacing="medium",
            ),
            text_block(m.NONE_TIP, spacing="medium"),
            _report_here(query),
            _checked_on(today),
        ],
        fallback_text=m.NONE_FALLBACK,
    )


# --- help and errors ----------------------------------------------------------------------------------------


def help_card(commands: Sequence[tuple[str, str]], lead: str | None = None) -> dict[str, Any]:
    """The commands (how each is typed, with an example, and what it does: the router's own list, so help never
    drifts from what the bot does). `lead` (a constant such as messages.UNKNOWN_COMMAND) goes first."""
    body: list[Element] = []
    if lead:
        body.append(text_block(plain(lead, 500), weight="bolder"))
    body += [
        text_block(m.HELP_TITLE, size="medium", weight="bolder", style="heading",
                   spacing="medium" if lead else None),
        text_block(m.HELP_INTRO, spacing="small"),
        text_block(m.HELP_CHECK_TIP, spacing="none", is_subtle=True),
    ]
    for command, explanation in commands:
        body.append(container(
            [
                text_block(f"**{plain(command, 100)}**"),
                text_block(plain(explanation[:1].upper() + explanation[1:], 200), spacing="none", is_subtle=True),
            ],
            spacing="medium",
        ))
    body.append(text_block(m.HELP_PRIVACY, spacing="medium", separator=True))
    body.append(text_block(m.NO_GUARANTEE, spacing="small", is_subtle=True))
    return adaptive_card(body, fallback_text=m.HELP_FALLBACK)


def error_card(message: str) -> dict[str, Any]:
    """One message (a constant from cards.messages) on a card. It is escaped like any text, so a caller that
    passes something else cannot inject markdown."""
    text = plain(message, 500) or m.SOMETHING_WENT_WRONG
    return adaptive_card([text_block(text)], fallback_text=clean(message, 500) or m.ERROR_FALLBACK)


# --- shared pieces ------------------------------------------------------------------------------------------


def _query(query: str) -> str:
    """What was checked, safe to show: one line, at most QUERY_MAX_CHARS, markdown escaped, in quotes.

    Shown as the matcher read it (register/normalise.py: invisible characters dropped, look-alike letters of other
    scripts as their Latin letters), so a card never echoes text that looks like the query but was compared as
    something else."""
    return m.quoted(plain(fold(query), QUERY_MAX_CHARS))


def _notice_header(title: str, body: str, query: str) -> Element:
    """The warning-styled head of a notice (building, pending): what it is, what to do, what was checked."""
    return container(
        [
            text_block(title, size="medium", weight="bolder", style="heading"),
            text_block(body, spacing="small"),
            _you_checked(query),
        ],
        style="warning",
        bleed=True,
    )


def _you_checked(query: str) -> Element:
    return text_block(m.you_checked(_query(query)), size="small", is_subtle=True, spacing="small")


def _checked_on(today: date) -> Element:
    return text_block(m.checked_on(today), size="small", is_subtle=True, spacing="small")


def _address_of(match: Match) -> str:
    address: Address | None = match.address
    if address is None and match.entry is not None:
        address = match.entry.address
    if address is None and match.incident is not None:
        address = match.incident.address
    return address.display() if address is not None else ""


def _report_here(address: str) -> Element:
    """"Report an incident here": starts a report with this property filled in (in the asker's personal chat)."""
    return action_set([submit_action(m.REPORT_HERE, {"verb": verbs.REPORT_START,
                                                    "address": clean(fold(address), 200)})], spacing="medium")


def _check_buttons(targets: list[str]) -> list[Element]:
    """A row per target: the address (or name) in full, wrapped, and beside it a Check button.

    Not the address as the button title: Teams lays the buttons of a set side by side and cuts long titles,
    and on a phone the cut-off part (town, postcode) is exactly what tells the candidates apart. The data
    carries the exact text to check, as the matcher will read it."""
    rows = []
    for index, target in enumerate(targets):
        shown = clean(target, CHOICE_MAX_CHARS)
        button = submit_action(m.CHECK_BUTTON, {"verb": verbs.CHECK, "query": target},
                               tooltip=m.check_button_tooltip(shown))
        rows.append(column_set(
            [
                column([text_block(plain(shown, CHOICE_MAX_CHARS))], vertical_content_alignment="center"),
                column([action_set([button])], width="auto", vertical_content_alignment="center"),
            ],
            spacing="small" if index else "medium",
            separator=bool(index),
        ))
    return rows


def _unique(values: Iterable[str]) -> list[str]:
    """Non-empty values, first occurrence kept, compared without case or extra spaces."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = " ".join(value.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(value)
    return out
