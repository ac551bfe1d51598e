"""Pushed authorization requests (RFC 9126): the parameters a client pushed to /o/par/,
waiting for the browser to bring their ``request_uri`` to /o/authorize/."""

from django.conf import settings
from django.db import models


class PushedAuthorizationRequest(models.Model):
    # A digest of the request_uri's random part: the URI itself is a bearer reference (whoever
    # holds it starts that client's authorization), so only its hash is stored.
    reference = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    parameters = models.JSONField(help_text="The authorization request's parameters as pushed ([name, value] pairs).")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When a browser first brought its request_uri.")

    class Meta:
        verbose_name = "pushed authorization request"

    def __str__(self) -> str:
        return f"pushed request {self.pk}"
