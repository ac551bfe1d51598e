"""python manage.py clear_expired_tokens [--batch-size N] [--pause S] [--dry-run] [--quiet]

Why: every token request inserts an access-token row and nothing else removes it once it has
expired, so the table and its indexes would grow without bound, and with them the cost of each
token INSERT, of vacuum and of backups. Run often, each run is small and the table stays flat.
The same holds for the one-time JWT ids (every ``private_key_jwt`` assertion and DPoP proof
checked without Redis adds one) and for pushed authorization requests.

Schedule it, e.g. every 15 minutes:

- cron: ``*/15 * * * * cd /app && python manage.py clear_expired_tokens --quiet``
- Kubernetes: a CronJob, ``schedule: "*/15 * * * *"``, ``concurrencyPolicy: Forbid``, same command.

What is deleted is DOT's ``oauth2_provider.models.clear_expired()`` (3.4.1), rule for rule and in
its order. This command applies the rules itself rather than calling it, because it shows no
progress, returns no counts, has no dry run, and re-counts the remaining rows after every batch:

1. refresh tokens: revoked ones once REFRESH_TOKEN_EXPIRE_SECONDS old (kept until then for reuse
   detection; without REFRESH_TOKEN_REUSE_PROTECTION, after the grace period), orphans (their
   access token is gone), and idle ones (access token expired REFRESH_TOKEN_EXPIRE_SECONDS ago);
2. expired access tokens without a refresh token. One that still has a refresh token is kept:
   the refresh token's idle expiry is measured from it, and deleting it would orphan the refresh
   token (ending the session early). Step 1 releases it first, so it goes in the same run.
   Deleting a token deletes the tokens exchanged from it (``parent`` cascades); those are
   expired too, since a child never outlives its parent;
3. expired ID tokens without an access token;
4. expired grants (authorization codes);
5. expired used JWT ids (``apps/protocol/replay.py``: an assertion's or a proof's ``jti``,
   remembered until the JWT expires; after that the JWT is refused as expired anyway);
6. expired pushed authorization requests (RFC 9126: a ``request_uri`` lives for seconds).

Steps 5 and 6 are ours, not DOT's. Each step deletes by primary key in batches of
``--batch-size``, oldest first, walking an index (access tokens, used JWT ids and pushed
requests: ``expires``) with a cursor, so every DELETE is short and locks few rows: token
issuance never waits long on it.
"""

import argparse
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from oauth2_provider.models import refresh_token_expire_timedelta
from oauth2_provider.settings import oauth2_settings

from apps.oauth.models import AccessToken, Grant, IDToken, PushedAuthorizationRequest, RefreshToken
from apps.protocol.models import UsedJwtId

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable


@dataclass(frozen=True)
class Step:
    label: str
    eligible: QuerySet  # the rows this step deletes
    order: tuple[str, ...]  # the batch order, oldest first; its first field is an indexed column


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def refresh_token_grace_period() -> timedelta:
    """REFRESH_TOKEN_GRACE_PERIOD_SECONDS, validated as clear_expired() does."""
    try:
        grace = timedelta(seconds=oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS or 0)
    except TypeError:
        raise ImproperlyConfigured("REFRESH_TOKEN_GRACE_PERIOD_SECONDS must be in seconds") from None
    if grace < timedelta(0):
        raise ImproperlyConfigured("REFRESH_TOKEN_GRACE_PERIOD_SECONDS must not be negative")
    return grace


def refresh_token_rule(now: datetime) -> Q:
    """The refresh tokens clear_expired() deletes."""
    expire_delta = refresh_token_expire_timedelta()
    expire_cutoff = now - expire_delta if expire_delta else None
    revoked_cutoff: datetime | None = now - refresh_token_grace_period()
    if oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION:
        # Revoked tokens are what lets a replayed, rotated token be detected and its family
        # revoked, so they are kept until they would have expired.
        revoked_cutoff = expire_cutoff
    rule = Q(revoked__isnull=True, access_token__isnull=True)
    if revoked_cutoff is not None:
        rule |= Q(revoked__lte=revoked_cutoff)
    if expire_cutoff is not None:
        rule |= Q(revoked__isnull=True, access_token__expires__lte=expire_cutoff)
    return rule


def steps(now: datetime, *, dry_run: bool) -> list[Step]:
    refresh_rule = refresh_token_rule(now)
    # NOT EXISTS rather than DOT's ``refresh_token__isnull=True`` (a LEFT JOIN ... IS NULL): the
    # same rows, but PostgreSQL plans it as an anti join it can stop after a batch's rows,
    # where for the LEFT JOIN it misestimates and sorts every remaining expired row each batch.
    refresh_token_of = RefreshToken.objects.filter(access_token=OuterRef("pk"))
    # Q & ~Exists(...) is a Q at run time; django-stubs types it Combinable (Q.__and__ is
    # declared for Q operands only, so Combinable.__rand__ answers), hence the union.
    access_rule: Q | Combinable = Q(expires__lt=now) & ~Exists(refresh_token_of)
    if dry_run:
        # Nothing is deleted, so count too the access tokens step 1 would release.
        access_rule = Q(expires__lt=now) & (~Exists(refresh_token_of) | Exists(refresh_token_of.filter(refresh_rule)))
    # The access token of an ID token (at most one: a OneToOne), still there after step 2.
    access_token_of = AccessToken.objects.filter(id_token=OuterRef("pk"))
    id_token_rule: Q | Combinable = Q(expires__lt=now) & ~Exists(access_token_of)
    if dry_run:
        id_token_rule = Q(expires__lt=now) & (~Exists(access_token_of) | Exists(access_token_of.filter(access_rule)))
    return [
        Step("refresh tokens", RefreshToken.objects.filter(refresh_rule), ("pk",)),
        # Walks the expires index: each batch is an index range scan that stops after
        # --batch-size rows, and tokens kept for their refresh token are passed over once.
        Step("access tokens", AccessToken.objects.filter(access_rule), ("expires", "pk")),
        # No index on these tables' expires: walking the primary key reads each row once.
        Step("ID tokens", IDToken.objects.filter(id_token_rule), ("pk",)),
        Step("grants", Grant.objects.filter(expires__lt=now), ("pk",)),
        # Both have an index on expires: each batch is an index range scan.
        Step("used JWT ids", UsedJwtId.objects.filter(expires__lt=now), ("expires", "pk")),
        Step("pushed requests", PushedAuthorizationRequest.objects.filter(expires__lt=now), ("expires", "pk")),
    ]


# The order of the summary line.
SUMMARY_LABELS = ("access tokens", "refresh tokens", "ID tokens", "grants", "used JWT ids", "pushed requests")


class Command(BaseCommand):
    help = (
        "Delete expired access tokens, refresh tokens, ID tokens, grants, used JWT ids and pushed authorization"
        " requests in batches, with progress."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=oauth2_settings.CLEAR_EXPIRED_TOKENS_BATCH_SIZE,
            help="Rows per DELETE (default: CLEAR_EXPIRED_TOKENS_BATCH_SIZE, %(default)s).",
        )
        parser.add_argument(
            "--pause",
            type=non_negative_float,
            default=oauth2_settings.CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL,
            help="Seconds to sleep between batches (default: CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL, %(default)s).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--quiet", action="store_true", help="Print only the final summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        # One "now" for the whole run: a token expiring meanwhile waits for the next run.
        now = timezone.now()
        dry_run: bool = options["dry_run"]
        counts: dict[str, int] = {}
        for step in steps(now, dry_run=dry_run):
            if dry_run:
                counts[step.label] = step.eligible.count()
            else:
                counts[step.label] = self.delete_in_batches(
                    step, batch_size=options["batch_size"], pause=options["pause"], quiet=options["quiet"]
                )
        summary = ", ".join(f"{label} {counts[label]:,}" for label in SUMMARY_LABELS)
        if dry_run:
            self.stdout.write(f"Dry run, nothing deleted. Would delete expired: {summary}.")
        else:
            self.stdout.write(f"Deleted expired: {summary}.")

    def delete_in_batches(self, step: Step, *, batch_size: int, pause: float, quiet: bool) -> int:
        model = step.eligible.model
        # Counted once: an estimate if rows become eligible meanwhile, but cheap to keep.
        total = step.eligible.count()
        deleted = 0
        cursor: Any = None
        while total:
            # ">=", not ">": the deleted rows at the cursor are gone and the rule filters out the
            # kept ones, while a row sharing the last row's expiry is not skipped.
            page = step.eligible if cursor is None else step.eligible.filter(**{f"{step.order[0]}__gte": cursor})
            rows = list(page.order_by(*step.order).values_list("pk", step.order[0])[:batch_size])
            if not rows:
                break
            # The rule is applied again in the DELETE, so a row that stopped qualifying since
            # the SELECT is left alone. The ORM's delete (not a raw one) is what runs the
            # cascades and SET_NULLs: Django declares no ON DELETE in the database.
            _, per_model = step.eligible.filter(pk__in=[pk for pk, _ in rows]).delete()
            # Includes tokens deleted by cascade from their parent (they are in ``total`` too).
            batch_deleted = per_model.get(model._meta.label, 0)
            deleted += batch_deleted
            cursor = rows[-1][1]
            if not quiet:
                percent = min(100, deleted * 100 // total)
                self.stdout.write(f"{step.label}: {deleted:,} of {total:,} expired deleted ({percent}%)")
                self.stdout.flush()
            # Nothing deleted means a concurrent run took these rows: stop rather than spin.
            if len(rows) < batch_size or not batch_deleted:
                break
            if pause:
                time.sleep(pause)
        return deleted
