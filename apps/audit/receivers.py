"""What the audit trail hears rather than is told: the admin's changes, and the sign-ins,
sign-outs, failures and lockouts of Django's authentication and django-axes.

The admin writes a LogEntry for each change, one at a time (the operator policy logs the
deletions of "delete selected" one by one too, apps/console/policy.py): each becomes an
``admin.change`` event, with the before/after values the policy put in its change message.
"""

import json
from typing import Any, cast

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from apps.audit import services

_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}
# The member of a LogEntry's change message (a JSON list) that holds the values of a change:
# Django's admin history shows only the members it knows ("added", "changed", "deleted").
VALUES_MESSAGE = "values"


def change_values(change_message: str) -> dict[str, Any] | None:
    """The before/after values the operator policy put in a change message, if any."""
    if not change_message.startswith("["):
        return None
    try:
        messages = json.loads(change_message)
    except ValueError:
        return None
    for message in messages:
        if isinstance(message, dict) and VALUES_MESSAGE in message:
            return cast(dict[str, Any], message[VALUES_MESSAGE])
    return None


def record_log_entry(entry: LogEntry) -> None:
    # django-stubs declare LogEntry's foreign keys without their models.
    user = cast(AbstractBaseUser, entry.user)
    content_type = cast(ContentType | None, entry.content_type)
    details = {
        "action": _ACTIONS.get(entry.action_flag, str(entry.action_flag)),
        "model": f"{content_type.app_label}.{content_type.model}" if content_type else "",
        "object_id": entry.object_id or "",
        "object": entry.object_repr,
        # A deletion's message holds only its values: Django would read it as "No fields changed."
        "change": "" if entry.action_flag == DELETION else entry.get_change_message(),
    }
    values = change_values(entry.change_message)
    if values is not None:
        details["values"] = values
    services.record(event_type=services.ADMIN_CHANGE, granted=True, subject=user.get_username(), details=details)


@receiver(post_save, sender=LogEntry)
def record_admin_change(sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        record_log_entry(instance)


# --- sign-in, sign-out, lockout -----------------------------------------------------------------


def _backend(user: Any) -> str:
    # login() sets it: which backend let the person in (the password's, or the passkey's).
    return str(getattr(user, "backend", "")).rsplit(".", 1)[-1]


@receiver(user_logged_in)
def record_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    services.record_for_user(services.SIGNED_IN, user, backend=_backend(user))


@receiver(user_logged_out)
def record_sign_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:  # signing out a session that was not signed in
        services.record_for_user(services.SIGNED_OUT, user)


@receiver(user_login_failed)
def record_sign_in_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A wrong password (at the sign-in, or as the current password when changing it), an
    unknown or inactive account, or a locked one. The subject is the username as typed, cut
    short, or a digest when it names no account (``services.typed_username``);
    ``credentials`` (Django has masked the password in it) is never stored."""
    typed = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username", ""))
    services.record(
        event_type=services.SIGN_IN_FAILED,
        granted=False,
        subject=services.typed_username(typed),
        details={"path": request.path[:200] if request is not None else ""},
    )


@receiver(user_locked_out)
def record_lockout(
    sender: Any, request: HttpRequest | None, username: str | None, ip_address: str, **kwargs: Any
) -> None:
    services.record(
        event_type=services.LOCKED_OUT,
        granted=False,
        subject=services.typed_username(username or ""),
        details={"ip_address": ip_address, "failures": settings.AXES_FAILURE_LIMIT},
    )
