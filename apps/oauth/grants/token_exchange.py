"""OAuth 2.0 Token Exchange, RFC 8693, at /o/token/.

A service holding a user's token (issued for the service's own API) exchanges it for a
narrower token to call the next API on the user's behalf. The decision is made by
apps/oauth/services/exchange.py; this module reads the request, authenticates the client,
issues the token and writes the audit event, granted or refused.
"""

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, QueryDict

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.oauth.errors import InvalidRequest, OAuth2Error, UnauthorizedClient
from apps.oauth.models import Application, GrantType
from apps.oauth.params import reject_repeated_parameters, scope_list
from apps.oauth.services.client_auth import authenticate_client, claimed_client_id
from apps.oauth.services.exchange import Exchange, ExchangeRequest, evaluate_exchange
from apps.oauth.tokens import access_token_row, bearer_token_response, issue_access_token
from apps.ops import metrics
from idp.sql import insert_rows

GRANT_TYPE = GrantType.TOKEN_EXCHANGE.value


def exchange_request(params: QueryDict) -> ExchangeRequest:
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


def token_response(request: HttpRequest) -> dict[str, Any]:
    exchange, body = exchange_token(request, read=exchange_request, grant_type=GRANT_TYPE)
    # RFC 8693 section 2.2.1
    return {**body, "issued_token_type": exchange.issued_token_type}


def exchange_token(
    request: HttpRequest, *, read: Callable[[QueryDict], ExchangeRequest], grant_type: str
) -> tuple[Exchange, dict[str, Any]]:
    """Authenticate, decide, issue and audit one exchange; ``read`` parses the parameters
    (RFC 8693's, or an alias's). Every refusal after parsing is audited too."""
    client: Application | None = None
    exchange: Exchange | None = None
    try:
        reject_repeated_parameters(request.POST)
        client = authenticate_client(request)
        # Aliases of token exchange need the same permission.
        if GrantType.TOKEN_EXCHANGE not in client.allowed_grant_types:
            raise UnauthorizedClient()
        exchange = evaluate_exchange(client=client, params=read(request.POST))
    except OAuth2Error as error:
        _refused(request, grant_type, client=client, exchange=exchange, error=error)
        raise
    issued = issue_access_token(
        client_id=client.client_id,
        user=exchange.user,
        plan=exchange.plan,
        subject=exchange.subject,
        extra_claims={"act": exchange.act} if exchange.act else None,
    )
    # The exchanged token, its lineage row and the audit event land together or not at all.
    rows = [_audit_event(request, grant_type, client=client, exchange=exchange)]
    if exchange.plan.stored:
        rows.insert(
            0, access_token_row(issued=issued, application=client, user=exchange.user, parent=exchange.subject_row)
        )
    try:
        insert_rows(*rows)
    except IntegrityError:
        if not exchange.plan.stored:
            raise  # no lineage row was written: not the revocation race below
        # The subject token was revoked (its row deleted) after it was checked: the lineage
        # foreign key refuses the new row, and so do we.
        error = InvalidRequest(description="subject_token is not acceptable: revoked or expired.")
        _refused(request, grant_type, client=client, exchange=exchange, error=error)
        raise error from None
    metrics.exchange_granted(grant=grant_type, audience=issued.audience)
    return exchange, bearer_token_response(issued, exchange.plan)


def _refused(request: HttpRequest, grant_type: str, **outcome: Any) -> None:
    audit.write(_audit_event(request, grant_type, **outcome))
    metrics.exchange_refused(reason=outcome["error"].error)


def _audit_event(
    request: HttpRequest,
    grant_type: str,
    *,
    client: Application | None,
    exchange: Exchange | None,
    error: OAuth2Error | None = None,
) -> AuditEvent:
    return audit.event(
        event_type=audit.EXCHANGE,
        granted=error is None,
        client_id=client.client_id if client else claimed_client_id(request),
        subject=exchange.subject if exchange else "",
        audience=exchange.plan.audience if exchange else [],
        scopes=exchange.plan.scopes if exchange else [],
        reason=f"{error.error}: {error.description}" if error else "",
        details={
            "grant_type": grant_type,
            "act": exchange.act if exchange else None,
            "policy": exchange.policy.pk if exchange else None,
        },
    )
