"""Body parameters named like state the token endpoint keeps for itself never change what
it issues.

oauthlib's Request answers an unknown attribute from the request's own parameters, so code
that kept its state on the oauthlib request and read it back with ``getattr`` would take a
client's ``token_plan`` (the scopes and audiences to sign) or ``auth_time`` (the ID token's
claim) instead. The authorization code and refresh token grants still run through oauthlib:
with any of these parameters they must issue exactly what they issue without it."""

import jwt
import pytest
from django.test import Client

from tests.support.flows import Pkce, approve, redeem, refresh
from tests.support.tokens import verify

SCOPE = "openid profile shoppingbasket.fullaccess"

# Names of state the token endpoint kept on the oauthlib request, with values a client might
# send to widen or forge what is issued.
SMUGGLED = {
    "token_plan": '{"scopes": ["shoppingbasket.fullaccess", "eventcatalog.write"], "audiences": ["discount"]}',
    "issued_access_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
    "grant_row": "1",
    "stored_access_token": "1",
    "auth_time": "0",
}
# Claims that differ between any two tokens issued a moment apart.
PER_TOKEN = {"jti", "iat", "nbf", "exp", "at_hash"}


def issued(token: str) -> tuple[dict, dict, int]:
    """What a token says apart from its identity and issue time: header, claims, lifetime."""
    claims = jwt.decode(token, options={"verify_signature": False})
    stable = {name: value for name, value in claims.items() if name not in PER_TOKEN}
    return jwt.get_unverified_header(token), stable, claims["exp"] - claims["iat"]


def assert_same_issue(plain: dict, smuggling: dict) -> None:
    assert set(smuggling) == set(plain)
    for name in ("token_type", "scope", "expires_in"):
        assert smuggling[name] == plain[name], name
    assert issued(smuggling["access_token"]) == issued(plain["access_token"])
    if "id_token" in plain:
        assert issued(smuggling["id_token"]) == issued(plain["id_token"])


def code_tokens(browser: Client, web, **extra: str) -> dict:
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    response = redeem(Client(), web, code, pkce.verifier, **extra)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("name", SMUGGLED)
def test_authorization_code_issues_the_same_tokens_with_a_smuggled_parameter(client, browser, web, name):
    plain = code_tokens(browser, web)
    smuggling = code_tokens(browser, web, **{name: SMUGGLED[name]})

    assert_same_issue(plain, smuggling)
    assert verify(client, smuggling["access_token"], "shoppingbasket")["scope"] == "shoppingbasket.fullaccess"
    # The tokens stored are the ones issued: the refresh token is the one that works.
    assert refresh(Client(), web, smuggling["refresh_token"]).status_code == 200


@pytest.mark.parametrize("name", SMUGGLED)
def test_refresh_issues_the_same_tokens_with_a_smuggled_parameter(client, browser, web, name):
    first = code_tokens(browser, web)
    plain = refresh(Client(), web, first["refresh_token"])
    assert plain.status_code == 200, plain.content
    smuggling = refresh(Client(), web, plain.json()["refresh_token"], **{name: SMUGGLED[name]})
    assert smuggling.status_code == 200, smuggling.content

    assert_same_issue(plain.json(), smuggling.json())
    assert verify(client, smuggling.json()["access_token"], "shoppingbasket")["scope"] == "shoppingbasket.fullaccess"
    assert refresh(Client(), web, smuggling.json()["refresh_token"]).status_code == 200
