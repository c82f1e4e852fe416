"""Cards for administrators: the audit trail of one entry."""

from __future__ import annotations

from typing import Any

from cards import messages as m
from cards.elements import adaptive_card, column, column_set, text_block
from cards.text import plain
from register.model import AuditRecord

AUDIT_ROWS_SHOWN = 40


def audit_card(ref: str, records: list[AuditRecord]) -> dict[str, Any]:
    """Who looked at or changed an entry, newest first; the full trail is `register-admin audit --ref`."""
    newest = sorted(records, key=lambda r: r.at, reverse=True)[:AUDIT_ROWS_SHOWN]
    body = [text_block(m.audit_title(plain(ref, 30)), size="medium", weight="bolder", style="heading")]
    if not newest:
        body.append(text_block(m.AUDIT_EMPTY))
    for record in newest:
        who = plain(record.actor.name or record.actor.user_id, 60)
        body.append(column_set([
            column([text_block(record.at.strftime("%d %b %Y %H:%M"), size="small", is_subtle=True)], width="auto"),
            column([text_block(m.audit_row(who, plain(record.action, 30), plain(record.outcome, 40)), size="small")],
                   width="stretch"),
        ], spacing="small"))
    if len(records) > AUDIT_ROWS_SHOWN:
        body.append(text_block(m.audit_more(len(records) - AUDIT_ROWS_SHOWN), size="small", is_subtle=True))
    return adaptive_card(body, fallback_text=m.audit_title(ref))
