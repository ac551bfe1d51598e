"""/o/token/ (RFC 6749 section 3.2): one pipeline for every grant.

In order, once for every grant in the registry (apps/grants/):

1. the form: no URL query parameters, a ``grant_type`` we serve, no repeated parameter;
2. client authentication, by whichever method the request uses (client_auth.METHODS), or by
   the grant itself where its request is a credential (RFC 7523's assertion);
3. the client's permission to use the grant;
4. the DPoP proof (RFC 9449 section 5), when one is sent or the client must send one;
5. the grant's decision (a token plan, or a typed OAuth error), then whether the APIs it is
   for accept a token that is not DPoP-bound;
6. signing (bound to the proof's key, if any), storage (the token's row with its audit
   event, in one statement), metrics;
7. the RFC 6749 section 5.1 response.

A refusal at steps 2-6 is audited and counted for grants that say so.
"""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest

from apps.audit import services as audit
from apps.clients.authentication import claimed_client_id
from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.registry import GRANTS
from apps.oauth.models import Application
from apps.ops import counters, metrics
from apps.protocol import dpop
from apps.protocol.errors import InvalidRequest, OAuth2Error, UnauthorizedClient, UnsupportedGrantType, shown
from apps.protocol.params import repeated_parameters, repeated_parameters_error
from apps.resources.services import TokenPlan
from apps.tokens.issuance import access_token_row, bearer_token_response, issue_access_token
from idp.sql import NewRow, insert_rows


@dataclass(frozen=True)
class Issued:
    audience: list[str]
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
    grant = grant_for(request).variant(request.POST)
    client: Application | None = None
    decision: Decision | None = None
    try:
        if repeated:
            raise repeated_parameters_error(repeated)
        authenticated = grant.authenticate(request)
        client = authenticated.client
        if grant.permission() not in client.allowed_grant_types:
            raise UnauthorizedClient()
        jkt = proof_key(request, client)
        decision = grant.decide(
            TokenRequest(params=request.POST, http=request, client=client, jkt=jkt, credential=authenticated.credential)
        )
        require_dpop_for_apis(decision.plan, jkt)
        issued = _issue(request, grant, client, decision, jkt=jkt)
    except OAuth2Error as error:
        if grant.AUDITED:
            audit.write(_audit_event(request, grant, client=client, decision=decision, error=error))
        if grant.EXCHANGE:
            metrics.exchange_refused(reason=error.error)
        raise
    if grant.EXCHANGE:
        metrics.exchange_granted(grant=grant.GRANT_TYPE, audience=issued.audience)
    else:
        metrics.token_issued(grant=grant.GRANT_TYPE, audience=issued.audience)
    # The dashboard's count: kept in memory, written to the database off the request's thread.
    counters.token_issued(grant=grant.GRANT_TYPE, audience=issued.audience)
    return issued.body


def proof_key(request: HttpRequest, client: Application) -> str | None:
    """The thumbprint of the key of the request's DPoP proof, once verified; None without a
    proof. A client registered as always using DPoP (RFC 9449 section 5.2,
    ``dpop_bound_access_tokens``) must send one: without it, ``invalid_request`` (the
    request lacks something it must carry, as Keycloak answers since FAPI 2.0 asked it to;
    ``invalid_dpop_proof`` is for a proof that is there but bad)."""
    proof = dpop.token_request_proof(request)
    if proof is None and client.dpop_bound_access_tokens:
        raise InvalidRequest(description="This client must send a DPoP proof (RFC 9449) with every token request.")
    return proof.jkt if proof is not None else None


def require_dpop_for_apis(plan: TokenPlan, jkt: str | None) -> None:
    """An API that requires DPoP (ApiResource.require_dpop) never gets a token that is not
    bound: a request without a proof is ``invalid_request``, for every grant (checked after
    the decision, which names the APIs, and before anything is issued or a code consumed)."""
    if jkt is not None:
        return
    requiring = sorted(resource.audience for resource in plan.resources if resource.require_dpop)
    if requiring:
        raise InvalidRequest(
            description=f"DPoP-bound tokens only for {shown(' '.join(requiring))}: send a DPoP proof (RFC 9449)."
        )


def _issue(request: HttpRequest, grant: Grant, client: Application, decision: Decision, *, jkt: str | None) -> Issued:
    if decision.transaction_token is not None:
        # A Txn-Token: signed by the grant, never stored (it lives seconds) and never bound
        # (it travels the whole call chain, every hop presenting it unchanged).
        if grant.AUDITED:
            audit.write(_audit_event(request, grant, client=client, decision=decision))
        return Issued(decision.audience, decision.response)
    token = issue_access_token(
        client_id=client.client_id,
        user=decision.user,
        plan=decision.plan,
        subject=decision.subject,
        extra_claims=decision.extra_claims,
        jkt=jkt,
    )
    body = {**bearer_token_response(token, decision.plan), **decision.response}
    if decision.persist is not None:
        body.update(decision.persist(token))
        if grant.AUDITED:
            audit.write(_audit_event(request, grant, client=client, decision=decision))
        return Issued(token.audience, body)
    rows: list[Any] = []
    if decision.plan.stored:
        rows.append(access_token_row(issued=token, application=client, user=decision.user, parent=decision.parent))
    if grant.AUDITED:
        rows.append(_audit_event(request, grant, client=client, decision=decision))
    if not rows:
        return Issued(token.audience, body)
    try:
        # The token, its lineage and its audit event land together or not at all.
        insert_rows(*rows)
    except IntegrityError:
        if decision.parent is None or not decision.plan.stored:
            raise  # not the revocation race below
        # The token this one derives from was revoked (its row deleted) after it was
        # checked: the lineage foreign key refuses the new row, and so do we.
        raise InvalidRequest(description="subject_token is not acceptable: revoked or expired.") from None
    return Issued(token.audience, body)


def _audit_event(
    request: HttpRequest,
    grant: Grant,
    *,
    client: Application | None,
    decision: Decision | None,
    error: OAuth2Error | None = None,
) -> NewRow:
    return audit.event(
        event_type=grant.AUDIT_EVENT,
        granted=error is None,
        client_id=client.client_id if client else claimed_client_id(request),
        # A refusal after the decision (its parent revoked meanwhile) says what was decided.
        subject=decision.audit_subject if decision else "",
        audience=decision.audience if decision else [],
        scopes=decision.plan.scopes if decision else [],
        reason=f"{error.error}: {error.description}" if error else "",
        details={
            "grant_type": grant.GRANT_TYPE,
            **grant.audit_request_details(request.POST),
            **(decision.audit_details if decision else {}),
        },
    )
