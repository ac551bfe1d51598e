"""An operator registers a service in one flow, gives a client a readable id, and is warned
about a configuration that cannot work: in Chromium, as they would click it."""

import importlib
import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.audit.models import AuditEvent
from apps.console.register import SERVICE_REGISTERED
from apps.oauth.models import Application, ExchangePolicy, GrantType
from apps.resources.models import ApiResource, ApiScope
from idp.conf import idp_settings

PASSWORD = "operator-password-for-tests"
GROUPS = importlib.import_module("apps.console.migrations.0001_operator_groups").GROUPS


@pytest.fixture
def console(transactional_db):
    """The operator groups as the migration made them (a transactional test's flush removes
    them), a client manager and an auditor, and two APIs to call."""
    for name, granted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=p.split(".")[0], codename=p.split(".")[1]) for p in granted]
        )
    for username, group in (("manager", "Client manager"), ("auditor", "Auditor")):
        user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
    for audience, scope, description in (
        ("discount", "discount.fullaccess", "Discounts"),
        ("eventcatalog", "eventcatalog.read", "Read the catalog"),
    ):
        api = ApiResource.objects.create(audience=audience, resource_uri=f"urn:test:{audience}", name=audience.title())
        ApiScope.objects.create(name=scope, resource=api, description=description)


def sign_in(chromium, live_server, username: str):
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")  # sends operators to the one sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return page


def submit(page, selector: str = "main input[type=submit]") -> None:
    with page.expect_navigation():
        page.click(selector)


def test_a_client_manager_registers_a_service_and_it_gets_tokens(chromium, live_server, console, screenshot):
    page = sign_in(chromium, live_server, "manager")
    page.goto(f"{live_server.url}/admin/resources/apiresource/")
    with page.expect_navigation():
        page.click("#register-service-link")
    assert page.url.endswith("/admin/register-service/")

    page.fill("#id_name", "Shopping basket")
    page.fill("#id_audience", "shoppingbasket")
    page.fill("#id_resource_uri", "urn:globoticket:shoppingbasket")
    page.fill("#id_scopes-0-name", "shoppingbasket.read")
    page.fill("#id_scopes-0-description", "See the basket")
    page.fill("#id_scopes-1-name", "discount.fullaccess")  # taken: refused, nothing made
    page.check("#id_calls_on_behalf")
    page.locator(".field-exchange_scopes").get_by_label("discount.fullaccess — Discounts").check()
    page.check("#id_calls_as_itself")
    page.locator(".field-client_credentials_scopes").get_by_label("eventcatalog.read — Read the catalog").check()
    screenshot(page, "admin-register-service")
    submit(page)
    assert "A scope with this name exists." in page.content()
    assert not ApiResource.objects.filter(audience="shoppingbasket").exists()
    assert not Application.objects.exists()

    page.fill("#id_scopes-1-name", "shoppingbasket.write")  # the rest of the form is kept
    page.fill("#id_scopes-1-description", "Change the basket")
    submit(page)
    secret = page.locator("code.client-secret").inner_text()
    configuration = page.locator("#service-configuration").inner_text()
    screenshot(page, "admin-service-registered")
    assert page.locator("code.client-id").inner_text() == "shopping-basket"  # readable, from the name
    assert page.locator(".exchange-policy").inner_text() == (
        "Shopping basket may exchange tokens for shoppingbasket into discount [discount.fullaccess], "
        "delegation, depth 1, 5 min"
    )
    for line in (
        '"AUDIENCE": "shoppingbasket",',
        f'"JWKS_URI": "{idp_settings.ISSUER.rstrip("/")}/.well-known/jwks.json",',
        'IDP_CLIENT_ID = "shopping-basket"',
        f'IDP_CLIENT_SECRET = "{secret}"',
        'token_client.on_behalf_of(caller_token, audience="discount")',
    ):
        assert line in configuration, line

    client = Application.objects.get(client_id="shopping-basket")
    assert client.resource.audience == "shoppingbasket"
    assert client.allowed_grant_types == [GrantType.TOKEN_EXCHANGE, GrantType.CLIENT_CREDENTIALS]
    assert ExchangePolicy.objects.get(client=client).target.audience == "discount"
    event = AuditEvent.objects.get(event_type=SERVICE_REGISTERED)
    assert (event.client_id, event.subject, event.audience) == ("shopping-basket", "manager", ["shoppingbasket"])
    assert event.scopes == "shoppingbasket.read shoppingbasket.write"
    assert event.details["policies"] == [{"target": "discount", "scopes": ["discount.fullaccess"]}]
    assert secret not in str(list(AuditEvent.objects.values()))

    # The secret works at once: the service's own token for the catalog.
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=("shopping-basket", secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "eventcatalog.read"

    # Shown once: the client's page has its hint only.
    page.goto(f"{live_server.url}/admin/oauth/application/{client.pk}/change/")
    assert secret not in page.content()
    assert client.secret_hint in page.content()


def test_an_auditor_has_no_link_and_is_refused_the_page(chromium, live_server, console):
    page = sign_in(chromium, live_server, "auditor")
    page.goto(f"{live_server.url}/admin/resources/apiresource/")
    assert page.locator("#register-service-link").count() == 0
    response = page.goto(f"{live_server.url}/admin/register-service/")
    assert response is not None and response.status == 403


def test_a_client_id_is_chosen_on_the_add_form_and_fixed_afterwards(chromium, live_server, console):
    page = sign_in(chromium, live_server, "manager")
    admin = f"{live_server.url}/admin"
    for client_id in ("", "catalog.reader"):
        page.goto(f"{admin}/oauth/application/add/")
        page.fill("#id_name", "Catalog reader")
        page.fill("#id_client_id", client_id)
        page.select_option("#id_client_type", "confidential")
        page.get_by_label("Client credentials").check()
        page.get_by_label("eventcatalog.read — Read the catalog").check()
        submit(page, "input[name=_save]")
        assert page.locator("code.client-secret").count() == 1
    assert sorted(Application.objects.values_list("client_id", flat=True)) == ["catalog-reader", "catalog.reader"]

    client = Application.objects.get(client_id="catalog-reader")
    page.goto(f"{admin}/oauth/application/{client.pk}/change/")
    assert page.locator("#id_client_id").count() == 0  # read-only: tokens and the audit trail name it
    assert "catalog-reader" in page.locator(".field-client_id").inner_text()


def test_saving_a_client_that_cannot_work_shows_a_warning_with_a_link(chromium, live_server, console):
    page = sign_in(chromium, live_server, "manager")
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/oauth/application/add/")
    page.fill("#id_name", "Relay")
    page.select_option("#id_client_type", "confidential")
    page.get_by_label("Token exchange (RFC 8693)").check()
    submit(page, "input[name=_save]")
    client = Application.objects.get(client_id="relay")
    warnings = page.locator("ul.messagelist li.warning")
    assert warnings.count() == 2
    assert "Relay has the token-exchange grant but no API of its own" in warnings.nth(0).inner_text()
    assert "Relay has the token-exchange grant but no enabled exchange policy." in warnings.nth(1).inner_text()

    # The link leads to the client; giving it its API and a policy leaves no warning.
    with page.expect_navigation():
        warnings.nth(0).get_by_role("link", name="Fix it").click()
    assert re.search(rf"/oauth/application/{client.pk}/change/$", page.url)
    page.select_option("#id_resource", label="discount")
    submit(page, "input[name=_save]")
    assert "no API of its own" not in page.content()
    page.goto(f"{admin}/oauth/exchangepolicy/add/")
    page.select_option("#id_client", label="Relay")
    page.select_option("#id_target", label="eventcatalog")
    page.get_by_label("eventcatalog.read — Read the catalog").check()
    submit(page, "input[name=_save]")
    assert page.locator("ul.messagelist li.warning").count() == 0

    # Taking the grant away from a client with a policy: warned on saving it.
    page.goto(f"{admin}/oauth/application/{client.pk}/change/")
    page.get_by_label("Token exchange (RFC 8693)").uncheck()
    page.get_by_label("Client credentials").check()
    page.get_by_label("eventcatalog.read — Read the catalog").check()
    submit(page, "input[name=_save]")
    assert (
        "Relay has an exchange policy into eventcatalog but not the token-exchange grant."
        in page.locator("ul.messagelist li.warning").inner_text()
    )
