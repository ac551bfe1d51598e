"""Second factors in Chromium: an authenticator app set up from the security page and used
to sign in (codes computed here, as the app would); a recovery code that works once; a
passkey added and used to sign in without a password, through DevTools' virtual
authenticator. WebAuthn needs a secure context and a domain name: the live server is
reached as http://localhost:<port>, and the issuer is set to that origin."""

import re

import pytest
from django.contrib.auth import get_user_model

from apps.factors import totp
from apps.factors.models import Passkey
from tests.support.authenticator import totp_code

PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(live_server, settings):
    url = live_server.url.replace("127.0.0.1", "localhost")
    assert url.startswith("http://localhost:")
    settings.IDP = {**settings.IDP, "ISSUER": url}
    # Each test waits less than django-otp's back-off after a wrong code; no test here needs it.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    return url


def sign_in_with_password(page, site: str, username: str):
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]:text-is('Sign in')")


def sign_out(page):
    with page.expect_navigation():
        page.click("header button[type=submit]")


def test_an_authenticator_app_and_a_recovery_code(chromium, site, transactional_db, screenshot):
    user = get_user_model().objects.create_user("nina", password=PASSWORD)
    page = chromium.new_context().new_page()
    sign_in_with_password(page, site, "nina")
    assert page.url == f"{site}/accounts/"  # no factor yet: the password alone

    with page.expect_navigation():
        page.click("text=Second factors: authenticator app, passkeys, recovery codes")
    assert page.locator("h1").inner_text() == "Security"
    with page.expect_navigation():
        page.click("main button:text-is('Set up an authenticator app')")
    assert page.locator("#app svg").count() == 1
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    device = totp.pending_enrolment(user)
    assert secret == totp.secret_for_typing(device).replace(" ", "")
    screenshot(page, "security-authenticator-app")
    page.fill("#id_totp_code", "000000" if totp_code(device) != "000000" else "111111")
    page.fill("#id_totp_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button:text-is('Confirm and turn on')")
    assert "That code is not correct." in page.locator("#app p.error").inner_text()
    page.fill("#id_totp_code", totp_code(device))
    page.fill("#id_totp_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button:text-is('Confirm and turn on')")
    assert "Your authenticator app is set up." in page.content()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in codes)
    page.reload()
    assert page.locator("#recovery-codes").count() == 0  # shown once
    sign_out(page)

    # The password alone no longer signs in: the authenticator app's code completes it.
    sign_in_with_password(page, site, "nina")
    assert page.url.startswith(f"{site}/accounts/login/second-factor/")
    assert page.locator("h1").inner_text() == "Confirm it is you"
    device.refresh_from_db()
    page.fill("#id_code", totp_code(device))
    with page.expect_navigation():
        page.click("main button:text-is('Confirm')")
    assert page.url == f"{site}/accounts/"
    sign_out(page)

    # A recovery code once; the second time it is refused.
    for attempt in range(2):
        sign_in_with_password(page, site, "nina")
        page.click("summary:text-is('Use a recovery code')")
        page.fill("#id_recovery_code", codes[0])
        with page.expect_navigation():
            page.click("main button:text-is('Use this recovery code')")
        if attempt == 0:
            assert page.url == f"{site}/accounts/"
            sign_out(page)
    assert "That recovery code has already been used." in page.locator("main p.error").inner_text()
    assert page.url.startswith(f"{site}/accounts/login/second-factor/")
    page.context.close()


def test_a_passkey_is_added_then_signs_in_without_a_password(chromium, site, transactional_db, screenshot):
    user = get_user_model().objects.create_user("omar", password=PASSWORD)
    page = chromium.new_context().new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    sign_in_with_password(page, site, "omar")
    page.goto(f"{site}/accounts/security/")
    page.fill("#id_passkey_name", "Test laptop")
    # A wrong password adds nothing: the page says why, and the browser was never asked.
    page.fill("#id_passkey_add_password", "not the password")
    page.click("main button:text-is('Add a passkey')")
    error = page.locator("#passkeys [data-passkey-error]")
    error.wait_for(state="visible")
    assert error.inner_text() == "That password is not correct. Nothing was changed."
    assert page.locator("#id_passkey_add_password").input_value() == ""
    page.fill("#id_passkey_add_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button:text-is('Add a passkey')")
    assert page.url == f"{site}/accounts/security/"
    assert "Your passkey is added." in page.content()
    assert page.locator("#passkeys td", has_text="Test laptop").count() == 1
    assert page.locator("#recovery-codes code").count() == 10
    passkey = Passkey.objects.get(user=user)
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]})
    assert [credential["isResidentCredential"] for credential in stored["credentials"]] == [True]
    screenshot(page, "security-passkeys")
    sign_out(page)

    page.goto(f"{site}/accounts/login/?next=/accounts/sessions/")
    with page.expect_navigation():
        page.click("main button:text-is('Use a passkey')")
    assert page.url == f"{site}/accounts/sessions/"
    assert "Signed in as" in page.locator("header").inner_text()
    passkey.refresh_from_db()
    assert passkey.last_used is not None and passkey.sign_count >= 1
    page.context.close()


def test_a_passkey_as_the_second_step(chromium, site, transactional_db):
    get_user_model().objects.create_user("pia", password=PASSWORD)
    page = chromium.new_context().new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )
    sign_in_with_password(page, site, "pia")
    page.goto(f"{site}/accounts/security/")
    page.fill("#id_passkey_name", "Security key")
    page.fill("#id_passkey_add_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button:text-is('Add a passkey')")
    assert page.locator("#passkeys td", has_text="Security key").count() == 1
    sign_out(page)

    sign_in_with_password(page, site, "pia")
    assert page.url.startswith(f"{site}/accounts/login/second-factor/")
    with page.expect_navigation():
        page.click("main button:text-is('Use a passkey')")
    assert page.url == f"{site}/accounts/"
    page.context.close()
