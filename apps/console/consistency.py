"""Configurations that save without error but cannot work: a client or policy each valid on
its own, wrong together. The models' own validation refuses what is wrong in one object;
what needs several (a policy and its client's grants, a client and its APIs) is found here,
shown on the dashboard and as a warning after saving the client or policy involved.

Each rule is a small function over the configuration, loaded once (:class:`Configuration`),
returning :class:`Problem` s that name the objects involved and the page to fix them on."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Model, Prefetch
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.oauth.models import Application, ExchangePolicy, GrantType, TransactionTokenPolicy, TrustedIssuer
from apps.resources.models import ApiScope


@dataclass(frozen=True)
class Problem:
    message: str
    fix_url: str  # the admin page where it is fixed
    # The objects involved, as (model label, primary key): what a save warns about.
    involves: frozenset[tuple[str, int]] = field(default=frozenset())

    def involves_object(self, obj: Model) -> bool:
        return (obj._meta.label_lower, obj.pk) in self.involves


@dataclass(frozen=True)
class Configuration:
    clients: list[Application]  # enabled ones, with their scopes' APIs and their policies
    policies: list[ExchangePolicy]  # enabled ones, with their clients and subject audiences
    # Enabled ones, likewise: Txn-Tokens are asked for with the token-exchange grant too.
    transaction_token_policies: list[TransactionTokenPolicy]
    # All of them, enabled or not (a policy may name a disabled one), with their mappings' clients.
    trusted_issuers: list[TrustedIssuer]

    @classmethod
    def load(cls) -> "Configuration":
        policies = list(
            ExchangePolicy.objects.filter(enabled=True)
            .select_related("client", "target")
            .prefetch_related("subject_audiences", "trusted_issuers")
            .order_by("client__name", "target__audience")
        )
        transaction_token_policies = list(
            TransactionTokenPolicy.objects.filter(enabled=True)
            .select_related("client")
            .prefetch_related("subject_audiences")
            .order_by("client__name", "client__client_id")
        )
        clients = list(
            Application.objects.filter(is_active=True)
            .prefetch_related(Prefetch("allowed_scopes", queryset=ApiScope.objects.select_related("resource")))
            .order_by("name", "client_id")
        )
        trusted_issuers = list(TrustedIssuer.objects.prefetch_related("mappings__client").order_by("name"))
        return cls(
            clients=clients,
            policies=policies,
            transaction_token_policies=transaction_token_policies,
            trusted_issuers=trusted_issuers,
        )

    def policies_of(self, client: Application) -> list[ExchangePolicy]:
        return [policy for policy in self.policies if policy.client_id == client.pk]

    def transaction_token_policy_of(self, client: Application) -> TransactionTokenPolicy | None:
        return next((policy for policy in self.transaction_token_policies if policy.client_id == client.pk), None)

    def policies_naming(self, issuer: TrustedIssuer) -> list[ExchangePolicy]:
        return [policy for policy in self.policies if issuer in policy.trusted_issuers.all()]


def _client_url(client: Application) -> str:
    return reverse("admin:oauth_application_change", args=[client.pk])


def _key(obj: Model) -> tuple[str, int]:
    return (obj._meta.label_lower, obj.pk)


def _client_problem(client: Application, message: str, *others: Model) -> Problem:
    return Problem(message, _client_url(client), frozenset([_key(client), *map(_key, others)]))


def _issuer_problem(issuer: TrustedIssuer, message: str, *others: Model) -> Problem:
    url = reverse("admin:oauth_trustedissuer_change", args=[issuer.pk])
    return Problem(message, url, frozenset([_key(issuer), *map(_key, others)]))


def _grants(client: Application) -> set[str]:
    return set(client.allowed_grant_types or ())


# --- the rules ------------------------------------------------------------------------------


def policies_without_the_exchange_grant(config: Configuration) -> list[Problem]:
    """Every exchange by the client is refused (``unauthorized_client``) before any policy is
    read: the policy does nothing."""
    return [
        _client_problem(
            policy.client,
            _("%(client)s has an exchange policy into %(target)s but not the token-exchange grant.")
            % {"client": policy.client, "target": policy.target},
            policy,
        )
        for policy in config.policies
        if policy.client.is_active and GrantType.TOKEN_EXCHANGE not in _grants(policy.client)
    ]


def transaction_token_policies_without_the_exchange_grant(config: Configuration) -> list[Problem]:
    """A Txn-Token is asked for with the token-exchange grant: without it every request is
    ``unauthorized_client`` before the policy is read."""
    return [
        _client_problem(
            policy.client,
            _("%(client)s has a transaction-token policy but not the token-exchange grant.")
            % {"client": policy.client},
            policy,
        )
        for policy in config.transaction_token_policies
        if policy.client.is_active and GrantType.TOKEN_EXCHANGE not in _grants(policy.client)
    ]


def clients_without_a_grant(config: Configuration) -> list[Problem]:
    """No grant: the client gets no token. That is right for an API that only introspects
    (a confidential client acting as an API); any other such client can do nothing."""
    return [
        _client_problem(client, _("%(client)s has no grant type: it can get no token.") % {"client": client})
        for client in config.clients
        if not _grants(client) and (client.resource_id is None or client.client_type != Application.CLIENT_CONFIDENTIAL)
    ]


def exchange_clients_without_an_api(config: Configuration) -> list[Problem]:
    """A subject token must be for the exchanging client's own API unless its policy names
    other audiences (or trusted issuers, whose tokens it may exchange): without an API of its
    own and without such a policy, it exchanges nothing."""
    problems = []
    for client in config.clients:
        if GrantType.TOKEN_EXCHANGE not in _grants(client) or client.resource_id is not None:
            continue
        transaction = config.transaction_token_policy_of(client)
        policies: list[ExchangePolicy | TransactionTokenPolicy] = [
            *config.policies_of(client),
            *([transaction] if transaction is not None else []),
        ]
        if not any(policy.subject_audiences.all() for policy in policies) and not any(
            policy.trusted_issuers.all() for policy in config.policies_of(client)
        ):
            problems.append(
                _client_problem(
                    client,
                    _("%(client)s has the token-exchange grant but no API of its own: no token is for it to exchange.")
                    % {"client": client},
                )
            )
    return problems


def exchange_clients_without_a_policy(config: Configuration) -> list[Problem]:
    """The grant alone lets a client exchange nothing: every exchange needs an enabled policy
    (an exchange policy, or for Txn-Tokens a transaction-token policy)."""
    return [
        _client_problem(
            client,
            _("%(client)s has the token-exchange grant but no enabled exchange policy.") % {"client": client},
        )
        for client in config.clients
        if GrantType.TOKEN_EXCHANGE in _grants(client)
        and not config.policies_of(client)
        and config.transaction_token_policy_of(client) is None
    ]


def client_credentials_without_an_api_scope(config: Configuration) -> list[Problem]:
    """A client-credentials token is for APIs only: without a scope of one, every request is
    ``invalid_scope``."""
    return [
        _client_problem(
            client,
            _("%(client)s has the client-credentials grant but no scope of an API.") % {"client": client},
        )
        for client in config.clients
        if GrantType.CLIENT_CREDENTIALS in _grants(client)
        and not any(scope.resource is not None for scope in client.allowed_scopes.all())
    ]


def clients_whose_apis_are_all_disabled(config: Configuration) -> list[Problem]:
    """Scopes of a disabled API are refused (``invalid_scope``): a client with no other scope
    gets no token at all."""
    problems = []
    for client in config.clients:
        scopes = list(client.allowed_scopes.all())
        if scopes and all(scope.resource is not None and not scope.resource.enabled for scope in scopes):
            apis = sorted({scope.resource.audience for scope in scopes if scope.resource is not None})
            problems.append(
                _client_problem(
                    client,
                    _("Every API %(client)s has scopes of is disabled: %(apis)s.")
                    % {"client": client, "apis": ", ".join(apis)},
                )
            )
    return problems


def confidential_clients_that_cannot_authenticate(config: Configuration) -> list[Problem]:
    """A confidential client proves itself with its secret or its keys (private_key_jwt):
    with its secret removed and its keys taken away, every request of it is ``invalid_client``.
    (Rotating a secret in, or registering keys, fixes it.)"""
    return [
        _client_problem(
            client,
            _("%(client)s has neither a secret nor public keys: it cannot authenticate.") % {"client": client},
        )
        for client in config.clients
        if client.client_type == Application.CLIENT_CONFIDENTIAL
        and not client.secret_hint
        and client.jwks is None
        and not client.jwks_uri
    ]


def trusted_issuers_without_a_mapping(config: Configuration) -> list[Problem]:
    """A token of an issuer is accepted only when exactly one of its mappings matches: with
    none, every one is refused (``No mapping of issuer ... matches``)."""
    return [
        _issuer_problem(
            issuer, _("Trusted issuer %(issuer)s has no mapping: none of its tokens is accepted.") % {"issuer": issuer}
        )
        for issuer in config.trusted_issuers
        if issuer.enabled and not issuer.mappings.all()
    ]


def trusted_issuers_accepted_nowhere(config: Configuration) -> list[Problem]:
    """An issuer's tokens count where an enabled exchange policy names it (token exchange), or
    as assertions for the clients it maps to when they have the JWT bearer grant (RFC 7523).
    With neither, its mappings do nothing. (An issuer without mappings has its own rule.)"""
    problems = []
    active = {client.pk: client for client in config.clients}
    for issuer in config.trusted_issuers:
        mappings = issuer.mappings.all()
        if not issuer.enabled or not mappings or config.policies_naming(issuer):
            continue
        mapped = [active[m.client_id] for m in mappings if m.client_id is not None and m.client_id in active]
        if any(GrantType.JWT_BEARER in _grants(client) for client in mapped):
            continue
        problems.append(
            _issuer_problem(
                issuer,
                _(
                    "Trusted issuer %(issuer)s is accepted nowhere: no enabled exchange policy names it and no "
                    "client it maps to has the JWT bearer grant."
                )
                % {"issuer": issuer},
                *mapped,
            )
        )
    return problems


def policies_naming_a_disabled_issuer(config: Configuration) -> list[Problem]:
    """A disabled issuer's tokens are refused (``... which is disabled here``), whatever a
    policy says: the policy accepts less than it names."""
    problems = []
    for policy in config.policies:
        for issuer in policy.trusted_issuers.all():
            if not issuer.enabled:
                problems.append(
                    _issuer_problem(
                        issuer,
                        _("The exchange policy %(policy)s names trusted issuer %(issuer)s, which is disabled.")
                        % {"policy": policy, "issuer": issuer},
                        policy,
                        policy.client,
                    )
                )
    return problems


RULES: list[Callable[[Configuration], list[Problem]]] = [
    policies_without_the_exchange_grant,
    transaction_token_policies_without_the_exchange_grant,
    clients_without_a_grant,
    exchange_clients_without_an_api,
    exchange_clients_without_a_policy,
    client_credentials_without_an_api_scope,
    clients_whose_apis_are_all_disabled,
    confidential_clients_that_cannot_authenticate,
    trusted_issuers_without_a_mapping,
    trusted_issuers_accepted_nowhere,
    policies_naming_a_disabled_issuer,
]


def configuration_problems() -> list[Problem]:
    """Every problem of the current configuration (a handful of queries, whatever its size)."""
    config = Configuration.load()
    return [problem for rule in RULES for problem in rule(config)]


def problems_involving(*objects: Model) -> list[Problem]:
    """The problems any of ``objects`` (clients, exchange and transaction-token policies,
    trusted issuers) is part of."""
    return [problem for problem in configuration_problems() if any(problem.involves_object(obj) for obj in objects)]


def visible_configuration_problems(request: HttpRequest) -> list[Problem]:
    """The problems, for an operator who may view clients and exchange policies (the
    messages name clients and the links lead to them); nothing for anyone else."""
    user = request.user
    if not (user.has_perm("oauth.view_application") and user.has_perm("oauth.view_exchangepolicy")):
        return []
    return configuration_problems()
