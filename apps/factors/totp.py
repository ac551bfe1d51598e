"""Authenticator apps (RFC 6238 TOTP), as django-otp's ``TOTPDevice``: one per person. Set
up in two steps: an unconfirmed device whose secret the app scans (a QR code) or the person
types, then confirmed by a first correct code, so a mistyped secret never becomes a factor
that locks them out."""

import base64
import re
import time
from typing import Any

import segno
from django.db import transaction
from django.utils.translation import gettext
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.factors.errors import FactorError
from apps.factors.services import factor_enrolled, factor_removed

FACTOR = "totp"
DEVICE_NAME = "Authenticator app"
# django-otp makes the n-th wrong code in a row wait OTP_TOTP_THROTTLE_FACTOR * 2**(n-1)
# seconds, up to a hundred years: someone who knows only the password could keep the owner's
# app refused for good. The count stops here (with the default factor 1, at most 2**11 s,
# about 34 minutes), which still holds guessing to a few dozen codes a day.
MAX_THROTTLE_FAILURES = 12


def authenticator_app(user: Any) -> TOTPDevice | None:
    """``user``'s confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_enrolment(user: Any) -> TOTPDevice | None:
    """The device ``user`` is setting up (not confirmed by a code yet), if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def _already_have_one() -> FactorError:
    return FactorError("exists", gettext("You already have an authenticator app. Remove it first to set up another."))


def begin_enrolment(user: Any) -> TOTPDevice:
    """A new unconfirmed device with a fresh secret for ``user`` (replacing one they started
    and did not finish). Refused if they already have an authenticator app."""
    if authenticator_app(user) is not None:
        raise _already_have_one()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URI as an inline SVG QR code (no script, no style: the
    page's CSP allows it)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, title=gettext("QR code for your app"))


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for an app that cannot scan."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _refusal(reason: str) -> FactorError:
    messages = {
        "malformed": gettext("Enter the 6-digit code your authenticator app shows."),
        "throttled": gettext("Too many wrong codes in a row. Wait a few seconds and try again."),
        "reused": gettext("That code was already used. Wait for the next code and enter it."),
        "wrong": gettext("That code is not correct. Check the time on your device and try again."),
    }
    return FactorError(reason, messages[reason])


def _seen_before(device: TOTPDevice, token: str) -> bool:
    """Whether a refused ``token`` is right for a time step the device already accepted."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return bool(totp.verify(int(token), device.tolerance))


def _cap_throttle(device: TOTPDevice) -> None:
    """Keep the failure count (and so the wait after a wrong code) at MAX_THROTTLE_FAILURES:
    conditional, so it never lowers a count another request is raising."""
    TOTPDevice.objects.filter(pk=device.pk, throttling_failure_count__gt=MAX_THROTTLE_FAILURES).update(
        throttling_failure_count=MAX_THROTTLE_FAILURES
    )


def _check(device: TOTPDevice, token: str) -> None:
    """Accept ``token`` for ``device`` (django-otp: a code is good once, within one step of
    now, and wrong codes slow further tries down), or raise saying why."""
    token = "".join(token.split())
    # ASCII digits only: str.isdigit() also accepts "¹²³⁴⁵⁶", which int() refuses.
    if not re.fullmatch(rf"[0-9]{{{device.digits}}}", token):
        raise _refusal("malformed")
    # On the device's row, locked: of parallel requests with one code only the first is
    # accepted (the others then see its time step as used), and every failure is counted.
    # The refusal is raised after the transaction, whose failure count must be kept.
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _ = locked.verify_is_allowed()
        if not allowed:
            reason = "throttled"
        elif locked.verify_token(token):
            return
        else:
            _cap_throttle(locked)
            reason = "reused" if _seen_before(locked, token) else "wrong"
    raise _refusal(reason)


def confirm_enrolment(user: Any, token: str) -> list[str]:
    """Confirm ``user``'s pending device with a first code; it becomes their authenticator
    app. Returns their new recovery codes if it is their first factor."""
    device = pending_enrolment(user)
    if device is None:
        raise FactorError("no_enrolment", gettext("Start setting up the authenticator app first."))
    if authenticator_app(user) is not None:
        raise _already_have_one()
    _check(device, token)
    with transaction.atomic():
        # Conditional: two confirmations racing (each with its own good code) enrol it once.
        if not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True):
            raise _already_have_one()
        return factor_enrolled(user, FACTOR)


def verify(user: Any, token: str) -> None:
    """Accept a code from ``user``'s authenticator app, or raise saying why."""
    device = authenticator_app(user)
    if device is None:
        raise FactorError("none", gettext("You have no authenticator app."))
    _check(device, token)


def remove(user: Any) -> None:
    """Remove ``user``'s authenticator app (and one they were setting up). The caller has
    asked for the account's password."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        deleted, _ = TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        if not deleted:
            raise FactorError("none", gettext("You have no authenticator app."))
        factor_removed(user, FACTOR)
