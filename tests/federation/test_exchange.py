"""Token exchange (RFC 8693) of a trusted issuer's token: the cluster's service-account token
or a partner's ID token in, our token for one of our APIs out, narrowed as every exchange
is; and every way such a token is refused, fail closed, with its exact error, audited."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken, GrantType
from apps.protocol.strength import ACR_MFA
from tests.federation.conftest import BASKET_SA, ID_TOKEN_TYPE, error_of
from tests.support.http import ISSUER
from tests.support.tokens import ACCESS_TOKEN_TYPE, verify


@pytest.fixture
def policy(basket_policy, trusted):
    """The basket may exchange the cluster's tokens (and its users' tokens, as before) for
    discount tokens."""
    basket_policy.trusted_issuers.add(trusted)
    return basket_policy


def test_a_workloads_cluster_token_is_exchanged_for_a_discount_token(
    client, basket, policy, trusted, external, map_to, exchange
):
    mapping = map_to(trusted, client=basket.client)
    # Claims of another issuer's world: none of them may reach our token.
    subject = external.token(scope="discount.fullaccess admin", acr=ACR_MFA, act={"sub": "mallory"}, lifetime=120)
    response = exchange(basket, subject, audience="discount")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["issued_token_type"], body["scope"]) == ("urn:ietf:params:oauth:token-type:access_token",
                                                          "discount.fullaccess")  # fmt: skip
    claims = verify(client, body["access_token"], "discount")
    assert claims["sub"] == basket.client.client_id
    assert claims["act"] == {"sub": basket.client.client_id}
    assert "acr" not in claims and "admin" not in claims["scope"]
    # Never beyond the cluster token: it expires in two minutes, the policy allows five.
    assert claims["exp"] <= jwt.decode(subject, options={"verify_signature": False})["exp"]
    assert body["expires_in"] <= 120
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.parent is None  # no lineage of ours: the subject token is not our token
    event = AuditEvent.objects.get(outcome="granted")
    assert (event.details["issuer"], event.details["mapping"], event.details["external_sub"]) == (
        "cluster", mapping.pk, BASKET_SA,
    )  # fmt: skip
    assert subject not in str(event.details)


def test_a_partner_id_token_is_exchanged_for_alice(client, basket, policy, trusted, external, alice, map_to, exchange):
    map_to(trusted, user=alice, sub="partner|alice-1")
    id_token = external.token(sub="partner|alice-1", aud=ISSUER, email="alice@partner.test")
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE, audience="discount")

    assert response.status_code == 200, response.content
    claims = verify(client, response.json()["access_token"], "discount")
    assert (claims["sub"], claims["act"]) == (str(alice.pk), {"sub": basket.client.client_id})
    assert "email" not in claims  # a user claim of the partner's, not ours to pass on
    assert AccessToken.objects.get(jti=claims["jti"]).user == alice


def test_the_issuers_registered_audience_is_the_one_required(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    trusted.audience = "https://idp.test/cluster"
    trusted.save()
    assert exchange(basket, external.token(aud=["sts", "https://idp.test/cluster"])).status_code == 200
    refused = exchange(basket, external.token(aud=ISSUER))
    assert error_of(refused) == (
        400, "invalid_request",
        "subject_token is not addressed to this IdP (its aud must name https://idp.test/cluster).",
    )  # fmt: skip


def test_an_issuer_the_policy_does_not_name_is_refused(basket, basket_policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    refused = exchange(basket, external.token(), audience="discount")
    assert error_of(refused) == (
        400, "invalid_request", "The exchange policy does not accept tokens of issuer cluster."
    )  # fmt: skip
    event = AuditEvent.objects.get()
    assert (event.outcome, event.reason) == (
        "refused", "invalid_request: The exchange policy does not accept tokens of issuer cluster."
    )  # fmt: skip


def test_a_claim_mapping_that_does_not_match_is_refused(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client, sub=BASKET_SA, namespace="shop")
    # The same service account name, but not the namespace claim the mapping requires.
    refused = exchange(basket, external.token(namespace="staging"))
    assert error_of(refused) == (
        400,
        "invalid_request",
        "No mapping of issuer cluster matches the claims of subject_token.",
    )
    assert AuditEvent.objects.get().outcome == "refused"
    assert exchange(basket, external.token(namespace="shop")).status_code == 200


def test_two_matching_mappings_are_ambiguous_and_refused(basket, policy, trusted, external, alice, map_to, exchange):
    map_to(trusted, client=basket.client)
    map_to(trusted, user=alice, sub=BASKET_SA, namespace="shop")
    refused = exchange(basket, external.token(namespace="shop"))
    assert error_of(refused) == (
        400, "invalid_request", "More than one mapping of issuer cluster matches the claims of subject_token."
    )  # fmt: skip


def test_a_token_whose_kid_was_copied_but_signed_by_another_key_is_refused(
    basket, policy, trusted, external, map_to, exchange
):
    map_to(trusted, client=basket.client)
    forged = external.token(kid=external.current, key=ec.generate_private_key(ec.SECP256R1()))
    assert error_of(exchange(basket, forged)) == (
        400, "invalid_request", "subject_token is not signed by a current key of issuer cluster."
    )  # fmt: skip
    assert AccessToken.objects.count() == 0


def test_our_own_key_is_never_the_issuers(basket, policy, trusted, external, map_to, exchange, alice_token):
    """A token claiming the cluster as iss, signed by one of this IdP's keys under its kid,
    is checked with the cluster's keys only: refused."""
    from apps.keys.services import get_signing_key

    map_to(trusted, client=basket.client)
    ours = get_signing_key("RS256")
    forged = external.token(kid=ours.kid, key=ours.private_key, alg="RS256")
    trusted.algorithms = "RS256 ES256"
    trusted.save()
    assert error_of(exchange(basket, forged))[1:] == (
        "invalid_request", "subject_token is not signed by a current key of issuer cluster."
    )  # fmt: skip


def test_key_rotation_at_the_issuer(settings, basket, policy, trusted, external, map_to, exchange):
    settings.IDP = {**settings.IDP, "CLIENT_JWKS_MIN_REFETCH_SECONDS": 0}
    map_to(trusted, client=basket.client)
    before = external.token()
    assert exchange(basket, before).status_code == 200
    external.rotate()
    # A token of the new key: its kid is unknown to the cached set, which is fetched again.
    assert exchange(basket, external.token()).status_code == 200
    assert external.fetches == 2
    # The withdrawn key's token is refused, though it has not expired.
    assert error_of(exchange(basket, before))[2] == "subject_token is not signed by a current key of issuer cluster."


def test_an_unreachable_jwks_refuses_the_issuers_tokens(settings, basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    external.available = False
    refused = exchange(basket, external.token())
    assert error_of(refused) == (
        400, "invalid_request", "subject_token is not signed by a current key of issuer cluster."
    )  # fmt: skip
    assert AuditEvent.objects.get().outcome == "refused"


def test_cached_keys_are_never_used_past_their_cache_life(
    settings, basket, policy, trusted, external, map_to, exchange
):
    map_to(trusted, client=basket.client)
    assert exchange(basket, external.token()).status_code == 200
    external.available = False
    # Within the cache life the keys fetched stand (an outage of the issuer is not ours).
    assert exchange(basket, external.token()).status_code == 200
    # Past it, with the issuer still unreachable: refused, never the old keys.
    settings.IDP = {**settings.IDP, "CLIENT_JWKS_CACHE_SECONDS": 0, "CLIENT_JWKS_MIN_REFETCH_SECONDS": 0}
    assert error_of(exchange(basket, external.token()))[:2] == (400, "invalid_request")
    external.available = True
    assert exchange(basket, external.token()).status_code == 200


def test_inline_keys_need_no_fetch(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    trusted.jwks, trusted.jwks_uri = external.jwks(), ""
    trusted.full_clean()
    trusted.save()
    external.available = False
    assert exchange(basket, external.token()).status_code == 200
    assert external.fetches == 0


@pytest.mark.parametrize(
    ("token_kwargs", "description"),
    [
        ({"aud": "https://kubernetes.default.svc"}, "subject_token is not addressed to this IdP (its aud must name https://idp.test)."),
        ({"lifetime": -120}, "subject_token has expired."),
        ({"nbf": int(time.time()) + 3600}, "subject_token is not valid yet (nbf or iat in the future)."),
        ({"iat": int(time.time()) + 3600}, "subject_token is not valid yet (nbf or iat in the future)."),
        ({"lifetime": None}, "subject_token has no exp claim."),
    ],
)  # fmt: skip
def test_an_unacceptable_token_is_refused(
    basket, policy, trusted, external, map_to, exchange, token_kwargs, description
):
    map_to(trusted, client=basket.client)
    token = external.token(**token_kwargs)
    assert error_of(exchange(basket, token)) == (400, "invalid_request", description)


def test_an_algorithm_the_issuer_is_not_allowed_is_refused(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    trusted.algorithms = "RS256"
    trusted.save()
    assert error_of(exchange(basket, external.token())) == (
        400, "invalid_request", "subject_token is signed with ES256; issuer cluster may use RS256."
    )  # fmt: skip
    hs256 = jwt.encode({"iss": external.url, "sub": BASKET_SA, "aud": ISSUER, "exp": int(time.time()) + 60},
                       "x" * 32, algorithm="HS256")  # fmt: skip
    assert error_of(exchange(basket, hs256))[2] == "subject_token is signed with HS256; issuer cluster may use RS256."


def test_a_disabled_issuer_is_refused(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    trusted.enabled = False
    trusted.save()
    assert error_of(exchange(basket, external.token())) == (
        400, "invalid_request", "subject_token is from issuer cluster, which is disabled here."
    )  # fmt: skip


def test_a_mapping_to_a_disabled_user_or_client_is_refused(basket, policy, trusted, external, alice, map_to, exchange):
    map_to(trusted, user=alice)
    alice.is_active = False
    alice.save()
    assert error_of(exchange(basket, external.token()))[2] == "subject_token maps to a disabled user."


def test_an_external_token_is_not_an_access_token_of_ours(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    refused = exchange(basket, external.token(), subject_token_type=ACCESS_TOKEN_TYPE)
    assert error_of(refused) == (
        400, "invalid_request", "A token of another issuer is a subject_token of type jwt or id_token."
    )  # fmt: skip


def test_an_issuer_never_registered_is_not_trusted(basket, policy, external, exchange):
    """No TrustedIssuer for this iss: the token is read as one of ours, and is not."""
    refused = exchange(basket, external.token())
    assert error_of(refused)[:2] == (400, "invalid_request")
    assert AccessToken.objects.count() == 0


def test_the_client_still_needs_the_exchange_grant(basket, policy, trusted, external, map_to, exchange):
    map_to(trusted, client=basket.client)
    basket.client.allowed_grant_types = [GrantType.CLIENT_CREDENTIALS]
    basket.client.save()
    assert error_of(exchange(basket, external.token()))[:2] == (400, "unauthorized_client")


def test_the_other_issuers_acr_meets_no_second_factor_requirement(
    basket, policy, trusted, external, alice, apis, map_to, exchange
):
    """An API that requires a second factor takes our word for the sign-in, never another
    issuer's acr: a partner user's token is refused for it, whatever its acr says."""
    map_to(trusted, user=alice, sub="partner|alice-1")
    apis["discount"].require_second_factor = True
    apis["discount"].save()
    refused = exchange(basket, external.token(sub="partner|alice-1", acr=ACR_MFA, amr=["mfa"]), audience="discount")
    assert error_of(refused) == (
        400, "insufficient_user_authentication",
        "The user signed in without a second factor; API discount requires one.",
    )  # fmt: skip
