"""The scenario every directory builds on, as fixtures (a pytest plugin, registered in
tests/conftest.py): the GloboTicket APIs, clients, alice and her browser, the shopping
basket's exchange policy, and requests to /o/token/. Everything is made through the same
services operators use."""

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.clients.services import ClientCredentials, save_client
from apps.oauth.models import Application, ExchangeMode, ExchangePolicy
from apps.ratelimit.counters import reset_counters
from apps.resources.models import ApiResource, ApiScope
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token, issue_user_token, store_access_token
from tests.support.http import TOKEN_URL, basic_auth, form_post
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

# --- APIs and clients --------------------------------------------------------------------------


@pytest.fixture
def make_resource(db) -> Callable[..., ApiResource]:
    def make(audience: str, scopes: Sequence[str] = (), **fields) -> ApiResource:
        fields.setdefault("name", audience.title())
        fields.setdefault("resource_uri", f"urn:test:{audience}")
        resource = ApiResource.objects.create(audience=audience, **fields)
        for name in scopes:
            ApiScope.objects.create(name=name, resource=resource, description=f"{name} description")
        return resource

    return make


@pytest.fixture
def apis(make_resource) -> dict[str, ApiResource]:
    """Three APIs as in the GloboTicket example, plus the OpenID identity scopes."""
    for name in ("openid", "profile", "email"):
        ApiScope.objects.create(name=name, description=name)
    return {
        "eventcatalog": make_resource("eventcatalog", ["eventcatalog.read", "eventcatalog.write"]),
        "shoppingbasket": make_resource("shoppingbasket", ["shoppingbasket.fullaccess"]),
        "discount": make_resource("discount", ["discount.fullaccess"], signing_algorithm="ES256"),
    }


@pytest.fixture
def make_client(db) -> Callable[..., ClientCredentials]:
    def make(name: str = "service", grants=("client_credentials",), scopes: Sequence[str] = (), **kwargs):
        return save_client(name=name, grant_types=list(grants), scopes=list(scopes), **kwargs)

    return make


# --- the token endpoint ------------------------------------------------------------------------


@pytest.fixture
def token_request(client) -> Callable[..., object]:
    """POST /o/token/ authenticating with client_secret_basic (or ``auth=None`` / ``auth="post"``)."""

    def request(credentials: ClientCredentials | None, data, auth: str | None = "basic"):
        headers = {}
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if credentials is not None and auth == "basic":
            headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
        elif credentials is not None and auth == "post":
            items += [("client_id", credentials.client.client_id), ("client_secret", credentials.client_secret)]
        return form_post(client, TOKEN_URL, items, **headers)

    return request


@pytest.fixture
def client_credentials_token(token_request) -> Callable[..., dict]:
    def issue(credentials: ClientCredentials, **params) -> dict:
        response = token_request(credentials, {"grant_type": "client_credentials", **params})
        assert response.status_code == 200, response.content
        return response.json()

    return issue


@pytest.fixture
def rate_limits(settings) -> Iterator[Callable[..., None]]:
    """Turns the rate limits on (the test settings turn them off), each generous unless the
    test names it: ``rate_limits(login_username=(3, 60))``. Counters start and end empty."""

    def configure(**overrides: tuple[int, int]) -> None:
        generous = {
            "client": (1000, 60),
            "address_failures": (1000, 60),
            "login": (1000, 60),
            "login_username": (1000, 60),
            "account_mail": (1000, 60),
        }
        settings.IDP = {**settings.IDP, "RATE_LIMITING": True, "RATE_LIMITS": {**generous, **overrides}}

    reset_counters()
    yield configure
    reset_counters()


# --- alice, the web app she signs in to, and the shopping basket that exchanges her token ----


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice", email="alice@example.test", password="x", first_name="Alice", last_name="Smith"
    )


@pytest.fixture
def browser(alice) -> Client:
    """alice's browser, signed in to the IdP."""
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
def native_app(apis, make_client):
    """A public client (an app on a phone: no secret), with PKCE as every client here."""
    return make_client(
        "native",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "eventcatalog.read"],
        redirect_uris=["https://web.test/callback"],
        client_type=Application.CLIENT_PUBLIC,
    )


@pytest.fixture
def spa(apis, make_client):
    """A public client (a single-page app): no secret, PKCE, refresh tokens."""
    return make_client(
        "spa",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "shoppingbasket.fullaccess"],
        redirect_uris=["https://web.test/callback"],
        client_type=Application.CLIENT_PUBLIC,
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
