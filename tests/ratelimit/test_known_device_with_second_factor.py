"""A person with a second factor is signed in on the second-factor page, not by the password
POST: their browser still becomes a known device once it has given the right password, so a
guessing campaign at their username does not keep them out of their own browser."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.ratelimit import middleware

PASSWORD = "correct horse battery staple"
WINDOW_START = 1_800_000_000


@pytest.fixture
def olivia(db):
    user = get_user_model().objects.create_user("olivia", password=PASSWORD)
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    return user


@pytest.fixture
def limits(rate_limits, monkeypatch):
    monkeypatch.setattr(middleware, "now", lambda: float(WINDOW_START))
    rate_limits(login_username=(3, 60))


def sign_in(http: Client, password: str, address: str):
    return http.post("/accounts/login/", {"username": "olivia", "password": password}, REMOTE_ADDR=address)


def test_the_right_password_makes_a_known_device_before_the_second_factor(olivia, limits):
    server = Client()
    own_browser = Client()
    own_browser.handler = server.handler
    first = sign_in(own_browser, PASSWORD, "10.1.1.1")
    assert first.status_code == 302
    assert first["Location"].startswith("/accounts/login/second-factor/")
    assert "_auth_user_id" not in own_browser.session  # not signed in yet
    assert middleware.KNOWN_DEVICE_COOKIE in first.cookies

    for i in range(3):
        assert sign_in(server, "guess", f"198.51.100.{i}").status_code == 200
    assert sign_in(server, PASSWORD, "198.51.100.50").status_code == 429  # a stranger's browser
    assert sign_in(own_browser, PASSWORD, "10.2.2.2").status_code == 302  # hers


def test_a_wrong_password_makes_no_known_device(olivia, limits):
    response = sign_in(Client(), "guess", "10.1.1.1")
    assert response.status_code == 200
    assert middleware.KNOWN_DEVICE_COOKIE not in response.cookies
