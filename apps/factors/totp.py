"""Authenticator apps (RFC 6238 TOTP), as django-otp's ``TOTPDevice``: one per person. Set
up in two steps: an unconfirmed device whose secret the app scans (a QR code) or the person
types, then confirmed by a first correct code, so a mistyped secret never becomes a factor
that locks them out."""

import base64
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


def _check(device: TOTPDevice, token: str) -> None:
    """Accept ``token`` for ``device`` (django-otp: a code is good once, within one step of
    now, and wrong codes slow further tries down), or raise saying why."""
    token = "".join(token.split())
    if not (token.isdigit() and len(token) == device.digits):
        raise FactorError("malformed", gettext("Enter the 6-digit code your authenticator app shows."))
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise FactorError("throttled", gettext("Too many wrong codes in a row. Wait a few seconds and try again."))
    if device.verify_token(token):
        return
    # Why it failed: a code that matches a time step already used was seen before.
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.verify(int(token), device.tolerance):
        raise FactorError("reused", gettext("That code was already used. Wait for the next code and enter it."))
    raise FactorError("wrong", gettext("That code is not correct. Check the time on your device and try again."))


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
        device.confirmed = True
        device.save(update_fields=["confirmed"])
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
