"""The admin is a trust boundary. Every registered ModelAdmin is enumerated here, so a model or
action added later fails these tests until apps/console/policy.py classifies it."""

import json
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.core import serializers
from django.db import models
from django.urls import reverse

from apps.console.checks import policy_problems
from apps.console.policy import MODEL_POLICIES, Kind, secret_fields, touches_secret
from apps.console.site import OperatorAdminSite
from tests.support.admin import permissions, registered_admins, view_permissions

ADMINS = registered_admins()
LABELS = [label for label, _ in ADMINS]
RECORDS = {
    "oauth.accesstoken",
    "oauth.refreshtoken",
    "oauth.idtoken",
    "oauth.grant",
    "oauth.signingkey",
    "consent.consent",
    "audit.auditevent",
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
}


def changelist(label: str) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


def change_page(label: str, pk) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_change", args=[pk])


def secret_paths(model_admin: admin.ModelAdmin) -> list[str]:
    """Every secret column reachable from this admin's model: its own, and its relations'."""
    model = model_admin.model
    paths = sorted(secret_fields(model))
    for field in model._meta.get_fields():
        if field.is_relation and field.related_model is not None and field.concrete:
            paths += [f"{field.name}__{secret}" for secret in sorted(secret_fields(field.related_model))]
    return paths


def offered_actions(response) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


def snapshot() -> str:
    """Every row of every model the admin shows (and their audit trail)."""
    return json.dumps(
        [serializers.serialize("json", model._default_manager.order_by("pk")) for model in admin.site._registry]
    )


# --- classification ------------------------------------------------------------------------


def test_every_registered_admin_is_classified_and_consistent():
    assert policy_problems(admin.site) == []
    assert set(LABELS) <= set(MODEL_POLICIES)
    assert {label for label in LABELS if MODEL_POLICIES[label].kind is Kind.RECORD} == RECORDS


class Unclassified(models.Model):
    secret = models.CharField(max_length=10)

    class Meta:
        app_label = "console"
        managed = False

    def __str__(self) -> str:
        return self.secret


def test_an_unclassified_model_or_action_or_visible_secret_is_named(db):
    from apps.oauth.models import Application
    from apps.resources.models import ApiScope

    def no_permissions_declared(modeladmin, request, queryset):
        queryset.update(description="changed")

    class SearchesSecrets(admin.ModelAdmin):
        search_fields = ("name", "client_secret")

    site = OperatorAdminSite(name="probe")
    site.register(Unclassified)
    site.register(ApiScope, actions=[no_permissions_declared])
    site.register(Application, SearchesSecrets)
    problems = policy_problems(site)
    assert any("console.unclassified" in p and "not classified" in p for p in problems), problems
    assert any("'no_permissions_declared' declares no permissions" in p for p in problems), problems
    assert any("names the secret 'client_secret' in search_fields" in p for p in problems), problems

    # And at run time, an unclassified model is shown to no one, superusers included.
    unclassified_admin = site._registry[Unclassified]
    request = type("Request", (), {"user": type("Superuser", (), {"is_active": True, "is_superuser": True})()})()
    assert not unclassified_admin.has_view_permission(request)
    assert not unclassified_admin.has_module_permission(request)


def test_the_system_check_reports_problems(monkeypatch):
    from django.core.checks import run_checks

    monkeypatch.delitem(MODEL_POLICIES, "resources.apiscope")
    errors = [e for e in run_checks() if e.id == "console.E001"]
    assert any("resources.apiscope" in e.msg for e in errors)


# --- (a) no secret can be filtered, searched, ordered or displayed --------------------------


@pytest.mark.parametrize(
    ("label", "path"),
    [(label, path) for label, model_admin in ADMINS for path in secret_paths(model_admin)],
)
@pytest.mark.parametrize("lookup", ["", "__startswith", "__regex", "__gte", "__in"])
def test_no_secret_column_can_be_filtered(label, path, lookup, every_record, operator_client):
    viewer = operator_client(view_permissions())
    response = viewer.get(changelist(label) + "?" + urlencode({path + lookup: "-----BEGIN"}))
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/admin/oauth/signingkey/?private_key_pem__startswith=-----BEGIN",
        "/admin/oauth/signingkey/?private_key_pem__regex=%5E-----BEGIN",
        "/admin/oauth/grant/?code__startswith=live",
        "/admin/oauth/application/?client_secret__startswith=idp",
        "/admin/oauth/accesstoken/?token_checksum__startswith=a",
        "/admin/oauth/accesstoken/?application__client_secret__startswith=idp",
        "/admin/auth/user/?password__startswith=md5",
        # Not secret, but not a filter the page offers: refused as well (default deny).
        "/admin/oauth/application/?redirect_uris__contains=web",
    ],
)
def test_the_reported_oracles_are_closed(url, every_record, operator_client):
    assert operator_client(view_permissions()).get(url).status_code == 400


@pytest.mark.parametrize("label", LABELS)
def test_the_filters_a_changelist_offers_still_work(label, every_record, operator_client):
    viewer = operator_client(view_permissions())
    page = viewer.get(changelist(label))
    assert page.status_code == 200
    offered = [
        choice["query_string"]
        for spec in page.context["cl"].filter_specs
        for choice in spec.choices(page.context["cl"])
    ]
    for query in offered:
        assert viewer.get(changelist(label) + query).status_code == 200, query


@pytest.mark.parametrize(("label", "model_admin"), ADMINS)
def test_no_secret_is_searchable_sortable_or_listed(label, model_admin, rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    model = model_admin.model
    visible = {
        "search": model_admin.get_search_fields(request),
        "list": [f for f in model_admin.get_list_display(request) if isinstance(f, str)],
        "sortable": [f for f in model_admin.get_sortable_by(request) if isinstance(f, str)],
        "ordering": model_admin.get_ordering(request),
        "filters": [
            f if isinstance(f, str) else f[0] for f in model_admin.get_list_filter(request) if not isinstance(f, type)
        ],
    }
    for where, paths in visible.items():
        assert not [p for p in paths if touches_secret(model, p)], (label, where)
    for column in model_admin.get_list_display(request):
        func = getattr(model_admin, column, None) if isinstance(column, str) else column
        order_field = getattr(func, "admin_order_field", None)
        assert order_field is None or not touches_secret(model, order_field), (label, column)


def _secret_values(obj) -> list[str]:
    values = [str(getattr(obj, field) or "") for field in secret_fields(type(obj))]
    return [v for v in values if len(v) >= 8]


@pytest.mark.parametrize("label", [label for label, _ in ADMINS if MODEL_POLICIES[label].secret_fields])
def test_no_secret_value_is_displayed_or_found_by_search(label, every_record, admin_client):
    obj = every_record[label]
    values = _secret_values(type(obj)._default_manager.get(pk=obj.pk))
    if label not in {"oauth.accesstoken", "oauth.refreshtoken"}:  # their token column is blank by design
        assert values, f"{label}: the fixture must give the secret a value"
    pages = [
        admin_client.get(changelist(label)),
        admin_client.get(change_page(label, obj.pk)),
        admin_client.get(change_page(label, obj.pk).replace("/change/", "/history/")),
    ]
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        for value in values:
            middle = value[len(value) // 2 - 8 : len(value) // 2 + 8]
            assert value not in html and middle not in html, (label, response.request["PATH_INFO"])
    # Searching for a piece of the secret finds no more than searching for nonsense does (all
    # rows where the admin has no search at all, none otherwise).
    nonsense = admin_client.get(changelist(label) + "?q=no-such-value-anywhere").context["cl"].result_count
    for value in values:
        piece = value[len(value) // 2 - 8 : len(value) // 2 + 8]
        found = admin_client.get(changelist(label) + "?" + urlencode({"q": piece}))
        assert found.status_code == 200 and found.context["cl"].result_count == nonsense, label


# --- (b) every action declares its permissions; without them nothing happens ---------------


def _actions() -> list[tuple[str, str]]:
    return [(label, name) for label, model_admin in ADMINS for _f, name, _d in model_admin._get_base_actions()]


@pytest.mark.parametrize(("label", "action"), _actions())
def test_an_action_is_refused_without_its_permissions_and_changes_nothing(
    label, action, every_record, operator_client, admin_client
):
    model_admin = dict(ADMINS)[label]
    func = model_admin.get_action(action)[0]
    assert func.allowed_permissions, f"{label}: {action} declares no permissions"
    obj = every_record[label]
    viewer = operator_client(view_permissions())

    assert action not in offered_actions(viewer.get(changelist(label)))
    before = snapshot()
    response = viewer.post(changelist(label), {"action": action, "_selected_action": [obj.pk], "post": "yes"})
    assert response.status_code in (200, 302, 403)
    assert snapshot() == before, f"{label}: {action} ran without its permission"


@pytest.mark.parametrize(("label", "action"), [a for a in _actions() if a[1] != "delete_selected"])
def test_an_action_is_offered_with_its_permission(label, action, every_record, operator_client):
    model_admin = dict(ADMINS)[label]
    func = model_admin.get_action(action)[0]
    model = model_admin.model
    granted = []
    for permission in func.allowed_permissions:
        codename = {"revoke": "delete", "unlock": "delete", "rotate": "rotate"}.get(permission, permission)
        codename = f"{codename}_{model._meta.model_name}"
        granted += permissions(f"{model._meta.app_label}.{codename}")
    holder = operator_client([*view_permissions(), *granted])
    assert action in offered_actions(holder.get(changelist(label)))


# --- (c) issued artifacts are read-only, superusers included --------------------------------


@pytest.mark.parametrize("label", sorted(RECORDS))
def test_records_cannot_be_added_changed_or_deleted(label, every_record, admin_client):
    obj = every_record[label]
    app_label, model_name = label.split(".")
    before = snapshot()
    assert admin_client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 403
    page = admin_client.get(change_page(label, obj.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_page(label, obj.pk), {"scope": "widened"}).status_code == 403
    assert (
        admin_client.post(change_page(label, obj.pk).replace("/change/", "/delete/"), {"post": "yes"}).status_code
        == 403
    )
    assert "delete_selected" not in offered_actions(admin_client.get(changelist(label)))
    assert snapshot() == before


def test_an_access_tokens_scope_cannot_be_widened(every_record, admin_client, client):
    """The reported attack: saving the change form widened what introspection answered."""
    token = every_record["oauth.accesstoken"]
    response = admin_client.post(
        change_page("oauth.accesstoken", token.pk),
        {"scope": "eventcatalog.read eventcatalog.write", "expires_0": "2099-01-01", "expires_1": "00:00:00"},
    )
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.scope == "eventcatalog.read"


def test_consents_cannot_be_added(every_record, admin_client):
    assert admin_client.get("/admin/consent/consent/add/").status_code == 403
