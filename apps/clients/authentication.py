"""Client authentication (RFC 6749 section 2.3), one rule for every endpoint that asks for it.

Each method is a :class:`ClientAuthMethod` in :data:`METHODS`: the token endpoint, the
introspection and revocation endpoints (through the oauthlib validator), discovery's
``*_auth_methods_supported`` and the list of parameters kept out of error reports all read
that list, so a new method (``private_key_jwt``) is one class added there.

A request uses exactly one method (RFC 6749 section 2.3: "MUST NOT use more than one
authentication method in each request"); only enabled clients authenticate, confidential ones
with their secret (or, during the grace period of a rotation, the secret it replaced). A
public client (RFC 6749 section 2.1: it cannot keep a secret) names itself with ``client_id``
alone (the ``none`` method), and only where the caller allows it: the code grant, whose PKCE
proves the same client, and refresh.
"""

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote_plus

from django.http import HttpRequest
from django.utils import timezone

from apps.clients.config_cache import client_record, forget_expired_previous_secret
from apps.clients.secrets import verify_client_secret
from apps.oauth.models import Application
from apps.protocol.errors import InvalidClient

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
        if form.get("client_secret") is not None or not encoded.isascii():
            return None  # a secret sent two ways
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
        return bool(form.get("client_id")) and "client_secret" in form

    def _credentials(self, form: Form) -> PresentedCredentials | None:
        client_id = form.get("client_id") or ""
        if not _acceptable_client_id(client_id):
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
        return bool(form.get("client_id")) and "client_secret" not in form

    def client_id(self, authorization: str, form: Form) -> str | None:
        client_id = form.get("client_id") or ""
        return client_id if _acceptable_client_id(client_id) else None

    def authenticate(self, authorization: str, form: Form) -> Application:
        client_id = self.client_id(authorization, form)
        record = client_record(client_id) if client_id else None
        if record is None or not record.is_active or record.client_type != Application.CLIENT_PUBLIC:
            raise InvalidClient()
        return record.application


METHODS: tuple[ClientAuthMethod, ...] = (ClientSecretBasic(), ClientSecretPost(), PublicClient())
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


def claimed_client_id(request: HttpRequest) -> str:
    """The client_id a request names, authenticated or not (for the audit trail and the
    per-client rate limit)."""
    authorization = request.META.get("HTTP_AUTHORIZATION") or ""
    method = _method(authorization, request.POST)
    return (method.client_id(authorization, request.POST) or "") if method else ""
