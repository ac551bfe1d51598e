"""The management API's rotate-secret with a grace period (``grace_period_seconds``)."""

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.oauth.models import Application
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.management_api import call

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def api(client, make_client, client_credentials_token):
    automation = make_client("automation", scopes=[READ_SCOPE, WRITE_SCOPE])
    token = client_credentials_token(automation)["access_token"]

    def request(method: str, path: str, body=None, **headers):
        return call(client, method, path, token, body, **headers)

    request.caller = automation.client.client_id  # type: ignore[attr-defined]
    return request


@pytest.fixture
def service(apis, make_client):
    return make_client("catalog-reader", scopes=["eventcatalog.read"])


def token(client, client_id: str, secret: str):
    return form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic_auth(client_id, secret))


def test_a_grace_period_keeps_the_old_secret_working(api, service, client):
    client_id = service.client.client_id
    rotated = api("post", f"clients/{client_id}/rotate-secret/", {"grace_period_seconds": 3600})
    assert rotated.status_code == 200
    new = rotated.json()["client_secret"]
    assert token(client, client_id, service.client_secret).status_code == 200
    assert token(client, client_id, new).status_code == 200
    row = Application.objects.get(client_id=client_id)
    assert 3590 < (row.previous_secret_expires - timezone.now()).total_seconds() <= 3600

    event = AuditEvent.objects.get(event_type="client.secret_rotated")
    assert (event.client_id, event.subject) == (client_id, api.caller)
    assert event.details["grace_period_seconds"] == 3600
    assert event.details["previous_secret_hint"] == "…" + service.client_secret[-4:]
    assert event.details["secret_hint"] == "…" + new[-4:]
    assert new not in str(event.details) and service.client_secret not in str(event.details)


@pytest.mark.parametrize("body", [None, {}, {"grace_period_seconds": 0}])
def test_without_a_grace_period_the_old_secret_stops_at_once(api, service, client, body):
    client_id = service.client.client_id
    rotated = api("post", f"clients/{client_id}/rotate-secret/", body)
    assert rotated.status_code == 200
    assert oauth_error(token(client, client_id, service.client_secret)) == (401, "invalid_client")
    assert token(client, client_id, rotated.json()["client_secret"]).status_code == 200


@pytest.mark.parametrize("grace", [-1, 7 * 86400 + 1, "a day", None, 1.5, [3600]])
def test_a_grace_period_out_of_bounds_is_refused_and_nothing_changes(api, service, client, grace):
    client_id = service.client.client_id
    refused = api("post", f"clients/{client_id}/rotate-secret/", {"grace_period_seconds": grace})
    assert refused.status_code == 400
    assert list(refused.json()) == ["grace_period_seconds"]
    assert token(client, client_id, service.client_secret).status_code == 200
    assert not AuditEvent.objects.filter(event_type="client.secret_rotated").exists()


def test_the_grace_period_is_read_from_json_only(api, service, client):
    client_id = service.client.client_id
    refused = api("post", f"clients/{client_id}/rotate-secret/", data={"grace_period_seconds": "3600"})
    assert refused.status_code == 415
    assert token(client, client_id, service.client_secret).status_code == 200
