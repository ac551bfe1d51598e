"""Client credentials (RFC 6749 section 4.4) issuing RFC 9068 JWT access tokens."""

import hashlib

import jwt
import pytest

from apps.oauth.models import AccessToken, Application
from tests.support.http import ISSUER, basic_auth, form_post, oauth_error
from tests.support.tokens import jwks, verify


@pytest.fixture
def catalog_admin(apis, make_client):
    return make_client("catalog-admin", scopes=["eventcatalog.read", "eventcatalog.write"])


def test_basic_auth_issues_rfc9068_jwt(client, catalog_admin, client_credentials_token):
    body = client_credentials_token(catalog_admin, scope="eventcatalog.read")

    assert body["token_type"] == "Bearer"
    assert body["scope"] == "eventcatalog.read"
    assert body["expires_in"] == 600
    assert "refresh_token" not in body
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    claims = verify(client, body["access_token"], audience="eventcatalog")
    client_id = catalog_admin.client.client_id
    assert claims["iss"] == ISSUER
    assert claims["sub"] == client_id
    assert claims["client_id"] == client_id
    assert claims["aud"] == ["eventcatalog"]
    assert claims["scope"] == "eventcatalog.read"
    assert claims["exp"] - claims["iat"] == 600


def test_issued_token_is_stored_by_checksum_only(catalog_admin, client_credentials_token):
    token = client_credentials_token(catalog_admin, scope="eventcatalog.read")["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})

    row = AccessToken.objects.get(token_checksum=hashlib.sha256(token.encode()).hexdigest())
    assert row.token == ""  # RFC 9700: the bearer token itself is never at rest
    assert str(row.jti) == claims["jti"]
    assert row.audience == ["eventcatalog"]
    assert row.scope == "eventcatalog.read"
    assert row.user is None
    assert row.application == catalog_admin.client
    assert abs(row.expires.timestamp() - claims["exp"]) < 1


def test_client_secret_post_is_accepted(client, catalog_admin, token_request):
    response = token_request(catalog_admin, {"grant_type": "client_credentials"}, auth="post")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_each_token_has_its_own_jti(catalog_admin, client_credentials_token):
    tokens = [client_credentials_token(catalog_admin)["access_token"] for _ in range(3)]
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 3


def test_token_for_eventcatalog_fails_audience_validation_for_shoppingbasket(
    client, catalog_admin, client_credentials_token
):
    token = client_credentials_token(catalog_admin, scope="eventcatalog.read")["access_token"]
    key = jwks(client)[jwt.get_unverified_header(token)["kid"]]

    assert jwt.decode(token, key.key, algorithms=["RS256"], audience="eventcatalog", issuer=ISSUER)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key.key, algorithms=["RS256"], audience="shoppingbasket", issuer=ISSUER)


def test_es256_api_gets_es256_tokens(client, apis, make_client, client_credentials_token):
    caller = make_client("basket", scopes=["discount.fullaccess"])
    token = client_credentials_token(caller)["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert verify(client, token, audience="discount")["aud"] == ["discount"]


# --- errors: exact status and error code -------------------------------------------------


def test_wrong_secret_is_invalid_client(client, catalog_admin):
    response = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(catalog_admin.client.client_id, "wrong"),
    )
    assert oauth_error(response) == (401, "invalid_client")


def test_unknown_client_is_invalid_client(client, apis):
    response = form_post(
        client, "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth("nobody", "x")
    )
    assert oauth_error(response) == (401, "invalid_client")


def test_missing_client_authentication_is_invalid_client(token_request, catalog_admin):
    response = token_request(None, {"grant_type": "client_credentials", "client_id": catalog_admin.client.client_id})
    assert oauth_error(response) == (401, "invalid_client")


def test_disabled_client_is_invalid_client(token_request, catalog_admin):
    Application.objects.filter(pk=catalog_admin.client.pk).update(is_active=False)
    response = token_request(catalog_admin, {"grant_type": "client_credentials"})
    assert oauth_error(response) == (401, "invalid_client")


def test_grant_not_allowed_for_client_is_unauthorized_client(apis, make_client, token_request):
    web = make_client(
        "web", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://web.test/callback"]
    )
    response = token_request(web, {"grant_type": "client_credentials"})
    assert oauth_error(response) == (400, "unauthorized_client")


@pytest.mark.parametrize("scope", [None, "openid"])
def test_client_with_only_identity_scopes_gets_no_token(apis, make_client, token_request, scope):
    """Without a user, identity scopes mean nothing: no default API scope, none requestable."""
    service = make_client("identity-only", scopes=["openid", "profile"])
    response = token_request(service, {"grant_type": "client_credentials", **({"scope": scope} if scope else {})})
    assert oauth_error(response) == (400, "invalid_scope")


@pytest.mark.parametrize(
    "grant_type",
    ["password", "urn:ietf:params:oauth:grant-type:device_code", "implicit", "urn:example:unknown"],
)
def test_unsupported_grant_types(token_request, catalog_admin, grant_type):
    response = token_request(catalog_admin, {"grant_type": grant_type, "username": "a", "password": "b"})
    assert oauth_error(response) == (400, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(token_request, catalog_admin):
    response = token_request(catalog_admin, {"scope": "eventcatalog.read"})
    assert oauth_error(response) == (400, "invalid_request")


@pytest.mark.parametrize("parameter", ["grant_type", "scope", "client_id"])
def test_repeated_parameter_is_invalid_request(token_request, catalog_admin, parameter):
    values = {"grant_type": "client_credentials", "scope": "eventcatalog.read", "client_id": "catalog-admin"}
    data = [(k, v) for k, v in values.items()] + [(parameter, values[parameter])]
    response = token_request(catalog_admin, data)
    assert oauth_error(response) == (400, "invalid_request")
    assert parameter in response.json()["error_description"]


def test_repeated_resource_is_allowed(token_request, catalog_admin):
    data = [
        ("grant_type", "client_credentials"),
        ("resource", "urn:test:eventcatalog"),
        ("resource", "urn:test:eventcatalog"),
    ]
    assert token_request(catalog_admin, data).status_code == 200


def test_get_is_not_allowed(client, apis):
    assert client.get("/o/token/").status_code == 405
