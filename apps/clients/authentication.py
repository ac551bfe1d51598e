"""Client authentication (RFC 6749 section 2.3), one rule for every endpoint that asks for it.

Each method is a :class:`ClientAuthMethod` in :data:`METHODS`: the token endpoint, the
introspection and revocation endpoints (through the oauthlib validator), discovery's
``*_auth_methods_supported`` and the list of parameters kept out of error reports all read
that list, so a new method is one class added there.

A request uses exactly one method (RFC 6749 section 2.3: "MUST NOT use more than one
authentication method in each request"); only enabled clients authenticate, confidential ones
with their secret (or, during the grace period of a rotation, the secret it replaced), or with
a JWT signed by one of their registered keys (``private_key_jwt``, RFC 7523 section 2.2; a
client may hold a secret and keys at once while it migrates, each request using one). A
public client (RFC 6749 section 2.1: it cannot keep a secret) names itself with ``client_id``
alone (the ``none`` method), and only where the caller allows it: the code grant, whose PKCE
proves the same client, and refresh.
"""

import base64
import binascii
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote_plus

import jwt
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.clients.client_keys import assertion_keys
from apps.clients.config_cache import client_record, forget_expired_previous_secret
from apps.clients.secrets import verify_client_secret
from apps.oauth.models import Application
from apps.oauth.models.application import CLIENT_KEY_ALGORITHMS
from apps.protocol import replay
from apps.protocol.errors import InvalidClient
from idp.conf import idp_settings

MAX_CLIENT_ID_LENGTH = Application._meta.get_field("client_id").max_length

# The form as the methods read it: one value per name (repeats are refused earlier).
Form = Mapping[str, str | None]


@dataclass(frozen=True)
class PresentedCredentials:
    client_id: str
    client_secret: str


def _acceptable_client_id(client_id: str) -> bool:
    # Never a lookup key no client can have: a NUL would even make PostgreSQL refuse the query.
    return len(client_id) <= MAX_CLIENT_ID_LENGTH and client_id.isprintable()


def _assertion_sent(form: Form) -> bool:
    """Whether the request carries a client assertion (RFC 7521 section 4.2), used or not."""
    return form.get("client_assertion") is not None or form.get("client_assertion_type") is not None


def _verified(credentials: PresentedCredentials | None) -> Application:
    if credentials is None:
        raise InvalidClient()
    record = client_record(credentials.client_id)
    if record is None or not record.is_active or record.client_type != Application.CLIENT_CONFIDENTIAL:
        raise InvalidClient()
    if verify_client_secret(credentials.client_secret, record.client_secret):
        return record.application
    # Only now the secret a rotation replaced: a client using its current secret pays nothing
    # for the grace period.
    if record.previous_client_secret:
        if record.previous_secret_accepted(timezone.now()):
            if verify_client_secret(credentials.client_secret, record.previous_client_secret):
                return record.application
        else:
            forget_expired_previous_secret(record)
    raise InvalidClient()


class ClientAuthMethod(ABC):
    """One way for a client to prove itself. ``applies`` says whether the request uses it;
    ``client_id`` names the client it claims to be (for the audit trail, unverified);
    ``authenticate`` returns the client or raises ``invalid_client``."""

    NAME: ClassVar[str]  # as in RFC 8414 ``token_endpoint_auth_methods_supported``
    SECRET_PARAMETERS: ClassVar[frozenset[str]] = frozenset()
    # Whether it authenticates public clients (which prove nothing but their client_id).
    PUBLIC: ClassVar[bool] = False

    @abstractmethod
    def applies(self, authorization: str, form: Form) -> bool: ...

    @abstractmethod
    def client_id(self, authorization: str, form: Form) -> str | None: ...

    @abstractmethod
    def authenticate(self, authorization: str, form: Form) -> Application: ...


class ClientSecretBasic(ClientAuthMethod):
    """RFC 6749 section 2.3.1: ``Authorization: Basic`` with the form-urlencoded id and secret."""

    NAME = "client_secret_basic"

    def applies(self, authorization: str, form: Form) -> bool:
        # RFC 7617 / RFC 7235: the scheme name is case-insensitive.
        return authorization.partition(" ")[0].lower() == "basic"

    def _credentials(self, authorization: str, form: Form) -> PresentedCredentials | None:
        encoded = authorization.partition(" ")[2]
        if form.get("client_secret") is not None or _assertion_sent(form) or not encoded.isascii():
            return None  # a secret sent two ways, or with an assertion
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, client_secret = decoded.partition(":")
        if not colon:
            return None
        presented = PresentedCredentials(unquote_plus(client_id), unquote_plus(client_secret))
        # A body client_id naming another client than the one authenticating: which client
        # is asking is ambiguous, so the request authenticates no one.
        named = form.get("client_id")
        if named is not None and named != presented.client_id:
            return None
        return presented if _acceptable_client_id(presented.client_id) else None

    def client_id(self, authorization: str, form: Form) -> str | None:
        presented = self._credentials(authorization, form)
        return presented.client_id if presented else None

    def authenticate(self, authorization: str, form: Form) -> Application:
        return _verified(self._credentials(authorization, form))


class ClientSecretPost(ClientAuthMethod):
    """RFC 6749 section 2.3.1: ``client_id`` and ``client_secret`` in the form body."""

    NAME = "client_secret_post"
    SECRET_PARAMETERS = frozenset({"client_secret"})

    def applies(self, authorization: str, form: Form) -> bool:
        return bool(form.get("client_id")) and form.get("client_secret") is not None

    def _credentials(self, form: Form) -> PresentedCredentials | None:
        client_id = form.get("client_id") or ""
        if not _acceptable_client_id(client_id) or _assertion_sent(form):
            return None
        return PresentedCredentials(client_id, form.get("client_secret") or "")

    def client_id(self, authorization: str, form: Form) -> str | None:
        presented = self._credentials(form)
        return presented.client_id if presented else None

    def authenticate(self, authorization: str, form: Form) -> Application:
        return _verified(self._credentials(form))


class PublicClient(ClientAuthMethod):
    """RFC 8414 ``none``: a public client names itself with ``client_id`` and sends no secret."""

    NAME = "none"
    PUBLIC = True

    def applies(self, authorization: str, form: Form) -> bool:
        return bool(form.get("client_id")) and form.get("client_secret") is None and not _assertion_sent(form)

    def client_id(self, authorization: str, form: Form) -> str | None:
        client_id = form.get("client_id") or ""
        return client_id if _acceptable_client_id(client_id) else None

    def authenticate(self, authorization: str, form: Form) -> Application:
        client_id = self.client_id(authorization, form)
        record = client_record(client_id) if client_id else None
        if record is None or not record.is_active or record.client_type != Application.CLIENT_PUBLIC:
            raise InvalidClient()
        return record.application


# --- private_key_jwt ---------------------------------------------------------------------------

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 section 2.2
# RFC 8414 ``token_endpoint_auth_signing_alg_values_supported`` (and the introspection and
# revocation endpoints' equivalents): what an assertion may be signed with.
TOKEN_ENDPOINT_AUTH_SIGNING_ALG_VALUES_SUPPORTED: list[str] = sorted(CLIENT_KEY_ALGORITHMS)
# An assertion lives for minutes (RFC 7523 section 3, item 4: "limit the amount of time"),
# and its jti is remembered that long: a longer one would make the replay store grow.
MAX_ASSERTION_LIFETIME_SECONDS = 300
CLOCK_SKEW_SECONDS = 30  # the client's clock may differ from ours by this much, either way
MAX_ASSERTION_LENGTH = 8 * 1024  # an 8192-bit RSA signature with generous claims fits
MAX_JTI_LENGTH = 255
# Where clients authenticate: an assertion's aud may name any of these endpoints' URLs, or
# the issuer. IDP["SERVICE_ENDPOINTS"] adds the OAuth endpoints registered there (pushed
# authorization requests).
ASSERTION_AUDIENCE_ENDPOINTS = ("oauth2_provider:token", "oauth2_provider:introspect", "oauth2_provider:revoke-token")


def assertion_audiences() -> set[str]:
    """RFC 7523 section 3, item 3: the values of ``aud`` that identify this authorization
    server: its issuer identifier, its token endpoint URL, or the URL of the endpoint the
    assertion is sent to (OpenID Connect Core 9 asks for the token endpoint's; RFC 7523 allows
    the issuer; RFC 9126 section 2 the issuer or the pushed-request endpoint's)."""
    base = idp_settings.ISSUER.rstrip("/")
    names = {*ASSERTION_AUDIENCE_ENDPOINTS}
    names.update(name for name in idp_settings.SERVICE_ENDPOINTS if name.startswith("oauth2_provider:"))
    audiences = {idp_settings.ISSUER}
    for name in names:
        try:
            audiences.add(base + reverse(name))
        except NoReverseMatch:
            continue  # a name the start-up check (idp.E020) reports
    return audiences


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The assertion's header and claims, read without checking anything: they say which
    client and key to check it with."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return (header, claims) if isinstance(header, dict) and isinstance(claims, dict) else None


def _claimed_client_id(claims: Mapping[str, Any], form: Form) -> str | None:
    """RFC 7523 section 3, items 1 and 2: ``iss`` and ``sub`` are both the client id; a body
    ``client_id`` (RFC 7521 section 4.2: optional) names the same client."""
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or iss != sub or not iss or not _acceptable_client_id(iss):
        return None
    named = form.get("client_id")
    return iss if named is None or named == iss else None


def _verified_claims(assertion: str, client: Application, header: Mapping[str, Any]) -> dict[str, Any]:
    """The claims, once the signature is checked with one of the client's keys (RFC 7523
    section 3, item 9). Only the claims' signature here; what they say is checked after."""
    alg, kid = header.get("alg"), header.get("kid")
    # A string first: a list or an object is unhashable, and the dict lookup would raise.
    if not isinstance(alg, str) or alg not in CLIENT_KEY_ALGORITHMS:
        raise InvalidClient(description=f"Assertions are signed with {', '.join(CLIENT_KEY_ALGORITHMS)}.")
    if kid is not None and not isinstance(kid, str):
        raise InvalidClient(description="The assertion's kid is not a string.")
    if "crit" in header:
        raise InvalidClient(description="No critical header extension is understood here (RFC 7515 4.1.11).")
    for key in assertion_keys(client, kid=kid, alg=alg):
        try:
            return jwt.decode(
                assertion,
                key.public_key,
                algorithms=[alg],
                # The claims are checked by the named checks below, each with its own answer.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.PyJWTError:
            continue
    # One answer for an unknown kid, a key of another client and a bad signature.
    raise InvalidClient(description="The assertion is not signed by a key registered for this client.")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # NaN and infinity pass every comparison's test the wrong way: refused outright, as is an
    # integer too large for a float (math.isfinite raises OverflowError on it).
    try:
        number = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        number = False
    if not number:
        raise InvalidClient(description=f"The assertion's {name} is not a number of seconds.")
    return float(value)


def _check_audience(claims: Mapping[str, Any]) -> None:
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not assertion_audiences() & {value for value in values if isinstance(value, str)}:
        raise InvalidClient(description="The assertion's aud names neither this issuer nor this endpoint.")


def _check_times(claims: Mapping[str, Any], now: float) -> float:
    """RFC 7523 section 3, items 4 to 6: ``exp`` required, not passed, and (our bound) at most
    five minutes ahead; ``nbf`` and ``iat``, when present, not in the future. Returns exp."""
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidClient(description="The assertion has no exp.")
    if exp <= now - CLOCK_SKEW_SECONDS:
        raise InvalidClient(description="The assertion has expired.")
    if exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise InvalidClient(
            description=f"The assertion's exp is more than {MAX_ASSERTION_LIFETIME_SECONDS} seconds ahead."
        )
    for name in ("nbf", "iat"):
        value = _number(claims, name)
        if value is not None and value > now + CLOCK_SKEW_SECONDS:
            raise InvalidClient(description=f"The assertion's {name} is in the future.")
    return exp


def _check_jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidClient(description="The assertion needs a jti (a string of at most 255 characters).")
    return jti


def _check_first_use(client_id: str, jti: str, exp: float) -> None:
    """RFC 7523 section 3, item 7: each assertion once. Its jti is remembered until the
    assertion could no longer be accepted anyway (exp, plus the skew allowed)."""
    expires = datetime.fromtimestamp(exp + CLOCK_SKEW_SECONDS, tz=UTC)
    if not replay.first_use(kind="client_assertion", issuer=client_id, jti=jti, expires=expires):
        raise InvalidClient(description="The assertion was used before (its jti is known).")


class PrivateKeyJwt(ClientAuthMethod):
    """RFC 7523 section 2.2 and OpenID Connect Core 9 ``private_key_jwt``: a JWT the client
    signed with a private key whose public half it registered (apps/clients/client_keys.py),
    in ``client_assertion`` with ``client_assertion_type`` jwt-bearer. Nothing shared: what
    the IdP stores cannot authenticate anyone."""

    NAME = "private_key_jwt"
    SECRET_PARAMETERS = frozenset({"client_assertion"})

    def applies(self, authorization: str, form: Form) -> bool:
        return _assertion_sent(form)

    def client_id(self, authorization: str, form: Form) -> str | None:
        read = _unverified(form.get("client_assertion") or "")
        return _claimed_client_id(read[1], form) if read else None

    def authenticate(self, authorization: str, form: Form) -> Application:
        # Checked in this order: the cheap structural checks, then the client, then the
        # signature, then what the signed claims say, and the jti only for an assertion that
        # passed everything (a rejected one uses up nothing).
        if authorization.partition(" ")[0].lower() == "basic" or form.get("client_secret") is not None:
            raise InvalidClient()  # two methods at once (RFC 6749 section 2.3)
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise InvalidClient(description=f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}.")
        assertion = form.get("client_assertion") or ""
        read = _unverified(assertion) if len(assertion) <= MAX_ASSERTION_LENGTH else None
        if read is None:
            raise InvalidClient(description="client_assertion is not a signed JWT.")
        header, unverified_claims = read
        client_id = _claimed_client_id(unverified_claims, form)
        if client_id is None:
            raise InvalidClient(description="The assertion's iss and sub must both be the client_id.")
        record = client_record(client_id)
        if record is None or not record.is_active or record.client_type != Application.CLIENT_CONFIDENTIAL:
            raise InvalidClient(description="The assertion is not signed by a key registered for this client.")
        claims = _verified_claims(assertion, record.application, header)
        _check_audience(claims)
        exp = _check_times(claims, time.time())
        _check_first_use(client_id, _check_jti(claims), exp)
        return record.application


METHODS: tuple[ClientAuthMethod, ...] = (ClientSecretBasic(), ClientSecretPost(), PrivateKeyJwt(), PublicClient())
METHOD_NAMES: list[str] = [method.NAME for method in METHODS]
CONFIDENTIAL_METHOD_NAMES: list[str] = [method.NAME for method in METHODS if not method.PUBLIC]


def _method(authorization: str, form: Form) -> ClientAuthMethod | None:
    """The method a request uses. A header in another scheme (Bearer, ...) is not a client
    credential and is ignored; the first method that applies decides, and each refuses a
    request that also carries another method's credentials."""
    return next((method for method in METHODS if method.applies(authorization, form)), None)


def authenticate(authorization: str | None, form: Form, *, allow_public: bool = False) -> Application:
    """The enabled client the request authenticates as (a public one only if ``allow_public``);
    else ``invalid_client``."""
    method = _method(authorization or "", form)
    if method is None or (method.PUBLIC and not allow_public):
        raise InvalidClient()
    return method.authenticate(authorization or "", form)


def authenticate_client(request: HttpRequest, *, allow_public: bool = False) -> Application:
    return authenticate(request.META.get("HTTP_AUTHORIZATION"), request.POST, allow_public=allow_public)


def claimed_method(request: HttpRequest) -> ClientAuthMethod | None:
    """The client-authentication method a request uses, unverified (the rate limiter charges
    a public client's requests differently)."""
    return _method(request.META.get("HTTP_AUTHORIZATION") or "", request.POST)


def claimed_client_id(request: HttpRequest) -> str:
    """The client_id a request names, authenticated or not (for the audit trail and the
    per-client rate limit)."""
    authorization = request.META.get("HTTP_AUTHORIZATION") or ""
    method = _method(authorization, request.POST)
    return (method.client_id(authorization, request.POST) or "") if method else ""
