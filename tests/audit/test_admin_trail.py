"""The console's side: admin and management-API changes with their values (never a secret),
the audit list's filters and its export."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.audit import selectors
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.keys.services import get_signing_key, rotate_keys, withdraw_key
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import KeyState, SigningKey
from apps.resources.models import ApiScope
from tests.admin.test_clients_admin import new_client_form, shown_secret
from tests.management_api.conftest import api, automation, write_token  # noqa: F401  (fixtures)
from tests.support.admin import permissions

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/audit/auditevent/"


def admin_changes(model: str) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(event_type=audit.ADMIN_CHANGE).order_by("id")
    return [e for e in found if e.details["model"] == model]


def everything_stored() -> str:
    return json.dumps(list(AuditEvent.objects.values()), default=str)


# --- before/after values, never a secret -----------------------------------------------------


def test_an_admin_change_records_before_and_after_values_without_the_client_secret(admin_client, apis):
    response = admin_client.post("/admin/oauth/application/add/", new_client_form(apis))
    secret = shown_secret(response)
    [added] = admin_changes("oauth.application")
    assert added.details["action"] == "added"
    assert added.details["values"]["name"] == {"before": None, "after": "reporting"}
    assert added.details["values"]["allowed_scopes"] == {"before": None, "after": ["eventcatalog.read"]}

    from apps.oauth.models import Application

    client = Application.objects.get(name="reporting")
    form = new_client_form(apis, name="reporting v2")
    admin_client.post(f"/admin/oauth/application/{client.pk}/change/", form)
    changed = admin_changes("oauth.application")[-1]
    assert changed.details["action"] == "changed"
    assert changed.details["values"] == {"name": {"before": "reporting", "after": "reporting v2"}}

    admin_client.post(f"/admin/oauth/application/{client.pk}/delete/", {"post": "yes"})
    deleted = admin_changes("oauth.application")[-1]
    assert deleted.details["action"] == "deleted" and deleted.details["change"] == ""
    assert deleted.details["values"]["name"] == {"before": "reporting v2", "after": None}
    assert "client_secret" not in deleted.details["values"]

    stored = everything_stored()
    assert secret not in stored
    assert client.client_secret not in stored  # nor its hash
    assert not [e for e in admin_changes("oauth.application") if "client_secret" in e.details.get("values", {})]


def test_a_user_change_never_records_the_password_hash(admin_client):
    user = get_user_model().objects.create_user("carol", password="carol-password-1", email="c@example.test")
    admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": "carol",
            "email": "carol@example.test",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "last_login_0": "",
            "last_login_1": "",
        },
    )
    [changed] = admin_changes("auth.user")
    assert changed.details["values"]["email"] == {"before": "c@example.test", "after": "carol@example.test"}
    assert "password" not in changed.details["values"]
    assert user.password not in everything_stored()


def test_deleting_several_objects_records_each_ones_values(admin_client, apis):
    scopes = list(ApiScope.objects.filter(resource__audience="eventcatalog"))
    admin_client.post(
        "/admin/resources/apiscope/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in scopes], "post": "yes"},
    )
    deleted = admin_changes("resources.apiscope")
    assert sorted(e.details["values"]["name"]["before"] for e in deleted) == sorted(s.name for s in scopes)
    assert len(deleted) == len(scopes) > 1  # once each, not twice


def test_management_api_changes_record_before_and_after(api):  # noqa: F811
    api("post", "resources/", {"audience": "reporting", "resource_uri": "urn:test:reporting", "name": "R"})
    api("patch", "resources/reporting/", {"name": "Reporting"})
    client_id = api("post", "clients/", {"name": "c", "client_type": "confidential"}).json()["client_id"]
    api("delete", f"clients/{client_id}/")
    added, changed, _client_added, client_deleted = AuditEvent.objects.filter(
        event_type=MANAGEMENT_API_CHANGE
    ).order_by("id")
    assert added.details["values"]["name"] == {"before": None, "after": "R"}
    assert changed.details["values"] == {"name": {"before": "R", "after": "Reporting"}}
    assert client_deleted.details["values"]["name"] == {"before": "c", "after": None}
    assert "client_secret" not in client_deleted.details["values"]


def test_key_rotation_and_withdrawal_name_keys_by_id_only():
    get_signing_key("RS256")
    old = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE)
    upcoming = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT)
    rotate_keys(algorithms=["RS256"])
    [rotated] = AuditEvent.objects.filter(event_type=audit.KEY_ROTATED)
    new_next = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT)
    expected = {"algorithm": "RS256", "activated": upcoming.kid, "retired": [old.kid], "next": new_next.kid}
    assert rotated.details == expected
    withdraw_key(old.kid)
    [withdrawn] = AuditEvent.objects.filter(event_type=audit.KEY_WITHDRAWN)
    assert withdrawn.details == {"kids": [old.kid], "algorithm": "RS256", "expired": False}
    assert "PRIVATE KEY" not in everything_stored() and old.private_key_pem not in everything_stored()


# --- the list: subject, filters -------------------------------------------------------------


@pytest.fixture
def trail():
    carol = get_user_model().objects.create_user("carol")
    audit.record(event_type=audit.EXCHANGE, granted=True, client_id="basket", subject=str(carol.pk))
    audit.record(event_type=audit.SIGNED_IN, granted=True, subject="carol")
    audit.record(event_type=audit.SIGNED_IN, granted=True, subject="dave")
    audit.record(event_type=audit.CONSENT_GIVEN, granted=True, subject="dave", client_id="web")
    return carol


def listed(response) -> list[tuple[str, str]]:
    return [(e.event_type, e.subject) for e in response.context["cl"].result_list]


def test_the_subject_column_shows_usernames_where_an_event_stored_an_id(admin_client, trail):
    page = admin_client.get(CHANGELIST, {"event_type": audit.EXCHANGE})
    [row] = page.context["cl"].result_list
    assert row.subject == str(trail.pk) and row.subject_name == "carol"
    assert '<td class="field-subject_name">carol</td>' in page.content.decode()


def test_a_username_that_looks_like_an_id_stays_a_username(trail):
    audit.record(event_type=audit.SIGNED_IN, granted=True, subject=str(trail.pk))
    event = AuditEvent.objects.filter(event_type=audit.SIGNED_IN).first()
    assert selectors.subject_name(event, selectors.subject_names([event])) == str(trail.pk)


def test_filters_by_user_client_type_and_dates(admin_client, trail):
    by_user = listed(admin_client.get(CHANGELIST, {"subject": "carol"}))
    assert sorted(by_user) == [(audit.EXCHANGE, str(trail.pk)), (audit.SIGNED_IN, "carol")]
    assert listed(admin_client.get(CHANGELIST, {"client_id": "web"})) == [(audit.CONSENT_GIVEN, "dave")]
    assert sorted(listed(admin_client.get(CHANGELIST, {"event_type": audit.SIGNED_IN, "subject": "dave"}))) == [
        (audit.SIGNED_IN, "dave")
    ]
    today = timezone.localdate()
    assert len(listed(admin_client.get(CHANGELIST, {"created__gte": today.isoformat()}))) >= 4
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert listed(admin_client.get(CHANGELIST, {"created__gte": tomorrow})) == []
    assert listed(admin_client.get(CHANGELIST, {"created__lt": today.isoformat()})) == []


def test_a_bad_date_is_no_error_page(admin_client, trail):
    response = admin_client.get(CHANGELIST, {"created__gte": "2026-13-45"})
    assert response.status_code == 302 and response.url.endswith("?e=1")


# The policy admits lookups on what the filters offer (subject, client_id, event_type, outcome,
# created) and refuses the rest: no oracle on columns the page does not filter by.
@pytest.mark.parametrize(
    "query", ["details__contains=x", "reason__startswith=a", "request_id=1", "audience__contains=x"]
)
def test_lookups_the_filters_do_not_offer_are_refused(admin_client, trail, query):
    assert admin_client.get(f"{CHANGELIST}?{query}").status_code == 400


# --- export ------------------------------------------------------------------------------------


def operator(*codenames: str, username: str = "olivia") -> Client:
    user = get_user_model().objects.create_user(username, is_staff=True)
    user.user_permissions.set(permissions(*codenames))
    http = Client()
    http.force_login(user)
    return http


def test_export_as_json_lines_keeps_the_filters(trail):
    http = operator("audit.view_auditevent")
    response = http.get(f"{CHANGELIST}export/jsonl/", {"subject": "carol"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [(r["event_type"], r["subject"]) for r in rows] == [(audit.SIGNED_IN, "carol"), (audit.EXCHANGE, "carol")]
    assert list(rows[0]) == list(selectors.EXPORT_COLUMNS)
    [exported] = AuditEvent.objects.filter(event_type=audit.EXPORTED)
    assert exported.subject == "olivia"
    assert exported.details == {"format": "jsonl", "filters": "?subject=carol", "events": 2}


def test_export_as_csv_escapes_formulas():
    audit.record(event_type=audit.SIGN_IN_FAILED, granted=False, subject='=HYPERLINK("http://evil")')
    audit.record(event_type=audit.SIGN_IN_FAILED, granted=False, subject="+1", client_id="@sum", reason="-2")
    response = operator("audit.view_auditevent").get(f"{CHANGELIST}export/csv/", {"event_type": audit.SIGN_IN_FAILED})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["subject"], r["client_id"], r["reason"]) for r in rows] == [
        ("'+1", "'@sum", "'-2"),
        ('\'=HYPERLINK("http://evil")', "", ""),
    ]
    assert rows[0]["details"] == "{}" and rows[0]["audience"] == "[]"


def test_export_needs_the_view_permission_and_a_known_format(trail):
    assert operator("oauth.view_application", username="oscar").get(f"{CHANGELIST}export/csv/").status_code == 403
    assert Client().get(f"{CHANGELIST}export/csv/").status_code == 302  # to the sign-in
    assert operator("audit.view_auditevent").get(f"{CHANGELIST}export/xlsx/").status_code == 400


def test_export_refuses_lookups_the_list_refuses(trail):
    http = operator("audit.view_auditevent")
    assert http.get(f"{CHANGELIST}export/csv/", {"details__icontains": "x"}).status_code == 400
    assert http.get(f"{CHANGELIST}export/csv/", {"created__gte": "not a date"}).status_code == 400
    assert not AuditEvent.objects.filter(event_type=audit.EXPORTED).exists()


def test_the_list_offers_both_exports_with_its_filters(admin_client, trail):
    page = admin_client.get(CHANGELIST, {"client_id": "web"}).content.decode()
    assert f'href="{CHANGELIST}export/jsonl/?client_id=web"' in page
    assert f'href="{CHANGELIST}export/csv/?client_id=web"' in page


def test_the_trail_cannot_be_changed_or_deleted_in_bulk(trail):
    with pytest.raises(ValueError):
        AuditEvent.objects.all().delete()
    with pytest.raises(ValueError):
        AuditEvent.objects.update(subject="x")
    assert AuditEvent.objects.filter(subject="carol").exists()
