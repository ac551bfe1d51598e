"""What a user has allowed a client to do, remembered so the next login need not ask again."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Consent(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    application = models.ForeignKey("oauth.Application", on_delete=models.CASCADE, related_name="consents")
    scopes = models.TextField(help_text="Space-separated scopes the user approved.")
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_user_and_client")]
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"{self.user} -> {self.application}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def is_active(self) -> bool:
        return self.expires_at > timezone.now()
