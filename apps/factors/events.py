"""The factors' entries in the audit trail (apps/audit): enrolment, removal, and the use
and renewal of recovery codes. Never a code or a key, only what happened to whom."""

from typing import Any

from apps.audit.services import record_for_user

ENROLLED = "factor.enrolled"
REMOVED = "factor.removed"
RECOVERY_CODES_GENERATED = "factor.recovery_codes_generated"
RECOVERY_CODE_USED = "factor.recovery_code_used"


def audit(event_type: str, user: Any, **details: Any) -> None:
    """``details``: which factor (``factor="totp"`` or ``"passkey"``), how many codes are left;
    never a code, a secret or a public key."""
    record_for_user(event_type, user, **details)
