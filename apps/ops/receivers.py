"""Signals the operations app listens to: sign-in failures and lockouts for the metrics,
and the end of a request for the request id."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.core.signals import request_finished
from django.dispatch import receiver

from apps.ops import metrics
from apps.ops.request_id import set_request_id


@receiver(user_login_failed)
def count_login_failure(sender: Any, **kwargs: Any) -> None:
    metrics.login_failed()


@receiver(user_locked_out)
def count_lockout(sender: Any, **kwargs: Any) -> None:
    metrics.locked_out()


@receiver(request_finished)
def forget_request_id(sender: Any, **kwargs: Any) -> None:
    # Sent once the response is closed, on the thread that served it: later records on this
    # thread belong to no request.
    set_request_id("")
