"""A client manager trusts a cluster in the console, in Chromium: the issuer with its JWKS URL
and a mapping of its service account to an ordinary client; a mapping to the management API's
client is not offered; then the workload gets its token with the cluster's token
alone (RFC 7523) from the live server."""

import importlib

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.clients.services import save_client
from apps.oauth.models import GrantType, TrustedIssuer
from apps.resources.models import ApiResource, ApiScope
from tests.federation.conftest import BASKET_SA, JWT_BEARER, ExternalIssuer
from tests.support.http import ISSUER

PASSWORD = "operator-password-for-tests"
MIGRATIONS = ("0001_operator_groups", "0003_trusted_issuer_permissions")


@pytest.fixture
def console(transactional_db):
    """The Client manager group as the migrations made it, one such operator, an API, the
    basket (an ordinary client) and a client holding the management API's powers."""
    groups = importlib.import_module(f"apps.console.migrations.{MIGRATIONS[0]}").GROUPS
    group, _ = Group.objects.get_or_create(name="Client manager")
    group.permissions.set(
        [
            Permission.objects.get(content_type__app_label=p.split(".")[0], codename=p.split(".")[1])
            for p in groups["Client manager"]
        ]
    )
    actions = importlib.import_module(f"apps.console.migrations.{MIGRATIONS[1]}").GROUPS["Client manager"]
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="oauth",
            codename__in=[f"{a}_{m}" for a in actions for m in ("trustedissuer", "issuermapping")],
        )
    )
    get_user_model().objects.create_user("manager", password=PASSWORD, is_staff=True).groups.add(group)
    api = ApiResource.objects.create(audience="discount", resource_uri="urn:test:discount", name="Discount")
    ApiScope.objects.create(name="discount.fullaccess", resource=api, description="Discounts")
    admin_api = ApiResource.objects.get_or_create(audience="idp-admin", defaults={"name": "IdP admin"})[0]
    ApiScope.objects.get_or_create(name="idp.admin.read", defaults={"resource": admin_api, "description": "read"})
    save_client(name="basket", client_id="basket", grant_types=[GrantType.JWT_BEARER], scopes=["discount.fullaccess"])
    save_client(name="automation", client_id="automation", grant_types=[GrantType.CLIENT_CREDENTIALS],
                scopes=["idp.admin.read"])  # fmt: skip


@pytest.fixture
def cluster():
    issuer = ExternalIssuer()
    yield issuer
    issuer.stop()


def test_a_client_manager_trusts_the_cluster_and_its_workload_gets_tokens(chromium, live_server, console, cluster):
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")

    page.goto(f"{live_server.url}/admin/oauth/trustedissuer/add/")
    page.fill("#id_name", "cluster")
    page.fill("#id_issuer", cluster.url)
    page.fill("#id_jwks_uri", cluster.jwks_uri)
    page.fill("#id_algorithms", "ES256")
    page.fill("#id_mappings-0-claims", f'{{"sub": "{BASKET_SA}"}}')
    # The management API's client is not offered to a client manager.
    options = page.locator("#id_mappings-0-client option").all_inner_texts()
    assert any("basket" in option for option in options)
    assert not any("automation" in option for option in options)
    page.select_option("#id_mappings-0-client", label=next(o for o in options if "basket" in o))
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert page.locator(".messagelist .success").count() == 1, page.locator("main").inner_text()
    issuer = TrustedIssuer.objects.get(name="cluster")
    assert [(m.claims, m.client.client_id) for m in issuer.mappings.all()] == [({"sub": BASKET_SA}, "basket")]

    # The workload: the cluster's token, no secret, a token for the discount service.
    answer = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": JWT_BEARER, "assertion": cluster.token(aud=ISSUER), "scope": "discount.fullaccess"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "discount.fullaccess"
