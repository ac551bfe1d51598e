"""Calling the management API with real access tokens from /o/token/ (client credentials)."""

from collections.abc import Callable

import pytest

from apps.clients.services import ClientCredentials
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from tests.support.management_api import call


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


@pytest.fixture
def api(client, write_token) -> Callable[..., object]:
    """``api("post", "resources/", {...})`` as the automation client (``token=`` to change)."""

    def request(method: str, path: str, body=None, token: str | None = write_token, **headers):
        return call(client, method, path, token, body, **headers)

    return request
