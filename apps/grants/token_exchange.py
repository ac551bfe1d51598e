"""OAuth 2.0 Token Exchange, RFC 8693, at /o/token/.

A service holding a user's token (issued for the service's own API) exchanges it for a
narrower token to call the next API on the user's behalf. The decision is made by
apps/grants/exchange.py; this grant reads the request into it. The pipeline issues
the token, writes its lineage row and audit event together, and audits refusals too.

With ``requested_token_type`` ``urn:ietf:params:oauth:token-type:txn_token`` the same grant
is the Transaction Tokens draft's profile: apps/grants/transaction_token.py decides.
"""

from typing import Any

from django.http import QueryDict

from apps.audit import services as audit
from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.exchange import Exchange, ExchangeRequest, evaluate_exchange, sign_in_claims
from apps.grants.transaction_token import TXN_TOKEN_TYPE, transaction_token_decision
from apps.oauth.models import GrantType
from apps.protocol.params import scope_list


class TokenExchangeGrant(Grant):
    GRANT_TYPE = GrantType.TOKEN_EXCHANGE.value
    SECRET_PARAMETERS = frozenset({"subject_token", "actor_token"})
    AUDIT_EVENT = audit.EXCHANGE
    EXCHANGE = True

    def read(self, params: QueryDict) -> ExchangeRequest:
        """The RFC 8693 section 2.1 parameters (``resource`` is RFC 8707's)."""
        return ExchangeRequest(
            subject_token=params.get("subject_token"),
            subject_token_type=params.get("subject_token_type"),
            actor_token=params.get("actor_token"),
            actor_token_type=params.get("actor_token_type"),
            requested_token_type=params.get("requested_token_type"),
            audiences=tuple(params.getlist("audience")),
            resources=tuple(params.getlist("resource")),
            scopes=tuple(scope_list(params.get("scope")) or ()),
        )

    def audit_request_details(self, params: QueryDict) -> dict[str, Any]:
        requested = params.get("requested_token_type")
        return {"requested_token_type": requested[:100]} if requested else {}

    def decide(self, request: TokenRequest) -> Decision:
        if request.params.get("requested_token_type") == TXN_TOKEN_TYPE:
            return transaction_token_decision(client=request.client, params=request.params)
        exchange = evaluate_exchange(client=request.client, params=self.read(request.params))
        decision = exchange_decision(exchange)
        # RFC 8693 section 2.2.1
        decision.response["issued_token_type"] = exchange.issued_token_type
        return decision


def exchange_decision(exchange: Exchange) -> Decision:
    """An exchange's token: the subject token's sub, its sign-in's ``acr`` and ``auth_time``,
    the acting chain in ``act``, and the subject token as its parent.

    DPoP (RFC 9449), the rule for every exchange (on-behalf-of too): the new token is bound to
    the key of the *calling service's* proof at this request (the pipeline adds ``cnf``), or
    to none without one; the subject token's ``cnf`` is never copied. A DPoP-bound subject
    token needs no proof of its own key here: the service it was presented to checked that
    proof at the previous hop, and is now the holder the exchange policy trusts with it."""
    assert exchange.plan is not None  # the checks ran: limit_lifetime set it
    extra_claims = sign_in_claims(exchange.subject_claims)
    if exchange.act:
        extra_claims["act"] = exchange.act
    return Decision(
        plan=exchange.plan,
        user=exchange.user,
        subject=exchange.subject,
        extra_claims=extra_claims or None,
        parent=exchange.subject_row,
        audit_subject=exchange.subject,
        audit_details={
            "act": exchange.act,
            "policy": exchange.policy.pk if exchange.policy else None,
            **(exchange.external.audit_details() if exchange.external else {}),
        },
    )
