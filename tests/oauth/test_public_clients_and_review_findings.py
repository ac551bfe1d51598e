"""Public clients at the token endpoint, and the edges a review of the one-pipeline change
found: what a client may smuggle into oauthlib's request, a client's type changed without
signals, an ID token hint whose ``aud`` is no string, a lowercase Basic scheme."""

import base64
import json

import jwt
import pytest
from django.test import Client

from apps.oauth.models import Application, IDToken
from tests.support.flows import REDIRECT_URI, Pkce, approve
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error


def public_post(api: Client, client_id: str, **data: str):
    return form_post(api, TOKEN_URL, {**data, "client_id": client_id})


@pytest.mark.django_db
def test_a_public_client_redeems_its_code_and_refreshes_with_its_client_id_alone(client, browser, native_app):
    client_id = native_app.client.client_id
    pkce = Pkce.new()
    code = approve(browser, client_id, "openid eventcatalog.read", pkce)["code"]
    response = public_post(
        client,
        client_id,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce.verifier,
    )
    assert response.status_code == 200, response.content
    tokens = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    refreshed = public_post(client, client_id, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content


@pytest.mark.django_db
def test_a_public_clients_code_still_needs_its_pkce_verifier(client, browser, native_app):
    client_id = native_app.client.client_id
    pkce = Pkce.new()
    code = approve(browser, client_id, "eventcatalog.read", pkce)["code"]
    response = public_post(
        client, client_id, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier="x" * 43
    )
    assert oauth_error(response) == (400, "invalid_grant")


@pytest.mark.django_db
def test_a_public_client_gets_no_client_credentials_token(client, native_app):
    # The grant needs a confidential client: naming a public one is no authentication.
    Application.objects.filter(pk=native_app.client.pk).update(allowed_grant_types=["client_credentials"])
    response = public_post(client, native_app.client.client_id, grant_type="client_credentials")
    assert oauth_error(response) == (401, "invalid_client")


@pytest.mark.django_db
def test_a_confidential_client_naming_itself_without_its_secret_is_refused(client, browser, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "eventcatalog.read", pkce)["code"]
    response = public_post(
        client,
        web.client.client_id,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce.verifier,
    )
    assert oauth_error(response) == (401, "invalid_client")


@pytest.mark.django_db
def test_a_public_client_sending_a_secret_is_refused(client, browser, native_app):
    pkce = Pkce.new()
    code = approve(browser, native_app.client.client_id, "eventcatalog.read", pkce)["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    response = form_post(
        client,
        TOKEN_URL,
        {**data, "code_verifier": pkce.verifier, "client_id": native_app.client.client_id, "client_secret": "guess"},
    )
    assert oauth_error(response) == (401, "invalid_client")


def test_discovery_lists_none_where_public_clients_are_accepted(client, db):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    with_keys = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    assert metadata["token_endpoint_auth_methods_supported"] == [*with_keys, "none"]
    assert metadata["revocation_endpoint_auth_methods_supported"] == [*with_keys, "none"]
    assert metadata["introspection_endpoint_auth_methods_supported"] == with_keys


@pytest.mark.django_db
@pytest.mark.parametrize(
    "smuggled",
    [
        {"refresh_token_instance": "x"},  # DOT reads it as the refresh token being rotated
        {"nonce": "chosen-by-the-client"},  # would land in the ID token
        {"scope": "openid eventcatalog.read eventcatalog.write"},  # would land on the IDToken row
        {"response_type": "code"},  # would make oauthlib leave out the ID token
    ],
)
def test_parameters_oauthlib_would_read_as_state_do_not_reach_it(client, browser, web, smuggled):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid eventcatalog.read", pkce)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
    }
    auth = basic_auth(web.client.client_id, web.client_secret)
    response = form_post(client, TOKEN_URL, {**data, **smuggled}, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    id_token = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert "nonce" not in id_token  # the authorization request had none
    assert IDToken.objects.get(jti=id_token["jti"]).scope == "openid eventcatalog.read"


@pytest.mark.django_db
def test_a_client_made_public_without_signals_is_refused_at_once(client, apis, make_client, client_credentials_token):
    service = make_client("service", scopes=["eventcatalog.read"])
    client_credentials_token(service)  # its configuration is now cached in this process
    Application.objects.filter(pk=service.client.pk).update(client_type=Application.CLIENT_PUBLIC)
    auth = basic_auth(service.client.client_id, service.client_secret)
    response = form_post(client, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (401, "invalid_client")


def _unsigned(claims: dict) -> str:
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'RS256', 'typ': 'JWT'})}.{encode(claims)}.c2ln"


@pytest.mark.django_db
@pytest.mark.parametrize("aud", [5, None, {"a": 1}, [1, 2]])
def test_an_id_token_hint_whose_aud_is_no_string_is_a_plain_refusal(client, aud):
    response = client.get("/o/logout/", {"id_token_hint": _unsigned({"aud": aud, "sub": "1"})})
    assert response.status_code == 400
    assert response.context["error"] is not None


@pytest.mark.django_db
def test_a_lowercase_basic_scheme_is_basic_and_may_not_be_mixed_with_body_credentials(
    client, apis, make_client, client_credentials_token
):
    service = make_client("service", scopes=["eventcatalog.read"])
    lowercase = "basic " + basic_auth(service.client.client_id, service.client_secret).split(" ", 1)[1]
    ok = form_post(client, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=lowercase)
    assert ok.status_code == 200, ok.content
    both = {"grant_type": "client_credentials", "client_id": service.client.client_id, "client_secret": "x"}
    assert oauth_error(form_post(client, TOKEN_URL, both, HTTP_AUTHORIZATION=lowercase)) == (401, "invalid_client")
