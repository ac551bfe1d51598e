"""Attacks through the browser: CSRF on the sign-in, consent, connected-apps and logout forms,
clickjacking, user enumeration (messages and timing), and open redirects (RFC 9700 4.4, 4.11,
4.16; OpenID Connect RP-Initiated Logout 1.0 section 3)."""

import re
import statistics
import time

import pytest
from axes.utils import reset as reset_lockout
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from apps.consent.models import Consent
from apps.oauth.models import AccessToken, Grant
from tests.support.flows import REDIRECT_URI, Pkce, approve, authorize_url, consent_form_data, redeem, redirect_params
from tests.support.http import LOGIN_URL

SCOPE = "openid shoppingbasket.fullaccess"
PASSWORD = "correct horse battery staple"
SIGNED_OUT = "https://web.test/signed-out"


class TimingHasher(PBKDF2PasswordHasher):
    """PBKDF2 with enough iterations that hashing dominates a sign-in request's time."""

    iterations = 40_000


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def sign_in(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password, **extra}, REMOTE_ADDR="10.9.0.1")


def normalized(response, username: str) -> tuple[int, str]:
    """Status and page, without the per-response CSRF token and the echoed username."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", response.content.decode())
    return response.status_code, page.replace(f'value="{username}"', 'value="USERNAME"')


# --- CSRF (RFC 9700 4.16 / 4.11, Django CSRF) ----------------------------------------------------


def test_login_post_without_csrf_token_is_403(bob):
    """Login CSRF: an attacker's page signs the victim into the attacker's account (RFC 6749 10.12)."""
    client = csrf_client()
    client.get(LOGIN_URL)  # the CSRF cookie is set; the token is not sent
    response = client.post(LOGIN_URL, {"username": "bob", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_login_post_with_csrf_token_signs_in(bob):
    """Control: the same post with the form's CSRF token signs in (so the 403 above is CSRF)."""
    client = csrf_client()
    token = client.get(LOGIN_URL).context["csrf_token"]
    response = client.post(LOGIN_URL, {"username": "bob", "password": PASSWORD, "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302


def test_consent_post_without_csrf_token_is_403_and_issues_no_code(web, alice):
    """Consent CSRF: a cross-site POST of Allow to /o/authorize/ (RFC 6749 10.12, RFC 9700 4.11)."""
    client = csrf_client(alice)
    page = client.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert page.status_code == 200
    response = client.post("/o/authorize/", {**consent_form_data(page), "allow": "Authorize"})
    assert response.status_code == 403
    assert "Location" not in response
    assert not Grant.objects.exists() and not Consent.objects.exists()


def test_consent_post_with_csrf_token_issues_a_code(web, alice):
    """Control: the same Allow with the page's CSRF token redirects with a code."""
    client = csrf_client(alice)
    page = client.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    data = {**consent_form_data(page), "allow": "Authorize", "csrfmiddlewaretoken": str(page.context["csrf_token"])}
    assert "code" in redirect_params(client.post("/o/authorize/", data))


def test_connected_apps_revoke_without_csrf_token_is_403(web, alice):
    """A cross-site POST revoking the user's consent on /accounts/apps/ (Django CSRF)."""
    browser = Client()
    browser.force_login(alice)
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    client = csrf_client(alice)
    response = client.post("/accounts/apps/", {"consent": Consent.objects.get().pk})
    assert response.status_code == 403
    assert Consent.objects.exists()


def test_rp_logout_confirmation_without_csrf_token_is_403(web, alice):
    """A cross-site POST of the logout confirmation form (OIDC RP-Initiated Logout 3)."""
    client = csrf_client(alice)
    response = client.post("/o/logout/", {"client_id": web.client.client_id, "allow": "Logout"})
    assert response.status_code == 403
    assert "_auth_user_id" in client.session


# --- clickjacking (RFC 9700 4.16, RFC 6749 10.13) ------------------------------------------------


def assert_not_frameable(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_login_page_refuses_framing(db):
    """The sign-in page in an attacker's iframe (RFC 6749 10.13)."""
    assert_not_frameable(Client().get(LOGIN_URL))


def test_consent_page_refuses_framing(browser, web):
    """The consent screen in an attacker's iframe, to click Allow for the user (RFC 9700 4.16)."""
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert response.status_code == 200 and "Allow web?" in response.content.decode()
    assert_not_frameable(response)


def test_authorization_error_page_refuses_framing(browser, web):
    """The authorization error page in an iframe (RFC 9700 4.16)."""
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), redirect_uri="https://evil.test"))
    assert response.status_code == 400
    assert_not_frameable(response)


def test_logout_confirmation_refuses_framing(browser, web):
    """The sign-out confirmation in an iframe (OIDC RP-Initiated Logout 3)."""
    response = browser.get("/o/logout/", {"client_id": web.client.client_id})
    assert response.status_code == 200
    assert_not_frameable(response)


def test_connected_apps_page_refuses_framing(browser):
    """The connected-apps page, whose Revoke buttons could be clicked through a frame."""
    assert_not_frameable(browser.get("/accounts/apps/"))


# --- user enumeration (RFC 9700 4.x, OWASP ASVS 2.2) -----------------------------------------------


def test_unknown_user_wrong_password_and_disabled_account_get_the_same_page(bob):
    """Sign-in messages reveal nothing about which accounts exist or are disabled."""
    get_user_model().objects.create_user("carol", password=PASSWORD, is_active=False)
    wrong = normalized(sign_in(Client(), "bob", "not the password"), "bob")
    unknown = normalized(sign_in(Client(), "nobody", "not the password"), "nobody")
    disabled = normalized(sign_in(Client(), "carol", PASSWORD), "carol")
    assert wrong[0] == 200
    assert "That username and password do not match an account." in wrong[1]
    assert wrong == unknown == disabled


def test_lockout_page_is_the_same_for_real_and_unknown_users(bob):
    """The lockout page does not tell a real locked account from a made-up one."""
    pages = {}
    for username in ["bob", "ghost"]:
        for _attempt in range(5):
            Client().post(LOGIN_URL, {"username": username, "password": "x"}, REMOTE_ADDR="10.9.0.1")
        pages[username] = normalized(sign_in(Client(), username, PASSWORD), username)
    assert pages["bob"][0] == 429
    assert pages["bob"] == pages["ghost"]


def test_unknown_user_and_wrong_password_take_about_as_long(bob, settings):
    """Timing enumeration: the password hasher runs for unknown usernames too (coarse median check)."""
    settings.PASSWORD_HASHERS = ["tests.security.test_browser_attacks.TimingHasher"]
    bob.set_password(PASSWORD)
    bob.save()
    timings: dict[str, list[float]] = {"bob": [], "nobody-here": []}
    for _ in range(10):
        for username in timings:
            reset_lockout()
            client = Client()
            started = time.perf_counter()
            response = sign_in(client, username, "not the password")
            timings[username].append(time.perf_counter() - started)
            assert response.status_code == 200
    ratio = statistics.median(timings["nobody-here"]) / statistics.median(timings["bob"])
    assert 0.5 <= ratio <= 2.0, (ratio, timings)


# --- open redirects -----------------------------------------------------------------------------------


@pytest.fixture
def logout_tokens(browser, web) -> dict[str, str]:
    """web registers a post-logout URI; alice signed in through it and holds an ID token."""
    web.client.post_logout_redirect_uris = SIGNED_OUT
    web.client.save()
    pkce = Pkce.new()
    return redeem(Client(), web, approve(browser, web.client.client_id, "openid", pkce)["code"], pkce.verifier).json()


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/",
        "https://web.test/signed-out.evil.test",
        "https://web.test/signed-outx",
        "https://web.test/signed-out/../../evil",
        "https://web.test/signed-out?next=https://evil.test",
        "https://web.test/signed-out#@evil.test",
        "https://web.test@evil.test/signed-out",
        "https://WEB.TEST/signed-out",
        "//evil.test/",
        "javascript:alert(1)",
        REDIRECT_URI,
    ],
)
def test_logout_with_an_unregistered_post_logout_redirect_uri_does_not_redirect(browser, logout_tokens, target):
    """Open redirect through RP-initiated logout (OIDC RP-Initiated Logout 1.0 section 3, RFC 9700 4.11)."""
    response = browser.get(
        "/o/logout/", {"id_token_hint": logout_tokens["id_token"], "post_logout_redirect_uri": target}
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert "_auth_user_id" in browser.session  # nothing happened
    assert AccessToken.objects.exists()


def test_logout_with_client_id_and_an_unregistered_uri_does_not_redirect(browser, web, logout_tokens):
    """The open redirect attempted with client_id instead of an ID token hint (OIDC RP-Initiated Logout 2)."""
    response = browser.get(
        "/o/logout/", {"client_id": web.client.client_id, "post_logout_redirect_uri": "https://evil.test/"}
    )
    assert response.status_code == 400
    assert "Location" not in response


def test_logout_with_another_clients_registered_uri_does_not_redirect(browser, web, make_client, logout_tokens):
    """web's ID token with a post-logout URI registered by another client (OIDC RP-Initiated Logout 2)."""
    evil = make_client("evil", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://evil.test/cb"])
    evil.client.post_logout_redirect_uris = "https://evil.test/bye"
    evil.client.save()
    response = browser.get(
        "/o/logout/", {"id_token_hint": logout_tokens["id_token"], "post_logout_redirect_uri": "https://evil.test/bye"}
    )
    assert response.status_code == 400
    assert "Location" not in response


def test_logout_hint_and_client_id_of_different_clients_do_not_redirect(browser, make_client, logout_tokens):
    """An ID token of web with client_id and URI of another client (OIDC RP-Initiated Logout 2)."""
    evil = make_client("evil", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://evil.test/cb"])
    evil.client.post_logout_redirect_uris = "https://evil.test/bye"
    evil.client.save()
    params = {
        "id_token_hint": logout_tokens["id_token"],
        "client_id": evil.client.client_id,
        "post_logout_redirect_uri": "https://evil.test/bye",
    }
    response = browser.get("/o/logout/", params)
    assert response.status_code == 400
    assert "Location" not in response


@pytest.mark.parametrize(
    "next_url", ["https://evil.test/", "//evil.test/", "/\\evil.test/", "https:evil.test", "\\\\evil.test"]
)
def test_login_next_never_leaves_the_site(bob, next_url):
    """Open redirect through the sign-in page's next parameter (RFC 9700 4.11)."""
    response = sign_in(Client(), "bob", PASSWORD, next=next_url)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
