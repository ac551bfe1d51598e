"""Shared fixtures: every test makes its own data through the same services operators use."""

import base64
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import jwt
import pytest
from django.test import Client

from apps.oauth.keys import clear_key_cache
from apps.oauth.services.client_config import clear_client_cache
from apps.oauth.services.clients import ClientCredentials, save_client
from apps.ops.logs import redact
from apps.ratelimit.counters import reset_counters
from apps.resources.models import ApiResource, ApiScope

pytest_plugins = ["tests.support.key_pool"]

TOKEN_URL = "/o/token/"
INTROSPECT_URL = "/o/introspect/"
REVOKE_URL = "/o/revoke_token/"
JWKS_URL = "/.well-known/jwks.json"
ISSUER = "https://idp.test"


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    # Keys and clients live in the database, which each test rolls back; the process caches
    # must follow.
    clear_key_cache()
    clear_client_cache()
    yield
    clear_key_cache()
    clear_client_cache()


class _SecretScanner(logging.Handler):
    """Sees every record the logging configuration lets through, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            return
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:  # the redaction filter would have had to cut something
            self.leaks.append(f"{record.name}: {text[:300]}")


@contextmanager
def scanning_logs() -> Iterator[_SecretScanner]:
    scanner = _SecretScanner()
    root = logging.getLogger()
    # First: the console handler's redaction filter rewrites the record in place.
    root.handlers.insert(0, scanner)
    try:
        yield scanner
    finally:
        root.removeHandler(scanner)


@pytest.fixture(autouse=True)
def _no_secret_in_any_log_record(request):
    """Across the whole suite: no log record carries a token, a secret, a password or a
    private key (the shapes apps/ops/logs.py redacts). Tests that log one on purpose, to
    check the redaction itself, are marked ``logs_secrets``."""
    with scanning_logs() as scanner:
        yield
    if scanner.leaks and request.node.get_closest_marker("logs_secrets") is None:
        pytest.fail("a secret reached the logs:\n" + "\n".join(scanner.leaks[:5]))


@pytest.fixture
def rate_limits(settings) -> Iterator[Callable[..., None]]:
    """Turns the rate limits on (the test settings turn them off), each generous unless the
    test names it: ``rate_limits(login_username=(3, 60))``. Counters start and end empty."""

    def configure(**overrides: tuple[int, int]) -> None:
        generous = {
            "client": (1000, 60),
            "address_failures": (1000, 60),
            "login": (1000, 60),
            "login_username": (1000, 60),
        }
        settings.IDP = {**settings.IDP, "RATE_LIMITING": True, "RATE_LIMITS": {**generous, **overrides}}

    reset_counters()
    yield configure
    reset_counters()


def basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: form-urlencode each part before joining.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def form_post(client: Client, url: str, data: Sequence[tuple[str, str]] | dict, **headers):
    body = urlencode(list(data.items()) if isinstance(data, dict) else list(data), doseq=True)
    return client.post(url, body, content_type="application/x-www-form-urlencoded", **headers)


@pytest.fixture
def make_resource(db) -> Callable[..., ApiResource]:
    def make(audience: str, scopes: Sequence[str] = (), **fields) -> ApiResource:
        fields.setdefault("name", audience.title())
        fields.setdefault("resource_uri", f"urn:test:{audience}")
        resource = ApiResource.objects.create(audience=audience, **fields)
        for name in scopes:
            ApiScope.objects.create(name=name, resource=resource, description=f"{name} description")
        return resource

    return make


@pytest.fixture
def apis(make_resource) -> dict[str, ApiResource]:
    """Three APIs as in the GloboTicket example, plus the OpenID identity scopes."""
    for name in ("openid", "profile", "email"):
        ApiScope.objects.create(name=name, description=name)
    return {
        "eventcatalog": make_resource("eventcatalog", ["eventcatalog.read", "eventcatalog.write"]),
        "shoppingbasket": make_resource("shoppingbasket", ["shoppingbasket.fullaccess"]),
        "discount": make_resource("discount", ["discount.fullaccess"], signing_algorithm="ES256"),
    }


@pytest.fixture
def make_client(db) -> Callable[..., ClientCredentials]:
    def make(name: str = "service", grants=("client_credentials",), scopes: Sequence[str] = (), **kwargs):
        return save_client(name=name, grant_types=list(grants), scopes=list(scopes), **kwargs)

    return make


@pytest.fixture
def token_request(client) -> Callable[..., object]:
    """POST /o/token/ authenticating with client_secret_basic (or ``auth=None`` / ``auth="post"``)."""

    def request(credentials: ClientCredentials | None, data, auth: str | None = "basic"):
        headers = {}
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if credentials is not None and auth == "basic":
            headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
        elif credentials is not None and auth == "post":
            items += [("client_id", credentials.client.client_id), ("client_secret", credentials.client_secret)]
        return form_post(client, TOKEN_URL, items, **headers)

    return request


@pytest.fixture
def client_credentials_token(token_request) -> Callable[..., dict]:
    def issue(credentials: ClientCredentials, **params) -> dict:
        response = token_request(credentials, {"grant_type": "client_credentials", **params})
        assert response.status_code == 200, response.content
        return response.json()

    return issue


def jwks(client: Client) -> jwt.PyJWKSet:
    response = client.get(JWKS_URL)
    assert response.status_code == 200
    return jwt.PyJWKSet.from_dict(response.json())


def verify(client: Client, token: str, audience: str, **options) -> dict:
    """Verify a token the way a resource server does: JWKS key by kid, alg, iss, aud."""
    header = jwt.get_unverified_header(token)
    key = jwks(client)[header["kid"]]
    return jwt.decode(
        token,
        key.key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"], **options},
    )


def oauth_error(response) -> tuple[int, str]:
    """(status, error code) of an OAuth error response; asserts it is RFC 6749 5.2 JSON."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    return response.status_code, body["error"]
