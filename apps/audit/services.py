"""Writing audit events. Call sites say what happened; this module says how it is kept."""

import uuid
from collections.abc import Sequence
from typing import Any

from apps.audit.models import AuditEvent, Outcome
from idp.sql import insert_row

EXCHANGE = "token.exchange"


def request_id_from(headers: dict[str, str]) -> str:
    """The caller's X-Request-ID (to correlate with their logs), or a new one."""
    supplied = (headers.get("X-Request-Id") or headers.get("HTTP_X_REQUEST_ID") or "").strip()
    return supplied[:64] if supplied.isprintable() and supplied else uuid.uuid4().hex


def record(
    *,
    event_type: str,
    granted: bool,
    client_id: str = "",
    subject: str = "",
    audience: Sequence[str] = (),
    scopes: Sequence[str] = (),
    reason: str = "",
    request_id: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    # Written on every token exchange: inserted by the prepared statement (no signals are
    # connected to AuditEvent, and nothing refers to a new event).
    event = AuditEvent(
        event_type=event_type,
        outcome=Outcome.GRANTED if granted else Outcome.REFUSED,
        client_id=client_id[:255],
        subject=subject[:255],
        audience=list(audience),
        scopes=" ".join(scopes),
        reason=reason,
        request_id=request_id,
        details=details or {},
    )
    insert_row(event)


ADMIN_CHANGE = "admin.change"
