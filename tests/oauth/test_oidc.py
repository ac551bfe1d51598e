"""OpenID Connect: userinfo claims by scope, discovery, RP-initiated logout."""

import pytest
from django.test import Client

from apps.oauth.models import AccessToken, RefreshToken
from tests.support.flows import Pkce, approve, redeem


def tokens_for(browser, web, scope: str, **extra) -> dict:
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, scope, pkce, **extra)["code"]
    return redeem(Client(), web, code, pkce.verifier).json()


@pytest.mark.parametrize(
    "scope, expected",
    [
        ("openid", {"sub"}),
        ("openid profile", {"sub", "name", "given_name", "family_name", "preferred_username"}),
        ("openid email", {"sub", "email", "email_verified"}),
    ],
)
def test_userinfo_releases_claims_by_scope(browser, web, alice, scope, expected):
    access_token = tokens_for(browser, web, scope)["access_token"]
    response = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == 200, response.content
    claims = response.json()
    assert set(claims) == expected
    assert claims["sub"] == str(alice.pk)


def test_userinfo_refuses_a_token_in_the_query_string(browser, web):
    access_token = tokens_for(browser, web, "openid profile")["access_token"]
    response = Client().get(f"/o/userinfo/?access_token={access_token}")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert "name" not in response.json()


def test_userinfo_without_a_token_is_401(db):
    assert Client().get("/o/userinfo/").status_code == 401


def test_max_age_is_answered_with_auth_time(browser, web):
    import jwt

    id_token = tokens_for(browser, web, "openid", max_age="600")["id_token"]
    assert "auth_time" in jwt.decode(id_token, options={"verify_signature": False})


def test_discovery_lists_the_end_session_endpoint(client, db):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["end_session_endpoint"] == "https://idp.test/o/logout/"


# --- RP-initiated logout ------------------------------------------------------------------------


@pytest.fixture
def web_with_logout(web):
    web.client.post_logout_redirect_uris = "https://web.test/signed-out"
    web.client.save()
    return web


def test_logout_redirects_to_the_registered_uri_and_revokes_the_clients_tokens(browser, web_with_logout):
    tokens = tokens_for(browser, web_with_logout, "openid")
    response = browser.get(
        "/o/logout/",
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://web.test/signed-out",
            "state": "bye",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "https://web.test/signed-out?state=bye"
    assert "_auth_user_id" not in browser.session
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/",
        "https://web.test/signed-out/../../evil",
        "https://web.test/signed-out?next=https://evil.test",
        "https://web.test.evil.test/signed-out",
        "//evil.test/",
        "javascript:alert(1)",
    ],
)
def test_logout_never_redirects_to_an_unregistered_uri(browser, web_with_logout, target):
    tokens = tokens_for(browser, web_with_logout, "openid")
    response = browser.get("/o/logout/", {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": target})
    assert response.status_code == 400
    assert "Location" not in response


def test_userinfo_401_is_a_bearer_challenge(db):
    response = Client().get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
