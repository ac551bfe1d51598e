"""A database outage is answered 503 temporarily_unavailable with Retry-After, never 500.
(The real outage, PostgreSQL stopped under load, is bench/reliability.py's; docs/reliability.md.)"""

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from tests.support.http import TOKEN_URL, basic_auth, form_post


@pytest.fixture
def http(db):
    return Client(raise_request_exception=False)  # as in production: the handler answers


@pytest.mark.parametrize("error", [OperationalError("server closed the connection"), InterfaceError("closed")])
def test_token_endpoint_answers_503_when_the_database_is_unreachable(http, monkeypatch, error):
    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr("apps.clients.authentication.client_record", unreachable)
    response = form_post(
        http, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth("svc", "secret")
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "2"
    assert response["Cache-Control"] == "no-store"
    assert "server closed" not in response.content.decode()  # never the driver's message


def test_a_browser_page_answers_503_too(http, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", unreachable)
    http.cookies["sessionid"] = "x" * 32
    assert http.get("/accounts/login/").status_code == 503


def test_any_other_error_is_still_a_500(http, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr("apps.clients.authentication.client_record", broken)
    response = form_post(
        http, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth("svc", "secret")
    )
    assert response.status_code == 500
    assert "Retry-After" not in response
