"""The sign-in's second step. After a correct password, a person who has a second factor is
not signed in yet: the session holds who they are, the remember-me choice and where to go
next, for a few minutes and a few wrong answers, until a factor completes the sign-in.

The answers are counted in the cache, not in the session: a session is written whole by
whichever request ends last, so parallel answers would each see the count they started with.
"""

import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.core.cache import cache
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts.sessions import signed_in_with
from apps.audit import services as audit
from idp.conf import idp_settings

PENDING_KEY = "idp_second_step"
PENDING_SECONDS = 300
MAX_FAILURES = 5
ANSWERS_KEY = "idp:second-step-answers:{}"


@dataclass(frozen=True)
class PendingSignIn:
    user: Any
    backend: str
    remember_me: bool
    next_url: str
    # Random, per pending sign-in: names its count of answers in the cache.
    id: str


def safe_next(request: HttpRequest, next_url: str | None) -> str:
    """``next_url`` if it stays on this site, else ""."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return ""


def keep_signed_in(request: HttpRequest, remember_me: bool) -> None:
    """Remember me: the session lasts REMEMBER_ME_DAYS; otherwise it ends with the browser."""
    if remember_me:
        request.session.set_expiry(idp_settings.REMEMBER_ME_DAYS * 24 * 3600)
    else:
        request.session.set_expiry(0)


def begin(request: HttpRequest, *, user: Any, remember_me: bool, next_url: str) -> None:
    """The password was right: wait for the second factor."""
    request.session[PENDING_KEY] = {
        "id": secrets.token_urlsafe(16),
        "user": user.pk,
        # The backend that checked the password signs the person in afterwards.
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        # The password it was: a password changed or reset meanwhile ends this sign-in.
        "password": user.get_session_auth_hash(),
        "remember_me": remember_me,
        "next": next_url,
        "started": time.time(),
    }


def _answers(sign_in_id: str) -> int:
    # None as well as nothing: a cache out of order answers None (IGNORE_EXCEPTIONS).
    return cache.get(ANSWERS_KEY.format(sign_in_id)) or 0


def pending(request: HttpRequest) -> PendingSignIn | None:
    """The sign-in waiting for a second factor in this session, if any (an expired one, one
    whose account was disabled or whose password changed meanwhile, or one out of answers, is
    dropped)."""
    state = request.session.get(PENDING_KEY)
    if not state:
        return None
    user = get_user_model()._default_manager.filter(pk=state["user"], is_active=True).first()
    if (
        user is None
        # A state from before these were kept has neither: it is dropped as stale.
        or not constant_time_compare(state.get("password", ""), user.get_session_auth_hash())
        or "id" not in state
        or time.time() - state["started"] > PENDING_SECONDS
        or _answers(state["id"]) >= MAX_FAILURES
    ):
        abandon(request)
        return None
    return PendingSignIn(
        user=user, backend=state["backend"], remember_me=state["remember_me"], next_url=state["next"], id=state["id"]
    )


def answering(request: HttpRequest, sign_in: PendingSignIn) -> bool:
    """An answer is about to be checked: it is counted first (an atomic increment), so that of
    parallel answers no more than MAX_FAILURES are ever checked. Returns whether this one may
    be; if not, the sign-in is dropped and the person starts again with the password."""
    key = ANSWERS_KEY.format(sign_in.id)
    # Counted for as long as the sign-in can last; add() starts the count only if none exists.
    cache.add(key, 0, PENDING_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the count expired between the two calls: so has the sign-in
        count = MAX_FAILURES + 1
    # None: the cache is out of order (IGNORE_EXCEPTIONS). The answer is still checked: each
    # factor limits guessing itself (the app's throttle, 80-bit recovery codes, signatures).
    if count is not None and count > MAX_FAILURES:
        abandon(request)
        return False
    return True


def failed(request: HttpRequest, sign_in: PendingSignIn) -> bool:
    """A wrong second factor (already counted by :func:`answering`). Returns whether the
    person may try again; after MAX_FAILURES the sign-in is dropped and they start again with
    the password."""
    given_up = _answers(sign_in.id) >= MAX_FAILURES
    audit.record(
        event_type=audit.SIGN_IN_FAILED,
        granted=False,
        subject=sign_in.user.get_username(),
        details={"step": "second_factor", "sign_in_dropped": given_up},
    )
    if given_up:
        abandon(request)
        return False
    return True


def abandon(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def finish(request: HttpRequest, sign_in: PendingSignIn, methods: list[str]) -> str:
    """Sign the person in, recording how (``amr``). Returns where to go next."""
    abandon(request)
    login(request, sign_in.user, backend=sign_in.backend)
    signed_in_with(request, methods)
    keep_signed_in(request, sign_in.remember_me)
    return sign_in.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
