"""RFC 9068 section 2.2.3: every scope in a JWT access token's ``scope`` means something to
its ``aud``. Identity scopes (openid, profile, email) mean something to the IdP only: they
stay out of the JWT and introspection of a token for an API, while the stored row keeps them
(userinfo reads it) and the token response lists everything granted (RFC 6749 section 5.1)."""

import jwt
import pytest
from django.test import Client

from apps.oauth.models import AccessToken
from tests.support.flows import Pkce, approve, redeem, refresh
from tests.support.http import INTROSPECT_URL, ISSUER, basic_auth, form_post

IDENTITY_AND_BASKET = "openid profile email shoppingbasket.fullaccess"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def login(browser, web):
    def tokens(scope: str) -> dict:
        pkce = Pkce.new()
        response = redeem(Client(), web, approve(browser, web.client.client_id, scope, pkce)["code"], pkce.verifier)
        assert response.status_code == 200, response.content
        return response.json()

    return tokens


def userinfo(access_token: str):
    return Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def test_jwt_for_an_api_carries_only_that_apis_scopes(login):
    body = login(IDENTITY_AND_BASKET)

    claims = claims_of(body["access_token"])
    assert claims["aud"] == ["shoppingbasket"]
    assert claims["scope"] == "shoppingbasket.fullaccess"


def test_token_response_lists_everything_granted(login):
    # An OpenID Connect client learns from it that openid (and profile, email) were granted.
    assert login(IDENTITY_AND_BASKET)["scope"] == IDENTITY_AND_BASKET


def test_stored_row_keeps_the_identity_scopes_and_userinfo_answers(login, alice):
    body = login(IDENTITY_AND_BASKET)

    assert AccessToken.objects.get().scope == IDENTITY_AND_BASKET
    response = userinfo(body["access_token"])
    assert response.status_code == 200, response.content
    info = response.json()
    assert (info["sub"], info["name"], info["email"]) == (str(alice.pk), "Alice Smith", "alice@example.test")


def test_introspection_by_the_api_shows_its_scopes_only(login, basket):
    body = login(IDENTITY_AND_BASKET)

    response = form_post(
        Client(),
        INTROSPECT_URL,
        {"token": body["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(basket.client.client_id, basket.client_secret),
    )

    assert response.status_code == 200
    assert (response.json()["active"], response.json()["scope"]) == (True, "shoppingbasket.fullaccess")


def test_a_token_with_identity_scopes_only_is_for_the_idp_and_keeps_them(login):
    body = login("openid profile")

    claims = claims_of(body["access_token"])
    assert (claims["aud"], claims["scope"]) == ([ISSUER], "openid profile")
    assert userinfo(body["access_token"]).json()["name"] == "Alice Smith"


def test_a_refreshed_token_is_the_same(login, web):
    tokens = login(IDENTITY_AND_BASKET)

    response = refresh(Client(), web, tokens["refresh_token"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == IDENTITY_AND_BASKET
    assert claims_of(body["access_token"])["scope"] == "shoppingbasket.fullaccess"
    assert userinfo(body["access_token"]).json()["email"] == "alice@example.test"
