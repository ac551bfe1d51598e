"""Signing keys: next -> active -> retired, JWKS contents, and tokens surviving rotation."""

import io
from datetime import timedelta

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.utils import timezone
from jwcrypto import jwk

from apps.keys.services import clear_key_cache, create_key, get_signing_key, jwks_document, rotate_keys
from apps.oauth.models import KeyState, SigningKey
from tests.support.http import JWKS_URL
from tests.support.tokens import verify

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
def catalog_admin(apis, make_client):
    return make_client("catalog-admin", scopes=["eventcatalog.read"])


def kids(client) -> set[str]:
    return {key["kid"] for key in client.get(JWKS_URL).json()["keys"]}


def test_first_use_creates_an_active_and_a_next_key(db):
    key = get_signing_key("RS256")
    states = dict(SigningKey.objects.filter(algorithm="RS256").values_list("state", "kid"))
    assert states[KeyState.ACTIVE] == key.kid
    assert KeyState.NEXT in states


def test_jwks_publishes_active_and_next_keys_and_no_private_material(client, db):
    get_signing_key("RS256")
    get_signing_key("ES256")
    response = client.get(JWKS_URL)

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert {(k["alg"], k["kty"]) for k in keys} == {("RS256", "RSA"), ("ES256", "EC")}
    assert len(keys) == 4
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key)
        assert key["use"] == "sig"


def test_kid_is_the_rfc7638_thumbprint(db):
    key = create_key(algorithm="ES256", state=KeyState.NEXT)
    assert key.kid == jwk.JWK(**key.public_jwk).thumbprint()


def test_only_one_active_key_per_algorithm(db):
    create_key(algorithm="RS256", state=KeyState.ACTIVE)
    with pytest.raises(IntegrityError):
        create_key(algorithm="RS256", state=KeyState.ACTIVE)


def test_rotation_promotes_the_published_next_key(client, db):
    get_signing_key("RS256")
    next_kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT).kid
    old_kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE).kid

    rotate_keys(algorithms=["RS256"])

    assert get_signing_key("RS256").kid == next_kid
    assert SigningKey.objects.get(kid=old_kid).state == KeyState.RETIRED
    assert {old_kid, next_kid} <= kids(client)
    assert SigningKey.objects.filter(algorithm="RS256", state=KeyState.NEXT).exclude(kid=next_kid).exists()


def test_tokens_signed_before_rotation_still_verify(client, catalog_admin, client_credentials_token):
    before = client_credentials_token(catalog_admin)["access_token"]
    call_command("rotate_keys", stdout=open("/dev/null", "w"))
    after = client_credentials_token(catalog_admin)["access_token"]

    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    assert verify(client, before, audience="eventcatalog")["aud"] == ["eventcatalog"]
    assert verify(client, after, audience="eventcatalog")["aud"] == ["eventcatalog"]


def test_retired_keys_leave_the_jwks_after_the_retention_window(client, apis):
    get_signing_key("RS256")
    old_kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE).kid
    rotate_keys(algorithms=["RS256"])
    assert old_kid in kids(client)

    # Tokens live at most 600 s; other processes may sign with a cached key for 30 s more;
    # 60 s of clock skew. After that no valid token can need the key.
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(seconds=689))
    assert old_kid in kids(client)
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(seconds=691))
    assert old_kid not in kids(client)
    rotate_keys(algorithms=["RS256"])
    assert not SigningKey.objects.filter(kid=old_kid).exists()


def test_retired_key_stays_published_while_the_longest_token_may_live(client, apis):
    apis["discount"].access_token_lifetime = 3600
    apis["discount"].save()
    get_signing_key("RS256")
    old_kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE).kid
    rotate_keys(algorithms=["RS256"])
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(seconds=691))
    assert old_kid in {k["kid"] for k in jwks_document()["keys"]}


def test_rotate_keys_command_reports_each_algorithm(db, capsys):
    call_command("rotate_keys")
    out = capsys.readouterr().out
    assert "RS256: active key is now" in out
    assert "ES256: active key is now" in out
    assert SigningKey.objects.filter(state=KeyState.ACTIVE).count() == 2
    assert SigningKey.objects.filter(state=KeyState.NEXT).count() == 2


def test_rotation_never_activates_an_unpublished_key(client, db):
    rotate_keys(algorithms=["ES256"])  # fresh database: no keys yet
    published = kids(client)
    rotate_keys(algorithms=["ES256"])
    assert get_signing_key("ES256").kid in published


def test_missing_active_key_is_replaced_by_the_published_next_key(client, db):
    get_signing_key("RS256")
    next_kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT).kid
    SigningKey.objects.filter(algorithm="RS256", state=KeyState.ACTIVE).delete()
    clear_key_cache()

    assert get_signing_key("RS256").kid == next_kid
    assert SigningKey.objects.filter(algorithm="RS256", state=KeyState.NEXT).exclude(kid=next_kid).exists()


def test_admin_cannot_add_change_or_delete_keys(admin_client, db):
    get_signing_key("RS256")
    key = SigningKey.objects.first()
    assert admin_client.get(f"/admin/oauth/signingkey/{key.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/oauth/signingkey/add/").status_code == 403
    page = admin_client.get(f"/admin/oauth/signingkey/{key.pk}/change/")
    assert page.status_code == 200
    assert "PRIVATE KEY" not in page.content.decode()


def test_a_withdrawn_key_leaves_the_jwks_and_its_tokens_stop_verifying(client, catalog_admin, client_credentials_token):
    token = client_credentials_token(catalog_admin)["access_token"]
    leaked = jwt.get_unverified_header(token)["kid"]
    rotate_keys(algorithms=["RS256"])
    assert leaked in kids(client)  # retired, still published for the tokens it signed
    verify(client, token, "eventcatalog")

    call_command("withdraw_key", "--", leaked, stdout=io.StringIO())  # a kid may begin with "-"

    assert leaked not in kids(client)
    assert not SigningKey.objects.filter(kid=leaked).exists()
    with pytest.raises(KeyError):
        verify(client, token, "eventcatalog")
    assert jwt.get_unverified_header(client_credentials_token(catalog_admin)["access_token"])["kid"] != leaked


@pytest.mark.parametrize("state", [KeyState.ACTIVE, KeyState.NEXT])
def test_a_signing_or_next_key_cannot_be_withdrawn_before_it_is_rotated_out(db, state):
    get_signing_key("ES256")
    key = SigningKey.objects.get(algorithm="ES256", state=state)
    with pytest.raises(CommandError, match="rotate it out first"):
        call_command("withdraw_key", "--", key.kid)
    assert SigningKey.objects.filter(kid=key.kid).exists()


def test_withdrawing_an_unknown_kid_is_an_error(db):
    with pytest.raises(CommandError, match="No signing key"):
        call_command("withdraw_key", "no-such-kid")


def test_ensure_keys_creates_the_keys_of_a_new_installation_and_then_changes_nothing(db):
    call_command("ensure_keys", stdout=io.StringIO())
    first = dict(SigningKey.objects.values_list("kid", "state"))
    assert sorted(first.values()) == [KeyState.ACTIVE, KeyState.ACTIVE, KeyState.NEXT, KeyState.NEXT]

    call_command("ensure_keys", stdout=io.StringIO())
    assert dict(SigningKey.objects.values_list("kid", "state")) == first


def test_a_kid_beginning_with_a_dash_is_withdrawn_after_double_dash(db):
    """RFC 7638 thumbprints are base64url: about one kid in 64 begins with "-", which the
    command line would read as an option unless it follows "--"."""
    get_signing_key("ES256")
    key = SigningKey.objects.get(algorithm="ES256", state=KeyState.ACTIVE)
    SigningKey.objects.filter(pk=key.pk).update(kid="-dash-first", state=KeyState.RETIRED)
    call_command("withdraw_key", "--", "-dash-first", stdout=io.StringIO())
    assert not SigningKey.objects.filter(kid="-dash-first").exists()


def test_the_periodic_reload_parses_a_pem_only_for_a_new_kid(db, settings, monkeypatch, django_assert_num_queries):
    """Every SIGNING_KEY_CACHE_SECONDS a process asks which key is active; the PEM is parsed
    again only when the answer is a key it has not parsed (a rotation), not on every reload."""
    from apps.keys import services

    settings.IDP = {**settings.IDP, "SIGNING_KEY_CACHE_SECONDS": 0}  # every call is a reload
    first = get_signing_key("ES256")
    parsed: list[str] = []
    load = services._load
    monkeypatch.setattr(services, "_load", lambda row: parsed.append(row.kid) or load(row))

    with django_assert_num_queries(1):  # a reload: which kid is active, one row
        assert get_signing_key("ES256") is first
    assert parsed == []
    rotate_keys(algorithms=["ES256"])
    rotated = get_signing_key("ES256")
    assert rotated.kid != first.kid and parsed == [rotated.kid]
    assert get_signing_key("ES256") is rotated and parsed == [rotated.kid]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_sign_jwt_writes_what_pyjwt_writes(db, algorithm):
    """The token endpoint's signer caches the header: the token is the same bytes as
    jwt.encode's (ES256 signatures differ per call: compared up to the signature, then verified)."""
    from apps.keys.services import sign_jwt

    key = get_signing_key(algorithm)
    claims = {"iss": "https://idp.test", "sub": "Zoë ✓", "aud": ["discount"], "exp": 2**31, "act": {"sub": "basket"}}
    ours = sign_jwt(claims, key, typ="at+jwt")
    theirs = jwt.encode(claims, key.private_key, algorithm=algorithm, headers={"typ": "at+jwt", "kid": key.kid})
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    if algorithm == "RS256":  # deterministic (PKCS#1 v1.5)
        assert ours == theirs
    public = key.private_key.public_key()
    assert jwt.decode(ours, public, algorithms=[algorithm], audience="discount") == claims
    assert jwt.get_unverified_header(ours) == {"alg": algorithm, "kid": key.kid, "typ": "at+jwt"}
