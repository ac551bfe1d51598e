"""Hostile or malformed requests get an exact RFC 6749 section 5.2 error, never a 500."""

import pytest
from django.core.exceptions import ValidationError

from apps.oauth.models import Application
from tests.support.http import INTROSPECT_URL, REVOKE_URL, TOKEN_URL, basic_auth, form_post, oauth_error

ENDPOINTS = [TOKEN_URL, INTROSPECT_URL, REVOKE_URL]


@pytest.fixture
def service(apis, make_client):
    return make_client("svc", scopes=["eventcatalog.read"], resource="eventcatalog")


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize("header", ["Basic éééé", "Basic ", "Basic !!!", "Basic Zm9v", "Basic JTAw"])
def test_unusable_basic_credentials_are_invalid_client(client, service, url, header):
    response = form_post(client, url, {"grant_type": "client_credentials", "token": "t"}, HTTP_AUTHORIZATION=header)
    assert oauth_error(response) == (401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_body_credentials_alongside_basic_are_refused(client, service):
    auth = basic_auth(service.client.client_id, service.client_secret)
    data = {"grant_type": "client_credentials", "client_id": service.client.client_id, "client_secret": "x"}
    assert oauth_error(form_post(client, TOKEN_URL, data, HTTP_AUTHORIZATION=auth)) == (401, "invalid_client")


def test_failed_basic_does_not_fall_back_to_body_credentials(client, service, make_client):
    other = make_client("other", scopes=["eventcatalog.read"])
    data = {
        "grant_type": "client_credentials",
        "client_id": other.client.client_id,
        "client_secret": other.client_secret,
    }
    response = form_post(client, TOKEN_URL, data, HTTP_AUTHORIZATION=basic_auth(service.client.client_id, "wrong"))
    assert oauth_error(response) == (401, "invalid_client")


@pytest.mark.parametrize("url", [INTROSPECT_URL, REVOKE_URL])
def test_repeated_token_parameter_is_invalid_request(client, service, url):
    auth = basic_auth(service.client.client_id, service.client_secret)
    response = form_post(client, url, [("token", "a"), ("token", "b")], HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (400, "invalid_request")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_oversized_body_is_a_json_invalid_request(client, service, url, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    data = [(f"p{i}", "v") for i in range(100)]
    assert oauth_error(form_post(client, url, data)) == (400, "invalid_request")


def test_public_client_cannot_introspect_with_its_client_id_alone(client, service, client_credentials_token):
    token = client_credentials_token(service)["access_token"]
    Application.objects.filter(pk=service.client.pk).update(client_type=Application.CLIENT_PUBLIC)
    response = form_post(client, INTROSPECT_URL, {"token": token, "client_id": service.client.client_id})
    assert response.json() == {"active": False}


def test_public_client_cannot_act_as_an_api(apis):
    client = Application(name="p", client_type=Application.CLIENT_PUBLIC, allowed_grant_types=[])
    client.resource = apis["eventcatalog"]
    with pytest.raises(ValidationError) as excinfo:
        client.clean()
    assert "resource" in excinfo.value.message_dict


@pytest.mark.parametrize(
    "params, error",
    [
        ({"resource": 'urn:x"\\☃'}, "invalid_target"),
        ({"scope": 'a"b\\c☃ ' + "x" * 300}, "invalid_scope"),
        ({"scope": " ".join(f"s{i}" for i in range(5000))}, "invalid_scope"),
    ],
)
def test_error_descriptions_are_bounded_and_in_the_rfc_charset(client, service, params, error):
    auth = basic_auth(service.client.client_id, service.client_secret)
    response = form_post(client, TOKEN_URL, {"grant_type": "client_credentials", **params}, HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (400, error)
    description = response.json()["error_description"]
    assert len(description) < 200
    assert all(c == " " or c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in description)


# --- client credentials tokens are always for an API -----------------------------------------------


def test_client_whose_only_api_is_disabled_gets_invalid_scope(apis, service, token_request):
    apis["eventcatalog"].enabled = False
    apis["eventcatalog"].save()
    assert oauth_error(token_request(service, {"grant_type": "client_credentials"})) == (400, "invalid_scope")


def test_client_without_scopes_gets_invalid_scope(apis, make_client, token_request):
    bare = make_client("bare", scopes=[])
    assert oauth_error(token_request(bare, {"grant_type": "client_credentials"})) == (400, "invalid_scope")


def test_identity_scopes_are_not_for_client_credentials(apis, make_client, token_request, client_credentials_token):
    mixed = make_client("mixed", scopes=["openid", "profile", "eventcatalog.read"])
    assert client_credentials_token(mixed)["scope"] == "eventcatalog.read"
    response = token_request(mixed, {"grant_type": "client_credentials", "scope": "openid eventcatalog.read"})
    assert oauth_error(response) == (400, "invalid_scope")
