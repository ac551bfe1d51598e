"""The predefined operator groups (created by apps/console/migrations/0001_operator_groups.py,
completed by the later migrations of apps/console/migrations/)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from tests.support.admin import registered_admins

CONFIGURATION = {
    "oauth.application",
    "oauth.exchangepolicy",
    "oauth.transactiontokenpolicy",
    "oauth.trustedissuer",
    "oauth.issuermapping",
    "resources.apiresource",
    "resources.apiscope",
}


def console_models() -> set[str]:
    """Every model the console shows: registered, or inline on a registered model's page."""
    return {label for label, _ in registered_admins()} | {
        inline.model._meta.label_lower for _, model_admin in registered_admins() for inline in model_admin.inlines
    }


def granted(group: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def view(label: str) -> str:
    app_label, model = label.split(".")
    return f"{app_label}.view_{model}"


def test_the_auditor_views_every_model_of_the_console_and_nothing_more(db):
    assert "oauth.issuermapping" in console_models()  # inline, on its issuer's page
    assert granted("Auditor") == {view(label) for label in console_models()}


def test_the_client_manager_runs_configuration_only(db):
    changes = {
        f"{label.split('.')[0]}.{a}_{label.split('.')[1]}"
        for label in CONFIGURATION
        for a in ("add", "change", "delete")
    }
    views = {view(label) for label in CONFIGURATION} | {
        view(label)
        for label in ("oauth.accesstoken", "oauth.refreshtoken", "oauth.idtoken", "consent.consent", "audit.auditevent")
    }
    assert granted("Client manager") == changes | views


def test_the_security_admin_revokes_rotates_unlocks_and_disables(db):
    actions = {
        "oauth.delete_accesstoken",
        "oauth.delete_refreshtoken",
        "consent.delete_consent",
        "oauth.rotate_signingkey",
        "axes.delete_accessattempt",
        "auth.change_user",
    }
    assert granted("Security admin") == {view(label) for label in console_models()} | actions


@pytest.mark.parametrize("group", ["Auditor", "Client manager", "Security admin"])
def test_no_group_may_add_change_or_delete_a_record(group, db):
    from apps.console.policy import MODEL_POLICIES, Kind

    records = [label for label, policy in MODEL_POLICIES.items() if policy.kind is Kind.RECORD]
    # "delete" on a record means revoke or unlock (the only way it is used); add and change never.
    forbidden = {f"{label.split('.')[0]}.{a}_{label.split('.')[1]}" for label in records for a in ("add", "change")}
    assert not granted(group) & forbidden


def test_a_security_admin_cannot_grant_privileges(db, client):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    responder = User.objects.create_user("responder", password="pw-responder-1", is_staff=True)
    responder.groups.add(Group.objects.get(name="Security admin"))
    client.force_login(responder)
    page = client.get(f"/admin/auth/user/{responder.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"is_superuser", "is_staff", "groups", "user_permissions"} & set(form.fields)
    target = User.objects.create_user("mallory", password="pw-mallory-1")
    response = client.post(
        f"/admin/auth/user/{target.pk}/change/",
        # Disable the account (allowed) and try to make it a superuser (refused: ignored).
        {
            "username": "mallory",
            "is_superuser": "on",
            "is_staff": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_active
    assert not target.is_superuser and not target.is_staff
    assert admin.site.is_registered(User)


def test_an_operator_who_may_change_users_cannot_take_over_an_operator_account(db, client, admin_user):
    from django.contrib.auth import get_user_model

    from tests.support.admin import permissions

    helpdesk = get_user_model().objects.create_user("helpdesk", password="pw-helpdesk-1", is_staff=True)
    helpdesk.user_permissions.set(permissions("auth.view_user", "auth.change_user"))
    colleague = get_user_model().objects.create_user("colleague", password="pw-colleague-1", is_staff=True)
    client.force_login(helpdesk)
    for target in (admin_user, colleague):
        form = {"password1": "Taken-over-123!", "password2": "Taken-over-123!", "usable_password": "true"}
        assert client.post(f"/admin/auth/user/{target.pk}/password/", form).status_code == 403
        target.refresh_from_db()
        assert not target.check_password("Taken-over-123!")
        assert client.post(f"/admin/auth/user/{target.pk}/change/", {"username": "renamed"}).status_code == 403
        assert client.post(f"/admin/auth/user/{target.pk}/delete/", {"post": "yes"}).status_code == 403
    target.refresh_from_db()
    assert target.username == "colleague"
    # Nor in bulk: "delete selected" asks about each account.
    helpdesk.user_permissions.add(*permissions("auth.delete_user"))
    client.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": [colleague.pk], "post": "yes"})
    assert get_user_model().objects.filter(pk=colleague.pk).exists()


def test_an_operator_who_may_change_groups_cannot_grant_permissions(db, client):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from tests.support.admin import permissions

    operator = get_user_model().objects.create_user("groupie", password="pw-groupie-1", is_staff=True)
    operator.user_permissions.set(permissions("auth.view_group", "auth.change_group", "auth.add_group"))
    own = Group.objects.create(name="own")
    operator.groups.add(own)
    client.force_login(operator)
    every = list(Permission.objects.values_list("pk", flat=True))
    assert client.post(f"/admin/auth/group/{own.pk}/change/", {"name": "own", "permissions": every}).status_code == 403
    assert client.post("/admin/auth/group/add/", {"name": "mine", "permissions": every}).status_code == 403
    assert not own.permissions.exists() and not Group.objects.filter(name="mine").exists()
