"""Rotating a client's secret from its page in the admin: a confirmation page with the grace
period (none by default), the new secret shown once, both hints on the client page."""

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.clients.services import ClientCredentials
from apps.oauth.models import Application
from tests.support.admin import permissions
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def service(apis, make_client) -> ClientCredentials:
    return make_client("catalog-reader", scopes=["eventcatalog.read"])


@pytest.fixture
def operator(db) -> Callable[..., Client]:
    """A staff user (not a superuser) holding exactly the given permissions."""

    def make(*granted: str) -> Client:
        user = get_user_model().objects.create_user("operator", password="operator-password-1", is_staff=True)
        user.user_permissions.set(permissions(*granted))
        browser = Client()
        browser.force_login(user)
        return browser

    return make


def rotate_url(credentials: ClientCredentials) -> str:
    return f"/admin/oauth/application/{credentials.client.pk}/rotate-secret/"


def change_url(credentials: ClientCredentials) -> str:
    return f"/admin/oauth/application/{credentials.client.pk}/change/"


def shown_secret(response) -> str:
    match = re.search(r'<code class="client-secret">([^<]+)</code>', response.content.decode())
    assert match, "the secret page shows the secret"
    return match.group(1)


def token(client: Client, client_id: str, secret: str):
    return form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic_auth(client_id, secret))


def test_the_client_page_has_a_rotate_button_leading_to_a_confirmation(admin_client, service):
    page = admin_client.get(change_url(service)).content.decode()
    assert f'href="{rotate_url(service)}" id="rotate-secret"' in page

    confirmation = admin_client.get(rotate_url(service))
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert service.client.secret_hint in html
    assert "If the current secret may have leaked, choose None" in html
    # None is the preselected choice; every choice is offered.
    assert re.search(r'<input type="radio" name="grace_period" value="0"[^>]*checked', html)
    for label in ("None: the current secret stops working at once", "1 hour", "24 hours", "7 days"):
        assert label in html
    # Looking is not rotating.
    assert Application.objects.get(pk=service.client.pk).client_secret == service.client.client_secret
    assert token(Client(), service.client.client_id, service.client_secret).status_code == 200
    assert not AuditEvent.objects.filter(event_type="client.secret_rotated").exists()


def test_confirming_with_a_grace_period_keeps_the_old_secret_working_until_it_ends(admin_client, service, client):
    response = admin_client.post(rotate_url(service), {"post": "yes", "grace_period": "86400"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_secret = shown_secret(response)
    old_hint, new_hint = "…" + service.client_secret[-4:], "…" + new_secret[-4:]
    row = Application.objects.get(pk=service.client.pk)
    expires = row.previous_secret_expires
    assert expires is not None
    assert abs(expires - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    assert f"<code>{old_hint}</code> works until {expires:%Y-%m-%d %H:%M} UTC" in response.content.decode()

    assert token(client, service.client.client_id, service.client_secret).status_code == 200
    assert token(client, service.client.client_id, new_secret).status_code == 200

    page = admin_client.get(change_url(service)).content.decode()
    assert new_hint in page
    assert (
        f"<code>{old_hint}</code> works until <span class='previous-secret-expires'>{expires:%Y-%m-%d %H:%M UTC}"
        in page
    )
    assert new_secret not in page and service.client_secret not in page
    assert row.previous_client_secret not in page and row.client_secret not in page

    Application.objects.filter(pk=row.pk).update(previous_secret_expires=timezone.now() - timedelta(seconds=1))
    assert oauth_error(token(client, service.client.client_id, service.client_secret)) == (401, "invalid_client")
    assert token(client, service.client.client_id, new_secret).status_code == 200
    assert old_hint not in admin_client.get(change_url(service)).content.decode()


def test_confirming_without_a_grace_period_ends_the_old_secret_at_once(admin_client, service, client):
    response = admin_client.post(rotate_url(service), {"post": "yes", "grace_period": "0"})
    new_secret = shown_secret(response)
    assert "Stopped working" in response.content.decode()
    assert oauth_error(token(client, service.client.client_id, service.client_secret)) == (401, "invalid_client")
    assert token(client, service.client.client_id, new_secret).status_code == 200


def test_rotation_in_the_admin_is_audited_with_the_operator_and_hints(admin_client, service):
    new_secret = shown_secret(admin_client.post(rotate_url(service), {"post": "yes", "grace_period": "3600"}))
    event = AuditEvent.objects.get(event_type="client.secret_rotated")
    row = Application.objects.get(pk=service.client.pk)
    assert (event.client_id, event.subject) == (service.client.client_id, "admin")
    assert event.details == {
        "grace_period_seconds": 3600,
        "secret_hint": "…" + new_secret[-4:],
        "previous_secret_hint": "…" + service.client_secret[-4:],
        "previous_secret_expires": row.previous_secret_expires.isoformat(),
    }
    for secret in (new_secret, service.client_secret, row.client_secret, row.previous_client_secret):
        assert secret not in str(event.details)
    change = AuditEvent.objects.get(event_type="admin.change", details__model="oauth.application")
    assert change.subject == "admin"
    assert new_secret not in str(change.details) and service.client_secret not in str(change.details)


@pytest.mark.parametrize("grace_period", ["", "5", "-3600", "999999999", "abc"])
def test_a_grace_period_not_offered_is_a_form_error_and_nothing_changes(admin_client, service, grace_period):
    response = admin_client.post(rotate_url(service), {"post": "yes", "grace_period": grace_period})
    assert response.status_code == 200
    assert 'class="client-secret"' not in response.content.decode()
    assert "errorlist" in response.content.decode()
    assert Application.objects.get(pk=service.client.pk).client_secret == service.client.client_secret


def test_the_list_action_asks_for_confirmation_too(admin_client, apis, make_client, client):
    first, second = make_client("one", scopes=["eventcatalog.read"]), make_client("two", scopes=["eventcatalog.read"])
    selected = [first.client.pk, second.client.pk]
    asked = admin_client.post("/admin/oauth/application/", {"action": "rotate_secret", "_selected_action": selected})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "Rotate client secrets" in html and first.client.secret_hint in html and second.client.secret_hint in html
    assert 'class="client-secret"' not in html
    assert token(client, first.client.client_id, first.client_secret).status_code == 200

    done = admin_client.post(
        "/admin/oauth/application/",
        {"action": "rotate_secret", "_selected_action": selected, "post": "yes", "grace_period": "3600"},
    )
    shown = dict(
        re.findall(r'<code>([^<]+)</code></td><td><code class="client-secret">([^<]+)</code>', done.content.decode())
    )
    assert set(shown) == {first.client.client_id, second.client.client_id}
    for credentials in (first, second):
        new_secret = shown[credentials.client.client_id]
        assert token(client, credentials.client.client_id, credentials.client_secret).status_code == 200
        assert token(client, credentials.client.client_id, new_secret).status_code == 200


def test_a_public_client_has_no_rotate_button_and_no_rotation(admin_client, apis, make_client):
    spa = make_client(
        "spa",
        grants=["authorization_code"],
        scopes=["eventcatalog.read"],
        redirect_uris=["https://spa.test/cb"],
        client_type=Application.CLIENT_PUBLIC,
    )
    assert 'id="rotate-secret"' not in admin_client.get(change_url(spa)).content.decode()
    response = admin_client.post(rotate_url(spa), {"post": "yes", "grace_period": "0"})
    assert response.status_code == 302
    assert response["Location"] == change_url(spa)
    assert not AuditEvent.objects.filter(event_type="client.secret_rotated").exists()


def test_an_unknown_client_is_not_found(admin_client, db):
    assert admin_client.get("/admin/oauth/application/999999/rotate-secret/").status_code == 404


def test_a_view_only_operator_cannot_rotate(operator, service, client):
    viewer = operator("oauth.view_application")
    page = viewer.get(change_url(service))
    assert page.status_code == 200
    assert 'id="rotate-secret"' not in page.content.decode()
    assert viewer.get(rotate_url(service)).status_code == 403
    assert viewer.post(rotate_url(service), {"post": "yes", "grace_period": "86400"}).status_code == 403
    listed = viewer.get("/admin/oauth/application/").content.decode()
    assert 'value="rotate_secret"' not in listed
    viewer.post(
        "/admin/oauth/application/",
        {"action": "rotate_secret", "_selected_action": [service.client.pk], "post": "yes", "grace_period": "0"},
    )
    assert Application.objects.get(pk=service.client.pk).client_secret == service.client.client_secret
    assert token(client, service.client.client_id, service.client_secret).status_code == 200
    assert not AuditEvent.objects.filter(event_type="client.secret_rotated").exists()


def test_an_operator_who_may_change_clients_can_rotate(operator, service):
    manager = operator("oauth.view_application", "oauth.change_application")
    assert 'id="rotate-secret"' in manager.get(change_url(service)).content.decode()
    response = manager.post(rotate_url(service), {"post": "yes", "grace_period": "0"})
    assert shown_secret(response)
    assert AuditEvent.objects.get(event_type="client.secret_rotated").subject == "operator"
