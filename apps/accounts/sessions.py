"""When this browser session signed in: for OpenID Connect ``auth_time`` and ``max_age``.

``User.last_login`` is per user, so a sign-in on another device would make an old session
look fresh; the time is kept in the session instead."""

import time

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

SESSION_KEY = "idp_auth_time"


@receiver(user_logged_in)
def remember_auth_time(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = int(time.time())


def session_auth_time(request) -> int | None:
    session = getattr(request, "session", None)
    return session.get(SESSION_KEY) if session is not None else None
