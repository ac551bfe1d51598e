"""Error paths of the browser-facing authorization endpoint and of RP-initiated logout.

The request is judged before anything else happens (RFC 6749 section 4.1.2.1): a bad client
or redirect URI gets a plain error page and never a redirect; every other problem goes back
to the client's redirect URI with ``error``, ``state`` and ``iss`` (RFC 9207), loopback
``http`` clients included (RFC 8252 section 7.3). Only then do ``prompt`` and ``max_age``
act (OpenID Connect Core 3.1.2.1)."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.sessions import SESSION_KEY
from apps.oauth.models import Grant
from tests.support.flows import REDIRECT_URI, Pkce, authorize_url, redeem

SCOPE = "openid shoppingbasket.fullaccess"
LOOPBACK_URI = "http://127.0.0.1:8001/callback"
ISSUER = "https://idp.test"
LOGIN_URL = "/accounts/login/"


@pytest.fixture
def loopback(apis, make_client):
    """A web app on the loopback interface, like the demo's own (RFC 8252 section 7.3)."""
    return make_client(
        "loopback",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "shoppingbasket.fullaccess"],
        redirect_uris=[LOOPBACK_URI],
    )


@pytest.fixture(params=["https", "loopback"])
def any_client(request, web, loopback):
    """(credentials, redirect URI) of an https client and of a loopback http client."""
    return (web, REDIRECT_URI) if request.param == "https" else (loopback, LOOPBACK_URI)


def error_redirect(response, redirect_uri: str) -> dict[str, str]:
    """The parameters of an error redirect to ``redirect_uri``, which must carry exactly one
    ``error``, the request's ``state`` and our ``iss``."""
    assert response.status_code == 302, (response.status_code, response.content[:300])
    location = response["Location"]
    assert location.startswith(redirect_uri + "?"), location
    query = parse_qs(urlsplit(location).query)
    assert all(len(values) == 1 for values in query.values()), query
    params = {k: v[0] for k, v in query.items()}
    assert params["state"] == "st-123"
    assert params["iss"] == ISSUER
    assert "code" not in params
    return params


def error_page(response) -> str:
    """The plain-words text of an authorization error page (asserting it is not a redirect)."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response, response["Location"]
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


def url(client, redirect_uri: str, pkce: Pkce | None = None, **extra) -> str:
    pkce = Pkce.new() if pkce is None else pkce
    return authorize_url(client.client.client_id, extra.pop("scope", SCOPE), pkce, redirect_uri=redirect_uri, **extra)


# --- item 5: error redirects reach https and loopback http clients alike ------------------------


@pytest.mark.parametrize(
    "extra, error",
    [
        ({"scope": "openid discount.fullaccess"}, "invalid_scope"),
        ({"scope": "openid no.such.scope"}, "invalid_scope"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://web.test/request.jwt"}, "request_uri_not_supported"),
    ],
)
def test_request_errors_go_back_to_the_client(browser, any_client, extra, error):
    client, redirect_uri = any_client
    response = browser.get(url(client, redirect_uri, **extra))
    assert error_redirect(response, redirect_uri)["error"] == error
    assert not Grant.objects.exists()


def test_a_denial_goes_back_to_a_loopback_client(browser, loopback):
    page = browser.get(url(loopback, LOOPBACK_URI))
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    response = browser.post("/o/authorize/", {**data, "deny": "1"})
    assert error_redirect(response, LOOPBACK_URI)["error"] == "access_denied"


def test_a_loopback_client_gets_its_code(browser, loopback):
    pkce = Pkce.new()
    page = browser.get(url(loopback, LOOPBACK_URI, pkce))
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    response = browser.post("/o/authorize/", {**data, "allow": "Authorize"})
    assert response["Location"].startswith(LOOPBACK_URI + "?code=")
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    assert redeem(Client(), loopback, code, pkce.verifier, LOOPBACK_URI).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:9999/callback",
        "http://127.0.0.1/callback",
        "http://localhost:8001/callback",
        "http://[::1]:8001/callback",
        "https://127.0.0.1:8001/callback",
        "http://127.0.0.1:8001/callback/",
    ],
)
def test_a_loopback_client_is_matched_exactly_port_included(browser, loopback, redirect_uri):
    """RFC 9700 section 4.1.3: exact match for these web clients, so an error about another
    port (or host, or scheme) is a page, never a redirect there."""
    response = browser.get(url(loopback, redirect_uri, scope="openid discount.fullaccess"))
    assert "Unknown return address" in error_page(response)
    assert response.context["error"].error == "invalid_request"


# --- item 6: the request is judged first; plain words for a bad client or redirect URI ----------


@pytest.mark.parametrize("session", ["anonymous", "signed-in"])
def test_an_unknown_client_gets_a_plain_error_page_signed_in_or_not(alice, web, session):
    browser = Client()
    if session == "signed-in":
        browser.force_login(alice)
    response = browser.get(authorize_url("no-such-client", SCOPE, Pkce.new()))
    text = error_page(response)
    assert "Unknown application" in text
    assert "is not registered with this sign-in service" in text
    assert response.context["error"].error == "invalid_request"


@pytest.mark.parametrize("session", ["anonymous", "signed-in"])
def test_an_unregistered_redirect_uri_gets_a_plain_error_page_signed_in_or_not(alice, web, session):
    browser = Client()
    if session == "signed-in":
        browser.force_login(alice)
    response = browser.get(url(web, "https://evil.test/callback"))
    text = error_page(response)
    assert "Unknown return address" in text
    assert "https://evil.test" not in text  # never offered as a link to follow
    assert response.context["error"].error == "invalid_request"


def test_no_client_at_all_gets_a_plain_error_page(db):
    response = Client().get("/o/authorize/")
    assert "Unknown application" in error_page(response)


def test_an_anonymous_users_bad_scope_goes_back_without_a_sign_in(web):
    response = Client().get(url(web, REDIRECT_URI, scope="openid discount.fullaccess"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "query",
    ["prompt=login", "prompt=login&client_id=no-such-client", "max_age=0", "max_age=0&client_id=no-such-client"],
)
def test_prompt_login_or_max_age_on_an_invalid_request_signs_no_one_out(browser, query):
    """A cross-site GET of /o/authorize/?prompt=login would otherwise sign the user out."""
    response = browser.get("/o/authorize/?" + query)
    assert "Unknown application" in error_page(response)
    assert signed_in(browser)


def test_prompt_login_with_an_unregistered_redirect_uri_signs_no_one_out(browser, web):
    response = browser.get(url(web, "https://evil.test/callback", prompt="login"))
    error_page(response)
    assert signed_in(browser)


def test_prompt_login_with_a_bad_scope_goes_back_and_signs_no_one_out(browser, web):
    response = browser.get(url(web, REDIRECT_URI, scope="openid discount.fullaccess", prompt="login"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_scope"
    assert signed_in(browser)


def test_prompt_none_with_max_age_exceeded_is_login_required(browser, web):
    response = browser.get(url(web, REDIRECT_URI, prompt="none", max_age="0"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "login_required"
    assert signed_in(browser)  # no interaction: nothing about the session changes


def test_prompt_none_without_a_session_is_login_required_to_a_loopback_client(loopback):
    response = Client().get(url(loopback, LOOPBACK_URI, prompt="none"))
    assert error_redirect(response, LOOPBACK_URI)["error"] == "login_required"


def test_prompt_none_without_a_session_and_a_bad_scope_is_the_scope_error(web):
    response = Client().get(url(web, REDIRECT_URI, prompt="none", scope="openid discount.fullaccess"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_scope"


def test_prompt_none_with_a_recent_enough_sign_in_is_not_an_error(browser, web):
    session = browser.session
    session[SESSION_KEY] = int(time.time())
    session.save()
    response = browser.get(url(web, REDIRECT_URI, prompt="none", max_age="600"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "consent_required"  # not login_required


@pytest.mark.parametrize("max_age", ["abc", "-1", "1.5", ""])
def test_a_malformed_max_age_is_invalid_request(browser, web, max_age):
    response = browser.get(url(web, REDIRECT_URI, max_age=max_age))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_request"
    assert signed_in(browser)


def test_prompt_create_is_invalid_request_not_a_json_page(browser, web):
    """Prompt Create 1.0 section 4.1.1: an OP without account creation answers invalid_request."""
    response = browser.get(url(web, REDIRECT_URI, prompt="create"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_request"


@pytest.mark.parametrize("scope", ["openid shoppingbasket.fullaccess", "shoppingbasket.fullaccess"])
def test_prompt_none_with_another_value_is_invalid_request_with_or_without_openid(browser, web, scope):
    """OpenID Connect Core 3.1.2.1 (oauthlib checks it only when openid is asked for)."""
    response = browser.get(url(web, REDIRECT_URI, scope=scope, prompt="none login"))
    assert error_redirect(response, REDIRECT_URI)["error"] == "invalid_request"
    assert signed_in(browser)


def test_prompt_login_keeps_the_other_prompt_values(browser, web):
    response = browser.get(url(web, REDIRECT_URI, prompt="login consent"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == LOGIN_URL
    back = parse_qs(urlsplit(parse_qs(location.query)["next"][0]).query)
    assert back["prompt"] == ["consent"]
    assert not signed_in(browser)


@pytest.mark.parametrize("session", ["anonymous", "signed-in"])
def test_max_age_zero_signs_in_once_then_continues(alice, web, session):
    """max_age=0 asks for a fresh sign-in (OpenID Connect Core 3.1.2.1); that sign-in satisfies
    it, so the way back must not ask again (which would loop)."""
    alice.set_password("pw-for-this-test")
    alice.save()
    browser = Client()
    if session == "signed-in":
        browser.force_login(alice)
    response = browser.get(url(web, REDIRECT_URI, max_age="0"))
    location = urlsplit(response["Location"])
    assert location.path == LOGIN_URL
    assert not signed_in(browser)
    next_url = parse_qs(location.query)["next"][0]
    assert "max_age" not in parse_qs(urlsplit(next_url).query)
    back = browser.post(LOGIN_URL + "?" + location.query, {"username": "alice", "password": "pw-for-this-test"})
    assert back["Location"] == next_url
    consent = browser.get(next_url)
    assert consent.status_code == 200
    assert "Allow web?" in consent.content.decode()


# --- item 8: request objects are refused, not ignored -------------------------------------------


@pytest.mark.parametrize(
    "extra, error",
    [
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://web.test/request.jwt"}, "request_uri_not_supported"),
    ],
)
def test_request_objects_are_refused_even_for_a_first_party_client(browser, web, extra, error):
    web.client.skip_authorization = True
    web.client.save()
    response = browser.get(url(web, REDIRECT_URI, **extra))
    assert error_redirect(response, REDIRECT_URI)["error"] == error
    assert not Grant.objects.exists()


def test_a_request_object_with_an_unknown_client_is_the_error_page(browser):
    response = browser.get("/o/authorize/?client_id=no-such-client&request=eyJhbGciOiJub25lIn0.e30.")
    assert "Unknown application" in error_page(response)


# --- item 7: RP-initiated logout always ends somewhere ------------------------------------------


SIGNED_OUT = "/accounts/signed-out/"


@pytest.fixture
def id_token(browser, web) -> str:
    pkce = Pkce.new()
    page = browser.get(url(web, REDIRECT_URI, pkce))
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    location = browser.post("/o/authorize/", {**data, "allow": "Authorize"})["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    return redeem(Client(), web, code, pkce.verifier).json()["id_token"]


def test_the_signed_out_page_is_where_logout_ends():
    assert reverse("accounts:signed-out") == SIGNED_OUT


def test_logout_with_a_session_and_an_id_token_ends_on_the_signed_out_page(browser, id_token):
    response = browser.get("/o/logout/", {"id_token_hint": id_token})
    assert (response.status_code, response["Location"]) == (302, SIGNED_OUT)
    assert not signed_in(browser)
    assert browser.get(SIGNED_OUT).status_code == 200


def test_logout_with_a_session_and_no_hint_asks_then_ends_on_the_signed_out_page(browser):
    page = browser.get("/o/logout/")
    assert page.status_code == 200
    assert signed_in(browser)  # a bare link signs no one out without asking
    response = browser.post("/o/logout/", {"allow": "Logout"})
    assert (response.status_code, response["Location"]) == (302, SIGNED_OUT)
    assert not signed_in(browser)


@pytest.mark.parametrize("hint", ["none", "valid"])
def test_logout_without_a_session_ends_on_the_signed_out_page(web, id_token, hint):
    params = {"id_token_hint": id_token} if hint == "valid" else {}
    response = Client().get("/o/logout/", params)
    assert (response.status_code, response["Location"]) == (302, SIGNED_OUT)


@pytest.mark.parametrize("session", ["anonymous", "signed-in"])
def test_logout_with_an_invalid_id_token_is_a_plain_error_page(alice, session):
    browser = Client()
    if session == "signed-in":
        browser.force_login(alice)
    response = browser.get(
        "/o/logout/", {"id_token_hint": "not-a-token", "post_logout_redirect_uri": "https://web.test/bye"}
    )
    text = error_page(response)
    assert "This sign-out link is not valid" in text
    assert signed_in(browser) is (session == "signed-in")  # nothing done on a request we cannot trust


def test_logout_with_a_registered_uri_still_goes_there_with_state(browser, web, id_token):
    web.client.post_logout_redirect_uris = "https://web.test/bye"
    web.client.save()
    response = browser.get(
        "/o/logout/", {"id_token_hint": id_token, "post_logout_redirect_uri": "https://web.test/bye", "state": "s1"}
    )
    assert (response.status_code, response["Location"]) == (302, "https://web.test/bye?state=s1")
    assert not signed_in(browser)


def test_logout_to_a_loopback_client_goes_there(alice, loopback):
    loopback.client.post_logout_redirect_uris = "http://127.0.0.1:8001/"
    loopback.client.save()
    browser = Client()
    browser.force_login(alice)
    response = browser.post(
        "/o/logout/",
        {"client_id": loopback.client.client_id, "post_logout_redirect_uri": "http://127.0.0.1:8001/", "allow": "1"},
    )
    assert (response.status_code, response["Location"]) == (302, "http://127.0.0.1:8001/")
    assert not signed_in(browser)


def test_cancelling_a_sign_out_keeps_the_session(browser):
    response = browser.post("/o/logout/", {})
    assert "You are still signed in" in response.content.decode()
    assert "This sign-out link is not valid" not in response.content.decode()
    assert signed_in(browser)
