"""Every card verb, once: the card builders put these in their buttons and bot/handlers.py registers its card
routes under the same names, so a button and its handler cannot drift apart (tests/test_router.py checks that every
verb here has a route and every card route is here)."""

from __future__ import annotations

CHECK = "check"  # re-run a check for one chosen property (ambiguous and building cards)

REPORT_START = "report.start"  # "Report an incident here" on a check card; "Start again" on the resume offer
REPORT_CONTINUE = "report.continue"  # continue the open draft
REPORT_NEXT = "report.next"  # save this step (validated) and go on
REPORT_BACK = "report.back"  # save what was typed and go back a step, unjudged
REPORT_EDIT = "report.edit"  # from the review: go to a step
REPORT_SUBMIT = "report.submit"

APPROVAL_OPEN = "approval.open"  # open an incident's approval card (the `pending` list)
APPROVAL_DECIDE = "approval.decide"  # Approve, with the decision's inputs
APPROVAL_REJECT = "approval.reject"
APPROVAL_ASK = "approval.ask"  # ask the reporter for more information
APPROVAL_REFRESH = "approval.refresh"  # Teams asks for the user-specific view of an approval card
REPORT_ANSWER = "report.answer"  # the reporter answers the approver's question
REVIEW_DECIDE = "review.decide"  # the owning approver extends, amends or lifts an entry from its review card
APPEAL_DECIDE = "appeal.decide"  # another approver upholds, amends or lifts an entry under appeal

CARD_VERBS = frozenset({CHECK, REPORT_START, REPORT_CONTINUE, REPORT_NEXT, REPORT_BACK, REPORT_EDIT, REPORT_SUBMIT,
                        APPROVAL_OPEN, APPROVAL_DECIDE, APPROVAL_REJECT, APPROVAL_ASK, APPROVAL_REFRESH,
                        REPORT_ANSWER, REVIEW_DECIDE, APPEAL_DECIDE})
