"""Sign-in page: lockout, no user enumeration, remember-me, CSRF and framing protection."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

LOGIN = "/accounts/login/"
SAME_MESSAGE = "That username and password do not match an account."


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password="correct horse battery staple")


def login(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra}, REMOTE_ADDR="10.0.0.1")


def test_login_page_uses_standard_field_names_and_labels(client, db):
    page = client.get(LOGIN).content.decode()
    assert 'name="username"' in page and 'autocomplete="username"' in page
    assert 'name="password"' in page and 'autocomplete="current-password"' in page
    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    assert 'name="remember_me"' in page and "checked" not in page  # remember-me is off by default


def test_successful_login_ends_with_the_browser_session(client, bob):
    response = login(client, "bob", "correct horse battery staple")
    assert response.status_code == 302
    assert client.session.get_expire_at_browser_close()


def test_remember_me_keeps_the_session(client, bob):
    login(client, "bob", "correct horse battery staple", remember_me="on")
    assert not client.session.get_expire_at_browser_close()
    assert client.session.get_expiry_age() == 14 * 24 * 3600


def test_same_message_for_unknown_user_and_wrong_password(client, bob):
    wrong = login(client, "bob", "nope").content.decode()
    unknown = login(Client(), "nobody", "nope").content.decode()
    assert SAME_MESSAGE in wrong
    assert SAME_MESSAGE in unknown


def test_lockout_after_five_failures_even_with_the_right_password(client, bob):
    for _ in range(4):
        assert login(client, "bob", "wrong").status_code == 200
    assert login(client, "bob", "wrong").status_code == 429  # the fifth failure locks
    locked = login(client, "bob", "correct horse battery staple")
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_username_and_address(bob):
    """The pair is locked: the same user from another address still signs in (a stranger
    cannot lock someone out everywhere), the same address with another username too."""
    for _ in range(5):
        Client().post(LOGIN, {"username": "bob", "password": "wrong"}, REMOTE_ADDR="10.0.1.1")
    locked = Client().post(
        LOGIN, {"username": "bob", "password": "correct horse battery staple"}, REMOTE_ADDR="10.0.1.1"
    )
    assert locked.status_code == 429
    elsewhere = Client().post(
        LOGIN, {"username": "bob", "password": "correct horse battery staple"}, REMOTE_ADDR="10.0.2.1"
    )
    assert elsewhere.status_code == 302


def test_guesses_spread_over_addresses_or_usernames_lock_nothing(bob):
    for i in range(5):
        Client().post(LOGIN, {"username": "bob", "password": "wrong"}, REMOTE_ADDR=f"10.0.1.{i}")
        Client().post(LOGIN, {"username": f"guess{i}", "password": "wrong"}, REMOTE_ADDR="10.0.3.1")
    # (The rate limits slow these down instead: tests/accounts/test_lockout.py.)
    assert login(Client(), "bob", "correct horse battery staple").status_code == 302
    response = Client().post(
        LOGIN, {"username": "bob", "password": "correct horse battery staple"}, REMOTE_ADDR="10.0.3.1"
    )
    assert response.status_code == 302


def test_behind_the_proxy_the_lockout_counts_the_forwarded_address_not_the_proxys(bob, settings):
    settings.IDP = {**settings.IDP, "TRUSTED_PROXY_COUNT": 1}

    def via_proxy(caller: str, username: str, password: str):
        data = {"username": username, "password": password}
        return Client().post(LOGIN, data, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=caller)

    for _ in range(5):
        via_proxy("203.0.113.5", "bob", "wrong")
    assert via_proxy("203.0.113.5", "bob", "correct horse battery staple").status_code == 429
    # Everyone else behind the same proxy still signs in.
    assert via_proxy("198.51.100.20", "bob", "correct horse battery staple").status_code == 302


def test_unknown_usernames_lock_like_real_ones(db):
    for _ in range(5):
        Client().post(LOGIN, {"username": "ghost", "password": "wrong"}, REMOTE_ADDR="10.0.4.1")
    response = Client().post(LOGIN, {"username": "ghost", "password": "x"}, REMOTE_ADDR="10.0.4.1")
    assert response.status_code == 429


def test_login_requires_csrf(bob):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": "bob", "password": "correct horse battery staple"})
    assert response.status_code == 403


@pytest.mark.parametrize("path", [LOGIN, "/o/authorize/", "/accounts/apps/"])
def test_pages_refuse_framing(client, db, path):
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_login_redirects_only_to_this_site(client, bob):
    response = login(client, "bob", "correct horse battery staple", next="https://evil.test/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"


def test_an_attackers_own_sign_in_does_not_reset_the_victims_lockout(bob):
    get_user_model().objects.create_user("mallory", password="mallory's own password")
    attacker = "10.0.6.1"
    for _ in range(4):
        Client().post(LOGIN, {"username": "bob", "password": "guess"}, REMOTE_ADDR=attacker)
    # The attacker signs in to their own account from the same address...
    Client().post(LOGIN, {"username": "mallory", "password": "mallory's own password"}, REMOTE_ADDR=attacker)
    # ...and the fifth guess still locks the pair (bob, attacker's address).
    Client().post(LOGIN, {"username": "bob", "password": "guess"}, REMOTE_ADDR=attacker)
    response = Client().post(
        LOGIN, {"username": "bob", "password": "correct horse battery staple"}, REMOTE_ADDR=attacker
    )
    assert response.status_code == 429
