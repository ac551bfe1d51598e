"""The API explorer at /api/admin/docs/: Swagger UI over the schema, for operators signed in to
the console, its files served by the IdP itself (no CDN), its script a file of its own."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

User = get_user_model()
EXPLORER = "/api/admin/docs/"


@pytest.fixture
def operator_browser(client):
    client.force_login(User.objects.create_user("operator", password="pw-for-tests-only-123", is_staff=True))
    return client


def test_people_who_are_not_signed_in_are_sent_to_sign_in(client):
    response = client.get(EXPLORER)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/admin/docs/"


def test_a_signed_in_person_who_is_not_staff_is_not_admitted(client):
    client.force_login(User.objects.create_user("carol", password="pw-for-tests-only-123"))
    response = client.get(EXPLORER)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client.get(EXPLORER + "?script=").status_code == 302  # nor its script


def test_a_bearer_token_does_not_open_it(client, write_token):
    response = client.get(EXPLORER, HTTP_AUTHORIZATION=f"Bearer {write_token}")
    assert response.status_code == 302


def test_operators_get_swagger_ui_from_this_server_under_a_strict_csp(operator_browser):
    response = operator_browser.get(EXPLORER)
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    # No inline script or style: the CSP below would refuse them.
    assert re.search(r"<script>|<style", html) is None
    assert response["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_its_script_points_swagger_ui_at_the_schema(operator_browser):
    response = operator_browser.get(EXPLORER + "?script=")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    script = response.content.decode()
    schema_url = re.search(r'\burl: "([^"]*)"', script)
    assert schema_url is not None and json.loads(f'"{schema_url[1]}"') == "/api/admin/schema/"
    assert '"validatorUrl": null' in script  # no badge fetched from elsewhere


def test_the_explorer_is_not_an_operation_of_the_api(client):
    schema = client.get("/api/admin/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert not [path for path in schema["paths"] if "docs" in path]
