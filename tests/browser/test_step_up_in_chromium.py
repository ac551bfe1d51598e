"""Step-up in Chromium. An API that requires a second factor: bob's browser is signed in with his
password only; when an app asks for that API, the IdP does not issue a code for that session:
it asks for his second factor (not his password again), and only then is the code issued,
its tokens saying how he signed in. With ``prompt=none`` the app is told
``interaction_required`` instead. A client asking ``acr_values`` of carol, who has no factor:
she sets one up and continues, and that counts as her second factor."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.clients.services import save_client
from apps.protocol.strength import ACR_MFA, ACR_SFA
from apps.resources.models import ApiResource, ApiScope
from tests.support.authenticator import totp_code
from tests.support.flows import REDIRECT_URI, Pkce, authorize_url
from tests.support.http import basic_auth

PASSWORD = "a-long-demo-password"


@pytest.fixture
def setup(transactional_db, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code is typed on purpose below
    ApiScope.objects.create(name="openid", description="Sign you in")
    basket = ApiResource.objects.create(audience="basket", resource_uri="urn:test:basket", name="Basket")
    ApiScope.objects.create(name="basket.read", resource=basket, description="See your basket")
    payouts = ApiResource.objects.create(
        audience="payouts", resource_uri="urn:test:payouts", name="Payouts", require_second_factor=True
    )
    ApiScope.objects.create(name="payouts.read", resource=payouts, description="See your payouts")
    get_user_model().objects.create_user("bob", password=PASSWORD)
    return save_client(
        name="Shop",
        grant_types=["authorization_code"],
        scopes=["openid", "basket.read", "payouts.read"],
        redirect_uris=[REDIRECT_URI],
        skip_authorization=True,  # first-party: no consent screen, the requirement still holds
    )


def redirect_query(page) -> dict[str, str]:
    page.wait_for_url(f"{REDIRECT_URI}**")
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def tokens(live_server, web, code: str, pkce: Pkce) -> dict:
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": pkce.verifier,
        },
        headers={"Authorization": basic_auth(web.client.client_id, web.client_secret)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_password_only_session_gets_no_code_for_an_api_that_requires_a_second_factor(chromium, live_server, setup):
    web = setup
    page = chromium.new_context().new_page()
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="callback"))

    # 1. bob signs in with his password for the basket, which requires nothing more.
    pkce = Pkce.new()
    page.goto(live_server.url + authorize_url(web.client.client_id, "openid basket.read", pkce))
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main button[type=submit]", has_text="Sign in").click()
    sign_in = tokens(live_server, web, redirect_query(page)["code"], pkce)
    assert claims(sign_in["access_token"])["acr"] == ACR_SFA
    assert claims(sign_in["id_token"])["amr"] == ["pwd"]

    # 2. He sets up an authenticator app in another browser; this session stays password-only.
    device = TOTPDevice.objects.create(user=get_user_model().objects.get(username="bob"), name="phone", confirmed=True)

    # 3. An app that may not show a page is told so, with no code.
    pkce = Pkce.new()
    # (The browser's own cookies, without following the redirect to the app.)
    url = live_server.url + authorize_url(web.client.client_id, "openid payouts.read", pkce, prompt="none")
    answer = page.context.request.get(url, max_redirects=0)
    assert answer.status == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert parse_qs(location.query)["error"] == ["interaction_required"]

    # 4. Asked for the payouts API, the IdP wants his second factor, not his password.
    page.goto(live_server.url + authorize_url(web.client.client_id, "openid payouts.read", pkce))
    assert urlsplit(page.url).path == "/accounts/login/second-factor/"
    assert page.locator("#id_password").count() == 0
    page.fill("#id_code", "000000" if totp_code(device) != "000000" else "111111")
    page.locator("main button[type=submit]", has_text="Confirm").first.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/accounts/login/second-factor/"  # refused: still here
    assert page.locator("p.error").inner_text().startswith("That code is not correct.")
    device.refresh_from_db()
    page.fill("#id_code", totp_code(device))
    page.locator("main button[type=submit]", has_text="Confirm").first.click()

    # 5. Back to the app with a code whose tokens say how he signed in.
    stepped_up = tokens(live_server, web, redirect_query(page)["code"], pkce)
    access_token, id_token = claims(stepped_up["access_token"]), claims(stepped_up["id_token"])
    assert (access_token["aud"], access_token["acr"]) == (["payouts"], ACR_MFA)
    assert (id_token["amr"], id_token["acr"]) == (["pwd", "otp", "mfa"], ACR_MFA)
    # The sign-in time is still the password's: a step-up adds a factor, not a fresh sign-in.
    assert id_token["auth_time"] == claims(sign_in["id_token"])["auth_time"]


def test_a_person_without_a_second_factor_sets_one_up_and_continues(chromium, live_server, setup):
    web = setup
    carol = get_user_model().objects.create_user("carol", password=PASSWORD)
    page = chromium.new_context().new_page()
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="callback"))

    # The app asks for a stronger sign-in itself (acr_values), for an API that requires nothing.
    pkce = Pkce.new()
    page.goto(live_server.url + authorize_url(web.client.client_id, "openid basket.read", pkce, acr_values=ACR_MFA))
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main button[type=submit]", has_text="Sign in").click()
    page.wait_for_url(f"{live_server.url}/accounts/security/**")
    assert "asks for a second factor" in page.locator("p.notice").inner_text()
    assert page.locator("#continue").count() == 0  # nothing to continue with yet

    page.locator("main button", has_text="Set up an authenticator app").click()
    page.wait_for_selector("#totp-secret")
    device = TOTPDevice.objects.get(user=carol, confirmed=False)
    page.fill("#id_totp_code", totp_code(device))
    page.fill("#id_totp_password", PASSWORD)
    page.locator("main button", has_text="Confirm and turn on").click()
    page.wait_for_selector("#continue")
    assert page.locator("#recovery-codes code").count() == 10
    page.click("#continue")

    tokens_of_carol = tokens(live_server, web, redirect_query(page)["code"], pkce)
    id_token = claims(tokens_of_carol["id_token"])
    assert (id_token["amr"], id_token["acr"]) == (["pwd", "otp", "mfa"], ACR_MFA)
    assert claims(tokens_of_carol["access_token"])["acr"] == ACR_MFA
