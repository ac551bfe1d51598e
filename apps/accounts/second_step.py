"""The sign-in's second step. After a correct password, a person who has a second factor is
not signed in yet: the session holds who they are, the remember-me choice and where to go
next, for a few minutes and a few wrong answers, until a factor completes the sign-in."""

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts.sessions import signed_in_with
from idp.conf import idp_settings

PENDING_KEY = "idp_second_step"
PENDING_SECONDS = 300
MAX_FAILURES = 5


@dataclass(frozen=True)
class PendingSignIn:
    user: Any
    backend: str
    remember_me: bool
    next_url: str


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
        "user": user.pk,
        # The backend that checked the password signs the person in afterwards.
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "remember_me": remember_me,
        "next": next_url,
        "started": time.time(),
        "failures": 0,
    }


def pending(request: HttpRequest) -> PendingSignIn | None:
    """The sign-in waiting for a second factor in this session, if any (an expired one, or
    one whose account was disabled meanwhile, is dropped)."""
    state = request.session.get(PENDING_KEY)
    if not state:
        return None
    user = get_user_model()._default_manager.filter(pk=state["user"], is_active=True).first()
    if user is None or time.time() - state["started"] > PENDING_SECONDS or state["failures"] >= MAX_FAILURES:
        abandon(request)
        return None
    return PendingSignIn(user=user, backend=state["backend"], remember_me=state["remember_me"], next_url=state["next"])


def failed(request: HttpRequest) -> bool:
    """A wrong second factor. Returns whether the person may try again; after
    MAX_FAILURES the sign-in is dropped and they start again with the password."""
    state = dict(request.session.get(PENDING_KEY) or {})
    if not state:
        return False
    state["failures"] += 1
    if state["failures"] >= MAX_FAILURES:
        abandon(request)
        return False
    request.session[PENDING_KEY] = state
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
