"""The account pages in Chromium: a forgotten password reset through a real SMTP server (the
mail read from it, its link followed), and signing out everywhere else from the sessions page."""

import re
import socket
import threading
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model

from tests.browser.test_sign_out_and_slow_down import sign_in

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new and rather long passphrase"


class Inbox:
    """aiosmtpd's handler: keeps every message delivered to it."""

    def __init__(self) -> None:
        self.messages: list = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback, and the IdP configured to send through it."""
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    controller.stop()


def test_a_forgotten_password_is_reset_through_the_mail(chromium, live_server, transactional_db, smtp_server, settings):
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}  # the mail's link points at the issuer
    get_user_model().objects.create_user("carol", email="carol@example.test", password=PASSWORD)
    page = chromium.new_context().new_page()

    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_navigation():
        page.click("text=Forgot your password?")
    page.fill("#id_email", "carol@example.test")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your mail"

    assert smtp_server.arrived.wait(10), "no mail reached the SMTP server"
    ((recipients, message),) = smtp_server.messages
    assert recipients == ["carol@example.test"]
    assert message["Subject"] == "Reset your GloboTicket password"
    link = re.search(r"http://\S+/accounts/reset/\S+/", message.get_payload(decode=True).decode()).group(0)
    assert link.startswith(live_server.url)

    page.goto(link)
    assert page.locator("h1").inner_text() == "Choose a new password"
    page.fill("#id_new_password1", "12345678")  # refused: clear message, nothing changed
    page.fill("#id_new_password2", "12345678")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "This password is entirely numeric." in page.content()
    page.fill("#id_new_password1", NEW_PASSWORD)
    page.fill("#id_new_password2", NEW_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Your password is changed"

    page.goto(link)  # a second use
    assert page.locator("h1").inner_text() == "This link does not work"

    sign_in(page, live_server, "carol", NEW_PASSWORD)
    assert page.url == f"{live_server.url}/accounts/"
    assert page.locator("h1").inner_text() == "Your account"
    page.context.close()


def test_signing_out_everywhere_else_from_the_sessions_page(chromium, live_server, transactional_db, screenshot):
    get_user_model().objects.create_user("carol", password=PASSWORD)
    laptop, phone = chromium.new_context().new_page(), chromium.new_context().new_page()
    sign_in(phone, live_server, "carol")
    sign_in(laptop, live_server, "carol")

    laptop.goto(f"{live_server.url}/accounts/")
    screenshot(laptop, "account")
    with laptop.expect_navigation():
        laptop.click("text=Where you are signed in")
    assert laptop.locator("table.sessions tbody tr").count() == 2
    screenshot(laptop, "sessions")
    assert "(this browser)" in laptop.locator("table.sessions tbody tr").first.inner_text()
    with laptop.expect_navigation():
        laptop.click("button[name=others]")
    assert "Signed out everywhere else (1 session)." in laptop.content()
    assert laptop.locator("table.sessions tbody tr").count() == 1

    phone.goto(f"{live_server.url}/accounts/")
    assert phone.url.startswith(f"{live_server.url}/accounts/login/")  # the phone is signed out
    laptop.goto(f"{live_server.url}/accounts/")
    assert laptop.locator("h1").inner_text() == "Your account"
    laptop.context.close()
    phone.context.close()


def test_a_person_registers_and_confirms_their_address(chromium, live_server, transactional_db, smtp_server, settings):
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url, "SELF_REGISTRATION": True}
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_navigation():
        page.click("text=Create an account")
    page.fill("#id_username", "erin")
    page.fill("#id_email", "erin@example.test")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Check your mail"

    assert smtp_server.arrived.wait(10), "no mail reached the SMTP server"
    ((recipients, message),) = smtp_server.messages
    assert recipients == ["erin@example.test"] and message["Subject"] == "Confirm your GloboTicket account"
    link = re.search(r"http://\S+/accounts/register/verify/\S+/", message.get_payload(decode=True).decode()).group(0)
    page.goto(link)
    assert page.locator("h1").inner_text() == "Confirm your account"
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Your account is ready"
    assert page.locator("a", has_text="Sign in").get_attribute("href") == "/accounts/login/"
    sign_in(page, live_server, "erin")
    assert page.locator("h1").inner_text() == "Your account"
    page.context.close()


def test_the_profile_is_saved_and_the_password_changed_signing_out_the_other_browser(
    chromium, live_server, transactional_db
):
    get_user_model().objects.create_user("carol", email="carol@example.test", password=PASSWORD)
    laptop, phone = chromium.new_context().new_page(), chromium.new_context().new_page()
    sign_in(phone, live_server, "carol")
    sign_in(laptop, live_server, "carol")

    laptop.fill("#id_first_name", "Carol")
    laptop.fill("#id_email", "not an address")
    with laptop.expect_navigation():
        laptop.click("text=Save profile")
    assert "Enter a valid email address." in laptop.content()  # refused, nothing saved
    assert get_user_model().objects.get(username="carol").first_name == ""
    laptop.fill("#id_email", "carol@example.test")
    with laptop.expect_navigation():
        laptop.click("text=Save profile")
    assert "Your profile is saved." in laptop.content()

    with laptop.expect_navigation():
        laptop.click("text=Change your password")
    laptop.fill("#id_old_password", PASSWORD)
    laptop.fill("#id_new_password1", "password")
    laptop.fill("#id_new_password2", "password")
    with laptop.expect_navigation():
        laptop.click("main button[type=submit]")
    assert "This password is too common." in laptop.content()
    laptop.fill("#id_old_password", PASSWORD)
    laptop.fill("#id_new_password1", NEW_PASSWORD)
    laptop.fill("#id_new_password2", NEW_PASSWORD)
    with laptop.expect_navigation():
        laptop.click("main button[type=submit]")
    assert "Your password is changed. 1 other session signed out." in laptop.content()
    assert laptop.locator("h1").inner_text() == "Your account"

    phone.goto(f"{live_server.url}/accounts/")
    assert phone.url.startswith(f"{live_server.url}/accounts/login/")
    laptop.context.close()
    phone.context.close()
