"""A pushed authorization request (RFC 9126) in Chromium: the app pushes its request, sends
alice's browser with only client_id and request_uri; she signs in, consents, the app gets its
code and tokens. The link then works no more, in her browser or any other."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from apps.clients.services import save_client
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope
from tests.support.flows import Pkce
from tests.support.http import basic_auth

REDIRECT_URI = "https://web.test/callback"
SCOPE = "openid shoppingbasket.fullaccess"
PASSWORD = "a-long-demo-password"


@pytest.fixture
def setup(transactional_db):
    ApiScope.objects.create(name="openid", description="Sign you in")
    basket = ApiResource.objects.create(
        audience="shoppingbasket", resource_uri="urn:test:shoppingbasket", name="Shopping basket"
    )
    ApiScope.objects.create(name="shoppingbasket.fullaccess", resource=basket, description="Use your shopping basket")
    get_user_model().objects.create_user("alice", password=PASSWORD)
    web = save_client(
        name="GloboTicket",
        grant_types=["authorization_code"],
        scopes=SCOPE.split(),
        redirect_uris=[REDIRECT_URI],
    )
    # This app sends every authorization request through /o/par/ (RFC 9126 section 5).
    Application.objects.filter(pk=web.client.pk).update(require_pushed_authorization_requests=True)
    return web


def push(live_server, web, pkce: Pkce) -> str:
    response = requests.post(
        f"{live_server.url}/o/par/",
        data={
            "response_type": "code",
            "client_id": web.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": "st-pushed",
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        },
        headers={"Authorization": basic_auth(web.client.client_id, web.client_secret)},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["request_uri"]


def test_a_person_signs_in_and_consents_through_a_pushed_request(chromium, live_server, setup):
    web, pkce = setup, Pkce.new()
    url = f"{live_server.url}/o/authorize/?" + urlencode(
        {"client_id": web.client.client_id, "request_uri": push(live_server, web, pkce)}
    )
    context = chromium.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="callback"))

    page.goto(url)
    assert page.locator("h1").inner_text() == "Sign in"
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Allow GloboTicket?"
    assert page.get_by_text("Use your shopping basket").is_visible()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(f"{REDIRECT_URI}**")
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["state"] == "st-pushed"
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": pkce.verifier,
        },
        headers={"Authorization": basic_auth(web.client.client_id, web.client_secret)},
        timeout=10,
    )
    assert response.status_code == 200, response.text

    # Used: the same link now shows an error page, and never goes back to the app.
    page.goto(url)
    assert page.locator("h1").inner_text() == "This sign-in link has expired"
    assert page.get_by_text("invalid_request_uri").is_visible()
    context.close()
