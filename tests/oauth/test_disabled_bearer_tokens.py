"""A disabled user or client ends its tokens at every bearer-token check: introspection
(RFC 7662 section 2.2, ``active: false``) and userinfo (RFC 6750 section 3.1, ``invalid_token``)."""

import pytest
from django.test import Client

from apps.tokens.issuance import issue_user_token
from tests.support.http import INTROSPECT_URL, basic_auth, form_post, oauth_error


@pytest.fixture
def catalog_api(make_client, apis):
    """The eventcatalog API, registered as a client acting as itself (it introspects)."""
    return make_client("eventcatalog-api", grants=[], scopes=[], resource="eventcatalog")


@pytest.fixture
def alice_token(web, alice) -> str:
    """alice's token from the web app, for userinfo and for the eventcatalog API."""
    return issue_user_token(client=web.client, user=alice, scopes=["openid", "profile", "eventcatalog.read"]).token


def introspect(api, token: str):
    auth = basic_auth(api.client.client_id, api.client_secret)
    return form_post(Client(), INTROSPECT_URL, {"token": token}, HTTP_AUTHORIZATION=auth)


def userinfo(token: str):
    return Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")


def disable_user(alice, web):
    alice.is_active = False
    alice.save()


def disable_client(alice, web):
    web.client.is_active = False
    web.client.save()


def test_enabled_user_and_client_are_active(catalog_api, alice_token):
    assert introspect(catalog_api, alice_token).json()["active"] is True
    assert userinfo(alice_token).status_code == 200


@pytest.mark.parametrize("disable", [disable_user, disable_client])
def test_introspection_reports_the_token_inactive(catalog_api, alice_token, alice, web, disable):
    disable(alice, web)
    response = introspect(catalog_api, alice_token)
    assert (response.status_code, response.json()) == (200, {"active": False})


@pytest.mark.parametrize("disable", [disable_user, disable_client])
def test_userinfo_refuses_the_token(alice_token, alice, web, disable):
    disable(alice, web)
    response = userinfo(alice_token)
    assert oauth_error(response) == (401, "invalid_token")
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert "preferred_username" not in response.json()
