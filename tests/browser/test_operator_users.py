"""An operator looks after a person from their page in the console, in Chromium: reads their
sessions, consents, tokens, factors and lockout, then clicks each action (unlock, password-reset
mail, sign out everywhere, reset second factors, disable), confirming the destructive ones; the
person's own browser feels each. A view-only operator sees the page and no action."""

import importlib

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from oauth2_provider.models import set_token_value

from apps.audit.models import AuditEvent
from apps.clients.services import save_client
from apps.consent.services import remember_consent
from apps.factors.models import Passkey, RecoveryCode
from apps.factors.recovery import generate_recovery_codes
from apps.oauth.models import AccessToken
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.issuance import issue_user_token

PASSWORD = "operator-password-for-tests"
GROUPS = importlib.import_module("apps.console.migrations.0001_operator_groups").GROUPS


@pytest.fixture
def carol_and_operators(transactional_db, settings, live_server):
    """The operator groups (a transactional test's flush removes the migration's), one operator
    in each of two, and carol: her tokens (one exchanged from another), consent, factors, and a
    lockout from one address."""
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}
    for name in ("Auditor", "Security admin"):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=label.split(".")[0], codename=label.split(".")[1])
                for label in GROUPS[name]
            ]
        )
        operator = get_user_model().objects.create_user(
            name.lower().replace(" ", "-"), password=PASSWORD, is_staff=True
        )
        operator.groups.add(group)
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog)
    discount = ApiResource.objects.create(audience="discount", resource_uri="urn:test:discount", name="Discount")
    ApiScope.objects.create(name="discount.fullaccess", resource=discount)
    web = save_client(
        name="web",
        grant_types=["authorization_code"],
        scopes=["eventcatalog.read"],
        redirect_uris=["https://web.test/cb"],
    ).client
    carol = get_user_model().objects.create_user("carol", email="carol@example.test", password=PASSWORD)
    remember_consent(user=carol, application=web, scopes=["eventcatalog.read"])
    root = AccessToken.objects.get(jti=issue_user_token(client=web, user=carol, scopes=["eventcatalog.read"]).jti)
    child = AccessToken(
        user=carol,
        application=web,
        parent=root,
        subject=root.subject,
        audience=["discount"],
        scope="discount.fullaccess",
        act={"sub": "basket"},
        expires=root.expires,
    )
    set_token_value(child, "exchanged-token-value-0123456789abcdef")
    child.save()
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "carol", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    return {"carol": carol, "root": root, "child": child}


def sign_in(chromium, live_server, username: str, password: str = PASSWORD):
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")  # sends everyone to the one sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return page


def click(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def success(page) -> str:
    return page.locator("ul.messagelist li.success").text_content() or ""


def operator_event(event_type: str) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(event_type=event_type, subject="carol")
    return event


def test_a_security_admin_looks_after_a_person_from_their_page(chromium, live_server, carol_and_operators, screenshot):
    carol = carol_and_operators["carol"]
    # carol, in her own browser, signed in; then she sets up second factors.
    own = chromium.new_context().new_page()
    own.goto(f"{live_server.url}/accounts/login/")
    own.fill("#id_username", "carol")
    own.fill("#id_password", PASSWORD)
    click(own, "main button[type=submit]")
    assert "/accounts/login/" not in own.url
    TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)
    Passkey.objects.create(user=carol, name="YubiKey", credential_id="cred-1", public_key=b"k", user_handle="h")
    generate_recovery_codes(carol)

    page = sign_in(chromium, live_server, "security-admin")
    page.goto(f"{live_server.url}/admin/auth/user/")
    click(page, "#result_list a:text-is('carol')")
    assert page.locator("#account-sessions tbody tr").count() == 1
    assert "eventcatalog.read" in page.locator("#account-consents").inner_text()
    lineage = page.locator("#account-tokens ul.lineage")
    child = carol_and_operators["child"]
    assert lineage.locator(f"li li a:text-is('#{child.pk}')").count() == 1  # under the token it came from
    assert "acting: basket" in lineage.inner_text()
    factors = page.locator("#account-factors").inner_text()
    assert "YubiKey" in factors and "10 of 10 left" in factors
    assert "Locked out after 5 failed sign-ins." in page.locator("#account-lockout").inner_text()
    assert "exchanged-token-value" not in page.content()
    screenshot(page, "admin-user")

    # 1. Unlock: no question asked.
    click(page, "#account-lockout button:text-is('Unlock')")
    assert success(page).startswith("Account “carol”: Unlocked")
    assert not AccessAttempt.objects.filter(username="carol").exists()
    assert "no failed sign-ins counted" in page.locator("#account-lockout").inner_text()
    assert operator_event("user.unlocked").details["operator"] == "security-admin"

    # 2. The password-reset mail: sent to her address, its link never shown here.
    click(page, "#account-state button:text-is('Send a password-reset mail')")
    assert success(page) == "Account “carol”: A password-reset link was mailed to carol@example.test."
    (message,) = mail.outbox
    assert message.to == ["carol@example.test"]
    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    assert link.startswith(f"{live_server.url}/accounts/reset/")
    assert "/accounts/reset/" not in page.content()
    assert operator_event("user.password_reset_sent").details == {
        "operator": "security-admin",
        "to": "carol@example.test",
    }

    # 3. Sign out everywhere: asked first; "No" changes nothing.
    click(page, "#account-sessions button:text-is('Sign out everywhere…')")
    assert "Every browser session of these people ends" in page.content()
    click(page, "a.cancel-link")
    own.goto(f"{live_server.url}/accounts/")
    assert "/accounts/login/" not in own.url  # still signed in
    click(page, "#account-sessions button:text-is('Sign out everywhere…')")
    click(page, "#confirm-action")
    assert success(page).startswith("Account “carol”: Signed out everywhere: 1 session(s) ended, 2 access token(s)")
    own.goto(f"{live_server.url}/accounts/")
    assert "/accounts/login/" in own.url
    assert not AccessToken.objects.filter(user=carol).exists()
    assert operator_event("user.signed_out_everywhere").details["sessions_ended"] == 1

    # 4. Reset second factors, after confirming.
    click(page, "#account-factors button:text-is('Reset second factors…')")
    click(page, "#confirm-action")
    assert success(page).startswith("Account “carol”: Second factors reset: authenticator app removed, 1 passkey(s)")
    assert not TOTPDevice.objects.filter(user=carol).exists() and not Passkey.objects.filter(user=carol).exists()
    assert not RecoveryCode.objects.filter(user=carol).exists()
    assert "Authenticator app: none" in page.locator("#account-factors").inner_text()
    assert operator_event("user.factors_reset").details["passkeys"] == 1

    # 5. Disable, after confirming: carol can no longer sign in.
    click(page, "#account-state button:text-is('Disable…')")
    click(page, "#confirm-action")
    assert success(page).startswith("Account “carol”: Disabled")
    assert "Disabled: this person cannot sign in." in page.locator("#account-state").inner_text()
    carol.refresh_from_db()
    assert not carol.is_active
    assert operator_event("user.disabled").details["operator"] == "security-admin"
    own.goto(f"{live_server.url}/accounts/login/")
    own.fill("#id_username", "carol")
    own.fill("#id_password", PASSWORD)
    click(own, "main button[type=submit]")
    assert "/accounts/login/" in own.url
    page.context.close()
    own.context.close()


def test_an_auditor_sees_a_persons_page_and_no_action(chromium, live_server, carol_and_operators):
    carol = carol_and_operators["carol"]
    page = sign_in(chromium, live_server, "auditor")
    page.goto(f"{live_server.url}/admin/auth/user/{carol.pk}/change/")
    assert "Locked out" in page.locator("#account-lockout").inner_text()
    assert page.locator(f"#account-tokens a:text-is('#{carol_and_operators['child'].pk}')").count() == 1
    assert page.locator("#account-panels form").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    page.goto(f"{live_server.url}/admin/auth/user/")
    assert page.locator("select[name=action]").count() == 0
    carol.refresh_from_db()
    assert carol.is_active and AccessAttempt.objects.filter(username="carol").exists()
    page.context.close()
