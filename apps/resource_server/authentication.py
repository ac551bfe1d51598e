"""DRF authentication for services protected by the IdP: RFC 9068 JWT access tokens checked
locally against the IdP's JWKS.

Settings, in the service's Django settings::

    RESOURCE_SERVER = {
        "ISSUER": "https://idp.example.com",          # matched exactly
        "AUDIENCE": "discount",                        # this service's API resource
        "JWKS_URI": "https://idp.example.com/.well-known/jwks.json",
        "LEEWAY_SECONDS": 30,                          # clock skew for exp / nbf / iat
    }
"""

from dataclasses import dataclass, field
from typing import Any

import jwt
from django.conf import settings
from rest_framework import authentication, exceptions

from apps.resource_server.jose import unverified_header
from apps.resource_server.jwks import JwksCache, http_fetch

ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}  # RFC 9068 section 2.1
ALGORITHMS = {"RS256", "ES256"}  # asymmetric only: no "none", no HS* (RFC 8725 3.1)
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"]


@dataclass(frozen=True)
class TokenUser:
    """``request.user`` for a request with a valid access token."""

    sub: str
    client_id: str
    scopes: frozenset[str]
    act: dict[str, Any] | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    is_authenticated: bool = True

    @property
    def actors(self) -> list[str]:
        """The delegation chain, most recent actor first (RFC 8693 section 4.1)."""
        chain, act = [], self.act
        while isinstance(act, dict):
            chain.append(act.get("sub"))
            act = act.get("act")
        return chain


def _config() -> dict[str, Any]:
    return {"LEEWAY_SECONDS": 30, **getattr(settings, "RESOURCE_SERVER", {})}


_jwks: dict[str, JwksCache] = {}


def jwks_for(uri: str) -> JwksCache:
    if uri not in _jwks:
        _jwks[uri] = JwksCache(http_fetch(uri))
    return _jwks[uri]


def validate_access_token(token: str, *, issuer: str, audience: str, jwks: JwksCache, leeway: float = 30) -> TokenUser:
    """Check one token as RFC 9068 section 4 asks; raises ``AuthenticationFailed``."""
    header = unverified_header(token)
    if header is None:
        raise exceptions.AuthenticationFailed("Malformed token.")
    if header.get("typ") not in ACCESS_TOKEN_TYPES:
        raise exceptions.AuthenticationFailed("Not an access token (typ must be at+jwt).")
    if header.get("alg") not in ALGORITHMS:
        raise exceptions.AuthenticationFailed("Token algorithm not accepted.")
    key = jwks.key_for(header.get("kid"))  # jku, x5u and embedded jwk headers are ignored
    if key is None:
        raise exceptions.AuthenticationFailed("Unknown signing key.")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],  # the key's algorithm, not the header's
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise exceptions.AuthenticationFailed("Token expired.") from None
    except jwt.PyJWTError as error:
        raise exceptions.AuthenticationFailed(f"Token rejected: {error}") from None
    return TokenUser(
        sub=claims["sub"],
        client_id=claims["client_id"],
        scopes=frozenset(str(claims.get("scope", "")).split()),
        act=claims.get("act") if isinstance(claims.get("act"), dict) else None,
        claims=claims,
    )


class JwtAccessTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` only (RFC 6750 2.1): a token in the query string is refused."""

    def authenticate(self, request):
        if "access_token" in request.query_params:
            raise exceptions.AuthenticationFailed("Send the access token in the Authorization header.")
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        config = _config()
        user = validate_access_token(
            parts[1].decode("ascii", "replace"),
            issuer=config["ISSUER"],
            audience=config["AUDIENCE"],
            jwks=jwks_for(config["JWKS_URI"]),
            leeway=config["LEEWAY_SECONDS"],
        )
        return user, user.claims

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
