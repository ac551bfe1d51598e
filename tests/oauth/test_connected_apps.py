"""The connected-apps page: a user sees and revokes their consents."""

from django.test import Client

from apps.consent.models import Consent
from tests.support.flows import Pkce, approve, redeem, refresh
from tests.support.http import oauth_error


def test_page_lists_consents_with_scope_descriptions(browser, web):
    approve(browser, web.client.client_id, "openid shoppingbasket.fullaccess", Pkce.new())
    page = browser.get("/accounts/apps/").content.decode()
    assert "web" in page
    assert "shoppingbasket.fullaccess description" in page


def test_revoking_forgets_consent_and_kills_the_refresh_token(browser, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid shoppingbasket.fullaccess", pkce)["code"]
    tokens = redeem(Client(), web, code, pkce.verifier).json()

    response = browser.post("/accounts/apps/", {"consent": Consent.objects.get().pk})
    assert response.status_code == 302
    assert not Consent.objects.exists()
    assert oauth_error(refresh(Client(), web, tokens["refresh_token"])) == (400, "invalid_grant")


def test_a_user_cannot_revoke_someone_elses_consent(browser, web, db):
    from django.contrib.auth import get_user_model

    from apps.consent.services import remember_consent

    other = get_user_model().objects.create_user("mallory-victim")
    consent = remember_consent(user=other, application=web.client, scopes=["openid"])
    assert browser.post("/accounts/apps/", {"consent": consent.pk}).status_code == 404
    assert Consent.objects.filter(pk=consent.pk).exists()


def test_page_needs_a_session(db):
    response = Client().get("/accounts/apps/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_consent_form_requires_csrf(alice, web):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    from tests.support.flows import authorize_url

    page = browser.get(authorize_url(web.client.client_id, "openid", Pkce.new()))
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    assert browser.post("/o/authorize/", {**data, "allow": "Authorize"}).status_code == 403
