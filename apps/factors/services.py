"""What the rest of the IdP asks about a person's second factors, and what happens when the
set of factors changes (recovery codes follow it; the audit trail records it)."""

from typing import Any

from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.factors import recovery
from apps.factors.events import ENROLLED, REMOVED, audit
from apps.factors.models import Passkey


def has_second_factor(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator app or a passkey (recovery codes alone
    are not a factor: they exist only beside one)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists() or Passkey.objects.filter(user=user).exists()


def factor_enrolled(user: Any, factor: str) -> list[str]:
    """``user`` has a new factor (call inside the transaction that saved it). Returns the
    recovery codes made for them if this is their first factor (shown once), else none."""
    audit(ENROLLED, user, factor=factor)
    # Codes exist (used or not) exactly while the person has a factor: none means this is
    # the first (removing the last factor deletes them).
    if recovery.has_recovery_codes(user):
        return []
    return recovery.generate_recovery_codes(user)


def factor_removed(user: Any, factor: str) -> None:
    """``user`` lost a factor (call after deleting it): without any factor left, their
    recovery codes go too (they would otherwise stand in for a factor that is gone)."""
    audit(REMOVED, user, factor=factor)
    if not has_second_factor(user):
        recovery.delete_recovery_codes(user)
