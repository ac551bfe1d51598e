"""How the authorization endpoint judges a request's parameters, in one place for the two
ways they arrive: in the browser's query string (/o/authorize/) and pushed by the client
(/o/par/, RFC 9126 section 2.1: "validated ... as it would be for an authorization request").

First :func:`malformed` (refused before any lookup), then oauthlib's validation through our
validator (client, redirect URI, response type, PKCE, scopes and ``resource``), then the
checks oauthlib does not make, :data:`AUTHORIZATION_REQUEST_CHECKS`.
"""

import re
from collections.abc import Callable
from typing import Any

from django.http import QueryDict
from django.urls import reverse
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.openid.connect.core.exceptions import RequestNotSupported, RequestURINotSupported

from apps.protocol import dpop
from apps.protocol.errors import InvalidRequest, shown
from apps.protocol.params import repeated_parameters

# RFC 7636 section 4.2: 43 to 128 unreserved characters.
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
MAX_NONCE_LENGTH = 255
# OpenID Connect Core 3.1.2.1: max_age is a non-negative number of seconds.
MAX_AGE = re.compile(r"^[0-9]{1,10}$")
# OpenID Connect Core 3.1.2.1: acr_values is a space-separated list of strings. We know two;
# a few dozen of any length a URI needs is more than any client means.
MAX_ACR_VALUES_LENGTH = 1000
MAX_ACR_VALUES = 20


def malformed(query: QueryDict) -> str | None:
    """What makes the parameters unreadable, refused before any lookup (and before a too-long
    value reaches a database column); None when nothing does."""
    # RFC 6749 section 3.1: parameters MUST NOT be included more than once (oauthlib checks
    # only some; a repeated code_challenge or nonce would otherwise pass with one copy).
    if repeated := repeated_parameters(query):
        return f"Parameter sent more than once: {shown(', '.join(repeated))}."
    challenge = query.get("code_challenge")
    if challenge is not None and not CODE_CHALLENGE.match(challenge):
        return "code_challenge must be 43 to 128 unreserved characters (RFC 7636)."
    if len(query.get("nonce", "")) > MAX_NONCE_LENGTH:
        return "nonce is too long."
    # RFC 9449 section 10: a thumbprint, or the code could never be redeemed.
    return dpop.dpop_jkt_problem(query.get(dpop.DPOP_JKT_PARAMETER))


# --- checks oauthlib does not make, run once it has found client and redirect URI valid --------


def refuse_request_objects(query: QueryDict, request: OAuthlibRequest) -> None:
    """OpenID Connect Core 6.1 and 6.2: request objects are not supported (discovery says
    so); ignoring one would issue a code for parameters other than the ones the client meant.
    (A ``request_uri`` of our own pushed requests never gets here: the authorization view
    replaces it by the parameters it stands for.)"""
    if "request" in query:
        raise RequestNotSupported(request=request)
    if "request_uri" in query:
        raise RequestURINotSupported(request=request)


def check_code_challenge_method(query: QueryDict, request: OAuthlibRequest) -> None:
    """RFC 9700 section 2.1.1: S256 only (discovery lists only it). Refused here, before the
    consent screen, rather than when the code would be created."""
    method = query.get("code_challenge_method")
    if method is not None and method != "S256":
        raise InvalidRequest(description="code_challenge_method must be S256.", request=request)


def check_prompt(query: QueryDict, request: OAuthlibRequest) -> None:
    prompt = set(query.get("prompt", "").split())
    # OpenID Connect Core 3.1.2.1 (oauthlib checks it only when openid is among the scopes).
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest(description="prompt=none cannot be combined with other values.", request=request)
    # Prompt Create 1.0 section 4.1.1: an OP that does not create accounts answers invalid_request.
    if "create" in prompt:
        raise InvalidRequest(description="prompt=create is not supported.", request=request)


def check_max_age(query: QueryDict, request: OAuthlibRequest) -> None:
    max_age = query.get("max_age")
    if max_age is not None and not MAX_AGE.match(max_age):
        raise InvalidRequest(description="max_age must be a whole number of seconds.", request=request)


def check_acr_values(query: QueryDict, request: OAuthlibRequest) -> None:
    """OpenID Connect Core 3.1.2.1: values we do not know are ignored (they are voluntary), but
    an oversized list is a broken request, not a preference."""
    acr_values = query.get("acr_values")
    if acr_values is None:
        return
    if len(acr_values) > MAX_ACR_VALUES_LENGTH or len(acr_values.split()) > MAX_ACR_VALUES:
        raise InvalidRequest(description="acr_values is too long.", request=request)


AUTHORIZATION_REQUEST_CHECKS: tuple[Callable[[QueryDict, OAuthlibRequest], None], ...] = (
    refuse_request_objects,
    check_code_challenge_method,
    check_prompt,
    check_max_age,
    check_acr_values,
)


def run_request_checks(query: QueryDict, request: OAuthlibRequest) -> None:
    """AUTHORIZATION_REQUEST_CHECKS in order; each raises its OAuth error."""
    for check in AUTHORIZATION_REQUEST_CHECKS:
        check(query, request)


def validate_authorization_parameters(query: QueryDict) -> tuple[list[str], dict[str, Any]]:
    """Judges ``query`` as /o/authorize/ would judge it in a browser's URL, without the
    browser: oauthlib's validation (the same server and validator as the authorization view)
    and then AUTHORIZATION_REQUEST_CHECKS. Returns oauthlib's scopes and credentials; raises
    oauthlib's errors (a FatalClientError for a bad client or redirect URI)."""
    # The validator reads repeatable parameters (``resource``) from the request's URI, as it
    # does for a browser's request.
    uri = f"{reverse('oauth2_provider:authorize')}?{query.urlencode()}"
    server = get_oauthlib_core().server
    scopes, credentials = server.validate_authorization_request(uri, http_method="GET", body="", headers={})
    run_request_checks(query, credentials["request"])
    return scopes, credentials
