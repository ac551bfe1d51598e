"""The sign-in's second step: after a correct password, a person with a second factor is not
signed in until an authenticator-app code or a recovery code (or a passkey:
test_passkeys_sign_in.py) completes it; a few minutes and five wrong answers at most. The
same page steps a signed-in session up."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from apps.accounts import second_step
from apps.accounts.sessions import session_acr, session_methods
from apps.factors import totp
from apps.protocol import strength
from tests.support.authenticator import totp_code

LOGIN = "/accounts/login/"
SECOND = "/accounts/login/second-factor/"
PASSWORD = "correct horse battery staple"
NEXT = "/o/authorize/?client_id=web&response_type=code"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def fay(db):
    user = get_user_model().objects.create_user("fay", password=PASSWORD)
    device = totp.begin_enrolment(user)
    user.recovery = totp.confirm_enrolment(user, totp_code(device))
    return user


def app_code(user) -> str:
    return totp_code(totp.authenticator_app(user))


def password_step(client: Client, **extra):
    data = {"username": "fay", "password": PASSWORD, **extra}
    return client.post(LOGIN, data, REMOTE_ADDR="10.9.0.1")


def signed_in_user(client: Client):
    return client.session.get("_auth_user_id")


def test_a_correct_password_alone_does_not_sign_in(client, fay):
    response = password_step(client, next=NEXT)
    assert response.status_code == 302
    assert response["Location"] == f"{SECOND}?next=%2Fo%2Fauthorize%2F%3Fclient_id%3Dweb%26response_type%3Dcode"
    assert signed_in_user(client) is None
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'name="code"' in page.content.decode() and "Use a recovery code" in page.content.decode()
    assert 'name="password"' not in page.content.decode()


def test_the_app_code_completes_the_sign_in(client, fay):
    password_step(client, next=NEXT)
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"] == NEXT
    assert signed_in_user(client) == str(fay.pk)
    request = type("R", (), {"session": client.session, "user": fay})()
    assert session_methods(request) == ["pwd", "otp", "mfa"]
    assert session_acr(request) == strength.ACR_MFA
    assert second_step.PENDING_KEY not in client.session
    assert client.session.get_expire_at_browser_close()


def test_remember_me_is_kept_through_the_second_step(client, fay):
    password_step(client, remember_me="on")
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response["Location"] == "/accounts/"
    assert not client.session.get_expire_at_browser_close()
    assert client.session.get_expiry_age() == 14 * 24 * 3600


def test_a_wrong_code_says_so_and_signs_nobody_in(client, fay):
    password_step(client)
    response = client.post(SECOND, {"method": "totp", "code": "12345"})
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in response.content.decode()
    code = app_code(fay)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post(SECOND, {"method": "totp", "code": wrong})
    assert "That code is not correct." in response.content.decode()
    assert signed_in_user(client) is None


def test_a_code_used_once_is_refused_the_second_time(fay):
    code = app_code(fay)
    first = Client()
    password_step(first)
    assert first.post(SECOND, {"method": "totp", "code": code}).status_code == 302
    second = Client()
    password_step(second)
    response = second.post(SECOND, {"method": "totp", "code": code})
    assert response.status_code == 400
    assert "That code was already used." in response.content.decode()
    assert signed_in_user(second) is None


def test_five_wrong_answers_send_the_person_back_to_the_password(client, fay):
    password_step(client, next=NEXT)
    for _ in range(4):
        assert client.post(SECOND, {"method": "recovery", "code": "aaaa-aaaa-aaaa-aaaa"}).status_code == 400
    response = client.post(SECOND, {"method": "recovery", "code": "aaaa-aaaa-aaaa-aaaa"})
    assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")
    # Even the right code is too late now: the password comes first again.
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert signed_in_user(client) is None


def test_the_second_step_expires(client, fay):
    password_step(client)
    session = client.session
    state = session[second_step.PENDING_KEY]
    session[second_step.PENDING_KEY] = {**state, "started": time.time() - second_step.PENDING_SECONDS - 1}
    session.save()
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert signed_in_user(client) is None
    assert "Your sign-in has expired" in client.get(LOGIN).content.decode()


def test_without_a_password_first_the_page_sends_to_the_sign_in(client, fay):
    response = client.get(f"{SECOND}?next=/accounts/apps/")
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next=%2Faccounts%2Fapps%2F"


def test_a_recovery_code_signs_in_once(fay):
    code = fay.recovery[0]
    client = Client()
    password_step(client)
    response = client.post(SECOND, {"method": "recovery", "code": code.upper()})
    assert response.status_code == 302
    request = type("R", (), {"session": client.session, "user": fay})()
    assert session_methods(request) == ["pwd", "otp", "mfa"]
    again = Client()
    password_step(again)
    response = again.post(SECOND, {"method": "recovery", "code": code})
    assert response.status_code == 400
    assert "That recovery code has already been used." in response.content.decode()
    assert signed_in_user(again) is None


def test_an_unsafe_next_is_not_followed(client, fay):
    password_step(client, next="https://evil.example/")
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response["Location"] == "/accounts/"


def test_a_person_without_a_factor_signs_in_with_the_password_alone(client, db):
    get_user_model().objects.create_user("gus", password=PASSWORD)
    response = client.post(LOGIN, {"username": "gus", "password": PASSWORD, "next": "/accounts/apps/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/apps/"
    assert signed_in_user(client) is not None


def test_the_lockout_still_counts_wrong_passwords(client, fay):
    for _ in range(5):
        client.post(LOGIN, {"username": "fay", "password": "wrong"}, REMOTE_ADDR="10.9.0.1")
    assert password_step(client).status_code == 429
    assert second_step.PENDING_KEY not in client.session


# --- step-up --------------------------------------------------------------------------


def test_step_up_asks_only_the_second_factor(client, fay):
    client.force_login(fay)
    old_key = client.session.session_key
    page = client.get(f"{SECOND}?next={NEXT}")
    assert page.status_code == 200
    assert 'name="password"' not in page.content.decode()
    response = client.post(f"{SECOND}?next=/o/authorize/%3Fclient_id%3Dweb", {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"] == "/o/authorize/?client_id=web"
    assert client.session.session_key != old_key  # a stronger session gets a new key
    request = type("R", (), {"session": client.session, "user": fay})()
    assert session_acr(request) == strength.ACR_MFA


def test_a_failed_step_up_changes_nothing(client, fay):
    client.force_login(fay)
    response = client.post(SECOND, {"method": "recovery", "code": "nope"})
    assert response.status_code == 400
    request = type("R", (), {"session": client.session, "user": fay})()
    assert session_methods(request) == ["pwd"]


def test_step_up_without_a_factor_leads_to_the_security_page(client, db):
    gus = get_user_model().objects.create_user("gus", password=PASSWORD)
    client.force_login(gus)
    response = client.get(f"{SECOND}?next=/o/authorize/%3Fx%3D1")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/security/?next=%2Fo%2Fauthorize%2F%3Fx%3D1"


def test_an_unknown_method_is_a_400_not_a_500(client, fay):
    password_step(client)
    response = client.post(SECOND, {"method": "carrier-pigeon"})
    assert response.status_code == 400
    assert "Choose how to confirm it is you." in response.content.decode()


def test_answers_are_counted_outside_the_session(client, fay):
    """Parallel answers each write back the session they started with (the last write wins):
    the count must not live there. Here every answer is followed by such a stale write, and
    still no more than five answers are checked."""
    password_step(client, next=NEXT)
    stale = dict(client.session[second_step.PENDING_KEY])
    statuses = []
    for _ in range(8):
        statuses.append(client.post(SECOND, {"method": "recovery", "code": "aaaa-aaaa-aaaa-aaaa"}).status_code)
        session = client.session
        session[second_step.PENDING_KEY] = stale  # what a parallel request would have saved
        session.save()
    assert statuses == [400, 400, 400, 400, 302, 302, 302, 302]
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert signed_in_user(client) is None


def test_an_answer_beyond_the_limit_is_not_checked(client, fay, monkeypatch):
    """The count goes up before an answer is checked: a right code arriving once five answers
    are in (parallel with them, so that it found fewer when it started) is not checked."""
    password_step(client)
    sign_in = second_step.pending(type("R", (), {"session": client.session})())
    cache.set(second_step.ANSWERS_KEY.format(sign_in.id), second_step.MAX_FAILURES - 1, 60)
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"] == "/accounts/"  # the fifth: checked
    client = Client()
    password_step(client)
    sign_in = second_step.pending(type("R", (), {"session": client.session})())
    cache.set(second_step.ANSWERS_KEY.format(sign_in.id), second_step.MAX_FAILURES, 60)
    monkeypatch.setattr(second_step, "_answers", lambda sign_in_id: 0)  # as read before the others counted
    code = app_code(fay)
    response = client.post(SECOND, {"method": "totp", "code": code})
    assert response.status_code == 302 and response["Location"] == LOGIN
    totp.verify(fay, code)  # never checked, so still unused


def test_a_password_changed_meanwhile_ends_the_second_step(client, fay):
    """A password reset (or change) between the password and the second factor ends the sign-in
    that the old password began."""
    password_step(client, next=NEXT)
    fay.set_password("a new password for fay")
    fay.save()
    response = client.post(SECOND, {"method": "totp", "code": app_code(fay)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert signed_in_user(client) is None and second_step.PENDING_KEY not in client.session
    assert "Your sign-in has expired. Please enter your password again." in client.get(LOGIN).content.decode()


@pytest.mark.parametrize("code", ["¹²³⁴⁵⁶", "١٢٣٤٥٦", "12345x"])
def test_a_code_of_other_digits_is_a_400_not_a_500(client, fay, code):
    password_step(client)
    response = client.post(SECOND, {"method": "totp", "code": code})
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in response.content.decode()
    stepping_up = Client()
    stepping_up.force_login(fay)
    response = stepping_up.post(SECOND, {"method": "totp", "code": code})
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in response.content.decode()
