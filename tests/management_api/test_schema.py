"""The OpenAPI description of the management API, and the data it needs to exist."""

import pytest
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats

from apps.resources.models import ApiScope

pytestmark = pytest.mark.django_db


def test_schema_describes_every_endpoint_without_warnings(client):
    reset_generator_stats()
    response = client.get("/api/admin/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors"
    schema = response.json()
    assert set(schema["paths"]) == {
        "/api/admin/resources/",
        "/api/admin/resources/{audience}/",
        "/api/admin/scopes/",
        "/api/admin/scopes/{name}/",
        "/api/admin/clients/",
        "/api/admin/clients/{client_id}/",
        "/api/admin/clients/{client_id}/rotate-secret/",
        "/api/admin/clients/{client_id}/remove-secret/",
        "/api/admin/exchange-policies/",
        "/api/admin/exchange-policies/{id}/",
        "/api/admin/transaction-token-policies/",
        "/api/admin/transaction-token-policies/{client_id}/",
        "/api/admin/trusted-issuers/",
        "/api/admin/trusted-issuers/{name}/",
        "/api/admin/audit-events/",
        "/api/admin/audit-events/{id}/",
        "/api/admin/users/",
        "/api/admin/users/{username}/",
        "/api/admin/users/{username}/disable/",
        "/api/admin/users/{username}/unlock/",
        "/api/admin/users/{username}/sign-out/",
        "/api/admin/users/{username}/reset-factors/",
        "/api/admin/users/{username}/send-password-reset/",
        "/api/admin/consents/",
        "/api/admin/consents/{id}/",
        "/api/admin/tokens/",
        "/api/admin/tokens/{jti}/",
        "/api/admin/tokens/{jti}/revoke/",
        "/api/admin/keys/",
        "/api/admin/keys/{kid}/",
        "/api/admin/keys/rotate/",
    }
    paths = schema["paths"]
    assert set(paths["/api/admin/users/{username}/"]) == {"get"}
    assert set(paths["/api/admin/consents/{id}/"]) == {"get", "delete"}
    assert set(paths["/api/admin/tokens/{jti}/"]) == {"get"}
    assert set(paths["/api/admin/keys/{kid}/"]) == {"get"}
    for path in (p for p in paths if p.endswith(("/disable/", "/unlock/", "/sign-out/", "/reset-factors/"))):
        operation = paths[path]["post"]
        assert operation["security"] == [{"idpAccessToken": ["idp.admin.write"]}]
        assert operation["summary"] and operation["description"]
        assert set(operation["responses"]) == {"200", "403", "404"}
    assert set(paths["/api/admin/users/{username}/send-password-reset/"]["post"]["responses"]) == {
        "200",
        "403",
        "404",
        "409",
        "503",
    }
    assert [p["name"] for p in paths["/api/admin/keys/rotate/"]["post"].get("parameters", [])] == []
    assert {p["name"] for p in paths["/api/admin/tokens/"]["get"]["parameters"]} == {
        "user",
        "client",
        "audience",
        "page",
        "page_size",
    }
    assert {p["name"] for p in paths["/api/admin/users/"]["get"]["parameters"]} == {
        "username",
        "active",
        "page",
        "page_size",
    }
    # What is never readable, whichever schema names it.
    components = schema["components"]["schemas"]
    for name in ("User", "UserDetail", "AccessToken", "SigningKey", "Consent"):
        fields = set(components[name]["properties"])
        assert not fields & {"password", "token", "token_checksum", "private_key_pem", "session_key", "key"}, name
    assert set(schema["paths"]["/api/admin/audit-events/"]) == {"get"}
    assert schema["paths"]["/api/admin/clients/"]["post"]["security"] == [{"idpAccessToken": ["idp.admin.write"]}]
    assert schema["paths"]["/api/admin/clients/"]["get"]["security"] == [{"idpAccessToken": ["idp.admin.read"]}]
    flow = schema["components"]["securitySchemes"]["idpAccessToken"]["flows"]["clientCredentials"]
    assert "Authorization: DPoP" in schema["components"]["securitySchemes"]["idpAccessToken"]["description"]
    assert set(flow["scopes"]) == {"idp.admin.read", "idp.admin.write"}
    client_fields = schema["components"]["schemas"]["Client"]["properties"]
    assert "client_secret" not in client_fields
    assert "client_secret" in schema["components"]["schemas"]["ClientWithSecret"]["properties"]


def test_the_idp_admin_api_and_its_scopes_are_data():
    scopes = ApiScope.objects.filter(resource__audience="idp-admin").order_by("name")
    assert [scope.name for scope in scopes] == ["idp.admin.read", "idp.admin.write"]
