"""Every change an operator makes in the admin is also an audit event."""

from django.contrib.admin.models import LogEntry
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.audit import services

_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}


@receiver(post_save, sender=LogEntry)
def record_admin_change(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created:
        return
    content_type = instance.content_type
    services.record(
        event_type=services.ADMIN_CHANGE,
        granted=True,
        subject=instance.user.get_username(),
        details={
            "action": _ACTIONS.get(instance.action_flag, str(instance.action_flag)),
            "model": f"{content_type.app_label}.{content_type.model}" if content_type else "",
            "object_id": instance.object_id or "",
            "object": instance.object_repr,
            "change": instance.get_change_message(),
        },
    )
