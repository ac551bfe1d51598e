"""/healthz and /readyz: what load balancers and kubelets probe, over plain HTTP, by pod address."""

from unittest import mock

import pytest
from django.db import OperationalError, connection

from apps.keys.services import create_key, rotate_keys
from apps.oauth.models import KeyState


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any query would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_ok_with_a_database_and_active_keys(client, apis):
    rotate_keys()  # RS256 and ES256 (the discount API signs with ES256)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "signing_keys": "ok"}}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_unavailable_without_an_active_signing_key(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "signing_keys": "error: no active signing key for RS256"},
    }
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_needs_a_key_for_every_algorithm_an_enabled_api_uses(client, apis):
    create_key(algorithm="RS256", state=KeyState.ACTIVE)
    assert client.get("/readyz").json()["checks"]["signing_keys"] == "error: no active signing key for ES256"
    apis["discount"].enabled = False
    apis["discount"].save()
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_the_probe_creates_no_key(client):
    from apps.oauth.models import SigningKey

    client.get("/readyz")
    assert not SigningKey.objects.exists()


@pytest.mark.django_db
def test_readyz_is_unavailable_when_the_database_is_down_and_does_not_say_where_it_is(client):
    # A real outage is tested with real processes elsewhere; here the connection refuses.
    rotate_keys()
    outage = OperationalError('connection to server at "db.internal" (10.0.0.7), port 5432 failed: password=hunter2')
    with mock.patch.object(connection, "ensure_connection", side_effect=outage):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "error: database unreachable (OperationalError)",
            "signing_keys": "error: not checked (database unreachable)",
        },
    }
    assert b"db.internal" not in response.content and b"hunter2" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_over_plain_http_by_pod_address_are_answered(client, settings, path):
    """Behind a TLS proxy with the HTTPS redirect on, a kubelet probes http://<pod ip>/: no
    redirect, and no DisallowedHost either (the probes never read the Host header)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["login.example.com"]
    rotate_keys()
    response = client.get(path, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    # Everything else still refuses an unknown host and redirects to HTTPS.
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="login.example.com").status_code == 301


def test_probes_skip_sessions_and_csrf(client, db):
    response = client.get("/healthz")
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.django_db
def test_probes_answer_get_only(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
