"""Every card verb, once: the card builders put these in their buttons and bot/handlers.py registers its card
routes under the same names, so a button and its handler cannot drift apart (tests/test_verbs.py checks that every
verb here has a route and every card route is here)."""

from __future__ import annotations

CHECK = "check"  # re-run a check for one chosen property (ambiguous and building cards)

REPORT_START = "report.start"  # "Report an incident here" on a check card; "Start again" on the resume offer
REPORT_CONTINUE = "report.continue"  # continue the open draft
REPORT_NEXT = "report.next"  # save this step (validated) and go on
REPORT_BACK = "report.back"  # save what was typed and go back a step, unjudged
REPORT_EDIT = "report.edit"  # from the review: go to a step
REPORT_SUBMIT = "report.submit"

CARD_VERBS = frozenset({CHECK, REPORT_START, REPORT_CONTINUE, REPORT_NEXT, REPORT_BACK, REPORT_EDIT, REPORT_SUBMIT})
