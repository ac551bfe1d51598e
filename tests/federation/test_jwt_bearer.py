"""The RFC 7523 JWT bearer grant: an assertion of a trusted issuer (or signed by a client's
registered key) addressed to this IdP gets a token for the client it names; anything else
is ``invalid_grant``, audited. The on-behalf-of form of the same grant_type
(tests/oauth/test_on_behalf_of.py) is unchanged."""

import dataclasses

import jwt
import pytest

from apps.audit.models import AuditEvent
from apps.clients.services import save_client
from apps.oauth.models import AccessToken, GrantType
from tests.clients.assertions import assertion, ec_pair, jwks
from tests.federation.conftest import BASKET_SA, error_of
from tests.support.http import ISSUER, TOKEN_URL, oauth_error
from tests.support.tokens import verify


def test_a_workload_gets_its_token_with_the_clusters_token_alone(client, workload, external, jwt_bearer):
    """No client secret: the cluster's token is the credential (RFC 7523 section 3.1)."""
    response = jwt_bearer(None, external.token(lifetime=90), scope="discount.fullaccess")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "discount.fullaccess")
    assert body["expires_in"] <= 90  # never beyond the assertion
    claims = verify(client, body["access_token"], "discount")
    assert claims["sub"] == claims["client_id"] == workload.client.client_id
    assert "act" not in claims
    assert AccessToken.objects.get(jti=claims["jti"]).application == workload.client
    event = AuditEvent.objects.get()
    assert (event.outcome, event.client_id, event.details["issuer"], event.details["external_sub"]) == (
        "granted", workload.client.client_id, "cluster", BASKET_SA,
    )  # fmt: skip


@pytest.mark.parametrize("aud", [ISSUER, ISSUER + TOKEN_URL, ["sts.example", ISSUER]])
def test_every_name_of_this_idp_is_an_audience(workload, external, jwt_bearer, aud):
    assert jwt_bearer(None, external.token(aud=aud)).status_code == 200


@pytest.mark.parametrize("aud", ["https://kubernetes.default.svc", ["https://other-idp.test", "api"], None])
def test_an_assertion_not_addressed_to_us_is_invalid_grant(workload, external, jwt_bearer, aud):
    response = jwt_bearer(None, external.token(aud=aud))
    assert error_of(response) == (
        400, "invalid_grant",
        "assertion is not addressed to this IdP (its aud must name this IdP's issuer or token endpoint).",
    )  # fmt: skip
    assert AccessToken.objects.count() == 0
    assert AuditEvent.objects.get().outcome == "refused"


def test_a_client_that_authenticates_must_be_the_one_the_assertion_names(workload, make_client, external, jwt_bearer):
    assert jwt_bearer(workload, external.token()).status_code == 200
    other = make_client("other", grants=[GrantType.JWT_BEARER], scopes=["discount.fullaccess"])
    assert error_of(jwt_bearer(other, external.token())) == (
        400, "invalid_grant", "The assertion names another client than the one authenticated."
    )  # fmt: skip
    named = jwt_bearer(None, external.token(), client_id=other.client.client_id)
    assert error_of(named) == (400, "invalid_grant", "The assertion names another client than client_id.")


def test_a_wrong_client_secret_is_still_invalid_client(workload, external, jwt_bearer):
    wrong = dataclasses.replace(workload, client_secret="not-the-secret")
    assert oauth_error(jwt_bearer(wrong, external.token())) == (401, "invalid_client")


def test_a_client_not_allowed_the_grant_is_unauthorized(basket, trusted, map_to, external, jwt_bearer):
    map_to(trusted, client=basket.client)  # mapped, but the grant is not among its grants
    assert oauth_error(jwt_bearer(None, external.token())) == (400, "unauthorized_client")
    assert AuditEvent.objects.get().outcome == "refused"


def test_an_assertion_mapped_to_a_user_is_refused(basket, trusted, map_to, alice, external, jwt_bearer):
    map_to(trusted, user=alice, sub="partner|alice-1")
    assert error_of(jwt_bearer(None, external.token(sub="partner|alice-1"))) == (
        400, "invalid_grant",
        "The assertion maps to a user: a user's token comes from token exchange, under an exchange policy that "
        "names the issuer.",
    )  # fmt: skip


def test_the_federation_checks_answer_invalid_grant(settings, workload, external, jwt_bearer):
    forged = external.token(key=ec_pair("x").private_key)  # the issuer's kid, another key
    assert error_of(jwt_bearer(None, forged)) == (
        400, "invalid_grant", "assertion is not signed by a current key of issuer cluster."
    )  # fmt: skip
    assert error_of(jwt_bearer(None, external.token(sub="system:serviceaccount:shop:other"))) == (
        400, "invalid_grant", "No mapping of issuer cluster matches the claims of assertion."
    )  # fmt: skip
    settings.IDP = {**settings.IDP, "CLIENT_JWKS_CACHE_SECONDS": 0}  # the keys fetched are stale at once
    external.available = False
    assert error_of(jwt_bearer(None, external.token())) == (
        400, "invalid_grant", "assertion is not signed by a current key of issuer cluster."
    )  # fmt: skip


def test_an_issuer_neither_trusted_nor_a_client_is_invalid_grant(workload, jwt_bearer):
    stranger = jwt.encode({"iss": "https://partner.test", "sub": "user-1", "aud": ISSUER, "exp": 2**31},
                          ec_pair("k").private_key, algorithm="ES256")  # fmt: skip
    assert error_of(jwt_bearer(None, stranger)) == (
        400, "invalid_grant",
        "The assertion's iss is neither a trusted issuer nor a client signing for itself (iss and sub its client_id).",
    )  # fmt: skip


def test_a_client_signing_for_itself_gets_its_token_once_per_assertion(client, apis, jwt_bearer):
    pair = ec_pair("svc-1")
    service = save_client(name="batch", grant_types=[GrantType.JWT_BEARER], scopes=["discount.fullaccess"],
                          jwks=jwks(pair), with_secret=False)  # fmt: skip
    signed = assertion(pair, service.client.client_id)
    response = jwt_bearer(None, signed)
    assert response.status_code == 200, response.content
    assert verify(client, response.json()["access_token"], "discount")["sub"] == service.client.client_id
    # RFC 7523 section 3 item 7: the same assertion twice is refused.
    assert error_of(jwt_bearer(None, signed)) == (
        400,
        "invalid_grant",
        "The assertion was used before (its jti is known).",
    )
    another = ec_pair("svc-1")  # the registered kid, another key
    assert error_of(jwt_bearer(None, assertion(another, service.client.client_id)))[:2] == (400, "invalid_grant")


def test_our_own_access_token_without_requested_token_use_is_not_an_exchange(
    basket, basket_policy, alice_token, jwt_bearer
):
    # The on-behalf-of alias is opt-in: the same assertion without requested_token_use is an
    # RFC 7523 grant, and alice's token is no assertion of a trusted issuer or of a client.
    assert oauth_error(jwt_bearer(basket, alice_token)) == (400, "invalid_grant")
    assert AccessToken.objects.count() == 1  # alice's own


@pytest.mark.parametrize("value", ["not-a-jwt", "e30.e30.e30", "a.b"])
def test_a_malformed_assertion_is_invalid_grant(basket, jwt_bearer, value):
    assert error_of(jwt_bearer(basket, value)) == (
        400,
        "invalid_grant",
        "The assertion is not a JWT (RFC 7523 section 3.1).",
    )


def test_a_missing_assertion_is_invalid_request(basket, jwt_bearer):
    assert error_of(jwt_bearer(basket, None)) == (
        400,
        "invalid_request",
        "Missing assertion parameter (RFC 7523 section 2.1).",
    )
