"""Audience and scope resolution: which APIs a token is for, and with which scopes.

The ``aud`` of an access token is the set of API resources whose scopes were granted,
nothing else. RFC 8707 ``resource`` parameters narrow the token to the named APIs.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError

from apps.protocol.errors import InvalidScope, InvalidTarget, shown
from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, ApiResource, ApiScope, validate_absolute_uri
from idp.conf import idp_settings

MAX_SCOPES = 50


@dataclass(frozen=True)
class TokenPlan:
    """What a token will carry, decided before it is built."""

    scopes: tuple[str, ...]
    resources: tuple[ApiResource, ...]
    lifetime: int
    signing_algorithm: str
    user_claims: frozenset[str] = field(default_factory=frozenset)
    # The granted scopes of no API (openid, profile, email): the IdP's own.
    identity_scopes: frozenset[str] = field(default_factory=frozenset)
    # An absolute bound on expiry, e.g. the subject token's exp for an exchanged token.
    not_after: datetime | None = None

    @property
    def audience(self) -> list[str]:
        return [resource.audience for resource in self.resources]

    @property
    def audience_scopes(self) -> tuple[str, ...]:
        """The scopes that mean something to the token's ``aud`` (RFC 9068 section 2.2.3):
        those of its APIs. Identity scopes (openid, profile, email: no API) are the IdP's;
        they are left out unless the IdP itself is the audience (a token with no API scope).
        The granted ``scopes`` all stay in the token response and the stored row."""
        if not self.resources:
            return self.scopes
        return tuple(name for name in self.scopes if name not in self.identity_scopes)

    @property
    def stored(self) -> bool:
        """Whether the token gets a row: unless every API it is for chose self-contained
        tokens (ApiResource.store_tokens); a token for several APIs is as revocable as the
        strictest of them needs."""
        return not self.resources or any(resource.store_tokens for resource in self.resources)


def scopes_for_audience(*, scopes: Sequence[str], audience: Sequence[str]) -> list[str]:
    """Of a stored token's scopes, those of the APIs in its ``aud``: what introspection
    reports to an API (RFC 9068 section 2.2.3, as :attr:`TokenPlan.audience_scopes`)."""
    of_audience = set(
        ApiScope.objects.filter(name__in=scopes, resource__audience__in=audience).values_list("name", flat=True)
    )
    return [name for name in scopes if name in of_audience]


def default_scopes(allowed: Iterable[ApiScope]) -> list[str]:
    """With no ``scope`` parameter a client gets every scope it may have on enabled APIs."""
    return [s.name for s in allowed if s.resource is None or s.resource.enabled]


def _check_scopes_allowed(requested: Sequence[str], allowed: dict[str, ApiScope]) -> None:
    refused = [name for name in requested if name not in allowed]
    if refused:
        raise InvalidScope(description=f"Scope not allowed for this client: {shown(' '.join(refused))}")
    disabled = [name for name in requested if (resource := allowed[name].resource) and not resource.enabled]
    if disabled:
        raise InvalidScope(description=f"Scope of a disabled API: {shown(' '.join(disabled))}")


def _select_resources(resource_uris: Sequence[str], allowed: dict[str, ApiScope]) -> list[ApiResource]:
    """RFC 8707 section 2: each ``resource`` must name an enabled API this client has scopes for."""
    reachable = {s.resource.resource_uri: s.resource for s in allowed.values() if s.resource}
    selected: list[ApiResource] = []
    for uri in resource_uris:
        try:
            validate_absolute_uri(uri)
        except ValidationError:
            raise InvalidTarget(description="The resource parameter must be an absolute URI.") from None
        resource = reachable.get(uri)
        if resource is None or not resource.enabled:
            raise InvalidTarget(description=f"Unknown resource, or not one this client may access: {shown(uri)}")
        if resource not in selected:
            selected.append(resource)
    return selected


def _signing_algorithm(resources: Sequence[ApiResource]) -> str:
    algorithms = {resource.signing_algorithm for resource in resources}
    # Several APIs asking for different algorithms get the IdP default, which every
    # resource server can verify from the JWKS.
    return algorithms.pop() if len(algorithms) == 1 else idp_settings.DEFAULT_SIGNING_ALGORITHM


def plan_token(
    *,
    allowed_scopes: Iterable[ApiScope],
    requested_scopes: Sequence[str],
    resource_uris: Sequence[str] = (),
    one_token_per_audience: bool = False,
) -> TokenPlan:
    """Resolve a token request into a :class:`TokenPlan`, or raise ``invalid_scope`` /
    ``invalid_target``. ``allowed_scopes`` must come with their resources loaded."""
    if len(requested_scopes) > MAX_SCOPES:
        raise InvalidScope(description=f"At most {MAX_SCOPES} scopes per request.")
    allowed = {scope.name: scope for scope in allowed_scopes}
    _check_scopes_allowed(requested_scopes, allowed)
    selected = _select_resources(resource_uris, allowed)

    granted = [allowed[name] for name in dict.fromkeys(requested_scopes)]
    if selected:
        # RFC 8707: the token is for the named APIs only; scopes of other APIs are dropped.
        granted = [s for s in granted if s.resource is None or s.resource in selected]
        missing = [r.resource_uri for r in selected if not any(s.resource == r for s in granted)]
        if missing:
            raise InvalidTarget(description=f"No requested scope belongs to: {shown(' '.join(missing))}")

    resources: list[ApiResource] = []
    for scope in granted:
        if scope.resource is not None and scope.resource not in resources:
            resources.append(scope.resource)
    if one_token_per_audience and len(resources) > 1:
        raise InvalidTarget(description="This client gets one API per token: name one with the resource parameter.")

    lifetimes = [r.access_token_lifetime for r in resources] or [idp_settings.DEFAULT_ACCESS_TOKEN_LIFETIME]
    claims = frozenset.intersection(*(frozenset(r.user_claims) for r in resources)) if resources else frozenset()
    return TokenPlan(
        scopes=tuple(s.name for s in granted),
        resources=tuple(resources),
        # The models refuse more, but a value written around them (raw SQL, an old row) must
        # not mint a token that lives for years, nor overflow the date arithmetic.
        lifetime=min(*lifetimes, MAX_ACCESS_TOKEN_LIFETIME),
        signing_algorithm=_signing_algorithm(resources),
        user_claims=claims,
        identity_scopes=frozenset(s.name for s in granted if s.resource is None),
    )
