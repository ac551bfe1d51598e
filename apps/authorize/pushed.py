"""Pushed authorization requests (RFC 9126).

A client POSTs its authorization request's parameters to /o/par/ (authenticated as at the
token endpoint), gets a short-lived ``request_uri`` back, and sends the browser to
/o/authorize/ with only ``client_id`` and that ``request_uri``. The parameters then never
pass through the browser, so nobody on the way can read or change them.

The ``request_uri`` is a bearer reference: whoever holds it starts that client's request.
So only its digest is stored, it lives for ``PUSHED_AUTHORIZATION_REQUEST_LIFETIME``
seconds, and it is used once (RFC 9126 section 4: "the authorization server SHOULD treat
request_uri values as one-time use"): the first browser that brings it claims it, and keeps
its parameters in its session while the person signs in and decides (the sign-in page and
the consent form come back to /o/authorize/ with the same URL); the authorization response
ends it there too.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import QueryDict
from django.utils import timezone
from oauthlib.oauth2.rfc6749.errors import FatalClientError
from oauthlib.openid.connect.core.exceptions import InvalidRequestURI, RequestNotSupported

from apps.authorize.checks import malformed, validate_authorization_parameters
from apps.clients import authentication as client_auth
from apps.oauth.models import Application
from apps.oauth.models.pushed_request import PushedAuthorizationRequest
from apps.protocol.dpop import DPOP_JKT_PARAMETER
from apps.protocol.errors import InvalidDPoPProof, InvalidRequest, OAuth2Error
from idp.conf import idp_settings

# RFC 9126 section 2.2: a URN the client treats as opaque.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# 256 bits: the reference cannot be guessed within its lifetime.
REFERENCE_BYTES = 32
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_REFERENCE_LENGTH = 64

# The parameters that authenticate the client at /o/par/ (RFC 6749 section 2.3.1, RFC 7521
# section 4.2): not part of the authorization request, and never stored.
CLIENT_AUTHENTICATION_PARAMETERS = frozenset(
    {"client_secret", "client_assertion", "client_assertion_type"}.union(
        *(method.SECRET_PARAMETERS for method in client_auth.METHODS)
    )
)

# In the browser's session: reference digest -> {"client_id", "parameters", "until"}.
SESSION_KEY = "pushed_authorization_requests"
# How long a claimed request stays usable in the browser that claimed it: time for a person
# to sign in, perhaps set up a second factor, and decide.
HELD_SECONDS = 30 * 60
# A session holds at most this many claimed requests (the oldest go first).
MAX_HELD = 10

Parameters = list[tuple[str, str]]


@dataclass(frozen=True)
class PushedRequest:
    """RFC 9126 section 2.2's answer."""

    request_uri: str
    expires_in: int


def _digest(random_part: str) -> str:
    return hashlib.sha256(random_part.encode()).hexdigest()


def is_pushed_request_uri(request_uri: str) -> bool:
    """Whether ``request_uri`` has the form of ours (else it would name a request object by
    reference, RFC 9101, which is not supported)."""
    return request_uri.startswith(REQUEST_URI_PREFIX)


def _reference(request_uri: str) -> str | None:
    """The stored digest a ``request_uri`` of ours stands for; None if it is not one of ours."""
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        return None
    random_part = request_uri.removeprefix(REQUEST_URI_PREFIX)
    if not random_part or len(random_part) > MAX_REFERENCE_LENGTH:
        return None
    return _digest(random_part)


def _pushed_error(error: OAuth2Error) -> OAuth2Error:
    """RFC 9126 section 2.3: the error as token-endpoint JSON (RFC 6749 section 5.2), so
    without the ``state`` oauthlib copies from the request into the error. Where section
    4.1.2.1 names no code (a bad or mismatching redirect URI), oauthlib's is invalid_request,
    which RFC 9126 names as the default."""
    error.state = None
    return error


def _authorization_query(*, client: Application, form: QueryDict) -> QueryDict:
    """The authorization request's parameters of a push: the form without the client's
    credentials, naming the authenticated client."""
    named = form.get("client_id")
    # RFC 9126 section 2.1: the client_id of the request is the authenticated client.
    if named is not None and named != client.client_id:
        raise InvalidRequest(description="client_id is not the authenticated client.")
    query = QueryDict(mutable=True)
    query["client_id"] = client.client_id
    for name, values in form.lists():
        if name != "client_id" and name not in CLIENT_AUTHENTICATION_PARAMETERS:
            query.setlist(name, values)
    return query


def check_pushed_parameters(query: QueryDict) -> None:
    """RFC 9126 section 2.1: validated as the authorization endpoint validates a request, with
    ``request_uri`` refused (it is what the push returns, never what it carries)."""
    if "request_uri" in query:
        raise InvalidRequest(description="request_uri must not be pushed (RFC 9126 section 2.1).")
    if "request" in query:
        raise RequestNotSupported()
    if problem := malformed(query):
        raise InvalidRequest(description=problem)
    try:
        validate_authorization_parameters(query)
    except (OAuth2Error, FatalClientError) as error:
        raise _pushed_error(error) from None


def push_authorization_request(*, client: Application, form: QueryDict, dpop_jkt: str | None = None) -> PushedRequest:
    """RFC 9126 section 2: store the authorization request ``client`` pushed (``form``, the
    POST body as sent) and return the ``request_uri`` that stands for it. Raises the OAuth
    error the authorization endpoint would have answered. ``dpop_jkt``: the key of a DPoP
    proof sent with the push, which the code is then bound to (RFC 9449 section 10.1)."""
    query = _authorization_query(client=client, form=form)
    if dpop_jkt is not None:
        named = query.get(DPOP_JKT_PARAMETER)
        if named is not None and named != dpop_jkt:
            raise InvalidDPoPProof(description="dpop_jkt is not the thumbprint of the DPoP proof's key.")
        query[DPOP_JKT_PARAMETER] = dpop_jkt
    check_pushed_parameters(query)
    random_part = secrets.token_urlsafe(REFERENCE_BYTES)
    lifetime = idp_settings.PUSHED_AUTHORIZATION_REQUEST_LIFETIME
    now = timezone.now()
    # This client's expired requests are of no use to anyone any more; cleared as it pushes
    # new ones, so the table holds about one lifetime's worth of requests.
    PushedAuthorizationRequest.objects.filter(application=client, expires__lte=now).delete()
    PushedAuthorizationRequest.objects.create(
        reference=_digest(random_part),
        application=client,
        parameters=[[name, value] for name, values in query.lists() for value in values],
        expires=now + timedelta(seconds=lifetime),
    )
    return PushedRequest(request_uri=REQUEST_URI_PREFIX + random_part, expires_in=lifetime)


# --- at the authorization endpoint ---------------------------------------------------------------


def _held(session: SessionBase) -> dict[str, dict[str, Any]]:
    now = time.time()
    return {ref: entry for ref, entry in session.get(SESSION_KEY, {}).items() if entry["until"] > now}


def hold_pushed_request(*, session: SessionBase, request_uri: str, client_id: str, parameters: Parameters) -> None:
    """Keeps a claimed request's ``parameters`` in this browser's ``session``, for the pages
    that come back to /o/authorize/ with its ``request_uri`` (for ``prompt=login``, with what
    the fresh sign-in satisfied taken out)."""
    reference = _reference(request_uri)
    if reference is None:
        return
    held = _held(session)
    held[reference] = {
        "client_id": client_id,
        "parameters": [list(pair) for pair in parameters],
        "until": time.time() + HELD_SECONDS,
    }
    session[SESSION_KEY] = dict(sorted(held.items(), key=lambda item: item[1]["until"])[-MAX_HELD:])


def release_pushed_request(*, session: SessionBase, request_uri: str) -> None:
    """The authorization response went to the client: the request is over, also in this browser."""
    reference = _reference(request_uri)
    held = _held(session)
    if reference in held:
        del held[reference]
        session[SESSION_KEY] = held


def claim_pushed_request(*, session: SessionBase, client_id: str | None, request_uri: str) -> Parameters:
    """RFC 9126 section 4: the parameters ``request_uri`` stands for, if it is one that
    ``client_id`` pushed and it has neither expired nor been used by another browser; else
    ``invalid_request_uri``. The first use claims it for this browser's ``session``."""
    reference = _reference(request_uri)
    if reference is None or not client_id:
        raise InvalidRequestURI()
    entry = _held(session).get(reference)
    if entry is not None:
        if entry["client_id"] != client_id:
            raise InvalidRequestURI()
        return [(name, value) for name, value in entry["parameters"]]
    now = timezone.now()
    pushed = (
        PushedAuthorizationRequest.objects.select_related("application")
        .filter(reference=reference, used_at__isnull=True, expires__gt=now)
        .first()
    )
    if pushed is None or pushed.application.client_id != client_id:
        raise InvalidRequestURI()
    # Conditional, so that of two browsers racing with the same request_uri one wins.
    if not PushedAuthorizationRequest.objects.filter(pk=pushed.pk, used_at__isnull=True).update(used_at=now):
        raise InvalidRequestURI()
    parameters: Parameters = [(name, value) for name, value in pushed.parameters]
    hold_pushed_request(session=session, request_uri=request_uri, client_id=client_id, parameters=parameters)
    return parameters
