"""The people's pages in Dutch, in Chromium: a browser set to Dutch gets Dutch pages with
Dutch dates; an English browser sent by an authorization request with ``ui_locales=nl`` signs
in and consents in Dutch."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import get_user_model
from django.utils import formats, timezone, translation

from apps.accounts.models import UserSession
from apps.clients.services import save_client
from apps.consent.models import Consent
from apps.consent.services import remember_consent
from apps.resources.models import ApiScope
from tests.support.flows import Pkce, authorize_url

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://web.test/callback"
DUTCH_MONTHS = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"


def test_a_dutch_browser_gets_dutch_pages_and_dutch_dates(chromium, live_server, transactional_db, screenshot):
    alice = get_user_model().objects.create_user("alice", password=PASSWORD)
    ApiScope.objects.create(name="openid", description="Sign you in")
    shop = save_client(
        name="Ticket Shop", grant_types=["authorization_code"], scopes=["openid"], redirect_uris=[REDIRECT_URI]
    )
    remember_consent(user=alice, application=shop.client, scopes=["openid"])
    Consent.objects.update(
        granted_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC), expires_at=datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    )
    context = chromium.new_context(locale="nl-NL")
    page = context.new_page()

    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").inner_text() == "Inloggen"
    page.get_by_label("Gebruikersnaam").fill("alice")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen").click()
    assert page.locator("h1").inner_text() == "Uw account"

    with page.expect_navigation():
        page.click("text=Waar u bent ingelogd")
    assert page.locator("h1").inner_text() == "Waar u bent ingelogd"
    created = UserSession.objects.get(user=alice).created
    with translation.override("nl"):
        signed_in_at = formats.date_format(timezone.localtime(created), "DATETIME_FORMAT")
    row = page.locator("table.sessions tbody tr").first
    assert row.locator("td").nth(2).inner_text() == signed_in_at
    assert re.fullmatch(rf"\d{{1,2}} ({DUTCH_MONTHS}) \d{{4}} \d\d:\d\d", signed_in_at)  # "1 december 2026 09:30"
    assert "(deze browser)" in row.inner_text()
    screenshot(page, "sessions-nl")

    page.goto(f"{live_server.url}/accounts/apps/")
    assert page.locator("h1").inner_text() == "Gekoppelde apps"
    assert page.get_by_text("Toegestaan op 1 december 2026, tot 1 maart 2027").is_visible()
    assert page.get_by_role("button", name="Toegang van Ticket Shop intrekken").is_visible()
    context.close()


def test_ui_locales_signs_an_english_browser_in_and_asks_consent_in_dutch(chromium, live_server, transactional_db):
    get_user_model().objects.create_user("alice", password=PASSWORD)
    ApiScope.objects.create(name="openid", description="Sign you in")
    shop = save_client(
        name="Ticket Shop", grant_types=["authorization_code"], scopes=["openid"], redirect_uris=[REDIRECT_URI]
    )
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    # The client itself is not running: answer its callback so the code can be read.
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(status=200, body="callback"))

    page.goto(live_server.url + authorize_url(shop.client.client_id, "openid", Pkce.new(), ui_locales="nl"))
    assert page.locator("h1").inner_text() == "Inloggen"
    assert page.locator("p.lead").inner_text() == "om verder te gaan naar Ticket Shop"
    page.get_by_label("Gebruikersnaam").fill("alice")
    page.get_by_label("Wachtwoord").fill("wrong")
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen").click()
    assert page.locator("p.error").inner_text() == "Er is geen account met deze gebruikersnaam en dit wachtwoord."
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Inloggen").click()

    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("h1").inner_text() == "Ticket Shop toegang geven?"
    assert page.get_by_role("heading", name="Uw identiteit").is_visible()
    page.get_by_role("button", name="Toestaan").click()
    page.wait_for_url(f"{REDIRECT_URI}**")
    assert parse_qs(urlsplit(page.url).query)["state"] == ["st-123"]
    assert "code" in parse_qs(urlsplit(page.url).query)

    # The browser's own language everywhere else.
    page.goto(f"{live_server.url}/accounts/")
    assert page.locator("h1").inner_text() == "Your account"
    context.close()
