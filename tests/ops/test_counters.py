"""The hourly token counters (apps/ops/counters.py): counted in memory on the request's
thread without a statement, added to the table by a flush off it, never overwritten."""

import atexit
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.ops import counters
from apps.ops.models import TokenCount
from tests.oauth.test_token_hot_path import data_statements

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


@pytest.fixture
def no_counts(db):
    """Counts pending from earlier tests (this process's) flushed away, and the table empty."""
    counters.flush()
    TokenCount.objects.all().delete()


def this_hour() -> datetime:
    return timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def counted() -> dict[tuple[str, str], int]:
    return {(row.grant_type, row.audience): row.count for row in TokenCount.objects.filter(hour=this_hour())}


@pytest.fixture
def catalog_reader(apis, make_client):
    return make_client("catalog-reader", scopes=["eventcatalog.read"])


def test_a_token_is_counted_without_a_statement(no_counts, token_request, catalog_reader):
    token_request(catalog_reader, CC)  # the client's configuration is cached from here on
    with CaptureQueriesContext(connection) as queries:
        assert token_request(catalog_reader, CC).status_code == 200
    assert len(data_statements(queries)) == 2  # the client's row and the token's: nothing more
    assert (
        sum(
            n
            for (_, grant, aud), n in counters.pending().items()
            if (grant, aud) == ("client_credentials", "eventcatalog")
        )
        == 2
    )
    assert not TokenCount.objects.exists()


def test_no_statement_on_the_request_even_while_a_background_flusher_runs(no_counts, token_request, catalog_reader):
    """The request thread never flushes: what the flusher does is on its own thread."""
    token_request(catalog_reader, CC)
    counters.flush_in_background(interval=3600)
    try:
        with CaptureQueriesContext(connection) as queries:
            assert token_request(catalog_reader, CC).status_code == 200
        assert len(data_statements(queries)) == 2
    finally:
        counters.stop_flushing()  # stops the thread, then flushes here
    assert counted() == {("client_credentials", "eventcatalog"): 2}


def test_a_flush_adds_to_what_other_processes_flushed(no_counts):
    TokenCount.objects.create(hour=this_hour(), grant_type="client_credentials", audience="discount", count=40)
    for _ in range(3):
        counters.token_issued(grant="client_credentials", audience=["discount"])
    counters.token_issued(grant="authorization_code", audience=["shoppingbasket", "eventcatalog"])
    with CaptureQueriesContext(connection) as queries:
        assert counters.flush() == 2
    upserts = [sql for sql in data_statements(queries) if sql.startswith("INSERT")]
    assert len(upserts) == 1 and "ON CONFLICT" in upserts[0]
    assert counted() == {
        ("client_credentials", "discount"): 43,
        ("authorization_code", "eventcatalog,shoppingbasket"): 1,  # sorted, as in the metrics
    }
    assert counters.pending() == {}
    assert counters.flush() == 0  # nothing pending: no statement at all


def test_a_refused_flush_keeps_its_counts_for_the_next(no_counts, monkeypatch, caplog):
    counters.token_issued(grant="client_credentials", audience=["discount"])

    def refuse(rows):
        raise DatabaseError("the database is away")

    with monkeypatch.context() as patched:
        patched.setattr(counters, "_upsert", refuse)
        assert counters.flush() == 0
    assert "Token counts not flushed" in caplog.text
    counters.token_issued(grant="client_credentials", audience=["discount"])
    assert counters.flush() == 1
    assert counted() == {("client_credentials", "discount"): 2}


def test_hours_older_than_a_week_are_pruned_once_an_hour(no_counts, monkeypatch):
    old = TokenCount.objects.create(
        hour=this_hour() - counters.KEEP - timedelta(hours=1), grant_type="client_credentials", audience="a", count=1
    )
    kept = TokenCount.objects.create(
        hour=this_hour() - timedelta(days=6), grant_type="client_credentials", audience="a"
    )
    monkeypatch.setattr(counters, "_pruned_hour", 0)
    counters.token_issued(grant="client_credentials", audience=["a"])
    counters.flush()
    assert not TokenCount.objects.filter(pk=old.pk).exists()
    assert TokenCount.objects.filter(pk=kept.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_flushes_on_its_own(monkeypatch):
    counters.flush()
    TokenCount.objects.all().delete()
    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    counters.flush_in_background(interval=0.05)
    try:
        assert registered == [counters.stop_flushing]  # and once more at exit
        counters.token_issued(grant="refresh_token", audience=["eventcatalog"])
        deadline = time.monotonic() + 5
        while not TokenCount.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counted() == {("refresh_token", "eventcatalog"): 1}
        assert counters.pending() == {}
    finally:
        counters.stop_flushing()
