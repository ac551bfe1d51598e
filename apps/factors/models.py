"""A person's second factors. Authenticator apps (TOTP) are django-otp's ``TOTPDevice``
(``django_otp.plugins.otp_totp``); passkeys and recovery codes are ours, their cryptography
py_webauthn's and the standard library's."""

from django.conf import settings
from django.db import models

# A WebAuthn credential id is at most 1023 bytes (WebAuthn Level 3, 5.8.3): 1364 in base64url.
CREDENTIAL_ID_LENGTH = 1400


class Passkey(models.Model):
    """A WebAuthn public-key credential registered by the person: as a second factor after
    the password, or alone (a passwordless sign-in) when it is discoverable and verifies them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100, help_text="The person's name for it, e.g. the device.")
    # base64url, as the browser reports it (and looks it up on sign-in).
    credential_id = models.CharField(max_length=CREDENTIAL_ID_LENGTH, unique=True)
    public_key = models.BinaryField(help_text="COSE-encoded public key.")
    sign_count = models.PositiveBigIntegerField(default=0)
    # WebAuthn's user.id for this person: random, never the database id (it is stored on the
    # authenticator and returned by a passwordless sign-in).
    user_handle = models.CharField(max_length=100)
    transports = models.JSONField(default=list, blank=True)
    # Backed up (synced by its provider): its key is not bound to one device (amr swk, else hwk).
    backed_up = models.BooleanField(default=False)
    aaguid = models.CharField(max_length=36, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as its SHA-256 digest: the codes carry 80 random
    bits, so an unsalted digest cannot be reversed, and a database read does not reveal them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    used = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="recovery_code_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code of {self.user}" + (" (used)" if self.used else "")
