"""JWT attacks (RFC 8725, RFC 9068) on the three places a token comes back: the resource-server
toolkit (401), token exchange's subject_token (400 invalid_request, RFC 8693 section 2.2.2) and
introspection (200 {"active": false}, RFC 7662 section 2.2)."""

import time

import jwt
import pytest
from django.test import Client

from apps.oauth.models import AccessToken
from tests.support.forgery import (
    INJECTED_KIDS,
    alg_none,
    hs256_with_public_key,
    part,
    resigned,
    signed_by_stranger,
    stranger_jwk_header,
    with_claims,
    with_header,
)
from tests.support.http import introspect, oauth_error
from tests.support.tokens import ID_TOKEN_TYPE

INACTIVE = {"active": False}


def now() -> int:
    return int(time.time())


# --- resource server toolkit (RFC 9068 section 4) ---------------------------------------------


def test_rs_genuine_token_is_accepted(resource_server, catalog_token):
    """Control: the forgeries below start from this token, which the resource server accepts."""
    assert resource_server(catalog_token) == 200


def test_rs_alg_none_is_401(resource_server, catalog_token):
    """alg none with the signature stripped (RFC 8725 2.1, 3.1)."""
    assert resource_server(alg_none(catalog_token)) == 401


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_rs_hs256_signed_with_our_public_key_is_401(resource_server, catalog_token, form):
    """HS256 keyed with our published RSA public key: algorithm confusion (RFC 8725 2.1, 3.1)."""
    assert resource_server(hs256_with_public_key(catalog_token, form)) == 401


@pytest.mark.parametrize("kid", INJECTED_KIDS)
def test_rs_injected_kid_is_401(resource_server, catalog_token, kid):
    """Unknown, path-traversal, SQL or oversized kid never selects a key (RFC 8725 3.10)."""
    assert resource_server(with_header(catalog_token, kid=kid)) == 401


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_rs_jku_and_x5u_headers_are_ignored(resource_server, catalog_token, member):
    """A token signed by an attacker key pointing at its own key set via jku/x5u (RFC 8725 3.10)."""
    forged = signed_by_stranger(catalog_token, kid="attacker", **{member: "https://evil.test/jwks.json"})
    assert resource_server(forged) == 401


def test_rs_embedded_jwk_is_ignored(resource_server, catalog_token):
    """A token carrying the attacker's own public key in its jwk header (RFC 7515 4.1.3, RFC 8725 3.10)."""
    key, public = stranger_jwk_header()
    forged = jwt.encode(part(catalog_token, 1), key, algorithm="ES256", headers={"typ": "at+jwt", "jwk": public})
    assert resource_server(forged) == 401


def test_rs_foreign_signature_under_our_kid_is_401(resource_server, catalog_token):
    """Claims signed by another key but naming our kid (RFC 7515 5.2)."""
    assert resource_server(signed_by_stranger(catalog_token)) == 401


@pytest.mark.parametrize(
    "issuer", ["https://evil.test", "https://idp.test.evil.test", "https://idp.test/", "http://idp.test"]
)
def test_rs_token_from_another_issuer_is_401(resource_server, catalog_token, issuer):
    """A correctly signed token whose iss is not exactly ours (RFC 9068 4, RFC 8725 3.8)."""
    assert resource_server(resigned(catalog_token, iss=issuer)) == 401


def test_rs_expired_beyond_leeway_is_401(resource_server, catalog_token):
    """exp more than the 30 s leeway in the past (RFC 9068 4, RFC 7519 4.1.4)."""
    assert resource_server(resigned(catalog_token, exp=now() - 60)) == 401


def test_rs_nbf_in_the_future_beyond_leeway_is_401(resource_server, catalog_token):
    """nbf two minutes ahead, beyond the leeway (RFC 7519 4.1.5)."""
    assert resource_server(resigned(catalog_token, nbf=now() + 120)) == 401


def test_rs_iat_in_the_future_beyond_leeway_is_401(resource_server, catalog_token):
    """iat two minutes ahead: a token not yet issued (RFC 9068 4, RFC 7519 4.1.6)."""
    assert resource_server(resigned(catalog_token, iat=now() + 120)) == 401


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"])
def test_rs_missing_required_claim_is_401(resource_server, catalog_token, claim):
    """A signed token lacking one of RFC 9068 2.2's required claims."""
    assert resource_server(resigned(catalog_token, **{claim: None})) == 401


def test_rs_tampered_payload_is_401(resource_server, catalog_token):
    """A scope added to the payload, original signature kept (RFC 7515 5.2)."""
    forged = with_claims(catalog_token, scope="eventcatalog.read eventcatalog.write")
    assert resource_server(forged, method="post") == 401


def test_rs_token_for_another_audience_is_401(resource_server, catalog_token):
    """A genuine token with another API's aud (RFC 9068 4, RFC 8707)."""
    assert resource_server(resigned(catalog_token, aud=["shoppingbasket"])) == 401


def test_rs_real_id_token_as_access_token_is_401(resource_server, web_tokens):
    """An OpenID Connect ID token presented as a bearer access token (RFC 9068 4, RFC 8725 3.11)."""
    assert resource_server(web_tokens["id_token"]) == 401


@pytest.mark.parametrize("typ", ["JWT", "jwt", "id_token+jwt", "application/jwt"])
def test_rs_signed_token_with_a_typ_other_than_at_jwt_is_401(resource_server, catalog_token, typ):
    """A correctly signed token for this API, typed as an ID token or plain JWT (RFC 9068 2.1, 4)."""
    assert resource_server(resigned(catalog_token, typ=typ)) == 401


# --- token exchange: subject_token (RFC 8693 section 2.2.2) -----------------------------------


def refused_exchange(exchange, basket, subject_token, **params) -> tuple[int, str]:
    before = AccessToken.objects.count()
    response = exchange(basket, subject_token, **params)
    assert AccessToken.objects.count() == before, "a refused exchange issued a token"
    return oauth_error(response)


def test_exchange_genuine_subject_is_accepted(basket, basket_policy, alice_token, exchange):
    """Control: the forgeries below start from this subject token, which is exchanged."""
    assert exchange(basket, alice_token).status_code == 200


def test_exchange_alg_none_subject_is_invalid_request(basket, basket_policy, alice_token, exchange):
    """subject_token with alg none (RFC 8725 2.1, RFC 8693 2.2.2)."""
    assert refused_exchange(exchange, basket, alg_none(alice_token)) == (400, "invalid_request")


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_exchange_hs256_with_our_public_key_is_invalid_request(basket, basket_policy, alice_token, exchange, form):
    """subject_token HS256-signed with our public key (RFC 8725 2.1, RFC 8693 2.2.2)."""
    forged = hs256_with_public_key(alice_token, form)
    assert refused_exchange(exchange, basket, forged) == (400, "invalid_request")


@pytest.mark.parametrize("kid", INJECTED_KIDS)
def test_exchange_injected_kid_is_invalid_request(basket, basket_policy, alice_token, exchange, kid):
    """subject_token with an unknown, traversal, SQL or oversized kid (RFC 8725 3.10)."""
    assert refused_exchange(exchange, basket, with_header(alice_token, kid=kid)) == (400, "invalid_request")


def test_exchange_embedded_jwk_subject_is_invalid_request(basket, basket_policy, alice_token, exchange):
    """subject_token signed by an attacker key it embeds as jwk, with jku set (RFC 8725 3.10)."""
    _key, public = stranger_jwk_header()
    forged = signed_by_stranger(alice_token, jwk=public, jku="https://evil.test/jwks.json")
    assert refused_exchange(exchange, basket, forged) == (400, "invalid_request")


@pytest.mark.parametrize("issuer", ["https://evil.test", "https://idp.test.evil.test", "https://idp.test/"])
def test_exchange_subject_from_another_issuer_is_invalid_request(
    basket, basket_policy, web, alice, alice_token, exchange, issuer
):
    """A stored, correctly signed subject_token whose iss is not exactly ours (RFC 8693 2.2.2)."""
    forged = resigned(alice_token, iss=issuer, store_for=(web.client, alice))
    assert refused_exchange(exchange, basket, forged) == (400, "invalid_request")


def test_exchange_expired_subject_is_invalid_request(basket, basket_policy, mint, exchange):
    """A subject_token one second past its exp (RFC 8693 2.2.2, RFC 7519 4.1.4)."""
    assert refused_exchange(exchange, basket, mint(age=601)) == (400, "invalid_request")


def test_exchange_subject_with_nbf_in_the_future_is_invalid_request(basket, basket_policy, mint, exchange):
    """A stored subject_token that is not valid before two minutes from now (RFC 7519 4.1.5)."""
    subject = mint(extra_claims={"nbf": now() + 120})
    assert refused_exchange(exchange, basket, subject) == (400, "invalid_request")


def test_exchange_subject_with_iat_in_the_future_is_invalid_request(basket, basket_policy, mint, exchange):
    """A stored subject_token issued two minutes in the future (RFC 7519 4.1.6)."""
    assert refused_exchange(exchange, basket, mint(age=-120)) == (400, "invalid_request")


def test_exchange_tampered_subject_is_invalid_request(basket, basket_policy, alice_token, exchange):
    """subject_token with discount.fullaccess added to its payload, signature kept (RFC 7515 5.2)."""
    forged = with_claims(alice_token, scope="shoppingbasket.fullaccess discount.fullaccess")
    assert refused_exchange(exchange, basket, forged) == (400, "invalid_request")


def test_exchange_id_token_typed_as_access_token_is_invalid_request(basket, basket_policy, web_tokens, exchange):
    """A real ID token sent with subject_token_type access_token (RFC 9068 2.1, RFC 8725 3.11)."""
    assert refused_exchange(exchange, basket, web_tokens["id_token"]) == (400, "invalid_request")


def test_exchange_id_token_where_the_policy_refuses_them_is_invalid_request(
    basket, basket_policy, web_tokens, exchange
):
    """A real ID token as id_token subject when the policy accepts none (RFC 8693 2.2.2)."""
    response = refused_exchange(exchange, basket, web_tokens["id_token"], subject_token_type=ID_TOKEN_TYPE)
    assert response == (400, "invalid_request")


def test_exchange_access_token_typed_as_id_token_is_invalid_request(basket, basket_policy, alice_token, exchange):
    """An access token passed off as an ID token to a policy that accepts ID tokens (RFC 8693 3)."""
    basket_policy.accept_id_token = True
    basket_policy.save()
    response = refused_exchange(exchange, basket, alice_token, subject_token_type=ID_TOKEN_TYPE)
    assert response == (400, "invalid_request")


# --- introspection (RFC 7662 section 2.2) ------------------------------------------------------


def test_introspection_genuine_token_is_active(catalog_api, catalog_token):
    """Control: the forgeries below start from this token, which introspects as active."""
    assert introspect(Client(), catalog_api, catalog_token).json()["active"] is True


def test_introspection_of_alg_none_is_inactive(catalog_api, catalog_token):
    """An alg-none copy of a live token is not that token (RFC 8725 2.1)."""
    assert introspect(Client(), catalog_api, alg_none(catalog_token)).json() == INACTIVE


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_introspection_of_hs256_with_our_public_key_is_inactive(catalog_api, catalog_token, form):
    """HS256 signed with our public key, same claims as a live token (RFC 8725 2.1)."""
    response = introspect(Client(), catalog_api, hs256_with_public_key(catalog_token, form))
    assert (response.status_code, response.json()) == (200, INACTIVE)


@pytest.mark.parametrize("kid", INJECTED_KIDS)
def test_introspection_of_injected_kid_is_inactive(catalog_api, catalog_token, kid):
    """A live token's claims under an injected kid (RFC 8725 3.10)."""
    response = introspect(Client(), catalog_api, with_header(catalog_token, kid=kid))
    assert (response.status_code, response.json()) == (200, INACTIVE)


def test_introspection_of_tampered_token_is_inactive(catalog_api, catalog_token):
    """A live token with a widened scope in its payload (RFC 7515 5.2)."""
    response = introspect(Client(), catalog_api, with_claims(catalog_token, scope="eventcatalog.write"))
    assert (response.status_code, response.json()) == (200, INACTIVE)


def test_introspection_of_token_from_another_issuer_is_inactive(catalog_api, catalog_token):
    """A never-stored token re-signed with another iss (RFC 7662 2.2)."""
    response = introspect(Client(), catalog_api, resigned(catalog_token, iss="https://evil.test"))
    assert (response.status_code, response.json()) == (200, INACTIVE)


def test_introspection_of_an_id_token_is_inactive(catalog_api, web_tokens):
    """An ID token is not an access token (RFC 7662 2.2, RFC 9068 2.1)."""
    response = introspect(Client(), catalog_api, web_tokens["id_token"])
    assert (response.status_code, response.json()) == (200, INACTIVE)
