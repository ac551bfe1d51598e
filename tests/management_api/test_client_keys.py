"""Issue 19 through the management API: a client's public keys (private_key_jwt) and its
require-PAR / require-DPoP switches, read and written; removing a migrated client's secret."""

import pytest
from jwt.algorithms import ECAlgorithm

from apps.audit.models import AuditEvent
from apps.oauth.models import Application
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.service_keys import jwks_of, new_private_key, signer_for, token_client

pytestmark = pytest.mark.django_db

NEW = {
    "name": "reporting",
    "client_type": "confidential",
    "allowed_grant_types": ["client_credentials"],
    "allowed_scopes": ["eventcatalog.read"],
}
CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


def test_a_client_created_with_keys_gets_no_secret_and_its_assertions_work(api, apis, client):
    signer = signer_for("reporting")
    created = api("post", "clients/", {**NEW, "jwks": jwks_of(signer), "dpop_bound_access_tokens": False})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["client_secret"] is None
    assert body["secret_hint"] == ""
    assert body["jwks"] == jwks_of(signer)
    assert (body["jwks_uri"], body["require_pushed_authorization_requests"]) == ("", False)
    assert token_client(client, "reporting", signer=signer).client_credentials(scope="eventcatalog.read")


def test_keys_and_switches_are_read_and_changed(api, apis):
    created = api("post", "clients/", NEW).json()
    assert created["jwks"] is None and created["dpop_bound_access_tokens"] is False
    path = f"clients/{created['client_id']}/"
    changed = api(
        "patch",
        path,
        {
            "jwks_uri": "https://reporting.test/jwks.json",
            "require_pushed_authorization_requests": True,
            "dpop_bound_access_tokens": True,
        },
    )
    assert changed.status_code == 200, changed.content
    stored = Application.objects.get(client_id=created["client_id"])
    assert stored.jwks_uri == "https://reporting.test/jwks.json"
    assert stored.require_pushed_authorization_requests and stored.dpop_bound_access_tokens
    read = api("get", path).json()
    assert (read["jwks_uri"], read["dpop_bound_access_tokens"]) == ("https://reporting.test/jwks.json", True)


def test_the_switches_are_set_on_creation(api, apis):
    created = api(
        "post", "clients/", {**NEW, "require_pushed_authorization_requests": True, "dpop_bound_access_tokens": True}
    )
    assert created.status_code == 201
    stored = Application.objects.get(client_id=created.json()["client_id"])
    assert stored.require_pushed_authorization_requests and stored.dpop_bound_access_tokens


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"jwks": {"keys": [ECAlgorithm.to_jwk(new_private_key(), as_dict=True)]}}, "jwks", "public key only"),
        ({"jwks": {"keys": []}}, "jwks", 'non-empty "keys" list'),
        ({"jwks_uri": "http://reporting.test/jwks.json"}, "jwks_uri", "Use https"),
    ],
)
def test_bad_keys_are_a_400_naming_the_field(api, apis, change, field, message):
    created = api("post", "clients/", NEW).json()
    response = api("patch", f"clients/{created['client_id']}/", change)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    stored = Application.objects.get(client_id=created["client_id"])
    assert (stored.jwks, stored.jwks_uri) == (None, "")


def test_remove_secret_ends_the_secret_of_a_client_with_keys(api, apis, client):
    created = api("post", "clients/", NEW).json()
    client_id, secret = created["client_id"], created["client_secret"]
    signer = signer_for(client_id)
    assert api("patch", f"clients/{client_id}/", {"jwks": jwks_of(signer)}).status_code == 200

    removed = api("post", f"clients/{client_id}/remove-secret/")
    assert removed.status_code == 200, removed.content
    assert removed.json()["secret_hint"] == "" and "client_secret" not in removed.json()
    basic = basic_auth(client_id, secret)
    assert oauth_error(form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic)) == (401, "invalid_client")
    assert token_client(client, client_id, signer=signer).client_credentials(scope="eventcatalog.read")
    assert AuditEvent.objects.filter(event_type="client.secret_removed", client_id=client_id).count() == 1

    again = api("post", f"clients/{client_id}/remove-secret/")
    assert (again.status_code, again.json()) == (400, {"client_secret": "This client has no secret."})


def test_remove_secret_is_refused_without_keys(api, apis, client):
    created = api("post", "clients/", NEW).json()
    response = api("post", f"clients/{created['client_id']}/remove-secret/")
    assert response.status_code == 400
    assert "Register the client's public keys first" in response.json()["jwks"]
    basic = basic_auth(created["client_id"], created["client_secret"])
    assert form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic).status_code == 200


def test_an_api_requiring_dpop_is_read_and_written(api, apis):
    assert api("get", "resources/discount/").json()["require_dpop"] is False
    response = api("patch", "resources/discount/", {"require_dpop": True})
    assert (response.status_code, response.json()["require_dpop"]) == (200, True)
