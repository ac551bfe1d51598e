"""Authorization code, PKCE, redirect URI and refresh token attacks (RFC 6749 4.1 and 10, RFC 7636,
RFC 9700 2.1 and 4)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.oauth.models import AccessToken, Grant, RefreshToken
from tests.support.flows import (
    REDIRECT_URI,
    Pkce,
    approve,
    authorize_url,
    consent_form_data,
    error_page_code,
    redeem,
    redirect_params,
    refresh,
)
from tests.support.http import basic_auth, form_post, oauth_error

SCOPE = "openid shoppingbasket.fullaccess"
INVALID_GRANT = (400, "invalid_grant")


@pytest.fixture
def other(make_client):
    """Another confidential client, registered with the same redirect URI as web."""
    return make_client(
        "other",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "shoppingbasket.fullaccess"],
        redirect_uris=[REDIRECT_URI],
    )


@pytest.fixture
def code(browser, web) -> tuple[str, Pkce]:
    pkce = Pkce.new()
    return approve(browser, web.client.client_id, SCOPE, pkce)["code"], pkce


# --- PKCE (RFC 7636, RFC 9700 2.1.1) -------------------------------------------------------------


def test_authorization_request_without_code_challenge_is_invalid_request(browser, web):
    """No code_challenge at all: PKCE is required for every client (RFC 9700 2.1.1)."""
    params = redirect_params(browser.get(authorize_url(web.client.client_id, SCOPE, None)))
    assert params["error"] == "invalid_request"
    assert not Grant.objects.exists()


@pytest.mark.parametrize("method", ["plain", "S512", "s256", ""])
def test_code_challenge_method_other_than_s256_is_invalid_request(browser, web, method):
    """plain (or an unknown method) is a PKCE downgrade (RFC 9700 2.1.1, RFC 7636 4.2)."""
    url = authorize_url(web.client.client_id, SCOPE, None, code_challenge="a" * 43, code_challenge_method=method)
    response = browser.get(url)
    if response.status_code == 200:  # DOT checks the method when the code is created
        response = browser.post("/o/authorize/", {**consent_form_data(response), "allow": "Authorize"})
    assert redirect_params(response)["error"] == "invalid_request"
    assert not Grant.objects.exists()


def test_verifier_for_a_code_issued_without_challenge_is_invalid_grant(api, web, alice):
    """PKCE downgrade: a code with no challenge redeemed with a verifier (RFC 9700 2.1.1, RFC 7636 4.6)."""
    Grant.objects.create(
        user=alice,
        application=web.client,
        code="legacy-code-without-challenge",
        expires=timezone.now() + timedelta(minutes=1),
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
    )
    response = redeem(api, web, "legacy-code-without-challenge", Pkce.new().verifier)
    assert oauth_error(response) == INVALID_GRANT
    assert not AccessToken.objects.exists()


def test_wrong_code_verifier_is_invalid_grant(api, web, code):
    """Another verifier than the one behind the challenge (RFC 7636 4.6)."""
    assert oauth_error(redeem(api, web, code[0], Pkce.new().verifier)) == INVALID_GRANT


def test_missing_code_verifier_is_invalid_grant(api, web, code):
    """The code redeemed without code_verifier (RFC 7636 4.5, RFC 9700 2.1.1)."""
    assert oauth_error(redeem(api, web, code[0], None)) == INVALID_GRANT


def test_challenge_sent_as_verifier_is_invalid_grant(api, web, code):
    """The intercepted S256 challenge replayed as the verifier (RFC 7636 4.6)."""
    assert oauth_error(redeem(api, web, code[0], code[1].challenge)) == INVALID_GRANT


# --- redirect URIs: exact match, error page, no redirect (RFC 9700 2.1, 4.1) --------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("https://web.test/callbackx", id="prefix-longer-path"),
        pytest.param("https://web.test/callback/evil", id="prefix-subpath"),
        pytest.param("https://web.test/callback.evil.test", id="prefix-dotted"),
        pytest.param("https://web.test.evil.test/callback", id="prefix-host"),
        pytest.param("https://web.test/", id="shorter"),
        pytest.param("https://WEB.TEST/callback", id="host-case"),
        pytest.param("https://web.test/CALLBACK", id="path-case"),
        pytest.param("HTTPS://web.test/callback", id="scheme-case"),
        pytest.param("https://web.test/%63allback", id="percent-encoded-char"),
        pytest.param("https://web.test%2Fcallback", id="percent-encoded-slash"),
        pytest.param("https://web.test/callback%23", id="percent-encoded-hash"),
        pytest.param("https://evil.test@web.test/callback", id="userinfo-before-host"),
        pytest.param("https://web.test@evil.test/callback", id="userinfo-is-our-host"),
        pytest.param("https://web.test:443@evil.test/callback", id="userinfo-with-port"),
        pytest.param("https://web.test/callback#frag", id="fragment"),
        pytest.param("https://web.test/callback#@evil.test", id="fragment-userinfo"),
        pytest.param("https://web.test/callback/../callback", id="dot-dot"),
        pytest.param("https://web.test/x/../callback", id="dot-dot-before"),
        pytest.param("https://web.test/callback/..;/x", id="dot-dot-semicolon"),
        pytest.param("https://web.test/callback/%2e%2e/x", id="encoded-dot-dot"),
        pytest.param("https://web.test\\@evil.test/callback", id="backslash"),
        pytest.param("https://web.test:443/callback", id="explicit-port"),
        pytest.param("https://web.test./callback", id="trailing-dot-host"),
        pytest.param("https://web.test/callback?next=https://evil.test", id="added-query"),
        pytest.param("http://web.test/callback", id="downgraded-scheme"),
        pytest.param("//evil.test/callback", id="scheme-relative"),
        pytest.param("javascript:alert(1)//https://web.test/callback", id="javascript"),
        pytest.param(" https://web.test/callback", id="leading-space"),
    ],
)
def test_redirect_uri_variant_gets_an_error_page_not_a_redirect(browser, web, redirect_uri):
    """A variant of the registered redirect URI: exact string match only (RFC 9700 2.1, 4.1.3)."""
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"
    assert not Grant.objects.exists()


def test_redirect_uri_of_another_client_gets_an_error_page(browser, web, make_client):
    """web's client_id with a URI registered only for another client (RFC 6749 10.6)."""
    make_client("evil", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://evil.test/cb"])
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new(), redirect_uri="https://evil.test/cb")
    response = browser.get(url)
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"


def test_consent_post_with_a_swapped_redirect_uri_does_not_redirect_there(browser, web):
    """The consent form posted back with its redirect_uri edited (RFC 6749 10.6, RFC 9700 4.1)."""
    page = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    data = {**consent_form_data(page), "redirect_uri": "https://evil.test/callback", "allow": "Authorize"}
    response = browser.post("/o/authorize/", data)
    assert not response.get("Location", "").startswith("https://evil.test")
    assert not Grant.objects.exists()


# --- authorization codes (RFC 6749 4.1.3, 10.5, RFC 9700 4.5) -------------------------------------


def test_code_of_another_client_is_invalid_grant_and_not_burned(api, web, other, code):
    """Code injection: web's code redeemed by another client with the right verifier (RFC 9700 4.5)."""
    assert oauth_error(redeem(api, other, code[0], code[1].verifier)) == INVALID_GRANT
    assert redeem(api, web, code[0], code[1].verifier).status_code == 200


def test_code_replay_is_invalid_grant_and_revokes_the_first_tokens(api, web, code):
    """A code redeemed twice (RFC 6749 4.1.2, 10.5)."""
    first = redeem(api, web, code[0], code[1].verifier)
    assert first.status_code == 200
    assert oauth_error(redeem(api, web, code[0], code[1].verifier)) == INVALID_GRANT
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_code_with_another_redirect_uri_at_the_token_endpoint_is_invalid_grant(api, web, browser):
    """redirect_uri at the token endpoint differs from the authorization request's (RFC 6749 4.1.3)."""
    web.client.redirect_uris = f"{REDIRECT_URI} https://web.test/other"
    web.client.save()
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    assert oauth_error(redeem(api, web, code, pkce.verifier, redirect_uri="https://web.test/other")) == INVALID_GRANT


def test_expired_code_is_invalid_grant(api, web, code):
    """A code redeemed after it expired (RFC 6749 4.1.2)."""
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert oauth_error(redeem(api, web, code[0], code[1].verifier)) == INVALID_GRANT


def test_guessed_code_is_invalid_grant(api, web, code):
    """A code that was never issued (RFC 6749 10.10)."""
    assert oauth_error(redeem(api, web, code[0] + "x", code[1].verifier)) == INVALID_GRANT


# --- refresh tokens (RFC 6749 6, RFC 9700 4.14) ---------------------------------------------------


def test_refresh_token_of_client_a_used_by_client_b_is_invalid_grant(api, web, other, web_tokens):
    """Another client presents web's refresh token with its own credentials (RFC 6749 6, 10.4)."""
    assert oauth_error(refresh(api, other, web_tokens["refresh_token"])) == INVALID_GRANT
    assert refresh(api, web, web_tokens["refresh_token"]).status_code == 200


def test_refresh_token_replay_is_invalid_grant_and_revokes_the_family(api, web, web_tokens):
    """A rotated refresh token used again (RFC 9700 4.14.2)."""
    rotated = refresh(api, web, web_tokens["refresh_token"]).json()
    assert oauth_error(refresh(api, web, web_tokens["refresh_token"])) == INVALID_GRANT
    assert oauth_error(refresh(api, web, rotated["refresh_token"])) == INVALID_GRANT


def test_refresh_with_a_wider_scope_is_invalid_scope(api, web, web_tokens):
    """Scope escalation on refresh (RFC 6749 6)."""
    response = refresh(api, web, web_tokens["refresh_token"], scope=f"{SCOPE} eventcatalog.read")
    assert oauth_error(response) == (400, "invalid_scope")


def test_access_token_used_as_refresh_token_is_invalid_grant(api, web, web_tokens):
    """The access token presented as a refresh token (RFC 6749 6)."""
    assert oauth_error(refresh(api, web, web_tokens["access_token"])) == INVALID_GRANT


# --- grants and response types RFC 9700 removes --------------------------------------------------


def test_password_grant_is_unsupported_grant_type(api, web, alice, token_request):
    """Resource owner password credentials (RFC 9700 2.4)."""
    response = token_request(web, {"grant_type": "password", "username": "alice", "password": "x"})
    assert oauth_error(response) == (400, "unsupported_grant_type")


@pytest.mark.parametrize("response_type", ["token", "id_token token", "code token"])
def test_implicit_and_hybrid_response_types_are_refused(browser, web, response_type):
    """Tokens in the front channel (RFC 9700 2.1.2)."""
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), response_type=response_type))
    params = redirect_params(response)
    assert params["error"] == "unsupported_response_type"
    assert "access_token" not in response["Location"]


def test_code_in_the_query_of_a_token_request_is_invalid_request(api, web, code):
    """Token request parameters in the URL (RFC 6749 3.2)."""
    url = f"/o/token/?code={code[0]}&code_verifier={code[1].verifier}"
    auth = basic_auth(web.client.client_id, web.client_secret)
    response = form_post(
        api, url, {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}, HTTP_AUTHORIZATION=auth
    )
    assert oauth_error(response) == (400, "invalid_request")
    assert not AccessToken.objects.exists()


@pytest.fixture
def api() -> Client:
    return Client()
