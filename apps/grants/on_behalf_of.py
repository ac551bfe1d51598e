"""``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with ``requested_token_use``:
the Microsoft Entra-style "on-behalf-of" form, an alias of token exchange (a documented
extension, not RFC 7523; apps/grants/jwt_bearer.py serves RFC 7523 and picks this grant
for a request that has ``requested_token_use``):

    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
    requested_token_use=on_behalf_of
    assertion=<the user's access token>
    scope=<target scopes>

is decided by the same exchange policies and checks as RFC 8693 (the client needs the
token-exchange grant and a policy), audited as they are; the response has no
``issued_token_type``, as Entra's.
"""

from django.http import QueryDict

from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.exchange import ACCESS_TOKEN_TYPE, ExchangeRequest, evaluate_exchange
from apps.grants.token_exchange import TokenExchangeGrant, exchange_decision
from apps.protocol.errors import InvalidRequest
from apps.protocol.params import scope_list

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
    if params.get("requested_token_use") != ON_BEHALF_OF:
        raise InvalidRequest(description="Only requested_token_use=on_behalf_of is supported.")
    return ExchangeRequest(
        subject_token=params.get("assertion"),
        subject_token_type=ACCESS_TOKEN_TYPE,
        resources=tuple(params.getlist("resource")),
        scopes=tuple(scope_list(params.get("scope")) or ()),
    )
