"""The people's pages in the person's language: Accept-Language, an authorization request's
``ui_locales`` (OpenID Connect Core 3.1.2.1) on its sign-in page and consent screen, dates
written the Dutch way, and English wherever nothing else is asked for."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation

from apps.accounts.languages import authorization_request_language, supported_language
from apps.accounts.templatetags.people import device, in_words
from apps.consent.models import Consent
from apps.consent.services import remember_consent
from tests.support.flows import Pkce, authorize_url, consent_form_data, redirect_params

DUTCH = {"HTTP_ACCEPT_LANGUAGE": "nl-NL,nl;q=0.9,en;q=0.8"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}
SCOPE = "openid profile shoppingbasket.fullaccess"
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(autouse=True)
def _english_again():
    """The test client runs each request in this thread, which keeps the language the last one
    activated; the next test must not start in Dutch."""
    yield
    translation.deactivate()


def language_of(response) -> str:
    """The language a page says it is in (<html lang>), checked against Content-Language."""
    lang = re.search(r'<html lang="([^"]*)">', response.content.decode()).group(1)
    assert response["Content-Language"] == lang
    return lang


def h1(response) -> str:
    return re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S).group(1)


# --- the browser's language ----------------------------------------------------------------------


def test_accept_language_nl_gives_the_dutch_sign_in_page(client, db):
    response = client.get("/accounts/login/", **DUTCH)
    html = response.content.decode()
    assert language_of(response) == "nl"
    assert "Accept-Language" in response["Vary"]  # caches keep the languages apart
    assert h1(response) == "Inloggen"
    assert '<label for="id_username">Gebruikersnaam</label>' in html
    assert '<label for="id_password">Wachtwoord</label>' in html
    assert "Ingelogd blijven op dit apparaat" in html
    assert "Wachtwoord vergeten?" in html


@pytest.mark.parametrize("headers", [{}, ENGLISH, {"HTTP_ACCEPT_LANGUAGE": "fr-FR,de;q=0.8"}])
def test_english_unless_the_browser_asks_for_dutch(client, db, headers):
    response = client.get("/accounts/login/", **headers)
    assert language_of(response) == "en"
    assert h1(response) == "Sign in"


def test_the_sign_in_errors_are_dutch_too(client, alice):
    empty = client.post("/accounts/login/", {"username": "", "password": ""}, **DUTCH).content.decode()
    assert "Vul uw gebruikersnaam in." in empty and "Vul uw wachtwoord in." in empty
    wrong = client.post("/accounts/login/", {"username": "alice", "password": "wrong"}, **DUTCH)
    assert "Er is geen account met deze gebruikersnaam en dit wachtwoord." in wrong.content.decode()


def test_djangos_own_texts_come_in_dutch(browser):
    """Password rules and the password form's labels are Django's, translated by Django."""
    response = browser.post(
        "/accounts/password/",
        {"old_password": "x", "new_password1": "12345678", "new_password2": "12345678"},
        **DUTCH,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Dit wachtwoord bevat alleen cijfers." in html
    assert "Oud wachtwoord" in html and "Nieuw wachtwoord" in html


def test_the_account_pages_and_their_messages_are_dutch(browser):
    account = browser.get("/accounts/", **DUTCH)
    assert h1(account) == "Uw account"
    assert "Ingelogd als <strong>alice</strong>" in account.content.decode()
    saved = browser.post(
        "/accounts/", {"first_name": "Alice", "last_name": "Smith", "email": "alice@example.test"}, **DUTCH
    )
    assert saved.status_code == 302
    assert "Uw profiel is opgeslagen." in browser.get("/accounts/", **DUTCH).content.decode()


def test_dates_are_written_the_dutch_way(browser, alice, web):
    remember_consent(user=alice, application=web.client, scopes=["openid"])
    Consent.objects.update(
        granted_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC), expires_at=datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    )
    assert "Toegestaan op 1 december 2026, tot 1 maart 2027" in browser.get("/accounts/apps/", **DUTCH).content.decode()
    # English keeps the day first, as the pages always wrote it.
    assert "Allowed 1 Dec 2026, until 1 Mar 2027" in browser.get("/accounts/apps/", **ENGLISH).content.decode()


def test_the_sessions_page_names_the_device_and_dates_in_dutch(alice):
    browser = Client(HTTP_USER_AGENT=FIREFOX_ON_LINUX)
    assert browser.post("/accounts/login/", {"username": "alice", "password": "x"}).status_code == 302
    html = browser.get("/accounts/sessions/", **DUTCH).content.decode()
    assert "Firefox op Linux <strong>(deze browser)</strong>" in html
    months = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
    assert len(re.findall(rf"<td>\d{{1,2}} ({months}) \d{{4}} \d\d:\d\d</td>", html)) == 2  # signed in, last seen


def test_the_reset_mail_is_written_in_the_language_of_the_page_that_asked(client, alice):
    client.post("/accounts/password/reset/", {"email": "alice@example.test"}, **DUTCH)
    (message,) = mail.outbox
    assert message.subject == "Stel uw GloboTicket-wachtwoord opnieuw in"
    assert message.body.startswith("Beste Alice Smith,\n\nIemand (hopelijk u) heeft gevraagd")
    assert "/accounts/reset/" in message.body


def test_a_slowed_sign_in_is_told_in_dutch(client, alice, rate_limits):
    """The rate limit answers before LocaleMiddleware has run: it picks the language itself."""
    rate_limits(login_username=(1, 60))
    client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    slowed = client.post("/accounts/login/", {"username": "alice", "password": "wrong"}, **DUTCH)
    assert slowed.status_code == 429
    assert language_of(slowed) == "nl"
    assert h1(slowed) == "Te veel inlogpogingen"
    # The window's end is under a minute away: seconds, or the minute it is rounded up to.
    assert re.search(r"Even geduld: probeer het over \d+ (seconden|seconde|minuut) opnieuw\.", slowed.content.decode())


def test_service_endpoints_answer_without_a_language(client, db):
    """They skip LocaleMiddleware (idp.E030): their JSON is the same for every browser."""
    response = client.post("/o/token/", {"grant_type": "password"}, **DUTCH)
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
    assert "Content-Language" not in response
    assert "Accept-Language" not in response.get("Vary", "")


# --- ui_locales: the authorization request chooses for its own pages ----------------------------


def test_ui_locales_nl_gives_a_dutch_sign_in_page_and_consent_screen_to_an_english_browser(alice, web):
    browser = Client(**ENGLISH)
    pkce = Pkce.new()
    to_sign_in = browser.get(authorize_url(web.client.client_id, SCOPE, pkce, ui_locales="nl"))
    assert to_sign_in.status_code == 302
    sign_in_url = to_sign_in["Location"]
    assert parse_qs(urlsplit(parse_qs(urlsplit(sign_in_url).query)["next"][0]).query)["ui_locales"] == ["nl"]

    page = browser.get(sign_in_url)
    assert language_of(page) == "nl"
    assert h1(page) == "Inloggen"
    assert "om verder te gaan naar <strong>web</strong>" in page.content.decode()
    # The form posts back to the same address: a mistyped password is answered in Dutch too.
    wrong = browser.post(sign_in_url, {"username": "alice", "password": "wrong"})
    assert language_of(wrong) == "nl"
    assert "Er is geen account met deze gebruikersnaam en dit wachtwoord." in wrong.content.decode()
    signed_in = browser.post(sign_in_url, {"username": "alice", "password": "x"})
    assert signed_in.status_code == 302

    consent = browser.get(signed_in["Location"])
    html = consent.content.decode()
    assert consent.status_code == 200
    assert language_of(consent) == "nl"
    assert h1(consent) == "web toegang geven?"
    assert "<strong>web</strong> vraagt om:" in html and "Uw identiteit" in html
    assert ">Toestaan</button>" in html and ">Weigeren</button>" in html
    # Allowing works as ever: the code goes back to the client.
    allowed = browser.post(signed_in["Location"], {**consent_form_data(consent), "allow": "Authorize"})
    assert redirect_params(allowed)["state"] == "st-123"

    # Only that request's pages: the next page outside it is in the browser's language again.
    assert language_of(browser.get("/accounts/")) == "en"


@pytest.mark.parametrize("ui_locales", ["nl", "NL", "nl-NL", "fr-CA nl-BE en", "x-klingon nl"])
def test_the_first_language_of_ui_locales_we_speak_is_used(browser, web, ui_locales):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), ui_locales=ui_locales), **ENGLISH)
    assert response.status_code == 200
    assert language_of(response) == "nl"
    assert h1(response) == "web toegang geven?"


@pytest.mark.parametrize(("ui_locales", "shown"), [("en nl", "en"), ("en-US", "en")])
def test_ui_locales_can_ask_for_english_in_a_dutch_browser(browser, web, ui_locales, shown):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), ui_locales=ui_locales), **DUTCH)
    assert language_of(response) == shown
    assert h1(response) == "Allow web?"


@pytest.mark.parametrize("ui_locales", ["fr", "de-DE fr-CA", "*", "nl_NL", "", "nl" + "-x" * 200])
def test_ui_locales_we_do_not_speak_are_ignored_never_an_error(alice, browser, web, ui_locales):
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new(), ui_locales=ui_locales)
    english = browser.get(url, **ENGLISH)
    assert english.status_code == 200
    assert (language_of(english), h1(english)) == ("en", "Allow web?")
    # The browser's own language stands.
    assert language_of(browser.get(url, **DUTCH)) == "nl"
    # And on the sign-in page.
    to_sign_in = Client(**ENGLISH).get(url)
    assert language_of(Client(**ENGLISH).get(to_sign_in["Location"])) == "en"


def test_an_authorization_error_page_speaks_the_requested_language(db):
    response = Client(**ENGLISH).get(authorize_url("no-such-client", SCOPE, Pkce.new(), ui_locales="nl"))
    assert response.status_code == 400
    assert response.context["error"].error == "invalid_request"
    assert language_of(response) == "nl"
    assert h1(response) == "Onbekende applicatie"
    assert "is niet geregistreerd bij deze inlogdienst" in response.content.decode()


def test_ui_locales_in_a_next_that_is_not_an_authorization_request_is_ignored(client, db):
    response = client.get("/accounts/login/", {"next": "/accounts/?ui_locales=nl"}, **ENGLISH)
    assert language_of(response) == "en"


def test_a_slowed_sign_in_from_an_authorization_request_keeps_its_language(alice, web, rate_limits):
    rate_limits(login_username=(1, 60))
    browser = Client(**ENGLISH)
    sign_in_url = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), ui_locales="nl"))["Location"]
    browser.post(sign_in_url, {"username": "alice", "password": "wrong"})
    slowed = browser.post(sign_in_url, {"username": "alice", "password": "wrong"})
    assert slowed.status_code == 429
    assert h1(slowed) == "Te veel inlogpogingen"


# --- the pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ui_locales", "language"),
    [
        ("nl", "nl"),
        ("NL-nl", "nl"),
        ("fr nl-BE", "nl"),
        ("en nl", "en"),
        ("en-US", "en"),
        ("fr", None),
        ("", None),
        ("nl_NL", None),  # not a BCP 47 tag
        ("fr " * 100 + "nl", None),  # not a few language tags: not read
    ],
)
def test_supported_language(ui_locales, language):
    assert supported_language(ui_locales) == language


def test_authorization_request_language_reads_only_our_authorization_endpoint():
    assert authorization_request_language("/o/authorize/?client_id=c&ui_locales=fr+nl") == "nl"
    assert authorization_request_language("/o/authorize/?client_id=c") is None
    assert authorization_request_language("/accounts/?ui_locales=nl") is None
    assert authorization_request_language("") is None


def test_waits_and_devices_in_dutch():
    with translation.override("nl"):
        assert [in_words(value) for value in (None, 1, 40, 60, 900, 3600, 7200)] == [
            "een paar minuten",
            "1 seconde",
            "40 seconden",
            "1 minuut",
            "15 minuten",
            "1 uur",
            "2 uur",
        ]
        assert device(FIREFOX_ON_LINUX) == "Firefox op Linux"
        assert device("curl/8.0") == "Onbekende browser"
    assert in_words(900) == "15 minutes" and device("curl/8.0") == "Unknown browser"
