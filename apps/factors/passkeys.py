"""Passkeys (WebAuthn Level 3): registration, and authentication as a second factor after
the password or alone (a passwordless sign-in), with py_webauthn doing the cryptography.

The relying party is the issuer: its host is the RP ID and its origin the only origin a
ceremony is accepted from. WebAuthn has no RP ID for an IP address, so an issuer such as
``http://127.0.0.1:8000`` has no passkeys (``localhost`` works).

Each ceremony's challenge is kept in the person's session under its own purpose, expires
after a few minutes and is taken out by the first response that presents it, good or bad:
a response can never be verified twice.
"""

import ipaddress
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from apps.factors.errors import FactorError
from apps.factors.models import CREDENTIAL_ID_LENGTH, Passkey
from apps.factors.services import factor_enrolled, factor_removed
from apps.protocol import strength
from idp.conf import idp_settings

FACTOR = "passkey"
RP_NAME = "GloboTicket"
CHALLENGES_KEY = "idp_webauthn_challenges"
CHALLENGE_SECONDS = 300
TIMEOUT_MS = CHALLENGE_SECONDS * 1000
USER_HANDLE_BYTES = 32
NAME_LENGTH = Passkey._meta.get_field("name").max_length or 100
# A credential id as the browser sends it, checked before it reaches a query: a NUL or an
# overlong value would be a database error (PostgreSQL), not a refusal.
CREDENTIAL_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{CREDENTIAL_ID_LENGTH}}}")


class Ceremony(StrEnum):
    REGISTRATION = "registration"
    SECOND_FACTOR = "second-factor"  # after the password, or a step-up of a signed-in session
    PASSWORDLESS = "passwordless"  # a discoverable credential that verifies the person alone


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str


@dataclass(frozen=True)
class PasskeyUse:
    """A verified assertion: whose passkey it was and the ``amr`` it proves."""

    passkey: Passkey
    methods: list[str]


def relying_party() -> RelyingParty | None:
    """The RP ID and origin from the issuer, or None when the issuer's host is an IP address."""
    issuer = urlsplit(idp_settings.ISSUER)
    host = issuer.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return RelyingParty(id=host, origin=f"{issuer.scheme}://{issuer.netloc}".lower()) if host else None
    return None


def _relying_party() -> RelyingParty:
    rp = relying_party()
    if rp is None:
        raise FactorError("unavailable", gettext("Passkeys need this site to be reached by a domain name."))
    return rp


def _keep_challenge(session: SessionBase, ceremony: Ceremony, challenge: bytes, **extra: Any) -> None:
    challenges = dict(session.get(CHALLENGES_KEY, {}))
    challenges[ceremony] = {"challenge": bytes_to_base64url(challenge), "expires": time.time() + CHALLENGE_SECONDS}
    challenges[ceremony].update(extra)
    session[CHALLENGES_KEY] = challenges  # reassigned, so the session knows it changed


def _expired() -> FactorError:
    return FactorError("challenge", gettext("This passkey request has expired or was already used. Please try again."))


def _take_challenge(session: SessionBase, ceremony: Ceremony) -> dict[str, Any]:
    """The challenge for ``ceremony``, removed from the session (single use), or raise."""
    challenges = dict(session.get(CHALLENGES_KEY, {}))
    kept = challenges.pop(ceremony, None)
    session[CHALLENGES_KEY] = challenges
    if not kept or kept["expires"] < time.time():
        raise _expired()
    return kept


def _transports(credential: dict[str, Any]) -> list[str]:
    response = credential.get("response")
    reported = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(reported, list):
        return []
    known = {transport.value for transport in AuthenticatorTransport}
    # Strings only: an object in the list is not hashable, and no transport.
    return list(dict.fromkeys(value for value in reported if isinstance(value, str) and value in known))


def _clean_name(name: Any) -> str:
    """The person's name for a passkey: spaces collapsed, control characters (a NUL, which
    PostgreSQL cannot store) dropped, cut to the column's length."""
    text = "".join(char for char in str(name) if unicodedata.category(char) != "Cc" or char.isspace())
    return " ".join(text.split())[:NAME_LENGTH]


def _malformed() -> FactorError:
    return FactorError("malformed", gettext("The browser's answer was not understood."))


def _descriptors(passkeys: Any) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(passkey.credential_id),
            transports=[AuthenticatorTransport(value) for value in passkey.transports],
        )
        for passkey in passkeys
    ]


def _user_handle(user: Any) -> str:
    """WebAuthn's user.id for ``user``: the one their passkeys already carry (an authenticator
    keeps one discoverable credential per RP and user.id), or a new random one."""
    existing = Passkey.objects.filter(user=user).values_list("user_handle", flat=True).first()
    return existing or bytes_to_base64url(secrets.token_bytes(USER_HANDLE_BYTES))


def registration_options(*, user: Any, session: SessionBase) -> str:
    """The options for ``navigator.credentials.create()`` (JSON): a discoverable credential
    if the authenticator can make one, none of the person's existing passkeys again."""
    rp = _relying_party()
    handle = _user_handle(user)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=base64url_to_bytes(handle),
        user_name=user.get_username(),
        user_display_name=user.get_full_name() or user.get_username(),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(Passkey.objects.filter(user=user)),
    )
    _keep_challenge(session, Ceremony.REGISTRATION, options.challenge, user=user.pk, handle=handle)
    return options_to_json(options)


def register(
    *, user: Any, session: SessionBase, credential: Any, name: str, challenge: str
) -> tuple[Passkey, list[str]]:
    """Verify the browser's answer to :func:`registration_options` and keep the passkey.
    ``challenge`` is the one whose registration the caller allowed (after asking for the
    password): another ceremony's is refused. Returns the passkey and the person's new
    recovery codes if it is their first factor."""
    name = _clean_name(name)
    if not name:
        raise FactorError("name", gettext("Give the passkey a name, such as the device it is on."))
    rp = _relying_party()
    kept = _take_challenge(session, Ceremony.REGISTRATION)
    if kept.get("user") != user.pk or not constant_time_compare(kept["challenge"], challenge):
        raise _expired()
    if not isinstance(credential, dict) or not CREDENTIAL_ID.fullmatch(_text(credential.get("id"))):
        raise _malformed()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(kept["challenge"]),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise FactorError("invalid", gettext("The passkey could not be verified. Please try again.")) from error
    credential_id = bytes_to_base64url(verified.credential_id)
    if len(credential_id) > CREDENTIAL_ID_LENGTH:  # longer than WebAuthn allows
        raise _malformed()
    with transaction.atomic():
        if Passkey.objects.filter(credential_id=credential_id).exists():
            raise FactorError("exists", gettext("This passkey is already registered."))
        passkey = Passkey.objects.create(
            user=user,
            name=name,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            user_handle=kept["handle"],
            transports=_transports(credential),
            backed_up=verified.credential_backed_up,
            aaguid=verified.aaguid,
        )
        return passkey, factor_enrolled(user, FACTOR)


def authentication_options(*, session: SessionBase, ceremony: Ceremony, user: Any = None) -> str:
    """The options for ``navigator.credentials.get()`` (JSON). As a second factor: ``user``'s
    passkeys, presence enough (the password was the other factor). Passwordless: any
    discoverable passkey of this site, and the authenticator must verify the person."""
    rp = _relying_party()
    if ceremony == Ceremony.SECOND_FACTOR:
        allowed = _descriptors(Passkey.objects.filter(user=user))
        if not allowed:
            raise FactorError("none", gettext("You have no passkey."))
        verification = UserVerificationRequirement.PREFERRED
    elif ceremony == Ceremony.PASSWORDLESS:
        allowed, verification = [], UserVerificationRequirement.REQUIRED
    else:
        raise ValueError(f"not an authentication ceremony: {ceremony}")
    options = generate_authentication_options(
        rp_id=rp.id, timeout=TIMEOUT_MS, allow_credentials=allowed, user_verification=verification
    )
    _keep_challenge(session, ceremony, options.challenge, user=user.pk if user is not None else None)
    return options_to_json(options)


def authenticate(*, session: SessionBase, ceremony: Ceremony, credential: Any, user: Any = None) -> PasskeyUse:
    """Verify the browser's answer to :func:`authentication_options`: as a second factor it
    must be one of ``user``'s passkeys; passwordless, the passkey names its person (whose
    account must be active). Raises :class:`FactorError` and changes nothing otherwise."""
    rp = _relying_party()
    kept = _take_challenge(session, ceremony)
    refused = FactorError("invalid", gettext("The passkey could not be verified. Please try again."))
    if ceremony == Ceremony.SECOND_FACTOR and (user is None or kept.get("user") != user.pk):
        raise refused
    if not isinstance(credential, dict) or not CREDENTIAL_ID.fullmatch(_text(credential.get("id"))):
        raise _malformed()
    passkey = Passkey.objects.select_related("user").filter(credential_id=credential["id"]).first()
    if passkey is None or (ceremony == Ceremony.SECOND_FACTOR and passkey.user_id != user.pk):
        raise FactorError("unknown", gettext("This passkey is not registered for your account."))
    if ceremony == Ceremony.PASSWORDLESS:
        response = credential.get("response")
        handle = response.get("userHandle") if isinstance(response, dict) else None
        # Without allowCredentials the authenticator names its person (WebAuthn 7.2 step 6):
        # it must be the passkey's.
        if handle != passkey.user_handle:
            raise refused
        if not passkey.user.is_active:
            raise refused
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(kept["challenge"]),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=ceremony == Ceremony.PASSWORDLESS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise refused from error
    # Conditional on the count we checked against: of two assertions racing with one
    # counter value, only one is accepted (a cloned authenticator shows up as a conflict).
    updated = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
        sign_count=verified.new_sign_count, backed_up=verified.credential_backed_up, last_used=timezone.now()
    )
    if not updated:
        raise refused
    passkey.refresh_from_db()
    kind = strength.SOFTWARE_KEY if verified.credential_backed_up else strength.HARDWARE_KEY
    methods = [kind, strength.MULTIPLE_FACTORS] if ceremony == Ceremony.PASSWORDLESS else [kind]
    return PasskeyUse(passkey=passkey, methods=methods)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def remove(*, user: Any, passkey_id: int) -> None:
    """Remove one of ``user``'s passkeys. The caller has asked for the account's password."""
    with transaction.atomic():
        deleted, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
        if not deleted:
            raise FactorError("unknown", gettext("That passkey does not exist."))
        factor_removed(user, FACTOR)
