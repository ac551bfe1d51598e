"""Token signing keys with a next -> active -> retired life cycle (see apps/keys/services.py)."""

from django.db import models
from django.db.models import Q

from apps.resources.models import SigningAlgorithm


class KeyState(models.TextChoices):
    NEXT = "next", "Next (published, not yet signing)"
    ACTIVE = "active", "Active (signing)"
    RETIRED = "retired", "Retired (published until its last token expires)"


class SigningKey(models.Model):
    kid = models.CharField("key ID", max_length=64, unique=True, help_text="RFC 7638 JWK thumbprint.")
    algorithm = models.CharField(max_length=5, choices=SigningAlgorithm.choices)
    state = models.CharField(max_length=7, choices=KeyState.choices)
    private_key_pem = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["algorithm", "-created"]
        # Signing keys are records (read-only in the admin); rotating them is an action of its own.
        permissions = [("rotate_signingkey", "Can rotate signing keys")]
        constraints = [
            models.UniqueConstraint(
                fields=["algorithm"], condition=Q(state="active"), name="one_active_key_per_algorithm"
            ),
            models.UniqueConstraint(fields=["algorithm"], condition=Q(state="next"), name="one_next_key_per_algorithm"),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid[:12]} ({self.state})"
