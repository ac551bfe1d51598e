"""What the rest of the IdP asks about a person's second factors."""

from typing import Any

from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.factors.models import Passkey


def has_second_factor(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator app or a passkey (recovery codes alone
    are not a factor: they exist only beside one)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists() or Passkey.objects.filter(user=user).exists()
    )
