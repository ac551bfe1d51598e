"""Authentication for the management API: the IdP's own access tokens, verified as the IdP
verifies every token that comes back to it (signature with our published keys, ``typ``,
``iss``, expiry, and the stored row: not revoked), plus ``aud`` = ``idp-admin``.

The verifier is in-process (:func:`admin_caller`); reading the header, the errors and their
challenges are the resource-server toolkit's RFC 6750 and RFC 9449 implementation
(:mod:`apps.resource_server.bearer`, :class:`apps.resource_server.dpop.DPoPAuthentication`):
401 ``invalid_token``, 403 ``insufficient_scope`` (with the ``scope`` needed), 400
``invalid_request``, 401 ``invalid_dpop_proof``. A token bound to a DPoP key (``cnf.jkt``) is
accepted only as ``Authorization: DPoP`` with a proof of that key, checked as the IdP checks
proofs at userinfo (:func:`apps.protocol.dpop.resource_request_proof`: ``htu`` from the
issuer, each proof once across processes); a token that is not bound is accepted as Bearer,
as before. No session or cookie authentication: nothing here can be reached by a browser's
ambient credentials, so there is no CSRF surface.
"""

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import permissions
from rest_framework.request import Request

from apps.management_api.parsers import RequestTooLarge
from apps.protocol import dpop
from apps.protocol.errors import InvalidDPoPProof as RefusedProof
from apps.protocol.errors import OAuth2Error
from apps.resource_server import bearer
from apps.resource_server.bearer import InsufficientScope, InvalidToken
from apps.resource_server.dpop import DPoPAuthentication, InvalidDPoPProof, bound_key
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from apps.tokens.verification import active_access_token
from idp.conf import idp_settings

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
    # The DPoP key the token is bound to (its signed cnf.jkt, RFC 9449 section 6.1; the stored
    # row's jkt is written from the same claim), or None for a Bearer token.
    jkt: str | None = None
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
        jkt=bound_key(claims),
    )


class IdpAccessTokenAuthentication(DPoPAuthentication):
    """``Authorization: Bearer <JWT>`` (RFC 6750 section 2.1) with a token of ours for
    ``idp-admin`` that is not DPoP-bound, or ``Authorization: DPoP <JWT>`` with a ``DPoP``
    proof of the key it is bound to (RFC 9449 section 7.1). A bound token sent as Bearer is
    ``invalid_token`` (section 7.2): a copy of it is worth nothing without the key."""

    realm = REALM

    @staticmethod
    def dpop_settings() -> dict[str, Any]:
        # The IdP's own values, never a service's RESOURCE_SERVER (check_proof reads the same
        # ones through apps.protocol.dpop). Bearer stays accepted for tokens that are not
        # bound: with ApiResource.require_dpop on idp-admin the token endpoint issues none.
        return {
            "REQUIRE_DPOP": False,
            "URL": idp_settings.ISSUER,
            "DPOP_PROOF_MAX_AGE_SECONDS": idp_settings.DPOP_PROOF_MAX_AGE_SECONDS,
            "DPOP_PROOF_MAX_FUTURE_SECONDS": idp_settings.DPOP_PROOF_MAX_FUTURE_SECONDS,
        }

    def verify(self, token: str) -> AdminCaller:
        return admin_caller(token)

    def claims_of(self, principal: AdminCaller) -> Mapping[str, Any]:
        return {"cnf": {"jkt": principal.jkt}} if principal.jkt else {}

    def check_proof(self, request: Request, *, token: str, bound_to: str, config: Mapping[str, Any]) -> None:
        """The proof as the IdP checks it for its other protected resource (userinfo):
        ``htu`` is the issuer's URL with the request's path (never the ``Host`` header, which
        a proxy may rewrite), and each proof is accepted once across all processes (the
        database, or Redis), where the toolkit's default cache would see only this process.
        Then the key: the token must be bound to the proof's."""
        try:
            proof = dpop.resource_request_proof(request._request, token)
        except RefusedProof as error:
            raise InvalidDPoPProof(error.description) from None
        if not hmac.compare_digest(proof.jkt, bound_to):
            # RFC 9449 section 7.1: a sound proof, but the token is not this key's.
            raise InvalidToken("The token is bound to another key than the proof's.")


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
        return {
            "type": "oauth2",
            "description": (
                "A token bound to a DPoP key (RFC 9449: its token_type is DPoP) is sent as "
                "`Authorization: DPoP <token>` with a `DPoP` proof of that key for each request, never as Bearer."
            ),
            "flows": {"clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes}},
        }

    def get_security_requirement(self, auto_schema) -> dict[str, list[str]]:
        return {self.name: [READ_SCOPE if auto_schema.method in permissions.SAFE_METHODS else WRITE_SCOPE]}
