"""An operator reads the dashboard after tokens were issued, revoked and cleared (and some
were never stored), then previews a client's exchanged token and reads why it is so."""

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from apps.clients.services import save_client
from apps.oauth.models import AccessToken, ExchangeMode, ExchangePolicy
from apps.ops import counters
from apps.ops.models import TokenCount
from apps.resources.models import ApiResource, ApiScope

PASSWORD = "operator-password-for-tests"


@pytest.fixture
def setup(transactional_db):
    counters.flush()  # earlier tests' counts, in this process
    TokenCount.objects.all().delete()
    get_user_model().objects.create_superuser("operator", "ops@example.test", PASSWORD)
    get_user_model().objects.create_user("alice")
    apis = {}
    for audience, stored in (("eventcatalog", True), ("discount", False), ("shoppingbasket", True)):
        apis[audience] = ApiResource.objects.create(
            audience=audience, resource_uri=f"urn:test:{audience}", name=audience.title(), store_tokens=stored
        )
        ApiScope.objects.create(name=f"{audience}.read", resource=apis[audience], description=f"Read {audience}")
    basket = save_client(
        name="basket",
        grant_types=["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        scopes=["eventcatalog.read", "discount.read"],
        resource="shoppingbasket",
    )
    policy = ExchangePolicy.objects.create(
        client=basket.client, target=apis["discount"], mode=ExchangeMode.DELEGATION, max_lifetime=120
    )
    policy.scopes.set(ApiScope.objects.filter(name="discount.read"))
    return basket, policy


def token(live_server, basket, scope: str) -> str:
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(basket.client.client_id, basket.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_operator_reads_counts_that_outlive_the_tokens_and_a_preview_that_explains(
    chromium, live_server, setup, screenshot
):
    basket, policy = setup
    revoked = token(live_server, basket, "eventcatalog.read")
    token(live_server, basket, "eventcatalog.read")
    token(live_server, basket, "discount.read")  # self-contained: never a row
    revocation = requests.post(
        f"{live_server.url}/o/revoke_token/",
        data={"token": revoked},
        auth=(basket.client.client_id, basket.client_secret),
        timeout=10,
    )
    assert revocation.status_code == 200
    AccessToken.objects.update(expires=timezone.now())
    call_command("clear_expired_tokens", "--quiet")
    assert not AccessToken.objects.exists()
    counters.flush()  # the serving process's flusher does this every few seconds

    context = chromium.new_context()
    page = context.new_page()
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")

    page.goto(f"{admin}/")
    assert page.locator("strong.tokens-issued").inner_text() == "3"
    assert page.locator('td.tokens-by-grant[data-grant="client_credentials"]').inner_text() == "3"
    rows = page.locator("#tokens-by-audience tbody tr")
    assert rows.nth(0).inner_text().split() == ["eventcatalog", "2", "2"]
    assert rows.nth(1).inner_text().split() == ["discount", "1", "1"]
    assert page.locator("strong.sign-ins").inner_text() == "1"  # the operator's own
    page.click("#idp-per-hour summary")
    assert page.locator("#idp-per-hour tbody tr").count() == 24
    screenshot(page, "admin-dashboard-counts")

    page.goto(f"{admin}/oauth/application/{basket.client.pk}/preview/")
    page.fill("#id_user", "alice")
    page.select_option("#id_exchange_target", label="discount")
    with page.expect_navigation():
        page.click("main input[type=submit]")
    reasons = page.locator("#preview-reasons")
    assert "The exchange policy basket -> discount applies." in reasons.inner_text()
    assert "RS256: the signing algorithm set on the API (discount)." in reasons.inner_text()
    assert "120 seconds (2 min): the exchange policy's maximum" in reasons.inner_text()
    assert page.locator("#preview-times td.time-exp").inner_text().endswith("UTC")
    screenshot(page, "admin-token-preview")
    with page.expect_navigation():
        page.click("#preview-policy")
    assert page.url.endswith(f"/admin/oauth/exchangepolicy/{policy.pk}/change/")
    page.wait_for_load_state("networkidle")  # no request may outlive the test's database
    context.close()
