"""A person's page in the console: what it shows of their account (never a secret) and the
operator's actions on it (apps/accounts/operator_actions.py), each audited, each refused to
whoever lacks its permission, and to anyone on an operator account but superusers."""

import base64
from smtplib import SMTPException
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import set_token_value

from apps.accounts.models import UserSession
from apps.audit.models import AuditEvent, Outcome
from apps.consent.services import remember_consent
from apps.factors.models import Passkey, RecoveryCode
from apps.factors.recovery import generate_recovery_codes
from apps.oauth.models import AccessToken, Grant, RefreshToken
from apps.tokens.issuance import issue_user_token
from tests.support.flows import Pkce, approve, redeem

User = get_user_model()
PASSWORD = "correct horse battery staple"
CHANGELIST = "/admin/auth/user/"
ACTIONS = ["unlock_sign_in", "send_password_reset", "sign_out_everywhere", "reset_second_factors", "disable_account"]


def page_of(user) -> str:
    return f"/admin/auth/user/{user.pk}/change/"


def run(operator: Client, action: str, *people, confirmed: bool = True):
    data = {"action": action, "_selected_action": [person.pk for person in people]}
    if confirmed:
        data["post"] = "yes"
    return operator.post(CHANGELIST, data)


# The operator's events (apps/accounts/operator_actions.py); sign-ins and lockouts have others.
OPERATOR_EVENTS = [
    "user.unlocked",
    "user.password_reset_sent",
    "user.signed_out_everywhere",
    "user.factors_reset",
    "user.disabled",
]


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("pk"))


def no_operator_events() -> bool:
    return not AuditEvent.objects.filter(event_type__in=OPERATOR_EVENTS).exists()


def signed_in(username: str = "carol", agent: str = "Firefox on Linux") -> Client:
    """A browser that signs in through the sign-in page, as the person would."""
    browser = Client(HTTP_USER_AGENT=agent)
    assert browser.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return browser


def operator_in(group: str, username: str) -> Client:
    operator = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name=group))
    browser = Client()
    browser.force_login(operator)
    return browser


@pytest.fixture
def carol(db):
    return User.objects.create_user("carol", email="carol@example.test", password=PASSWORD)


@pytest.fixture
def account(carol, web, basket, apis):
    """carol signed in twice, the web app holding her tokens (a refresh token redeemed from her
    session, an access token and one exchanged from it by the basket), her consent, every kind
    of second factor, and failed sign-ins that locked one address out."""
    laptop, phone = signed_in(agent="Firefox on Linux"), signed_in(agent="Safari on iPhone")
    pkce = Pkce.new()
    code = approve(laptop, web.client.client_id, "openid eventcatalog.read", pkce)["code"]
    tokens = redeem(Client(), web, code, pkce.verifier).json()
    remember_consent(user=carol, application=web.client, scopes=["openid", "eventcatalog.read"])
    issued = issue_user_token(client=web.client, user=carol, scopes=["shoppingbasket.fullaccess"])
    root = AccessToken.objects.get(jti=issued.jti)
    child = AccessToken(
        user=carol,
        application=basket.client,
        parent=root,
        subject=root.subject,
        audience=["discount"],
        scope="discount.fullaccess",
        act={"sub": basket.client.client_id},
        expires=root.expires,
    )
    set_token_value(child, "exchanged-token-value-0123456789abcdef")
    child.save()
    app = TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)
    TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=False)
    passkey = Passkey.objects.create(
        user=carol, name="YubiKey", credential_id="credential-id-abcdef", public_key=b"cose", user_handle="handle"
    )
    codes = generate_recovery_codes(carol)
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "carol", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    assert AccessAttempt.objects.get(username="carol").failures_since_start == 5
    return {
        "laptop": laptop,
        "phone": phone,
        "tokens": tokens,
        "issued": issued,
        "child": child,
        "app": app,
        "passkey": passkey,
        "codes": codes,
    }


def still_signed_in(browser: Client) -> bool:
    return browser.get("/accounts/").status_code == 200


# --- what the page shows ------------------------------------------------------------------------


def test_the_page_shows_sessions_consents_tokens_with_lineage_factors_and_lockout(admin_client, carol, account):
    page = admin_client.get(page_of(carol))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Firefox on Linux" in html and "Safari on iPhone" in html
    assert "openid eventcatalog.read" in html  # the consent's scopes
    child = account["child"]
    assert f"#{child.pk}</a>" in html and f"#{child.parent_id}</a>" in html
    assert f"acting: {child.act['sub']}" in html
    assert html.index(f"#{child.parent_id}</a>") < html.index(f"#{child.pk}</a>")  # the child under its parent
    assert "YubiKey" in html
    assert "10 of 10 left" in html
    assert "<strong>Locked out</strong> after 5 failed sign-ins." in html
    assert "203.0.113.7" in html
    # Times as dates.
    session = UserSession.objects.filter(user=carol).earliest("created")
    assert timezone.localtime(session.created).strftime("%Y-%m-%d %H:%M") in html
    # Every action is offered to a superuser.
    for action in ACTIONS:
        assert f'name="action" value="{action}"' in html


def test_the_page_never_shows_a_secret(admin_client, carol, account):
    html = admin_client.get(page_of(carol)).content.decode()
    secrets = [
        *UserSession.objects.filter(user=carol).values_list("session_key", flat=True),
        *UserSession.objects.filter(user=carol).values_list("ref", flat=True),
        account["tokens"]["access_token"],
        account["tokens"]["refresh_token"],
        *AccessToken.objects.filter(user=carol).values_list("token_checksum", flat=True),
        *RefreshToken.objects.filter(user=carol).values_list("token_checksum", flat=True),
        "exchanged-token-value-0123456789abcdef",
        account["app"].key,
        base64.b32encode(account["app"].bin_key).decode().rstrip("="),
        *RecoveryCode.objects.filter(user=carol).values_list("digest", flat=True),
        *account["codes"],
        account["passkey"].credential_id,
        carol.password,
    ]
    for secret in secrets:
        assert secret and secret not in html


def test_a_view_only_operator_sees_the_page_and_cannot_act(carol, account):
    auditor = operator_in("Auditor", "auditor")
    html = auditor.get(page_of(carol)).content.decode()
    assert "Firefox on Linux" in html and "YubiKey" in html and "Locked out" in html
    assert 'name="action"' not in html
    for action in ACTIONS:
        response = run(auditor, action, carol)
        assert response.status_code in (200, 302, 403)
    carol.refresh_from_db()
    assert carol.is_active
    assert UserSession.objects.filter(user=carol).count() == 2
    assert still_signed_in(account["laptop"])
    assert RefreshToken.objects.filter(user=carol, revoked__isnull=True).count() == 1
    assert AccessToken.objects.filter(pk=account["child"].pk).exists()
    assert TOTPDevice.objects.filter(user=carol).count() == 2 and Passkey.objects.filter(user=carol).exists()
    assert AccessAttempt.objects.filter(username="carol").exists()
    assert mail.outbox == []
    assert no_operator_events()


def test_panels_follow_the_viewers_permissions(carol, account):
    """Someone who may view users but not tokens, consents or lockouts sees none of those."""
    from tests.support.admin import permissions

    viewer = User.objects.create_user("helpdesk", password=PASSWORD, is_staff=True)
    viewer.user_permissions.set(permissions("auth.view_user"))
    browser = Client()
    browser.force_login(viewer)
    html = browser.get(page_of(carol)).content.decode()
    assert "Firefox on Linux" in html and "YubiKey" in html  # sessions and factors: the person's own
    for panel in ("account-consents", "account-tokens", "account-lockout"):
        assert f'id="{panel}"' not in html
    assert f"#{account['child'].pk}</a>" not in html


# --- the actions ---------------------------------------------------------------------------------


def test_disabling_asks_first_then_ends_sessions_and_revokes_tokens_at_once(admin_client, admin_user, carol, account):
    confirmation = run(admin_client, "disable_account", carol, confirmed=False)
    assert confirmation.status_code == 200
    assert "every token their apps hold for them is revoked" in confirmation.content.decode()
    carol.refresh_from_db()
    assert carol.is_active and still_signed_in(account["laptop"])  # nothing yet

    response = run(admin_client, "disable_account", carol)
    assert response.status_code == 302 and response["Location"] == page_of(carol)
    carol.refresh_from_db()
    assert not carol.is_active
    assert not UserSession.objects.filter(user=carol).exists()
    assert not still_signed_in(account["laptop"]) and not still_signed_in(account["phone"])
    assert not RefreshToken.objects.filter(user=carol, revoked__isnull=True).exists()
    assert not AccessToken.objects.filter(user=carol).exists()
    assert not AccessToken.objects.filter(pk=account["child"].pk).exists()  # the exchanged child too
    assert not Grant.objects.filter(user=carol, redeemed_at__isnull=True).exists()
    (event,) = events("user.disabled")
    assert (event.subject, event.outcome) == ("carol", Outcome.GRANTED)
    assert event.details == {
        "operator": admin_user.username,
        "sessions_ended": 2,
        "refresh_tokens_revoked": 1,
        "access_tokens_revoked": 3,
    }
    assert "Disabled: 2 session(s) ended" in admin_client.get(page_of(carol)).content.decode()


def test_unticking_active_on_the_form_disables_as_the_action_does(admin_client, admin_user, carol, account):
    form = {"username": "carol", "email": carol.email, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    assert admin_client.post(page_of(carol), form).status_code == 302
    carol.refresh_from_db()
    assert not carol.is_active
    assert not still_signed_in(account["laptop"])
    assert not AccessToken.objects.filter(user=carol).exists()
    (event,) = events("user.disabled")
    assert event.details["operator"] == admin_user.username and event.details["sessions_ended"] == 2


def test_nobody_disables_their_own_account(admin_client, admin_user):
    html = admin_client.get(page_of(admin_user)).content.decode()
    assert 'value="disable_account"' not in html
    assert 'name="is_active"' not in html  # read-only on one's own page
    run(admin_client, "disable_account", admin_user)
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert not events("user.disabled")


def test_signing_out_everywhere_asks_first_then_keeps_the_account_enabled(admin_client, admin_user, carol, account):
    assert run(admin_client, "sign_out_everywhere", carol, confirmed=False).status_code == 200
    assert still_signed_in(account["laptop"])
    run(admin_client, "sign_out_everywhere", carol)
    carol.refresh_from_db()
    assert carol.is_active
    assert not still_signed_in(account["laptop"]) and not still_signed_in(account["phone"])
    assert not RefreshToken.objects.filter(user=carol, revoked__isnull=True).exists()
    assert not AccessToken.objects.filter(user=carol).exists()
    # They may sign in again: the password is taken, the second step asked.
    again = Client().post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert again.status_code == 302 and again["Location"].startswith(reverse("accounts:second-factor"))
    (event,) = events("user.signed_out_everywhere")
    assert event.subject == "carol"
    assert event.details == {
        "operator": admin_user.username,
        "sessions_ended": 2,
        "refresh_tokens_revoked": 1,
        "access_tokens_revoked": 3,
    }


def test_resetting_second_factors_removes_every_factor_and_ends_the_sessions(admin_client, admin_user, carol, account):
    assert run(admin_client, "reset_second_factors", carol, confirmed=False).status_code == 200
    assert TOTPDevice.objects.filter(user=carol).count() == 2
    run(admin_client, "reset_second_factors", carol)
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert not Passkey.objects.filter(user=carol).exists()
    assert not RecoveryCode.objects.filter(user=carol).exists()
    assert not still_signed_in(account["laptop"]) and not UserSession.objects.filter(user=carol).exists()
    (event,) = events("user.factors_reset")
    assert event.subject == "carol"
    assert event.details == {
        "operator": admin_user.username,
        "authenticator_app": True,
        "passkeys": 1,
        "recovery_codes": 10,
        "sessions_ended": 2,
    }
    removed = AuditEvent.objects.filter(event_type="factor.removed", subject="carol")
    assert sorted(e.details["factor"] for e in removed) == ["passkey", "totp"]
    # The password alone signs in now (no second step).
    assert still_signed_in(signed_in())


def test_unlocking_forgets_the_failed_sign_ins(admin_client, admin_user, carol, account):
    locked = Client()
    response = locked.post("/accounts/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    run(admin_client, "unlock_sign_in", carol)
    assert not AccessAttempt.objects.filter(username="carol").exists()
    response = locked.post("/accounts/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302
    (event,) = events("user.unlocked")
    assert (event.subject, event.details) == ("carol", {"operator": admin_user.username, "records_cleared": 1})


def test_the_password_reset_mail_goes_to_the_person_with_a_link_on_the_issuer(admin_client, admin_user, carol):
    # Another account with the same address gets nothing.
    User.objects.create_user("carol-work", email="carol@example.test", password=PASSWORD)
    response = run(admin_client, "send_password_reset", carol)
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["carol@example.test"]
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    assert link.startswith("https://idp.test/accounts/reset/")
    page = admin_client.get(response["Location"]).content.decode()
    assert "A password-reset link was mailed to carol@example.test." in page
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in page and "/accounts/reset/" not in page
    (event,) = events("user.password_reset_sent")
    assert (event.subject, event.outcome) == ("carol", Outcome.GRANTED)
    assert event.details == {"operator": admin_user.username, "to": "carol@example.test"}
    # The link works: the person chooses a new password.
    path = link.removeprefix("https://idp.test")
    form = Client().get(path, follow=True)
    assert form.status_code == 200 and "new_password1" in form.content.decode()


def test_a_mail_that_cannot_be_sent_is_said_so_and_audited_as_refused(admin_client, carol):
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=SMTPException("down")):
        response = run(admin_client, "send_password_reset", carol)
    assert "The mail could not be sent" in admin_client.get(response["Location"]).content.decode()
    (event,) = events("user.password_reset_sent")
    assert (event.outcome, event.reason) == (Outcome.REFUSED, "mail not sent")


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"email": ""}, "This account has no valid email address."),
        ({"is_active": False}, "This account is disabled: enable it first."),
    ],
)
def test_no_mail_for_an_account_without_an_address_or_disabled(admin_client, carol, fields, said):
    User.objects.filter(pk=carol.pk).update(**fields)
    response = run(admin_client, "send_password_reset", carol)
    assert said in admin_client.get(response["Location"]).content.decode()
    assert mail.outbox == []
    assert not events("user.password_reset_sent")


def test_a_security_admin_acts_on_people_but_not_on_operator_accounts(carol, account):
    responder = operator_in("Security admin", "responder")
    assert 'value="sign_out_everywhere"' in responder.get(page_of(carol)).content.decode()
    colleague = User.objects.create_user("colleague", email="c@example.test", password=PASSWORD, is_staff=True)
    boss = User.objects.create_superuser("boss", "boss@example.test", PASSWORD)
    for target in (colleague, boss):
        signed_in_target = signed_in(target.username)
        assert 'name="action"' not in responder.get(page_of(target)).content.decode()
        for action in ACTIONS:
            run(responder, action, target)
        target.refresh_from_db()
        assert target.is_active and still_signed_in(signed_in_target)
    assert mail.outbox == []
    assert no_operator_events()
    # The refusal is said, and an ordinary person selected alongside is still acted on.
    response = run(responder, "sign_out_everywhere", carol, boss)
    assert response.status_code == 302
    shown = [str(m) for m in responder.get(CHANGELIST).context["messages"]]
    assert "Account “boss”: Only a superuser may act on an operator account." in shown
    assert not still_signed_in(account["laptop"])
    assert [e.subject for e in events("user.signed_out_everywhere")] == ["carol"]


def test_several_people_are_disabled_from_the_list_after_one_confirmation(admin_client, carol, account):
    dave = User.objects.create_user("dave", password=PASSWORD)
    dave_browser = signed_in("dave")
    confirmation = run(admin_client, "disable_account", carol, dave, confirmed=False)
    html = confirmation.content.decode()
    assert ">carol</a>" in html and ">dave</a>" in html
    assert run(admin_client, "disable_account", carol, dave).status_code == 302
    assert not User.objects.filter(username__in=["carol", "dave"], is_active=True).exists()
    assert not still_signed_in(dave_browser) and not still_signed_in(account["laptop"])
    assert sorted(e.subject for e in events("user.disabled")) == ["carol", "dave"]


@pytest.mark.parametrize("selected", ["abc", "1²", "9" * 30])
def test_a_selection_that_is_not_an_account_id_is_a_400(admin_client, carol, selected):
    for confirmed in (False, True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "disable_account", "_selected_action": [carol.pk, selected], "post": "yes" * confirmed},
        )
        assert response.status_code == 400
    carol.refresh_from_db()
    assert carol.is_active


def test_an_unknown_account_id_changes_nothing(admin_client, carol):
    nobody = type("Nobody", (), {"pk": 999999})()
    assert run(admin_client, "disable_account", nobody, confirmed=False).status_code == 302
    response = run(admin_client, "disable_account", nobody)
    assert response.status_code == 302
    assert "No such account." in [str(m) for m in admin_client.get(response["Location"]).context["messages"]]
    assert User.objects.filter(is_active=False).count() == 0
    assert no_operator_events()
