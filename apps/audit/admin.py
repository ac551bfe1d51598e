from django.contrib import admin

from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only, as every record is (apps/console/policy.py)."""

    list_display = ("created", "event_type", "outcome", "client_id", "subject", "audience", "reason")
    list_filter = ("event_type", "outcome", "created", "client_id")
    search_fields = ("client_id", "subject", "request_id", "reason")
    date_hierarchy = "created"
