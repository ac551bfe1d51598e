"""Writing audit events. Call sites say what happened; this module says how it is kept."""

from collections.abc import Sequence
from typing import Any

from apps.audit.models import AuditEvent, Outcome
from apps.ops import request_id as request_ids
from idp.sql import insert_row

EXCHANGE = "token.exchange"


def record(**fields: Any) -> None:
    """Write one audit event; arguments as for :func:`event`."""
    write(event(**fields))


def write(audit_event: AuditEvent) -> None:
    # Written on every token exchange: inserted by the prepared statement (no signals are
    # connected to AuditEvent, and nothing refers to a new event).
    insert_row(audit_event)


def event(
    *,
    event_type: str,
    granted: bool,
    client_id: str = "",
    subject: str = "",
    audience: Sequence[str] = (),
    scopes: Sequence[str] = (),
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """An audit event, not yet written (for callers that write it with other rows)."""
    return AuditEvent(
        event_type=event_type,
        outcome=Outcome.GRANTED if granted else Outcome.REFUSED,
        client_id=client_id[:255],
        subject=subject[:255],
        audience=list(audience),
        scopes=" ".join(scopes),
        reason=reason,
        # The id of the request being served (apps/ops/middleware.py), as in its log lines.
        request_id=request_ids.current_request_id(),
        details=details or {},
    )


ADMIN_CHANGE = "admin.change"
