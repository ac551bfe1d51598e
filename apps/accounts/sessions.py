"""A person's browser sessions: when each signed in, where from, and ending them.

``User.last_login`` is per user, so a sign-in on another device would make an old session look
fresh: the sign-in time (OpenID Connect ``auth_time`` and ``max_age``) is kept in the session.
Each signed-in session also has a :class:`~apps.accounts.models.UserSession` row for the
sessions page; codes approved in a session, and the refresh tokens redeemed from them, carry
its ``ref`` (a hash of the key), so ending a session revokes what it produced.
"""

import ipaddress
import time
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.models import UserSession, session_ref
from apps.oauth.models import Grant, RefreshToken
from apps.protocol import strength
from idp.http import client_address

SESSION_KEY = "idp_auth_time"
# How this session signed in: its ``amr`` (apps/protocol/strength.py), grown by a step-up.
METHODS_KEY = "idp_amr"
# When this session last told its row it was seen: rows are written at most this often.
SEEN_KEY = "idp_seen"
SEEN_INTERVAL_SECONDS = 300


def _address(request: HttpRequest) -> str | None:
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _row(request: HttpRequest, user: Any, key: str) -> dict[str, Any]:
    """A session's row as of this request (all but its key)."""
    return {
        "user": user,
        "ref": session_ref(key),
        "ip_address": _address(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
        "last_seen": timezone.now(),
    }


@receiver(user_logged_in)
def remember_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    request.session[SESSION_KEY] = request.session[SEEN_KEY] = int(time.time())
    # A sign-in by password unless its caller says otherwise (signed_in_with) right after.
    request.session[METHODS_KEY] = [strength.PASSWORD]
    if request.session.session_key is None:
        request.session.save()
    key = request.session.session_key
    assert key is not None  # saved above
    UserSession.objects.update_or_create(session_key=key, defaults=_row(request, user, key))


@receiver(user_logged_out)
def forget_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and getattr(request, "session", None) is not None and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()


def session_auth_time(request: HttpRequest) -> int | None:
    session = getattr(request, "session", None)
    return session.get(SESSION_KEY) if session is not None else None


def session_methods(request: HttpRequest) -> list[str]:
    """How this session signed in (``amr``); a session from before this was recorded signed
    in by password. Empty for a session that is not signed in."""
    session = getattr(request, "session", None)
    if session is None or not request.user.is_authenticated:
        return []
    return strength.methods(session.get(METHODS_KEY, [strength.PASSWORD]))


def session_acr(request: HttpRequest) -> str | None:
    """The level this session reached (None if it is not signed in)."""
    found = session_methods(request)
    return strength.acr_of(found) if found else None


def signed_in_with(request: HttpRequest, methods: list[str]) -> None:
    """Record how the sign-in that just happened (``login()``) was made, replacing the
    password-only default: e.g. a password and a code, or a passkey alone."""
    request.session[METHODS_KEY] = strength.methods(methods)


def stepped_up(request: HttpRequest, method: str) -> None:
    """A signed-in session proved one more factor (a step-up, or enrolling one): its methods
    grow; its sign-in time (``auth_time``, which ``max_age`` judges) stays that of the sign-in."""
    request.session[METHODS_KEY] = strength.methods([*session_methods(request), method])
    # A stronger session gets a new key, as a sign-in does (a key seen before the step-up
    # must not carry its strength); its row and what names it by ref follow.
    old_key = request.session.session_key
    request.session.cycle_key()
    rekeyed(old_key, request.session.session_key)


def current_ref(request: HttpRequest) -> str | None:
    key = request.session.session_key
    return session_ref(key) if key else None


def seen(request: HttpRequest) -> None:
    """A signed-in request: bring the session's row up to date, at most every few minutes (a
    session from before rows were kept gets one now)."""
    now = int(time.time())
    user = request.user
    if not user.is_authenticated or not request.session.session_key:
        return
    if now - request.session.get(SEEN_KEY, 0) < SEEN_INTERVAL_SECONDS:
        return
    request.session[SEEN_KEY] = now
    key = request.session.session_key
    updated = UserSession.objects.filter(session_key=key).update(last_seen=timezone.now())
    if not updated:
        UserSession.objects.create(session_key=key, **_row(request, user, key))


def rekeyed(old_key: str | None, new_key: str | None) -> None:
    """The session got a new key (Django cycles it when the password changes): its row, and
    what names it by ref, follow."""
    if not old_key or not new_key or old_key == new_key:
        return
    old, new = session_ref(old_key), session_ref(new_key)
    UserSession.objects.filter(session_key=old_key).update(session_key=new_key, ref=new)
    Grant.objects.filter(session_ref=old).update(session_ref=new)  # codes not redeemed yet
    RefreshToken.objects.filter(session_ref=old).update(session_ref=new)


def revoke_refresh_tokens(*, refs: Iterable[str] | None = None, user: Any = None) -> None:
    """Revoke the refresh token families redeemed from codes approved in the sessions
    ``refs`` (or every family of ``user``), with their access tokens and what was exchanged
    from those."""
    tokens = RefreshToken.objects.filter(revoked__isnull=True)
    if refs is not None:
        tokens = tokens.filter(session_ref__in=list(refs))
    if user is not None:
        tokens = tokens.filter(user=user)
    for family in set(tokens.exclude(token_family=None).values_list("token_family", flat=True)):
        RefreshToken.revoke_family(family)


def end_sessions(user: Any, *, refs: Iterable[str] | None = None, keep: str | None = None) -> int:
    """End ``user``'s sessions named by ``refs`` (all of them if None) except ``keep``: the
    sessions are deleted from the session store (signed out on their next request) and the
    refresh tokens issued through them revoked. Returns how many were ended."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = UserSession.objects.filter(user=user)
    if refs is not None:
        sessions = sessions.filter(ref__in=list(refs))
    if keep is not None:
        sessions = sessions.exclude(ref=keep)
    ended = list(sessions)
    for row in ended:
        store(session_key=row.session_key).delete()
    UserSession.objects.filter(pk__in=[row.pk for row in ended]).delete()
    refs = [row.ref for row in ended]
    # Codes approved there and not redeemed yet would otherwise still turn into tokens.
    Grant.objects.filter(session_ref__in=refs, redeemed_at__isnull=True).delete()
    revoke_refresh_tokens(refs=refs)
    return len(ended)


def live_sessions(user: Any) -> list[UserSession]:
    """``user``'s sessions that still exist in the session store (rows of sessions that
    expired there are dropped on the way)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    rows = list(UserSession.objects.filter(user=user))
    gone = [row.pk for row in rows if not store.exists(row.session_key)]
    if gone:
        UserSession.objects.filter(pk__in=gone).delete()
    return [row for row in rows if row.pk not in gone]
