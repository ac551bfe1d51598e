"""Transaction tokens (draft-ietf-oauth-transaction-tokens, draft 10): the token-exchange
profile that issues a Txn-Token, as a visible list of named checks.

A workload inside the trust domain (in the demo: the shopping basket, the first service a
user's request reaches) exchanges the user's access token for a Txn-Token: one short-lived,
signed statement of the transaction (``txn``), whose it is (``sub``), what it is for
(``scope``, never wider than the access token's) and its context (``tctx``, ``rctx``), which
travels unchanged down the call chain in the ``Txn-Token`` header. Which workloads may ask,
with which scopes and context, is each client's :class:`TransactionTokenPolicy`.

The draft's replacement: a workload holding a Txn-Token presents it (``subject_token_type``
``txn_token``) and gets one with the same ``txn``, ``sub`` and ``aud``, no wider scope,
context only added to (never changed), expiring no later, and the workloads that asked for
each token of the chain in ``rctx.call_chain``.

Errors: a missing or malformed parameter and an unacceptable subject token are
``invalid_request`` (RFC 8693 section 2.2.2), an ``audience`` that is not our trust domain
``invalid_target``, a scope beyond the subject token or the policy ``invalid_scope``, a
client without a policy ``unauthorized_client``.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from apps.grants.base import Decision
from apps.oauth.models import AccessToken, Application, TransactionTokenPolicy
from apps.protocol.errors import InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient, shown
from apps.protocol.params import scope_list
from apps.resources.services import TokenPlan
from apps.tokens.issuance import issue_transaction_token
from apps.tokens.verification import active_access_token, active_transaction_token
from idp.conf import idp_settings, trust_domain

TXN_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:txn_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
# Our access tokens, or one of our Txn-Tokens (replacement). Not the draft's self_signed or
# unsigned_json: we trust no subject a workload asserts by itself; not refresh tokens (the
# draft forbids them); not ID tokens (they say who signed in, not what they allowed).
SUBJECT_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TXN_TOKEN_TYPE)
MAX_SCOPES = 50
MAX_CONTEXT_CHARACTERS = 4096
# Longest rctx.call_chain: the workloads that asked for a token and for each it replaced.
MAX_CALL_CHAIN = 10


@dataclass(frozen=True)
class TransactionTokenRequest:
    """The draft's Txn-Token Request parameters, as sent."""

    subject_token: str | None
    subject_token_type: str | None
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] | None = None  # None: no scope parameter
    request_context: str | None = None
    request_details: str | None = None
    resources: tuple[str, ...] = ()
    actor_token: str | None = None

    @classmethod
    def read(cls, params: QueryDict) -> "TransactionTokenRequest":
        return cls(
            subject_token=params.get("subject_token"),
            subject_token_type=params.get("subject_token_type"),
            audiences=tuple(params.getlist("audience")),
            # An empty scope is no scope: the purpose is required.
            scopes=tuple(scope_list(params.get("scope")) or ()) if (params.get("scope") or "").strip() else None,
            request_context=params.get("request_context"),
            request_details=params.get("request_details"),
            resources=tuple(params.getlist("resource")),
            actor_token=params.get("actor_token") or params.get("actor_token_type"),
        )


@dataclass
class Transaction:
    """The decision being built; each check reads what earlier ones filled in."""

    client: Application
    params: TransactionTokenRequest
    policy: TransactionTokenPolicy | None = None
    request_context: dict[str, Any] = field(default_factory=dict)
    request_details: dict[str, Any] = field(default_factory=dict)
    subject_claims: dict[str, Any] = field(default_factory=dict)
    subject_row: AccessToken | None = None
    replacing: bool = False
    scopes: tuple[str, ...] = ()
    tctx: dict[str, Any] = field(default_factory=dict)
    rctx: dict[str, Any] = field(default_factory=dict)
    lifetime: int = 0
    not_after: datetime | None = None


def check_parameters(tx: Transaction) -> None:
    """The draft's "Txn-Token Request": ``audience`` (the trust domain), ``scope`` and the
    subject token are required; no ``resource`` (a Txn-Token is for the trust domain, no API)
    and no actor token (the requesting workload is the authenticated client)."""
    p = tx.params
    if p.actor_token:
        raise InvalidRequest(description="A Txn-Token request takes no actor_token: the authenticated client asks.")
    if p.resources:
        raise InvalidTarget(description="A Txn-Token is for the trust domain, not a resource: send no resource.")
    if not p.audiences:
        raise InvalidRequest(description=f"audience is required: the trust domain, {trust_domain()}.")
    if len(p.audiences) != 1 or p.audiences[0] != trust_domain():
        raise InvalidTarget(description=f"A Txn-Token is only for the trust domain {trust_domain()}.")
    if not p.scopes:
        raise InvalidRequest(description="scope is required: the purpose of the transaction.")
    if len(p.scopes) > MAX_SCOPES:
        raise InvalidRequest(description="Too many scope values.")
    if not p.subject_token or not p.subject_token_type:
        raise InvalidRequest(description="subject_token and subject_token_type are required.")
    if p.subject_token_type not in SUBJECT_TOKEN_TYPES:
        unsupported = shown(p.subject_token_type)
        raise InvalidRequest(description=f"Unsupported subject_token_type for a Txn-Token: {unsupported}")


def load_policy(tx: Transaction) -> None:
    """Only workloads the operators named get Txn-Tokens (draft, "TTS Issuance Policies")."""
    tx.policy = tx.client.enabled_transaction_token_policy()
    if tx.policy is None:
        raise UnauthorizedClient(description="No transaction-token policy allows this client to request Txn-Tokens.")


def _json_object(name: str, value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    if len(value) > MAX_CONTEXT_CHARACTERS:
        raise InvalidRequest(description=f"{name} is longer than {MAX_CONTEXT_CHARACTERS} characters.")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(description=f"{name} must be a JSON object.")
    return parsed


def read_context(tx: Transaction) -> None:
    """``request_context`` and ``request_details``: JSON objects whose members the policy
    names (into ``rctx`` and ``tctx``). A member the policy does not name is refused rather
    than dropped: the workload learns at once that its context is not carried."""
    policy = tx.policy
    assert policy is not None  # load_policy ran
    tx.request_context = _json_object("request_context", tx.params.request_context)
    tx.request_details = _json_object("request_details", tx.params.request_details)
    for name, given, allowed in (
        ("request_context", tx.request_context, policy.request_context_names),
        ("request_details", tx.request_details, policy.request_details_names),
    ):
        refused = sorted(set(given) - allowed)
        if refused:
            raise InvalidRequest(
                description=f"{name} members the transaction-token policy does not allow: {shown(' '.join(refused))}"
            )


def check_subject_token(tx: Transaction) -> None:
    """An access token of ours, live (not revoked, its user and client enabled) and issued
    for this workload's API (or one the policy names): no confused deputy. Or, where the
    policy allows replacement, one of our unexpired Txn-Tokens."""
    policy, p = tx.policy, tx.params
    assert policy is not None and p.subject_token is not None  # load_policy, check_parameters ran
    if p.subject_token_type == TXN_TOKEN_TYPE:
        if not policy.accept_txn_tokens:
            raise InvalidRequest(description="The transaction-token policy does not allow replacing Txn-Tokens.")
        tx.subject_claims = active_transaction_token(p.subject_token, what="subject_token")
        tx.replacing = True
        return
    claims, row = active_access_token(p.subject_token, what="subject_token")
    if (row.user is not None and not row.user.is_active) or not row.application.is_active:
        raise InvalidRequest(description="subject_token is not acceptable: its user or client is disabled.")
    aud = claims.get("aud")
    audiences = set(aud) if isinstance(aud, list) else {aud}
    allowed = {r.audience for r in policy.subject_audiences.all()}
    if not allowed and tx.client.resource is not None:
        allowed = {tx.client.resource.audience}
    if not audiences & allowed:
        raise InvalidRequest(description="The subject_token was not issued for this client's API.")
    tx.subject_claims, tx.subject_row = claims, row


def grant_scopes(tx: Transaction) -> None:
    """Never wider than the subject token's scope (draft, "Scope Processing": MUST), nor than
    the policy's. A subject token without a scope allows nothing ("Unknown subject_token
    scope": never treated as unconstrained)."""
    policy, requested = tx.policy, tx.params.scopes
    assert policy is not None and requested  # load_policy, check_parameters ran
    subject_scopes = set(str(tx.subject_claims.get("scope") or "").split())
    wider = sorted(set(requested) - subject_scopes)
    if wider:
        raise InvalidScope(description=f"Wider than the subject token's scope: {shown(' '.join(wider))}")
    beyond = sorted(set(requested) - {scope.name for scope in policy.scopes.all()})
    if beyond:
        raise InvalidScope(description=f"Beyond the transaction-token policy: {shown(' '.join(beyond))}")
    tx.scopes = tuple(dict.fromkeys(requested))


def _added(name: str, fixed: dict[str, Any], added: dict[str, Any]) -> dict[str, Any]:
    """``fixed`` with ``added``'s members; one that would change a fixed value is refused."""
    changed = sorted(key for key, value in added.items() if key in fixed and fixed[key] != value)
    if changed:
        raise InvalidRequest(description=f"{name} members are fixed for the transaction: {shown(' '.join(changed))}")
    return {**fixed, **added}


def build_context(tx: Transaction) -> None:
    """``tctx``: the policy's ``transaction_context`` over the allowed ``request_details``;
    ``rctx``: the allowed ``request_context``. A replacement keeps the Txn-Token's own and may
    only add members (draft: "MAY enable additional asserted values", never changes), and
    records the requesting workloads in ``rctx.call_chain``, oldest first."""
    policy = tx.policy
    assert policy is not None  # load_policy ran
    tctx = {**tx.request_details, **policy.transaction_context}
    if not tx.replacing:
        tx.tctx, tx.rctx = tctx, tx.request_context
        return
    previous = tx.subject_claims
    tx.tctx = _added("tctx", previous.get("tctx", {}), tctx)
    tx.rctx = _added("rctx", previous.get("rctx", {}), tx.request_context)
    chain = previous.get("rctx", {}).get("call_chain")
    chain = chain if isinstance(chain, list) else [previous["req_wl"]]
    if len(chain) >= MAX_CALL_CHAIN:
        raise InvalidRequest(description=f"This transaction's Txn-Token was replaced {len(chain) - 1} times already.")
    tx.rctx["call_chain"] = [*chain, tx.client.client_id]


def limit_lifetime(tx: Transaction) -> None:
    """The policy's lifetime (seconds to a few minutes), never beyond the subject token: an
    expired one gets nothing (draft, "Txn-Token Lifetime"), and a replacement expires no
    later than the Txn-Token it replaces, so replacing never extends a transaction."""
    policy = tx.policy
    assert policy is not None  # load_policy ran
    tx.not_after = datetime.fromtimestamp(tx.subject_claims["exp"], tz=UTC)
    remaining = int((tx.not_after - timezone.now()).total_seconds())
    if remaining <= 0:
        raise InvalidRequest(description="subject_token is not acceptable: expired.")
    tx.lifetime = min(policy.max_lifetime, remaining)


CHECKS: tuple[Callable[[Transaction], None], ...] = (
    check_parameters,
    load_policy,
    read_context,
    check_subject_token,
    grant_scopes,
    build_context,
    limit_lifetime,
)


def evaluate_transaction(*, client: Application, params: TransactionTokenRequest) -> Transaction:
    """Decide a Txn-Token request without issuing anything; raises the first check's error."""
    transaction = Transaction(client=client, params=params)
    for check in CHECKS:
        check(transaction)
    return transaction


def transaction_token_decision(*, client: Application, params: QueryDict) -> Decision:
    """The Txn-Token for this request, signed; the pipeline neither stores nor binds it (it
    lives seconds and travels the whole call chain). Its response is the draft's Txn-Token
    Response: ``token_type`` ``N_A``, ``issued_token_type`` ``txn_token``, no refresh token."""
    tx = evaluate_transaction(client=client, params=TransactionTokenRequest.read(params))
    replaced = tx.subject_claims if tx.replacing else None
    txn = replaced["txn"] if replaced else str(uuid.uuid4())
    subject = tx.subject_claims["sub"]
    issued = issue_transaction_token(
        txn=txn,
        subject=subject,
        scopes=tx.scopes,
        requesting_workload=client.client_id,
        transaction_context=tx.tctx,
        request_context=tx.rctx,
        lifetime=tx.lifetime,
        not_after=tx.not_after,
    )
    algorithm = idp_settings.TRANSACTION_TOKEN_SIGNING_ALGORITHM
    assert tx.policy is not None  # load_policy ran
    return Decision(
        plan=TokenPlan(scopes=tx.scopes, resources=(), lifetime=issued.lifetime, signing_algorithm=algorithm),
        subject=subject,
        transaction_token=issued,
        response={
            "access_token": issued.token,
            "issued_token_type": TXN_TOKEN_TYPE,
            "token_type": "N_A",
            "expires_in": issued.lifetime,
            "scope": " ".join(tx.scopes),
        },
        audit_subject=subject,
        audit_details={
            "issued_token_type": TXN_TOKEN_TYPE,
            "txn": txn,
            "replaced": tx.replacing,
            "policy": tx.policy.pk,
        },
    )
