"""One exception class per OAuth error code (STYLE.md 4), and the one renderer of answers.

The classes are oauthlib ``OAuth2Error`` subclasses, so oauthlib's endpoints raise and
serialise them too. Every JSON answer of the OAuth endpoints, success or error, ours or
oauthlib's, goes out through :func:`oauth_response`, which knows which kind of endpoint it
answers for (:class:`Endpoint`): that decides the challenge of a 401.
"""

import enum

from django.http import HttpResponse
from oauthlib.oauth2.rfc6749 import errors as _oauthlib
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from oauthlib.openid.connect.core import exceptions as _oidc

# RFC 6749 section 5.2
InvalidRequest = _oauthlib.InvalidRequestError  # 400 invalid_request
InvalidClient = _oauthlib.InvalidClientError  # 401 invalid_client
InvalidGrant = _oauthlib.InvalidGrantError  # 400 invalid_grant
UnauthorizedClient = _oauthlib.UnauthorizedClientError  # 400 unauthorized_client
UnsupportedGrantType = _oauthlib.UnsupportedGrantTypeError  # 400 unsupported_grant_type
InvalidScope = _oauthlib.InvalidScopeError  # 400 invalid_scope
UnsupportedResponseType = _oauthlib.UnsupportedResponseTypeError  # authorization endpoint
AccessDenied = _oauthlib.AccessDeniedError  # authorization endpoint
# RFC 6749 section 4.1.2.1, with the status its cause calls for: 429 over a rate limit, 503
# while the database is unreachable (the caller sets it, and Retry-After).
TemporarilyUnavailable = _oauthlib.TemporarilyUnavailableError
# OpenID Connect Core 3.1.2.6 (prompt=none)
LoginRequired = _oauthlib.LoginRequired
ConsentRequired = _oauthlib.ConsentRequired
# prompt=none, but the sign-in must be stepped up to a stronger level first
InteractionRequired = _oidc.InteractionRequired


class InvalidTarget(OAuth2Error):
    """RFC 8707 section 2 / RFC 8693 section 2.2.2: the requested resource or audience is
    invalid, unknown, or not one this client may get a token for."""

    error = "invalid_target"
    status_code = 400


class InsufficientUserAuthentication(OAuth2Error):
    """RFC 9470 section 3's code, answered here by the token endpoint (a documented extension:
    RFC 9470 defines it for resource servers): the user's sign-in behind a code, a refresh
    token or an exchanged subject token is weaker than the client or an API requires. The
    extra member ``acr_values`` names the level required, so that a service refused while
    exchanging its caller's token can pass an RFC 9470 challenge back to that caller."""

    error = "insufficient_user_authentication"
    status_code = 400

    def __init__(self, *, acr_values: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.acr_values = acr_values

    @property
    def twotuples(self) -> list[tuple[str, str]]:
        return [*super().twotuples, ("acr_values", self.acr_values)]


class InvalidDPoPProof(OAuth2Error):
    """RFC 9449 section 5: the token request's ``DPoP`` proof is malformed, for another
    request, replayed, stale or not signed by the key in it."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonce(OAuth2Error):
    """RFC 9449 section 8: the proof must carry a nonce of ours, and this one carries none or
    a stale one; the answer's ``DPoP-Nonce`` header has the nonce to use."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, *, nonce: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.nonce = nonce

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "DPoP-Nonce": self.nonce}


_DESCRIPTION_CHARS = frozenset(chr(c) for c in [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)])


def shown(value: str, limit: int = 100) -> str:
    """A request value fit to quote in ``error_description``: RFC 6749 section 5.2 allows
    only %x20-21 / %x23-5B / %x5D-7E there, and echoing unbounded input helps no one."""
    cleaned = "".join(c if c in _DESCRIPTION_CHARS else "?" for c in value[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


class Endpoint(enum.Enum):
    # Token, introspection, revocation: the caller is a client (RFC 6749 section 5.2: a 401
    # names the scheme clients authenticate with).
    CLIENT = "client"
    # Userinfo: a protected resource (RFC 6750 section 3: oauthlib's Bearer challenge stays).
    PROTECTED_RESOURCE = "protected_resource"


# RFC 6749 section 5.1: token responses, and errors about them, are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_response(
    body: str | bytes, status: int, headers: dict[str, str] | None = None, *, endpoint: Endpoint = Endpoint.CLIENT
) -> HttpResponse:
    """A JSON answer of an OAuth endpoint: ``body`` as serialised (by us or oauthlib)."""
    response = HttpResponse(content=body or "", status=status, content_type="application/json")
    # Set here because these endpoints skip CommonMiddleware, which would (keep-alive for all).
    response["Content-Length"] = str(len(response.content))
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401 and endpoint is Endpoint.CLIENT:
        # oauthlib's default is a Bearer challenge, which is for resource servers.
        response["WWW-Authenticate"] = 'Basic realm="oauth", error="invalid_client"'
    return response


def error_response(error: OAuth2Error, *, endpoint: Endpoint = Endpoint.CLIENT) -> HttpResponse:
    """RFC 6749 section 5.2: ``error`` and ``error_description`` with the error's status."""
    return oauth_response(error.json, error.status_code, {**NO_STORE, **error.headers}, endpoint=endpoint)
