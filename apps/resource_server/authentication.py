"""DRF authentication for services protected by the IdP: RFC 9068 JWT access tokens checked
locally against the IdP's JWKS, the verifier plugged into the toolkit's one RFC 6750
implementation (:mod:`apps.resource_server.bearer`), with DPoP-bound tokens (RFC 9449,
:mod:`apps.resource_server.dpop`) accepted beside Bearer ones.

Settings, in the service's Django settings::

    RESOURCE_SERVER = {
        "ISSUER": "https://idp.example.com",          # matched exactly
        "AUDIENCE": "discount",                        # this service's API resource
        "JWKS_URI": "https://idp.example.com/.well-known/jwks.json",
        "LEEWAY_SECONDS": 30,                          # clock skew for exp / nbf / iat
        "REQUIRE_DPOP": False,                         # True: only DPoP-bound tokens
        "URL": "https://discount.example.com",         # optional: the external URL (DPoP htu)
    }
"""

from dataclasses import dataclass, field
from typing import Any

import jwt
from django.conf import settings

from apps.resource_server.bearer import InvalidToken
from apps.resource_server.dpop import DPoPAuthentication
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
    def actors(self) -> list[str | None]:
        """The delegation chain, most recent actor first (RFC 8693 section 4.1); None for an
        actor named without ``sub`` (the RFC does not require one)."""
        chain: list[str | None] = []
        act = self.act
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
    """Check one token as RFC 9068 section 4 asks; raises :class:`InvalidToken`."""
    header = unverified_header(token)
    if header is None:
        raise InvalidToken("Malformed token.")
    if header.get("typ") not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("Not an access token (typ must be at+jwt).")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("Token algorithm not accepted.")
    key = jwks.key_for(header.get("kid"))  # jku, x5u and embedded jwk headers are ignored
    if key is None:
        raise InvalidToken("Unknown signing key.")
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
        raise InvalidToken("Token expired.") from None
    except jwt.PyJWTError as error:
        raise InvalidToken(f"Token rejected: {error}") from None
    return TokenUser(
        sub=claims["sub"],
        client_id=claims["client_id"],
        scopes=frozenset(str(claims.get("scope", "")).split()),
        act=claims.get("act") if isinstance(claims.get("act"), dict) else None,
        claims=claims,
    )


class JwtAccessTokenAuthentication(DPoPAuthentication):
    """``Authorization: Bearer <token>`` (RFC 6750 section 2.1), or ``Authorization: DPoP
    <token>`` with its proof (RFC 9449 section 7), with an RFC 9068 access token for this
    service (``RESOURCE_SERVER``); ``request.auth`` is its claims. The challenges name realm
    ``api``."""

    realm = "api"

    def verify(self, token: str) -> TokenUser:
        config = _config()
        return validate_access_token(
            token,
            issuer=config["ISSUER"],
            audience=config["AUDIENCE"],
            jwks=jwks_for(config["JWKS_URI"]),
            leeway=config["LEEWAY_SECONDS"],
        )

    def claims_of(self, principal: TokenUser) -> dict[str, Any]:
        return principal.claims

    def auth_for(self, principal: TokenUser, token: str) -> dict[str, Any]:
        return principal.claims
