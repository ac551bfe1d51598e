"""grant_type=jwt-bearer: RFC 7523 section 2.1 (a JWT authorization grant) is not served
yet; only the on-behalf-of form (requested_token_use=on_behalf_of, tests/oauth/test_on_behalf_of.py)."""

import time

import jwt
import pytest

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken
from tests.support.http import ISSUER, oauth_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def assertion(**claims) -> str:
    """A JWT an external issuer could sign (the signature never matters: it is refused)."""
    now = int(time.time())
    payload = {"iss": "https://partner.test", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, "a-shared-secret-of-the-partner-32b", algorithm="HS256")


@pytest.fixture
def jwt_bearer(token_request):
    def post(credentials, assertion: str | None, **params):
        data = {"grant_type": JWT_BEARER, "assertion": assertion, **params}
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post


@pytest.mark.parametrize("aud", ["https://partner.test", ["https://other-idp.test", "api"], None])
def test_assertion_not_addressed_to_us_is_invalid_grant(basket, basket_policy, jwt_bearer, aud):
    response = jwt_bearer(basket, assertion(aud=aud))

    assert oauth_error(response) == (400, "invalid_grant")
    assert "aud" in response.json()["error_description"]


@pytest.mark.parametrize("aud", [ISSUER, f"{ISSUER}/o/token/", ["api", ISSUER]])
def test_assertion_addressed_to_us_is_invalid_grant_until_trusted_issuers_exist(basket, basket_policy, jwt_bearer, aud):
    response = jwt_bearer(basket, assertion(aud=aud))

    assert oauth_error(response) == (400, "invalid_grant")
    assert "only in its on-behalf-of form" in response.json()["error_description"]
    assert AccessToken.objects.count() == 0
    # Audited as every refused exchange-family request is.
    assert AuditEvent.objects.get().outcome == "refused"


def test_our_own_access_token_without_requested_token_use_is_not_an_exchange(
    basket, basket_policy, alice_token, jwt_bearer
):
    # The on-behalf-of alias is opt-in: the same assertion without requested_token_use is an
    # RFC 7523 grant, and alice's token is addressed to an API, not to the IdP.
    assert oauth_error(jwt_bearer(basket, alice_token)) == (400, "invalid_grant")
    assert AccessToken.objects.count() == 1  # alice's own


@pytest.mark.parametrize("value", ["not-a-jwt", "e30.e30.e30", "a.b"])
def test_malformed_assertion_is_invalid_grant(basket, jwt_bearer, value):
    assert oauth_error(jwt_bearer(basket, value)) == (400, "invalid_grant")


def test_missing_assertion_is_invalid_request(basket, jwt_bearer):
    assert oauth_error(jwt_bearer(basket, None)) == (400, "invalid_request")
