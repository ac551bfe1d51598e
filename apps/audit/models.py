"""Append-only audit events: who got (or was refused) what, and why."""

from typing import Any

from django.db import models


class Outcome(models.TextChoices):
    GRANTED = "granted"
    REFUSED = "refused"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Append-only in bulk too: no update, and deletion only by :meth:`prune`."""

    def update(self, **kwargs: Any) -> int:
        raise ValueError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are append-only: old ones go by manage.py prune_audit_events.")

    def prune(self) -> int:
        """Delete these events: for apps.audit.services.prune (prune_audit_events) alone."""
        deleted, _ = super().delete()
        return deleted


class AuditEvent(models.Model):
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    event_type = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    client_id = models.CharField(max_length=255, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True, db_index=True, help_text="The user (or client) concerned.")
    audience = models.JSONField(default=list, blank=True)
    scopes = models.TextField(blank=True)
    reason = models.TextField(blank=True, help_text="The error code and description of a refusal.")
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["event_type", "created"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.outcome} {self.client_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")
