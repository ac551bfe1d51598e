"""RFC 8707 resource indicators at the authorization endpoint and on the code and refresh
token requests: one planner (plan_token), the same rules for every grant."""

import jwt
import pytest
from django.test import Client

from apps.oauth.models import AccessToken, Grant
from tests.support.flows import REDIRECT_URI, Pkce, approve, authorize_url, redeem, redirect_params, refresh
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error

SCOPE = "openid profile eventcatalog.read shoppingbasket.fullaccess"
BASKET = "urn:test:shoppingbasket"
# One API named by a URN, as ours are, one by an https URL (both absolute URIs, RFC 8707 section 2).
CATALOG = "https://api.test/eventcatalog"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def web(apis, make_client):
    apis["eventcatalog"].resource_uri = CATALOG
    apis["eventcatalog"].save()
    return make_client(
        "web",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "profile", "eventcatalog.read", "shoppingbasket.fullaccess"],
        redirect_uris=["https://web.test/callback"],
    )


def authorized_code(browser: Client, web, pkce: Pkce, **extra) -> str:
    params = approve(browser, web.client.client_id, SCOPE, pkce, **extra)
    assert "code" in params, params
    return params["code"]


def redeem_with(web, code: str, pkce: Pkce, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
        **extra,
    }
    return form_post(Client(), TOKEN_URL, data, HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret))


# --- the authorization endpoint -----------------------------------------------------------


def test_urn_resource_is_accepted_and_the_code_remembers_it(browser, web):
    pkce = Pkce.new()
    code = authorized_code(browser, web, pkce, resource=BASKET)

    assert Grant.objects.get(code=code).resource == [BASKET]
    body = redeem(Client(), web, code, pkce.verifier).json()
    assert claims_of(body["access_token"])["aud"] == ["shoppingbasket"]
    # The other API's scope was dropped at the authorization endpoint (RFC 8707 section 2.1).
    assert body["scope"] == "openid profile shoppingbasket.fullaccess"


def test_code_without_resource_remembers_the_apis_of_its_scopes(browser, web):
    code = authorized_code(browser, web, Pkce.new())
    assert sorted(Grant.objects.get(code=code).resource) == [CATALOG, BASKET]


@pytest.mark.parametrize(
    "resource",
    [
        "https://unknown.test/api",  # absolute, with a host, but no API of ours
        "urn:test:discount",  # an API this client has no scope for
        "urn:test:nonexistent",
        "https://api.test/#frag",  # RFC 8707 section 2: no fragment
        "shoppingbasket",  # not an absolute URI
    ],
)
def test_unknown_or_forbidden_resource_is_an_invalid_target_redirect(browser, web, resource):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), resource=resource))

    params = redirect_params(response)
    assert (params["error"], params["state"], params["iss"]) == ("invalid_target", "st-123", "https://idp.test")
    assert "code" not in params
    assert Grant.objects.count() == 0


# --- the token endpoint: narrowing within what was authorized (RFC 8707 section 2.2) -------


def test_resource_on_the_code_request_narrows_the_audience(browser, web):
    pkce = Pkce.new()
    code = authorized_code(browser, web, pkce)

    response = redeem_with(web, code, pkce, resource=CATALOG)

    assert response.status_code == 200, response.content
    body = response.json()
    assert claims_of(body["access_token"])["aud"] == ["eventcatalog"]
    assert body["scope"] == "openid profile eventcatalog.read"
    assert AccessToken.objects.get().audience == ["eventcatalog"]


@pytest.mark.parametrize("resource", ["urn:test:discount", "https://unknown.test/api", "urn:test:nope"])
def test_resource_beyond_the_code_is_invalid_target(browser, web, resource):
    pkce = Pkce.new()
    code = authorized_code(browser, web, pkce)

    assert oauth_error(redeem_with(web, code, pkce, resource=resource)) == (400, "invalid_target")
    assert AccessToken.objects.count() == 0


def test_resource_the_code_was_not_authorized_for_is_invalid_target(browser, web):
    pkce = Pkce.new()
    code = authorized_code(browser, web, pkce, resource=CATALOG)
    assert Grant.objects.get(code=code).resource == [CATALOG]

    # shoppingbasket is a resource this client may reach, but not one this code is for.
    assert oauth_error(redeem_with(web, code, pkce, resource=BASKET)) == (400, "invalid_target")
    # The refusal did not use the code up.
    assert redeem_with(web, code, pkce, resource=CATALOG).status_code == 200


def test_resource_on_the_refresh_request_narrows_the_audience(browser, web):
    pkce = Pkce.new()
    tokens = redeem(Client(), web, authorized_code(browser, web, pkce), pkce.verifier).json()
    assert claims_of(tokens["access_token"])["aud"] == ["eventcatalog", "shoppingbasket"]

    response = refresh(Client(), web, tokens["refresh_token"], resource=BASKET)

    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["aud"] == ["shoppingbasket"]
    assert response.json()["scope"] == "openid profile shoppingbasket.fullaccess"


@pytest.mark.parametrize("resource", ["urn:test:discount", "https://unknown.test/api"])
def test_resource_beyond_the_refresh_token_is_invalid_target(browser, web, resource):
    pkce = Pkce.new()
    tokens = redeem(Client(), web, authorized_code(browser, web, pkce), pkce.verifier).json()

    response = refresh(Client(), web, tokens["refresh_token"], resource=resource)

    assert oauth_error(response) == (400, "invalid_target")


def test_refresh_of_a_narrowed_code_cannot_widen_again(browser, web):
    pkce = Pkce.new()
    code = authorized_code(browser, web, pkce, resource=CATALOG)
    tokens = redeem(Client(), web, code, pkce.verifier).json()

    response = refresh(Client(), web, tokens["refresh_token"], resource=BASKET)

    assert oauth_error(response) == (400, "invalid_target")
