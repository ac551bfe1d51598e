"""Bearer authentication for the management API: the IdP's own access tokens, verified as
the IdP verifies every token that comes back to it (signature with our published keys,
``typ``, ``iss``, expiry, and the stored row: not revoked), plus ``aud`` = ``idp-admin``.

The verifier is in-process (:func:`admin_caller`); reading the header, the errors and their
challenges are the resource-server toolkit's RFC 6750 implementation
(:mod:`apps.resource_server.bearer`): 401 ``invalid_token``, 403 ``insufficient_scope`` (with
the ``scope`` needed), 400 ``invalid_request``. No session or cookie authentication: nothing
here can be reached by a browser's ambient credentials, so there is no CSRF surface.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import permissions

from apps.management_api.parsers import RequestTooLarge
from apps.protocol.errors import OAuth2Error
from apps.resource_server import bearer
from apps.resource_server.bearer import BearerAuthentication, InsufficientScope, InvalidToken
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from apps.tokens.verification import active_access_token

AUDIENCE = MANAGEMENT_API_AUDIENCE
READ_SCOPE = "idp.admin.read"
WRITE_SCOPE = "idp.admin.write"
REALM = AUDIENCE


@dataclass(frozen=True)
class AdminCaller:
    """``request.user``: the client calling, and the token's ``sub`` (the client itself for
    client credentials, the user for a token obtained on a user's behalf)."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    is_authenticated: bool = True


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a body beyond DATA_UPLOAD_MAX_MEMORY_SIZE when DRF reads it, before
        # the parser's own, smaller bound: the same JSON answer, not Django's HTML 400 page.
        exc = RequestTooLarge()
    return bearer.exception_handler(exc, context)


def admin_caller(token: str) -> AdminCaller:
    """The in-process verifier: a token of ours for ``idp-admin``, from an active client,
    obtained with client credentials; raises :class:`InvalidToken`."""
    try:
        claims, row = active_access_token(token, what="The access token")
    except OAuth2Error as error:
        raise InvalidToken(error.description) from None
    audiences = claims.get("aud")
    if AUDIENCE not in (audiences if isinstance(audiences, list) else [audiences]):
        raise InvalidToken(f"The access token is not for this API (its aud must include {AUDIENCE}).")
    # Automation only: a user's token, even from a client granted these scopes, would give
    # every user who signs in to that client the operators' powers.
    if row.user is not None:
        raise InvalidToken("The management API takes client-credentials tokens only.")
    # Disabling a client cuts off the tokens it already holds, as token exchange does.
    if not row.application.is_active:
        raise InvalidToken("The access token's client is disabled.")
    return AdminCaller(
        client_id=str(claims.get("client_id", "")),
        subject=str(claims["sub"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
    )


class IdpAccessTokenAuthentication(BearerAuthentication):
    """``Authorization: Bearer <JWT>`` (RFC 6750 section 2.1) with a token of ours for ``idp-admin``."""

    realm = REALM

    def verify(self, token: str) -> AdminCaller:
        return admin_caller(token)


class AdminScopes(permissions.BasePermission):
    """``idp.admin.read`` for safe methods, ``idp.admin.write`` for everything else."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, AdminCaller):
            return False  # DRF answers 401 with the authentication's challenge
        required = READ_SCOPE if request.method in permissions.SAFE_METHODS else WRITE_SCOPE
        if required not in request.user.scopes:
            raise InsufficientScope([required], realm=REALM)
        return True


class IdpAccessTokenScheme(OpenApiAuthenticationExtension):
    """Documents the authentication as OAuth 2.0 client credentials at our token endpoint,
    with the scope each operation needs."""

    target_class = IdpAccessTokenAuthentication
    name = "idpAccessToken"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        scopes = {
            READ_SCOPE: "Read the configuration, people's accounts, consents, tokens, keys and the audit trail.",
            WRITE_SCOPE: "Change the configuration; act on accounts, consents, tokens and keys.",
        }
        return {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes}}}

    def get_security_requirement(self, auto_schema) -> dict[str, list[str]]:
        return {self.name: [READ_SCOPE if auto_schema.method in permissions.SAFE_METHODS else WRITE_SCOPE]}
