"""/metrics: off by default, behind a bearer token, and the counters move with real traffic."""

import os
import runpy
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.core.checks import run_checks
from django.test import Client

from tests.support.flows import Pkce, approve, redeem, refresh
from tests.support.metrics import METRICS_TOKEN, METRICS_URL, sample_value
from tests.test_settings import ROOT

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


@pytest.fixture
def catalog_reader(apis, make_client):
    return make_client("catalog-reader", scopes=["eventcatalog.read"])


def test_metrics_are_off_by_default(client, db):
    assert client.get(METRICS_URL, HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").status_code == 404


WRONG_TOKEN = 'Bearer realm="metrics", error="invalid_token", error_description="Not the metrics token."'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization, challenge",
    [
        # No Bearer credentials presented: no error code (RFC 6750 section 3.1).
        (None, 'Bearer realm="metrics"'),
        (f"Basic {METRICS_TOKEN}", 'Bearer realm="metrics"'),
        ("Bearer ", 'Bearer realm="metrics"'),
        ("Bearer wrong-token", WRONG_TOKEN),
    ],
)
def test_a_scrape_without_the_token_is_refused(client, metrics_enabled, authorization, challenge):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get(METRICS_URL, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == challenge
    assert response.content == b""


@pytest.mark.django_db
def test_a_scrape_with_the_token_gets_the_text_exposition(client, metrics_enabled):
    client.get("/healthz")
    response = client.get(METRICS_URL, HTTP_AUTHORIZATION=metrics_enabled)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    # Labelled counters appear with their first sample; these two have no labels.
    assert "# TYPE idp_login_failures_total counter" in body and "# TYPE idp_lockouts_total counter" in body
    assert 'idp_request_duration_seconds_bucket{endpoint="ops:healthz",le="0.0025"}' in body


@pytest.mark.django_db
def test_without_a_token_metrics_stay_closed_unless_explicitly_opened(client, settings):
    settings.IDP = {**settings.IDP, "METRICS_ENABLED": True, "METRICS_TOKEN": ""}
    assert client.get(METRICS_URL).status_code == 401
    assert [message.id for message in run_checks() if message.id.startswith("ops.")] == ["ops.W001"]
    settings.IDP = {**settings.IDP, "METRICS_ALLOW_UNAUTHENTICATED": True}
    assert client.get(METRICS_URL).status_code == 200
    assert not [message for message in run_checks() if message.id.startswith("ops.")]


@pytest.mark.django_db
def test_a_set_token_is_required_even_when_unauthenticated_scrapes_are_allowed(client, metrics_enabled, settings):
    settings.IDP = {**settings.IDP, "METRICS_ALLOW_UNAUTHENTICATED": True}
    assert client.get(METRICS_URL).status_code == 401


@pytest.mark.django_db
def test_client_credentials_token_moves_the_issued_counter(metric, token_request, catalog_reader):
    labels = {"grant": "client_credentials", "audience": "eventcatalog"}
    before = metric("idp_tokens_issued_total", **labels)
    assert token_request(catalog_reader, CC).status_code == 200
    assert metric("idp_tokens_issued_total", **labels) == before + 1


@pytest.mark.django_db
def test_refused_exchange_moves_the_refused_counter_by_error_code(metric, basket, basket_policy, exchange):
    before = metric("idp_token_exchanges_total", outcome="refused", reason="invalid_request")
    issued_before = metric("idp_tokens_issued_total", grant="token_exchange", audience="discount")
    response = exchange(basket, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert metric("idp_token_exchanges_total", outcome="refused", reason="invalid_request") == before + 1
    assert metric("idp_tokens_issued_total", grant="token_exchange", audience="discount") == issued_before


@pytest.mark.django_db
def test_granted_exchange_moves_the_granted_and_issued_counters(metric, basket, basket_policy, alice_token, exchange):
    granted = metric("idp_token_exchanges_total", outcome="granted", reason="")
    issued = metric("idp_tokens_issued_total", grant="token_exchange", audience="discount")
    assert exchange(basket, alice_token, scope="discount.fullaccess").status_code == 200
    assert metric("idp_token_exchanges_total", outcome="granted", reason="") == granted + 1
    assert metric("idp_tokens_issued_total", grant="token_exchange", audience="discount") == issued + 1


@pytest.mark.django_db
def test_authorization_code_and_refresh_tokens_are_counted(metric, browser, web):
    def issued(grant: str) -> float:
        return metric("idp_tokens_issued_total", grant=grant, audience="shoppingbasket")

    code_before, refresh_before = issued("authorization_code"), issued("refresh_token")
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid shoppingbasket.fullaccess", pkce)["code"]
    tokens = redeem(Client(), web, code, pkce.verifier).json()
    assert issued("authorization_code") == code_before + 1
    assert refresh(Client(), web, tokens["refresh_token"]).status_code == 200
    assert issued("refresh_token") == refresh_before + 1


@pytest.mark.django_db
def test_request_durations_are_labelled_by_url_name(metric, client, token_request, catalog_reader):
    def count(endpoint: str) -> float:
        return metric("idp_request_duration_seconds_count", endpoint=endpoint)

    token, health, login, unmatched = (
        count("oauth2_provider:token"),
        count("ops:healthz"),
        count("accounts:login"),
        count("unmatched"),
    )
    token_request(catalog_reader, CC)
    client.get("/healthz")
    client.get("/accounts/login/")
    client.get("/no/such/page/12345")
    assert count("oauth2_provider:token") == token + 1  # a service endpoint, past the chain
    assert count("ops:healthz") == health + 1
    assert count("accounts:login") == login + 1
    assert count("unmatched") == unmatched + 1  # not one series per scanned path


@pytest.mark.django_db
def test_failed_logins_and_lockouts_are_counted(metric, django_user_model):
    django_user_model.objects.create_user("bob", password="correct horse battery staple")
    failures, lockouts = metric("idp_login_failures_total"), metric("idp_lockouts_total")
    browser = Client()
    for _ in range(5):  # AXES_FAILURE_LIMIT: the fifth failure locks
        browser.post("/accounts/login/", {"username": "bob", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    assert metric("idp_login_failures_total") == failures + 5
    assert metric("idp_lockouts_total") == lockouts + 1


@pytest.mark.django_db
def test_tokens_for_several_audiences_are_one_series(make_client, apis, token_request, metric):
    both = make_client("both", scopes=["eventcatalog.read", "shoppingbasket.fullaccess"])
    labels = {"grant": "client_credentials", "audience": "eventcatalog,shoppingbasket"}
    before = metric("idp_tokens_issued_total", **labels)
    data = {"grant_type": "client_credentials", "scope": "shoppingbasket.fullaccess eventcatalog.read"}
    assert token_request(both, data).status_code == 200
    assert metric("idp_tokens_issued_total", **labels) == before + 1


def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    """gunicorn workers are processes: with PROMETHEUS_MULTIPROC_DIR each writes its own
    files, and the exposition of any one of them is the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", f"from apps.ops import metrics; {code}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("metrics.login_failed()")
    run("metrics.login_failed(); metrics.token_issued(grant='client_credentials', audience=['eventcatalog'])")
    exposition = run("print(metrics.exposition().decode())")
    assert sample_value(exposition, "idp_login_failures_total") == 2
    assert sample_value(exposition, "idp_tokens_issued_total", grant="client_credentials", audience="eventcatalog") == 1


def test_gunicorn_starts_from_empty_metric_files_and_forgets_dead_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "gauge_livesum_456.db").write_bytes(b"live")
    config["child_exit"](server=None, worker=SimpleNamespace(pid=456))
    assert not (tmp_path / "gauge_livesum_456.db").exists()
    config["on_starting"](server=None)
    assert list(tmp_path.iterdir()) == []


# --- RFC 6750 through the toolkit's implementation (apps/resource_server/bearer.py), exactly -------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, authorization, challenge",
    [
        (
            METRICS_URL,
            f"Bearer {METRICS_TOKEN} {METRICS_TOKEN}",
            'Bearer realm="metrics", error="invalid_request", '
            "error_description=\"The Authorization header must be 'Bearer <token>'.\"",
        ),
        (
            f"{METRICS_URL}?access_token={METRICS_TOKEN}",
            None,
            'Bearer realm="metrics", error="invalid_request", '
            'error_description="Send the access token in the Authorization header, not in the URL or body."',
        ),
    ],
)
def test_two_tokens_or_a_token_in_the_query_is_invalid_request(client, metrics_enabled, path, authorization, challenge):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get(path, **headers)
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == challenge
    assert response["Cache-Control"] == "no-store"
    assert response.content == b""  # the challenge names the error; a scraper reads the status


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_scheme_is_case_insensitive(client, metrics_enabled, scheme):
    assert client.get(METRICS_URL, HTTP_AUTHORIZATION=f"{scheme} {METRICS_TOKEN}").status_code == 200


@pytest.mark.django_db
def test_with_no_token_set_every_token_is_invalid_token(client, settings):
    settings.IDP = {**settings.IDP, "METRICS_ENABLED": True, "METRICS_TOKEN": ""}
    response = client.get(METRICS_URL, HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == WRONG_TOKEN
