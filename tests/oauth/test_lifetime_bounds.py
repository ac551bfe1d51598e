"""Every lifetime in seconds is bounded (one day), in the model, so the admin and the
management API refuse more; and a stored value beyond it (saved before the bound) neither
breaks the JWKS nor key rotation."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection

from apps.keys.services import ensure_signing_keys, rotate_keys
from apps.oauth.models import ExchangePolicy, KeyState, SigningKey
from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, ApiResource
from tests.support.http import JWKS_URL

# What a column can hold: SQLite takes 10**12 (it overflowed dates), PostgreSQL's integer
# stops at 2**31 - 1; both are far beyond the one-day bound.
ABSURD = 10**12 if connection.vendor == "sqlite" else 2**31 - 1

ONE_DAY = 24 * 3600


def test_the_bound_is_one_day():
    assert MAX_ACCESS_TOKEN_LIFETIME == ONE_DAY


@pytest.mark.parametrize("lifetime", [ONE_DAY + 1, 10**12])
def test_api_resource_refuses_a_lifetime_beyond_the_bound(apis, lifetime):
    resource = apis["discount"]
    resource.access_token_lifetime = lifetime
    with pytest.raises(ValidationError) as refused:
        resource.full_clean()
    assert list(refused.value.message_dict) == ["access_token_lifetime"]
    resource.access_token_lifetime = ONE_DAY
    resource.full_clean()


@pytest.mark.parametrize("lifetime", [ONE_DAY + 1, 10**12])
def test_exchange_policy_refuses_a_lifetime_beyond_the_bound(basket_policy, lifetime):
    basket_policy.max_lifetime = lifetime
    with pytest.raises(ValidationError) as refused:
        basket_policy.full_clean()
    assert list(refused.value.message_dict) == ["max_lifetime"]


def test_jwks_and_rotation_survive_an_absurd_stored_lifetime(client, apis):
    ensure_signing_keys()
    ApiResource.objects.filter(audience="discount").update(access_token_lifetime=ABSURD)
    retired = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE)
    assert client.get(JWKS_URL).status_code == 200

    rotate_keys()
    response = client.get(JWKS_URL)

    assert response.status_code == 200
    published = {key["kid"] for key in response.json()["keys"]}
    assert retired.kid in published  # still within its retention
    assert SigningKey.objects.get(kid=retired.kid).state == KeyState.RETIRED


@pytest.mark.parametrize(
    ("app", "migration", "model", "field"),
    [
        ("resources", "0003_bound_lifetimes", ApiResource, "access_token_lifetime"),
        ("oauth", "0005_bound_lifetimes", ExchangePolicy, "max_lifetime"),
    ],
)
def test_migration_brings_stored_lifetimes_within_the_bound(basket_policy, app, migration, model, field):
    """Rows saved before the bound are lowered to it (the bound is what they can mean now)."""
    model.objects.update(**{field: ABSURD})
    module = importlib.import_module(f"apps.{app}.migrations.{migration}")
    module.bound_lifetimes(django_apps, None)
    assert set(model.objects.values_list(field, flat=True)) == {ONE_DAY}


def test_a_stored_lifetime_beyond_the_bound_issues_tokens_within_it(apis, make_client, client_credentials_token):
    ApiResource.objects.filter(audience="discount").update(access_token_lifetime=ABSURD)
    service = make_client("svc", scopes=["discount.fullaccess"])
    body = client_credentials_token(service, scope="discount.fullaccess")
    assert body["expires_in"] == ONE_DAY
