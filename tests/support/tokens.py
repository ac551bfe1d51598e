"""Token types (RFC 8693 section 3), verifying our tokens as a resource server does, and
counting what issuing stores."""

import jwt
from django.test import Client

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken, Grant, RefreshToken
from tests.support.http import ISSUER, JWKS_URL

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


def jwks(client: Client) -> jwt.PyJWKSet:
    response = client.get(JWKS_URL)
    assert response.status_code == 200
    return jwt.PyJWKSet.from_dict(response.json())


def verify(client: Client, token: str, audience: str, **options) -> dict:
    """Verify a token the way a resource server does: JWKS key by kid, alg, iss, aud."""
    header = jwt.get_unverified_header(token)
    key = jwks(client)[header["kid"]]
    return jwt.decode(
        token,
        key.key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"], **options},
    )


def row_counts() -> dict[str, int]:
    """What a refused request must never add to (audit events aside)."""
    return {
        "access_tokens": AccessToken.objects.count(),
        "refresh_tokens": RefreshToken.objects.count(),
        "grants": Grant.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }
