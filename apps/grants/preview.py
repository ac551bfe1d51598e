"""Token preview for operators: what the IdP would issue, decoded, without issuing anything."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.grants.client_credentials import client_credentials_plan
from apps.grants.exchange import POLICY_CHECKS, Exchange, ExchangeRequest
from apps.oauth.models import Application, GrantType
from apps.protocol.errors import OAuth2Error, UnauthorizedClient
from apps.resources.claims import user_claims
from apps.resources.models import ApiResource
from apps.resources.services import default_scopes
from apps.tokens.issuance import access_token_claims, access_token_header, user_token_plan


@dataclass(frozen=True)
class Preview:
    header: dict[str, str] | None = None
    claims: dict[str, Any] | None = None
    refusal: str = ""  # "error: description" when the IdP would refuse


def preview_token(
    *, client: Application, user=None, scopes: list[str], exchange_target: ApiResource | None = None
) -> Preview:
    """The token ``client`` would get: for ``user`` (as after consent) or for itself (client
    credentials); or, with ``exchange_target``, the token it would get by exchanging a token
    ``user`` holds for the client's own API. Nothing is signed or stored."""
    try:
        if exchange_target is None and user is None:
            if GrantType.CLIENT_CREDENTIALS not in client.allowed_grant_types:
                raise UnauthorizedClient()
            plan = client_credentials_plan(client, requested_scopes=scopes)
            claims = access_token_claims(client_id=client.client_id, user=None, plan=plan)
        elif exchange_target is None:
            plan = user_token_plan(client, scopes or default_scopes(client.allowed_scope_objects()))
            claims = access_token_claims(client_id=client.client_id, user=user, plan=plan)
        else:
            exchange = _preview_exchange(client=client, user=user, scopes=scopes, target=exchange_target)
            assert exchange.plan is not None  # the policy checks ran: limit_lifetime set it
            plan = exchange.plan
            claims = access_token_claims(
                client_id=client.client_id,
                user=user,
                plan=plan,
                subject=exchange.subject,
                extra_claims={"act": exchange.act} if exchange.act else None,
            )
    except OAuth2Error as error:
        return Preview(refusal=f"{error.error}: {error.description}")
    return Preview(header=access_token_header(plan), claims=claims)


def _preview_exchange(*, client: Application, user, scopes: list[str], target: ApiResource) -> Exchange:
    """Run the policy checks against the token the user would hold for the client's own API."""
    subject_claims: dict[str, Any] = {
        "sub": str(user.pk) if user is not None else client.client_id,
        "aud": [client.resource.audience] if client.resource else [],
        "exp": int((timezone.now() + timedelta(hours=1)).timestamp()),
    }
    if user is not None and client.resource is not None:
        subject_claims.update(user_claims(user, client.resource.user_claims))
    exchange = Exchange(
        client=client,
        params=ExchangeRequest(
            subject_token="(preview)", subject_token_type=None, audiences=(target.audience,), scopes=tuple(scopes)
        ),  # fmt: skip
        subject_claims=subject_claims,
        user=user,
        subject=subject_claims["sub"],
    )
    for check in POLICY_CHECKS:
        check(exchange)
    return exchange
