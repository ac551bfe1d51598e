"""Recovery codes: ten single-use codes that stand in for a lost authenticator, stored as
SHA-256 digests (80 random bits each: an unsalted digest cannot be reversed)."""

import base64
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from apps.factors.errors import FactorError
from apps.factors.events import RECOVERY_CODE_USED, RECOVERY_CODES_GENERATED, audit
from apps.factors.models import RecoveryCode

CODE_COUNT = 10
CODE_BYTES = 10  # 80 bits: 16 base32 characters


def _canonical(code: str) -> str:
    """A code as typed (any case, spaces or hyphens anywhere) reduced to its 16 characters."""
    return "".join(code.split()).replace("-", "").lower()


def _digest(code: str) -> str:
    return hashlib.sha256(_canonical(code).encode()).hexdigest()


def _new_code() -> str:
    text = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode().lower()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def generate_recovery_codes(user: Any) -> list[str]:
    """Replace ``user``'s recovery codes with ten new ones; returns them (the only time
    they exist in clear)."""
    codes = [_new_code() for _ in range(CODE_COUNT)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=_digest(code)) for code in codes)
        audit(RECOVERY_CODES_GENERATED, user)
    return codes


def recovery_codes_left(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used__isnull=True).count()


def has_recovery_codes(user: Any) -> bool:
    """Whether ``user`` has a set of recovery codes, used up or not."""
    return RecoveryCode.objects.filter(user=user).exists()


def delete_recovery_codes(user: Any) -> None:
    RecoveryCode.objects.filter(user=user).delete()


def use_recovery_code(user: Any, code: str) -> None:
    """Spend one of ``user``'s recovery codes, or raise :class:`FactorError` (``wrong`` or
    ``used``) and spend nothing."""
    digest = _digest(code)
    # One conditional UPDATE: two requests racing with the same code cannot both spend it.
    spent = RecoveryCode.objects.filter(user=user, digest=digest, used__isnull=True).update(used=timezone.now())
    if spent:
        audit(RECOVERY_CODE_USED, user, left=recovery_codes_left(user))
        return
    if RecoveryCode.objects.filter(user=user, digest=digest).exists():
        raise FactorError("used", gettext("That recovery code has already been used. Each code works once."))
    raise FactorError("wrong", gettext("That recovery code is not valid."))
