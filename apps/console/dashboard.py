"""Figures for the operators' dashboard on the admin index: what happened in the last 24 hours.

Tokens issued come from the hourly counters (apps/ops/counters.py), counted when each token
was issued: revocation, ``clear_expired_tokens`` and self-contained tokens (no row at all)
take nothing away, and every process's counts add up. They reach the table within a few
seconds (counters.FLUSH_SECONDS). Exchanges, sign-ins and lockouts come from the audit
trail, which keeps them for ``AUDIT_RETENTION_DAYS``. Hours are whole UTC hours, shown in
the operator's time zone.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.audit import services as audit
from apps.audit.models import AuditEvent, Outcome
from apps.oauth.models import KeyState, SigningKey
from apps.ops.models import TokenCount

HOURS = 24

# The grant types the token endpoint serves, in the order the dashboard lists them.
GRANT_LABELS: dict[str, str | Promise] = {
    "client_credentials": _("Client credentials"),
    "authorization_code": _("Authorization code"),
    "refresh_token": _("Refresh token"),
    "urn:ietf:params:oauth:grant-type:token-exchange": _("Token exchange"),
    "urn:ietf:params:oauth:grant-type:jwt-bearer": _("JWT bearer (RFC 7523, on behalf of)"),
}

# The audit events each hour counts, as (event type, outcome) -> field of Hour.
EVENT_FIELDS = {
    (audit.EXCHANGE, Outcome.GRANTED): "exchanges_granted",
    (audit.EXCHANGE, Outcome.REFUSED): "exchanges_refused",
    (audit.SIGNED_IN, Outcome.GRANTED): "sign_ins",
    (audit.SIGN_IN_FAILED, Outcome.REFUSED): "sign_in_failures",
    (audit.LOCKED_OUT, Outcome.REFUSED): "lockouts",
}


@dataclass
class Hour:
    start: datetime
    tokens: dict[str, int] = field(default_factory=dict)  # by grant type
    exchanges_granted: int = 0
    exchanges_refused: int = 0
    sign_ins: int = 0
    sign_in_failures: int = 0
    lockouts: int = 0

    @property
    def tokens_issued(self) -> int:
        return sum(self.tokens.values())


@dataclass(frozen=True)
class AudienceRow:
    audience: str  # the token's aud, comma-joined ("" for the IdP's own userinfo tokens)
    by_grant: list[int]  # in the order of Dashboard.grants
    total: int


@dataclass
class Dashboard:
    hours: list[Hour]
    grants: list[tuple[str, str | Promise]] = field(default_factory=list)  # (grant type, label) seen
    audiences: list[AudienceRow] = field(default_factory=list)
    keys: list[tuple[SigningKey, timedelta]] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(hour, name) for hour in self.hours)

    def tokens_by_grant(self) -> list[tuple[str, str | Promise, int]]:
        return [(grant, label, sum(h.tokens.get(grant, 0) for h in self.hours)) for grant, label in self.grants]


def first_hour(now: datetime) -> datetime:
    """The start of the oldest of the 24 UTC hours shown (the current one is the last)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)


def dashboard(*, tokens: bool, events: bool, keys: bool, now: datetime | None = None) -> Dashboard:
    """The last 24 hours, reading only what was asked for (what the operator may see)."""
    now = now or timezone.now()
    since = first_hour(now)
    hours = {since + timedelta(hours=i): Hour(start=since + timedelta(hours=i)) for i in range(HOURS)}
    board = Dashboard(hours=list(hours.values()))
    if tokens:
        _count_tokens(board, hours, since)
    if events:
        _count_events(hours, since)
    if keys:
        board.keys = [
            (key, now - (key.activated_at or key.created))
            for key in SigningKey.objects.filter(state=KeyState.ACTIVE).order_by("algorithm")
        ]
    return board


def _count_tokens(board: Dashboard, hours: dict[datetime, Hour], since: datetime) -> None:
    rows = (
        TokenCount.objects.filter(hour__gte=since)
        .values("hour", "grant_type", "audience")
        .annotate(n=Sum("count"))
        .order_by()
    )
    by_audience: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        hour = hours.get(row["hour"])
        if hour is None:  # a process whose clock runs ahead counted an hour still to come
            continue
        hour.tokens[row["grant_type"]] = hour.tokens.get(row["grant_type"], 0) + row["n"]
        by_audience[row["audience"]][row["grant_type"]] += row["n"]
    seen = {grant for counts in by_audience.values() for grant in counts}
    known = [grant for grant in GRANT_LABELS if grant in seen]
    board.grants = [(grant, GRANT_LABELS.get(grant, grant)) for grant in known + sorted(seen - set(known))]
    board.audiences = sorted(
        (
            AudienceRow(audience, [counts.get(grant, 0) for grant, _ in board.grants], sum(counts.values()))
            for audience, counts in by_audience.items()
        ),
        key=lambda row: (-row.total, row.audience),
    )


def _count_events(hours: dict[datetime, Hour], since: datetime) -> None:
    rows = (
        AuditEvent.objects.filter(created__gte=since, event_type__in={event for event, _ in EVENT_FIELDS})
        .annotate(hour=TruncHour("created", tzinfo=UTC))
        .values("hour", "event_type", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        name = EVENT_FIELDS.get((row["event_type"], row["outcome"]))
        hour = hours.get(row["hour"])
        if name is not None and hour is not None:
            setattr(hour, name, getattr(hour, name) + row["n"])
