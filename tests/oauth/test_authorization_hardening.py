"""Regression tests: consent, session and lockout bypasses; 500s reachable from a browser."""

import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.sessions import SESSION_KEY
from apps.oauth.models import AccessToken, Grant
from apps.tokens.issuance import issue_user_token
from tests.support.flows import Pkce, approve, authorize_url, redeem, redirect_params, refresh
from tests.support.http import oauth_error

SCOPE = "openid shoppingbasket.fullaccess"


def test_approval_prompt_auto_never_skips_the_consent_screen(browser, web, alice):
    issue_user_token(client=web.client, user=alice, scopes=["shoppingbasket.fullaccess"])  # a live token, no consent
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), approval_prompt="auto"))
    assert response.status_code == 200
    assert "Allow web?" in response.content.decode()


def test_error_redirects_carry_the_issuer(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    denied = redirect_params(browser.post("/o/authorize/", data))
    assert (denied["error"], denied["iss"]) == ("access_denied", "https://idp.test")
    silent = redirect_params(browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="none")))
    assert (silent["error"], silent["iss"]) == ("consent_required", "https://idp.test")


# --- prompt=login, max_age, auth_time ----------------------------------------------------------


def test_prompt_login_asks_for_the_password_again(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="login"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "prompt" not in response["Location"]
    assert "_auth_user_id" not in browser.session


def test_max_age_exceeded_asks_for_the_password_again(browser, web):
    session = browser.session
    session[SESSION_KEY] = int(time.time()) - 7200
    session.save()
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), max_age="60"))
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in browser.session


def test_auth_time_is_when_this_session_signed_in(client, web, alice):
    alice.set_password("pw-for-this-test")
    alice.save()
    client.post("/accounts/login/", {"username": "alice", "password": "pw-for-this-test"})
    signed_in_at = client.session[SESSION_KEY]
    pkce = Pkce.new()
    params = approve(client, web.client.client_id, SCOPE, pkce, max_age="600")
    id_token = redeem(Client(), web, params["code"], pkce.verifier).json()["id_token"]
    assert jwt.decode(id_token, options={"verify_signature": False})["auth_time"] == signed_in_at


# --- disabled users get nothing new ------------------------------------------------------------


def test_disabled_user_cannot_redeem_a_code_or_refresh(browser, web, alice):
    pkce = Pkce.new()
    tokens = redeem(Client(), web, approve(browser, web.client.client_id, SCOPE, pkce)["code"], pkce.verifier).json()
    pending = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pending)["code"]
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)

    assert oauth_error(redeem(Client(), web, code, pending.verifier)) == (400, "invalid_grant")
    assert oauth_error(refresh(Client(), web, tokens["refresh_token"])) == (400, "invalid_grant")


# --- revocation is complete --------------------------------------------------------------------


def test_revoking_a_connected_app_kills_codes_not_yet_redeemed(browser, web):
    from apps.consent.models import Consent

    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    browser.post("/accounts/apps/", {"consent": Consent.objects.get().pk})
    assert oauth_error(redeem(Client(), web, code, pkce.verifier)) == (400, "invalid_grant")
    assert not Grant.objects.filter(redeemed_at__isnull=True).exists()


def test_an_old_id_token_in_a_strangers_hands_revokes_nothing(browser, web):
    web.client.post_logout_redirect_uris = "https://web.test/bye"
    web.client.save()
    pkce = Pkce.new()
    tokens = redeem(Client(), web, approve(browser, web.client.client_id, SCOPE, pkce)["code"], pkce.verifier).json()
    Client().get(
        "/o/logout/", {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://web.test/bye"}
    )
    assert AccessToken.objects.count() == 1


# --- bad input: an error page, never a 500 ------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [{"nonce": "n" * 300}, {"code_challenge": "c" * 200}, {"code_challenge": "short"}, {"code_challenge": "é" * 50}],
)
def test_oversized_or_malformed_authorization_parameters_get_an_error_page(browser, web, extra):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), **extra))
    assert response.status_code == 400
    assert "Location" not in response


def test_consent_post_with_an_unknown_client_is_an_error_page(browser, web):
    page = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    response = browser.post("/o/authorize/", {**data, "client_id": "no-such-client", "allow": "Authorize"})
    assert response.status_code == 400


def test_logout_for_an_unknown_client_is_an_error_page(browser):
    assert browser.get("/o/logout/", {"client_id": "nope"}).status_code == 400


@pytest.mark.parametrize("consent", ["abc", "", "1.5", "-1"])
def test_connected_apps_with_a_bad_id_is_404(browser, consent):
    assert browser.post("/accounts/apps/", {"consent": consent}).status_code == 404
