"""Refresh tokens: opaque, rotated, reuse detection revokes the family, safe under races."""

import pytest
from django.db import connection
from django.test import Client

from apps.oauth.models import RefreshToken
from tests.support.flows import Pkce, approve, race, redeem, refresh
from tests.support.http import oauth_error

SCOPE = "openid shoppingbasket.fullaccess"


@pytest.fixture
def tokens(alice, web) -> dict:
    browser = Client()
    browser.force_login(alice)
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    body = redeem(Client(), web, code, pkce.verifier).json()
    assert "refresh_token" in body
    return body


def test_refresh_token_is_opaque(tokens):
    assert not tokens["refresh_token"].startswith("ey")
    assert len(tokens["refresh_token"]) >= 43


def test_refresh_rotates_and_keeps_the_audience(client, web, tokens):
    response = refresh(client, web, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert set(body["scope"].split()) == set(SCOPE.split())
    import jwt

    assert jwt.decode(body["access_token"], options={"verify_signature": False})["aud"] == ["shoppingbasket"]


def test_reused_refresh_token_is_invalid_grant_and_revokes_the_family(client, web, tokens):
    rotated = refresh(client, web, tokens["refresh_token"]).json()
    assert oauth_error(refresh(client, web, tokens["refresh_token"])) == (400, "invalid_grant")
    # The legitimate holder's newer token dies with the family.
    assert oauth_error(refresh(client, web, rotated["refresh_token"])) == (400, "invalid_grant")


def test_another_clients_refresh_token_is_invalid_grant(client, web, tokens, make_client):
    other = make_client(
        "other",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid"],
        redirect_uris=["https://other.test/cb"],
    )
    assert oauth_error(refresh(client, other, tokens["refresh_token"])) == (400, "invalid_grant")
    assert refresh(client, web, tokens["refresh_token"]).status_code == 200


def test_wider_scope_on_refresh_is_invalid_scope(client, web, tokens):
    response = refresh(client, web, tokens["refresh_token"], scope=f"{SCOPE} eventcatalog.read")
    assert oauth_error(response) == (400, "invalid_scope")


def test_narrower_scope_on_refresh_is_allowed(client, web, tokens):
    response = refresh(client, web, tokens["refresh_token"], scope="shoppingbasket.fullaccess")
    assert response.status_code == 200
    assert response.json()["scope"] == "shoppingbasket.fullaccess"


@pytest.mark.django_db(transaction=True)
def test_parallel_refreshes_exactly_one_succeeds(web, tokens):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and real concurrency need PostgreSQL")
    statuses = race(6, lambda: refresh(Client(), web, tokens["refresh_token"]).status_code)
    assert statuses == [200, 400, 400, 400, 400, 400]
    assert RefreshToken.objects.filter(revoked__isnull=True).count() <= 1
