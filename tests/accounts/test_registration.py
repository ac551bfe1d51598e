"""Self-registration: off unless the operator turns it on; an account works only once its
address is confirmed; the form never reveals whether an address has an account."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from apps.accounts.models import PendingRegistration

PASSWORD = "correct horse battery staple"


@pytest.fixture
def registration_open(settings):
    settings.IDP = {**settings.IDP, "SELF_REGISTRATION": True}


def register(client: Client, username: str = "erin", email: str = "erin@example.test", password: str = PASSWORD):
    return client.post(
        "/accounts/register/",
        {"username": username, "email": email, "password1": password, "password2": password},
    )


def verify_link() -> str:
    (message,) = mail.outbox
    return re.search(r"https://idp\.test(/accounts/register/verify/\S+/)", message.body).group(1)


def signs_in(username: str, password: str = PASSWORD) -> bool:
    return Client().post("/accounts/login/", {"username": username, "password": password}).status_code == 302


def test_registration_is_off_by_default(client, db):
    assert client.get("/accounts/register/").status_code == 404
    assert register(client).status_code == 404
    assert "Create an account" not in client.get("/accounts/login/").content.decode()
    assert not get_user_model().objects.exists()


def test_a_new_account_works_once_its_address_is_confirmed(client, db, registration_open):
    assert 'href="/accounts/register/"' in client.get("/accounts/login/").content.decode()
    response = register(client)
    assert response["Location"] == "/accounts/register/sent/"
    user = get_user_model().objects.get(username="erin")
    assert (user.email, user.is_active) == ("erin@example.test", False)
    assert not signs_in("erin")  # not before the address is confirmed
    assert mail.outbox[0].to == ["erin@example.test"]

    link = verify_link()
    page = client.get(link)
    assert page.status_code == 200 and "Confirm your account" in page.content.decode()
    assert not signs_in("erin")  # following the link alone confirms nothing
    confirmed = client.post(link, {"password": PASSWORD})
    assert confirmed.status_code == 200 and "Your account is ready" in confirmed.content.decode()
    assert signs_in("erin")
    again = client.get(link)  # the link works once
    assert again.status_code == 400 and "This link does not work" in again.content.decode()


def test_a_made_up_or_altered_link_changes_nothing(client, db, registration_open):
    register(client)
    link = verify_link()
    for bad in (link[:-3] + "xx/", "/accounts/register/verify/Zm9v/abc-def/", "/accounts/register/verify/!!/x/"):
        assert client.get(bad).status_code == 400
        assert client.post(bad, {"password": PASSWORD}).status_code == 400
    assert not get_user_model().objects.get(username="erin").is_active


def test_an_address_in_use_gets_the_same_answer_and_its_owner_a_mail(client, db, registration_open):
    get_user_model().objects.create_user("frank", email="frank@example.test", password=PASSWORD)
    response = register(client, username="mallory", email="Frank@Example.test")
    assert response["Location"] == "/accounts/register/sent/"  # as for a new address
    assert not get_user_model().objects.filter(username="mallory").exists()
    (message,) = mail.outbox
    assert message.to == ["frank@example.test"]
    assert "already has an account" in message.body and "/accounts/password/reset/" in message.body


def test_a_weak_password_or_a_taken_username_is_refused_and_nothing_is_created(client, db, registration_open):
    weak = register(client, password="password")
    assert weak.status_code == 200 and "This password is too common." in weak.content.decode()
    get_user_model().objects.create_user("erin", password=PASSWORD)
    taken = register(client, email="other@example.test")
    assert "A user with that username already exists." in taken.content.decode()
    assert get_user_model().objects.count() == 1 and not mail.outbox


def test_registrations_are_rate_limited(client, db, registration_open, rate_limits):
    rate_limits(account_mail=(1, 3600))
    assert register(client, username="one", email="one@example.test").status_code == 302
    slowed = register(client, username="two", email="two@example.test")
    assert slowed.status_code == 429 and "Too many requests for mail" in slowed.content.decode()


def test_a_mail_that_cannot_be_sent_keeps_nothing_and_says_so(client, db, registration_open, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    response = register(client)
    assert response.status_code == 503
    assert "We could not send the confirmation mail. Nothing was saved" in response.content.decode()
    assert not get_user_model().objects.filter(username="erin").exists()


def test_an_unconfirmed_registration_frees_its_name_and_address_once_its_link_expired(
    client, db, registration_open, settings
):
    register(client, password=PASSWORD)
    stale = verify_link()
    PendingRegistration.objects.update(created=timezone.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
    mail.outbox.clear()
    assert register(client).status_code == 302  # the same username and address, again
    assert client.get(stale).status_code == 400  # the old link died with the old account
    assert client.post(verify_link(), {"password": PASSWORD}).status_code == 200
    assert signs_in("erin")
    assert not PendingRegistration.objects.exists()


def test_a_registration_of_an_address_still_waiting_replaces_it(client, db, registration_open):
    """Mallory registered Grace's address first; Grace is not shut out: her registration
    replaces his, and only her link and her password confirm it."""
    register(client, username="mallory", email="grace@example.test", password="mallorys own passphrase")
    mallorys_link = verify_link()
    mail.outbox.clear()
    assert register(client, username="grace", email="grace@example.test").status_code == 302
    assert "already has an account" not in mail.outbox[0].body
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert client.get(mallorys_link).status_code == 400
    assert client.post(verify_link(), {"password": PASSWORD}).status_code == 200
    assert signs_in("grace")


def test_following_someone_elses_registration_link_gives_them_nothing(client, db, registration_open):
    """Mallory registers Grace's address with a password of his own. Grace gets the mail and,
    curious, follows the link: without Mallory's password the account stays disabled."""
    register(client, username="mallory", email="grace@example.test", password="mallorys own passphrase")
    link = verify_link()
    refused = client.post(link, {"password": "what grace might guess"})
    assert refused.status_code == 400
    assert "That is not the password this account was created with. Nothing was changed." in refused.content.decode()
    assert not get_user_model().objects.get(username="mallory").is_active
    assert not signs_in("mallory", "mallorys own passphrase")
