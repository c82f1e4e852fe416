"""Adaptive Cards (schema 1.5, Microsoft Teams) for the register.

Pure functions from domain objects to card JSON.

Every sentence a user reads lives in cards.messages; text that is not ours goes through cards.text.plain.
"""

from cards.builders import (
    alert_card,
    ambiguous_card,
    building_card,
    check_result_card,
    error_card,
    help_card,
    none_card,
    pending_card,
)
from cards.elements import TEAMS_MAX_CARD_BYTES, card_size
from cards.text import escape_markdown, plain

__all__ = [
    "TEAMS_MAX_CARD_BYTES",
    "alert_card",
    "ambiguous_card",
    "building_card",
    "card_size",
    "check_result_card",
    "error_card",
    "escape_markdown",
    "help_card",
    "none_card",
    "pending_card",
    "plain",
]
