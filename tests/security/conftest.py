"""Fixtures for the security corpus and the fuzzers: a resource server protected by the
toolkit, more parties of the exchange scenario, and alice's tokens after signing in. The
forgeries are in tests/support/forgery.py."""

import os
import tempfile
from collections.abc import Callable

import pytest
from django.test import Client
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.test import APIRequestFactory

from apps.keys.services import jwks_document
from apps.resource_server import authentication
from apps.resource_server.jwks import JwksCache
from tests.resource_server.test_authentication import EventView
from tests.support.flows import Pkce, approve, redeem
from tests.support.http import ISSUER
from tests.support.tokens import TOKEN_EXCHANGE

# The fuzzers keep no example database (database=None); Hypothesis's other caches go to the
# temporary directory too, so nothing is written into the repository.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "idp-security-hypothesis"))


# --- a resource server protected by the toolkit (tests/resource_server's EventView) -------------


@pytest.fixture
def resource_server(apis, settings) -> Callable[..., int]:
    """The eventcatalog API behind JwtAccessTokenAuthentication, reading this IdP's JWKS
    without HTTP; returns a function giving the status of one request with a bearer token."""
    settings.RESOURCE_SERVER = {"ISSUER": ISSUER, "AUDIENCE": "eventcatalog", "JWKS_URI": "https://idp.test/jwks"}
    authentication._jwks["https://idp.test/jwks"] = JwksCache(jwks_document, min_refresh_interval=60)

    def call(token: str, method: str = "get") -> int:
        request = getattr(APIRequestFactory(), method)("/events/", HTTP_AUTHORIZATION=f"Bearer {token}")
        return EventView.as_view()(request).status_code

    yield call
    authentication._jwks.clear()


@pytest.fixture
def catalog_token(apis, make_client, client_credentials_token) -> str:
    """A genuine client-credentials token for the eventcatalog API (read only)."""
    caller = make_client("catalog-reader", scopes=["eventcatalog.read"])
    return client_credentials_token(caller, scope="eventcatalog.read")["access_token"]


@pytest.fixture
def catalog_api(apis, make_client):
    """The eventcatalog API registered as a client, as it introspects tokens."""
    return make_client("eventcatalog-api", grants=[], scopes=[], resource="eventcatalog")


# --- the second hop of a delegation chain -----------------------------------------------------


@pytest.fixture
def discount_service(apis, make_client, make_policy):
    """The discount service, exchanging the tokens it receives for the event catalog
    (its policy allows a chain one actor deep)."""
    service = make_client("discount-svc", grants=[TOKEN_EXCHANGE], scopes=[], resource="discount")
    make_policy(service.client, "eventcatalog", scopes=["eventcatalog.read"], max_depth=1)
    return service


# --- browser flows -------------------------------------------------------------------------------


@pytest.fixture
def web_tokens(browser, web) -> dict[str, str]:
    """What the web app holds after alice signs in: access, refresh and ID token."""
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid profile shoppingbasket.fullaccess", pkce)["code"]
    response = redeem(Client(), web, code, pkce.verifier)
    assert response.status_code == 200, response.content
    return response.json()
