"""The security page: setting up an authenticator app (QR code, typed key, first code),
removing factors with the password, renewing recovery codes; every refusal says why and
changes nothing; ``next`` leads back to the app that asked for a stronger sign-in."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.sessions import METHODS_KEY, session_methods
from apps.factors import recovery, totp
from apps.factors.models import Passkey
from tests.support.authenticator import totp_code

PASSWORD = "correct horse battery staple"
SECURITY = "/accounts/security/"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def lee(db):
    return get_user_model().objects.create_user("lee", password=PASSWORD)


@pytest.fixture
def browser_of_lee(lee) -> Client:
    client = Client()
    client.force_login(lee)
    return client


def methods_of(client: Client, user) -> list[str]:
    return session_methods(type("R", (), {"session": client.session, "user": user})())


def set_up_app(client: Client, user) -> str:
    client.post("/accounts/security/app/begin/")
    return totp_code(totp.pending_enrolment(user))


def test_the_page_needs_a_sign_in(db):
    response = Client().get(SECURITY)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_account_page_links_to_it(browser_of_lee):
    page = browser_of_lee.get("/accounts/").content.decode()
    assert 'href="/accounts/security/"' in page


def test_setting_up_an_authenticator_app(browser_of_lee, lee):
    page = browser_of_lee.get(SECURITY).content.decode()
    assert "Set up an authenticator app" in page and "Add a passkey" in page
    response = browser_of_lee.post("/accounts/security/app/begin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/security/#app"
    page = browser_of_lee.get(SECURITY)
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    text = page.content.decode()
    device = totp.pending_enrolment(lee)
    assert "<svg" in text and totp.secret_for_typing(device) in text
    old_key = browser_of_lee.session.session_key
    response = browser_of_lee.post("/accounts/security/app/confirm/", {"code": totp_code(device), "password": PASSWORD})
    assert response.status_code == 302
    assert totp.authenticator_app(lee) is not None
    assert browser_of_lee.session.session_key != old_key and methods_of(browser_of_lee, lee) == ["pwd", "otp", "mfa"]
    page = browser_of_lee.get(SECURITY).content.decode()
    assert "Your authenticator app is set up." in page
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)
    assert len(codes) == 10
    recovery.use_recovery_code(lee, codes[0])  # the codes shown are the real ones
    assert "Remove the authenticator app" in page and "<svg" not in page


def test_a_wrong_first_code_says_so(browser_of_lee, lee):
    set_up_app(browser_of_lee, lee)
    response = browser_of_lee.post("/accounts/security/app/confirm/", {"code": "000000x", "password": PASSWORD})
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in response.content.decode()
    assert "<svg" in response.content.decode()  # still setting up: the QR code stays
    assert totp.authenticator_app(lee) is None and methods_of(browser_of_lee, lee) == ["pwd"]


def test_confirming_without_starting_says_so(browser_of_lee, lee):
    response = browser_of_lee.post("/accounts/security/app/confirm/", {"code": "123456", "password": PASSWORD})
    assert response.status_code == 400
    assert "Start setting up the authenticator app first." in response.content.decode()


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "Enter your password to confirm."), ("wrong", "That password is not correct. Nothing was changed.")],
)
def test_removing_the_app_needs_the_password(browser_of_lee, lee, password, message):
    browser_of_lee.post(
        "/accounts/security/app/confirm/", {"code": set_up_app(browser_of_lee, lee), "password": PASSWORD}
    )
    data = {} if password == "" else {"password": password}
    response = browser_of_lee.post("/accounts/security/app/remove/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert totp.authenticator_app(lee) is not None and recovery.recovery_codes_left(lee) == 10


def test_removing_the_last_factor_removes_the_recovery_codes(browser_of_lee, lee):
    browser_of_lee.post(
        "/accounts/security/app/confirm/", {"code": set_up_app(browser_of_lee, lee), "password": PASSWORD}
    )
    response = browser_of_lee.post("/accounts/security/app/remove/", {"password": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=lee).exists() and not recovery.has_recovery_codes(lee)
    page = browser_of_lee.get(SECURITY).content.decode()
    assert "Your authenticator app is removed." in page
    assert "Recovery codes are made when you set up your first second factor." in page


def test_removing_a_passkey_needs_the_password_and_only_ones_own(browser_of_lee, lee):
    mine = Passkey.objects.create(user=lee, name="Laptop", credential_id="a", public_key=b"k", user_handle="h")
    other = get_user_model().objects.create_user("max", password=PASSWORD)
    theirs = Passkey.objects.create(user=other, name="Phone", credential_id="b", public_key=b"k", user_handle="i")
    response = browser_of_lee.post("/accounts/security/passkeys/remove/", {"passkey": mine.pk, "password": "nope"})
    assert response.status_code == 400 and "That password is not correct." in response.content.decode()
    response = browser_of_lee.post("/accounts/security/passkeys/remove/", {"passkey": theirs.pk, "password": PASSWORD})
    assert response.status_code == 400 and "That passkey does not exist." in response.content.decode()
    response = browser_of_lee.post("/accounts/security/passkeys/remove/", {"passkey": "x", "password": PASSWORD})
    assert response.status_code == 400
    assert Passkey.objects.count() == 2
    response = browser_of_lee.post("/accounts/security/passkeys/remove/", {"passkey": mine.pk, "password": PASSWORD})
    assert response.status_code == 302 and list(Passkey.objects.all()) == [theirs]


def test_renewing_the_recovery_codes(browser_of_lee, lee):
    browser_of_lee.post(
        "/accounts/security/app/confirm/", {"code": set_up_app(browser_of_lee, lee), "password": PASSWORD}
    )
    first = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", browser_of_lee.get(SECURITY).content.decode())
    recovery.use_recovery_code(lee, first[0])
    assert "9 unused recovery codes left." in browser_of_lee.get(SECURITY).content.decode()
    response = browser_of_lee.post("/accounts/security/recovery-codes/", {"password": "wrong"})
    assert response.status_code == 400 and recovery.recovery_codes_left(lee) == 9
    response = browser_of_lee.post("/accounts/security/recovery-codes/", {"password": PASSWORD})
    assert response.status_code == 302
    page = browser_of_lee.get(SECURITY).content.decode()
    renewed = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)
    assert len(renewed) == 10 and not set(renewed) & set(first)
    assert "10 unused recovery codes left." in page


def test_no_recovery_codes_without_a_factor(browser_of_lee, lee):
    response = browser_of_lee.post("/accounts/security/recovery-codes/", {"password": PASSWORD})
    assert response.status_code == 400
    assert "set one up first" in response.content.decode() and not recovery.has_recovery_codes(lee)


def test_next_leads_back_once_a_factor_is_set_up(browser_of_lee, lee):
    url = f"{SECURITY}?next=/o/authorize/%3Fclient_id%3Dweb"
    page = browser_of_lee.get(url).content.decode()
    assert "asks for a second factor" in page and 'id="continue"' not in page
    assert 'name="next" value="/o/authorize/?client_id=web"' in page
    browser_of_lee.post("/accounts/security/app/begin/", {"next": "/o/authorize/?client_id=web"})
    code = totp_code(totp.pending_enrolment(lee))
    response = browser_of_lee.post(
        "/accounts/security/app/confirm/", {"code": code, "password": PASSWORD, "next": "/o/authorize/?client_id=web"}
    )
    assert response["Location"] == "/accounts/security/?next=%2Fo%2Fauthorize%2F%3Fclient_id%3Dweb#app"
    page = browser_of_lee.get(response["Location"]).content.decode()
    assert '<a href="/o/authorize/?client_id=web" id="continue">Continue</a>' in page


def test_an_unsafe_next_is_dropped(browser_of_lee):
    page = browser_of_lee.get(f"{SECURITY}?next=https://evil.example/").content.decode()
    assert "evil.example" not in page


def test_without_a_domain_name_passkeys_say_why(browser_of_lee, settings):
    settings.IDP = {**settings.IDP, "ISSUER": "http://127.0.0.1:8000"}
    page = browser_of_lee.get(SECURITY).content.decode()
    assert "Passkeys need this site to be reached by a domain name, such as localhost" in page
    assert "data-passkey-register" not in page


def test_guessing_the_password_on_the_security_page_locks_it_out(browser_of_lee, lee):
    """A session left open must not become a way to guess the password: the wrong guesses
    count towards the sign-in's lockout (django-axes), which then refuses even the right one."""
    browser_of_lee.post(
        "/accounts/security/app/confirm/", {"code": set_up_app(browser_of_lee, lee), "password": PASSWORD}
    )
    for _ in range(4):
        assert browser_of_lee.post("/accounts/security/app/remove/", {"password": "guess"}).status_code == 400
    assert browser_of_lee.post("/accounts/security/app/remove/", {"password": "guess"}).status_code == 429
    assert browser_of_lee.post("/accounts/security/app/remove/", {"password": PASSWORD}).status_code == 429
    assert totp.authenticator_app(lee) is not None


# --- adding a factor needs recent proof ---------------------------------------------------

STEP_UP_LINK = '<a href="/accounts/login/second-factor/?next=%2Faccounts%2Fsecurity%2F" class="step-up">'


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "Enter your password to confirm."), ("wrong", "That password is not correct. Nothing was changed.")],
)
def test_the_first_authenticator_app_needs_the_password(browser_of_lee, lee, password, message):
    """A session left open (even one from before) cannot give the account a factor, and so
    itself a second factor's strength, without the password."""
    code = set_up_app(browser_of_lee, lee)
    data = {"code": code} if password is None else {"code": code, "password": password}
    response = browser_of_lee.post("/accounts/security/app/confirm/", data)
    assert response.status_code == 400 and message in response.content.decode()
    assert totp.authenticator_app(lee) is None and methods_of(browser_of_lee, lee) == ["pwd"]
    assert not recovery.has_recovery_codes(lee)


def test_a_set_up_begun_in_another_session_is_neither_shown_nor_confirmed(browser_of_lee, lee):
    """The secret of a set-up is seen and confirmed only in the session that began it: another
    session (a stolen one) cannot read the secret of a set-up the owner then confirms."""
    other = Client()
    other.force_login(lee)
    set_up_app(other, lee)
    secret = totp.secret_for_typing(totp.pending_enrolment(lee))
    page = browser_of_lee.get(SECURITY).content.decode()
    assert "<svg" not in page and secret not in page and "Set up an authenticator app" in page
    data = {"code": totp_code(totp.pending_enrolment(lee)), "password": PASSWORD}
    response = browser_of_lee.post("/accounts/security/app/confirm/", data)
    assert response.status_code == 400 and "Start setting up the authenticator app first." in response.content.decode()
    assert totp.authenticator_app(lee) is None
    # Beginning here replaces it: the other session no longer sees a secret.
    set_up_app(browser_of_lee, lee)
    assert "<svg" not in other.get(SECURITY).content.decode()


def test_a_further_factor_needs_a_session_that_proved_one(lee):
    """lee has a passkey. A password-only session (one opened before she enrolled, say) is
    told to confirm with it first, and cannot start an authenticator app even with the
    password; once it has proved a factor, the password adds one and leaves it as it was."""
    Passkey.objects.create(user=lee, name="Laptop", credential_id="a", public_key=b"k", user_handle="h")
    client = Client()
    client.force_login(lee)
    page = client.get(SECURITY).content.decode()
    assert STEP_UP_LINK in page and "first <a" in page
    assert "Set up an authenticator app" not in page and "data-passkey-register" not in page
    response = client.post("/accounts/security/app/begin/", {"password": PASSWORD})
    assert response.status_code == 400
    assert (
        "You already have a second factor. Confirm it is you with it first, then add another."
        in response.content.decode()
    )
    assert not TOTPDevice.objects.filter(user=lee).exists() and methods_of(client, lee) == ["pwd"]

    # As after the step-up through the second-factor page (tests/accounts/test_passkeys_sign_in.py).
    session = client.session
    session[METHODS_KEY] = ["pwd", "hwk", "mfa"]
    session.save()
    page = client.get(SECURITY).content.decode()
    assert STEP_UP_LINK not in page and "Set up an authenticator app" in page and "data-passkey-register" in page
    code = set_up_app(client, lee)
    response = client.post("/accounts/security/app/confirm/", {"code": code, "password": "wrong"})
    assert response.status_code == 400 and totp.authenticator_app(lee) is None
    response = client.post("/accounts/security/app/confirm/", {"code": code, "password": PASSWORD})
    assert response.status_code == 302 and totp.authenticator_app(lee) is not None
    assert methods_of(client, lee) == ["pwd", "hwk", "mfa"]


def test_guessing_the_password_when_adding_a_factor_locks_it_out(browser_of_lee, lee):
    code = set_up_app(browser_of_lee, lee)
    for _ in range(4):
        data = {"code": code, "password": "guess"}
        assert browser_of_lee.post("/accounts/security/app/confirm/", data).status_code == 400
    assert (
        browser_of_lee.post("/accounts/security/app/confirm/", {"code": code, "password": "guess"}).status_code == 429
    )
    data = {"code": code, "password": PASSWORD}
    assert browser_of_lee.post("/accounts/security/app/confirm/", data).status_code == 429
    assert totp.authenticator_app(lee) is None


def test_a_first_code_of_other_digits_is_a_400_not_a_500(browser_of_lee, lee):
    set_up_app(browser_of_lee, lee)
    response = browser_of_lee.post("/accounts/security/app/confirm/", {"code": "¹²³⁴⁵⁶", "password": PASSWORD})
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in response.content.decode()
    assert totp.authenticator_app(lee) is None


@pytest.mark.parametrize("passkey", ["²", "¹²", "9" * 30, ""])
def test_removing_a_passkey_with_a_bad_id_says_so(browser_of_lee, lee, passkey):
    Passkey.objects.create(user=lee, name="Laptop", credential_id="a", public_key=b"k", user_handle="h")
    response = browser_of_lee.post("/accounts/security/passkeys/remove/", {"passkey": passkey, "password": PASSWORD})
    assert response.status_code == 400 and "That passkey does not exist." in response.content.decode()
    assert Passkey.objects.count() == 1
