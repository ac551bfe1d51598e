"""Each predefined operator group, in the browser: what its members can and cannot do."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.clients.services import save_client
from apps.oauth.models import AccessToken, Application
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.issuance import issue_user_token

PASSWORD = "operator-password-for-tests"
GROUPS = importlib.import_module("apps.console.migrations.0001_operator_groups").GROUPS


@pytest.fixture
def console(transactional_db):
    """The groups as the migration made them (a transactional test's flush removes them), a
    client with a live token, and one operator per group."""
    for name, granted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=label.split(".")[0], codename=label.split(".")[1])
                for label in granted
            ]
        )
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog)
    web = save_client(
        name="web",
        grant_types=["authorization_code"],
        scopes=["eventcatalog.read"],
        redirect_uris=["https://web.test/cb"],
    ).client
    alice = get_user_model().objects.create_user("alice")
    issue_user_token(client=web, user=alice, scopes=["eventcatalog.read"])
    for name in GROUPS:
        user = get_user_model().objects.create_user(name.lower().replace(" ", "-"), password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=name))
    return {"web": web, "catalog": catalog}


def sign_in(chromium, live_server, username: str):
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")  # sends operators to the one sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return page


def test_an_auditor_reads_everything_and_changes_nothing(chromium, live_server, console):
    page = sign_in(chromium, live_server, "auditor")
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/oauth/accesstoken/")
    assert page.locator("#result_list tbody tr").count() == 1
    assert page.locator("select[name=action]").count() == 0  # no revoke for an auditor
    page.goto(f"{admin}/oauth/application/{console['web'].pk}/change/")
    assert page.locator("input[name=_save]").count() == 0
    assert "web" in page.content()
    response = page.goto(f"{admin}/oauth/signingkey/?private_key_pem__startswith=-----BEGIN")
    assert response.status == 400
    page.context.close()


def test_a_client_manager_edits_apis_but_not_users_or_tokens(chromium, live_server, console):
    page = sign_in(chromium, live_server, "client-manager")
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/resources/apiresource/{console['catalog'].pk}/change/")
    page.fill("#id_name", "Event catalog")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert ApiResource.objects.get(pk=console["catalog"].pk).name == "Event catalog"
    assert page.goto(f"{admin}/auth/user/").status == 403
    page.goto(f"{admin}/oauth/accesstoken/")
    assert page.locator("select[name=action]").count() == 0
    page.context.close()


def test_a_security_admin_revokes_a_token_but_configures_nothing(chromium, live_server, console):
    page = sign_in(chromium, live_server, "security-admin")
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/oauth/accesstoken/")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "revoke_tokens")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert not AccessToken.objects.exists()
    assert page.goto(f"{admin}/oauth/application/add/").status == 403
    page.goto(f"{admin}/oauth/application/{console['web'].pk}/change/")
    assert page.locator("input[name=_save]").count() == 0
    assert Application.objects.count() == 1
    page.context.close()
