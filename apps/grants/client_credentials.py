"""Client credentials, RFC 6749 section 4.4: a service's own token for an API, no user.

This is the hottest request of the whole system, paid on every service-to-service call:
with the client's configuration cached it costs one query, plus the INSERT of the token's
row (unless the API chose self-contained tokens, ApiResource.store_tokens).
"""

from collections.abc import Sequence

from apps.grants.base import Decision, Grant, TokenRequest
from apps.oauth.models import Application, GrantType
from apps.protocol.errors import InvalidScope
from apps.protocol.params import scope_list
from apps.resources.services import TokenPlan, default_scopes, plan_token


class ClientCredentialsGrant(Grant):
    GRANT_TYPE = GrantType.CLIENT_CREDENTIALS.value
    # Not audited: one event per service call would drown the trail; the tokens are counted
    # (idp_tokens_issued) and, when the API stores them, listed in the admin.
    AUDITED = False

    def decide(self, request: TokenRequest) -> Decision:
        plan = client_credentials_plan(
            request.client,
            requested_scopes=scope_list(request.params.get("scope")),
            resource_uris=request.params.getlist("resource"),
        )
        return Decision(plan=plan)


def client_credentials_plan(
    client: Application, *, requested_scopes: Sequence[str] | None, resource_uris: Sequence[str] = ()
) -> TokenPlan:
    """What an authenticated ``client`` allowed this grant gets from it (the admin preview
    asks too), or the OAuth error it gets instead."""
    # No user is involved, so identity scopes (openid, profile, ...) mean nothing here.
    allowed = [scope for scope in client.allowed_scope_objects() if not scope.is_identity_scope]
    plan = plan_token(
        allowed_scopes=allowed,
        requested_scopes=requested_scopes or default_scopes(allowed),
        resource_uris=resource_uris,
        one_token_per_audience=client.one_token_per_audience,
    )
    if not plan.resources:
        raise InvalidScope(description="No API scope granted: a client-credentials token must be for an API.")
    return plan
