"""OAuth 2.0 Token Exchange (RFC 8693): the decision, as a visible list of named checks.

``evaluate_exchange`` runs :data:`CHECKS` in order over an :class:`Exchange`; each check
either fills in part of the decision or raises one typed OAuth error. The grant
(apps/grants/token_exchange.py) parses the request and issues what was decided.
Error codes follow RFC 8693 section 2.2.2: an invalid or unacceptable subject or actor
token is ``invalid_request``, a target the client may not reach is ``invalid_target``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from apps.grants.federation import ExternalIdentity, trusted_issuer_named_by, verify_external_token
from apps.oauth.models import AccessToken, Application, ExchangeMode, ExchangePolicy, TrustedIssuer
from apps.protocol import strength
from apps.protocol.errors import InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient, shown
from apps.resources.models import ApiResource, ApiScope
from apps.resources.services import TokenPlan, plan_token
from apps.tokens.sign_in import require_strength
from apps.tokens.verification import active_access_token, active_id_token

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"

# Our access tokens are JWTs, so "jwt" names the same thing as "access_token".
SUBJECT_TOKEN_TYPES = {ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, ID_TOKEN_TYPE}
ACTOR_TOKEN_TYPES = {ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE}
ISSUABLE_TOKEN_TYPES = {ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE}
# A trusted issuer's token is a JWT (a workload's) or an ID token (a person's); calling it
# an access token would claim it is one of ours.
EXTERNAL_SUBJECT_TOKEN_TYPES = {JWT_TOKEN_TYPE, ID_TOKEN_TYPE}
MAX_SCOPES = 50
MAX_TARGETS = 10


@dataclass(frozen=True)
class ExchangeRequest:
    """The RFC 8693 section 2.1 parameters, as sent."""

    subject_token: str | None
    subject_token_type: str | None
    actor_token: str | None = None
    actor_token_type: str | None = None
    requested_token_type: str | None = None
    audiences: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass
class Exchange:
    """The decision being built; each check reads what earlier ones filled in."""

    client: Application
    params: ExchangeRequest
    issued_token_type: str = ACCESS_TOKEN_TYPE
    subject_claims: dict[str, Any] = field(default_factory=dict)
    subject_row: AccessToken | None = None
    user: Any = None
    subject: str = ""
    policies: list[ExchangePolicy] = field(default_factory=list)
    target: ApiResource | None = None
    policy: ExchangePolicy | None = None
    actor: str = ""
    act: dict[str, Any] | None = None
    plan: TokenPlan | None = None
    # A subject token of a trusted issuer (apps/grants/federation.py): then subject_claims
    # hold only our subject and its exp, and subject_row is None (no lineage of ours).
    external: ExternalIdentity | None = None


def check_token_types(ex: Exchange) -> None:
    """RFC 8693 section 2.1: required parameters, and only token types we understand."""
    p = ex.params
    if len(p.scopes) > MAX_SCOPES or len(p.audiences) + len(p.resources) > MAX_TARGETS:
        raise InvalidRequest(description="Too many scope, audience or resource values.")
    if not p.subject_token or not p.subject_token_type:
        raise InvalidRequest(description="subject_token and subject_token_type are required.")
    if p.subject_token_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidRequest(description=f"Unsupported subject_token_type: {shown(p.subject_token_type)}")
    if bool(p.actor_token) != bool(p.actor_token_type):
        raise InvalidRequest(description="actor_token and actor_token_type go together.")
    if p.actor_token_type and p.actor_token_type not in ACTOR_TOKEN_TYPES:
        raise InvalidRequest(description=f"Unsupported actor_token_type: {shown(p.actor_token_type)}")
    if p.requested_token_type and p.requested_token_type not in ISSUABLE_TOKEN_TYPES:
        raise InvalidRequest(description=f"Cannot issue requested_token_type: {shown(p.requested_token_type)}")
    ex.issued_token_type = p.requested_token_type or ACCESS_TOKEN_TYPE


def check_subject_token(ex: Exchange) -> None:
    """The subject token is ours: signature, typ, issuer, unexpired, still stored (not revoked,
    nor any ancestor), and its user and client are still enabled. An ID token counts only
    while the access token issued with it is live (that access token becomes the parent).
    A token whose iss names a trusted issuer is that issuer's (check_external_subject_token)."""
    subject_token = ex.params.subject_token
    assert subject_token is not None  # check_token_types requires it
    issuer = trusted_issuer_named_by(subject_token)
    if issuer is not None:
        check_external_subject_token(ex, subject_token, issuer)
        return
    if ex.params.subject_token_type == ID_TOKEN_TYPE:
        claims, id_token = active_id_token(subject_token, what="subject_token")
        ex.subject_row = AccessToken.objects.select_related("user", "application").filter(id_token=id_token).first()
        if ex.subject_row is None or ex.subject_row.expires <= timezone.now():
            raise InvalidRequest(description="subject_token is not acceptable: its session was revoked.")
    else:
        claims, ex.subject_row = active_access_token(subject_token, what="subject_token")
    ex.user = ex.subject_row.user
    if (ex.user is not None and not ex.user.is_active) or not ex.subject_row.application.is_active:
        raise InvalidRequest(description="subject_token is not acceptable: its user or client is disabled.")
    ex.subject_claims = claims
    ex.subject = claims["sub"]


def check_external_subject_token(ex: Exchange, subject_token: str, issuer: TrustedIssuer) -> None:
    """A trusted issuer's token (apps/grants/federation.py): verified with that issuer's
    keys, for the audience the issuer is registered with, mapped to exactly one of our
    clients or users. Of its claims only ``exp`` is kept (it bounds the new token's
    lifetime); its scope, act, acr and the rest are another issuer's and never copied."""
    if ex.params.subject_token_type not in EXTERNAL_SUBJECT_TOKEN_TYPES:
        raise InvalidRequest(description="A token of another issuer is a subject_token of type jwt or id_token.")
    ex.external = verify_external_token(
        subject_token, issuer=issuer, audiences={issuer.required_audience}, error=InvalidRequest, what="subject_token"
    )
    ex.user, ex.subject = ex.external.user, ex.external.subject
    ex.subject_claims = {"sub": ex.subject, "exp": ex.external.expires_at}


def load_policies(ex: Exchange) -> None:
    """A client with no exchange policy at all is not authorized for this grant."""
    ex.policies = ex.client.enabled_exchange_policies()
    if not ex.policies:
        raise UnauthorizedClient(description="No exchange policy allows this client to exchange tokens.")


def _named_targets(ex: Exchange) -> set[ApiResource]:
    p = ex.params
    if not p.audiences and not p.resources:
        return set()
    found = list(ApiResource.objects.filter(audience__in=p.audiences)) + list(
        ApiResource.objects.filter(resource_uri__in=p.resources)
    )
    unknown = set(p.audiences) - {r.audience for r in found} | set(p.resources) - {r.resource_uri for r in found}
    if unknown:
        raise InvalidTarget(description=f"Unknown audience or resource: {shown(' '.join(sorted(unknown)))}")
    disabled = sorted(r.audience for r in found if not r.enabled)
    if disabled:
        raise InvalidTarget(description=f"Disabled API: {' '.join(disabled)}")
    return set(found)


def resolve_target(ex: Exchange) -> None:
    """The one API the new token is for: named by ``audience``/``resource``, implied by
    ``scope``, or the client's only policy target. One audience per token."""
    targets = _named_targets(ex)
    if not targets and ex.params.scopes:
        known = {scope.name: scope for policy in ex.policies for scope in policy.scopes.all()}
        scopes = [known[name] for name in ex.params.scopes if name in known]
        if len(scopes) < len(ex.params.scopes):  # some scope outside every policy: look it up
            scopes = list(ApiScope.objects.filter(name__in=ex.params.scopes).select_related("resource"))
        unknown = set(ex.params.scopes) - {s.name for s in scopes}
        if unknown or any(s.resource is None for s in scopes):
            raise InvalidScope(description=f"Not an API scope: {shown(' '.join(sorted(unknown) or ex.params.scopes))}")
        targets = {s.resource for s in scopes if s.resource is not None}  # none is None (above)
    if not targets and len(ex.policies) == 1:
        targets = {ex.policies[0].target}
    if len(targets) != 1:
        raise InvalidTarget(description="Name exactly one target API with audience, resource or scope.")
    ex.target = targets.pop()
    if not ex.target.enabled:
        raise InvalidTarget(description=f"Disabled API: {ex.target.audience}")


def select_policy(ex: Exchange) -> None:
    target = ex.target
    assert target is not None  # resolve_target ran
    ex.policy = next((p for p in ex.policies if p.target_id == target.pk), None)
    if ex.policy is None:
        raise InvalidTarget(description=f"No exchange policy lets this client reach {target.audience}.")


def _audiences(claims: dict[str, Any]) -> set[str | None]:
    # {None} for a token without aud (verify_jwt does not require one): it matches nothing.
    aud = claims.get("aud")
    return set(aud) if isinstance(aud, list) else {aud}


def check_subject_audience(ex: Exchange) -> None:
    """No confused deputy: the subject token must have been issued *for* this client, i.e. its
    audience is the client's own API (or one the policy names). An ID token must be this
    client's own, and the policy must accept ID tokens. A trusted issuer's token must be of
    an issuer the policy names."""
    policy = ex.policy
    assert policy is not None  # select_policy ran
    if ex.external is not None:
        # Another issuer's token: the policy must name that issuer (its aud was checked
        # against the issuer's registered audience).
        if ex.external.issuer not in policy.trusted_issuers.all():
            raise InvalidRequest(
                description=f"The exchange policy does not accept tokens of issuer {ex.external.issuer.name}."
            )
        return
    audiences = _audiences(ex.subject_claims)
    if ex.params.subject_token_type == ID_TOKEN_TYPE:
        if not policy.accept_id_token:
            raise InvalidRequest(description="The exchange policy does not accept ID tokens.")
        if ex.client.client_id not in audiences:
            raise InvalidRequest(description="The ID token was issued to another client.")
        return
    allowed = {r.audience for r in policy.subject_audiences.all()}
    if not allowed and ex.client.resource is not None:
        allowed = {ex.client.resource.audience}
    if not audiences & allowed:
        raise InvalidRequest(description="The subject_token was not issued for this client's API.")


def check_actor(ex: Exchange) -> None:
    """The actor is the authenticated client; an actor_token, if sent, must be the client's own
    token. Impersonation takes no actor_token."""
    if ex.params.actor_token is None:
        ex.actor = ex.client.client_id
        return
    assert ex.policy is not None  # select_policy ran
    if ex.policy.mode == ExchangeMode.IMPERSONATION:
        raise InvalidRequest(description="The exchange policy grants impersonation: send no actor_token.")
    claims, row = active_access_token(ex.params.actor_token, what="actor_token")
    # The client's own client-credentials token: it names the client, no user, no actor.
    own = claims.get("client_id") == ex.client.client_id == claims.get("sub")
    if not own or row.user_id is not None or "act" in claims:
        raise InvalidRequest(description="The actor_token must be this client's own client-credentials token.")
    ex.actor = claims["sub"]


def check_may_act(ex: Exchange) -> None:
    """RFC 8693 section 4.4: a subject token's ``may_act`` names who may act for the subject."""
    may_act = ex.subject_claims.get("may_act")
    if may_act is None:
        return
    if not isinstance(may_act, dict) or may_act.get("sub") != ex.actor:
        raise InvalidRequest(description="The subject_token's may_act does not name this client.")


def _depth(act: Any) -> int:
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth


def build_actor_chain(ex: Exchange) -> None:
    """RFC 8693 section 4.1: delegation puts the actor in ``act``, with earlier actors nested
    inside; impersonation adds no actor (but keeps any chain the subject already had).
    Refused beyond the policy's depth."""
    prior = ex.subject_claims.get("act")
    prior = prior if isinstance(prior, dict) else None
    assert ex.policy is not None  # select_policy ran
    if ex.policy.mode == ExchangeMode.DELEGATION:
        ex.act = {"sub": ex.actor, **({"act": prior} if prior else {})}
    else:
        ex.act = prior
    depth = _depth(ex.act)
    if depth > ex.policy.max_depth:
        raise InvalidRequest(
            description=f"The actor chain would be {depth} deep; the exchange policy allows {ex.policy.max_depth}."
        )


def grant_scopes(ex: Exchange) -> None:
    """At most the policy's scopes of the target API (all of them when none is requested); and
    when the subject token was already for that API, never more than it carried. User claims:
    what the target API receives, and only those the subject token carried."""
    target, policy = ex.target, ex.policy
    assert target is not None and policy is not None  # resolve_target and select_policy ran
    allowed = [s for s in policy.scopes.all() if s.resource_id == target.pk]
    if target.audience in _audiences(ex.subject_claims):
        subject_scopes = set(str(ex.subject_claims.get("scope", "")).split())
        allowed = [s for s in allowed if s.name in subject_scopes]
    requested = list(ex.params.scopes) or [s.name for s in allowed]
    refused = sorted(set(requested) - {s.name for s in allowed})
    if refused:
        raise InvalidScope(description=f"Beyond the exchange policy or subject token: {shown(' '.join(refused))}")
    plan = plan_token(allowed_scopes=allowed, requested_scopes=requested)
    ex.plan = replace(plan, user_claims=plan.user_claims & set(ex.subject_claims))


def limit_lifetime(ex: Exchange) -> None:
    """Never beyond the subject token (an absolute bound, applied when the token is built),
    the policy's maximum, or the target API's lifetime. An ID token is live only while the
    session's access token is (check_subject_token), which may end long before the ID
    token's own ``exp``: that end bounds too. (An access token's row ends at its ``exp``.)"""
    plan, policy = ex.plan, ex.policy
    assert plan is not None and policy is not None  # grant_scopes and select_policy ran
    subject_expiry = datetime.fromtimestamp(ex.subject_claims["exp"], tz=UTC)
    if ex.params.subject_token_type == ID_TOKEN_TYPE and ex.external is None:
        assert ex.subject_row is not None  # check_subject_token found the session's token
        subject_expiry = min(subject_expiry, ex.subject_row.expires)
    remaining = int((subject_expiry - timezone.now()).total_seconds())
    if remaining <= 0:
        raise InvalidRequest(description="The subject_token has expired.")
    lifetime = min(plan.lifetime, policy.max_lifetime, remaining)
    ex.plan = replace(plan, lifetime=lifetime, not_after=subject_expiry)


def check_authentication_strength(ex: Exchange) -> None:
    """RFC 9470: an API that requires a second factor, or a calling client that does, gets no
    token for a user whose sign-in behind the subject token had none (the client's requirement
    covers every user token it gets, as for its codes and refresh tokens). The subject token's
    ``acr`` says (an ID token's too); a token without one (issued before acr was recorded)
    meets no requirement. A subject token without a user (client credentials) is not judged:
    the API takes those directly."""
    assert ex.target is not None  # resolve_target ran
    if ex.user is None:
        return
    acr = ex.subject_claims.get("acr")
    require_strength(acr=acr if isinstance(acr, str) else None, client=ex.client, resources=[ex.target])


def sign_in_claims(subject_claims: dict[str, Any]) -> dict[str, Any]:
    """The subject token's ``acr`` and ``auth_time``, passed on unchanged (RFC 9470 section 6):
    the exchanged token describes the same sign-in, never a stronger or later one."""
    claims: dict[str, Any] = {}
    if subject_claims.get("acr") in strength.ACR_LEVELS:
        claims["acr"] = subject_claims["acr"]
    auth_time = subject_claims.get("auth_time")
    if isinstance(auth_time, int) and not isinstance(auth_time, bool):
        claims["auth_time"] = auth_time
    return claims


# What the policies decide, once a subject token is known (also used by the admin preview).
POLICY_CHECKS: tuple[Callable[[Exchange], None], ...] = (
    load_policies,
    resolve_target,
    select_policy,
    check_subject_audience,
    check_actor,
    check_may_act,
    build_actor_chain,
    grant_scopes,
    limit_lifetime,
)
# The strength of the subject's sign-in is a fact of the subject token (the preview has none).
CHECKS: tuple[Callable[[Exchange], None], ...] = (
    check_token_types,
    check_subject_token,
    *POLICY_CHECKS,
    check_authentication_strength,
)


def evaluate_exchange(*, client: Application, params: ExchangeRequest) -> Exchange:
    """Decide an exchange without issuing anything; raises the first check's OAuth error."""
    exchange = Exchange(client=client, params=params)
    for check in CHECKS:
        check(exchange)
    return exchange
