"""alice signs in, consents, and the web app gets tokens for exactly what she allowed."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model

from apps.clients.services import save_client
from apps.consent.models import Consent
from apps.resources.models import ApiResource, ApiScope
from tests.support.flows import Pkce, authorize_url
from tests.support.http import basic_auth

REDIRECT_URI = "https://web.test/callback"
SCOPE = "openid profile shoppingbasket.fullaccess"
PASSWORD = "a-long-demo-password"


@pytest.fixture
def setup(transactional_db):
    for name in ("openid", "profile"):
        ApiScope.objects.create(name=name, description=f"{name} (identity)")
    basket = ApiResource.objects.create(
        audience="shoppingbasket", resource_uri="urn:test:shoppingbasket", name="Shopping basket"
    )
    ApiScope.objects.create(name="shoppingbasket.fullaccess", resource=basket, description="Use your shopping basket")
    get_user_model().objects.create_user("alice", password=PASSWORD, first_name="Alice", last_name="Smith")
    return save_client(
        name="GloboTicket",
        grant_types=["authorization_code", "refresh_token"],
        scopes=SCOPE.split(),
        redirect_uris=[REDIRECT_URI],
    )


def sign_in_and_authorize(context, live_server, web, pkce: Pkce, screenshot=None):
    """Open the authorization URL; sign in; returns the page (on consent or at the callback)."""
    page = context.new_page()
    # The web app itself is not running: answer its callback so the code can be read.
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="callback"))
    page.goto(live_server.url + authorize_url(web.client.client_id, SCOPE, pkce))
    assert page.locator("h1").inner_text() == "Sign in"
    if screenshot:
        screenshot(page, "login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def code_from(page) -> dict[str, str]:
    page.wait_for_url(f"{REDIRECT_URI}**")
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def redeem(live_server, web, code: str, verifier: str) -> requests.Response:
    return requests.post(
        f"{live_server.url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": basic_auth(web.client.client_id, web.client_secret)},
        timeout=10,
    )


def test_login_consent_code_tokens_then_revoke(chromium, live_server, setup, screenshot):
    web = setup
    context = chromium.new_context()
    pkce = Pkce.new()
    page = sign_in_and_authorize(context, live_server, web, pkce, screenshot)

    # The consent screen names the app and groups what it asks for by API.
    assert page.locator("h1").inner_text() == "Allow GloboTicket?"
    assert page.get_by_role("heading", name="Shopping basket").is_visible()
    assert page.get_by_text("Use your shopping basket").is_visible()
    screenshot(page, "consent")
    page.get_by_role("button", name="Allow").click()

    params = code_from(page)
    assert params["state"] == "st-123"
    assert params["iss"] == "https://idp.test"
    response = redeem(live_server, web, params["code"], pkce.verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["aud"] == ["shoppingbasket"]
    # RFC 9068 2.2.3: the JWT names only scopes meaningful to its aud; the response lists all.
    assert access["scope"] == "shoppingbasket.fullaccess"
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert set(Consent.objects.get().scope_list) == set(SCOPE.split())

    # A second sign-in, in a fresh browser session, goes straight back with a code.
    second = chromium.new_context()
    pkce2 = Pkce.new()
    again = sign_in_and_authorize(second, live_server, web, pkce2)
    assert redeem(live_server, web, code_from(again)["code"], pkce2.verifier).status_code == 200
    second.close()

    # Revoking on the connected-apps page kills the refresh token.
    apps_page = context.new_page()
    apps_page.goto(f"{live_server.url}/accounts/apps/")
    apps_page.get_by_role("button", name="Revoke access for GloboTicket").click()
    apps_page.wait_for_load_state()
    assert apps_page.get_by_text("No app has access to your account.").is_visible()
    refreshed = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic_auth(web.client.client_id, web.client_secret)},
        timeout=10,
    )
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
    context.close()


def test_denying_returns_access_denied(chromium, live_server, setup):
    context = chromium.new_context()
    page = sign_in_and_authorize(context, live_server, setup, Pkce.new())
    page.get_by_role("button", name="Deny").click()
    assert code_from(page)["error"] == "access_denied"
    context.close()


def test_wrong_password_shows_one_generic_message(chromium, live_server, setup):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That username and password do not match an account."
    context.close()
