"""Figures for the operators' dashboard on the admin index."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.audit.models import AuditEvent, Outcome
from apps.audit.services import EXCHANGE
from apps.oauth.models import AccessToken, KeyState, SigningKey

HOURS = 24


@dataclass(frozen=True)
class HourBar:
    hour: datetime
    tokens: int
    exchanges_granted: int
    exchanges_refused: int


@dataclass(frozen=True)
class Dashboard:
    bars: list[HourBar]
    tokens: int
    exchanges_granted: int
    exchanges_refused: int
    peak: int
    keys: list[tuple[SigningKey, timedelta]]


def _per_hour(queryset, since: datetime) -> dict[datetime, int]:
    rows = queryset.filter(created__gte=since).annotate(hour=TruncHour("created")).values("hour")
    return {row["hour"]: row["n"] for row in rows.annotate(n=Count("id"))}


def dashboard(now: datetime | None = None) -> Dashboard:
    """Tokens stored and exchanges granted/refused in each of the last 24 hours (tokens revoked
    since are no longer counted), and the active keys with their age."""
    now = now or timezone.now()
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    tokens = _per_hour(AccessToken.objects.all(), first_hour)
    exchanges = AuditEvent.objects.filter(event_type=EXCHANGE)
    granted = _per_hour(exchanges.filter(outcome=Outcome.GRANTED), first_hour)
    refused = _per_hour(exchanges.filter(outcome=Outcome.REFUSED), first_hour)
    bars = [
        HourBar(hour, tokens.get(hour, 0), granted.get(hour, 0), refused.get(hour, 0))
        for hour in (first_hour + timedelta(hours=i) for i in range(HOURS))
    ]
    keys = [
        (key, now - (key.activated_at or key.created))
        for key in SigningKey.objects.filter(state=KeyState.ACTIVE).order_by("algorithm")
    ]
    return Dashboard(
        bars=bars,
        tokens=sum(b.tokens for b in bars),
        exchanges_granted=sum(b.exchanges_granted for b in bars),
        exchanges_refused=sum(b.exchanges_refused for b in bars),
        peak=max([b.tokens + b.exchanges_refused for b in bars] + [1]),
        keys=keys,
    )
