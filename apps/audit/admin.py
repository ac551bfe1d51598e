from django.contrib import admin

from apps.audit.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records the system writes and nobody edits: audit events, signing keys."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created", "event_type", "outcome", "client_id", "subject", "audience", "reason")
    list_filter = ("event_type", "outcome", "created", "client_id")
    search_fields = ("client_id", "subject", "request_id", "reason")
    date_hierarchy = "created"
