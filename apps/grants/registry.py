"""The grants /o/token/ serves, by ``grant_type``: the registry.

Registering a :class:`~apps.grants.base.Grant` subclass is all a new grant needs: the
token endpoint (apps/grants/pipeline.py) serves it with client authentication,
parameter checks, issuance, storage, audit and metrics; discovery lists it; its secret
parameters are kept out of error reports.
"""

from apps.grants.base import Grant
from apps.grants.client_credentials import ClientCredentialsGrant
from apps.grants.code_and_refresh import AuthorizationCodeGrant, RefreshTokenGrant
from apps.grants.jwt_bearer import JwtBearerGrant
from apps.grants.token_exchange import TokenExchangeGrant

GRANTS: dict[str, Grant] = {}


def register(grant: type[Grant]) -> type[Grant]:
    """Serve ``grant`` at the token endpoint (usable as a class decorator)."""
    GRANTS[grant.GRANT_TYPE] = grant()
    return grant


def unregister(grant_type: str) -> None:
    GRANTS.pop(grant_type, None)


for _grant in (AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant, TokenExchangeGrant, JwtBearerGrant):
    register(_grant)


def grant_types() -> list[str]:
    """RFC 8414 ``grant_types_supported``, in registration order."""
    return list(GRANTS)
