"""Token exchange with an ID token as the subject: only where the policy allows it."""

import uuid
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from apps.keys.services import get_signing_key
from apps.oauth.models import AccessToken, Application, IDToken
from tests.support.http import ISSUER, oauth_error

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


@pytest.fixture
def make_id_token(alice):
    def make(audience: str, *, lifetime: int = 300, stored: bool = True, session_lifetime: int | None = None) -> str:
        key = get_signing_key("RS256")
        now = timezone.now().replace(microsecond=0)
        jti = uuid.uuid4()
        if stored:
            expires = now + timedelta(seconds=lifetime)
            row = IDToken.objects.create(user=alice, jti=jti, expires=expires, scope="openid")
            # The access token issued alongside, as the authorization code flow stores it.
            application = Application.objects.filter(client_id=audience).first()
            if application is not None:
                AccessToken.objects.create(
                    user=alice,
                    application=application,
                    id_token=row,
                    expires=now + timedelta(seconds=lifetime if session_lifetime is None else session_lifetime),
                    scope="openid",
                    token_checksum=uuid.uuid4().hex,
                    subject=str(alice.pk),
                )
        claims = {
            "iss": ISSUER,
            "sub": str(alice.pk),
            "aud": audience,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
            "jti": str(jti),
        }
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})

    return make


def test_refused_unless_the_policy_accepts_id_tokens(basket, basket_policy, make_id_token, exchange):
    id_token = make_id_token(basket.client.client_id)
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


def test_own_id_token_is_exchanged_when_the_policy_accepts_it(basket, basket_policy, alice, make_id_token, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    response = exchange(basket, make_id_token(basket.client.client_id), subject_token_type=ID_TOKEN_TYPE)
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(alice.pk)
    assert claims["aud"] == ["discount"]


def test_id_token_of_another_client_is_refused(basket, basket_policy, make_id_token, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    response = exchange(basket, make_id_token("some-other-client"), subject_token_type=ID_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


def test_unknown_or_expired_id_token_is_refused(basket, basket_policy, make_id_token, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    unknown = make_id_token(basket.client.client_id, stored=False)
    assert oauth_error(exchange(basket, unknown, subject_token_type=ID_TOKEN_TYPE)) == (400, "invalid_request")
    expired = make_id_token(basket.client.client_id, lifetime=-10)
    assert oauth_error(exchange(basket, expired, subject_token_type=ID_TOKEN_TYPE)) == (400, "invalid_request")


def test_access_token_sent_as_id_token_is_refused(basket, basket_policy, alice_token, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    assert oauth_error(exchange(basket, alice_token, subject_token_type=ID_TOKEN_TYPE)) == (400, "invalid_request")


def test_exchanged_token_hangs_off_the_id_tokens_session(basket, basket_policy, make_id_token, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    id_token = make_id_token(basket.client.client_id)
    body = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE).json()
    child = AccessToken.objects.get(jti=jwt.decode(body["access_token"], options={"verify_signature": False})["jti"])
    session = AccessToken.objects.get(id_token__isnull=False)
    assert child.parent == session

    session.revoke()  # signing out revokes the session's tokens...
    assert not AccessToken.objects.filter(pk=child.pk).exists()  # ...and what was exchanged from them
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


def test_id_token_without_a_jti_is_refused(basket, basket_policy, alice, exchange):
    basket_policy.accept_id_token = True
    basket_policy.save()
    key = get_signing_key("RS256")
    now = int(timezone.now().timestamp())
    claims = {"iss": ISSUER, "sub": str(alice.pk), "aud": basket.client.client_id, "iat": now, "exp": now + 300}
    id_token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")
    assert "jti" in response.json()["error_description"]


def test_exchanged_token_never_outlives_the_id_tokens_session(basket, basket_policy, make_id_token, exchange):
    # The ID token is valid for an hour, but the session's access token ends in 60 seconds:
    # what is exchanged from the ID token ends with the session, not with the ID token.
    basket_policy.accept_id_token = True
    basket_policy.max_lifetime = 3600
    basket_policy.save()
    id_token = make_id_token(basket.client.client_id, lifetime=3600, session_lifetime=60)
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE)
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    session = AccessToken.objects.get(id_token__isnull=False)
    assert claims["exp"] <= int(session.expires.timestamp())
    assert response.json()["expires_in"] <= 60
