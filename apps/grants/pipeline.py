"""/o/token/ (RFC 6749 section 3.2): one pipeline for every grant.

In order, once for every grant in the registry (apps/grants/):

1. the form: no URL query parameters, a ``grant_type`` we serve, no repeated parameter;
2. client authentication, by whichever method the request uses (client_auth.METHODS);
3. the client's permission to use the grant;
4. the grant's decision (a token plan, or a typed OAuth error);
5. signing, storage (the token's row with its audit event, in one statement), metrics;
6. the RFC 6749 section 5.1 response.

A refusal at steps 2-5 is audited and counted for grants that say so.
"""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.clients.authentication import authenticate_client, claimed_client_id
from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.registry import GRANTS
from apps.oauth.models import Application
from apps.ops import counters, metrics
from apps.protocol.errors import InvalidRequest, OAuth2Error, UnauthorizedClient, UnsupportedGrantType, shown
from apps.protocol.params import repeated_parameters, repeated_parameters_error
from apps.tokens.issuance import IssuedAccessToken, access_token_row, bearer_token_response, issue_access_token
from idp.sql import insert_rows


@dataclass(frozen=True)
class Issued:
    token: IssuedAccessToken
    body: dict[str, Any]  # the RFC 6749 section 5.1 response


def grant_for(request: HttpRequest) -> Grant:
    grant_type = request.POST.get("grant_type")
    if not grant_type:
        raise InvalidRequest(description="Missing grant_type parameter.")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(description=f"Unsupported grant_type: {shown(grant_type)}")
    return grant


def token_response(request: HttpRequest) -> dict[str, Any]:
    """The response body for one token request, or the OAuth error it gets (raised)."""
    # RFC 6749 section 3.2: parameters go in the body.
    if request.GET:
        raise InvalidRequest(description="URL query parameters are not allowed.")
    # RFC 6749 section 3.2: no parameter twice. Which grant runs must not depend on which
    # copy a parser keeps; any other repeat is refused (and audited) as the grant's.
    repeated = repeated_parameters(request.POST)
    if "grant_type" in repeated:
        raise repeated_parameters_error(repeated)
    grant = grant_for(request)
    client: Application | None = None
    decision: Decision | None = None
    try:
        if repeated:
            raise repeated_parameters_error(repeated)
        client = authenticate_client(request, allow_public=not grant.CONFIDENTIAL_ONLY)
        if grant.permission() not in client.allowed_grant_types:
            raise UnauthorizedClient()
        decision = grant.decide(TokenRequest(params=request.POST, http=request, client=client))
        issued = _issue(request, grant, client, decision)
    except OAuth2Error as error:
        if grant.AUDITED:
            audit.write(_audit_event(request, grant, client=client, decision=decision, error=error))
        if grant.EXCHANGE:
            metrics.exchange_refused(reason=error.error)
        raise
    if grant.EXCHANGE:
        metrics.exchange_granted(grant=grant.GRANT_TYPE, audience=issued.token.audience)
    else:
        metrics.token_issued(grant=grant.GRANT_TYPE, audience=issued.token.audience)
    # The dashboard's count: kept in memory, written to the database off the request's thread.
    counters.token_issued(grant=grant.GRANT_TYPE, audience=issued.token.audience)
    return issued.body


def _issue(request: HttpRequest, grant: Grant, client: Application, decision: Decision) -> Issued:
    token = issue_access_token(
        client_id=client.client_id,
        user=decision.user,
        plan=decision.plan,
        subject=decision.subject,
        extra_claims=decision.extra_claims,
    )
    body = {**bearer_token_response(token, decision.plan), **decision.response}
    if decision.persist is not None:
        body.update(decision.persist(token))
        if grant.AUDITED:
            audit.write(_audit_event(request, grant, client=client, decision=decision))
        return Issued(token, body)
    rows: list[Any] = []
    if decision.plan.stored:
        rows.append(access_token_row(issued=token, application=client, user=decision.user, parent=decision.parent))
    if grant.AUDITED:
        rows.append(_audit_event(request, grant, client=client, decision=decision))
    if not rows:
        return Issued(token, body)
    try:
        # The token, its lineage and its audit event land together or not at all.
        insert_rows(*rows)
    except IntegrityError:
        if decision.parent is None or not decision.plan.stored:
            raise  # not the revocation race below
        # The token this one derives from was revoked (its row deleted) after it was
        # checked: the lineage foreign key refuses the new row, and so do we.
        raise InvalidRequest(description="subject_token is not acceptable: revoked or expired.") from None
    return Issued(token, body)


def _audit_event(
    request: HttpRequest,
    grant: Grant,
    *,
    client: Application | None,
    decision: Decision | None,
    error: OAuth2Error | None = None,
) -> AuditEvent:
    return audit.event(
        event_type=grant.AUDIT_EVENT,
        granted=error is None,
        client_id=client.client_id if client else claimed_client_id(request),
        # A refusal after the decision (its parent revoked meanwhile) says what was decided.
        subject=decision.audit_subject if decision else "",
        audience=decision.plan.audience if decision else [],
        scopes=decision.plan.scopes if decision else [],
        reason=f"{error.error}: {error.description}" if error else "",
        details={"grant_type": grant.GRANT_TYPE, **(decision.audit_details if decision else {})},
    )
