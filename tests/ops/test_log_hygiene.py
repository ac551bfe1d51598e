"""No token, client secret or password in any log record, whatever the level.

Real flows run with every logger at DEBUG and the redaction filter switched off, so this
checks what the code itself logs, not what the filter would hide. SQL is logged too
(django.db.backends, with its parameters): Django does that only with DEBUG=True or inside
CaptureQueriesContext, which these flows run in. Stored tokens are only checksums there
(COMPLIANT_BCP_RFC9700_TOKEN_STORAGE), client secrets only hashes; a signing key's private
key does appear in its INSERT, which only the redaction filter removes (tests/ops/test_logs.py).
"""

import logging
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.ops.logs import RedactSecretsFilter
from tests.support.http import INTROSPECT_URL, REVOKE_URL, basic_auth, form_post

PASSWORD = "Correct-Horse-7f3a9c-Battery"
WRONG_PASSWORD = "Wrong-Password-51d0e2-Staple"
FORGED_SUBJECT_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.Zm9yZ2Vk"


@pytest.fixture
def every_record(caplog, monkeypatch) -> Iterator[pytest.LogCaptureFixture]:
    monkeypatch.setattr(RedactSecretsFilter, "filter", lambda self, record: True)
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:  # e.g. django.server: its records never reach root
                monkeypatch.setattr(logger, "handlers", [*logger.handlers, caplog.handler])
    with CaptureQueriesContext(connection):  # SQL logging on, as with DEBUG=True
        yield caplog  # its .records: those of the test's own phase, read when the test ends


@pytest.mark.django_db
@pytest.mark.logs_secrets  # SQL logging on: a key's INSERT carries its PEM (checked below, not here)
def test_no_secret_is_ever_logged(every_record, client, basket, basket_policy, web, alice, exchange, make_client):
    alice.set_password(PASSWORD)
    alice.save()
    secrets = {PASSWORD, WRONG_PASSWORD, FORGED_SUBJECT_TOKEN, basket.client_secret, web.client_secret}
    basic = basic_auth(basket.client.client_id, basket.client_secret)
    secrets.add(basic.removeprefix("Basic "))

    # Client credentials.
    response = form_post(client, "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic)
    assert response.status_code == 200
    secrets.add(response.json()["access_token"])

    # Token exchange with a forged subject token, refused.
    assert exchange(basket, FORGED_SUBJECT_TOKEN, scope="discount.fullaccess").status_code == 400

    # A failed sign-in.
    assert Client().post("/accounts/login/", {"username": "alice", "password": WRONG_PASSWORD}).status_code == 200

    # A user token, revoked by its client, then introspected by the API it was for.
    user_token = _user_token(web, alice)
    secrets.add(user_token)
    web_basic = basic_auth(web.client.client_id, web.client_secret)
    assert form_post(client, REVOKE_URL, {"token": user_token}, HTTP_AUTHORIZATION=web_basic).status_code == 200
    introspection = form_post(client, INTROSPECT_URL, {"token": user_token}, HTTP_AUTHORIZATION=basic)
    assert introspection.json() == {"active": False}

    records = every_record.records
    logged_by = {record.name for record in records}
    assert {"django.db.backends", "django.request", "axes.handlers.database"} <= logged_by, logged_by
    for record in records:
        message = record.getMessage()
        leaked = [secret for secret in secrets if secret in message]
        assert not leaked, f"{record.name} logged a secret: {message[:300]}"


def _user_token(web, alice) -> str:
    from apps.tokens.issuance import issue_user_token

    return issue_user_token(client=web.client, user=alice, scopes=["shoppingbasket.fullaccess"]).token
