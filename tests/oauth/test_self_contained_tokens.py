"""APIs that choose self-contained tokens (ApiResource.store_tokens off): no row per token,
with what that gives up (revocation, introspection, further exchange)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.oauth.models import AccessToken
from tests.support.http import INTROSPECT_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, verify


@pytest.fixture
def self_contained_discount(apis):
    apis["discount"].store_tokens = False
    apis["discount"].save()
    return apis["discount"]


@pytest.fixture
def discount_reader(apis, make_client):
    return make_client("discount-reader", scopes=["discount.fullaccess", "eventcatalog.read"])


def exchange(subject_token: str, scope: str = "discount.fullaccess") -> dict:
    return {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": scope,
    }


@pytest.mark.django_db
def test_client_credentials_token_is_not_stored_but_valid(
    client, self_contained_discount, discount_reader, token_request
):
    token_request(discount_reader, {"grant_type": "client_credentials", "scope": "discount.fullaccess"})
    with CaptureQueriesContext(connection) as queries:
        response = token_request(discount_reader, {"grant_type": "client_credentials", "scope": "discount.fullaccess"})
    assert response.status_code == 200
    assert not any("INSERT" in query["sql"] for query in queries.captured_queries)
    assert AccessToken.objects.count() == 0
    assert verify(client, response.json()["access_token"], "discount")["aud"] == ["discount"]


@pytest.mark.django_db
def test_token_for_a_stored_and_a_self_contained_api_is_stored(self_contained_discount, discount_reader, token_request):
    response = token_request(
        discount_reader, {"grant_type": "client_credentials", "scope": "discount.fullaccess eventcatalog.read"}
    )
    assert response.status_code == 200
    assert AccessToken.objects.get().audience == ["discount", "eventcatalog"]


@pytest.mark.django_db
def test_exchanged_token_for_a_self_contained_api_is_not_stored(
    self_contained_discount, token_request, basket, basket_policy, alice_token
):
    response = token_request(basket, exchange(alice_token))
    assert response.status_code == 200
    assert list(AccessToken.objects.values_list("audience", flat=True)) == [["shoppingbasket"]]  # alice's only


@pytest.mark.django_db
def test_self_contained_token_is_not_exchanged_further(
    apis, self_contained_discount, make_client, make_policy, token_request, basket, basket_policy, alice_token
):
    discount_token = token_request(basket, exchange(alice_token)).json()["access_token"]
    discount_service = make_client("discount-service", grants=[TOKEN_EXCHANGE], resource="discount")
    make_policy(discount_service.client, "eventcatalog", scopes=["eventcatalog.read"])
    response = token_request(discount_service, exchange(discount_token, "eventcatalog.read"))
    assert oauth_error(response) == (400, "invalid_request")
    assert "self-contained" in response.json()["error_description"]


@pytest.mark.django_db
def test_introspection_reports_a_self_contained_token_inactive(
    client, self_contained_discount, discount_reader, make_client, token_request
):
    token = token_request(discount_reader, {"grant_type": "client_credentials", "scope": "discount.fullaccess"})
    discount_api = make_client("discount-api", grants=[], resource="discount")
    response = form_post(
        client,
        INTROSPECT_URL,
        {"token": token.json()["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(discount_api.client.client_id, discount_api.client_secret),
    )
    assert response.status_code == 200
    assert response.json() == {"active": False}
