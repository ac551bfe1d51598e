"""Fixtures for the token-exchange tests: the seed's scenario, built through services."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.oauth.models import ExchangeMode, ExchangePolicy
from apps.oauth.services.clients import issue_user_token
from apps.oauth.tokens import issue_access_token, store_access_token
from apps.resources.models import ApiScope
from apps.resources.services import plan_token

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice", email="alice@example.test", password="x", first_name="Alice", last_name="Smith"
    )


@pytest.fixture
def browser(alice):
    """alice's browser, signed in to the IdP."""
    from django.test import Client

    browser = Client()
    browser.force_login(alice)
    return browser


@pytest.fixture
def web(apis, make_client):
    """The browser-facing app alice signs in to."""
    return make_client(
        "web",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "profile", "email", "eventcatalog.read", "shoppingbasket.fullaccess"],
        redirect_uris=["https://web.test/callback"],
    )


@pytest.fixture
def basket(apis, make_client):
    """The shopping basket service: acts as the shoppingbasket API."""
    return make_client(
        "basket",
        grants=["client_credentials", TOKEN_EXCHANGE],
        scopes=["discount.fullaccess"],
        resource="shoppingbasket",
    )


@pytest.fixture
def make_policy(apis):
    def make(client, target: str, scopes=None, **fields) -> ExchangePolicy:
        policy = ExchangePolicy.objects.create(client=client, target=apis[target], **fields)
        policy.scopes.set(ApiScope.objects.filter(name__in=scopes or [f"{target}.fullaccess"]))
        return policy

    return make


@pytest.fixture
def basket_policy(basket, make_policy):
    return make_policy(basket.client, "discount", max_depth=1, max_lifetime=300, mode=ExchangeMode.DELEGATION)


@pytest.fixture
def alice_token(web, alice) -> str:
    """alice's token for the shopping basket, as the web app holds it after login."""
    return issue_user_token(client=web.client, user=alice, scopes=["shoppingbasket.fullaccess"]).token


@pytest.fixture
def mint(web, alice):
    """A stored access token for alice with arbitrary extra claims or times (for edge cases)."""

    def make(*, scopes=("shoppingbasket.fullaccess",), extra_claims=None, age: int = 0, client=None) -> str:
        client = client or web.client
        plan = plan_token(allowed_scopes=client.allowed_scope_objects(), requested_scopes=list(scopes))
        issued = issue_access_token(
            client_id=client.client_id,
            user=alice,
            plan=plan,
            extra_claims=extra_claims,
            now=timezone.now() - timedelta(seconds=age),
        )
        store_access_token(issued=issued, application=client, user=alice)
        return issued.token

    return make


@pytest.fixture
def exchange(token_request):
    def post(credentials, subject_token, **params):
        data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE}
        data.update(params)
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post
