"""Property-based fuzzing of /o/token/, /o/introspect/, /o/revoke_token/ and /o/authorize/.

For any input: never a 5xx; the token endpoint answers 200 with an access token or an RFC 6749
section 5.2 JSON error (RFC 8693 / RFC 8707 codes included) with ``Cache-Control: no-store``;
introspection answers ``{"active": false}`` (or active for the one genuine pair), 401
``invalid_client`` or 400 ``invalid_request``; the authorization endpoint redirects only to the
registered redirect URI or the login page; and a refused request writes no token, refresh token
or code row (audit events are allowed for exchange attempts).

``FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/security/test_fuzz_endpoints.py`` for a long run.
"""

import base64
import json
import os
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.clients.services import ClientCredentials
from apps.tokens.issuance import issue_user_token
from tests.support.flows import REDIRECT_URI, Pkce, approve, redeem
from tests.support.forgery import alg_none, hs256_with_public_key, with_claims, with_header
from tests.support.http import INTROSPECT_URL, LOGIN_URL, REVOKE_URL, TOKEN_URL, basic_auth
from tests.support.tokens import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, TOKEN_EXCHANGE, row_counts

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE_GRANTS = {TOKEN_EXCHANGE, JWT_BEARER}
TOKEN_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
}
GRANT_TYPES = [
    "client_credentials",
    "authorization_code",
    "refresh_token",
    TOKEN_EXCHANGE,
    JWT_BEARER,
    "password",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
]
TOKEN_PARAMETERS = [
    "grant_type",
    "scope",
    "resource",
    "audience",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "requested_token_use",
    "assertion",
    "username",
    "password",
]
AUTHORIZE_PARAMETERS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "approval_prompt",
    "resource",
    "response_mode",
    "request",
    "request_uri",
    "claims",
    "id_token_hint",
    "login_hint",
]
FIXED_VALUES = [
    "",
    " ",
    "eventcatalog.read",
    "shoppingbasket.fullaccess",
    "discount.fullaccess",
    "openid profile email",
    "eventcatalog",
    "discount",
    "urn:test:discount",
    "urn:test:eventcatalog",
    "https://evil.test/",
    ACCESS_TOKEN_TYPE,
    ID_TOKEN_TYPE,
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:refresh_token",
    "on_behalf_of",
    "code",
    "token",
    "code id_token",
    "S256",
    "plain",
    "none",
    "login",
    "consent",
    "0",
    "-1",
    "99999999999999999999",
    REDIRECT_URI,
    REDIRECT_URI + "#x",
    "https://web.test/callbackx",
    "https://evil.test/callback",
    "//evil.test",
    "null",
    "[]",
    "{}",
    "%00",
    "\x00",
    "\r\nSet-Cookie: x=y",
    "' OR 1=1 --",
    "../../etc/passwd",
    "e30.e30.e30",
    "eyJhbGciOiJub25lIn0.e30.",
]
FORGERIES = [
    lambda t: t,
    alg_none,
    lambda t: hs256_with_public_key(t, "pem"),
    lambda t: hs256_with_public_key(t, "jwk"),
    lambda t: with_header(t, kid="../../etc/passwd"),
    lambda t: with_header(t, typ="JWT"),
    lambda t: with_claims(t, scope="discount.fullaccess eventcatalog.write"),
    lambda t: t[:-3],
    lambda t: t + t,
    lambda t: t.replace(".", "", 1),
]
LATIN1 = st.characters(max_codepoint=0xFF)


@dataclass
class World:
    """The clients, users and genuine tokens every example draws from."""

    clients: dict[str, ClientCredentials]
    tokens: dict[str, str]

    def jwts(self) -> list[str]:
        return [self.tokens[name] for name in ("alice_basket", "catalog_cc", "id_token", "web_access")]

    def values(self) -> list[str]:
        ids = [c.client.client_id for c in self.clients.values()]
        secrets = [c.client_secret for c in self.clients.values()]
        return [*ids, *secrets, *self.tokens.values()]


@pytest.fixture
def world(apis, make_client, alice, web, basket, basket_policy, client_credentials_token) -> World:
    catalog = make_client("catalog", scopes=["eventcatalog.read"], resource="eventcatalog")
    first_party = make_client(
        "first-party",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "profile", "shoppingbasket.fullaccess"],
        redirect_uris=[REDIRECT_URI],
        skip_authorization=True,
    )
    browser = Client()
    browser.force_login(alice)
    scope = "openid shoppingbasket.fullaccess"
    pending, redeemed = Pkce.new(), Pkce.new()
    code = approve(browser, web.client.client_id, scope, pending)["code"]  # left for the fuzzer
    signed_in = redeem(
        Client(), web, approve(browser, web.client.client_id, scope, redeemed)["code"], redeemed.verifier
    )
    web_tokens = signed_in.json()
    tokens = {
        "alice_basket": issue_user_token(client=web.client, user=alice, scopes=["shoppingbasket.fullaccess"]).token,
        "catalog_cc": client_credentials_token(catalog)["access_token"],
        "id_token": web_tokens["id_token"],
        "web_access": web_tokens["access_token"],
        "refresh": web_tokens["refresh_token"],
        "code": code,
        "verifier": pending.verifier,
        "challenge": pending.challenge,
    }
    return World(clients={"catalog": catalog, "web": web, "basket": basket, "first_party": first_party}, tokens=tokens)


# --- strategies ------------------------------------------------------------------------------------


def long_strings() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, count: unit * count,
        st.sampled_from(["a", "é", "\x00", "%", " ", "😀", ".", "=", "&", "\u202e"]),
        st.integers(min_value=256, max_value=120_000),
    )


def values(world: World) -> st.SearchStrategy[str]:
    genuine = world.values()
    return st.one_of(
        st.sampled_from(FIXED_VALUES + genuine),
        st.text(max_size=40),
        st.builds(
            lambda forge, token: forge(token),
            st.sampled_from(FORGERIES),
            st.sampled_from(world.jwts()),
        ),
        long_strings(),
    )


def names(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.text(max_size=12))


@st.composite
def parameters(draw, world: World, known: list[str], first: tuple[str, st.SearchStrategy[str]] | None = None):
    """A list of (name, value) pairs: mostly known names with plausible or hostile values,
    sometimes repeated, sometimes unknown."""
    pairs = []
    if first is not None:
        pairs.append((first[0], draw(first[1])))
    pairs += draw(st.lists(st.tuples(names(known), values(world)), max_size=10))
    if pairs and draw(st.booleans()):
        pairs.append(draw(st.sampled_from(pairs)))  # a repeated parameter
    return draw(st.permutations(pairs))


@st.composite
def authorization_headers(draw, world: World) -> str | None:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return None
    credentials = draw(st.sampled_from(list(world.clients.values())))
    if choice <= 2:
        return basic_auth(credentials.client.client_id, credentials.client_secret)
    if choice == 3:
        return basic_auth(credentials.client.client_id, draw(st.text(max_size=20)))
    if choice == 4:
        raw = draw(st.binary(max_size=60))
        return "Basic " + base64.b64encode(raw).decode()
    if choice == 5:
        return draw(st.sampled_from(["Basic ", "Bearer ", "basic ", "Basic"])) + draw(st.text(LATIN1, max_size=40))
    return draw(st.text(LATIN1, max_size=60))


@dataclass
class Request:
    pairs: list[tuple[str, str]]
    authorization: str | None
    content_type: str
    query: str
    raw_body: bytes | None


@st.composite
def post_requests(draw, world: World, known: list[str], first=None) -> Request:
    pairs = draw(parameters(world, known, first))
    content_type = draw(
        st.sampled_from(
            [
                *["application/x-www-form-urlencoded"] * 6,
                "application/x-www-form-urlencoded; charset=latin-1",
                "application/x-www-form-urlencoded; charset=bogus",
                "application/json",
                "multipart/form-data; boundary=BoUnDaRy",
                "text/plain",
                "",
            ]
        )
    )
    query = draw(st.sampled_from(["", "", "", "?grant_type=client_credentials", "?access_token=x", "?%ff=%00"]))
    raw_body = draw(st.none() | st.none() | st.binary(max_size=300))
    return Request(pairs, draw(authorization_headers(world)), content_type, query, raw_body)


def send(client: Client, url: str, request: Request):
    if request.raw_body is not None:
        body = request.raw_body
    elif request.content_type == "application/json":
        body = json.dumps(dict(request.pairs))
    elif request.content_type.startswith("multipart/"):
        lines = []
        for name, value in request.pairs:
            lines += ["--BoUnDaRy", f'Content-Disposition: form-data; name="{name}"', "", value]
        body = "\r\n".join([*lines, "--BoUnDaRy--", ""]).encode("utf-8", "surrogatepass")
    else:
        body = urlencode(request.pairs)
    headers = {} if request.authorization is None else {"HTTP_AUTHORIZATION": request.authorization}
    return client.generic("POST", url + request.query, body, content_type=request.content_type, **headers)


def grant_types_sent(request: Request) -> set[str]:
    return {value for name, value in request.pairs if name == "grant_type"}


def assert_no_rows_added(before: dict[str, int], after: dict[str, int], *, audit_allowed: bool) -> None:
    for table in ("access_tokens", "refresh_tokens", "grants"):
        assert after[table] <= before[table], f"a refused request added a row to {table}"
    if not audit_allowed:
        assert after["audit_events"] == before["audit_events"]


# --- the properties -----------------------------------------------------------------------------------


def test_token_endpoint_answers_every_request_with_a_token_or_an_rfc_error(world):
    """/o/token/: never 5xx; 200 with a token or a 5.2 JSON error, no-store; refusals write no rows."""
    grant_type = st.one_of(st.sampled_from(GRANT_TYPES), st.text(max_size=30))

    @FUZZ
    @given(request=post_requests(world, TOKEN_PARAMETERS, first=("grant_type", grant_type)))
    def check(request: Request) -> None:
        before = row_counts()
        response = send(Client(), TOKEN_URL, request)
        after = row_counts()
        assert response.status_code in (200, 400, 401), (response.status_code, response.content[:300])
        assert "no-store" in response.get("Cache-Control", ""), dict(response.items())
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        body = json.loads(response.content)
        if response.status_code == 200:
            assert isinstance(body["access_token"], str) and body["token_type"] == "Bearer"
            assert after["access_tokens"] - before["access_tokens"] <= 1
            return
        assert body["error"] in TOKEN_ERRORS, body
        assert (response.status_code == 401) == (body["error"] == "invalid_client"), (response.status_code, body)
        assert_no_rows_added(before, after, audit_allowed=bool(grant_types_sent(request) & EXCHANGE_GRANTS))

    check()


def token_lookup_requests(world: World):
    """Requests to introspection or revocation: a token (any value) and client credentials."""
    return post_requests(
        world, ["token", "token_type_hint", "client_id", "client_secret"], first=("token", values(world))
    )


def test_introspection_answers_inactive_or_an_rfc_error(world):
    """/o/introspect/: never 5xx; {"active": false} unless the genuine pair; else 401/400; no rows."""
    genuine_token = world.tokens["catalog_cc"]
    catalog = world.clients["catalog"]
    genuine_auth = basic_auth(catalog.client.client_id, catalog.client_secret)

    @FUZZ
    @given(request=token_lookup_requests(world))
    def check(request: Request) -> None:
        before = row_counts()
        response = send(Client(), INTROSPECT_URL, request)
        assert row_counts() == before
        assert response.status_code in (200, 400, 401), (response.status_code, response.content[:300])
        body = json.loads(response.content)
        if response.status_code == 200:
            if body != {"active": False}:
                assert body["active"] is True
                assert request.authorization == genuine_auth and ("token", genuine_token) in request.pairs
            return
        expected = "invalid_client" if response.status_code == 401 else "invalid_request"
        assert body["error"] == expected, body

    check()


def test_revocation_answers_200_or_an_rfc_error(world):
    """/o/revoke_token/: never 5xx; 200, 401 invalid_client or 400 invalid_request; never adds rows."""

    @FUZZ
    @given(request=token_lookup_requests(world))
    def check(request: Request) -> None:
        before = row_counts()
        response = send(Client(), REVOKE_URL, request)
        assert_no_rows_added(before, row_counts(), audit_allowed=False)
        assert response.status_code in (200, 400, 401), (response.status_code, response.content[:300])
        if response.status_code == 200:
            return
        body = json.loads(response.content)
        expected = {"invalid_client"} if response.status_code == 401 else {"invalid_request", "unsupported_token_type"}
        assert body["error"] in expected, body

    check()


def test_authorization_endpoint_never_redirects_to_an_unregistered_uri(world, alice):
    """/o/authorize/ GET: never 5xx; any redirect goes to the registered URI or the login page."""
    client_ids = [c.client.client_id for c in world.clients.values()]
    known_values = st.one_of(st.sampled_from(client_ids), st.sampled_from([world.tokens["challenge"]]), values(world))

    @st.composite
    def queries(draw):
        pairs = []
        # Often a plausible base request, so that examples get past client and URI validation.
        if draw(st.booleans()):
            pairs += [
                ("response_type", "code"),
                ("client_id", draw(st.sampled_from(client_ids))),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", world.tokens["challenge"]),
                ("code_challenge_method", "S256"),
            ]
        pairs += draw(st.lists(st.tuples(names(AUTHORIZE_PARAMETERS), known_values), max_size=8))
        return draw(st.permutations(pairs))

    @FUZZ
    @given(pairs=queries(), signed_in=st.booleans())
    def check(pairs: list[tuple[str, str]], signed_in: bool) -> None:
        browser = Client()
        if signed_in:
            browser.force_login(alice)
        before = row_counts()
        response = browser.get("/o/authorize/?" + urlencode(pairs))
        after = row_counts()
        assert response.status_code < 500, response.status_code
        assert after["access_tokens"] == before["access_tokens"]
        if response.status_code in (301, 302, 303, 307, 308):
            location = response["Location"]
            assert location.startswith((REDIRECT_URI + "?", LOGIN_URL + "?")), location
            issued_code = location.startswith(REDIRECT_URI + "?code=") or "&code=" in location
            assert after["grants"] - before["grants"] == (1 if issued_code else 0), location
        else:
            assert response.status_code in (200, 400), response.status_code
            assert "Location" not in response
            assert after["grants"] == before["grants"]

    check()
