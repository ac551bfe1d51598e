"""Microsoft Entra-style "on-behalf-of" as an alias of token exchange.

    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
    requested_token_use=on_behalf_of
    assertion=<the user's access token>
    scope=<target scopes>

is decided by the same exchange policies and checks as RFC 8693 (the client needs the
token-exchange grant and a policy); the response has no ``issued_token_type``, as Entra's.
"""

from typing import Any

from django.http import HttpRequest, QueryDict

from apps.oauth.errors import InvalidRequest
from apps.oauth.grants.token_exchange import exchange_token
from apps.oauth.params import scope_list
from apps.oauth.services.exchange import ACCESS_TOKEN_TYPE, ExchangeRequest

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def exchange_request(params: QueryDict) -> ExchangeRequest:
    if params.get("requested_token_use") != "on_behalf_of":
        raise InvalidRequest(description="Only requested_token_use=on_behalf_of is supported.")
    return ExchangeRequest(
        subject_token=params.get("assertion"),
        subject_token_type=ACCESS_TOKEN_TYPE,
        resources=tuple(params.getlist("resource")),
        scopes=tuple(scope_list(params.get("scope")) or ()),
    )


def token_response(request: HttpRequest) -> dict[str, Any]:
    _exchange, body = exchange_token(request, read=exchange_request, grant_type=GRANT_TYPE)
    return body
