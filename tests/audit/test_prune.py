"""Retention: prune_audit_events deletes events older than IDP["AUDIT_RETENTION_DAYS"]."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def aged(settings):
    settings.IDP = {**getattr(settings, "IDP", {}), "AUDIT_RETENTION_DAYS": 30}
    now = timezone.now()
    for age in (400, 31, 29, 0):
        audit.record(event_type=audit.SIGNED_IN, granted=True, subject=f"age-{age}")
        # The model is append-only (QuerySet.update refuses): the test ages rows in SQL.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AuditEvent._meta.db_table} SET created = %s WHERE subject = %s",
                [now - timedelta(days=age), f"age-{age}"],
            )


def run(*args: str) -> str:
    out = StringIO()
    call_command("prune_audit_events", *args, stdout=out)
    return out.getvalue()


def subjects() -> list[str]:
    return sorted(AuditEvent.objects.exclude(event_type=audit.PRUNED).values_list("subject", flat=True))


def test_a_dry_run_counts_and_deletes_nothing(aged):
    assert run("--dry-run").startswith("2 audit event(s) created before ")
    assert subjects() == ["age-0", "age-29", "age-31", "age-400"]
    assert not AuditEvent.objects.filter(event_type=audit.PRUNED).exists()


def test_pruning_deletes_older_events_in_batches_and_records_it(aged):
    assert run("--batch-size", "1").startswith("Deleted 2 audit event(s) created before ")
    assert subjects() == ["age-0", "age-29"]
    [pruned] = AuditEvent.objects.filter(event_type=audit.PRUNED)
    assert pruned.details["deleted"] == 2 and pruned.details["retention_days"] == 30
    assert run().startswith("Deleted 0 ")


def test_the_batch_size_must_be_positive(aged):
    with pytest.raises(CommandError):
        run("--batch-size", "0")
