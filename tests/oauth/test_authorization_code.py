"""Authorization code + PKCE (RFC 6749 4.1, RFC 7636, RFC 9700, RFC 9207) with consent."""

import jwt
import pytest
from django.test import Client

from apps.consent.models import Consent
from apps.oauth.models import AccessToken, RefreshToken
from tests.support.flows import REDIRECT_URI, Pkce, approve, authorize_url, race, redeem, redirect_params
from tests.support.http import oauth_error

SCOPE = "openid profile shoppingbasket.fullaccess"


@pytest.fixture
def api() -> Client:
    return Client()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_consent_screen_names_the_client_and_groups_scopes_by_api(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Allow web?" in page
    assert "Your identity" in page
    assert "Shoppingbasket" in page  # the API's name heads its scopes
    assert "shoppingbasket.fullaccess description" in page


def test_full_flow_issues_tokens_for_what_was_consented(browser, api, web, alice):
    pkce = Pkce.new()
    params = approve(browser, web.client.client_id, SCOPE, pkce, nonce="n-1")
    assert params["state"] == "st-123"
    assert params["iss"] == "https://idp.test"  # RFC 9207

    response = redeem(api, web, params["code"], pkce.verifier)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scope"].split()) == set(SCOPE.split())
    access = claims_of(body["access_token"])
    assert access["aud"] == ["shoppingbasket"]
    assert access["sub"] == str(alice.pk)
    assert access["client_id"] == web.client.client_id
    id_token = claims_of(body["id_token"])
    assert id_token["aud"] == web.client.client_id
    assert id_token["nonce"] == "n-1"
    assert id_token["sub"] == str(alice.pk)
    assert id_token["name"] == "Alice Smith"
    assert "email" not in id_token  # no email scope
    assert "refresh_token" in body
    assert set(Consent.objects.get().scope_list) == set(SCOPE.split())


def test_id_token_verifies_with_the_jwks(browser, api, web, client):
    pkce = Pkce.new()
    body = redeem(api, web, approve(browser, web.client.client_id, SCOPE, pkce)["code"], pkce.verifier).json()
    header = jwt.get_unverified_header(body["id_token"])
    key = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())[header["kid"]]
    claims = jwt.decode(body["id_token"], key.key, algorithms=["RS256"], audience=web.client.client_id)
    assert claims["iss"] == "https://idp.test"


def test_second_login_with_same_or_fewer_scopes_skips_consent(browser, web):
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    for scope in (SCOPE, "openid shoppingbasket.fullaccess"):
        response = browser.get(authorize_url(web.client.client_id, scope, Pkce.new()))
        assert "code" in redirect_params(response)


def test_new_scope_asks_again(browser, web):
    approve(browser, web.client.client_id, "openid", Pkce.new())
    response = browser.get(authorize_url(web.client.client_id, "openid eventcatalog.read", Pkce.new()))
    assert response.status_code == 200
    approve(browser, web.client.client_id, "openid eventcatalog.read", Pkce.new())
    assert set(Consent.objects.get().scope_list) == {"openid", "eventcatalog.read"}


def test_prompt_consent_shows_the_screen_again(browser, web):
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="consent"))
    assert response.status_code == 200


def test_expired_consent_asks_again(browser, web):
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    Consent.objects.update(expires_at=Consent.objects.get().granted_at)
    assert browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new())).status_code == 200


def test_denial_returns_access_denied(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    params = redirect_params(browser.post("/o/authorize/", data))
    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"
    assert not Consent.objects.exists()


def test_first_party_client_skips_consent(browser, web):
    web.client.skip_authorization = True
    web.client.save()
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert "code" in redirect_params(response)


def test_anonymous_user_is_sent_to_login(web):
    response = Client().get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_prompt_none_without_session_is_login_required(web):
    response = Client().get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="none"))
    assert redirect_params(response)["error"] == "login_required"


# --- PKCE (RFC 7636, RFC 9700 2.1.1) ----------------------------------------------------------


def test_missing_code_challenge_is_invalid_request(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, None))
    assert redirect_params(response)["error"] == "invalid_request"


def test_plain_code_challenge_is_invalid_request(browser, web):
    url = authorize_url(web.client.client_id, SCOPE, None, code_challenge="a" * 43, code_challenge_method="plain")
    response = browser.get(url)
    if response.status_code == 200:  # DOT refuses plain when the code is created
        data = {k: v for k, v in response.context["form"].initial.items() if v is not None}
        response = browser.post("/o/authorize/", {**data, "allow": "Authorize"})
    assert redirect_params(response)["error"] == "invalid_request"


def test_wrong_verifier_is_invalid_grant(browser, api, web):
    params = approve(browser, web.client.client_id, SCOPE, Pkce.new())
    assert oauth_error(redeem(api, web, params["code"], Pkce.new().verifier)) == (400, "invalid_grant")


def test_missing_verifier_is_invalid_grant(browser, api, web):
    params = approve(browser, web.client.client_id, SCOPE, Pkce.new())
    assert oauth_error(redeem(api, web, params["code"], None)) == (400, "invalid_grant")


# --- redirect URIs: exact match, error page and no redirect ------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://web.test/callback/..;/x",
        "https://web.test/callback?extra=1",
        "https://web.test/callback#frag",
        "https://evil.test/callback",
        "https://web.test@evil.test/callback",
        "https://a@b@evil.test/",
        "https://WEB.test/callback",
        "https://web.test/Callback",
        "https://web.test/callback/",
        "https://web.test/callbackx",
        "http://web.test/callback",
        "https://web.test/call%62ack",
    ],
)
def test_redirect_uri_variants_get_an_error_page_not_a_redirect(browser, web, redirect_uri):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "Location" not in response


@pytest.mark.parametrize("scope", ["discount.fullaccess", "no.such.scope"])
def test_scope_the_client_may_not_have_goes_back_as_invalid_scope(browser, web, scope):
    params = redirect_params(browser.get(authorize_url(web.client.client_id, scope, Pkce.new())))
    assert params["error"] == "invalid_scope"
    assert params["state"] == "st-123"


def test_unknown_client_gets_an_error_page(browser, web):
    response = browser.get(authorize_url("no-such-client", SCOPE, Pkce.new()))
    assert response.status_code == 400
    assert "Location" not in response


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", "code id_token"])
def test_implicit_and_hybrid_response_types_are_refused(browser, web, response_type):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), response_type=response_type))
    assert redirect_params(response)["error"] == "unsupported_response_type"


# --- codes are single use and bound to client and redirect URI --------------------------------


def test_code_replay_is_invalid_grant_and_revokes_the_first_tokens(browser, api, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    first = redeem(api, web, code, pkce.verifier)
    assert first.status_code == 200

    assert oauth_error(redeem(api, web, code, pkce.verifier)) == (400, "invalid_grant")
    assert not AccessToken.objects.exists()
    assert RefreshToken.objects.get().revoked is not None


def test_code_replay_after_refresh_revokes_the_whole_family(browser, api, web):
    from tests.support.flows import refresh

    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    body = redeem(api, web, code, pkce.verifier).json()
    rotated = refresh(api, web, body["refresh_token"]).json()
    assert "access_token" in rotated

    assert oauth_error(redeem(api, web, code, pkce.verifier)) == (400, "invalid_grant")
    assert oauth_error(refresh(api, web, rotated["refresh_token"])) == (400, "invalid_grant")


def test_code_of_another_client_is_invalid_grant(browser, api, web, make_client):
    other = make_client("other", grants=["authorization_code"], scopes=["openid"], redirect_uris=[REDIRECT_URI])
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    assert oauth_error(redeem(api, other, code, pkce.verifier)) == (400, "invalid_grant")


def test_other_redirect_uri_at_the_token_endpoint_is_invalid_grant(browser, api, web):
    web.client.redirect_uris = f"{REDIRECT_URI} https://web.test/other"
    web.client.save()
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    response = redeem(api, web, code, pkce.verifier, redirect_uri="https://web.test/other")
    assert oauth_error(response) == (400, "invalid_grant")


def test_prompt_none_without_consent_is_consent_required(browser, web):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="none"))
    params = redirect_params(response)
    assert params["error"] == "consent_required"
    assert params["state"] == "st-123"


def test_prompt_none_with_session_and_consent_returns_a_code(browser, web):
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="none"))
    assert "code" in redirect_params(response)


@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_of_one_code_exactly_one_succeeds(alice, web):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL")
    browser = Client()
    browser.force_login(alice)
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    statuses = race(5, lambda: redeem(Client(), web, code, pkce.verifier).status_code)
    assert statuses == [200, 400, 400, 400, 400]
