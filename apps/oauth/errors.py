"""One exception class per OAuth error code (STYLE.md 4).

They are oauthlib ``OAuth2Error`` subclasses, so oauthlib's endpoints render them as
RFC 6749 section 5.2 JSON (``error``, ``error_description``) with the right status, and
our own views render them with :func:`error_response`, the one other place that does.
"""

from django.http import JsonResponse
from oauthlib.oauth2.rfc6749 import errors as _oauthlib

OAuth2Error = _oauthlib.OAuth2Error

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


class InvalidTarget(OAuth2Error):
    """RFC 8707 section 2 / RFC 8693 section 2.2.2: the requested resource or audience is
    invalid, unknown, or not one this client may get a token for."""

    error = "invalid_target"
    status_code = 400


_DESCRIPTION_CHARS = frozenset(chr(c) for c in [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)])


def shown(value: str, limit: int = 100) -> str:
    """A request value fit to quote in ``error_description``: RFC 6749 section 5.2 allows
    only %x20-21 / %x23-5B / %x5D-7E there, and echoing unbounded input helps no one."""
    cleaned = "".join(c if c in _DESCRIPTION_CHARS else "?" for c in value[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def error_response(error: OAuth2Error) -> JsonResponse:
    response = JsonResponse(dict(error.twotuples), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response
