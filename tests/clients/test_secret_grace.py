"""Rotating a client secret without an outage: the secret it replaces keeps authenticating for
the grace period the operator chose, at every endpoint that authenticates clients, and is
refused (and forgotten) once the period is over."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.clients import secrets as secrets_module
from apps.clients.services import MAX_GRACE_PERIOD, SECRET_ROTATED, ClientCredentials, rotate_client_secret
from apps.oauth.models import Application
from tests.support.http import INTROSPECT_URL, REVOKE_URL, basic_auth, form_post, oauth_error

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}
DAY = timedelta(hours=24)


def data_statements(queries) -> list[str]:
    # Not transaction control, which differs between databases.
    statements = [query["sql"] for query in queries.captured_queries]
    return [sql for sql in statements if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", sql, re.I)]


@pytest.fixture
def service(apis, make_client) -> ClientCredentials:
    return make_client("catalog-reader", scopes=["eventcatalog.read"])


def with_secret(credentials: ClientCredentials, secret: str) -> ClientCredentials:
    return ClientCredentials(client=credentials.client, client_secret=secret)


def rotate(credentials: ClientCredentials, grace: timedelta) -> ClientCredentials:
    stored = Application.objects.get(pk=credentials.client.pk)
    return with_secret(credentials, rotate_client_secret(client=stored, grace_period=grace, rotated_by="operator"))


def end_grace_period(credentials: ClientCredentials) -> None:
    # As time passing would: no save, no signal, no cache invalidation.
    Application.objects.filter(pk=credentials.client.pk).update(
        previous_secret_expires=timezone.now() - timedelta(seconds=1)
    )


def stored(credentials: ClientCredentials) -> Application:
    return Application.objects.get(pk=credentials.client.pk)


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_both_secrets_get_tokens_during_the_grace_period(service, token_request, auth):
    new = rotate(service, DAY)
    assert token_request(service, CC, auth=auth).status_code == 200
    assert token_request(new, CC, auth=auth).status_code == 200


def test_both_secrets_introspect_and_revoke_during_the_grace_period(apis, make_client, service, token_request, client):
    api = make_client("eventcatalog-api", grants=[], scopes=[], resource="eventcatalog")
    token = token_request(service, CC).json()["access_token"]
    new_api = rotate(api, DAY)
    for caller in (api, new_api):
        auth = basic_auth(caller.client.client_id, caller.client_secret)
        response = form_post(client, INTROSPECT_URL, {"token": token}, HTTP_AUTHORIZATION=auth)
        assert response.status_code == 200
        assert response.json()["active"] is True

    new_service = rotate(service, DAY)
    for caller in (service, new_service):
        auth = basic_auth(caller.client.client_id, caller.client_secret)
        assert form_post(client, REVOKE_URL, {"token": token}, HTTP_AUTHORIZATION=auth).status_code == 200
    new_api_auth = basic_auth(api.client.client_id, new_api.client_secret)
    introspected = form_post(client, INTROSPECT_URL, {"token": token}, HTTP_AUTHORIZATION=new_api_auth)
    assert introspected.json() == {"active": False}


def test_after_the_grace_period_the_previous_secret_is_invalid_client_and_forgotten(service, token_request, client):
    new = rotate(service, DAY)
    assert token_request(service, CC).status_code == 200  # this process has the client cached
    end_grace_period(service)

    assert oauth_error(token_request(service, CC)) == (401, "invalid_client")
    assert oauth_error(token_request(service, CC, auth="post")) == (401, "invalid_client")
    api_credentials = basic_auth(service.client.client_id, service.client_secret)
    refused = form_post(client, INTROSPECT_URL, {"token": "x"}, HTTP_AUTHORIZATION=api_credentials)
    assert oauth_error(refused) == (401, "invalid_client")
    assert token_request(new, CC).status_code == 200
    row = stored(service)
    assert (row.previous_client_secret, row.previous_secret_hint, row.previous_secret_expires) == ("", "", None)


def test_saving_a_client_forgets_a_previous_secret_past_its_grace_period(service):
    rotate(service, DAY)
    end_grace_period(service)
    row = stored(service)
    row.name = "catalog-reader-2"
    row.save()
    row = stored(service)
    assert (row.previous_client_secret, row.previous_secret_hint, row.previous_secret_expires) == ("", "", None)


def test_without_a_grace_period_the_old_secret_stops_at_once(service, token_request):
    new = rotate(service, timedelta(0))
    assert oauth_error(token_request(service, CC)) == (401, "invalid_client")
    assert token_request(new, CC).status_code == 200
    row = stored(service)
    assert (row.previous_client_secret, row.previous_secret_hint, row.previous_secret_expires) == ("", "", None)


def test_rotating_during_a_grace_period_keeps_only_the_last_secret_replaced(service, token_request):
    second = rotate(service, DAY)
    third = rotate(second, timedelta(hours=1))

    assert oauth_error(token_request(service, CC)) == (401, "invalid_client")
    assert token_request(second, CC).status_code == 200
    assert token_request(third, CC).status_code == 200
    row = stored(service)
    assert row.previous_secret_hint == "…" + second.client_secret[-4:]
    assert row.secret_hint == "…" + third.client_secret[-4:]


def test_rotating_without_grace_during_a_grace_period_ends_both_old_secrets(service, token_request):
    second = rotate(service, DAY)
    third = rotate(second, timedelta(0))
    assert oauth_error(token_request(service, CC)) == (401, "invalid_client")
    assert oauth_error(token_request(second, CC)) == (401, "invalid_client")
    assert token_request(third, CC).status_code == 200


def test_a_disabled_client_is_refused_with_either_secret(service, token_request):
    new = rotate(service, DAY)
    Application.objects.filter(pk=service.client.pk).update(is_active=False)  # no signal, as the admin's bulk edit
    assert oauth_error(token_request(service, CC)) == (401, "invalid_client")
    assert oauth_error(token_request(new, CC)) == (401, "invalid_client")


def test_the_current_secret_costs_no_more_than_before(service, token_request):
    """Two statements, one comparison: the previous secret is looked at only when the current
    one does not match (and comes with the same row, so even then no statement is added)."""
    new = rotate(service, DAY)
    token_request(new, CC)  # loads the client's configuration into this process
    compare = mock.patch.object(secrets_module, "constant_time_compare", wraps=secrets_module.constant_time_compare)
    with CaptureQueriesContext(connection) as queries, compare as compared:
        assert token_request(new, CC).status_code == 200
    assert len(data_statements(queries)) == 2
    compared.assert_called_once()

    with CaptureQueriesContext(connection) as queries, compare as compared:
        assert token_request(service, CC).status_code == 200
    assert len(data_statements(queries)) == 2
    assert compared.call_count == 2


def test_rotation_is_audited_with_hints_and_never_a_secret(service):
    before = stored(service)
    new = rotate(service, DAY)
    after = stored(service)

    event = AuditEvent.objects.get(event_type=SECRET_ROTATED)
    assert SECRET_ROTATED == "client.secret_rotated"
    assert (event.client_id, event.subject, event.outcome) == (service.client.client_id, "operator", "granted")
    assert event.details == {
        "grace_period_seconds": 86400,
        "secret_hint": "…" + new.client_secret[-4:],
        "previous_secret_hint": "…" + service.client_secret[-4:],
        "previous_secret_expires": after.previous_secret_expires.isoformat(),
    }
    text = str(event.details)
    for secret in (service.client_secret, new.client_secret, before.client_secret, after.client_secret):
        assert secret not in text


def test_rotation_without_grace_is_audited_with_the_replaced_hint(service):
    new = rotate(service, timedelta(0))
    event = AuditEvent.objects.get(event_type=SECRET_ROTATED)
    assert event.details == {
        "grace_period_seconds": 0,
        "secret_hint": "…" + new.client_secret[-4:],
        "previous_secret_hint": "…" + service.client_secret[-4:],
        "previous_secret_expires": None,
    }


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), MAX_GRACE_PERIOD + timedelta(seconds=1)])
def test_a_grace_period_out_of_bounds_is_refused_and_changes_nothing(service, token_request, grace):
    with pytest.raises(ValueError, match="grace period"):
        rotate(service, grace)
    assert token_request(service, CC).status_code == 200
    assert not AuditEvent.objects.filter(event_type=SECRET_ROTATED).exists()


def test_a_public_client_has_no_secret_to_rotate(apis, make_client):
    spa = make_client(
        "spa",
        grants=["authorization_code"],
        scopes=["eventcatalog.read"],
        redirect_uris=["https://spa.test/cb"],
        client_type=Application.CLIENT_PUBLIC,
    )
    with pytest.raises(ValueError, match="public client"):
        rotate_client_secret(client=spa.client, grace_period=DAY)
    assert stored(spa).previous_secret_expires is None
