"""A public client's budget: it proves nothing but its client_id, so what a caller does in its
name counts against the client's budget at that caller's address, never against the budget of
every other caller."""

import pytest
from django.test import Client

from apps.ratelimit import middleware
from tests.support.flows import REDIRECT_URI, Pkce, approve
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error

WINDOW_START = 1_800_000_000  # a multiple of the window below
PAR_URL = "/o/par/"
SCOPE = "openid shoppingbasket.fullaccess"
ATTACKER, SPA_USER, OTHER_USER = "203.0.113.9", "198.51.100.7", "192.0.2.44"


@pytest.fixture
def limits(rate_limits, monkeypatch):
    monkeypatch.setattr(middleware, "now", lambda: float(WINDOW_START))
    return rate_limits


def push(http: Client, client_id: str, address: str, **headers: str):
    data = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "code_challenge": Pkce.new().challenge,
        "code_challenge_method": "S256",
    }
    return form_post(http, PAR_URL, data, REMOTE_ADDR=address, **headers)


def redeem_as_public_client(http: Client, client_id: str, code: str, pkce: Pkce, address: str):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
        "client_id": client_id,
    }
    return form_post(http, TOKEN_URL, data, REMOTE_ADDR=address)


def test_pushes_in_a_public_clients_name_do_not_spend_its_budget_elsewhere(limits, spa, browser):
    limits(client=(3, 60))
    http = Client()
    assert [push(http, "spa", ATTACKER).status_code for _ in range(3)] == [201, 201, 201]
    # The pushes spent the client's budget at the attacker's address only.
    assert oauth_error(push(http, "spa", ATTACKER)) == (429, "temporarily_unavailable")

    pkce = Pkce.new()
    params = approve(browser, "spa", SCOPE, pkce)
    tokens = redeem_as_public_client(http, "spa", params["code"], pkce, SPA_USER)

    assert tokens.status_code == 200, tokens.content
    assert push(http, "spa", OTHER_USER).status_code == 201


def test_one_user_refreshing_in_a_loop_does_not_spend_the_public_clients_budget_for_others(limits, spa, browser):
    limits(client=(3, 60))
    http = Client()
    pkce = Pkce.new()
    tokens = redeem_as_public_client(http, "spa", approve(browser, "spa", SCOPE, pkce)["code"], pkce, ATTACKER).json()
    refresh_token = tokens["refresh_token"]
    for _ in range(2):
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "spa"}
        refreshed = form_post(http, TOKEN_URL, data, REMOTE_ADDR=ATTACKER)
        assert refreshed.status_code == 200, refreshed.content
        refresh_token = refreshed.json()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "spa"}
    assert oauth_error(form_post(http, TOKEN_URL, data, REMOTE_ADDR=ATTACKER)) == (429, "temporarily_unavailable")

    other = Pkce.new()
    code = approve(browser, "spa", SCOPE, other)["code"]
    assert redeem_as_public_client(http, "spa", code, other, SPA_USER).status_code == 200


def test_a_confidential_clients_pushes_share_one_budget_from_every_address(limits, web):
    limits(client=(3, 60))
    http = Client()
    auth = basic_auth(web.client.client_id, web.client_secret)
    statuses = [
        push(http, "web", address, HTTP_AUTHORIZATION=auth).status_code
        for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    ]
    assert statuses == [201, 201, 201]

    refused = push(http, "web", "10.0.0.4", HTTP_AUTHORIZATION=auth)
    assert oauth_error(refused) == (429, "temporarily_unavailable")
    assert refused["Retry-After"] == "60"


def test_a_confidential_clients_id_sent_without_its_secret_spends_only_the_senders_budget(limits, web):
    limits(client=(3, 60), address_failures=(3, 60))
    http = Client()
    assert oauth_error(push(http, "web", ATTACKER)) == (401, "invalid_client")
    assert [push(http, "web", ATTACKER).status_code for _ in range(3)] == [401, 401, 429]

    auth = basic_auth(web.client.client_id, web.client_secret)
    assert [push(http, "web", SPA_USER, HTTP_AUTHORIZATION=auth).status_code for _ in range(3)] == [201] * 3
