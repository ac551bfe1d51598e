"""Passkeys over HTTP (the JSON endpoints static/accounts/passkeys.js calls), with the
software authenticator of tests/support: adding one on the security page, signing in without
a password, as the second step, and stepping a session up; what is refused, and no 500 for
a malformed request."""

import json
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.factor_views import PASSKEY_REGISTRATION_KEY
from apps.accounts.sessions import session_methods
from apps.factors import passkeys
from apps.factors.models import Passkey
from tests.support.authenticator import SoftwareAuthenticator

PASSWORD = "correct horse battery staple"
ORIGIN = "https://idp.test"
REGISTRATION_OPTIONS = "/accounts/passkeys/registration-options/"
REGISTER = "/accounts/passkeys/register/"
AUTHENTICATION_OPTIONS = "/accounts/passkeys/authentication-options/"
AUTHENTICATE = "/accounts/passkeys/authenticate/"


def post_json(client: Client, url: str, body) -> object:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data, content_type="application/json")


@pytest.fixture
def jo(db):
    return get_user_model().objects.create_user("jo", password=PASSWORD)


@pytest.fixture
def device():
    return SoftwareAuthenticator(origin=ORIGIN)


def add_passkey(client: Client, device: SoftwareAuthenticator, name="Laptop", **create):
    options = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).json()
    return post_json(client, REGISTER, {"name": name, "credential": device.create(options, **create), "next": ""})


@pytest.fixture
def jo_with_passkey(jo, device):
    client = Client()
    client.force_login(jo)
    assert add_passkey(client, device).status_code == 200
    return jo


def methods_of(client: Client, user) -> list[str]:
    return session_methods(type("R", (), {"session": client.session, "user": user})())


def signed_in(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_adding_a_passkey_shows_the_recovery_codes_once_and_steps_the_session_up(jo, device):
    client = Client()
    client.force_login(jo)
    response = add_passkey(client, device)
    assert response.status_code == 200
    assert response.json() == {"redirect": "/accounts/security/"}
    assert Passkey.objects.get(user=jo).name == "Laptop"
    assert methods_of(client, jo) == ["pwd", "hwk", "mfa"]
    page = client.get("/accounts/security/").content.decode()
    assert "Save these recovery codes now" in page and page.count("<li><code>") == 10
    assert "Save these recovery codes now" not in client.get("/accounts/security/").content.decode()


def test_adding_a_passkey_keeps_next_for_the_continue_link(jo, device):
    client = Client()
    client.force_login(jo)
    options = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).json()
    response = post_json(
        client, REGISTER, {"name": "Key", "credential": device.create(options), "next": "/o/authorize/?client_id=web"}
    )
    assert response.json()["redirect"] == "/accounts/security/?next=%2Fo%2Fauthorize%2F%3Fclient_id%3Dweb"
    page = client.get("/accounts/security/?next=/o/authorize/%3Fclient_id%3Dweb").content.decode()
    assert '<a href="/o/authorize/?client_id=web" id="continue">Continue</a>' in page


def test_registration_needs_a_signed_in_session(db):
    assert post_json(Client(), REGISTRATION_OPTIONS, {}).status_code == 403
    assert post_json(Client(), REGISTER, {"name": "x", "credential": {}}).status_code == 403


def test_a_registration_from_another_origin_adds_nothing(jo, device):
    client = Client()
    client.force_login(jo)
    response = add_passkey(client, device, origin="https://evil.example")
    assert response.status_code == 400
    assert response.json() == {"error": "The passkey could not be verified. Please try again."}
    assert not Passkey.objects.exists()


def test_passwordless_sign_in(jo_with_passkey, device):
    client = Client()
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "passwordless"}).json()
    response = post_json(
        client,
        AUTHENTICATE,
        {"ceremony": "passwordless", "credential": device.get(options), "next": "/accounts/apps/", "remember_me": True},
    )
    assert response.status_code == 200 and response.json() == {"redirect": "/accounts/apps/"}
    assert signed_in(client) == str(jo_with_passkey.pk)
    assert methods_of(client, jo_with_passkey) == ["hwk", "mfa"]
    assert client.session.get_expiry_age() == 14 * 24 * 3600


def test_passwordless_refuses_another_origin_and_a_replayed_challenge(jo_with_passkey, device):
    client = Client()
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "passwordless"}).json()
    phished = device.get(options, origin="https://evil.example")
    response = post_json(client, AUTHENTICATE, {"ceremony": "passwordless", "credential": phished})
    assert response.status_code == 400
    assert response.json()["error"] == "The passkey could not be verified. Please try again."
    response = post_json(client, AUTHENTICATE, {"ceremony": "passwordless", "credential": device.get(options)})
    assert response.status_code == 400
    assert response.json()["error"] == "This passkey request has expired or was already used. Please try again."
    assert signed_in(client) is None


def test_an_unsafe_next_is_not_followed(jo_with_passkey, device):
    client = Client()
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "passwordless"}).json()
    response = post_json(
        client, AUTHENTICATE, {"ceremony": "passwordless", "credential": device.get(options), "next": "//evil.example/"}
    )
    assert response.json() == {"redirect": "/accounts/"}


def test_a_passkey_as_the_second_step(jo_with_passkey, device):
    client = Client()
    response = client.post("/accounts/login/", {"username": "jo", "password": PASSWORD, "next": "/accounts/apps/"})
    assert response.status_code == 302 and signed_in(client) is None
    page = client.get(response["Location"]).content.decode()
    assert "Use a passkey" in page and 'name="code"' in page  # a recovery code is always offered
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"}).json()
    assert len(options["allowCredentials"]) == 1
    response = post_json(client, AUTHENTICATE, {"ceremony": "second-factor", "credential": device.get(options)})
    assert response.json() == {"redirect": "/accounts/apps/"}
    assert signed_in(client) == str(jo_with_passkey.pk)
    assert methods_of(client, jo_with_passkey) == ["pwd", "hwk", "mfa"]


def test_someone_elses_passkey_is_no_second_step(jo_with_passkey, db):
    kim = get_user_model().objects.create_user("kim", password=PASSWORD)
    kims_device = SoftwareAuthenticator(origin=ORIGIN)
    kims = Client()
    kims.force_login(kim)
    add_passkey(kims, kims_device)
    client = Client()
    client.post("/accounts/login/", {"username": "jo", "password": PASSWORD})
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"}).json()
    credential = kims_device.get(options, credential=kims_device.credentials[0])
    response = post_json(client, AUTHENTICATE, {"ceremony": "second-factor", "credential": credential})
    assert response.status_code == 400
    assert response.json()["error"] == "This passkey is not registered for your account."
    assert signed_in(client) is None


def test_five_failed_passkeys_end_the_second_step(jo_with_passkey, device):
    client = Client()
    client.post("/accounts/login/", {"username": "jo", "password": PASSWORD})
    for _ in range(5):
        options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"}).json()
        bad = device.get(options, origin="https://evil.example")
        response = post_json(client, AUTHENTICATE, {"ceremony": "second-factor", "credential": bad})
        assert response.status_code == 400
    assert response.json() == {"error": "Too many wrong answers. Please sign in again.", "redirect": "/accounts/login/"}
    response = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"})
    assert response.status_code == 400 and signed_in(client) is None


def test_a_passkey_steps_a_session_up(jo_with_passkey, device):
    client = Client()
    client.force_login(jo_with_passkey)
    assert methods_of(client, jo_with_passkey) == ["pwd"]
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"}).json()
    response = post_json(
        client, AUTHENTICATE, {"ceremony": "second-factor", "credential": device.get(options), "next": "/o/authorize/"}
    )
    assert response.json() == {"redirect": "/o/authorize/"}
    assert methods_of(client, jo_with_passkey) == ["pwd", "hwk", "mfa"]


def test_without_a_pending_sign_in_the_second_factor_ceremony_is_refused(jo_with_passkey):
    response = post_json(Client(), AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"})
    assert response.status_code == 400
    assert response.json()["error"] == "Your sign-in has expired. Please enter your password again."


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", "[1, 2]", "null", {}, {"ceremony": "registration"}, {"ceremony": ["passwordless"]}],
)
def test_malformed_requests_are_400_with_a_message(jo_with_passkey, body):
    for url in (AUTHENTICATION_OPTIONS, AUTHENTICATE):
        response = post_json(Client(), url, body)
        assert response.status_code == 400
        assert response.json() == {"error": "The request was not understood."}


@pytest.mark.parametrize("credential", ["text", 42, None, {}, {"id": 5}, {"id": "x", "response": "y"}, {"id": "x"}])
def test_malformed_credentials_are_400_with_a_message(jo_with_passkey, credential):
    client = Client()
    post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "passwordless"})
    response = post_json(client, AUTHENTICATE, {"ceremony": "passwordless", "credential": credential})
    assert response.status_code == 400 and response.json()["error"]
    signed = Client()
    signed.force_login(jo_with_passkey)
    post_json(signed, REGISTRATION_OPTIONS, {"password": PASSWORD})
    response = post_json(signed, REGISTER, {"name": "x", "credential": credential})
    assert response.status_code == 400 and response.json()["error"]


def test_the_login_page_offers_a_passkey(client, db, settings):
    page = client.get("/accounts/login/").content.decode()
    assert "Use a passkey" in page and "/static/accounts/passkeys.js" in page
    assert 'name="username"' in page and 'name="password"' in page
    settings.IDP = {**settings.IDP, "ISSUER": "http://127.0.0.1:8000"}
    assert "Use a passkey" not in client.get("/accounts/login/").content.decode()


def test_the_json_endpoints_need_the_csrf_token(jo):
    client = Client(enforce_csrf_checks=True)
    for url in (AUTHENTICATION_OPTIONS, AUTHENTICATE):
        assert post_json(client, url, {"ceremony": "passwordless"}).status_code == 403
    client.force_login(jo)
    assert post_json(client, REGISTRATION_OPTIONS, {}).status_code == 403
    # As static/accounts/passkeys.js does: the page's form token, sent as a header.
    page = client.get("/accounts/security/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = json.dumps({"password": PASSWORD})
    response = client.post(REGISTRATION_OPTIONS, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["rp"]["id"] == "idp.test"


# --- adding a passkey needs recent proof --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Enter your password to confirm."),
        ({"password": ["x"]}, "Enter your password to confirm."),
        ({"password": "wrong"}, "That password is not correct. Nothing was changed."),
    ],
)
def test_the_first_passkey_needs_the_password(jo, device, body, message):
    client = Client()
    client.force_login(jo)
    response = post_json(client, REGISTRATION_OPTIONS, body)
    assert response.status_code == 400 and response.json() == {"error": message}
    assert passkeys.CHALLENGES_KEY not in client.session


def test_a_registration_without_the_password_is_refused(jo, device):
    """A registration challenge alone (as a session had from the options before the password
    was asked) does not allow a registration: only the mark the password check leaves does,
    once."""
    client = Client()
    client.force_login(jo)
    session = client.session
    options = json.loads(passkeys.registration_options(user=jo, session=session))
    session.save()
    response = post_json(client, REGISTER, {"name": "Laptop", "credential": device.create(options)})
    assert response.status_code == 400
    assert response.json() == {"error": "Enter your password and add the passkey again."}
    assert not Passkey.objects.exists() and methods_of(client, jo) == ["pwd"]


def test_the_password_allows_one_registration(jo, device):
    client = Client()
    client.force_login(jo)
    options = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).json()
    bad = device.create(options, origin="https://evil.example")
    assert post_json(client, REGISTER, {"name": "Laptop", "credential": bad}).status_code == 400
    response = post_json(client, REGISTER, {"name": "Laptop", "credential": device.create(options)})
    assert response.status_code == 400
    assert response.json() == {"error": "Enter your password and add the passkey again."}
    assert not Passkey.objects.exists()


def test_the_registration_mark_expires_with_its_challenge(jo, device):
    client = Client()
    client.force_login(jo)
    options = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).json()
    session = client.session
    session[PASSKEY_REGISTRATION_KEY] = {**session[PASSKEY_REGISTRATION_KEY], "expires": time.time() - 1}
    session.save()
    response = post_json(client, REGISTER, {"name": "Laptop", "credential": device.create(options)})
    assert response.json() == {"error": "Enter your password and add the passkey again."}
    assert not Passkey.objects.exists()


def test_a_further_passkey_needs_a_session_that_proved_a_factor(jo_with_passkey, device):
    """jo has a passkey; a password-only session (opened before it was added, say) must prove
    it first, even with the password. After the step-up the password adds another, and the
    session stays as the step-up left it."""
    client = Client()
    client.force_login(jo_with_passkey)
    response = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD})
    assert response.status_code == 400
    assert response.json() == {
        "error": "You already have a second factor. Confirm it is you with it first, then add another."
    }
    page = client.get("/accounts/security/").content.decode()
    assert 'href="/accounts/login/second-factor/?next=%2Faccounts%2Fsecurity%2F"' in page
    assert "data-passkey-register" not in page

    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "second-factor"}).json()
    response = post_json(client, AUTHENTICATE, {"ceremony": "second-factor", "credential": device.get(options)})
    assert response.status_code == 200 and methods_of(client, jo_with_passkey) == ["pwd", "hwk", "mfa"]
    phone = SoftwareAuthenticator(origin=ORIGIN)
    response = add_passkey(client, phone, name="Phone", backed_up=True)
    assert response.status_code == 200
    assert Passkey.objects.filter(user=jo_with_passkey).count() == 2
    assert methods_of(client, jo_with_passkey) == ["pwd", "hwk", "mfa"]


def test_guessing_the_password_for_a_passkey_locks_it_out(jo):
    client = Client()
    client.force_login(jo)
    for _ in range(4):
        assert post_json(client, REGISTRATION_OPTIONS, {"password": "guess"}).status_code == 400
    assert post_json(client, REGISTRATION_OPTIONS, {"password": "guess"}).status_code == 429
    assert post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).status_code == 429
    assert PASSKEY_REGISTRATION_KEY not in client.session


@pytest.mark.parametrize(
    "body",
    [
        "[" * 60_000,  # under the size cap: deeper than the parser's recursion
        "[" * 200_000,
        json.dumps({"ceremony": "passwordless", "credential": "x" * 70_000}),
    ],
)
def test_deep_or_large_bodies_are_400_with_a_message(jo, body):
    signed = Client()
    signed.force_login(jo)
    for client, url in (
        (Client(), AUTHENTICATION_OPTIONS),
        (Client(), AUTHENTICATE),
        (signed, REGISTRATION_OPTIONS),
        (signed, REGISTER),
    ):
        response = post_json(client, url, body)
        assert response.status_code == 400
        assert response.json() == {"error": "The request was not understood."}


@pytest.mark.parametrize("credential_id", ["a\x00b", "a" * 1401, "a/b", "ä"])
def test_a_bad_credential_id_is_400_with_a_message(jo_with_passkey, device, credential_id):
    """A NUL or an overlong id would be a database error on PostgreSQL: refused before."""
    client = Client()
    options = post_json(client, AUTHENTICATION_OPTIONS, {"ceremony": "passwordless"}).json()
    credential = {**device.get(options), "id": credential_id}
    response = post_json(client, AUTHENTICATE, {"ceremony": "passwordless", "credential": credential})
    assert response.status_code == 400
    assert response.json() == {"error": "The browser's answer was not understood."}


def test_unknown_transports_are_dropped(jo, device):
    client = Client()
    client.force_login(jo)
    options = post_json(client, REGISTRATION_OPTIONS, {"password": PASSWORD}).json()
    credential = device.create(options)
    credential["response"]["transports"] = [{"usb": True}, ["nfc"], 1, "usb", "made-up"]
    response = post_json(client, REGISTER, {"name": "Key", "credential": credential})
    assert response.status_code == 200
    assert Passkey.objects.get(user=jo).transports == ["usb"]
