"""Every change an operator makes in the admin is also an audit event.

The admin writes a LogEntry for each change. One at a time they are saved (post_save below);
but "delete selected" on several objects writes its entries with bulk_create, which sends no
signal, so the site's delete action is wrapped to audit those (:func:`audited_delete_selected`).
"""

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.audit import services

_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}


def record_log_entry(entry: LogEntry) -> None:
    # django-stubs declare LogEntry's foreign keys without their models.
    user = cast(AbstractBaseUser, entry.user)
    content_type = cast(ContentType | None, entry.content_type)
    services.record(
        event_type=services.ADMIN_CHANGE,
        granted=True,
        subject=user.get_username(),
        details={
            "action": _ACTIONS.get(entry.action_flag, str(entry.action_flag)),
            "model": f"{content_type.app_label}.{content_type.model}" if content_type else "",
            "object_id": entry.object_id or "",
            "object": entry.object_repr,
            "change": entry.get_change_message(),
        },
    )


@receiver(post_save, sender=LogEntry)
def record_admin_change(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        record_log_entry(instance)


@admin.action(
    permissions=["delete"],
    description=delete_selected.short_description,  # type: ignore[attr-defined]  # set by Django's @action
)
def audited_delete_selected(
    modeladmin: "admin.ModelAdmin[Any]", request: HttpRequest, queryset: QuerySet[Any]
) -> TemplateResponse | None:
    """Django's "delete selected", plus an audit event per object when it deleted several."""
    assert request.user.is_authenticated  # the admin runs actions for signed-in staff only
    last_before = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = delete_selected(modeladmin, request, queryset)
    written = list(
        LogEntry.objects.filter(pk__gt=last_before, user=request.user, action_flag=DELETION).select_related(
            "content_type", "user"
        )
    )
    if len(written) > 1:  # bulk_create: no post_save was sent (a single entry was audited by it)
        for entry in written:
            record_log_entry(entry)
    return response


admin.site.add_action(audited_delete_selected, "delete_selected")
