"""Clients: CRUD by client_id; the secret is shown on creation and rotation only."""

import pytest

from apps.oauth.models import AccessToken, Application
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error

pytestmark = pytest.mark.django_db

NEW = {
    "name": "reporting",
    "client_type": "confidential",
    "allowed_grant_types": ["client_credentials"],
    "allowed_scopes": ["eventcatalog.read"],
}


def client_credentials(client, client_id: str, secret: str):
    return form_post(
        client, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth(client_id, secret)
    )


def test_create_shows_the_secret_once(api, apis, client):
    created = api("post", "clients/", NEW)
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert len(secret) >= 43
    assert body["secret_hint"] == "…" + secret[-4:]
    assert {k: body[k] for k in (*NEW, "enabled", "resource", "redirect_uris", "require_second_factor")} == {
        **NEW,
        "enabled": True,
        "resource": None,
        "redirect_uris": [],
        "require_second_factor": False,
    }
    assert Application.objects.get(client_id=client_id).client_secret != secret  # stored hashed
    assert client_credentials(client, client_id, secret).status_code == 200

    for path in (f"clients/{client_id}/", "clients/"):
        page = api("get", path)
        assert page.status_code == 200
        assert "client_secret" not in page.content.decode()
        assert secret not in page.content.decode()


def test_rotate_secret_returns_a_new_one_and_the_old_one_stops_working(api, apis, client):
    created = api("post", "clients/", NEW).json()
    client_id, old = created["client_id"], created["client_secret"]

    rotated = api("post", f"clients/{client_id}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated["Cache-Control"] == "no-store"
    new = rotated.json()["client_secret"]
    assert new != old
    assert rotated.json()["secret_hint"] == "…" + new[-4:]

    assert oauth_error(client_credentials(client, client_id, old)) == (401, "invalid_client")
    assert client_credentials(client, client_id, new).status_code == 200
    assert new not in api("get", f"clients/{client_id}/").content.decode()


def test_public_client_has_no_secret(api, apis):
    body = {
        "name": "spa",
        "client_type": "public",
        "allowed_grant_types": ["authorization_code", "refresh_token"],
        "allowed_scopes": ["openid", "eventcatalog.read"],
        "redirect_uris": ["https://spa.test/callback", "http://127.0.0.1:5173/callback"],
    }
    created = api("post", "clients/", body)
    assert created.status_code == 201
    assert created.json()["client_secret"] is None
    assert created.json()["redirect_uris"] == body["redirect_uris"]
    rotated = api("post", f"clients/{created.json()['client_id']}/rotate-secret/")
    assert rotated.status_code == 400
    assert list(rotated.json()) == ["client_type"]


def test_require_second_factor_is_set_on_creation_and_changed_later(api, apis):
    created = api("post", "clients/", {**NEW, "require_second_factor": True})
    assert (created.status_code, created.json()["require_second_factor"]) == (201, True)
    client_id = created.json()["client_id"]
    assert Application.objects.get(client_id=client_id).require_second_factor is True
    changed = api("patch", f"clients/{client_id}/", {"require_second_factor": False})
    assert (changed.status_code, changed.json()["require_second_factor"]) == (200, False)
    assert Application.objects.get(client_id=client_id).require_second_factor is False


def test_update_keeps_the_secret(api, apis, client):
    created = api("post", "clients/", NEW).json()
    client_id = created["client_id"]
    changed = api(
        "patch",
        f"clients/{client_id}/",
        {"allowed_scopes": ["eventcatalog.read", "discount.fullaccess"], "resource": "shoppingbasket"},
    )
    assert changed.status_code == 200
    assert changed.json()["allowed_scopes"] == ["discount.fullaccess", "eventcatalog.read"]
    assert changed.json()["resource"] == "shoppingbasket"
    token = client_credentials(client, client_id, created["client_secret"])
    assert token.status_code == 200
    assert token.json()["scope"].split() == ["discount.fullaccess", "eventcatalog.read"]

    assert api("patch", f"clients/{client_id}/", {"enabled": False}).json()["enabled"] is False
    assert oauth_error(client_credentials(client, client_id, created["client_secret"])) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"allowed_grant_types": ["password"]}, "allowed_grant_types"),
        ({"allowed_scopes": ["no.such.scope"]}, "allowed_scopes"),
        ({"resource": "nowhere"}, "resource"),
        ({"client_type": "public"}, "allowed_grant_types"),  # client credentials need a secret
        ({"allowed_grant_types": ["authorization_code"]}, "redirect_uris"),
        ({"allowed_grant_types": ["refresh_token"]}, "allowed_grant_types"),
        ({"redirect_uris": ["http://web.test/cb"]}, "redirect_uris"),  # http only on loopback
        ({"redirect_uris": ["https://web.test/cb#frag"]}, "redirect_uris"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "redirect_uris"),
        ({"redirect_uris": ["https://a.test/cb https://b.test/cb"]}, "redirect_uris"),
        ({"client_type": "secret"}, "client_type"),
    ],
)
def test_invalid_configuration_is_400_on_the_field(api, apis, changes, field):
    response = api("post", "clients/", {**NEW, **changes})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not Application.objects.filter(name="reporting").exists()


def test_client_type_cannot_change(api, apis):
    client_id = api("post", "clients/", NEW).json()["client_id"]
    response = api("patch", f"clients/{client_id}/", {"client_type": "public"})
    assert response.status_code == 400
    assert list(response.json()) == ["client_type"]


def test_delete_revokes_the_clients_tokens(api, apis, client):
    created = api("post", "clients/", NEW).json()
    assert client_credentials(client, created["client_id"], created["client_secret"]).status_code == 200
    application = Application.objects.get(client_id=created["client_id"])
    assert AccessToken.objects.filter(application=application).count() == 1

    assert api("delete", f"clients/{created['client_id']}/").status_code == 204
    assert not Application.objects.filter(pk=application.pk).exists()
    assert not AccessToken.objects.filter(application_id=application.pk).exists()
    assert oauth_error(client_credentials(client, created["client_id"], created["client_secret"])) == (
        401,
        "invalid_client",
    )


def test_create_without_a_name_is_400_naming_the_field(api, apis):
    response = api("post", "clients/", {"client_type": "confidential", "allowed_grant_types": ["client_credentials"]})
    assert response.status_code == 400
    assert "name" in response.json()
