"""``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``: the RFC 7523 JWT bearer grant,
and the on-behalf-of form kept as a documented extension (apps/grants/on_behalf_of.py).

One ``grant_type``, two grants: a request with ``requested_token_use`` is on-behalf-of (an
alias of token exchange, decided by exchange policies); without it, it is RFC 7523 section
2.1, served here:

    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
    assertion=<a JWT whose aud is this IdP>
    scope=<scopes of one of the client's APIs>   (optional, as for client credentials)

The assertion is either

- a token of a trusted issuer (a Kubernetes service-account token, a CI system's OIDC
  token), verified with that issuer's keys and mapped to one of our clients
  (apps/grants/federation.py); its ``aud`` must name this IdP (issuer or token endpoint,
  RFC 7523 section 3 item 3), whatever audience the issuer is registered with; or
- signed by one of a client's registered keys, with ``iss`` and ``sub`` that client's id,
  checked as a private_key_jwt assertion is (lifetime of five minutes at most, each ``jti``
  once).

The token is the mapped client's, as client credentials would give it (the client must be
allowed this grant; its scopes, its APIs), and never outlives the assertion. Client
authentication is optional (RFC 7523 section 3.1): the assertion is the credential. A
request that also authenticates a client must name the same one. A mapping to a user is
refused: a user's token from another issuer goes through token exchange, under a policy.

Refusals are ``invalid_grant`` (RFC 7523 section 3.1), ``invalid_request`` for a missing
assertion, ``unauthorized_client`` for a client not allowed the grant; all audited.
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils import timezone

from apps.clients.authentication import (
    CLIENT_ASSERTION_TYPE,
    PrivateKeyJwt,
    assertion_audiences,
    authenticate_client,
    claimed_method,
)
from apps.grants.base import Authenticated, Decision, Grant, TokenRequest
from apps.grants.client_credentials import client_credentials_plan
from apps.grants.federation import trusted_issuer_named_by, unverified_parts, verify_external_token
from apps.grants.on_behalf_of import OnBehalfOfGrant
from apps.oauth.models import Application, GrantType
from apps.protocol.errors import InvalidClient, InvalidGrant, InvalidRequest, shown
from apps.protocol.params import scope_list
from apps.resource_server.jose import unverified_claims, unverified_header


class _Asserted:
    """What the assertion established, from authentication to the decision."""

    def __init__(self, client: Application, expires_at: int | None, details: dict[str, Any]) -> None:
        self.client, self.expires_at, self.details = client, expires_at, details


class JwtAuthorizationGrant(Grant):
    GRANT_TYPE = GrantType.JWT_BEARER.value
    SECRET_PARAMETERS = frozenset({"assertion"})

    def authenticate(self, request: HttpRequest) -> Authenticated:
        method = claimed_method(request)
        # A client that authenticates does so first: a wrong secret spends no assertion.
        authenticated = authenticate_client(request) if method is not None and not method.PUBLIC else None
        asserted = asserted_client(request.POST.get("assertion"))
        if authenticated is not None:
            client = authenticated
            if client.pk != asserted.client.pk:
                raise InvalidGrant(description="The assertion names another client than the one authenticated.")
        else:
            named = request.POST.get("client_id")
            if named is not None and named != asserted.client.client_id:
                raise InvalidGrant(description="The assertion names another client than client_id.")
            client = asserted.client
        return Authenticated(client, credential=asserted)

    def audit_request_details(self, params: QueryDict) -> dict[str, Any]:
        """Who the assertion claims to be from, unverified (a refusal says which issuer and
        key were named): never the assertion itself."""
        claims = unverified_claims(params.get("assertion") or "") or {}
        header = unverified_header(params.get("assertion") or "") or {}
        return {
            name: shown(str(value), 255)
            for name, value in (("assertion_iss", claims.get("iss")), ("assertion_kid", header.get("kid")))
            if value is not None
        }

    def decide(self, request: TokenRequest) -> Decision:
        asserted = request.credential
        assert isinstance(asserted, _Asserted)  # authenticate() established it
        plan = client_credentials_plan(
            request.client,
            requested_scopes=scope_list(request.params.get("scope")),
            resource_uris=request.params.getlist("resource"),
        )
        if asserted.expires_at is not None:
            not_after = datetime.fromtimestamp(asserted.expires_at, tz=UTC)
            remaining = int((not_after - timezone.now()).total_seconds())
            if remaining <= 0:  # within the clock skew allowed, but no token can be shorter
                raise InvalidGrant(description="assertion has expired.")
            plan = replace(plan, lifetime=min(plan.lifetime, remaining), not_after=not_after)
        return Decision(plan=plan, audit_subject=request.client.client_id, audit_details=asserted.details)


def asserted_client(assertion: str | None) -> _Asserted:
    """The client an RFC 7523 assertion names, once verified; else the grant's error."""
    if not assertion:
        raise InvalidRequest(description="Missing assertion parameter (RFC 7523 section 2.1).")
    parts = unverified_parts(assertion)
    if parts is None:
        raise InvalidGrant(description="The assertion is not a JWT (RFC 7523 section 3.1).")
    issuer = trusted_issuer_named_by(assertion)
    if issuer is not None:
        identity = verify_external_token(
            assertion, issuer=issuer, audiences=assertion_audiences(), error=InvalidGrant, what="assertion"
        )
        if identity.client is None:
            raise InvalidGrant(
                description="The assertion maps to a user: a user's token comes from token exchange, under an "
                "exchange policy that names the issuer."
            )
        if identity.client.client_type != Application.CLIENT_CONFIDENTIAL:
            raise InvalidGrant(description="The assertion maps to a public client.")
        return _Asserted(identity.client, identity.expires_at, identity.audit_details())
    claims = parts[1]
    if not isinstance(claims.get("iss"), str) or claims.get("iss") != claims.get("sub"):
        raise InvalidGrant(
            description="The assertion's iss is neither a trusted issuer nor a client signing for itself "
            "(iss and sub its client_id)."
        )
    try:
        # A client's own assertion: the private_key_jwt rules (its registered keys, aud this
        # IdP, five minutes at most, each jti once), answered as this grant's error.
        client = PrivateKeyJwt().authenticate(
            "", {"client_assertion": assertion, "client_assertion_type": CLIENT_ASSERTION_TYPE}
        )
    except InvalidClient as refused:
        raise InvalidGrant(description=refused.description or "The assertion is not acceptable.") from None
    return _Asserted(client, None, {"signed_by": "client"})


class JwtBearerGrant(Grant):
    """The ``grant_type`` as registered: picks the grant a request is (:meth:`variant`)."""

    GRANT_TYPE = GrantType.JWT_BEARER.value
    SECRET_PARAMETERS = frozenset({"assertion"})
    _on_behalf_of = OnBehalfOfGrant()
    _rfc7523 = JwtAuthorizationGrant()

    def variant(self, params: QueryDict) -> Grant:
        return self._on_behalf_of if "requested_token_use" in params else self._rfc7523

    def decide(self, request: TokenRequest) -> Decision:
        return self.variant(request.params).decide(request)
