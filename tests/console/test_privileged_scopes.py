"""The management API's scopes (apps/resources/privileged.py) are granted by superusers only:
a "Client manager" may view, but not make, change, delete or rotate the secret of, a client
holding them (or acting as idp-admin) or an exchange policy into idp-admin, on any of the
console's pages; nor is any of them offered to them. Superusers keep every power."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from apps.clients.services import ClientCredentials
from apps.oauth.models import Application, ExchangePolicy
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE, is_privileged_scope, privileged_scope_ids
from tests.console.test_register_service import service_form

READ, WRITE = "idp.admin.read", "idp.admin.write"
CLIENTS, POLICIES = "/admin/oauth/application/", "/admin/oauth/exchangepolicy/"


@pytest.fixture
def manager(db) -> Client:
    user = get_user_model().objects.create_user("manager", password="manager-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Client manager"))
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def idp_admin(db) -> ApiResource:
    # Created by the management API's migration, as in every installation.
    return ApiResource.objects.get(audience=MANAGEMENT_API_AUDIENCE)


@pytest.fixture
def automation(apis, make_client) -> ClientCredentials:
    """An automation client a superuser granted the management API's scopes."""
    return make_client("automation", scopes=[READ, WRITE])


@pytest.fixture
def admin_policy(web, idp_admin) -> ExchangePolicy:
    policy = ExchangePolicy.objects.create(client=web.client, target=idp_admin)
    policy.scopes.set(ApiScope.objects.filter(name=READ))
    return policy


def pk(name: str) -> str:
    return str(ApiScope.objects.get(name=name).pk)


def client_form(**overrides) -> dict:
    data = {"name": "Sneaky", "client_type": "confidential", "allowed_grant_types": ["client_credentials"]}
    data.update(overrides)
    return data


def policy_form(client: Application, target: ApiResource, *scopes: str) -> dict:
    return {
        "client": client.pk,
        "target": target.pk,
        "scopes": [pk(name) for name in scopes],
        "mode": "delegation",
        "max_depth": 1,
        "max_lifetime": 300,
        "enabled": "on",
    }


def state() -> dict:
    """Everything the paths below could change."""
    return {
        "clients": sorted(
            (c.client_id, c.name, c.client_secret, c.resource_id, tuple(sorted(c.allowed_scopes.values_list("name"))))
            for c in Application.objects.all()
        ),
        "policies": sorted(
            (p.pk, p.client_id, p.target_id, tuple(sorted(p.scopes.values_list("name"))))
            for p in ExchangePolicy.objects.all()
        ),
        "apis": ApiResource.objects.count(),
    }


def offered(response, field: str) -> set[str]:
    return {str(value) for value, _label in _choices(response.context["adminform"].form.fields[field])}


def _choices(field):
    for group_or_value, label_or_choices in field.choices:
        if isinstance(label_or_choices, list):  # grouped: (API, [(id, label), ...])
            yield from label_or_choices
        elif group_or_value != "":
            yield group_or_value.value if hasattr(group_or_value, "value") else group_or_value, label_or_choices


def test_the_definition_names_the_management_apis_scopes_only(apis, idp_admin):
    assert privileged_scope_ids() == set(idp_admin.scopes.values_list("pk", flat=True))
    assert {s.name for s in ApiScope.objects.filter(pk__in=privileged_scope_ids())} == {READ, WRITE}
    assert is_privileged_scope(ApiScope.objects.get(name=WRITE))
    assert not is_privileged_scope(ApiScope.objects.get(name="eventcatalog.read"))
    assert not is_privileged_scope(ApiScope.objects.get(name="openid"))


def test_a_client_manager_is_offered_no_privileged_scope_or_api(manager, apis, idp_admin):
    page = manager.get(f"{CLIENTS}add/")
    assert page.status_code == 200
    scopes = offered(page, "allowed_scopes")
    assert pk("eventcatalog.read") in scopes and not {pk(READ), pk(WRITE)} & scopes
    resources = offered(page, "resource")
    assert str(apis["discount"].pk) in resources and str(idp_admin.pk) not in resources
    page = manager.get(f"{POLICIES}add/")
    assert not {pk(READ), pk(WRITE)} & offered(page, "scopes")
    assert str(idp_admin.pk) not in offered(page, "target")
    form = manager.get("/admin/register-service/").context["form"]
    for field in ("exchange_scopes", "client_credentials_scopes"):
        ids = {str(scope.pk) for scope in form.fields[field].queryset}
        assert pk("discount.fullaccess") in ids and not {pk(READ), pk(WRITE)} & ids


def test_a_superuser_is_offered_them(admin_client, apis, idp_admin):
    page = admin_client.get(f"{CLIENTS}add/")
    assert {pk(READ), pk(WRITE)} <= offered(page, "allowed_scopes")
    assert str(idp_admin.pk) in offered(page, "resource")
    assert str(idp_admin.pk) in offered(admin_client.get(f"{POLICIES}add/"), "target")


# Each path where a privileged choice is posted: the page, the form, the field refused.
# (own: a client of the manager's; admin: the idp-admin API; apis: the GloboTicket APIs.)
POSTED_CHOICES = {
    "register (client credentials)": lambda own, admin, apis: (
        "/admin/register-service/", service_form(client_credentials_scopes=[pk(WRITE)]), "client_credentials_scopes"
    ),
    "register (exchange)": lambda own, admin, apis: (
        "/admin/register-service/", service_form(exchange_scopes=[pk(READ)]), "exchange_scopes"
    ),
    "client add (scopes)": lambda own, admin, apis: (
        f"{CLIENTS}add/", client_form(allowed_scopes=[pk(READ), pk(WRITE)]), "allowed_scopes"
    ),
    "client add (resource)": lambda own, admin, apis: (f"{CLIENTS}add/", client_form(resource=admin.pk), "resource"),
    "client change (scopes)": lambda own, admin, apis: (
        f"{CLIENTS}{own.pk}/change/", client_form(name="web", client_type="public", allowed_scopes=[pk(WRITE)]),
        "allowed_scopes",
    ),
    "client change (resource)": lambda own, admin, apis: (
        f"{CLIENTS}{own.pk}/change/", client_form(name="web", client_type="public", resource=admin.pk), "resource"
    ),
    "policy add (target)": lambda own, admin, apis: (f"{POLICIES}add/", policy_form(own, admin, READ), "target"),
    "policy add (scopes)": lambda own, admin, apis: (
        f"{POLICIES}add/", policy_form(own, apis["discount"], WRITE), "scopes"
    ),
}  # fmt: skip


@pytest.mark.parametrize("path", POSTED_CHOICES)
def test_a_privileged_choice_posted_by_a_client_manager_is_a_form_error(path, manager, apis, idp_admin, web):
    before = state()
    url, data, field = POSTED_CHOICES[path](web.client, idp_admin, apis)
    response = manager.post(url, data)
    assert response.status_code == 200
    form = response.context["adminform"].form if "adminform" in response.context else response.context.get("form")
    assert form is not None and field in form.errors, "refused on the form"
    assert "granted by a superuser only" in str(form.errors[field])
    assert state() == before


# Each way to change, delete or take over what holds privilege: refused outright.
# (client: an automation client holding the management API's scopes; policy: one into idp-admin.)
TAKE_OVERS = {
    "client change": lambda client, policy, own, apis: (
        f"{CLIENTS}{client.pk}/change/", client_form(name="taken-over", client_type="confidential")
    ),
    "client delete": lambda client, policy, own, apis: (f"{CLIENTS}{client.pk}/delete/", {"post": "yes"}),
    "rotate button (confirmation page)": lambda client, policy, own, apis: (
        f"{CLIENTS}{client.pk}/rotate-secret/", None
    ),
    "rotate button": lambda client, policy, own, apis: (
        f"{CLIENTS}{client.pk}/rotate-secret/", {"post": "yes", "grace_period": "0"}
    ),
    "rotate action": lambda client, policy, own, apis: (
        CLIENTS, {"action": "rotate_secret", "_selected_action": [client.pk], "post": "yes", "grace_period": "0"}
    ),
    "delete action": lambda client, policy, own, apis: (
        CLIENTS, {"action": "delete_selected", "_selected_action": [client.pk], "post": "yes"}
    ),
    "policy change": lambda client, policy, own, apis: (
        f"{POLICIES}{policy.pk}/change/", policy_form(own, apis["discount"], "discount.fullaccess")
    ),
    "policy delete": lambda client, policy, own, apis: (f"{POLICIES}{policy.pk}/delete/", {"post": "yes"}),
    "policy delete action": lambda client, policy, own, apis: (
        POLICIES, {"action": "delete_selected", "_selected_action": [policy.pk], "post": "yes"}
    ),
}  # fmt: skip


@pytest.mark.parametrize("path", TAKE_OVERS)
def test_a_client_manager_cannot_change_delete_or_rotate_what_holds_privilege(
    path, manager, apis, automation, admin_policy, web
):
    before = state()
    url, data = TAKE_OVERS[path](automation.client, admin_policy, web.client, apis)
    response = manager.get(url) if data is None else manager.post(url, data)
    assert response.status_code == 403
    assert state() == before


def test_a_client_manager_views_a_privileged_client_read_only_without_the_rotate_button(manager, automation):
    page = manager.get(f"{CLIENTS}{automation.client.pk}/change/")
    assert page.status_code == 200
    assert not page.context["has_change_permission"] and not page.context["has_delete_permission"]
    assert 'id="rotate-secret"' not in page.content.decode()


def test_a_client_manager_still_runs_ordinary_clients(manager, apis, web):
    response = manager.post(f"{CLIENTS}add/", client_form(allowed_scopes=[pk("eventcatalog.read")]))
    assert response.status_code == 200  # the page showing the new secret
    assert list(Application.objects.get(name="Sneaky").allowed_scopes.values_list("name", flat=True)) == [
        "eventcatalog.read"
    ]
    page = manager.get(f"{CLIENTS}{web.client.pk}/change/")
    assert page.context["has_change_permission"] and 'id="rotate-secret"' in page.content.decode()


def test_a_superuser_grants_and_manages_them(admin_client, apis, idp_admin, automation, web):
    response = admin_client.post(f"{CLIENTS}add/", client_form(allowed_scopes=[pk(READ)], resource=idp_admin.pk))
    assert response.status_code == 200
    made = Application.objects.get(name="Sneaky")
    assert (list(made.allowed_scopes.values_list("name", flat=True)), made.resource) == ([READ], idp_admin)
    response = admin_client.post(f"{POLICIES}add/", policy_form(web.client, idp_admin, READ))
    assert response.status_code == 302
    assert ExchangePolicy.objects.filter(target=idp_admin).exists()
    old = automation.client.client_secret
    response = admin_client.post(
        f"{CLIENTS}{automation.client.pk}/rotate-secret/", {"post": "yes", "grace_period": "0"}
    )
    assert response.status_code == 200
    automation.client.refresh_from_db()
    assert automation.client.client_secret != old
    response = admin_client.post(f"{CLIENTS}{automation.client.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Application.objects.filter(pk=automation.client.pk).exists()
    response = admin_client.post("/admin/register-service/", service_form(client_credentials_scopes=[pk(WRITE)]))
    assert response.status_code == 200
    assert list(Application.objects.get(client_id="payments").allowed_scopes.values_list("name", flat=True)) == [WRITE]


def test_a_client_manager_cannot_rename_move_or_add_to_the_management_api_or_its_scopes(manager, apis, idp_admin):
    """Else the management API and its scopes could be renamed away, and an API of their own
    (whose scopes their clients hold) renamed into idp-admin."""
    before = (
        list(ApiResource.objects.values_list("pk", "audience", "resource_uri")),
        list(ApiScope.objects.values_list("pk", "name", "resource_id")),
    )
    scope = ApiScope.objects.get(name=WRITE)
    resource = {"audience": "old-admin", "resource_uri": "urn:old", "name": "Old", "access_token_lifetime": 300}
    resource.update({"signing_algorithm": "RS256", "user_claims": "[]", "store_tokens": "on"})
    inline = {"scopes-TOTAL_FORMS": "0", "scopes-INITIAL_FORMS": "0"}
    for url, data in (
        (f"/admin/resources/apiresource/{idp_admin.pk}/change/", {**resource, **inline}),
        (f"/admin/resources/apiresource/{idp_admin.pk}/delete/", {"post": "yes"}),
        (f"/admin/resources/apiscope/{scope.pk}/change/", {"name": "renamed", "resource": apis["discount"].pk}),
        (f"/admin/resources/apiscope/{scope.pk}/delete/", {"post": "yes"}),
    ):
        assert manager.post(url, data).status_code == 403, url
    moved = ApiScope.objects.get(name="discount.fullaccess")
    for url, data in (
        ("/admin/resources/apiscope/add/", {"name": "idp.admin.more", "resource": idp_admin.pk}),
        (f"/admin/resources/apiscope/{moved.pk}/change/", {"name": moved.name, "resource": idp_admin.pk}),
    ):
        response = manager.post(url, data)
        assert response.status_code == 200, url
        assert "resource" in response.context["adminform"].form.errors, url
    after = (
        list(ApiResource.objects.values_list("pk", "audience", "resource_uri")),
        list(ApiScope.objects.values_list("pk", "name", "resource_id")),
    )
    assert after == before
    # Their own APIs and scopes they still run.
    response = manager.post(f"/admin/resources/apiscope/{moved.pk}/change/", {"name": "discount.all"})
    assert response.status_code == 302
