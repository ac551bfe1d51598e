"""Consents (revoke, with the client's tokens for the person), access tokens (revoke, with every
token exchanged from them) and signing keys (rotate) through the management API: read scope to
read, write scope to act, never a secret, every action audited with the calling client."""

import jwt
import pytest
from django.contrib.auth import get_user_model
from oauth2_provider.models import set_token_value

from apps.audit.models import AuditEvent
from apps.consent.models import Consent
from apps.consent.services import remember_consent
from apps.keys.services import ensure_signing_keys, jwks_document
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import AccessToken, KeyState, RefreshToken, SigningKey
from apps.tokens.issuance import issue_user_token
from tests.support.http import INTROSPECT_URL, basic_auth, form_post

pytestmark = pytest.mark.django_db

User = get_user_model()


def changes() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE).order_by("pk"))


def exchanged(parent: AccessToken, client, audience: str, value: str) -> AccessToken:
    """A token exchanged from ``parent``, as the token-exchange grant stores it."""
    child = AccessToken(
        user=parent.user,
        application=client,
        parent=parent,
        subject=parent.subject,
        audience=[audience],
        scope=f"{audience}.fullaccess",
        act={"sub": client.client_id},
        expires=parent.expires,
    )
    set_token_value(child, value)
    child.save()
    return child


@pytest.fixture
def people(db):
    return {name: User.objects.create_user(name, password="pw-for-tests-only-123") for name in ("carol", "dave")}


@pytest.fixture
def family(people, web, basket):
    """carol's token from the web app, one the basket exchanged from it and one exchanged from
    that; dave's token, untouched by what happens to carol's."""
    issued = issue_user_token(client=web.client, user=people["carol"], scopes=["shoppingbasket.fullaccess"])
    root = AccessToken.objects.get(jti=issued.jti)
    child = exchanged(root, basket.client, "discount", "exchanged-token-value-0123456789abcdef")
    grandchild = exchanged(child, basket.client, "discount", "exchanged-again-value-0123456789abcdef")
    dave = issue_user_token(client=web.client, user=people["dave"], scopes=["eventcatalog.read"])
    return {"issued": issued, "root": root, "child": child, "grandchild": grandchild, "dave": dave}


# --- consents -------------------------------------------------------------------------------------


@pytest.fixture
def consents(people, web, basket):
    return {
        "carol-web": remember_consent(user=people["carol"], application=web.client, scopes=["openid", "profile"]),
        "carol-basket": remember_consent(user=people["carol"], application=basket.client, scopes=["openid"]),
        "dave-web": remember_consent(user=people["dave"], application=web.client, scopes=["openid"]),
    }


def test_consents_are_listed_and_filtered_by_user_and_client(api, read_token, consents, web):
    listed = api("get", "consents/", token=read_token)
    assert listed.status_code == 200
    assert listed.json()["count"] == 3
    one = consents["carol-web"]
    assert api("get", f"consents/{one.pk}/", token=read_token).json() == {
        "id": one.pk,
        "user": "carol",
        "client": web.client.client_id,
        "scopes": ["openid", "profile"],
        "granted_at": one.granted_at.isoformat().replace("+00:00", "Z"),
        "expires_at": one.expires_at.isoformat().replace("+00:00", "Z"),
        "active": True,
    }
    by_user = api("get", "consents/?user=carol").json()["results"]
    assert {c["id"] for c in by_user} == {consents["carol-web"].pk, consents["carol-basket"].pk}
    both = api("get", f"consents/?user=carol&client={web.client.client_id}").json()["results"]
    assert [c["id"] for c in both] == [one.pk]
    assert api("get", "consents/?client=nobody").json()["count"] == 0


def test_revoking_a_consent_revokes_the_clients_tokens_for_the_person(api, automation, consents, family, web):
    refresh = RefreshToken.objects.create(
        user=family["root"].user, application=web.client, token="refresh-value", access_token=family["root"]
    )
    consent = consents["carol-web"]
    response = api("delete", f"consents/{consent.pk}/", HTTP_X_REQUEST_ID="req-9")
    assert response.status_code == 204
    assert not Consent.objects.filter(pk=consent.pk).exists()
    # The web app's tokens for carol, with what was exchanged from them; nobody else's.
    assert not AccessToken.objects.filter(pk__in=[family["root"].pk, family["child"].pk]).exists()
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    assert AccessToken.objects.filter(jti=family["dave"].jti).exists()
    assert Consent.objects.filter(pk=consents["carol-basket"].pk).exists()
    # The consent service's event, and the change by the calling client, in one request.
    (revoked,) = AuditEvent.objects.filter(event_type="consent.revoked")
    (change,) = changes()
    assert (revoked.subject, revoked.client_id, revoked.request_id) == ("carol", web.client.client_id, "req-9")
    assert (change.client_id, change.request_id) == (automation.client.client_id, "req-9")
    assert change.details["action"] == "deleted" and change.details["model"] == "consent.consent"
    assert change.details["object_id"] == str(consent.pk)
    assert change.details["values"]["scopes"] == {"before": "openid profile", "after": None}


def test_consents_need_the_write_scope_to_revoke(api, read_token, consents):
    consent = consents["carol-web"]
    response = api("delete", f"consents/{consent.pk}/", token=read_token)
    assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")
    assert Consent.objects.filter(pk=consent.pk).exists() and not changes()


@pytest.mark.parametrize(("method", "status"), [("post", 405), ("put", 405), ("patch", 405)])
def test_consents_are_not_written_otherwise(api, consents, method, status):
    consent = consents["carol-web"]
    path = "consents/" if method == "post" else f"consents/{consent.pk}/"
    assert api(method, path, {"scopes": ["openid", "email"]}).status_code == status
    assert Consent.objects.get(pk=consent.pk).scopes == "openid profile"


def test_an_unknown_consent_is_a_json_404(api):
    for method in ("get", "delete"):
        response = api(method, "consents/999999/")
        assert (response.status_code, list(response.json())) == (404, ["detail"])
    assert api("get", "consents/abc/").status_code == 404


# --- tokens ---------------------------------------------------------------------------------------


def test_active_tokens_are_listed_without_their_values(api, read_token, family, web, basket):
    listed = api("get", "tokens/?user=carol", token=read_token)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3
    by_jti = {t["jti"]: t for t in body["results"]}
    child = by_jti[str(family["child"].jti)]
    assert child == {
        "jti": str(family["child"].jti),
        "client": basket.client.client_id,
        "user": "carol",
        "sub": family["root"].subject,
        "audience": ["discount"],
        "scopes": ["discount.fullaccess"],
        "act": {"sub": basket.client.client_id},
        "created": child["created"],
        "expires": child["expires"],
        "parent_jti": str(family["root"].jti),
    }
    assert by_jti[str(family["root"].jti)]["parent_jti"] is None
    text = listed.content.decode()
    for secret in (
        family["issued"].token,
        "exchanged-token-value-0123456789abcdef",
        *AccessToken.objects.values_list("token_checksum", flat=True),
    ):
        assert secret not in text
    assert "token_checksum" not in text and '"token"' not in text


def test_tokens_filter_by_client_and_audience(api, family, web, basket, automation):
    assert api("get", f"tokens/?client={web.client.client_id}").json()["count"] == 2  # carol's root, dave's
    assert {t["jti"] for t in api("get", "tokens/?audience=discount").json()["results"]} == {
        str(family["child"].jti),
        str(family["grandchild"].jti),
    }
    assert api("get", "tokens/?audience=discount&user=dave").json()["count"] == 0
    # The automation client's own token is a client's token: no user.
    (own,) = api("get", f"tokens/?client={automation.client.client_id}").json()["results"]
    assert (own["user"], own["sub"], own["audience"]) == (None, automation.client.client_id, ["idp-admin"])


def test_expired_tokens_are_not_listed(api, family):
    AccessToken.objects.filter(pk=family["root"].pk).update(expires=family["root"].created)
    assert str(family["root"].jti) not in {t["jti"] for t in api("get", "tokens/").json()["results"]}
    assert api("get", f"tokens/{family['root'].jti}/").status_code == 404


def test_revoking_a_token_revokes_every_token_exchanged_from_it(api, client, automation, family, basket):
    child = family["child"]
    response = api("post", f"tokens/{child.jti}/revoke/")
    assert response.status_code == 200
    assert response.json() == {
        "revoked": [str(child.jti), str(family["grandchild"].jti)],
        "refresh_token_revoked": False,
    }
    assert not AccessToken.objects.filter(pk__in=[child.pk, family["grandchild"].pk]).exists()
    assert AccessToken.objects.filter(pk=family["root"].pk).exists()  # its parent stays
    # Introspection says so at once.
    answer = form_post(
        client,
        INTROSPECT_URL,
        {"token": "exchanged-token-value-0123456789abcdef"},
        HTTP_AUTHORIZATION=basic_auth(basket.client.client_id, basket.client_secret),
    )
    assert answer.json() == {"active": False}
    (change,) = changes()
    assert change.client_id == automation.client.client_id
    assert change.details["action"] == "revoked" and change.details["model"] == "oauth.accesstoken"
    assert change.details["jti"] == str(child.jti)
    assert change.details["revoked"] == [str(child.jti), str(family["grandchild"].jti)]
    assert change.details["object_id"] == str(child.pk)
    assert "exchanged-token-value" not in str(change.details)


def test_revoking_a_token_revokes_its_refresh_token(api, family, web):
    root = family["root"]
    refresh = RefreshToken.objects.create(
        user=root.user, application=web.client, token="refresh-value", access_token=root
    )
    response = api("post", f"tokens/{root.jti}/revoke/")
    assert response.json()["refresh_token_revoked"] is True
    assert len(response.json()["revoked"]) == 3
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    assert not AccessToken.objects.filter(user=root.user).exists()


def test_revoking_needs_the_write_scope(api, read_token, family):
    response = api("post", f"tokens/{family['root'].jti}/revoke/", token=read_token)
    assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")
    assert AccessToken.objects.filter(pk=family["root"].pk).exists()


@pytest.mark.parametrize("jti", ["00000000-0000-4000-8000-000000000000", "not-a-jti", "1"])
def test_an_unknown_token_is_a_json_404(api, family, jti):
    for method, path in (("get", f"tokens/{jti}/"), ("post", f"tokens/{jti}/revoke/")):
        response = api(method, path)
        assert (response.status_code, list(response.json())) == (404, ["detail"])
    assert AccessToken.objects.count() == 5 and not changes()


# --- keys -----------------------------------------------------------------------------------------


def test_keys_are_listed_with_public_facts_only(api, read_token):
    ensure_signing_keys()
    listed = api("get", "keys/", token=read_token)
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert {(k["algorithm"], k["state"]) for k in results} >= {
        ("RS256", "active"),
        ("RS256", "next"),
        ("ES256", "active"),
        ("ES256", "next"),
    }
    assert set(results[0]) == {"kid", "algorithm", "state", "created", "activated_at", "retired_at"}
    text = listed.content.decode()
    for key in SigningKey.objects.all():
        assert key.private_key_pem.splitlines()[1] not in text
    kid = results[0]["kid"]
    assert api("get", f"keys/{kid}/").json() == results[0]


def test_rotating_one_algorithm(api, automation):
    ensure_signing_keys()
    before = {k.state: k.kid for k in SigningKey.objects.filter(algorithm="ES256")}
    other = set(SigningKey.objects.filter(algorithm="RS256").values_list("kid", "state"))
    response = api("post", "keys/rotate/", {"algorithm": "ES256"}, HTTP_X_REQUEST_ID="req-k")
    assert response.status_code == 200
    (active,) = response.json()
    assert (active["kid"], active["algorithm"], active["state"]) == (before["next"], "ES256", "active")
    assert SigningKey.objects.get(kid=before["active"]).state == KeyState.RETIRED
    assert set(SigningKey.objects.filter(algorithm="RS256").values_list("kid", "state")) == other
    # The retired key stays published; the new next one is published already.
    published = {key["kid"] for key in jwks_document()["keys"]}
    new_next = SigningKey.objects.get(algorithm="ES256", state=KeyState.NEXT).kid
    assert {before["active"], before["next"], new_next} <= published
    (rotated,) = AuditEvent.objects.filter(event_type="key.rotated")
    assert rotated.details["activated"] == before["next"] and rotated.request_id == "req-k"
    (change,) = changes()
    assert (change.client_id, change.details["action"], change.details["activated"]) == (
        automation.client.client_id,
        "rotated",
        before["next"],
    )


def test_rotating_without_a_body_rotates_every_algorithm(api):
    ensure_signing_keys()
    nexts = set(SigningKey.objects.filter(state=KeyState.NEXT).values_list("kid", flat=True))
    response = api("post", "keys/rotate/")
    assert response.status_code == 200
    assert {k["kid"] for k in response.json()} == nexts
    assert AuditEvent.objects.filter(event_type="key.rotated").count() == 2
    assert len(changes()) == 2


def test_tokens_signed_after_a_rotation_use_the_new_key(api, client, web, people):
    ensure_signing_keys()
    new_active = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT).kid
    api("post", "keys/rotate/", {"algorithm": "RS256"})
    token = issue_user_token(client=web.client, user=people["carol"], scopes=["eventcatalog.read"]).token
    assert jwt.get_unverified_header(token)["kid"] == new_active


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"algorithm": "HS256"}', "application/json", 400),
        ('{"algorithm": null}', "application/json", 400),
        ("algorithm=RS256", "application/x-www-form-urlencoded", 415),
        ("{broken", "application/json", 400),
    ],
)
def test_bad_rotation_options_change_nothing(client, write_token, body, content_type, status):
    ensure_signing_keys()
    keys = set(SigningKey.objects.values_list("kid", "state"))
    response = client.post(
        "/api/admin/keys/rotate/", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {write_token}"
    )
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(SigningKey.objects.values_list("kid", "state")) == keys
    assert not changes() and not AuditEvent.objects.filter(event_type="key.rotated").exists()


def test_rotating_needs_the_write_scope(api, read_token):
    ensure_signing_keys()
    keys = set(SigningKey.objects.values_list("kid", "state"))
    response = api("post", "keys/rotate/", token=read_token)
    assert (response.status_code, response.json()["error"]) == (403, "insufficient_scope")
    assert set(SigningKey.objects.values_list("kid", "state")) == keys


def test_keys_are_not_written_otherwise(api):
    ensure_signing_keys()
    kid = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE).kid
    assert api("post", "keys/", {"algorithm": "RS256"}).status_code == 405
    assert api("delete", f"keys/{kid}/").status_code == 405
    assert api("patch", f"keys/{kid}/", {"state": "retired"}).status_code == 405
    assert SigningKey.objects.filter(kid=kid).exists()
