"""RFC 7009 revocation, scoped to the client the token was issued to, with lineage cascade."""

import pytest

from apps.oauth.models import AccessToken
from tests.support.http import REVOKE_URL, basic_auth, form_post, oauth_error


@pytest.fixture
def owner(apis, make_client):
    return make_client("owner", scopes=["eventcatalog.read"])


def revoke(client, credentials, token):
    headers = {}
    if credentials is not None:
        headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(client, REVOKE_URL, {"token": token}, **headers)


def test_owner_revokes_its_token(client, owner, client_credentials_token):
    token = client_credentials_token(owner)["access_token"]
    response = revoke(client, owner, token)
    assert response.status_code == 200
    assert not AccessToken.objects.exists()


def test_no_client_authentication_is_invalid_client(client, owner, client_credentials_token):
    token = client_credentials_token(owner)["access_token"]
    assert oauth_error(revoke(client, None, token)) == (401, "invalid_client")
    assert AccessToken.objects.count() == 1


def test_another_client_cannot_revoke_the_token(client, owner, make_client, client_credentials_token):
    token = client_credentials_token(owner)["access_token"]
    intruder = make_client("intruder", scopes=["eventcatalog.read"])
    # RFC 7009 section 2.2: the answer does not reveal whether the token exists elsewhere.
    assert revoke(client, intruder, token).status_code == 200
    assert AccessToken.objects.count() == 1


def test_unknown_token_is_200(client, owner):
    assert revoke(client, owner, "never-issued").status_code == 200


def test_revoking_a_token_revokes_every_token_exchanged_from_it(owner, client_credentials_token):
    client_credentials_token(owner)
    parent = AccessToken.objects.get()
    child = AccessToken.objects.create(
        application=parent.application, expires=parent.expires, scope="x", token_checksum="c1", parent=parent
    )
    AccessToken.objects.create(
        application=parent.application, expires=parent.expires, scope="x", token_checksum="c2", parent=child
    )

    parent.revoke()

    assert not AccessToken.objects.exists()
