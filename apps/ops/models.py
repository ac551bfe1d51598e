"""What the operations app keeps in the database: the hourly token counts (apps/ops/counters.py)."""

from django.db import models


class TokenCount(models.Model):
    """Access tokens issued at /o/token/ in one hour (UTC), by grant type and audience, added
    up over every process. Counted when issued, so revocation, clear_expired_tokens and
    self-contained tokens (no row at all) change nothing here."""

    hour = models.DateTimeField(help_text="The hour's start, in UTC.")
    grant_type = models.CharField(max_length=64)
    audience = models.CharField(max_length=255, blank=True, help_text="The token's aud, sorted and comma-joined.")
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            # The UPSERT's conflict target; leading with the hour, it also serves the
            # dashboard's "last 24 hours" and the pruning of old hours.
            models.UniqueConstraint(
                fields=["hour", "grant_type", "audience"], name="ops_tokencount_hour_grant_audience"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.grant_type} {self.audience}: {self.count}"
