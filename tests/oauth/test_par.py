"""Pushed authorization requests (RFC 9126): /o/par/ and the request_uri at /o/authorize/."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from django.test import Client
from django.utils import timezone
from requests_oauth2client import InvalidScope, OAuth2Client

from apps.authorize.pushed import REQUEST_URI_PREFIX
from apps.consent.models import Consent
from apps.keys.services import ensure_signing_keys
from apps.oauth.models import Application, Grant
from apps.oauth.models.pushed_request import PushedAuthorizationRequest
from apps.protocol.strength import ACR_MFA
from apps.resource_server import dpop as dpop_client
from tests.support.flows import (
    REDIRECT_URI,
    Pkce,
    consent_form_data,
    error_page_code,
    race,
    redeem,
    redirect_params,
)
from tests.support.http import ISSUER, LOGIN_URL, basic_auth, form_post, oauth_error

PAR_URL = "/o/par/"
SCOPE = "openid shoppingbasket.fullaccess"


def pushed_parameters(client_id: str | None, pkce: Pkce | None, **extra: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "st-par",
    }
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def push(api: Client, credentials, pkce: Pkce | None, *, auth: str | None = "basic", **extra: str | None):
    """POST /o/par/ as ``credentials``' client (client_secret_basic unless ``auth`` says)."""
    headers = {}
    data = pushed_parameters(credentials.client.client_id, pkce, **extra)
    if auth == "basic":
        headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
    elif auth == "post":
        data["client_secret"] = credentials.client_secret
    return form_post(api, PAR_URL, data, **headers)


def pushed_uri(api: Client, credentials, pkce: Pkce, **extra: str | None) -> str:
    response = push(api, credentials, pkce, **extra)
    assert response.status_code == 201, response.content
    return response.json()["request_uri"]


def authorize_path(client_id: str, request_uri: str, **extra: str) -> str:
    return "/o/authorize/?" + urlencode({"client_id": client_id, "request_uri": request_uri, **extra})


def approve_pushed(browser: Client, client_id: str, request_uri: str, **extra: str):
    """Bring the request_uri to /o/authorize/ and press Allow (the form posts to the same URL)."""
    path = authorize_path(client_id, request_uri, **extra)
    response = browser.get(path)
    assert response.status_code == 200, response.content[:500]
    return browser.post(path, {**consent_form_data(response), "allow": "Authorize"})


@pytest.fixture
def api() -> Client:
    return Client()


# --- the endpoint ---------------------------------------------------------------------------------


def test_push_answers_201_with_a_short_lived_request_uri_and_stores_only_its_digest(api, web):
    response = push(api, web, Pkce.new())

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"}
    assert body["expires_in"] == 60
    assert body["request_uri"].startswith(REQUEST_URI_PREFIX)
    random_part = body["request_uri"].removeprefix(REQUEST_URI_PREFIX)
    assert len(random_part) >= 43
    row = PushedAuthorizationRequest.objects.get()
    assert row.reference == hashlib.sha256(random_part.encode()).hexdigest()
    assert random_part not in str(row.parameters)
    assert row.application == web.client
    assert ["client_id", web.client.client_id] in row.parameters
    assert row.used_at is None
    assert 55 <= (row.expires - timezone.now()).total_seconds() <= 60


def test_the_lifetime_is_a_setting(api, web, settings):
    settings.IDP = {**settings.IDP, "PUSHED_AUTHORIZATION_REQUEST_LIFETIME": 90}
    assert push(api, web, Pkce.new()).json()["expires_in"] == 90


def test_client_secret_post_works_and_the_secret_is_not_stored(api, web):
    response = push(api, web, Pkce.new(), auth="post")
    assert response.status_code == 201, response.content
    assert web.client_secret not in str(PushedAuthorizationRequest.objects.get().parameters)
    assert "client_secret" not in dict(PushedAuthorizationRequest.objects.get().parameters)


def test_a_public_client_pushes_with_its_client_id(api, spa):
    response = push(api, spa, Pkce.new(), auth=None)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        ("wrong secret", {"HTTP_AUTHORIZATION": basic_auth("web", "not-the-secret")}),
        ("no credentials at all", {}),
        ("Bearer is no client authentication", {"HTTP_AUTHORIZATION": "Bearer abc"}),
    ],
)
def test_client_authentication_failures_are_invalid_client(api, web, auth, headers):
    data = pushed_parameters(None, Pkce.new())
    response = form_post(api, PAR_URL, data, **headers)
    assert oauth_error(response) == (401, "invalid_client"), auth
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not PushedAuthorizationRequest.objects.exists()


def test_a_confidential_client_without_its_secret_is_invalid_client(api, web):
    response = push(api, web, Pkce.new(), auth=None)
    assert oauth_error(response) == (401, "invalid_client")


def test_a_disabled_client_is_invalid_client(api, web):
    Application.objects.filter(pk=web.client.pk).update(is_active=False)
    assert oauth_error(push(api, web, Pkce.new())) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"redirect_uri": "https://evil.test/callback"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "openid no.such.scope"}, "invalid_scope"),
        ({"scope": "openid discount.fullaccess"}, "invalid_scope"),  # not one of the client's
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"request_uri": REQUEST_URI_PREFIX + "abc"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"resource": "urn:test:nothing"}, "invalid_target"),
        ({"dpop_jkt": "not a thumbprint"}, "invalid_request"),
    ],
)
def test_invalid_pushed_parameters_get_the_authorization_endpoints_error(api, web, extra, error):
    response = push(api, web, Pkce.new(), **extra)
    assert oauth_error(response) == (400, error), response.content
    # RFC 9126 section 2.3: token-endpoint JSON, so no state.
    assert "state" not in response.json()
    assert not PushedAuthorizationRequest.objects.exists()


def test_a_client_not_allowed_the_code_grant_is_unauthorized_client(api, apis, make_client):
    service = make_client("svc", scopes=["shoppingbasket.fullaccess"], redirect_uris=[REDIRECT_URI])
    assert oauth_error(push(api, service, Pkce.new())) == (400, "unauthorized_client")


def test_a_repeated_parameter_is_invalid_request(api, web):
    pkce = Pkce.new()
    data = [*pushed_parameters(web.client.client_id, pkce).items(), ("scope", "openid")]
    response = form_post(api, PAR_URL, data, HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret))
    assert oauth_error(response) == (400, "invalid_request")


def test_parameters_in_the_url_are_invalid_request(api, web):
    auth = basic_auth(web.client.client_id, web.client_secret)
    response = form_post(api, PAR_URL + "?scope=openid", pushed_parameters(None, Pkce.new()), HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (400, "invalid_request")


def test_a_client_id_other_than_the_authenticated_client_is_refused(api, web, spa):
    auth = basic_auth(web.client.client_id, web.client_secret)
    response = form_post(api, PAR_URL, pushed_parameters(spa.client.client_id, Pkce.new()), HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (401, "invalid_client")  # which client asks is ambiguous


def test_get_is_not_allowed(api):
    assert api.get(PAR_URL).status_code == 405


# --- at the authorization endpoint ----------------------------------------------------------------


def test_pushed_request_to_a_code_and_tokens(api, browser, web, alice):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce, nonce="n-par", resource="urn:test:shoppingbasket")

    response = approve_pushed(browser, web.client.client_id, request_uri)

    params = redirect_params(response)
    assert params["state"] == "st-par"
    assert params["iss"] == ISSUER
    tokens = redeem(api, web, params["code"], pkce.verifier)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["aud"] == ["shoppingbasket"]
    assert access["sub"] == str(alice.pk)
    id_token = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_token["nonce"] == "n-par"
    assert set(Consent.objects.get().scope_list) == set(SCOPE.split())
    assert PushedAuthorizationRequest.objects.get().used_at is not None


def test_the_pushed_parameters_replace_any_others_in_the_url(api, browser, web):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce, scope="openid")
    path = authorize_path(
        web.client.client_id,
        request_uri,
        scope="openid shoppingbasket.fullaccess eventcatalog.read",
        redirect_uri="https://evil.test/callback",
        state="from-the-url",
    )
    response = browser.get(path)
    assert response.status_code == 200
    assert response.context["form"].initial["scope"] == "openid"
    assert response.context["form"].initial["redirect_uri"] == REDIRECT_URI
    params = redirect_params(browser.post(path, {**consent_form_data(response), "allow": "Authorize"}))
    assert params["state"] == "st-par"


def test_a_tampered_consent_form_cannot_change_the_pushed_request(api, browser, web):
    pkce, other = Pkce.new(), Pkce.new()
    request_uri = pushed_uri(api, web, pkce)
    path = authorize_path(web.client.client_id, request_uri)
    data = consent_form_data(browser.get(path))
    data.update(code_challenge=other.challenge, state="changed")
    params = redirect_params(browser.post(path, {**data, "allow": "Authorize"}))
    assert params["state"] == "st-par"
    assert Grant.objects.get().code_challenge == pkce.challenge
    assert redeem(api, web, params["code"], pkce.verifier).status_code == 200


def test_a_tampered_consent_form_cannot_widen_the_pushed_scope(api, browser, web):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce, scope="openid")
    path = authorize_path(web.client.client_id, request_uri)
    data = consent_form_data(browser.get(path))
    data["scope"] = "openid profile email shoppingbasket.fullaccess"

    params = redirect_params(browser.post(path, {**data, "allow": "Authorize"}))

    assert Grant.objects.get().scope == "openid"
    tokens = redeem(api, web, params["code"], pkce.verifier)
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["scope"] == "openid"
    assert Consent.objects.get().scope_list == ["openid"]


def test_no_field_of_the_consent_form_changes_the_pushed_request(api, browser, web):
    """Every hidden field the browser posts back is one of the pushed parameters; a post
    that changes all of them still gets the pushed request's code."""
    pkce, other = Pkce.new(), Pkce.new()
    request_uri = pushed_uri(api, web, pkce, nonce="n-pushed", resource="urn:test:shoppingbasket")
    path = authorize_path(web.client.client_id, request_uri)
    screen = browser.get(path)
    data = consent_form_data(screen)
    tampered = {
        "redirect_uri": "https://evil.test/callback",
        "scope": "openid profile email shoppingbasket.fullaccess eventcatalog.read",
        "state": "changed",
        "response_type": "token",
        "code_challenge": other.challenge,
        "code_challenge_method": "plain",
        "nonce": "n-changed",
        "claims": '{"id_token": {"email": null}}',
        "resource": "https://evil.test/api",
        "dpop_jkt": "A" * 43,
    }
    # Every hidden field of the form is tried (client_id: another client's is invalid_request_uri).
    assert set(screen.context["form"].fields) - {"allow", "client_id"} <= set(tampered)

    response = browser.post(path, {**data, **tampered, "allow": "Authorize"})

    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(response)
    assert params["state"] == "st-par"
    grant = Grant.objects.get()
    assert (grant.scope, grant.redirect_uri, grant.nonce, grant.claims) == (SCOPE, REDIRECT_URI, "n-pushed", "{}")
    assert (grant.code_challenge, grant.code_challenge_method, grant.dpop_jkt) == (pkce.challenge, "S256", "")
    tokens = redeem(api, web, params["code"], pkce.verifier)
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["scope"] == SCOPE
    access = jwt.decode(tokens.json()["access_token"], options={"verify_signature": False})
    assert access["aud"] == ["shoppingbasket"]


def test_a_push_without_scope_gets_the_clients_default_scopes_whatever_is_posted(api, browser, spa):
    pkce = Pkce.new()
    response = push(api, spa, pkce, auth=None, scope=None)
    path = authorize_path(spa.client.client_id, response.json()["request_uri"])
    data = consent_form_data(browser.get(path))
    assert set(data["scope"].split()) == {"openid", "shoppingbasket.fullaccess"}
    data["scope"] = "openid"

    redirect_params(browser.post(path, {**data, "allow": "Authorize"}))

    assert set(Grant.objects.get().scope.split()) == {"openid", "shoppingbasket.fullaccess"}


def test_an_anonymous_browser_signs_in_and_comes_back_with_the_request_uri_only(api, web, alice):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce)
    path = authorize_path(web.client.client_id, request_uri)
    browser = Client()

    response = browser.get(path)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == LOGIN_URL
    next_url = parse_qs(location.query)["next"][0]
    assert next_url == path  # the parameters stay on the server
    response = browser.post(LOGIN_URL + "?" + location.query, {"username": "alice", "password": "x"})
    assert response.status_code == 302
    assert response["Location"] == next_url

    response = browser.get(next_url)
    assert response.status_code == 200
    params = redirect_params(browser.post(next_url, {**consent_form_data(response), "allow": "Authorize"}))
    assert redeem(api, web, params["code"], pkce.verifier).status_code == 200


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "0"}])
def test_a_fresh_sign_in_is_asked_once_and_comes_back(api, browser, web, alice, extra):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce, **extra)
    path = authorize_path(web.client.client_id, request_uri)

    response = browser.get(path)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == LOGIN_URL
    assert parse_qs(location.query)["next"][0] == path
    browser.post(LOGIN_URL + "?" + location.query, {"username": "alice", "password": "x"})
    # Back with the same request_uri: the fresh sign-in satisfied prompt=login or max_age
    # (no loop).
    response = browser.get(path)
    assert response.status_code == 200
    assert "code" in redirect_params(browser.post(path, {**consent_form_data(response), "allow": "Authorize"}))


def test_acr_values_of_the_pushed_request_step_the_session_up_and_come_back(api, browser, web):
    request_uri = pushed_uri(api, web, Pkce.new(), acr_values=ACR_MFA)
    path = authorize_path(web.client.client_id, request_uri)
    response = browser.get(path)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/security/"  # alice has no second factor yet: set one up
    assert parse_qs(location.query)["next"] == [path]


def test_dpop_jkt_of_the_pushed_request_binds_the_code(api, browser, web):
    """RFC 9449 section 10 through RFC 9126: the code is bound to the pushed key thumbprint."""
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(b"a key").digest()).rstrip(b"=").decode()
    request_uri = pushed_uri(api, web, Pkce.new(), dpop_jkt=thumbprint)
    redirect_params(approve_pushed(browser, web.client.client_id, request_uri))
    assert Grant.objects.get().dpop_jkt == thumbprint


def test_a_dpop_proof_sent_with_the_push_binds_the_code_to_its_key(api, browser, web):
    """RFC 9449 section 10.1: a proof at the PAR endpoint stands for dpop_jkt."""
    key = dpop_client.generate_key()
    proof = dpop_client.make_proof(key, "POST", f"{ISSUER.rstrip('/')}{PAR_URL}")
    response = form_post(
        api,
        PAR_URL,
        pushed_parameters(web.client.client_id, Pkce.new()),
        HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret),
        HTTP_DPOP=proof,
    )
    assert response.status_code == 201, response.content
    redirect_params(approve_pushed(browser, web.client.client_id, response.json()["request_uri"]))
    assert Grant.objects.get().dpop_jkt == dpop_client.key_thumbprint(key)


def test_a_push_whose_dpop_jkt_is_not_its_proofs_key_is_invalid_dpop_proof(api, web):
    key, other = dpop_client.generate_key(), dpop_client.generate_key()
    response = form_post(
        api,
        PAR_URL,
        pushed_parameters(web.client.client_id, Pkce.new(), dpop_jkt=dpop_client.key_thumbprint(other)),
        HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret),
        HTTP_DPOP=dpop_client.make_proof(key, "POST", f"{ISSUER.rstrip('/')}{PAR_URL}"),
    )
    assert oauth_error(response) == (400, "invalid_dpop_proof")
    assert not PushedAuthorizationRequest.objects.exists()


def test_a_push_with_a_proof_for_another_url_is_invalid_dpop_proof(api, web):
    key = dpop_client.generate_key()
    response = form_post(
        api,
        PAR_URL,
        pushed_parameters(web.client.client_id, Pkce.new()),
        HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret),
        HTTP_DPOP=dpop_client.make_proof(key, "POST", f"{ISSUER.rstrip('/')}/o/token/"),
    )
    assert oauth_error(response) == (400, "invalid_dpop_proof")


def test_the_pushed_nonce_and_challenge_are_the_codes(api, browser, web):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce, nonce="n-2", claims='{"id_token": {"email": null}}')
    redirect_params(approve_pushed(browser, web.client.client_id, request_uri))
    grant = Grant.objects.get()
    assert (grant.nonce, grant.code_challenge, grant.code_challenge_method) == ("n-2", pkce.challenge, "S256")
    assert grant.redirect_uri == REDIRECT_URI


def test_ui_locales_of_the_pushed_request_choose_the_language(api, browser, web):
    request_uri = pushed_uri(api, web, Pkce.new(), ui_locales="nl")
    response = browser.get(authorize_path(web.client.client_id, request_uri))
    assert response.status_code == 200
    assert response["Content-Language"] == "nl"


def test_an_unknown_request_uri_is_an_error_page(browser, web):
    response = browser.get(authorize_path(web.client.client_id, REQUEST_URI_PREFIX + "not-one-we-made"))
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request_uri"
    assert "This sign-in link has expired" in response.content.decode()


def test_a_request_uri_without_client_id_is_invalid(api, browser, web):
    request_uri = pushed_uri(api, web, Pkce.new())
    response = browser.get("/o/authorize/?" + urlencode({"request_uri": request_uri}))
    assert error_page_code(response) == "invalid_request_uri"


def test_an_expired_request_uri_is_invalid(api, browser, web):
    request_uri = pushed_uri(api, web, Pkce.new())
    PushedAuthorizationRequest.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = browser.get(authorize_path(web.client.client_id, request_uri))
    assert error_page_code(response) == "invalid_request_uri"


def test_another_clients_request_uri_is_invalid(api, browser, web, spa):
    request_uri = pushed_uri(api, web, Pkce.new())
    response = browser.get(authorize_path(spa.client.client_id, request_uri))
    assert error_page_code(response) == "invalid_request_uri"
    # Not claimed: the right client's browser may still use it.
    assert browser.get(authorize_path(web.client.client_id, request_uri)).status_code == 200


def test_a_second_browser_cannot_use_a_claimed_request_uri(api, browser, web, alice):
    request_uri = pushed_uri(api, web, Pkce.new())
    path = authorize_path(web.client.client_id, request_uri)
    assert browser.get(path).status_code == 200
    other = Client()
    other.force_login(alice)
    assert error_page_code(other.get(path)) == "invalid_request_uri"
    # The first browser goes on.
    assert browser.get(path).status_code == 200


def test_the_request_uri_is_spent_once_the_code_was_issued(api, browser, web):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, web, pkce)
    redirect_params(approve_pushed(browser, web.client.client_id, request_uri))
    response = browser.get(authorize_path(web.client.client_id, request_uri))
    assert error_page_code(response) == "invalid_request_uri"


@pytest.mark.django_db(transaction=True)
def test_browsers_racing_for_one_request_uri_one_wins(alice, web):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    path = authorize_path(web.client.client_id, pushed_uri(Client(), web, Pkce.new()))
    browsers = []
    for _ in range(5):
        browsers.append(Client())
        browsers[-1].force_login(alice)
    statuses = race(5, lambda: browsers.pop().get(path).status_code)
    assert statuses == [200, 400, 400, 400, 400]


def test_a_request_uri_by_reference_to_a_request_object_is_still_unsupported(browser, web):
    pkce = Pkce.new()
    query = pushed_parameters(web.client.client_id, pkce, request_uri="https://web.test/request.jwt")
    response = browser.get("/o/authorize/?" + urlencode(query))
    assert redirect_params(response)["error"] == "request_uri_not_supported"


@pytest.fixture
def par_only(web):
    Application.objects.filter(pk=web.client.pk).update(require_pushed_authorization_requests=True)
    return web


def test_a_client_that_requires_par_is_refused_a_plain_request(browser, par_only):
    pkce = Pkce.new()
    response = browser.get("/o/authorize/?" + urlencode(pushed_parameters(par_only.client.client_id, pkce)))
    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert params["state"] == "st-par"
    assert not Grant.objects.exists()


def test_a_client_that_requires_par_is_refused_a_plain_consent_post(api, browser, par_only):
    pkce = Pkce.new()
    request_uri = pushed_uri(api, par_only, pkce)
    data = consent_form_data(browser.get(authorize_path(par_only.client.client_id, request_uri)))
    response = browser.post("/o/authorize/", {**data, "allow": "Authorize"})
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"
    assert not Grant.objects.exists()


def test_a_client_that_requires_par_gets_codes_through_it(api, browser, par_only):
    pkce = Pkce.new()
    params = redirect_params(approve_pushed(browser, par_only.client.client_id, pushed_uri(api, par_only, pkce)))
    assert redeem(api, par_only, params["code"], pkce.verifier).status_code == 200


def test_a_public_clients_pushed_request_to_tokens(api, browser, spa):
    pkce = Pkce.new()
    response = push(api, spa, pkce, auth=None)
    params = redirect_params(approve_pushed(browser, spa.client.client_id, response.json()["request_uri"]))
    data = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
        "client_id": spa.client.client_id,
    }
    assert form_post(api, "/o/token/", data).status_code == 200


# --- a strict third-party client ------------------------------------------------------------------


@pytest.fixture
def live_issuer(live_server, settings) -> str:
    # Tokens, RFC 9207's iss and the ID token name the live server, as the client expects.
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": live_server.url}
    return live_server.url


def test_requests_oauth2client_pushes_and_redeems(live_issuer, transactional_db, apis, web, alice):
    """requests-oauth2client 1.8.0: PAR (client_secret_basic), the browser leg with only
    client_id and request_uri, the callback checked (state, iss) and the code redeemed with
    PKCE, the ID token verified against our JWKS."""
    ensure_signing_keys()  # published before the client reads the JWKS
    client = OAuth2Client(
        token_endpoint=f"{live_issuer}/o/token/",
        authorization_endpoint=f"{live_issuer}/o/authorize/",
        pushed_authorization_request_endpoint=f"{live_issuer}/o/par/",
        auth=(web.client.client_id, web.client_secret),
        redirect_uri=REDIRECT_URI,
        issuer=live_issuer,
        authorization_response_iss_parameter_supported=True,
        authorization_server_jwks=requests.get(f"{live_issuer}/.well-known/jwks.json", timeout=10).json(),
        testing=True,  # the live server speaks http
    )
    authorization_request = client.authorization_request(scope=SCOPE)
    pushed = client.pushed_authorization_request(authorization_request)
    assert pushed.expires_at is not None
    assert 50 <= (pushed.expires_at - datetime.now(tz=UTC)).total_seconds() <= 60
    url = urlsplit(pushed.uri)
    assert set(parse_qs(url.query)) == {"client_id", "request_uri"}

    browser = Client()
    browser.force_login(alice)
    path = f"{url.path}?{url.query}"
    response = browser.get(path)
    assert response.status_code == 200
    response = browser.post(path, {**consent_form_data(response), "allow": "Authorize"})
    authorization_response = authorization_request.validate_callback(response["Location"])

    token = client.authorization_code(authorization_response)
    assert token.id_token is not None
    assert token.id_token.claims["sub"] == str(alice.pk)
    assert jwt.decode(str(token.access_token), options={"verify_signature": False})["aud"] == ["shoppingbasket"]


def test_requests_oauth2client_gets_the_exact_error(live_issuer, transactional_db, apis, web):
    client = OAuth2Client(
        token_endpoint=f"{live_issuer}/o/token/",
        authorization_endpoint=f"{live_issuer}/o/authorize/",
        pushed_authorization_request_endpoint=f"{live_issuer}/o/par/",
        auth=(web.client.client_id, web.client_secret),
        redirect_uri=REDIRECT_URI,
        testing=True,
    )
    with pytest.raises(InvalidScope):
        client.pushed_authorization_request(client.authorization_request(scope="openid discount.fullaccess"))
