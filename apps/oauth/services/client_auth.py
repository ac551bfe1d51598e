"""Client authentication at the token endpoint (RFC 6749 section 2.3).

A confidential client proves itself with ``client_secret_basic`` (an Authorization: Basic
header, RFC 6749 section 2.3.1) or ``client_secret_post`` (``client_id`` and
``client_secret`` in the body), never both in one request. Used by the grants served
directly (apps/oauth/grants/) and by the oauthlib validator, so there is one rule.
"""

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.http import HttpRequest

from apps.oauth.errors import InvalidClient
from apps.oauth.models import Application
from apps.oauth.secrets import verify_client_secret
from apps.oauth.services.client_config import client_record

MAX_CLIENT_ID_LENGTH = Application._meta.get_field("client_id").max_length


@dataclass(frozen=True)
class PresentedCredentials:
    client_id: str
    client_secret: str


def presented_credentials(authorization: str | None, body: Mapping[str, str | None]) -> PresentedCredentials | None:
    """The credentials a request presents, or None if they are malformed, sent two ways, or
    the body's ``client_id`` names another client than the Basic header. A header in another
    scheme (Bearer, ...) is not a client credential and is ignored."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme == "Basic":
        if body.get("client_secret") is not None or not encoded.isascii():
            return None
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, client_secret = decoded.partition(":")
        if not colon:
            return None
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before base64.
        presented = PresentedCredentials(unquote_plus(client_id), unquote_plus(client_secret))
        # A body client_id naming another client than the one authenticating: which client
        # is asking is ambiguous, so the request authenticates no one.
        named = body.get("client_id")
        if named is not None and named != presented.client_id:
            return None
    else:
        client_id = body.get("client_id")
        if not client_id:
            return None
        presented = PresentedCredentials(client_id, body.get("client_secret") or "")
    # Never a lookup key no client can have: a NUL would even make PostgreSQL refuse the query.
    if len(presented.client_id) > MAX_CLIENT_ID_LENGTH or not presented.client_id.isprintable():
        return None
    return presented


def authenticate_client(request: HttpRequest) -> Application:
    """The confidential, enabled client whose secret the request presents; else invalid_client."""
    presented = presented_credentials(request.META.get("HTTP_AUTHORIZATION"), request.POST)
    record = client_record(presented.client_id) if presented else None
    if (
        record is None
        or not record.is_active
        or record.application.client_type != Application.CLIENT_CONFIDENTIAL
        or not verify_client_secret(presented.client_secret, record.client_secret)
    ):
        raise InvalidClient()
    return record.application


def claimed_client_id(request: HttpRequest) -> str:
    """The client_id a request names, authenticated or not (for the audit trail)."""
    presented = presented_credentials(request.META.get("HTTP_AUTHORIZATION"), request.POST)
    return presented.client_id if presented else ""
