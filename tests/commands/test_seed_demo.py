"""seed_demo --json: the GloboTicket demo, idempotent, printing credentials that work."""

import json
from io import StringIO

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.oauth.models import Application
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resources.models import ApiResource, ApiScope
from tests.support.http import ISSUER, basic_auth, form_post, oauth_error
from tests.support.service_keys import TOKEN_ENDPOINT, token_client


def seed() -> dict:
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def client_credentials(client, credentials: dict, **params):
    return form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials", **params},
        HTTP_AUTHORIZATION=basic_auth(credentials["client_id"], credentials["client_secret"]),
    )


@pytest.mark.django_db
def test_seed_prints_the_contract_shape():
    demo = seed()
    assert demo["issuer"] == ISSUER
    assert set(demo["clients"]) == {"globoticket-web", "shoppingbasket", "eventcatalog-admin"}
    for credentials in demo["clients"].values():
        assert set(credentials) == {"client_id", "client_secret", "redirect_uris", "scopes"}
    assert demo["clients"]["globoticket-web"]["redirect_uris"] == ["http://127.0.0.1:8001/callback"]
    assert sorted(demo["clients"]["globoticket-web"]["scopes"]) == sorted(
        ["openid", "profile", "email", "eventcatalog.read", "shoppingbasket.fullaccess"]
    )
    assert demo["clients"]["shoppingbasket"]["scopes"] == ["discount.fullaccess"]
    assert demo["clients"]["eventcatalog-admin"]["scopes"] == ["eventcatalog.read", "eventcatalog.write"]
    assert set(demo["users"]) == {"alice", "bob"}


@pytest.mark.django_db
def test_seed_creates_the_apis_and_client_configuration():
    seed()
    demo_apis = ApiResource.objects.exclude(audience="idp-admin")  # the management API's, from its migration
    assert dict(demo_apis.values_list("audience", "resource_uri")) == {
        "eventcatalog": "urn:globoticket:eventcatalog",
        "shoppingbasket": "urn:globoticket:shoppingbasket",
        "discount": "urn:globoticket:discount",
    }
    assert set(ApiScope.objects.filter(resource=None).values_list("name", flat=True)) == {"openid", "profile", "email"}
    web = Application.objects.get(client_id="globoticket-web")
    assert web.allowed_grant_types == ["authorization_code", "refresh_token"]
    basket = Application.objects.get(client_id="shoppingbasket")
    assert basket.resource.audience == "shoppingbasket"
    assert basket.allowed_grant_types == ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]


@pytest.mark.django_db
def test_printed_credentials_work(client):
    demo = seed()
    response = client_credentials(client, demo["clients"]["shoppingbasket"])
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["discount"]
    assert claims["scope"] == "discount.fullaccess"
    admin = client_credentials(client, demo["clients"]["eventcatalog-admin"], scope="eventcatalog.write")
    assert admin.status_code == 200
    for user in demo["users"].values():
        assert get_user_model().objects.get(username=user["username"]).check_password(user["password"])


@pytest.mark.django_db
def test_seed_is_idempotent_and_only_the_latest_credentials_work(client):
    first = seed()
    second = seed()
    assert ApiResource.objects.exclude(audience="idp-admin").count() == 3
    assert Application.objects.count() == 3
    assert ApiScope.objects.exclude(resource__audience="idp-admin").count() == 7
    stale = client_credentials(client, first["clients"]["shoppingbasket"])
    assert stale.status_code == 401
    assert client_credentials(client, second["clients"]["shoppingbasket"]).status_code == 200
    assert not get_user_model().objects.get(username="alice").check_password(first["users"]["alice"]["password"])


@pytest.mark.django_db
def test_seeded_basket_exchanges_alices_token_for_discount(client, settings):
    from apps.tokens.issuance import issue_user_token

    demo = seed()
    alice = get_user_model().objects.get(username="alice")
    web = Application.objects.get(client_id="globoticket-web")
    subject = issue_user_token(client=web, user=alice, scopes=["shoppingbasket.fullaccess"]).token
    basket = demo["clients"]["shoppingbasket"]
    response = form_post(
        client,
        "/o/token/",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": subject,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "scope": "discount.fullaccess",
        },
        HTTP_AUTHORIZATION=basic_auth(basket["client_id"], basket["client_secret"]),
    )
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["discount"]
    assert claims["sub"] == str(alice.pk)
    assert claims["act"] == {"sub": "shoppingbasket"}


@pytest.mark.django_db
def test_the_services_sign_their_token_requests_with_the_printed_keys(client):
    """private_key_jwt: seed_demo registers a public key for each service and prints its
    private key under client_keys; the secrets are printed and work as before."""
    demo = seed()
    assert set(demo["client_keys"]) == {"shoppingbasket", "eventcatalog-admin"}
    for name, key in demo["client_keys"].items():
        assert key["algorithm"] == "ES256"
        registered = Application.objects.get(client_id=name).jwks
        assert [jwk["kid"] for jwk in registered["keys"]] == [key["key_id"]]
        assert "d" not in registered["keys"][0]  # the public half only
        signer = ClientAssertionSigner.from_pem(key["private_key_pem"], client_id=name, key_id=key["key_id"])
        assert token_client(client, name, signer=signer).client_credentials()
        assert client_credentials(client, demo["clients"][name]).status_code == 200
    assert Application.objects.get(client_id="globoticket-web").jwks is None


@pytest.mark.django_db
def test_seeding_again_replaces_the_keys(client):
    first = seed()["client_keys"]["shoppingbasket"]
    second = seed()["client_keys"]["shoppingbasket"]
    assert first["key_id"] != second["key_id"]
    stale = ClientAssertionSigner.from_pem(first["private_key_pem"], client_id="shoppingbasket")
    response = form_post(client, "/o/token/", {"grant_type": "client_credentials", **stale.form(TOKEN_ENDPOINT)})
    assert oauth_error(response) == (401, "invalid_client")


@pytest.mark.django_db
def test_plain_output_names_the_keys_but_never_prints_them():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "client shoppingbasket: signs with key " in out.getvalue()
    assert "PRIVATE KEY" not in out.getvalue()
