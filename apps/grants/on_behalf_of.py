"""``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``: for now only its
Microsoft Entra-style "on-behalf-of" form, an alias of token exchange (a documented
extension, not RFC 7523):

    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
    requested_token_use=on_behalf_of
    assertion=<the user's access token>
    scope=<target scopes>

is decided by the same exchange policies and checks as RFC 8693 (the client needs the
token-exchange grant and a policy), audited as they are; the response has no
``issued_token_type``, as Entra's.

Without ``requested_token_use`` the request is an RFC 7523 section 2.1 JWT authorization
grant, which needs trusted external issuers this IdP does not have yet: once the client is
authenticated it is refused with ``invalid_grant`` (RFC 7523 section 3.1), never read as an
exchange.
"""

from typing import Any, NoReturn

import jwt
from django.http import QueryDict
from django.urls import reverse

from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.exchange import ACCESS_TOKEN_TYPE, ExchangeRequest, evaluate_exchange
from apps.grants.token_exchange import TokenExchangeGrant, exchange_decision
from apps.protocol.errors import InvalidGrant, InvalidRequest
from apps.protocol.params import scope_list
from idp.conf import idp_settings

ON_BEHALF_OF = "on_behalf_of"


class OnBehalfOfGrant(Grant):
    GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    # An alias of token exchange: the same permission, audit event and counters.
    PERMISSION = TokenExchangeGrant.GRANT_TYPE
    SECRET_PARAMETERS = frozenset({"assertion"})
    AUDIT_EVENT = TokenExchangeGrant.AUDIT_EVENT
    EXCHANGE = True

    def decide(self, request: TokenRequest) -> Decision:
        return exchange_decision(evaluate_exchange(client=request.client, params=exchange_request(request.params)))


def exchange_request(params: QueryDict) -> ExchangeRequest:
    if "requested_token_use" not in params:
        refuse_jwt_authorization_grant(params.get("assertion"))
    if params.get("requested_token_use") != ON_BEHALF_OF:
        raise InvalidRequest(description="Only requested_token_use=on_behalf_of is supported.")
    return ExchangeRequest(
        subject_token=params.get("assertion"),
        subject_token_type=ACCESS_TOKEN_TYPE,
        resources=tuple(params.getlist("resource")),
        scopes=tuple(scope_list(params.get("scope")) or ()),
    )


def _our_identifiers() -> set[str]:
    """RFC 7523 section 3.1 (3): the values that identify this authorization server in an
    assertion's ``aud``: its issuer identifier or its token endpoint URL."""
    return {idp_settings.ISSUER, idp_settings.ISSUER.rstrip("/") + reverse("oauth2_provider:token")}


def _audience(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    values = aud if isinstance(aud, list) else [aud]
    return [value for value in values if isinstance(value, str)]


def refuse_jwt_authorization_grant(assertion: str | None) -> NoReturn:
    """RFC 7523 section 2.1 (no ``requested_token_use``): refused, each refusal saying why.
    The assertion is read unverified only to choose the description; nothing is issued."""
    if not assertion:
        raise InvalidRequest(description="Missing assertion parameter (RFC 7523 section 2.1).")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidGrant(description="The assertion is not a JWT (RFC 7523 section 3.1).") from None
    if not _our_identifiers() & set(_audience(claims)):
        raise InvalidGrant(
            description="The assertion's aud does not name this authorization server (RFC 7523 section 3.1)."
        )
    raise InvalidGrant(
        description="This IdP accepts jwt-bearer only in its on-behalf-of form (requested_token_use=on_behalf_of) "
        "for now; JWT authorization grants from external issuers are not accepted yet."
    )
