"""The people's side of the audit trail: each event asserted by its type and content."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.accounts.operator_actions import UNLOCKED, unlock
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.consent.models import Consent
from apps.consent.services import remember_consent, revoke_consent
from apps.factors import totp
from apps.factors.events import ENROLLED, RECOVERY_CODES_GENERATED
from tests.support.authenticator import totp_code

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a-new-Secret-phrase-42"
pytestmark = pytest.mark.django_db


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("id"))


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", email="bob@example.test", password=PASSWORD)


def sign_in(username: str, password: str, http: Client | None = None, address: str = "198.51.100.7"):
    return (http or Client()).post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_a_sign_in_is_recorded_with_the_username(bob):
    assert sign_in("bob", PASSWORD).status_code == 302
    [event] = events(audit.SIGNED_IN)
    assert (event.subject, event.outcome) == ("bob", "granted")
    assert event.details["backend"]  # which backend let bob in


def test_a_failed_sign_in_keeps_the_username_of_an_account_and_never_a_password(bob):
    sign_in("bob", "hunter2-wrong-password")
    # A password pasted into the username field names no account: only a digest is kept,
    # the same for the same text, so repeated attempts at one name still show.
    sign_in("Pasted-Secret-Passw0rd!", "another-wrong-password")
    sign_in("Pasted-Secret-Passw0rd!", "a-third-wrong-password")
    failures = events(audit.SIGN_IN_FAILED)
    assert [(e.subject, e.outcome) for e in failures][0] == ("bob", "refused")
    unknown = {e.subject for e in failures[1:]}
    assert len(unknown) == 1 and re.fullmatch(r"unknown:[0-9a-f]{16}", unknown.pop())
    assert failures[0].details == {"path": "/accounts/login/"}
    stored = str(list(AuditEvent.objects.values()))
    assert "hunter2" not in stored and "another-wrong" not in stored and "Pasted-Secret" not in stored
    assert events(audit.SIGNED_IN) == []


def test_a_username_longer_than_any_account_is_refused_as_a_wrong_password(bob):
    # Not passed to authenticate(): django-axes keeps 255 characters (a 500 on PostgreSQL).
    response = sign_in("x" * 300, "whatever")
    assert response.status_code == 200
    assert "That username and password do not match an account." in response.content.decode()
    assert not AccessAttempt.objects.exists()


def test_a_lockout_and_the_operators_unlock_are_recorded_once(bob, admin_user):
    for _ in range(5):
        sign_in("bob", "wrong", address="203.0.113.9")
    [locked] = events(audit.LOCKED_OUT)
    assert (locked.subject, locked.outcome, locked.details) == (
        "bob",
        "refused",
        {"ip_address": "203.0.113.9", "failures": 5},
    )
    # Still locked: each further try is refused and recorded as such.
    sign_in("bob", PASSWORD, address="203.0.113.9")
    assert [e.subject for e in events(audit.LOCKED_OUT)] == ["bob", "bob"]

    unlock(operator=admin_user, user=bob)
    [unlocked] = events(UNLOCKED)
    assert (unlocked.subject, unlocked.details["operator"]) == ("bob", "admin")
    assert not AccessAttempt.objects.filter(username="bob").exists()


def test_the_lockout_admins_unlock_action_is_an_admin_change_and_an_unlock(bob, admin_client):
    for _ in range(5):
        sign_in("bob", "wrong", address="203.0.113.9")
    attempt = AccessAttempt.objects.get(username="bob")
    response = admin_client.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]})
    assert response.status_code == 302
    [change] = [e for e in events(audit.ADMIN_CHANGE) if e.details["model"] == "axes.accessattempt"]
    assert change.subject == "admin" and change.details["change"] == "Unlocked bob from 203.0.113.9."
    # The same event type as the person's page's unlock, so a filter on it finds both.
    [unlocked] = events(UNLOCKED)
    assert (unlocked.subject, unlocked.outcome) == ("bob", "granted")
    assert unlocked.details == {"operator": "admin", "ip_address": "203.0.113.9", "records_cleared": 1}


def test_sign_out_is_recorded(bob):
    http = Client()
    sign_in("bob", PASSWORD, http)
    http.post("/accounts/logout/")
    [event] = events(audit.SIGNED_OUT)
    assert event.subject == "bob"


def test_a_password_change_is_recorded_without_the_passwords(bob):
    http = Client()
    sign_in("bob", PASSWORD, http)
    response = http.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    [event] = events(audit.PASSWORD_CHANGED)
    assert (event.subject, event.details) == ("bob", {"sessions_ended": 0})
    assert "a-new-Secret" not in str(list(AuditEvent.objects.values()))


def test_a_wrong_current_password_at_the_change_is_a_failed_sign_in(bob):
    http = Client()
    sign_in("bob", PASSWORD, http)
    http.post(
        reverse("accounts:password-change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    [failure] = events(audit.SIGN_IN_FAILED)
    assert failure.subject == "bob" and failure.details["path"] == reverse("accounts:password-change")
    assert events(audit.PASSWORD_CHANGED) == []


def test_a_password_reset_request_and_the_reset(bob):
    Client().post(reverse("accounts:password-reset"), {"email": "bob@example.test"})
    Client().post(reverse("accounts:password-reset"), {"email": "nobody@example.test"})
    requested = events(audit.PASSWORD_RESET_REQUESTED)
    assert [(e.subject, e.outcome, e.details) for e in requested] == [
        ("bob", "granted", {}),
        ("", "refused", {"accounts": 0}),
    ]
    assert "nobody@example.test" not in str(list(AuditEvent.objects.values()))

    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line).strip()
    http = Client()
    form_url = http.get(link).url  # Django swaps the token for a session one
    new = "another-Secret-phrase-43"
    assert http.post(form_url, {"new_password1": new, "new_password2": new}).status_code == 302
    [reset] = events(audit.PASSWORD_RESET)
    assert reset.subject == "bob"
    assert urlsafe_base64_encode(force_bytes(bob.pk)) not in str(reset.details)


def test_consent_given_and_revoked(bob, web):
    remember_consent(user=bob, application=web.client, scopes=["openid", "eventcatalog.read"])
    revoke_consent(user=bob, application=web.client)
    given, revoked = events(audit.CONSENT_GIVEN), events(audit.CONSENT_REVOKED)
    assert [(e.subject, e.client_id, e.details) for e in given] == [
        ("bob", web.client.client_id, {"scopes": ["eventcatalog.read", "openid"]})
    ]
    assert [(e.subject, e.client_id) for e in revoked] == [("bob", web.client.client_id)]


def test_revoking_a_connected_app_on_the_account_page_is_recorded(bob, web):
    remember_consent(user=bob, application=web.client, scopes=["openid"])
    http = Client()
    http.force_login(bob)
    consent = Consent.objects.get(user=bob)
    http.post(reverse("accounts:connected-apps"), {"consent": consent.pk})
    assert [e.client_id for e in events(audit.CONSENT_REVOKED)] == [web.client.client_id]


# --- the second step --------------------------------------------------------------------------


@pytest.fixture
def fay(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = get_user_model().objects.create_user("fay", password=PASSWORD)
    totp.confirm_enrolment(user, totp_code(totp.begin_enrolment(user)))
    return user


def test_wrong_second_factors_are_failed_sign_ins_and_the_right_one_signs_in(fay):
    assert [e.details["factor"] for e in events(ENROLLED)] == ["totp"]
    assert [e.subject for e in events(RECOVERY_CODES_GENERATED)] == ["fay"]
    http = Client()
    sign_in("fay", PASSWORD, http)
    assert events(audit.SIGNED_IN) == []  # the password alone does not sign fay in
    second = reverse("accounts:second-factor")
    for _ in range(5):
        http.post(second, {"method": "recovery", "code": "aaaa-aaaa-aaaa-aaaa"})
    failures = events(audit.SIGN_IN_FAILED)
    assert [(e.subject, e.details) for e in failures] == [
        ("fay", {"step": "second_factor", "sign_in_dropped": False})
    ] * 4 + [("fay", {"step": "second_factor", "sign_in_dropped": True})]
    assert "aaaa" not in str(list(AuditEvent.objects.values()))

    sign_in("fay", PASSWORD, http)
    http.post(second, {"method": "totp", "code": totp_code(totp.authenticator_app(fay))})
    [signed_in] = events(audit.SIGNED_IN)
    assert signed_in.subject == "fay"
