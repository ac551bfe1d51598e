"""Where each person is signed in: one row per browser session, for the sessions page."""

import hashlib

from django.conf import settings
from django.db import models

from apps.oauth.models.tokens import SESSION_REF_LENGTH


def session_ref(session_key: str) -> str:
    """How rows other than the session's own name a session: its key is a credential."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:SESSION_REF_LENGTH]


class UserSession(models.Model):
    """A signed-in browser session: created at sign-in, deleted at sign-out or when ended from
    the sessions page (or by a password reset). ``session_key`` is Django's session key, a
    credential: it never leaves the server (pages and forms use ``ref``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ref = models.CharField(max_length=SESSION_REF_LENGTH, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.user} on {self.user_agent[:40] or 'an unknown browser'}"


class PendingRegistration(models.Model):
    """An account created by self-registration whose address is not confirmed yet. It stays
    disabled; past ``PASSWORD_RESET_TIMEOUT`` it is deleted when someone registers, so an
    unconfirmed registration never holds a username or an address for good."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="pending_registration"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} (unconfirmed since {self.created:%Y-%m-%d %H:%M})"
