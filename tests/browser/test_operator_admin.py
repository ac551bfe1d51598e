"""An operator sets up a new API, its client and an exchange policy in the admin alone."""

import re

import jwt
import pytest
import requests
from django.contrib.auth import get_user_model

from apps.oauth.models import AccessToken, Application, ExchangePolicy
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.issuance import issue_user_token

PASSWORD = "operator-password-for-tests"


def save(page, selector: str = "input[name=_save]") -> None:
    with page.expect_navigation():
        page.click(selector)


@pytest.fixture
def operator(transactional_db):
    get_user_model().objects.create_superuser("operator", "ops@example.test", PASSWORD)
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog, description="Read the catalog")


def test_operator_creates_api_client_and_policy_then_the_client_gets_a_token(
    chromium, live_server, operator, screenshot
):
    context = chromium.new_context()
    page = context.new_page()
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    save(page, "main button[type=submit]")  # the one sign-in page (/admin/login/ sends it there)

    # 1. The API, with one scope inline.
    page.goto(f"{admin}/resources/apiresource/add/")
    page.fill("#id_audience", "ticketing")
    page.fill("#id_resource_uri", "urn:test:ticketing")
    page.fill("#id_name", "Ticketing")
    page.fill("#id_scopes-0-name", "ticketing.read")
    page.fill("#id_scopes-0-description", "Read tickets")
    save(page)
    assert ApiScope.objects.get(name="ticketing.read").resource.audience == "ticketing"

    # 2. The client: grant types and scopes are checkboxes; the secret comes back once.
    page.goto(f"{admin}/oauth/application/add/")
    page.fill("#id_name", "ticketing-job")
    page.select_option("#id_client_type", "confidential")
    page.get_by_label("Client credentials").check()
    page.get_by_label("Token exchange (RFC 8693)").check()
    page.get_by_label("ticketing.read — Read tickets").check()
    page.select_option("#id_resource", label="ticketing")
    save(page)
    secret = page.locator("code.client-secret").inner_text()
    screenshot(page, "admin-client-secret")
    client = Application.objects.get(name="ticketing-job")
    assert len(secret) >= 43

    page.goto(f"{admin}/oauth/application/{client.pk}/change/")
    assert secret not in page.content()
    assert client.secret_hint in page.content()
    screenshot(page, "admin-client")

    # 3. The exchange policy, read back as one sentence.
    page.goto(f"{admin}/oauth/exchangepolicy/add/")
    page.select_option("#id_client", label="ticketing-job")
    page.select_option("#id_target", label="eventcatalog")
    page.get_by_label("eventcatalog.read — Read the catalog").check()
    save(page)
    assert "ticketing-job may exchange tokens for ticketing into eventcatalog [eventcatalog.read]" in page.content()
    assert ExchangePolicy.objects.get().target.audience == "eventcatalog"

    # 4. The new client gets a token for the new API.
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": "ticketing.read"},
        auth=(client.client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["ticketing"]
    assert not re.search(re.escape(secret), page.content())

    # 5. A user's token exchanged under the new policy shows up in the lineage and dashboard.
    alice = get_user_model().objects.create_user("alice")
    subject = issue_user_token(client=client, user=alice, scopes=["ticketing.read"]).token
    exchanged = requests.post(
        f"{live_server.url}/o/token/",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        },
        auth=(client.client_id, secret),
        timeout=10,
    )
    assert exchanged.status_code == 200, exchanged.text
    child = AccessToken.objects.get(parent__isnull=False)
    page.goto(f"{admin}/oauth/accesstoken/{child.pk}/change/")
    assert f"acting: {client.client_id}" in page.content()
    screenshot(page, "admin-token-lineage")
    page.goto(f"{admin}/")
    assert page.locator("strong.exchanges-granted").inner_text() == "1"
    screenshot(page, "admin-dashboard")
    page.wait_for_load_state("networkidle")  # no request may outlive the test's database
    context.close()
