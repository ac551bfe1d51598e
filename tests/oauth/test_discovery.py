"""RFC 8414 and OpenID Connect Discovery metadata."""

import pytest

from tests.support.http import ISSUER

BASE = ISSUER


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_metadata_lists_endpoints_grants_and_methods(client, apis, path):
    response = client.get(path)
    assert response.status_code == 200
    metadata = response.json()

    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{BASE}/o/token/"
    assert metadata["authorization_endpoint"] == f"{BASE}/o/authorize/"
    assert metadata["introspection_endpoint"] == f"{BASE}/o/introspect/"
    assert metadata["revocation_endpoint"] == f"{BASE}/o/revoke_token/"
    assert metadata["jwks_uri"] == f"{BASE}/.well-known/jwks.json"
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert metadata["access_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert "eventcatalog.read" in metadata["scopes_supported"]
    assert metadata["authorization_response_iss_parameter_supported"] is True


def test_openid_configuration_adds_oidc_fields(client, db):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["userinfo_endpoint"] == f"{BASE}/o/userinfo/"
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["subject_types_supported"] == ["public"]


def test_every_listed_endpoint_is_served(client, db):
    metadata = client.get("/.well-known/openid-configuration").json()
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"):
        path = metadata[name].removeprefix(BASE)
        assert client.get(path).status_code != 404, name


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_request_objects_are_declared_unsupported(client, db, path):
    """OpenID Connect Discovery 1.0 section 3 (RFC 9101 section 10.1): request_uri would
    default to supported; the authorization endpoint refuses both (request_not_supported)."""
    metadata = client.get(path).json()
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False


def test_the_languages_of_the_sign_in_pages_are_declared(client, db):
    """OpenID Connect Discovery 1.0 section 3: ui_locales_supported, the languages a client
    may ask for with ui_locales (the people's pages speak exactly these)."""
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["ui_locales_supported"] == ["en", "nl"]


def test_discovery_lists_private_key_jwt_par_and_jwt_introspection(client, db):
    """What a strict client probes before it uses private_key_jwt (RFC 7523), PAR (RFC 9126)
    or signed introspection answers (RFC 9701)."""
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    for endpoint in ("token", "introspection", "revocation"):
        assert metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
    assert metadata["pushed_authorization_request_endpoint"] == f"{BASE}/o/par/"
    assert metadata["require_pushed_authorization_requests"] is False
    assert metadata["introspection_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
