"""People's accounts through the management API: read (never a secret), and the console's
actions (disable, unlock, sign out everywhere, reset second factors, password-reset mail), each
audited with the calling client, each refused on an operator account."""

from smtplib import SMTPException
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import set_token_value

from apps.accounts.models import UserSession
from apps.audit.models import AuditEvent, Outcome
from apps.factors.models import Passkey, RecoveryCode
from apps.factors.recovery import generate_recovery_codes
from apps.oauth.models import AccessToken
from apps.tokens.issuance import issue_user_token
from tests.management_api.helpers import NO_CREDENTIALS_CHALLENGE

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "correct horse battery staple"
ACTIONS = ["disable", "unlock", "sign-out", "reset-factors", "send-password-reset"]
EVENTS = {
    "disable": "user.disabled",
    "unlock": "user.unlocked",
    "sign-out": "user.signed_out_everywhere",
    "reset-factors": "user.factors_reset",
    "send-password-reset": "user.password_reset_sent",
}


def signed_in(username: str = "carol") -> Client:
    browser = Client()
    assert browser.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


@pytest.fixture
def carol(db):
    return User.objects.create_user("carol", email="carol@example.test", password=PASSWORD, first_name="Carol")


@pytest.fixture
def account(carol, web, basket):
    """carol signed in, the web app holding a token of hers and the basket one exchanged from
    it, every kind of second factor, and failed sign-ins that locked one address out."""
    browser = signed_in()
    issued = issue_user_token(client=web.client, user=carol, scopes=["shoppingbasket.fullaccess"])
    root = AccessToken.objects.get(jti=issued.jti)
    child = AccessToken(
        user=carol,
        application=basket.client,
        parent=root,
        subject=root.subject,
        audience=["discount"],
        scope="discount.fullaccess",
        expires=root.expires,
    )
    set_token_value(child, "exchanged-token-value-0123456789abcdef")
    child.save()
    app = TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)
    Passkey.objects.create(user=carol, name="YubiKey", credential_id="cred-1", public_key=b"k", user_handle="h")
    codes = generate_recovery_codes(carol)
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "carol", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    return {"browser": browser, "issued": issued, "root": root, "child": child, "app": app, "codes": codes}


@pytest.fixture
def operators(db):
    return [
        User.objects.create_user("ops-staff", email="staff@example.test", password=PASSWORD, is_staff=True),
        User.objects.create_superuser("ops-root", email="root@example.test", password=PASSWORD),
    ]


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("pk"))


# --- reading --------------------------------------------------------------------------------------


def test_list_filters_by_username_and_active_and_pages(api, read_token, carol, operators):
    User.objects.create_user("dave", password=PASSWORD, is_active=False)
    listed = api("get", "users/", token=read_token)
    assert listed.status_code == 200
    assert [u["username"] for u in listed.json()["results"]] == ["carol", "dave", "ops-root", "ops-staff"]
    assert listed.json()["results"][0] == {
        "id": carol.pk,
        "username": "carol",
        "email": "carol@example.test",
        "first_name": "Carol",
        "last_name": "",
        "active": True,
        "staff": False,
        "superuser": False,
        "date_joined": listed.json()["results"][0]["date_joined"],
        "last_login": None,
    }
    assert [u["username"] for u in api("get", "users/?active=false").json()["results"]] == ["dave"]
    assert [u["username"] for u in api("get", "users/?active=true&username=carol").json()["results"]] == ["carol"]
    assert api("get", "users/?username=car").json()["count"] == 0  # exact, not a search
    page = api("get", "users/?page_size=3&page=2").json()
    assert (page["count"], [u["username"] for u in page["results"]]) == (4, ["ops-staff"])


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_active_takes_true_or_false_only(api, value):
    response = api("get", f"users/?active={value}")
    assert (response.status_code, response.json()) == (400, {"active": ["Must be true or false."]})


def test_one_account_summarises_factors_lockout_and_sessions(api, carol, account):
    response = api("get", "users/carol/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "carol" and body["last_login"] is not None
    assert body["second_factors"] == {"authenticator_app": True, "passkeys": 1, "recovery_codes_left": 10}
    assert body["lockout"]["locked_out"] is True
    assert body["lockout"]["failed_sign_ins"] == 5
    assert body["lockout"]["locked_until"] is not None
    assert body["sessions"] == 1


def test_an_account_without_anything_has_an_empty_summary(api, carol):
    body = api("get", "users/carol/").json()
    assert body["second_factors"] == {"authenticator_app": False, "passkeys": 0, "recovery_codes_left": 0}
    assert body["lockout"] == {"locked_out": False, "locked_until": None, "failed_sign_ins": 0}
    assert body["sessions"] == 0


def test_reading_never_shows_a_secret(api, carol, account):
    detail, listed = api("get", "users/carol/"), api("get", "users/")
    assert "password" not in detail.json() and "password" not in listed.json()["results"][0]
    text = detail.content.decode() + listed.content.decode()
    secrets = [
        carol.password,
        *UserSession.objects.filter(user=carol).values_list("session_key", flat=True),
        *UserSession.objects.filter(user=carol).values_list("ref", flat=True),
        account["app"].key,
        account["issued"].token,
        *AccessToken.objects.filter(user=carol).values_list("token_checksum", flat=True),
        *RecoveryCode.objects.filter(user=carol).values_list("digest", flat=True),
        *account["codes"],
        "cred-1",
        "203.0.113.7",
    ]
    for secret in secrets:
        assert secret and secret not in text


def test_an_unknown_user_is_a_json_404(api):
    for method, path in [("get", "users/nobody/"), *(("post", f"users/nobody/{a}/") for a in ACTIONS)]:
        response = api(method, path)
        assert (response.status_code, response.json()) == (404, {"detail": "No User matches the given query."})


def test_usernames_with_dots_and_at_signs_are_found(api, db):
    User.objects.create_user("carol.smith@example.test", password=PASSWORD)
    assert api("get", "users/carol.smith@example.test/").json()["username"] == "carol.smith@example.test"


# --- scopes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_the_write_scope(api, read_token, carol, action):
    response = api("post", f"users/carol/{action}/", token=read_token)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="idp.admin.write"' in response["WWW-Authenticate"]
    assert not events(EVENTS[action])


def test_reading_needs_the_read_scope(api, make_client, client_credentials_token, carol):
    writer = make_client("writer", scopes=["idp.admin.write"])
    token = client_credentials_token(writer)["access_token"]
    for path in ("users/", "users/carol/"):
        response = api("get", path, token=token)
        assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_without_a_token_are_401(client, carol, action):
    response = client.post(f"/api/admin/users/carol/{action}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == NO_CREDENTIALS_CHALLENGE


# --- the actions ----------------------------------------------------------------------------------


def test_disable_ends_sessions_and_revokes_tokens_at_once(api, automation, carol, account):
    response = api("post", "users/carol/disable/")
    assert response.status_code == 200
    assert response.json() == {
        "username": "carol",
        "active": False,
        "sessions_ended": 1,
        "refresh_tokens_revoked": 0,
        "access_tokens_revoked": 2,
    }
    carol.refresh_from_db()
    assert carol.is_active is False
    assert not UserSession.objects.filter(user=carol).exists()
    assert not AccessToken.objects.filter(user=carol).exists()
    assert account["browser"].get("/accounts/").status_code == 302  # signed out
    assert Client().post("/accounts/login/", {"username": "carol", "password": PASSWORD}).status_code == 200
    (event,) = events("user.disabled")
    client_id = automation.client.client_id
    assert (event.client_id, event.subject, event.outcome) == (client_id, "carol", Outcome.GRANTED)
    assert event.details == {
        "operator": client_id,
        "sessions_ended": 1,
        "refresh_tokens_revoked": 0,
        "access_tokens_revoked": 2,
    }


def test_sign_out_everywhere_keeps_the_account_enabled(api, automation, carol, account):
    response = api("post", "users/carol/sign-out/", HTTP_X_REQUEST_ID="req-7")
    assert response.status_code == 200
    assert response.json()["active"] is True and response.json()["sessions_ended"] == 1
    assert account["browser"].get("/accounts/").status_code == 302
    assert not AccessToken.objects.filter(user=carol).exists()
    carol.refresh_from_db()
    assert carol.is_active
    (event,) = events("user.signed_out_everywhere")
    assert (event.client_id, event.request_id) == (automation.client.client_id, "req-7")


def test_unlock_forgets_the_failed_sign_ins(api, automation, carol, account):
    def sign_in_from_the_locked_address():
        return Client().post("/accounts/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")

    assert sign_in_from_the_locked_address().status_code != 302
    response = api("post", "users/carol/unlock/")
    assert (response.status_code, response.json()) == (200, {"username": "carol", "records_cleared": 1})
    assert not AccessAttempt.objects.filter(username="carol").exists()
    assert api("get", "users/carol/").json()["lockout"]["locked_out"] is False
    assert sign_in_from_the_locked_address().status_code == 302
    (event,) = events("user.unlocked")
    assert event.details == {"operator": automation.client.client_id, "records_cleared": 1}
    assert event.client_id == automation.client.client_id


def test_reset_factors_removes_every_factor_and_ends_the_sessions(api, carol, account):
    response = api("post", "users/carol/reset-factors/")
    assert (response.status_code, response.json()) == (
        200,
        {"username": "carol", "authenticator_app": True, "passkeys": 1, "recovery_codes": 10, "sessions_ended": 1},
    )
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert not Passkey.objects.filter(user=carol).exists()
    assert not RecoveryCode.objects.filter(user=carol).exists()
    assert events("user.factors_reset")[0].client_id


def test_password_reset_mail_goes_to_the_person_and_the_link_is_never_returned(api, automation, carol):
    response = api("post", "users/carol/send-password-reset/")
    assert (response.status_code, response.json()) == (200, {"username": "carol", "sent_to": "carol@example.test"})
    (message,) = mail.outbox
    assert message.to == ["carol@example.test"]
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    assert link.rsplit("/", 2)[-2] not in response.content.decode()
    (event,) = events("user.password_reset_sent")
    assert event.details == {"operator": automation.client.client_id, "to": "carol@example.test"}
    assert event.client_id == automation.client.client_id


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"email": ""}, "This account has no valid email address."),
        ({"is_active": False}, "This account is disabled: enable it first."),
        ({"password": "!unusable"}, "This account has no usable password to reset"),
    ],
)
def test_no_mail_for_an_account_that_cannot_reset_is_409(api, carol, fields, said):
    User.objects.filter(pk=carol.pk).update(**fields)
    response = api("post", "users/carol/send-password-reset/")
    assert response.status_code == 409
    assert list(response.json()) == ["detail"] and response.json()["detail"].startswith(said)
    assert mail.outbox == [] and not events("user.password_reset_sent")


def test_a_mail_server_failure_is_503_and_audited_as_refused(api, carol):
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTPException("down")):
        response = api("post", "users/carol/send-password-reset/")
    assert (response.status_code, response.json()) == (
        503,
        {"detail": "The mail could not be sent. Nothing was changed: try again later."},
    )
    (event,) = events("user.password_reset_sent")
    assert (event.outcome, event.reason) == (Outcome.REFUSED, "mail not sent")


# --- operator accounts ----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("username", ["ops-staff", "ops-root"])
def test_operator_accounts_are_never_acted_on(api, automation, operators, action, username):
    operator = User.objects.get(username=username)
    browser = signed_in(username)
    for _ in range(5):
        Client().post("/accounts/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    TOTPDevice.objects.create(user=operator, name="Authenticator app", confirmed=True)

    response = api("post", f"users/{username}/{action}/")
    assert (response.status_code, response.json()) == (
        403,
        {
            "detail": "The management API does not act on operator accounts (staff or superuser): "
            "a superuser does, in the admin."
        },
    )
    operator.refresh_from_db()
    assert operator.is_active
    assert browser.get("/accounts/").status_code == 200  # still signed in
    assert AccessAttempt.objects.filter(username=username).exists()
    assert TOTPDevice.objects.filter(user=operator).exists()
    assert mail.outbox == []
    # The attempt is in the trail, refused.
    (event,) = events(EVENTS[action])
    assert (event.outcome, event.reason, event.subject) == (Outcome.REFUSED, "operator account", username)
    assert event.client_id == automation.client.client_id
    # Reading them is fine.
    assert api("get", f"users/{username}/").json()["staff"] is True


def test_a_form_body_is_not_needed_nor_read(api, client, write_token, carol):
    response = client.post(
        "/api/admin/users/carol/unlock/", "x=1", content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {write_token}"
    )
    assert response.status_code == 200
