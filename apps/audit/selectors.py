"""Reading the audit trail: the subjects as operators know them, and the rows of an export."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from apps.audit import services
from apps.audit.models import AuditEvent

# Events whose subject is a token's ``sub``: a user's database id, or a client's id (which
# always holds a letter: apps/clients/services.py). Other events name the person by username
# already; the management API's ``sub`` is always a client's (it takes client-credentials
# tokens only), so resolving it as a user id could only mislabel it.
ID_SUBJECTS = frozenset({services.EXCHANGE})
# Ids are digits; anything longer is no id of ours (and would overflow the lookup).
_MAX_ID_DIGITS = 18

EXPORT_COLUMNS = (
    "id",
    "created",
    "event_type",
    "outcome",
    "client_id",
    "subject",
    "audience",
    "scopes",
    "reason",
    "request_id",
    "details",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _user_id(event: AuditEvent) -> int | None:
    subject = event.subject
    if event.event_type in ID_SUBJECTS and subject.isascii() and subject.isdigit() and len(subject) <= _MAX_ID_DIGITS:
        return int(subject)
    return None


def subject_names(events: Iterable[AuditEvent]) -> dict[int, str]:
    """The usernames of the users some of ``events`` name by database id, in one query."""
    ids = {user_id for event in events if (user_id := _user_id(event)) is not None}
    if not ids:
        return {}
    users = get_user_model()._default_manager.filter(pk__in=ids)
    return {user.pk: user.get_username() for user in users}


def subject_name(event: AuditEvent, names: dict[int, str]) -> str:
    """The subject as operators know it: a username where the event stored a user's id."""
    user_id = _user_id(event)
    return names.get(user_id, event.subject) if user_id is not None else event.subject


def by_user(queryset: "QuerySet[AuditEvent]", username: str) -> "QuerySet[AuditEvent]":
    """Events about ``username``: by name, and by their id in events that store one."""
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        return queryset.filter(subject=username)
    return queryset.filter(Q(subject=username) | Q(event_type__in=ID_SUBJECTS, subject=str(user.pk)))


# --- export ------------------------------------------------------------------------------------


def export_rows(queryset: "QuerySet[AuditEvent]", batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Each event as a dict of :data:`EXPORT_COLUMNS`, read in batches (an export may be long)."""
    batch: list[AuditEvent] = []
    for event in queryset.iterator(chunk_size=batch_size):
        batch.append(event)
        if len(batch) == batch_size:
            yield from _rows(batch)
            batch = []
    yield from _rows(batch)


def _rows(events: list[AuditEvent]) -> Iterator[dict[str, Any]]:
    names = subject_names(events)
    for event in events:
        yield {
            "id": event.pk,
            "created": event.created.isoformat(),
            "event_type": event.event_type,
            "outcome": event.outcome,
            "client_id": event.client_id,
            "subject": subject_name(event, names),
            "audience": event.audience,
            "scopes": event.scopes,
            "reason": event.reason,
            "request_id": event.request_id,
            "details": event.details,
        }


def json_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """JSON Lines (one JSON object per line)."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def csv_cell(value: Any) -> str:
    """A CSV cell: JSON for lists and dicts; a value a spreadsheet would take for a formula is
    prefixed with an apostrophe (OWASP's advice on CSV injection)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV with a header row, one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield _taken(buffer)
    for row in rows:
        writer.writerow([csv_cell(row[column]) for column in EXPORT_COLUMNS])
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
