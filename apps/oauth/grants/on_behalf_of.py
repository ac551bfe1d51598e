"""Microsoft Entra-style "on-behalf-of" as an alias of token exchange.

    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
    requested_token_use=on_behalf_of
    assertion=<the user's access token>
    scope=<target scopes>

is decided by the same exchange policies and checks as RFC 8693 (the client needs the
token-exchange grant and a policy); the response has no ``issued_token_type``, as Entra's.
"""

from apps.oauth.errors import InvalidRequest, UnauthorizedClient
from apps.oauth.grants.token_exchange import TokenExchangeGrant
from apps.oauth.models import GrantType
from apps.oauth.services.exchange import ACCESS_TOKEN_TYPE, ExchangeRequest
from apps.oauth.validators import request_value, request_values

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OnBehalfOfGrant(TokenExchangeGrant):
    grant_type = GRANT_TYPE

    def exchange_request(self, request) -> ExchangeRequest:
        if request_value(request, "requested_token_use") != "on_behalf_of":
            raise InvalidRequest(description="Only requested_token_use=on_behalf_of is supported.")
        return ExchangeRequest(
            subject_token=request_value(request, "assertion"),
            subject_token_type=ACCESS_TOKEN_TYPE,
            resources=tuple(request_values(request, "resource")),
            scopes=tuple(request.scopes or ()),
        )

    def validate_grant_type(self, request) -> None:
        # The same permission as RFC 8693 exchange: this is only another spelling of it.
        if GrantType.TOKEN_EXCHANGE not in request.client.allowed_grant_types:
            raise UnauthorizedClient(request=request)

    def response_body(self, token, request) -> dict:
        return dict(token)
