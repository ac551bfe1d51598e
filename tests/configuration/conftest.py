"""The GloboTicket demo's configuration as a document, and what importing one touches."""

import copy
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from apps.configuration.services import export_configuration
from apps.oauth.models import (
    Application,
    ConfigGeneration,
    ExchangePolicy,
    IssuerMapping,
    TransactionTokenPolicy,
    TrustedIssuer,
)
from apps.resources.models import ApiResource, ApiScope


def export_text(*args: str) -> str:
    out = StringIO()
    call_command("export_config", *args, stdout=out)
    return out.getvalue()


def wipe_configuration() -> None:
    """An empty database, as far as configuration goes: not even what migrations create
    (the operator groups, the management API's own API). People stay: they are no
    configuration (a mapping names one by username)."""
    ExchangePolicy.objects.all().delete()
    TrustedIssuer.objects.all().delete()
    TransactionTokenPolicy.objects.all().delete()
    Application.objects.all().delete()
    ApiScope.objects.all().delete()
    ApiResource.objects.all().delete()
    Group.objects.all().delete()


def configuration_rows() -> dict[str, list[dict[str, Any]]]:
    """Every configuration row and link, as stored, and the configuration generation (which
    every saved client, API, scope or policy changes)."""
    models = [
        ApiResource,
        ApiScope,
        Application,
        Application.allowed_scopes.through,
        ExchangePolicy,
        ExchangePolicy.scopes.through,
        ExchangePolicy.subject_audiences.through,
        ExchangePolicy.trusted_issuers.through,
        TrustedIssuer,
        IssuerMapping,
        TransactionTokenPolicy,
        TransactionTokenPolicy.scopes.through,
        TransactionTokenPolicy.subject_audiences.through,
        Group,
        Group.permissions.through,
        ConfigGeneration,
    ]
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in models}


def seed_transaction_token_policy() -> TransactionTokenPolicy:
    """The basket's transaction-token policy, every field set (whatever seed_demo seeds for it):
    member names stored out of order, a nested context, replacement allowed."""
    policy, _ = TransactionTokenPolicy.objects.update_or_create(
        client=Application.objects.get(client_id="shoppingbasket"),
        defaults={
            "request_details_keys": "amount action",
            "request_context_keys": "req_ip",
            "transaction_context": {"region": {"zone": "eu", "ids": [1, 2]}, "channel": "web"},
            "max_lifetime": 90,
            "accept_txn_tokens": True,
            "enabled": True,
        },
    )
    policy.subject_audiences.set(ApiResource.objects.filter(audience="shoppingbasket"))
    policy.scopes.set(ApiScope.objects.filter(name="shoppingbasket.fullaccess"))
    return policy


K8S = "https://kubernetes.example"


def seed_trusted_issuer() -> TrustedIssuer:
    """A cluster's issuer, every field set: algorithms stored out of order, a mapping of the
    basket's service account (two claims, stored out of order) to its client, one of a
    partner's user to alice; the basket's exchange policy names it."""
    alice, _ = get_user_model().objects.get_or_create(username="alice")
    issuer, _ = TrustedIssuer.objects.update_or_create(
        name="kubernetes",
        defaults={
            "issuer": K8S,
            "jwks_uri": f"{K8S}/openid/v1/jwks",
            "jwks": None,
            "algorithms": "RS256 ES256",
            "audience": "https://idp.test/federation",
            "enabled": True,
        },
    )
    issuer.mappings.all().delete()
    basket = Application.objects.get(client_id="shoppingbasket")
    IssuerMapping.objects.create(
        issuer=issuer, claims={"tenant": "shop", "sub": "system:serviceaccount:shop:basket"}, client=basket
    )
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "partner|alice-1"}, user=alice)
    ExchangePolicy.objects.get(client=basket).trusted_issuers.set([issuer])
    return issuer


@pytest.fixture
def demo(db) -> dict[str, Any]:
    """seed_demo's configuration with the basket's transaction-token policy and a trusted
    issuer, exported: the document the tests edit and import."""
    call_command("seed_demo", stdout=StringIO())
    seed_transaction_token_policy()
    seed_trusted_issuer()
    return export_configuration()


@pytest.fixture
def edited(demo):
    def edit() -> dict[str, Any]:
        return copy.deepcopy(demo)

    return edit


def entry(document: dict[str, Any], section: str, key: str, value: str) -> dict[str, Any]:
    return next(item for item in document[section] if item[key] == value)
