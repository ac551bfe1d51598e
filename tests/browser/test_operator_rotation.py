"""An operator rotates a client's secret with a grace period, then rotates the signing keys and
withdraws the retired one, in Chromium, clicking as a person would."""

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.clients.services import save_client
from apps.keys.services import ensure_signing_keys
from apps.oauth.models import Application, KeyState, SigningKey
from apps.resources.models import ApiResource, ApiScope

PASSWORD = "operator-password-for-tests"


def click_and_wait(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


@pytest.fixture
def operator(transactional_db):
    get_user_model().objects.create_superuser("operator", "ops@example.test", PASSWORD)
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog, description="Read the catalog")
    ensure_signing_keys()


@pytest.fixture
def signed_in(chromium, live_server, operator):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    click_and_wait(page, "main button[type=submit]")
    yield page
    page.wait_for_load_state("networkidle")  # no request may outlive the test's database
    context.close()


def token_status(live_server, client_id: str, secret: str) -> tuple[int, str]:
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": "eventcatalog.read"},
        auth=(client_id, secret),
        timeout=10,
    )
    return response.status_code, response.json().get("error", "")


def test_operator_rotates_a_client_secret_with_a_grace_period(signed_in, live_server, screenshot):
    page = signed_in
    credentials = save_client(name="catalog-reader", grant_types=["client_credentials"], scopes=["eventcatalog.read"])
    client_id, old_secret = credentials.client.client_id, credentials.client_secret
    old_hint = "…" + old_secret[-4:]

    page.goto(f"{live_server.url}/admin/oauth/application/{credentials.client.pk}/change/")
    click_and_wait(page, "#rotate-secret")
    assert page.locator("main code.current-secret-hint").inner_text() == old_hint
    assert "If the current secret may have leaked, choose None" in page.content()
    assert page.get_by_label("None: the current secret stops working at once").is_checked()
    page.get_by_label("24 hours").check()
    screenshot(page, "admin-rotate-secret")
    click_and_wait(page, "main #confirm-rotation")

    new_secret = page.locator("code.client-secret").inner_text()
    assert len(new_secret) >= 43 and new_secret != old_secret
    assert f"{old_hint} works until" in page.locator("td.previous-secret").inner_text()
    assert token_status(live_server, client_id, old_secret) == (200, "")
    assert token_status(live_server, client_id, new_secret) == (200, "")

    # The client page shows both hints and when the old secret stops working; never a secret.
    page.goto(f"{live_server.url}/admin/oauth/application/{credentials.client.pk}/change/")
    expires = Application.objects.get(pk=credentials.client.pk).previous_secret_expires
    assert expires is not None
    assert page.locator(".field-secret_hint .readonly").inner_text() == "…" + new_secret[-4:]
    previous = page.locator(".field-previous_secret .readonly").inner_text()
    assert previous == f"{old_hint} works until {timezone.localtime(expires):%Y-%m-%d %H:%M %Z}"
    assert new_secret not in page.content() and old_secret not in page.content()

    event = AuditEvent.objects.get(event_type="client.secret_rotated")
    assert (event.client_id, event.subject, event.details["grace_period_seconds"]) == (client_id, "operator", 86400)

    # The grace period ends: the old secret is refused, the new one goes on working.
    Application.objects.filter(pk=credentials.client.pk).update(
        previous_secret_expires=timezone.now() - timedelta(seconds=1)
    )
    assert token_status(live_server, client_id, old_secret) == (401, "invalid_client")
    assert token_status(live_server, client_id, new_secret) == (200, "")
    page.reload()
    assert page.locator(".field-previous_secret .readonly").inner_text() == "None"


def test_operator_rotates_the_keys_then_withdraws_the_retired_one(signed_in, live_server, screenshot):
    page = signed_in
    keys = f"{live_server.url}/admin/oauth/signingkey/"
    active = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE)
    successor = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT)

    def run_action(action: str, key: SigningKey) -> None:
        page.goto(keys)
        page.check(f"main input[name=_selected_action][value='{key.pk}']")
        page.select_option("main select[name=action]", action)
        click_and_wait(page, "main button[name=index]")

    # A key in use cannot be withdrawn: the page says so and nothing changes.
    run_action("withdraw", active)
    assert "Only retired keys can be withdrawn" in page.locator("ul.messagelist").inner_text()
    assert SigningKey.objects.get(pk=active.pk).state == KeyState.ACTIVE

    run_action("rotate", active)
    assert active.kid in page.locator("#rotation-plan").inner_text()
    assert successor.kid in page.locator("#rotation-plan").inner_text()
    screenshot(page, "admin-rotate-keys")
    click_and_wait(page, "main #confirm-rotation")
    assert f"RS256: {successor.kid} is now the active key." in page.locator("ul.messagelist").inner_text()
    assert SigningKey.objects.get(pk=active.pk).state == KeyState.RETIRED
    published = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert active.kid in {key["kid"] for key in published}  # retired, still published

    run_action("withdraw", active)
    assert "stop validating at resource servers once they refresh the JWKS" in page.content()
    assert active.kid in page.locator("#withdrawal-keys").inner_text()
    screenshot(page, "admin-withdraw-key")
    click_and_wait(page, "main #confirm-withdrawal")
    assert f"RS256 key {active.kid} withdrawn" in page.locator("ul.messagelist").inner_text()
    published = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert active.kid not in {key["kid"] for key in published}
    assert successor.kid in {key["kid"] for key in published}

    rotated = AuditEvent.objects.get(event_type="key.rotated", details__algorithm="RS256")
    assert rotated.details["activated"] == successor.kid
    withdrawn = AuditEvent.objects.get(event_type="key.withdrawn", details__expired=False)
    assert (withdrawn.details["kids"], withdrawn.details["algorithm"]) == ([active.kid], "RS256")
