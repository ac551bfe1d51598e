"""Writing audit events. Call sites say what happened; this module says how it is kept.

The event types, one name per thing that happened (``noun.past_participle``); the factors'
are in apps/factors/events.py, the management API's in apps/management_api/services.py.
Details never hold a secret: a password, a code, a key, a token or a secret hash.
"""

import datetime
import decimal
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.audit.models import AuditEvent, Outcome
from apps.ops import request_id as request_ids
from idp.conf import idp_settings
from idp.sql import NewRow, insert_row

EXCHANGE = "token.exchange"
ADMIN_CHANGE = "admin.change"
# People: sign-in and sign-out, lockout, passwords (an operator's unlock and other actions on
# a person: apps/accounts/operator_actions.py).
SIGNED_IN = "user.signed_in"
SIGN_IN_FAILED = "user.sign_in_failed"
LOCKED_OUT = "user.locked_out"
SIGNED_OUT = "user.signed_out"
PASSWORD_CHANGED = "user.password_changed"
PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
PASSWORD_RESET = "user.password_reset"
# What people let clients do.
CONSENT_GIVEN = "consent.given"
CONSENT_REVOKED = "consent.revoked"
# The IdP's own keys (a client's secret: apps/clients/services.py, client.secret_rotated).
KEY_ROTATED = "key.rotated"
KEY_WITHDRAWN = "key.withdrawn"
# The trail itself.
PRUNED = "audit.pruned"
EXPORTED = "audit.exported"

# A username typed at a failed sign-in is stored as typed, up to this length, when it names
# an account (typed_username).
TYPED_USERNAME_LENGTH = 150
# A value longer than this is cut in before/after details (a description, a list of URIs).
VALUE_LENGTH = 500


def record(**fields: Any) -> None:
    """Write one audit event; arguments as for :func:`event`."""
    write(event(**fields))


def record_for_user(event_type: str, user: Any, *, granted: bool = True, client_id: str = "", **details: Any) -> None:
    """An event about a person: its subject is their username (what operators search for)."""
    record(event_type=event_type, granted=granted, client_id=client_id, subject=user.get_username(), details=details)


def write(audit_event: NewRow) -> None:
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
) -> NewRow:
    """An audit event, not yet written (for callers that write it with other rows): a row
    for :func:`idp.sql.insert_rows`, since the token endpoint writes one per exchange."""
    return NewRow(
        AuditEvent,
        {
            "event_type": event_type,
            "outcome": Outcome.GRANTED.value if granted else Outcome.REFUSED.value,
            "client_id": client_id[:255],
            "subject": subject[:255],
            "audience": list(audience),
            "scopes": " ".join(scopes),
            "reason": reason,
            # The id of the request being served (apps/ops/middleware.py), as in its log lines.
            "request_id": request_ids.current_request_id(),
            "details": details or {},
        },
    )


# --- before/after values of a change ------------------------------------------------------------


def json_value(value: Any) -> Any:
    """``value`` as JSON can hold it and an operator can read it: a related object by its
    ``str()``, a foreign key by its id (as Django gives it), dates in ISO 8601, long text cut."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, models.Model):
        return str(value)[:VALUE_LENGTH]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, datetime.timedelta)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return [json_value(item) for item in value]
    return str(value)[:VALUE_LENGTH]


def field_values(instance: models.Model, names: Iterable[str], *, secret: Collection[str]) -> dict[str, Any]:
    """The values of ``instance``'s model fields named in ``names``, leaving out the ``secret``
    ones and names that are no model field (a form's password confirmation, say)."""
    values = {}
    for name in names:
        if name in secret:
            continue
        try:
            field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.concrete or field.many_to_many:
            values[name] = json_value(field.value_from_object(instance))  # type: ignore[union-attr]  # concrete fields have it
    return values


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": ..., "after": ...}}`` for the fields whose value differs."""
    return {
        name: {"before": before.get(name), "after": after[name]}
        for name in sorted(after)
        if before.get(name) != after[name]
    }


# --- retention ---------------------------------------------------------------------------------


def prune_cutoff(now: datetime.datetime | None = None) -> datetime.datetime:
    """Events created before this are past ``IDP["AUDIT_RETENTION_DAYS"]``."""
    return (now or timezone.now()) - datetime.timedelta(days=idp_settings.AUDIT_RETENTION_DAYS)


def prunable(cutoff: datetime.datetime) -> "models.QuerySet[AuditEvent]":
    return AuditEvent.objects.filter(created__lt=cutoff)


def prune(*, cutoff: datetime.datetime, batch_size: int = 1000) -> int:
    """Delete the events created before ``cutoff``, ``batch_size`` at a time (short
    transactions on a large table), then record that it was done. Returns how many went."""
    pruned = 0
    while True:
        with transaction.atomic():
            batch = list(prunable(cutoff).order_by("id").values_list("id", flat=True)[:batch_size])
            if not batch:
                break
            pruned += AuditEvent.objects.filter(id__in=batch).prune()
    record(
        event_type=PRUNED,
        granted=True,
        details={"deleted": pruned, "before": cutoff.isoformat(), "retention_days": idp_settings.AUDIT_RETENTION_DAYS},
    )
    return pruned


def typed_username(typed: str) -> str:
    """What a failed sign-in or a lockout records of the username typed: the username when it
    names an account; otherwise a keyed digest (``unknown:`` and 16 hex digits), which tells
    repeated attempts at one name apart without storing it: people paste their password into
    the username field, and the trail must never hold a password."""
    typed = str(typed or "")
    if get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: typed}).exists():
        return typed[:TYPED_USERNAME_LENGTH]
    if not typed:
        return ""
    return "unknown:" + salted_hmac("apps.audit.typed_username", typed).hexdigest()[:16]
