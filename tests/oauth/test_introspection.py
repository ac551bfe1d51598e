"""RFC 7662 introspection: an API may only introspect tokens whose audience is its own."""

from datetime import timedelta

import pytest

from apps.oauth.models import AccessToken
from apps.tokens.issuance import issue_user_token
from tests.support.http import INTROSPECT_URL, ISSUER, basic_auth, form_post, oauth_error


@pytest.fixture
def catalog_token(apis, make_client, client_credentials_token):
    caller = make_client("catalog-admin", scopes=["eventcatalog.read"])
    return client_credentials_token(caller)["access_token"]


@pytest.fixture
def resource_servers(apis, make_client):
    """The eventcatalog and shoppingbasket APIs, each registered as a client acting as itself."""
    return {
        audience: make_client(f"{audience}-api", grants=[], scopes=[], resource=audience)
        for audience in ("eventcatalog", "shoppingbasket")
    }


def introspect(client, credentials, token, **extra):
    headers = {}
    if credentials is not None:
        headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(client, INTROSPECT_URL, {"token": token, **extra}, **headers)


def test_own_audience_token_is_active_with_its_claims(client, catalog_token, resource_servers):
    response = introspect(client, resource_servers["eventcatalog"], catalog_token)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    row = AccessToken.objects.get()
    assert body == {
        "active": True,
        "scope": "eventcatalog.read",
        "client_id": row.application.client_id,
        "token_type": "Bearer",
        "exp": int(row.expires.timestamp()),
        "iat": int(row.created.timestamp()),
        "sub": row.application.client_id,
        "aud": ["eventcatalog"],
        "iss": ISSUER,
        "jti": str(row.jti),
    }


def test_other_audience_sees_the_token_inactive(client, catalog_token, resource_servers):
    response = introspect(client, resource_servers["shoppingbasket"], catalog_token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_client_that_is_no_api_sees_every_token_inactive(client, catalog_token, make_client):
    other = make_client("plain-client", scopes=["eventcatalog.read"])
    assert introspect(client, other, catalog_token).json() == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000])
def test_unknown_tokens_are_inactive(client, resource_servers, token):
    response = introspect(client, resource_servers["eventcatalog"], token)
    assert (response.status_code, response.json()) == (200, {"active": False})


def test_expired_token_is_inactive(client, catalog_token, resource_servers):
    AccessToken.objects.update(expires=AccessToken.objects.get().expires - timedelta(hours=1))
    assert introspect(client, resource_servers["eventcatalog"], catalog_token).json() == {"active": False}


def test_revoked_token_is_inactive(client, catalog_token, resource_servers):
    AccessToken.objects.get().revoke()
    assert introspect(client, resource_servers["eventcatalog"], catalog_token).json() == {"active": False}


def test_unauthenticated_caller_is_invalid_client(client, catalog_token):
    assert oauth_error(introspect(client, None, catalog_token)) == (401, "invalid_client")


def test_wrong_secret_is_invalid_client(client, catalog_token, resource_servers):
    api = resource_servers["eventcatalog"]
    response = form_post(
        client, INTROSPECT_URL, {"token": catalog_token}, HTTP_AUTHORIZATION=basic_auth(api.client.client_id, "nope")
    )
    assert oauth_error(response) == (401, "invalid_client")


def test_missing_token_is_invalid_request(client, resource_servers):
    api = resource_servers["eventcatalog"]
    response = form_post(
        client, INTROSPECT_URL, {}, HTTP_AUTHORIZATION=basic_auth(api.client.client_id, api.client_secret)
    )
    assert oauth_error(response) == (400, "invalid_request")


# --- user claims: only what the calling API is configured to receive --------------------------


@pytest.fixture
def alice_catalog_token(web, alice):
    return issue_user_token(client=web.client, user=alice, scopes=["eventcatalog.read"]).token


def test_username_is_withheld_from_an_api_that_receives_no_user_claims(
    client, alice_catalog_token, resource_servers, apis
):
    assert apis["eventcatalog"].user_claims == []
    response = introspect(client, resource_servers["eventcatalog"], alice_catalog_token)
    body = response.json()
    assert (response.status_code, body["active"]) == (200, True)
    assert "username" not in body


def test_username_is_released_to_an_api_that_receives_preferred_username(
    client, alice_catalog_token, resource_servers, apis, alice
):
    apis["eventcatalog"].user_claims = ["preferred_username"]
    apis["eventcatalog"].save()
    response = introspect(client, resource_servers["eventcatalog"], alice_catalog_token)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
