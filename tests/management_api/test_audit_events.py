"""Every change through the API is an audit event; the trail itself is read only."""

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.management_api.services import MANAGEMENT_API_CHANGE

pytestmark = pytest.mark.django_db


def changes() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE).order_by("id"))


def test_each_change_is_recorded_with_the_calling_client(api, apis, automation):
    api("post", "resources/", {"audience": "reporting", "resource_uri": "urn:test:reporting", "name": "R"})
    api("patch", "resources/reporting/", {"name": "Reporting"}, HTTP_X_REQUEST_ID="req-42")
    client_id = api("post", "clients/", {"name": "c", "client_type": "confidential"}).json()["client_id"]
    api("post", f"clients/{client_id}/rotate-secret/")
    api("delete", f"clients/{client_id}/")
    api("get", "resources/")  # reads are not changes

    events = changes()
    assert [(e.details["action"], e.details["model"]) for e in events] == [
        ("added", "resources.apiresource"),
        ("changed", "resources.apiresource"),
        ("added", "oauth.application"),
        ("changed", "oauth.application"),
        ("deleted", "oauth.application"),
    ]
    caller = automation.client.client_id
    assert {(e.client_id, e.subject, e.outcome) for e in events} == {(caller, caller, "granted")}
    assert events[1].details["changed"] == ["name"]
    assert events[1].request_id == "req-42"
    assert events[3].details["changed"] == ["client_secret"]
    assert events[4].details["object_id"] == str(events[2].details["object_id"])
    for event in events:
        assert "client_secret" not in str(event.details.get("object"))


def test_delete_records_what_it_revoked(api, apis, make_client, client_credentials_token):
    doomed = make_client("doomed", scopes=["eventcatalog.read"])
    client_credentials_token(doomed)
    assert api("delete", f"clients/{doomed.client.client_id}/").status_code == 204
    assert changes()[-1].details["deleted"]["oauth.AccessToken"] == 1


def test_failed_changes_write_nothing(api):
    assert api("post", "resources/", {"audience": "bad audience"}).status_code == 400
    assert changes() == []


def test_list_filters_and_pages(api, read_token):
    for n in range(3):
        record(event_type="token.exchange", granted=n != 1, client_id=f"c{n}")
    record(event_type="login", granted=True, client_id="c0")

    listed = api("get", "audit-events/?event_type=token.exchange&page_size=2", token=read_token)
    assert listed.status_code == 200
    page = listed.json()
    assert page["count"] == 3
    assert [e["client_id"] for e in page["results"]] == ["c2", "c1"]  # newest first
    assert (
        api("get", "audit-events/?event_type=token.exchange&page_size=2&page=2").json()["results"][0]["client_id"]
        == "c0"
    )

    refused = api("get", "audit-events/?outcome=refused").json()["results"]
    assert [(e["event_type"], e["client_id"], e["outcome"]) for e in refused] == [("token.exchange", "c1", "refused")]
    assert [e["event_type"] for e in api("get", "audit-events/?client_id=c0").json()["results"]] == [
        "login",
        "token.exchange",
    ]
    one = refused[0]
    assert api("get", f"audit-events/{one['id']}/").json() == one


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_trail_cannot_be_written(api, method):
    record(event_type="login", granted=True)
    event_id = AuditEvent.objects.get().pk
    path = "audit-events/" if method == "post" else f"audit-events/{event_id}/"
    assert api(method, path, {"event_type": "forged"}).status_code == 405
    assert AuditEvent.objects.count() == 1
