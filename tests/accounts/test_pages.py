"""The pages people see outside the happy flow: empty forms, home, signed out, errors."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from apps.consent.services import remember_consent
from tests.support.flows import Pkce, authorize_url


def test_an_empty_sign_in_form_says_what_is_missing(client, db):
    page = client.post("/accounts/login/", {"username": "", "password": ""})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Enter your username." in html and "Enter your password." in html
    assert 'aria-invalid="true"' in html


def test_the_sign_in_page_names_the_app_that_sent_the_user(client, apis, make_client):
    web = make_client(
        "Ticket Shop", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://web.test/callback"]
    )
    next_url = authorize_url(web.client.client_id, "openid", Pkce.new())
    html = client.get("/accounts/login/", {"next": next_url}).content.decode()
    assert "to continue to <strong>Ticket Shop</strong>" in html
    assert "GloboTicket" not in html.split("<h1>")[1]
    # A disabled or unknown client is not named; nor is anything when no app sent the user.
    web.client.is_active = False
    web.client.save()
    assert "Ticket Shop" not in client.get("/accounts/login/", {"next": next_url}).content.decode()
    assert "to your GloboTicket account" in client.get("/accounts/login/").content.decode()


def test_home_page_signed_out_offers_sign_in(client, db):
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/accounts/login/"' in page.content.decode()


def test_home_page_signed_in_shows_who_and_their_apps(client, apis, make_client):
    alice = get_user_model().objects.create_user("alice", "alice@example.test", "pw-alice-123")
    web = make_client(
        "Ticket Shop", grants=["authorization_code"], scopes=["openid"], redirect_uris=["https://w.test/c"]
    )
    remember_consent(user=alice, application=web.client, scopes=["openid"])
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "You are signed in as <strong>alice</strong>" in html
    assert "Ticket Shop" in html
    assert 'href="/accounts/apps/"' in html
    assert "Operator console" not in html  # not staff


def test_the_admins_view_site_link_leads_to_the_home_page(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert 'href="/"' in html
    assert admin_client.get("/").status_code == 200


def test_signed_out_page(client, db):
    page = client.get(reverse("accounts:signed-out"))
    assert page.status_code == 200
    assert "You are signed out" in page.content.decode()


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_without_debug_404_has_the_site_layout(production, db):
    page = production.get("/no/such/page/")
    html = page.content.decode()
    assert page.status_code == 404
    assert "Page not found" in html and "idp.css" in html and 'href="/"' in html


def test_without_debug_400_has_the_site_layout(production, admin_user):
    production.force_login(admin_user)
    page = production.get("/admin/oauth/signingkey/?private_key_pem__startswith=-----BEGIN")
    assert page.status_code == 400
    assert "Bad request" in page.content.decode() and "idp.css" in page.content.decode()


def test_without_debug_403_has_the_site_layout(production, db):
    user = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    production.force_login(user)
    page = production.get("/admin/oauth/signingkey/add/")
    assert page.status_code == 403
    assert "Not allowed" in page.content.decode() and "idp.css" in page.content.decode()


def test_csrf_failure_has_the_site_layout(db):
    browser = Client(enforce_csrf_checks=True)
    page = browser.post("/accounts/login/", {"username": "a", "password": "b"})
    assert page.status_code == 403
    assert "Please try again" in page.content.decode() and "idp.css" in page.content.decode()


@override_settings(DEBUG=False)
def test_without_debug_500_has_the_site_layout(rf):
    from apps.ops.errors import server_error

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = server_error(rf.get("/"))
    html = page.content.decode()
    assert page.status_code == 500
    assert "Something went wrong" in html and "idp.css" in html
