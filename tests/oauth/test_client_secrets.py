"""Client secrets: 256 random bits, shown once, hashed with a fast keyed hash, compared in constant time."""

import base64
from unittest import mock

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher

from apps.clients import secrets as secrets_module
from apps.clients.secrets import RandomSecretHasher, generate_client_secret
from apps.clients.services import rotate_client_secret
from apps.oauth.models import Application
from tests.support.http import oauth_error


def test_generated_secrets_carry_256_bits():
    secret = generate_client_secret()
    raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    assert len(raw) * 8 == 256
    assert len({generate_client_secret() for _ in range(100)}) == 100


def test_secret_is_stored_hashed_with_the_fast_hasher(apis, make_client):
    credentials = make_client("svc", scopes=["eventcatalog.read"])
    stored = Application.objects.get(pk=credentials.client.pk).client_secret

    assert stored != credentials.client_secret
    assert credentials.client_secret not in stored
    assert identify_hasher(stored).algorithm == "idp_secret_sha256"
    assert check_password(credentials.client_secret, stored)
    assert not check_password(credentials.client_secret + "x", stored)


def test_same_secret_hashes_differently_per_salt():
    hasher = RandomSecretHasher()
    assert hasher.encode("s", "salt-one") != hasher.encode("s", "salt-two")
    assert hasher.verify("s", hasher.encode("s", "salt-one"))


def test_only_a_hint_of_the_secret_is_kept(apis, make_client):
    credentials = make_client("svc", scopes=["eventcatalog.read"])
    client = Application.objects.get(pk=credentials.client.pk)
    assert client.secret_hint == "…" + credentials.client_secret[-4:]


def test_token_endpoint_compares_secrets_in_constant_time(apis, make_client, token_request):
    credentials = make_client("svc", scopes=["eventcatalog.read"])
    with mock.patch.object(
        secrets_module, "constant_time_compare", wraps=secrets_module.constant_time_compare
    ) as compare:
        response = token_request(credentials, {"grant_type": "client_credentials"})
    assert response.status_code == 200
    compare.assert_called_once()


def test_rotated_secret_replaces_the_old_one(apis, make_client, token_request):
    credentials = make_client("svc", scopes=["eventcatalog.read"])
    new_secret = rotate_client_secret(client=credentials.client)

    old = token_request(credentials, {"grant_type": "client_credentials"})
    assert oauth_error(old) == (401, "invalid_client")
    new = token_request(
        type(credentials)(client=credentials.client, client_secret=new_secret), {"grant_type": "client_credentials"}
    )
    assert new.status_code == 200


@pytest.mark.parametrize("secret", ["", "a" * 10_000, "ünïcödé", "%00"])
def test_odd_secrets_are_invalid_client_not_errors(apis, make_client, token_request, secret):
    credentials = make_client("svc", scopes=["eventcatalog.read"])
    forged = type(credentials)(client=credentials.client, client_secret=secret)
    assert oauth_error(token_request(forged, {"grant_type": "client_credentials"})) == (401, "invalid_client")
    assert oauth_error(token_request(forged, {"grant_type": "client_credentials"}, auth="post")) == (
        401,
        "invalid_client",
    )


def test_a_confidential_client_without_a_secret_cannot_authenticate_with_an_empty_one(apis, make_client, token_request):
    """A public client switched to confidential in the admin keeps its empty secret (stored as
    the hash of ""): an empty presented secret must not match it (it did)."""
    from apps.oauth.models import Application

    public = make_client(
        "spa",
        grants=["authorization_code"],
        scopes=["openid"],
        redirect_uris=["https://s.test/cb"],
        client_type=Application.CLIENT_PUBLIC,
    )
    client = public.client
    client.client_type = Application.CLIENT_CONFIDENTIAL
    client.allowed_grant_types = ["client_credentials"]
    client.save()  # its stored secret is the hash of the empty string
    for auth in ("basic", "post"):
        response = token_request(
            type(public)(client=client, client_secret=""), {"grant_type": "client_credentials"}, auth=auth
        )
        assert oauth_error(response) == (401, "invalid_client")
