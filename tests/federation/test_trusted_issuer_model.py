"""What an operator may register as a trusted issuer and a mapping (the models' clean(), which
the admin, the management API and import_config all run)."""

import pytest
from django.core.exceptions import ValidationError

from apps.oauth.models import IssuerMapping, TrustedIssuer
from tests.support.http import ISSUER

JWKS_URI = "https://cluster.test/openid/v1/jwks"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"issuer": ISSUER}, "issuer", "This is this IdP's own issuer."),
        ({"issuer": "HTTPS://IDP.TEST/"}, "issuer", "This is this IdP's own issuer."),
        ({"issuer": "http://cluster.test"}, "issuer", "Use https (http only for loopback hosts)."),
        ({"issuer": "https://cluster.test/?x=1"}, "issuer", "No query."),
        ({"algorithms": "ES256 HS256"}, "algorithms", "Choose from: ES256 PS256 RS256."),
        ({"algorithms": ""}, "algorithms", "Choose from: ES256 PS256 RS256."),
        ({"jwks_uri": ""}, "jwks_uri", "Give a JWKS URL or inline keys, one of the two."),
        ({"jwks": {"keys": []}}, "jwks_uri", "Give a JWKS URL or inline keys, one of the two."),
        ({"jwks_uri": f"{ISSUER}/.well-known/jwks.json"}, "jwks_uri", "These are this IdP's own keys"),
        ({"jwks_uri": "http://cluster.test/keys"}, "jwks_uri", "Use https (http only for loopback hosts)."),
        ({"jwks_uri": "", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "jwks", "private or symmetric"),
    ],
)
def test_an_issuer_that_cannot_be_trusted_is_refused_with_the_field_named(db, fields, field, message):
    issuer = TrustedIssuer(**{"name": "cluster", "issuer": "https://cluster.test", "jwks_uri": JWKS_URI, **fields})
    with pytest.raises(ValidationError) as refused:
        issuer.full_clean()
    assert message in " ".join(refused.value.message_dict[field])


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({}, "A JSON object of 1 to 5 claims"),
        (["sub"], "A JSON object of 1 to 5 claims"),
        ({f"c{i}": "x" for i in range(6)}, "A JSON object of 1 to 5 claims"),
        ({"1sub": "x"}, "Not a claim name: 1sub."),
        ({"aud": "https://idp.test"}, "Checked for every token, not a mapping: aud."),
        ({"sub": 42}, "Each value a non-empty string"),
        ({"sub": ""}, "Each value a non-empty string"),
        ({"sub": ["a", "b"]}, "Each value a non-empty string"),
    ],
)
def test_a_mapping_matches_exact_string_claims_only(basket, claims, message):
    issuer = TrustedIssuer.objects.create(name="cluster", issuer="https://cluster.test", jwks_uri=JWKS_URI)
    mapping = IssuerMapping(issuer=issuer, claims=claims, client=basket.client)
    with pytest.raises(ValidationError) as refused:
        mapping.full_clean()
    assert message in " ".join(refused.value.message_dict["claims"])


def test_a_mapping_names_one_identity_and_no_claims_twice(basket, alice):
    issuer = TrustedIssuer.objects.create(name="cluster", issuer="https://cluster.test", jwks_uri=JWKS_URI)
    for client, user in ((None, None), (basket.client, alice)):
        with pytest.raises(ValidationError) as refused:
            IssuerMapping(issuer=issuer, claims={"sub": "x"}, client=client, user=user).full_clean()
        assert refused.value.message_dict["client"] == ["Map to a client or to a user, one of the two."]
    IssuerMapping.objects.create(issuer=issuer, claims={"sub": "x", "ns": "shop"}, client=basket.client)
    with pytest.raises(ValidationError) as refused:
        IssuerMapping(issuer=issuer, claims={"ns": "shop", "sub": "x"}, user=alice).full_clean()
    assert refused.value.message_dict["claims"] == ["This issuer already has a mapping for exactly these claims."]
