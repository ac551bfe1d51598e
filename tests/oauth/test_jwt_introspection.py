"""JWT introspection responses (RFC 9701): the RFC 7662 answer as a JWT we sign, for a resource
server that asks for it in Accept; plain JSON otherwise."""

import time

import jwt
import pytest

from apps.endpoints.introspection import prefers_jwt
from tests.support.http import INTROSPECT_URL, ISSUER, JWKS_URL, basic_auth, form_post, oauth_error

JWT_TYPE = "application/token-introspection+jwt"


@pytest.fixture
def catalog_token(apis, make_client, client_credentials_token):
    caller = make_client("catalog-admin", scopes=["eventcatalog.read"])
    return client_credentials_token(caller)["access_token"]


@pytest.fixture
def catalog_api(apis, make_client):
    """The eventcatalog API, registered as a client acting as itself."""
    return make_client("eventcatalog-api", grants=[], scopes=[], resource="eventcatalog")


def introspect(client, credentials, token: str, accept: str | None = JWT_TYPE):
    headers = {"HTTP_AUTHORIZATION": basic_auth(credentials.client.client_id, credentials.client_secret)}
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    return form_post(client, INTROSPECT_URL, {"token": token}, **headers)


def verified(client, response, audience: str) -> dict:
    """The claims of a JWT introspection response, its signature checked with our JWKS."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == JWT_TYPE
    assert response["Cache-Control"] == "no-store"
    token = response.content.decode()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "token-introspection+jwt"
    key = jwt.PyJWKSet.from_dict(client.get(JWKS_URL).json())[header["kid"]]
    return jwt.decode(token, key.key, algorithms=[header["alg"]], audience=audience, issuer=ISSUER)


def test_an_active_token_comes_back_as_a_signed_jwt(client, catalog_token, catalog_api):
    plain = introspect(client, catalog_api, catalog_token, accept=None).json()

    response = introspect(client, catalog_api, catalog_token)

    claims = verified(client, response, catalog_api.client.client_id)
    assert jwt.get_unverified_header(response.content.decode())["alg"] == "RS256"
    assert set(claims) == {"iss", "aud", "iat", "token_introspection"}
    assert claims["aud"] == catalog_api.client.client_id
    assert abs(claims["iat"] - time.time()) < 10
    assert claims["token_introspection"] == plain
    assert claims["token_introspection"]["active"] is True
    assert claims["token_introspection"]["aud"] == ["eventcatalog"]


def test_an_inactive_token_comes_back_as_a_jwt_too(client, catalog_api):
    claims = verified(client, introspect(client, catalog_api, "not-a-token"), catalog_api.client.client_id)
    assert claims["token_introspection"] == {"active": False}


def test_an_api_signing_with_es256_gets_an_es256_jwt(client, apis, make_client):
    discount_api = make_client("discount-api", grants=[], scopes=[], resource="discount")
    response = introspect(client, discount_api, "unknown")
    assert jwt.get_unverified_header(response.content.decode())["alg"] == "ES256"
    verified(client, response, discount_api.client.client_id)


def test_json_stays_the_default(client, catalog_token, catalog_api):
    for accept in (None, "application/json", "*/*", "application/jwt"):
        response = introspect(client, catalog_api, catalog_token, accept=accept)
        assert response["Content-Type"] == "application/json", accept
        assert response.json()["active"] is True


def test_accept_with_q_values_and_other_types(client, catalog_token, catalog_api):
    jwt_answers = (
        "application/json;q=0.5, application/token-introspection+jwt",
        "application/token-introspection+jwt;q=0.9, */*;q=0.1",
        "APPLICATION/TOKEN-INTROSPECTION+JWT",
        "text/html, application/token-introspection+jwt ; q=0.8",
    )
    for accept in jwt_answers:
        response = introspect(client, catalog_api, catalog_token, accept=accept)
        assert response["Content-Type"] == JWT_TYPE, accept
    json_answers = (
        "application/token-introspection+jwt;q=0",
        "application/token-introspection+jwt;q=0.5, application/json",
    )
    for accept in json_answers:
        response = introspect(client, catalog_api, catalog_token, accept=accept)
        assert response["Content-Type"] == "application/json", accept


def test_a_failed_client_authentication_stays_json(client, catalog_token, catalog_api):
    response = form_post(
        client,
        INTROSPECT_URL,
        {"token": catalog_token},
        HTTP_AUTHORIZATION=basic_auth(catalog_api.client.client_id, "wrong"),
        HTTP_ACCEPT=JWT_TYPE,
    )
    assert oauth_error(response) == (401, "invalid_client")


def test_a_missing_token_stays_json(client, catalog_api):
    response = form_post(
        client,
        INTROSPECT_URL,
        {},
        HTTP_AUTHORIZATION=basic_auth(catalog_api.client.client_id, catalog_api.client_secret),
        HTTP_ACCEPT=JWT_TYPE,
    )
    assert oauth_error(response) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", False),
        ("application/token-introspection+jwt", True),
        ("application/token-introspection+jwt;q=abc", True),
        ("application/token-introspection+jwt;q=0.0", False),
        ("application/json, application/token-introspection+jwt;q=0.3", False),
        ("application/*;q=0.2, application/token-introspection+jwt;q=0.3", True),
        (",,;;==", False),
    ],
)
def test_prefers_jwt(accept, expected):
    assert prefers_jwt(accept) is expected
