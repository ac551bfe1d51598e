"""Calling the management API with real access tokens from /o/token/ (client credentials)."""

import json
import re
from collections.abc import Callable

import pytest
from django.test import Client

from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.oauth.services.clients import ClientCredentials

API = "/api/admin/"


@pytest.fixture
def automation(make_client) -> ClientCredentials:
    """An automation client an operator granted both management scopes."""
    return make_client("automation", scopes=[READ_SCOPE, WRITE_SCOPE])


@pytest.fixture
def write_token(automation, client_credentials_token) -> str:
    return client_credentials_token(automation)["access_token"]


@pytest.fixture
def read_token(make_client, client_credentials_token) -> str:
    return client_credentials_token(make_client("auditor", scopes=[READ_SCOPE]))["access_token"]


def call(client: Client, method: str, path: str, token: str | None, body=None, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body is not None:
        headers.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(API + path, **headers)


@pytest.fixture
def api(client, write_token) -> Callable[..., object]:
    """``api("post", "resources/", {...})`` as the automation client (``token=`` to change)."""

    def request(method: str, path: str, body=None, token: str | None = write_token, **headers):
        return call(client, method, path, token, body, **headers)

    return request


def challenge(response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` challenge (RFC 6750 section 3)."""
    header = response["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))
