"""Verifying tokens this IdP issued, when they come back to it (token exchange).

A token is accepted only if its signature verifies with one of our published keys, its
header and claims are what we issue (RFC 8725 section 3), and it is still stored: not
revoked (revocation deletes the row and its exchanged descendants) and not expired.
"""

import hashlib
import uuid
from typing import Any

import jwt
from django.utils import timezone

from apps.oauth.errors import InvalidRequest
from apps.oauth.keys import published_key
from apps.oauth.models import AccessToken, IDToken
from apps.oauth.tokens import ACCESS_TOKEN_JWT_TYPE
from apps.resources.models import ApiResource
from idp.conf import idp_settings

MAX_TOKEN_LENGTH = 8192


def _reject(what: str, why: str) -> InvalidRequest:
    # RFC 8693 section 2.2.2: an invalid or unacceptable subject/actor token is invalid_request.
    return InvalidRequest(description=f"{what} is not acceptable: {why}.")


def verify_jwt(token: str, *, what: str, typ: str | None) -> dict[str, Any]:
    """Signature, algorithm, ``typ``, ``iss`` and ``exp`` of one of our JWTs; returns its claims."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _reject(what, "empty or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _reject(what, "not a JWT") from None
    if typ is not None and header.get("typ") != typ:
        raise _reject(what, f"typ must be {typ}")
    key = published_key(header.get("kid"))  # jku, x5u and embedded jwk are never followed
    if key is None:
        raise _reject(what, "unknown signing key")
    try:
        # The algorithm comes from our key, never from the token header: no "none", no HS256
        # signed with a public key.
        return jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            issuer=idp_settings.ISSUER,
            options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _reject(what, "expired") from None
    except jwt.InvalidIssuerError:
        raise _reject(what, "issued by someone else") from None
    except jwt.PyJWTError:
        raise _reject(what, "signature or claims invalid") from None


def active_access_token(token: str, *, what: str) -> tuple[dict[str, Any], AccessToken]:
    """A verified, stored, unexpired access token of ours, with its row."""
    claims = verify_jwt(token, what=what, typ=ACCESS_TOKEN_JWT_TYPE)
    row = (
        AccessToken.objects.select_related("user", "application")
        .filter(token_checksum=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
    if row is None and _self_contained(claims):
        raise _reject(what, "self-contained (its API does not store tokens), so it cannot be exchanged")
    if row is None or row.expires <= timezone.now():
        raise _reject(what, "revoked or expired")
    return claims, row


def _self_contained(claims: dict[str, Any]) -> bool:
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    resources = ApiResource.objects.filter(audience__in=[a for a in audiences if isinstance(a, str)])
    return bool(audiences) and len(resources) == len(audiences) and not any(r.store_tokens for r in resources)


def active_id_token(token: str, *, what: str) -> tuple[dict[str, Any], IDToken]:
    """A verified, stored, unexpired ID token of ours, with its row."""
    claims = verify_jwt(token, what=what, typ=None)
    try:
        jti = uuid.UUID(str(claims.get("jti")))
    except ValueError:
        raise _reject(what, "no valid jti") from None
    row = IDToken.objects.select_related("user").filter(jti=jti).first()
    if row is None or row.expires <= timezone.now():
        raise _reject(what, "revoked or expired")
    return claims, row
