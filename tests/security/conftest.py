"""Shared helpers for the security corpus and the fuzzers: forged JWTs, a resource server
protected by the toolkit, the exchange scenario of tests/oauth, and row counts."""

import base64
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.test import APIRequestFactory

from apps.audit.models import AuditEvent
from apps.oauth.keys import get_signing_key, jwks_document
from apps.oauth.models import AccessToken, Grant, RefreshToken
from apps.oauth.tokens import IssuedAccessToken, store_access_token
from apps.resource_server import authentication
from apps.resource_server.jwks import JwksCache
from tests.conftest import INTROSPECT_URL, ISSUER, REVOKE_URL, basic_auth, form_post
from tests.flows import Pkce, approve, redeem

# The exchange scenario (alice, web, basket, policies, minted tokens) lives in tests/oauth;
# re-exported here so this directory's tests get the same fixtures.
from tests.oauth import conftest as _oauth_fixtures
from tests.oauth.conftest import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE  # noqa: F401 (re-exported)
from tests.resource_server.test_authentication import EventView

alice = _oauth_fixtures.alice
alice_token = _oauth_fixtures.alice_token
basket = _oauth_fixtures.basket
basket_policy = _oauth_fixtures.basket_policy
browser = _oauth_fixtures.browser
exchange = _oauth_fixtures.exchange
make_policy = _oauth_fixtures.make_policy
mint = _oauth_fixtures.mint
web = _oauth_fixtures.web

# The fuzzers keep no example database (database=None); Hypothesis's other caches go to the
# temporary directory too, so nothing is written into the repository.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "idp-security-hypothesis"))

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
LOGIN_URL = "/accounts/login/"

# --- JWT forgery -----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(token: str, index: int) -> dict[str, Any]:
    encoded = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def with_header(token: str, **changes: Any) -> str:
    """``token`` with header members changed (None removes one); signature kept as it was."""
    header = {k: v for k, v in {**part(token, 0), **changes}.items() if v is not None}
    _, payload, signature = token.split(".")
    return f"{b64(json.dumps(header).encode())}.{payload}.{signature}"


def with_claims(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and its original signature kept (tampering)."""
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps({**part(token, 1), **changes}).encode())}.{signature}"


def alg_none(token: str) -> str:
    """RFC 8725 section 2.1: the same claims, ``alg: none`` and no signature."""
    header = b64(json.dumps({**part(token, 0), "alg": "none"}).encode())
    return f"{header}.{token.split('.')[1]}."


def published_jwk(kid: str) -> dict[str, Any]:
    return next(k for k in jwks_document()["keys"] if k["kid"] == kid)


def hs256_with_public_key(token: str, form: str) -> str:
    """RFC 8725 section 2.1 algorithm confusion: HS256 keyed with our published public key,
    as PEM or as the JWK JSON a naive verifier might feed to HMAC."""
    jwk = published_jwk(part(token, 0)["kid"])
    if form == "pem":
        secret = jwt.PyJWK(jwk).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        secret = json.dumps(jwk).encode()
    signing_input = f"{b64(json.dumps({**part(token, 0), 'alg': 'HS256'}).encode())}.{token.split('.')[1]}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def signed_by_stranger(token: str, **header: Any) -> str:
    """The same claims signed with a key that is not ours (kid, jku, jwk... as given)."""
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"typ": "at+jwt", "kid": part(token, 0)["kid"], **header}
    return jwt.encode(part(token, 1), key, algorithm="ES256", headers=headers)


def stranger_jwk_header() -> tuple[Any, dict[str, Any]]:
    """An attacker's key and its public JWK, for ``jwk``-embedding attacks."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)


def resigned(token: str, *, store_for=None, typ: str | None = None, **claims: Any) -> str:
    """``token``'s claims changed and signed again with our real key (what a bug in our own
    issuing would produce); ``store_for=(application, user)`` also stores its row, so that only
    the claim under test can make a verifier refuse it."""
    header = part(token, 0)
    key = get_signing_key(header["alg"])
    payload = {k: v for k, v in {**part(token, 1), **claims}.items() if v is not None}
    forged = jwt.encode(
        payload, key.private_key, algorithm=key.algorithm, headers={"typ": typ or header["typ"], "kid": key.kid}
    )
    if store_for is not None:
        application, user = store_for
        store_access_token(issued=IssuedAccessToken(token=forged, claims=payload), application=application, user=user)
    return forged


INJECTED_KIDS = [
    pytest.param("no-such-kid", id="unknown"),
    pytest.param("../../../../etc/passwd", id="path-traversal"),
    pytest.param("/dev/null", id="absolute-path"),
    pytest.param("' OR '1'='1' --", id="sql"),
    pytest.param("x'; DROP TABLE oauth_signingkey; --", id="sql-drop"),
    pytest.param("https://evil.test/jwks.json", id="url"),
    pytest.param("k" * 10_000, id="very-long"),
    pytest.param("", id="empty"),
]


# --- a resource server protected by the toolkit (tests/resource_server's EventView) -------------


@pytest.fixture
def resource_server(apis, settings) -> Callable[..., int]:
    """The eventcatalog API behind JwtAccessTokenAuthentication, reading this IdP's JWKS
    without HTTP; returns a function giving the status of one request with a bearer token."""
    settings.RESOURCE_SERVER = {"ISSUER": ISSUER, "AUDIENCE": "eventcatalog", "JWKS_URI": "https://idp.test/jwks"}
    authentication._jwks["https://idp.test/jwks"] = JwksCache(jwks_document, min_refresh_interval=60)

    def call(token: str, method: str = "get") -> int:
        request = getattr(APIRequestFactory(), method)("/events/", HTTP_AUTHORIZATION=f"Bearer {token}")
        return EventView.as_view()(request).status_code

    yield call
    authentication._jwks.clear()


@pytest.fixture
def catalog_token(apis, make_client, client_credentials_token) -> str:
    """A genuine client-credentials token for the eventcatalog API (read only)."""
    caller = make_client("catalog-reader", scopes=["eventcatalog.read"])
    return client_credentials_token(caller, scope="eventcatalog.read")["access_token"]


@pytest.fixture
def catalog_api(apis, make_client):
    """The eventcatalog API registered as a client, as it introspects tokens."""
    return make_client("eventcatalog-api", grants=[], scopes=[], resource="eventcatalog")


def introspect(api: Client, credentials, token: str, **extra: str):
    auth = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(api, INTROSPECT_URL, {"token": token, **extra}, HTTP_AUTHORIZATION=auth)


def revoke(api: Client, credentials, token: str):
    auth = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(api, REVOKE_URL, {"token": token}, HTTP_AUTHORIZATION=auth)


# --- the second hop of a delegation chain -----------------------------------------------------


@pytest.fixture
def discount_service(apis, make_client, make_policy):
    """The discount service, exchanging the tokens it receives for the event catalog
    (its policy allows a chain one actor deep)."""
    service = make_client("discount-svc", grants=[TOKEN_EXCHANGE], scopes=[], resource="discount")
    make_policy(service.client, "eventcatalog", scopes=["eventcatalog.read"], max_depth=1)
    return service


# --- browser flows -------------------------------------------------------------------------------


def error_page_code(response) -> str:
    """The OAuth error code an authorization error page shows (asserting it is not a redirect)."""
    assert "Location" not in response, response["Location"]
    return response.context["error"].error


def consent_form_data(response) -> dict[str, str]:
    return {k: v for k, v in response.context["form"].initial.items() if v is not None}


# --- row counts ----------------------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """What a refused request must never add to (audit events aside)."""
    return {
        "access_tokens": AccessToken.objects.count(),
        "refresh_tokens": RefreshToken.objects.count(),
        "grants": Grant.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


@pytest.fixture
def web_tokens(browser, web) -> dict[str, str]:
    """What the web app holds after alice signs in: access, refresh and ID token."""
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid profile shoppingbasket.fullaccess", pkce)["code"]
    response = redeem(Client(), web, code, pkce.verifier)
    assert response.status_code == 200, response.content
    return response.json()
