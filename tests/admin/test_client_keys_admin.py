"""Issue 19 in the console: a client's public keys (private_key_jwt), its require-PAR and
require-DPoP switches, an API's require_dpop, and removing a migrated client's secret."""

import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from jwt.algorithms import ECAlgorithm

from apps.audit.models import AuditEvent
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope
from tests.support.admin import permissions, view_permissions
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.service_keys import jwks_of, new_private_key, signer_for, token_client

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


def client_form(client: Application, **overrides) -> dict:
    """The change form as the page posts it, with ``overrides``."""
    data = {
        "name": client.name,
        "client_type": client.client_type,
        "is_active": "on",
        "allowed_grant_types": client.allowed_grant_types,
        "allowed_scopes": [scope.pk for scope in client.allowed_scopes.all()],
        "resource": client.resource_id or "",
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "jwks": json.dumps(client.jwks) if client.jwks is not None else "",
        "jwks_uri": client.jwks_uri,
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def change_url(client: Application) -> str:
    return f"/admin/oauth/application/{client.pk}/change/"


def remove_url(client: Application) -> str:
    return f"/admin/oauth/application/{client.pk}/remove-secret/"


@pytest.fixture
def service(apis, make_client):
    return make_client("basket", scopes=["eventcatalog.read"])


@pytest.fixture
def operator(db):
    def make(*granted: str, view_all: bool = False) -> Client:
        user = get_user_model().objects.create_user("operator", password="operator-password-1", is_staff=True)
        user.user_permissions.set([*permissions(*granted), *(view_permissions() if view_all else [])])
        browser = Client()
        browser.force_login(user)
        return browser

    return make


def test_the_client_page_groups_keys_and_switches_in_their_fieldsets(admin_client, service):
    page = admin_client.get(change_url(service.client)).content.decode()
    assert "How it authenticates" in page and "Request and token protection" in page
    assert 'name="jwks"' in page and 'name="jwks_uri"' in page
    assert 'name="require_pushed_authorization_requests"' in page and 'name="dpop_bound_access_tokens"' in page
    assert 'id="remove-secret"' not in page  # no keys yet: nothing to authenticate with instead


def test_keys_and_switches_saved_from_the_change_form(admin_client, service, client):
    signer = signer_for("basket")
    response = admin_client.post(
        change_url(service.client),
        client_form(
            service.client,
            jwks=json.dumps(jwks_of(signer)),
            require_pushed_authorization_requests="on",
            dpop_bound_access_tokens="on",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Application.objects.get(pk=service.client.pk)
    assert stored.jwks == jwks_of(signer)
    assert stored.require_pushed_authorization_requests and stored.dpop_bound_access_tokens
    change = AuditEvent.objects.get(event_type="admin.change", details__action="changed")
    assert "jwks" in json.dumps(change.details)


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ("{not json", "Enter a valid JSON."),
        (json.dumps({"keys": [ECAlgorithm.to_jwk(new_private_key(), as_dict=True)]}), "register the public key only"),
        (json.dumps({"keys": []}), "A JWKS is a JSON object with a non-empty"),
    ],
)
def test_a_bad_jwks_is_a_form_error_shown_under_the_field(admin_client, service, jwks, message):
    response = admin_client.post(change_url(service.client), client_form(service.client, jwks=jwks))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors["jwks"])
    assert Application.objects.get(pk=service.client.pk).jwks is None


def test_an_http_jwks_uri_is_a_form_error(admin_client, service):
    response = admin_client.post(
        change_url(service.client), client_form(service.client, jwks_uri="http://basket.test/jwks.json")
    )
    assert response.status_code == 200
    assert "Use https" in " ".join(response.context["adminform"].form.errors["jwks_uri"])


def test_a_client_added_with_keys_gets_no_secret(admin_client, apis, client):
    signer = signer_for("reporting")
    form = {
        "name": "reporting", "client_id": "reporting", "client_type": "confidential", "is_active": "on",
        "allowed_grant_types": ["client_credentials"],
        "allowed_scopes": [ApiScope.objects.get(name="eventcatalog.read").pk],
        "resource": "", "redirect_uris": "", "post_logout_redirect_uris": "", "jwks": json.dumps(jwks_of(signer)),
    }  # fmt: skip
    response = admin_client.post("/admin/oauth/application/add/", form)
    assert response.status_code == 302  # no secret page: there is no secret
    stored = Application.objects.get(client_id="reporting")
    assert stored.secret_hint == ""
    assert token_client(client, "reporting", signer=signer).client_credentials(scope="eventcatalog.read")


def test_removing_the_secret_of_a_migrated_client(admin_client, service, client):
    signer = signer_for("basket")
    Application.objects.filter(pk=service.client.pk).update(jwks=jwks_of(signer))
    page = admin_client.get(change_url(service.client)).content.decode()
    assert f'href="{remove_url(service.client)}" id="remove-secret"' in page

    confirmation = admin_client.get(remove_url(service.client))
    assert confirmation.status_code == 200
    assert service.client.secret_hint in confirmation.content.decode()
    # Looking is not removing: the secret still works.
    basic = basic_auth("basket", service.client_secret)
    assert form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic).status_code == 200

    response = admin_client.post(remove_url(service.client), {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == change_url(service.client)

    assert oauth_error(form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic)) == (401, "invalid_client")
    assert token_client(client, "basket", signer=signer).client_credentials(scope="eventcatalog.read")
    stored = Application.objects.get(pk=service.client.pk)
    assert stored.secret_hint == "" and stored.previous_secret_hint == ""
    event = AuditEvent.objects.get(event_type="client.secret_removed")
    assert (event.client_id, event.subject, event.details) == (
        "basket",
        "admin",
        {"secret_hint": service.client.secret_hint},
    )
    page = admin_client.get(change_url(service.client)).content.decode()
    assert 'id="remove-secret"' not in page


def test_a_client_without_keys_keeps_its_secret(admin_client, service, client):
    response = admin_client.post(remove_url(service.client), {"post": "yes"}, follow=True)
    assert "Register the client&#x27;s public keys first" in response.content.decode()
    basic = basic_auth("basket", service.client_secret)
    assert form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic).status_code == 200
    assert not AuditEvent.objects.filter(event_type="client.secret_removed").exists()


def test_removing_a_secret_needs_the_change_permission(operator, service, client):
    Application.objects.filter(pk=service.client.pk).update(jwks=jwks_of(signer_for("basket")))
    viewer = operator("oauth.view_application")
    assert viewer.get(remove_url(service.client)).status_code == 403
    assert viewer.post(remove_url(service.client), {"post": "yes"}).status_code == 403
    basic = basic_auth("basket", service.client_secret)
    assert form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic).status_code == 200


@pytest.mark.parametrize(
    "lookup", ["jwks__contains", "jwks__icontains", "jwks_uri__startswith", "dpop_bound_access_tokens"]
)
def test_a_view_only_operator_cannot_filter_the_client_list_on_keys(operator, service, lookup):
    """No changelist filter offers these: a crafted one is refused, not answered with a count."""
    viewer = operator(view_all=True)
    response = viewer.get("/admin/oauth/application/?" + urlencode({lookup: "x"}))
    assert response.status_code == 400


def test_the_api_page_has_the_require_dpop_switch_and_filter(admin_client, apis):
    page = admin_client.get(f"/admin/resources/apiresource/{apis['discount'].pk}/change/").content.decode()
    assert 'name="require_dpop"' in page and "What a token for it requires" in page
    listing = admin_client.get("/admin/resources/apiresource/?require_dpop__exact=1")
    assert listing.status_code == 200
    ApiResource.objects.filter(pk=apis["discount"].pk).update(require_dpop=True)
    assert "discount" in admin_client.get("/admin/resources/apiresource/?require_dpop__exact=1").content.decode()
