"""JWT introspection responses (RFC 9701): the RFC 7662 answer, signed by us, for a resource
server that asks for it with ``Accept: application/token-introspection+jwt`` (for instance
to keep a verifiable record of why it accepted a token). Plain JSON stays the default."""

import time
from typing import Any

import jwt

from apps.keys.services import get_signing_key
from apps.oauth.models import Application
from idp.conf import idp_settings

# RFC 9701 section 5 (the response's Content-Type) and section 4 (its ``typ`` header).
JWT_RESPONSE_TYPE = "application/token-introspection+jwt"
JWT_TYPE = "token-introspection+jwt"
# What else a caller may name in Accept and take JSON from.
_JSON_RANGES = ("application/json", "application/*", "*/*")


def _quality(parameters: list[str]) -> float:
    """A media range's ``q`` (RFC 9110 section 12.4.2), 1 when absent or unreadable."""
    for parameter in parameters:
        name, _sep, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 1.0
    return 1.0


def prefers_jwt(accept: str) -> bool:
    """Whether the ``Accept`` header asks for the JWT form (RFC 9701 section 4): it names
    ``application/token-introspection+jwt`` with a ``q`` above 0 and at least as high as any
    range JSON would satisfy. Only the explicit type counts: ``*/*`` gets JSON."""
    jwt_quality, json_quality = 0.0, 0.0
    for media_range in accept.split(","):
        media_type, *parameters = media_range.split(";")
        media_type = media_type.strip().lower()
        if media_type == JWT_RESPONSE_TYPE:
            jwt_quality = max(jwt_quality, _quality(parameters))
        elif media_type in _JSON_RANGES:
            json_quality = max(json_quality, _quality(parameters))
    return jwt_quality > 0 and jwt_quality >= json_quality


def signing_algorithm(caller: Application) -> str:
    """An API gets the JWT signed as its own access tokens are, with the algorithm it
    verifies already; any other caller with the default."""
    resource = caller.resource if caller.resource_id is not None else None
    return resource.signing_algorithm if resource is not None else idp_settings.DEFAULT_SIGNING_ALGORITHM


def introspection_jwt(*, response: dict[str, Any], caller: Application) -> str:
    """RFC 9701 section 5: ``iss``, ``aud`` (the resource server that asked), ``iat`` and
    the RFC 7662 response as ``token_introspection``, signed with our active key."""
    key = get_signing_key(signing_algorithm(caller))
    claims = {
        "iss": idp_settings.ISSUER,
        "aud": caller.client_id,
        "iat": int(time.time()),
        "token_introspection": response,
    }
    headers = {"alg": key.algorithm, "typ": JWT_TYPE, "kid": key.kid}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)
