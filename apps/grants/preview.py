"""Token preview for operators: what the IdP would issue, decoded, without issuing anything."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from apps.grants.client_credentials import client_credentials_plan
from apps.grants.exchange import POLICY_CHECKS, Exchange, ExchangeRequest
from apps.oauth.models import Application, ExchangePolicy, GrantType
from apps.protocol.errors import OAuth2Error, UnauthorizedClient
from apps.resources.claims import user_claims
from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, ApiResource, ApiScope
from apps.resources.services import TokenPlan, default_scopes
from apps.tokens.issuance import access_token_claims, access_token_header, user_token_plan


@dataclass(frozen=True)
class Reason:
    """Why the token is as it is, on one point ("policy", "algorithm", "lifetime", "scopes")."""

    topic: str
    text: str

    @property
    def label(self) -> str:
        return str(TOPICS[self.topic])


@dataclass(frozen=True)
class Preview:
    header: dict[str, str] | None = None
    claims: dict[str, Any] | None = None
    refusal: str = ""  # "error: description" when the IdP would refuse
    policy: ExchangePolicy | None = None  # the exchange policy that applied
    reasons: tuple[Reason, ...] = ()

    @property
    def times(self) -> list[tuple[str, int, datetime]]:
        """The token's times (seconds since the epoch) with their dates, for people to read."""
        claims = self.claims or {}
        return [
            (name, claims[name], datetime.fromtimestamp(claims[name], tz=UTC))
            for name in TIME_CLAIMS
            if isinstance(claims.get(name), int)
        ]


TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")
TOPICS = {
    "policy": gettext_lazy("Exchange policy"),
    "algorithm": gettext_lazy("Algorithm"),
    "lifetime": gettext_lazy("Lifetime"),
    "scopes": gettext_lazy("Scopes"),
}
# What the preview assumes of the user's token it exchanges: issued now, for the client's own
# API, with that API's lifetime (an hour when the client acts as no API).
SUBJECT_TOKEN_LIFETIME = 3600


def preview_token(
    *, client: Application, user=None, scopes: list[str], exchange_target: ApiResource | None = None
) -> Preview:
    """The token ``client`` would get: for ``user`` (as after consent) or for itself (client
    credentials); or, with ``exchange_target``, the token it would get by exchanging a token
    ``user`` holds for the client's own API. Nothing is signed or stored. The reasons say why:
    the exchange policy, the algorithm, the lifetime and the scopes left out."""
    exchange: Exchange | None = None
    try:
        if exchange_target is None and user is None:
            if GrantType.CLIENT_CREDENTIALS not in client.allowed_grant_types:
                raise UnauthorizedClient()
            plan = client_credentials_plan(client, requested_scopes=scopes)
            claims = access_token_claims(client_id=client.client_id, user=None, plan=plan)
            allowed = [s for s in client.allowed_scope_objects() if not s.is_identity_scope]
        elif exchange_target is None:
            allowed = list(client.allowed_scope_objects())
            plan = user_token_plan(client, scopes or default_scopes(allowed))
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
    if exchange is not None:
        reasons = [*_policy_reasons(exchange), _algorithm_reason(plan), _exchange_lifetime_reason(exchange)]
    else:
        reasons = [_algorithm_reason(plan), _lifetime_reason(plan), *_scope_reasons(plan, scopes, allowed)]
    return Preview(
        header=access_token_header(plan),
        claims=claims,
        policy=exchange.policy if exchange else None,
        reasons=tuple(reasons),
    )


def _seconds(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if minutes and not rest:
        return ngettext("%(n)d second (%(m)d min)", "%(n)d seconds (%(m)d min)", seconds) % {"n": seconds, "m": minutes}
    return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}


def _listed(values: dict[str, Any], unit: str = "") -> str:
    return ", ".join(f"{name}: {value}{unit}" for name, value in values.items())


def _algorithm_reason(plan: TokenPlan) -> Reason:
    algorithm, by_api = plan.signing_algorithm, {r.audience: r.signing_algorithm for r in plan.resources}
    if not by_api:
        text = gettext(
            "%(alg)s: the token is for no API, so it is signed with the IdP's default algorithm "
            "(DEFAULT_SIGNING_ALGORITHM)."
        ) % {"alg": algorithm}
    elif len(set(by_api.values())) == 1:
        text = gettext("%(alg)s: the signing algorithm set on the API (%(apis)s).") % {
            "alg": algorithm,
            "apis": ", ".join(by_api),
        }
    else:
        text = gettext(
            "%(alg)s: the token's APIs ask for different algorithms (%(apis)s), so it is signed with the "
            "IdP's default (DEFAULT_SIGNING_ALGORITHM), which each of them can verify from the JWKS."
        ) % {"alg": algorithm, "apis": _listed(by_api)}
    return Reason("algorithm", text)


def _lifetime_reason(plan: TokenPlan) -> Reason:
    by_api = {r.audience: r.access_token_lifetime for r in plan.resources}
    if not by_api:
        text = gettext(
            "%(lifetime)s: the token is for no API, so it lives the IdP's default (DEFAULT_ACCESS_TOKEN_LIFETIME)."
        )
    elif len(by_api) == 1:
        text = gettext("%(lifetime)s: the access-token lifetime set on the API %(apis)s.")
    else:
        text = gettext("%(lifetime)s: the shortest access-token lifetime of the token's APIs (%(apis)s).")
    if by_api and plan.lifetime < min(by_api.values()):
        text += " " + gettext("No token lives longer than %(max)s.")
    return Reason(
        "lifetime",
        text
        % {
            "lifetime": _seconds(plan.lifetime),
            "apis": _listed(by_api, " s"),
            "max": _seconds(MAX_ACCESS_TOKEN_LIFETIME),
        },
    )


def _scope_reasons(plan: TokenPlan, requested: list[str], allowed: list[ApiScope]) -> list[Reason]:
    reasons = []
    if not requested:
        disabled = sorted(s.name for s in allowed if s.resource is not None and not s.resource.enabled)
        if disabled:
            reasons.append(
                Reason(
                    "scopes",
                    gettext(
                        "Left out: %(scopes)s. No scope was chosen, so the token gets every scope the client may "
                        "have, except those of disabled APIs."
                    )
                    % {"scopes": " ".join(disabled)},
                )
            )
    identity = sorted(set(plan.scopes) - set(plan.audience_scopes))
    if identity:
        reasons.append(
            Reason(
                "scopes",
                gettext(
                    "Not in the token's scope claim: %(scopes)s. Identity scopes are the IdP's, not the API's "
                    "(RFC 9068 section 2.2.3); the token response and userinfo still have them."
                )
                % {"scopes": " ".join(identity)},
            )
        )
    return reasons


def _policy_reasons(exchange: Exchange) -> list[Reason]:
    policy, plan = exchange.policy, exchange.plan
    assert policy is not None and plan is not None  # the policy checks ran
    reasons = [
        Reason(
            "policy",
            gettext(
                "The exchange policy %(policy)s applies. Mode: %(mode)s; actor chain at most %(depth)d deep; "
                "tokens live at most %(max)s."
            )
            % {
                "policy": policy,
                "mode": policy.get_mode_display(),
                "depth": policy.max_depth,
                "max": _seconds(policy.max_lifetime),
            },
        )
    ]
    policy_scopes = sorted(s.name for s in policy.scopes.all() if s.resource_id == policy.target_id)
    left_out = sorted(set(policy_scopes) - set(plan.scopes))
    if not exchange.params.scopes:
        text = gettext("No scope was chosen: the token gets every scope the policy allows on %(api)s.")
    else:
        text = gettext("The chosen scopes, all within what the policy allows on %(api)s.")
    if left_out:
        text += " " + gettext("Left out: %(scopes)s (not chosen, or not carried by the subject token).")
    reasons.append(Reason("scopes", text % {"api": policy.target.audience, "scopes": " ".join(left_out)}))
    return reasons


def _exchange_lifetime_reason(exchange: Exchange) -> Reason:
    """limit_lifetime's choice: the least of the API's lifetime, the policy's maximum and the
    subject token's remaining life."""
    plan, policy, target = exchange.plan, exchange.policy, exchange.target
    assert plan is not None and policy is not None and target is not None  # the policy checks ran
    bounds = {
        gettext("the API's lifetime (%(api)s)") % {"api": target.audience}: min(
            target.access_token_lifetime, MAX_ACCESS_TOKEN_LIFETIME
        ),
        gettext("the exchange policy's maximum"): policy.max_lifetime,
        gettext("the subject token's remaining life"): _remaining(plan.not_after),
    }
    winner = min(bounds, key=lambda name: bounds[name])
    others = "; ".join(f"{name}: {_seconds(value)}" for name, value in bounds.items() if name != winner)
    return Reason(
        "lifetime",
        gettext(
            "%(lifetime)s: %(bound)s, the least of three (%(others)s). The preview assumes the user's token "
            "was just issued, with its API's lifetime."
        )
        % {"lifetime": _seconds(plan.lifetime), "bound": winner, "others": others},
    )


def _preview_exchange(*, client: Application, user, scopes: list[str], target: ApiResource) -> Exchange:
    """Run the policy checks against the token the user would hold for the client's own API."""
    subject_claims: dict[str, Any] = {
        "sub": str(user.pk) if user is not None else client.client_id,
        "aud": [client.resource.audience] if client.resource else [],
        "exp": int((timezone.now() + timedelta(seconds=_subject_lifetime(client))).timestamp()),
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


def _remaining(not_after: datetime | None) -> int:
    assert not_after is not None  # limit_lifetime bounds every exchanged token by its subject token
    return max(int((not_after - timezone.now()).total_seconds()), 0)


def _subject_lifetime(client: Application) -> int:
    return client.resource.access_token_lifetime if client.resource is not None else SUBJECT_TOKEN_LIFETIME
