"""The Entra-style on-behalf-of alias: same policies and checks as RFC 8693."""

import jwt
import pytest

from apps.audit.models import AuditEvent
from tests.support.http import oauth_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def on_behalf_of(token_request):
    def post(credentials, assertion, **params):
        data = {"grant_type": JWT_BEARER, "assertion": assertion, "requested_token_use": "on_behalf_of"}
        data.update(params)
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post


def test_on_behalf_of_issues_the_same_token_as_an_exchange(basket, basket_policy, alice, alice_token, on_behalf_of):
    response = on_behalf_of(basket, alice_token, scope="discount.fullaccess")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "issued_token_type" not in body
    assert body["scope"] == "discount.fullaccess"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["discount"]
    assert claims["sub"] == str(alice.pk)
    assert claims["act"] == {"sub": basket.client.client_id}
    assert AuditEvent.objects.get().details["grant_type"] == JWT_BEARER


@pytest.mark.parametrize("value", ["other", ""])
def test_requested_token_use_must_be_on_behalf_of(basket, basket_policy, alice_token, on_behalf_of, value):
    assert oauth_error(on_behalf_of(basket, alice_token, requested_token_use=value)) == (400, "invalid_request")


def test_missing_assertion_is_invalid_request(basket, basket_policy, on_behalf_of):
    assert oauth_error(on_behalf_of(basket, None)) == (400, "invalid_request")


def test_confused_deputy_is_refused_here_too(basket, basket_policy, mint, on_behalf_of):
    catalog_token = mint(scopes=("eventcatalog.read",))
    assert oauth_error(on_behalf_of(basket, catalog_token)) == (400, "invalid_request")


def test_client_needs_the_token_exchange_grant(apis, alice_token, make_client, make_policy, on_behalf_of):
    service = make_client("svc", scopes=["discount.fullaccess"], resource="shoppingbasket")
    make_policy(service.client, "discount")
    assert oauth_error(on_behalf_of(service, alice_token)) == (400, "unauthorized_client")


def test_no_client_authentication_is_invalid_client(basket, basket_policy, alice_token, on_behalf_of):
    assert oauth_error(on_behalf_of(None, alice_token, client_id=basket.client.client_id)) == (401, "invalid_client")
