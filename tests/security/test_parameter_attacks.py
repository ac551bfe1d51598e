"""Oversized and duplicated parameters at /o/token/, /o/introspect/, /o/revoke_token/ and
/o/authorize/ (RFC 6749 3.1 and 3.2: parameters MUST NOT be included more than once; RFC 7662
2.1, RFC 7009 2.1, RFC 8693 2.1)."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from apps.oauth.models import AccessToken, Grant
from tests.support.flows import REDIRECT_URI, Pkce, authorize_url, error_page_code
from tests.support.http import INTROSPECT_URL, REVOKE_URL, TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

ONE_MB = 1024 * 1024
OVER_DJANGO_LIMIT = 3 * ONE_MB  # DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MB
INVALID_REQUEST = (400, "invalid_request")
INVALID_CLIENT = (401, "invalid_client")
INACTIVE = {"active": False}
SCOPE = "openid shoppingbasket.fullaccess"


@pytest.fixture
def service(apis, make_client):
    return make_client("svc", scopes=["eventcatalog.read"], resource="eventcatalog")


@pytest.fixture
def api() -> Client:
    return Client()


def post(api: Client, url: str, data, credentials=None, **headers):
    if credentials is not None:
        headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(api, url, data, **headers)


def assert_nothing_issued(before: int = 0) -> None:
    assert AccessToken.objects.count() == before


# --- oversized values: /o/token/ ---------------------------------------------------------------------


def test_token_one_megabyte_client_id_is_invalid_client(api, service):
    """A 1 MB client_id in the body (client_secret_post) never reaches a lookup (RFC 6749 2.3.1)."""
    data = {"grant_type": "client_credentials", "client_id": "c" * ONE_MB, "client_secret": "s"}
    assert oauth_error(post(api, TOKEN_URL, data)) == INVALID_CLIENT


def test_token_body_over_the_size_limit_is_invalid_request(api, service):
    """A body beyond DATA_UPLOAD_MAX_MEMORY_SIZE gets RFC 6749 5.2 JSON, not Django's 400 page."""
    data = {"grant_type": "client_credentials", "padding": "p" * OVER_DJANGO_LIMIT}
    assert oauth_error(post(api, TOKEN_URL, data, service)) == INVALID_REQUEST


def test_token_10k_char_scope_is_invalid_scope(api, service):
    """A 10,000-character scope value (RFC 6749 3.3, 5.2)."""
    data = {"grant_type": "client_credentials", "scope": "s" * 10_000}
    response = post(api, TOKEN_URL, data, service)
    assert oauth_error(response) == (400, "invalid_scope")
    assert len(response.json()["error_description"]) < 200
    assert_nothing_issued()


def test_token_100k_char_subject_token_is_invalid_request(api, basket, basket_policy):
    """A 100,000-character subject_token (RFC 8693 2.1, 2.2.2)."""
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": "e" * 100_000, "subject_token_type": ACCESS_TOKEN_TYPE}
    assert oauth_error(post(api, TOKEN_URL, data, basket)) == INVALID_REQUEST


def test_token_100k_char_code_is_invalid_grant(api, web):
    """A 100,000-character authorization code (RFC 6749 4.1.3, 5.2)."""
    data = {"grant_type": "authorization_code", "code": "c" * 100_000, "redirect_uri": REDIRECT_URI}
    data["code_verifier"] = Pkce.new().verifier
    assert oauth_error(post(api, TOKEN_URL, data, web)) == (400, "invalid_grant")


def test_token_100k_char_refresh_token_is_invalid_grant(api, web):
    """A 100,000-character refresh token (RFC 6749 6)."""
    data = {"grant_type": "refresh_token", "refresh_token": "r" * 100_000}
    assert oauth_error(post(api, TOKEN_URL, data, web)) == (400, "invalid_grant")


def test_token_100k_char_grant_type_is_unsupported_grant_type(api, service):
    """A 100,000-character grant_type (RFC 6749 5.2)."""
    assert oauth_error(post(api, TOKEN_URL, {"grant_type": "g" * 100_000}, service)) == (400, "unsupported_grant_type")


# --- duplicated parameters: /o/token/ ----------------------------------------------------------------


@pytest.mark.parametrize(
    "grant_types",
    [
        ("client_credentials", "client_credentials"),
        ("client_credentials", "password"),
        ("password", "client_credentials"),
        ("authorization_code", "client_credentials"),
        ("client_credentials", "refresh_token"),
        ("refresh_token", "refresh_token"),
    ],
)
def test_token_grant_type_twice_is_invalid_request(api, service, grant_types):
    """grant_type sent twice: which grant runs must not depend on parser order (RFC 6749 3.2)."""
    data = [("grant_type", grant_types[0]), ("grant_type", grant_types[1])]
    assert oauth_error(post(api, TOKEN_URL, data, service)) == INVALID_REQUEST
    assert_nothing_issued()


def test_token_scope_twice_on_client_credentials_is_invalid_request(api, service):
    """scope sent twice on client credentials (RFC 6749 3.2)."""
    data = [("grant_type", "client_credentials"), ("scope", "eventcatalog.read"), ("scope", "eventcatalog.read")]
    assert oauth_error(post(api, TOKEN_URL, data, service)) == INVALID_REQUEST


def test_token_scope_twice_on_refresh_is_invalid_request(api, web, web_tokens):
    """scope sent twice on a refresh (RFC 6749 3.2, 6)."""
    data = [("grant_type", "refresh_token"), ("refresh_token", web_tokens["refresh_token"])]
    data += [("scope", "openid"), ("scope", "openid shoppingbasket.fullaccess")]
    assert oauth_error(post(api, TOKEN_URL, data, web)) == INVALID_REQUEST


def test_token_client_id_in_body_naming_another_client_than_basic_is_invalid_client(api, service, make_client):
    """Basic authenticates one client while the body's client_id names another (RFC 6749 2.3.1)."""
    other = make_client("other", scopes=["eventcatalog.read"])
    data = {"grant_type": "client_credentials", "client_id": other.client.client_id}
    assert oauth_error(post(api, TOKEN_URL, data, service)) == INVALID_CLIENT
    assert_nothing_issued()


def test_token_refresh_with_body_client_id_of_another_client_is_invalid_client(api, web, make_client, web_tokens):
    """A refresh authenticated by Basic as web while the body's client_id names another client (RFC 6749 2.3.1)."""
    other = make_client(
        "other", grants=["authorization_code", "refresh_token"], scopes=["openid"], redirect_uris=["https://o.test/cb"]
    )
    before = AccessToken.objects.count()
    data = {"grant_type": "refresh_token", "refresh_token": web_tokens["refresh_token"]}
    data["client_id"] = other.client.client_id
    assert oauth_error(post(api, TOKEN_URL, data, web)) == INVALID_CLIENT
    assert_nothing_issued(before)


def test_token_client_secret_in_body_and_basic_is_invalid_client(api, service):
    """Two client authentication methods in one request (RFC 6749 2.3)."""
    data = {"grant_type": "client_credentials", "client_id": service.client.client_id}
    data["client_secret"] = service.client_secret
    assert oauth_error(post(api, TOKEN_URL, data, service)) == INVALID_CLIENT


def test_token_client_id_twice_in_body_is_invalid_request(api, service):
    """client_id sent twice with client_secret_post (RFC 6749 3.2)."""
    data = [("grant_type", "client_credentials"), ("client_id", service.client.client_id)]
    data += [("client_id", service.client.client_id), ("client_secret", service.client_secret)]
    assert oauth_error(post(api, TOKEN_URL, data)) == INVALID_REQUEST


def test_token_json_body_is_invalid_request(api, service):
    """A JSON body instead of application/x-www-form-urlencoded (RFC 6749 3.2)."""
    auth = basic_auth(service.client.client_id, service.client_secret)
    response = api.post(
        TOKEN_URL, {"grant_type": "client_credentials"}, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert oauth_error(response) == INVALID_REQUEST


# --- introspection and revocation ------------------------------------------------------------------


@pytest.fixture
def catalog_api_token(service, client_credentials_token):
    return client_credentials_token(service)["access_token"]


def test_introspect_one_megabyte_token_is_inactive(api, service):
    """A 1 MB token value (RFC 7662 2.2)."""
    response = post(api, INTROSPECT_URL, {"token": "t" * ONE_MB}, service)
    assert (response.status_code, response.json()) == (200, INACTIVE)


def test_introspect_body_over_the_size_limit_is_invalid_request(api, service):
    """A body beyond Django's limit at introspection (RFC 7662 2.1)."""
    response = post(api, INTROSPECT_URL, {"token": "t" * OVER_DJANGO_LIMIT}, service)
    assert oauth_error(response) == INVALID_REQUEST


@pytest.mark.parametrize("parameter", ["token", "token_type_hint"])
def test_introspect_parameter_twice_is_invalid_request(api, service, catalog_api_token, parameter):
    """token or token_type_hint sent twice at introspection (RFC 7662 2.1, RFC 6749 3.2)."""
    data = [("token", catalog_api_token), ("token_type_hint", "access_token"), (parameter, "x")]
    assert oauth_error(post(api, INTROSPECT_URL, data, service)) == INVALID_REQUEST


def test_introspect_client_id_in_body_naming_another_client_is_invalid_client(
    api, service, make_client, catalog_api_token
):
    """Basic authenticates the API, the body's client_id names another client (RFC 7662 2.1, RFC 6749 2.3.1)."""
    other = make_client("other-api", grants=[], scopes=[], resource="shoppingbasket")
    data = {"token": catalog_api_token, "client_id": other.client.client_id}
    assert oauth_error(post(api, INTROSPECT_URL, data, service)) == INVALID_CLIENT


def test_revoke_one_megabyte_token_is_200(api, service):
    """A 1 MB unknown token at revocation answers 200 (RFC 7009 2.2)."""
    response = post(api, REVOKE_URL, {"token": "t" * ONE_MB}, service)
    assert response.status_code == 200


def test_revoke_body_over_the_size_limit_is_invalid_request(api, service):
    """A body beyond Django's limit at revocation (RFC 7009 2.1)."""
    assert oauth_error(post(api, REVOKE_URL, {"token": "t" * OVER_DJANGO_LIMIT}, service)) == INVALID_REQUEST


def test_revoke_token_twice_is_invalid_request_and_revokes_nothing(api, service, catalog_api_token):
    """token sent twice at revocation (RFC 7009 2.1, RFC 6749 3.2)."""
    data = [("token", "unknown"), ("token", catalog_api_token)]
    assert oauth_error(post(api, REVOKE_URL, data, service)) == INVALID_REQUEST
    assert AccessToken.objects.count() == 1


def test_revoke_client_id_in_body_naming_another_client_is_invalid_client(api, service, make_client, catalog_api_token):
    """Basic authenticates one client, the body's client_id names another (RFC 7009 2.1, RFC 6749 2.3.1)."""
    other = make_client("other", scopes=["eventcatalog.read"])
    data = {"token": catalog_api_token, "client_id": other.client.client_id}
    assert oauth_error(post(api, REVOKE_URL, data, service)) == INVALID_CLIENT
    assert AccessToken.objects.count() == 1


# --- /o/authorize/ -----------------------------------------------------------------------------------


def test_authorize_10k_char_scope_goes_back_as_invalid_scope(browser, web):
    """A 10,000-character scope: client and redirect URI are valid, so the error is redirected (RFC 6749 4.1.2.1)."""
    response = browser.get(authorize_url(web.client.client_id, "s" * 10_000, Pkce.new()))
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI + "?error=invalid_scope")
    assert not Grant.objects.exists()


@pytest.mark.parametrize("parameter", ["client_id", "redirect_uri"])
def test_authorize_100k_char_client_id_or_redirect_uri_is_an_error_page(browser, web, parameter):
    """A 100,000-character client_id or redirect_uri: error page, no redirect (RFC 6749 4.1.2.1)."""
    params = {"client_id": web.client.client_id, "redirect_uri": REDIRECT_URI, parameter: "x" * 100_000}
    response = browser.get(authorize_url(params.pop("client_id"), SCOPE, Pkce.new(), **params))
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"


def test_authorize_post_over_the_size_limit_is_refused(browser, web):
    """A consent POST beyond Django's body limit is refused without issuing a code."""
    response = browser.post(
        "/o/authorize/",
        urlencode({"padding": "p" * OVER_DJANGO_LIMIT}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert not Grant.objects.exists()


@pytest.mark.parametrize("parameter", ["client_id", "redirect_uri", "response_type"])
def test_authorize_client_or_redirect_parameter_twice_is_an_error_page(browser, web, parameter):
    """client_id, redirect_uri or response_type twice: error page, no redirect (RFC 6749 3.1, 4.1.2.1)."""
    values = {"client_id": web.client.client_id, "redirect_uri": "https://evil.test/cb", "response_type": "token"}
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new()) + "&" + urlencode({parameter: values[parameter]})
    response = browser.get(url)
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"


@pytest.mark.parametrize("parameter", ["scope", "state", "code_challenge", "code_challenge_method", "nonce", "prompt"])
def test_authorize_other_parameter_twice_is_an_error_page(browser, web, parameter):
    """scope, state, PKCE or OIDC parameters twice: error page, never a code (RFC 6749 3.1)."""
    values = {
        "scope": "openid",
        "state": "other",
        "code_challenge": Pkce.new().challenge,
        "code_challenge_method": "S256",
        "nonce": "n2",
        "prompt": "none",
    }
    extra = {"nonce": "n1", "prompt": "consent"} if parameter in ("nonce", "prompt") else {}
    url = (
        authorize_url(web.client.client_id, SCOPE, Pkce.new(), **extra)
        + "&"
        + urlencode({parameter: values[parameter]})
    )
    response = browser.get(url)
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"
    assert not Grant.objects.exists()


def test_authorize_repeated_resource_is_not_refused_as_a_duplicate(browser, web):
    """Control: resource may repeat (RFC 8707 2): answered as a single resource is, not as a duplicate."""
    base = authorize_url(web.client.client_id, SCOPE, Pkce.new())
    once = browser.get(base + "&resource=urn:test:shoppingbasket")
    twice = browser.get(base + "&resource=urn:test:shoppingbasket" * 2)
    assert (twice.status_code, twice.get("Location")) == (once.status_code, once.get("Location"))
    assert "more+than+once" not in twice.get("Location", "")


# --- bodies Django itself refuses, and errors before any grant runs -----------------------------------


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_form_body_in_another_charset_is_a_json_invalid_request(api, service, url):
    """A form body declared latin-1 (Django refuses non-UTF-8 forms) gets 5.2 JSON, not an HTML 400."""
    auth = basic_auth(service.client.client_id, service.client_secret)
    body = "grant_type=client_credentials&token=caf\xe9".encode("latin-1")
    content_type = "application/x-www-form-urlencoded; charset=latin-1"
    response = api.generic("POST", url, body, content_type=content_type, HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == INVALID_REQUEST
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_broken_multipart_body_is_a_json_invalid_request(api, service, url):
    """A multipart body whose part headers are broken gets 5.2 JSON, not an HTML 400."""
    auth = basic_auth(service.client.client_id, service.client_secret)
    body = b'--B\r\nContent-Disposition: form-data; name="grant_type\r\n\r\nclient_credentials\r\n--B--\r\n'
    response = api.post(url, body, content_type="multipart/form-data; boundary=B", HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == INVALID_REQUEST


@pytest.mark.parametrize(
    "grant_type, error",
    [
        ("", "invalid_request"),
        ("urn:example:unknown", "unsupported_grant_type"),
        ("password", "unsupported_grant_type"),
    ],
)
def test_token_errors_before_any_grant_runs_are_not_cacheable(api, service, grant_type, error):
    """An empty or unknown grant_type: the error, like every token response, is no-store (RFC 6749 5.1, 5.2)."""
    response = post(api, TOKEN_URL, {"grant_type": grant_type}, service)
    assert oauth_error(response) == (400, error)
    assert response["Cache-Control"] == "no-store"
