"""X-Request-ID: taken from the caller when usable, generated otherwise, echoed on every
response, and the id of the request's audit events."""

import re

import pytest

from apps.audit.models import AuditEvent
from apps.ops.request_id import current_request_id, request_id_from
from tests.support.http import TOKEN_URL, basic_auth, form_post
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE


def test_a_request_id_is_generated_and_echoed(client, db):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_the_callers_request_id_is_echoed(client, db):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="trace-7f3a/span-1")["X-Request-ID"] == "trace-7f3a/span-1"


@pytest.mark.parametrize(
    "supplied",
    ["x" * 65, "caf\u00e9", "line\x7fbreak", "   "],
    ids=["longer than 64", "not ascii", "not printable", "blank"],
)
def test_an_unusable_request_id_is_replaced(client, db, supplied):
    echoed = client.get("/healthz", HTTP_X_REQUEST_ID=supplied)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_64_characters_are_kept():
    assert request_id_from("a" * 64) == "a" * 64


@pytest.mark.django_db
def test_browser_pages_and_errors_echo_it_too(client):
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="page-1")["X-Request-ID"] == "page-1"
    assert client.get("/no/such/page/", HTTP_X_REQUEST_ID="missing-1")["X-Request-ID"] == "missing-1"


@pytest.mark.django_db
@pytest.mark.parametrize("supplied", [None, "exchange-trace-1"])
def test_audit_events_carry_the_echoed_request_id(client, basket, basket_policy, supplied):
    headers = {"HTTP_AUTHORIZATION": basic_auth(basket.client.client_id, basket.client_secret)}
    if supplied:
        headers["HTTP_X_REQUEST_ID"] = supplied
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": "not-a-token", "subject_token_type": ACCESS_TOKEN_TYPE}
    response = form_post(client, TOKEN_URL, data, **headers)
    assert response.status_code == 400
    event = AuditEvent.objects.get()
    assert event.request_id == response["X-Request-ID"]
    if supplied:
        assert event.request_id == supplied


def test_no_request_id_outside_a_request(client, db):
    client.get("/healthz", HTTP_X_REQUEST_ID="finished-1")
    assert current_request_id() == ""  # cleared once the response was closed
