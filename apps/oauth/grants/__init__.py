"""The grants /o/token/ serves directly, one module each, by ``grant_type``.

Service-to-service grants are served here without oauthlib: they are paid on every hop of
every request in the system. The browser-born grants (authorization code, refresh token)
go through DOT and oauthlib (apps/oauth/server.py).
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from apps.oauth.grants import client_credentials, on_behalf_of, token_exchange

GRANTS: dict[str, Callable[[HttpRequest], dict[str, Any]]] = {
    client_credentials.GRANT_TYPE: client_credentials.token_response,
    token_exchange.GRANT_TYPE: token_exchange.token_response,
    on_behalf_of.GRANT_TYPE: on_behalf_of.token_response,
}
