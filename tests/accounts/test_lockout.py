"""Lockout of a (username, address) pair on the sign-in page, and the per-username slowing
that bounds guesses spread over many addresses (SECURITY.md). The admin has no sign-in form of
its own: /admin/login/ sends everyone to the one sign-in page."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.ratelimit import middleware

PASSWORD = "correct horse battery staple"
PAGES = ["/accounts/login/"]
WINDOW_START = 1_800_000_000


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("olivia", password=PASSWORD, is_staff=True)


def attempt(page: str, username: str, password: str, address: str, http: Client | None = None):
    return (http or Client()).post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_an_attacker_cannot_keep_an_operator_out_of_the_admin(operator):
    for _ in range(5):
        attempt("/accounts/login/", "olivia", "guess", "203.0.113.66")
    # The attacker's address is locked for olivia...
    assert attempt("/accounts/login/", "olivia", PASSWORD, "203.0.113.66").status_code == 429
    # ...and olivia, from her own address, is not.
    assert attempt("/accounts/login/", "olivia", PASSWORD, "10.1.1.1").status_code == 302


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_admin_has_no_sign_in_form_of_its_own(operator, method):
    # Its own form would sign in by password alone, past the second factor and the lockout.
    http = Client()
    url = "/admin/login/?next=/admin/oauth/application/"
    data = {"username": "olivia", "password": PASSWORD}
    response = http.post(url, data) if method == "post" else http.get(url)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/oauth/application/"
    assert "_auth_user_id" not in http.session


def test_the_admin_sign_in_keeps_next_on_this_site(operator):
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/accounts/login/?next=/admin/"


def test_a_signed_in_operator_goes_on_and_a_signed_in_person_is_told_no(operator):
    http = Client()
    http.force_login(operator)
    assert http.get("/admin/login/?next=/admin/oauth/application/")["Location"] == "/admin/oauth/application/"
    person = get_user_model().objects.create_user("plain", password=PASSWORD)
    http.force_login(person)
    response = http.get("/admin/login/?next=/admin/")
    assert response.status_code == 403
    assert "You do not have permission to open this page." in response.content.decode()


def test_the_lockout_page_says_minutes_and_offers_a_way_back(operator):
    for _ in range(5):
        attempt("/accounts/login/", "olivia", "guess", "203.0.113.66")
    page = attempt("/accounts/login/", "olivia", PASSWORD, "203.0.113.66")
    html = page.content.decode()
    assert page.status_code == 429
    assert "try again in 15 minutes" in html
    assert "PT15M" not in html
    assert 'href="/accounts/login/"' in html


@pytest.fixture
def limits(rate_limits, monkeypatch):
    clock = [float(WINDOW_START)]
    monkeypatch.setattr(middleware, "now", lambda: clock[0])
    rate_limits(login_username=(3, 60))
    return clock


@pytest.mark.parametrize("page", PAGES)
def test_guesses_at_one_username_from_many_addresses_are_slowed_not_locked(operator, limits, page):
    # One Client: one process's middleware, which remembers what is over its limit (as a
    # server process does; tests/ratelimit covers several processes sharing Redis).
    http = Client()
    statuses = [attempt(page, "olivia", "guess", f"198.51.100.{i}", http).status_code for i in range(3)]
    assert statuses == [200, 200, 200]
    slowed = attempt(page, "Olivia ", PASSWORD, "198.51.100.77", http)  # any address, any spelling of the name
    assert slowed.status_code == 429
    assert slowed["Retry-After"] == "60"
    assert "try again in 1 minute" in slowed.content.decode()
    # Another account is not slowed, and when the window ends olivia signs in again.
    assert attempt(page, "someone-else", "guess", "198.51.100.77", http).status_code == 200
    limits[0] += 60
    assert attempt(page, "olivia", PASSWORD, "198.51.100.77", http).status_code == 302


def test_successful_sign_ins_do_not_count_toward_the_username_limit(operator, limits):
    http = Client()
    assert [attempt("/accounts/login/", "olivia", PASSWORD, "10.1.1.1", http).status_code for _ in range(5)] == [
        302
    ] * 5


def test_the_users_own_browser_is_not_slowed_by_a_guessing_campaign(operator, limits):
    # Olivia signed in from her browser once: it keeps a signed "known device" cookie.
    server = Client()  # one process's middleware (see above)
    own_browser = Client()
    own_browser.handler = server.handler
    first = attempt("/accounts/login/", "olivia", PASSWORD, "10.1.1.1", own_browser)
    assert first.status_code == 302
    cookie = first.cookies[middleware.KNOWN_DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == middleware.KNOWN_DEVICE_SECONDS
    assert "olivia" not in cookie.value  # a hash of the name, signed
    own_browser.post("/accounts/logout/")  # signing out keeps the device cookie

    # Guesses from many addresses spend olivia's budget: a stranger's browser is slowed...
    for i in range(3):
        attempt("/accounts/login/", "olivia", "guess", f"198.51.100.{i}", server)
    assert attempt("/accounts/login/", "olivia", PASSWORD, "198.51.100.50", server).status_code == 429
    # ...her own browser is not, from any address, and its failures do not count.
    assert attempt("/accounts/login/", "olivia", "typo", "10.2.2.2", own_browser).status_code == 200
    assert attempt("/accounts/login/", "olivia", PASSWORD, "10.2.2.2", own_browser).status_code == 302


def test_a_known_device_cookie_counts_only_for_its_own_user_and_cannot_be_forged(operator, limits):
    server = Client()
    get_user_model().objects.create_user("mallory", password="mallory-password-1")
    mallory = Client()
    mallory.handler = server.handler
    assert attempt("/accounts/login/", "mallory", "mallory-password-1", "10.3.3.3", mallory).status_code == 302
    # Signed in as mallory, a POST naming olivia is redirected (already signed in): no cookie for olivia.
    attempt("/accounts/login/", "olivia", "anything", "10.3.3.3", mallory)
    mallory.post("/accounts/logout/")
    for i in range(3):
        attempt("/accounts/login/", "olivia", "guess", f"198.51.100.{i}", server)
    assert attempt("/accounts/login/", "olivia", PASSWORD, "10.3.3.3", mallory).status_code == 429

    forged = Client()
    forged.handler = server.handler
    forged.cookies[middleware.KNOWN_DEVICE_COOKIE] = middleware._key("olivia")  # unsigned
    assert attempt("/accounts/login/", "olivia", PASSWORD, "10.4.4.4", forged).status_code == 429


def test_a_successful_sign_in_forgets_its_own_failures_only(operator):
    get_user_model().objects.create_user("mallory", password="mallory-password-1")
    address = "10.5.5.5"
    for _ in range(4):
        attempt("/accounts/login/", "olivia", "typo", address)
        attempt("/accounts/login/", "mallory", "guess", address)
    assert attempt("/accounts/login/", "olivia", PASSWORD, address).status_code == 302
    # olivia's four typos are forgotten: four more do not lock her...
    for _ in range(4):
        attempt("/accounts/login/", "olivia", "typo", address)
    assert attempt("/accounts/login/", "olivia", PASSWORD, address).status_code == 302
    # ...and her success did not touch mallory's count: the fifth failure locks that pair.
    attempt("/accounts/login/", "mallory", "guess", address)
    assert attempt("/accounts/login/", "mallory", "mallory-password-1", address).status_code == 429
