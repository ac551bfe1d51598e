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
        "/api/admin/exchange-policies/",
        "/api/admin/exchange-policies/{id}/",
        "/api/admin/audit-events/",
        "/api/admin/audit-events/{id}/",
    }
    assert set(schema["paths"]["/api/admin/audit-events/"]) == {"get"}
    assert schema["paths"]["/api/admin/clients/"]["post"]["security"] == [{"idpAccessToken": ["idp.admin.write"]}]
    assert schema["paths"]["/api/admin/clients/"]["get"]["security"] == [{"idpAccessToken": ["idp.admin.read"]}]
    flow = schema["components"]["securitySchemes"]["idpAccessToken"]["flows"]["clientCredentials"]
    assert set(flow["scopes"]) == {"idp.admin.read", "idp.admin.write"}
    client_fields = schema["components"]["schemas"]["Client"]["properties"]
    assert "client_secret" not in client_fields
    assert "client_secret" in schema["components"]["schemas"]["ClientWithSecret"]["properties"]


def test_the_idp_admin_api_and_its_scopes_are_data():
    scopes = ApiScope.objects.filter(resource__audience="idp-admin").order_by("name")
    assert [scope.name for scope in scopes] == ["idp.admin.read", "idp.admin.write"]
