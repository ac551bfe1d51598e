"""Client credentials, RFC 6749 section 4.4: a service's own token for an API, no user.

Served directly (not through oauthlib): this is the hottest request of the whole system,
paid on every service-to-service call, so it costs one query while the client's
configuration is unchanged, plus the INSERT of the token's row (unless the API chose
self-contained tokens, ApiResource.store_tokens).
"""

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from apps.oauth.errors import InvalidScope, UnauthorizedClient
from apps.oauth.models import Application, GrantType
from apps.oauth.params import reject_repeated_parameters, scope_list
from apps.oauth.services.client_auth import authenticate_client
from apps.oauth.tokens import bearer_token_response, issue_access_token, record_access_token
from apps.ops import metrics
from apps.resources.services import TokenPlan, default_scopes, plan_token

GRANT_TYPE = GrantType.CLIENT_CREDENTIALS.value


def token_response(request: HttpRequest) -> dict[str, Any]:
    reject_repeated_parameters(request.POST)
    client = authenticate_client(request)
    plan = client_credentials_plan(
        client,
        requested_scopes=scope_list(request.POST.get("scope")),
        resource_uris=request.POST.getlist("resource"),
    )
    issued = issue_access_token(client_id=client.client_id, user=None, plan=plan)
    if plan.stored:
        record_access_token(issued=issued, application=client, user=None)
    metrics.token_issued(grant=GRANT_TYPE, audience=issued.audience)
    return bearer_token_response(issued, plan)


def client_credentials_plan(
    client: Application, *, requested_scopes: Sequence[str] | None, resource_uris: Sequence[str] = ()
) -> TokenPlan:
    """What an authenticated ``client`` gets from this grant (the admin preview asks too), or
    the OAuth error it gets instead."""
    if GRANT_TYPE not in client.allowed_grant_types:
        raise UnauthorizedClient()
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
