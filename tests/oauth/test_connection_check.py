"""The token endpoint checks a reused database connection with its own first statement
(idp.sql.first_read) instead of Django's `SELECT 1` ping: no round trip on a working
connection, and still no failed request on one the database dropped."""

from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection

import idp.sql
from tests.support.http import basic_auth, form_post

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


@pytest.fixture
def reused_connection(settings):
    """A connection kept across requests with health checks on, as in production (the test
    settings close it after each request). The end of a request, which Django's test client
    skips, is replayed by ``end_request``."""
    saved = {key: connection.settings_dict[key] for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    connection.settings_dict.update(CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=True)
    connection.close()  # the next connection takes these settings
    yield
    connection.close()
    connection.settings_dict.update(saved)


def end_request() -> None:
    # What request_finished does (django.db.close_old_connections): the next request checks
    # the connection again before using it.
    connection.close_if_unusable_or_obsolete()


@pytest.fixture
def pings(monkeypatch) -> list[bool]:
    """Every health check Django runs (is_usable()), with its answer."""
    calls: list[bool] = []
    check = connection.is_usable

    def counted() -> bool:
        calls.append(check())
        return calls[-1]

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def post(client, credentials):
    authorization = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(client, "/o/token/", CC, HTTP_AUTHORIZATION=authorization)


@pytest.mark.django_db(transaction=True)
def test_a_working_connection_is_not_pinged(client, apis, make_client, reused_connection, pings):
    admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
    assert post(client, admin).status_code == 200  # opens the connection
    end_request()
    for _ in range(3):
        assert post(client, admin).status_code == 200
        end_request()
    assert connection.health_check_enabled
    assert pings == []


@pytest.mark.django_db(transaction=True)
def test_django_pings_other_requests_as_before(client, apis, make_client, reused_connection, pings):
    """The mechanism is limited to the token endpoint's first statement: anything else keeps
    Django's check (here an ORM query starting a 'request')."""
    admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
    assert post(client, admin).status_code == 200
    end_request()
    assert apis["eventcatalog"].__class__.objects.count() >= 1
    assert pings == [True]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server that drops connections")
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_replaced_without_failing_the_request(
    client, apis, make_client, reused_connection
):
    admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
    assert post(client, admin).status_code == 200
    end_request()
    dropped = connection.connection.info.backend_pid
    with pytest.raises(Exception):  # noqa: B017,PT011 - the server ends this very session: psycopg's own error
        connection.connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    response = post(client, admin)
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != dropped


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server that drops connections")
@pytest.mark.django_db(transaction=True)
def test_without_health_checks_a_dropped_connection_fails_one_request(client, apis, make_client, reused_connection):
    """What the check is for: with DB_CONN_HEALTH_CHECKS off, the documented price is one 503."""
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    connection.close()
    client.raise_request_exception = False  # answered as a person's or a program's request is
    admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
    assert post(client, admin).status_code == 200
    end_request()
    with pytest.raises(Exception):  # noqa: B017,PT011
        connection.connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    response = post(client, admin)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    end_request()  # the broken connection is closed at the end of the request
    assert post(client, admin).status_code == 200


@pytest.fixture
def failing_read(monkeypatch) -> list[str]:
    """idp.sql's statement raising OperationalError on its first run, recording each run."""
    runs: list[str] = []
    run = idp.sql._fetch_one

    def fetch(sql, params):
        runs.append(sql)
        if len(runs) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return run(sql, params)

    monkeypatch.setattr(idp.sql, "_fetch_one", fetch)
    return runs


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_fails_on_a_usable_connection_is_not_run_again(reused_connection, failing_read, pings):
    connection.ensure_connection()
    end_request()
    with pytest.raises(OperationalError):
        idp.sql.first_read("SELECT 1", [])
    assert len(failing_read) == 1
    assert pings == [True]  # asked whether the connection works, after the failure only


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_fails_on_a_lost_connection_runs_once_more_on_a_new_one(
    monkeypatch, reused_connection, failing_read
):
    connection.ensure_connection()
    end_request()
    closed: list[bool] = []
    close = connection.close
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    monkeypatch.setattr(connection, "close", lambda: closed.append(True) or close())
    assert idp.sql.first_read("SELECT 1", []) == (1,)
    assert len(failing_read) == 2
    assert closed == [True]


def test_inside_a_transaction_nothing_is_run_again(monkeypatch, failing_read):
    """Everything as for a lost connection at the start of a request, but in a transaction:
    only that keeps the statement from running again (a transaction cannot move to a new
    connection). The connection is a stand-in: a test's own transaction would check it too."""
    closed: list[bool] = []
    lost = SimpleNamespace(
        health_check_enabled=True,
        health_check_done=False,
        connection=object(),
        in_atomic_block=True,
        is_usable=lambda: False,
        close=lambda: closed.append(True),
    )
    monkeypatch.setattr(idp.sql, "connection", lost)
    with pytest.raises(OperationalError):
        idp.sql.first_read("SELECT 1", [])
    assert len(failing_read) == 1
    assert closed == []
    lost.in_atomic_block = False  # the same outside a transaction: closed, and run again
    runs: list[str] = []

    def fails_once(sql, params):
        runs.append(sql)
        if len(runs) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return (1,)

    monkeypatch.setattr(idp.sql, "_fetch_one", fails_once)
    assert idp.sql.first_read("SELECT 1", []) == (1,)
    assert len(runs) == 2
    assert closed == [True]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.django_db(transaction=True)
def test_the_token_statements_are_bound_on_the_server_and_prepared(client, apis, make_client, reused_connection):
    """idp.sql.hot_cursor: parameters bound by PostgreSQL, not quoted into the SQL in Python,
    and the statements prepared once run often enough on the connection (psycopg: 5 times)."""
    admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
    for _ in range(6):
        assert post(client, admin).status_code == 200
        end_request()
    prepared = prepared_statements()
    assert any(sql.startswith('INSERT INTO "oauth_accesstoken"') and "$19" in sql for sql in prepared), prepared
    assert any(sql.startswith("SELECT") and "oauth_application" in sql and "$2" in sql for sql in prepared), prepared


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.django_db(transaction=True)
def test_without_prepared_statements_the_token_statements_are_not_prepared(
    client, apis, make_client, reused_connection
):
    options = connection.settings_dict["OPTIONS"]
    connection.settings_dict["OPTIONS"] = {**options, "prepare_threshold": None}  # DB_PREPARED_STATEMENTS=0
    connection.close()
    try:
        admin = make_client("catalog-admin", scopes=["eventcatalog.read"])
        for _ in range(6):
            assert post(client, admin).status_code == 200
            end_request()
        assert prepared_statements() == []
    finally:
        connection.settings_dict["OPTIONS"] = options
