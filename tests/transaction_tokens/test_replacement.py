"""Replacing a Txn-Token (draft-ietf-oauth-transaction-tokens, "Txn-Token as a
subject_token"): same txn, sub and aud; narrower scope; context only added to; never beyond
the replaced token's expiry; the call chain kept."""

import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.resources.models import ApiScope
from apps.tokens.issuance import issue_transaction_token
from tests.support.forgery import part, resigned
from tests.support.http import oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE
from tests.transaction_tokens.conftest import TRUST_DOMAIN, TXN_TOKEN_TYPE

BOTH = "shoppingbasket.fullaccess shoppingbasket.read"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def read_scope(apis, web):
    scope = ApiScope.objects.create(name="shoppingbasket.read", resource=apis["shoppingbasket"], description="read")
    web.client.allowed_scopes.add(scope)
    return scope


@pytest.fixture
def original(basket, txn_policy, read_scope, mint, txn_request) -> str:
    """The basket's Txn-Token for alice's order: two scopes, tctx from the request."""
    txn_policy(scopes=BOTH.split(), transaction_context={"channel": "web"})
    token = mint(scopes=tuple(BOTH.split()))
    response = txn_request(basket, token, scope=BOTH, request_details=json.dumps({"action": "order", "amount": 150}))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def pricing(make_client, apis, txn_policy, read_scope):
    """A second workload of the trust domain that replaces the Txn-Tokens it receives."""
    workload = make_client("pricing", grants=[TOKEN_EXCHANGE], resource="discount")
    txn_policy(
        client=workload,
        scopes=BOTH.split(),
        request_details_keys="currency",
        accept_txn_tokens=True,
    )
    return workload


def replace(txn_request, credentials, token: str, **params):
    params.setdefault("scope", "shoppingbasket.read")
    return txn_request(credentials, token, subject_token_type=TXN_TOKEN_TYPE, **params)


def test_a_replacement_keeps_txn_sub_and_aud_narrows_scope_and_adds_context(pricing, original, txn_request, basket):
    response = replace(txn_request, pricing, original, request_details=json.dumps({"currency": "EUR"}))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == TXN_TOKEN_TYPE
    assert body["token_type"] == "N_A"
    assert body["scope"] == "shoppingbasket.read"
    before, after = claims_of(original), claims_of(body["access_token"])
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "txntoken+jwt"
    assert (after["txn"], after["sub"], after["aud"]) == (before["txn"], before["sub"], before["aud"])
    assert after["aud"] == TRUST_DOMAIN
    assert after["scope"] == "shoppingbasket.read"
    assert after["req_wl"] == pricing.client.client_id
    assert after["tctx"] == {"action": "order", "amount": 150, "channel": "web", "currency": "EUR"}
    assert after["rctx"]["call_chain"] == [basket.client.client_id, pricing.client.client_id]
    assert after["exp"] <= before["exp"]


def test_a_replacement_never_extends_the_transaction(pricing, txn_policy, original, txn_request):
    pricing.client.transaction_token_policy.max_lifetime = 300
    pricing.client.transaction_token_policy.save()
    after = claims_of(replace(txn_request, pricing, original).json()["access_token"])
    assert after["exp"] <= claims_of(original)["exp"]


def test_a_replacement_is_audited_as_one(pricing, original, txn_request):
    replace(txn_request, pricing, original)
    event = AuditEvent.objects.get(client_id=pricing.client.client_id, outcome="granted")
    assert event.details["replaced"] is True
    assert event.details["txn"] == claims_of(original)["txn"]


def test_a_replacement_may_keep_the_same_scope(pricing, original, txn_request):
    assert replace(txn_request, pricing, original, scope=BOTH).status_code == 200


def test_the_call_chain_grows_with_each_replacement(pricing, original, txn_request, basket):
    token = original
    for _ in range(3):
        token = replace(txn_request, pricing, token).json()["access_token"]
    assert claims_of(token)["rctx"]["call_chain"] == [basket.client.client_id] + [pricing.client.client_id] * 3


def test_the_call_chain_has_a_limit(pricing, original, txn_request):
    token = original
    for _ in range(9):
        response = replace(txn_request, pricing, token)
        assert response.status_code == 200, response.content
        token = response.json()["access_token"]
    response = replace(txn_request, pricing, token)
    assert oauth_error(response) == (400, "invalid_request")
    assert "replaced 9 times already" in response.json()["error_description"]


# --- refusals ---------------------------------------------------------------------------------


def refused(response, status: int, error: str, description: str) -> None:
    assert oauth_error(response) == (status, error), response.content
    assert description in response.json()["error_description"]


def test_a_wider_scope_is_refused(pricing, txn_policy, original, txn_request, apis):
    # Within the replacing workload's policy, beyond the Txn-Token it presents.
    narrow = replace(txn_request, pricing, original).json()["access_token"]
    refused(replace(txn_request, pricing, narrow, scope=BOTH), 400, "invalid_scope", "shoppingbasket.fullaccess")


def test_changing_the_transaction_context_is_refused(pricing, original, txn_request):
    policy = pricing.client.transaction_token_policy
    policy.request_details_keys = "amount"
    policy.save()
    response = replace(txn_request, pricing, original, request_details=json.dumps({"amount": 1}))
    refused(response, 400, "invalid_request", "tctx members are fixed for the transaction: amount")


def test_repeating_the_same_context_value_is_no_change(pricing, original, txn_request):
    policy = pricing.client.transaction_token_policy
    policy.request_details_keys = "amount"
    policy.save()
    assert replace(txn_request, pricing, original, request_details=json.dumps({"amount": 150})).status_code == 200


def test_a_policy_that_does_not_replace_refuses(basket, original, txn_request):
    # The basket's own policy does not accept Txn-Tokens.
    refused(replace(txn_request, basket, original), 400, "invalid_request", "does not allow replacing")


def test_a_workload_without_policy_cannot_replace(make_client, apis, original, txn_request):
    stranger = make_client("stranger", grants=[TOKEN_EXCHANGE], resource="discount")
    refused(replace(txn_request, stranger, original), 400, "unauthorized_client", "No transaction-token policy")


def test_an_expired_txn_token_is_not_replaced(pricing, basket, original, txn_request):
    before = claims_of(original)
    expired = issue_transaction_token(
        txn=before["txn"],
        subject=before["sub"],
        scopes=before["scope"].split(),
        requesting_workload=basket.client.client_id,
        transaction_context=before["tctx"],
        request_context={},
        lifetime=60,
        now=timezone.now() - timedelta(minutes=5),
    ).token
    refused(replace(txn_request, pricing, expired), 400, "invalid_request", "expired")


def test_a_forged_txn_token_is_refused(pricing, original, txn_request):
    """Signed by a key that is not ours, with our kid copied into its header."""
    stranger = ec.generate_private_key(ec.SECP256R1())
    claims = {**claims_of(original), "scope": "shoppingbasket.fullaccess shoppingbasket.read"}
    header = {"typ": "txntoken+jwt", "kid": part(original, 0)["kid"]}
    forged = jwt.encode(claims, stranger, algorithm="ES256", headers=header)
    refused(replace(txn_request, pricing, forged), 400, "invalid_request", "signature or claims invalid")


def test_a_txn_token_of_another_trust_domain_is_refused(settings, pricing, original, txn_request):
    settings.IDP = {**settings.IDP, "TRUST_DOMAIN": "other.example"}
    response = replace(txn_request, pricing, original, audience="other.example")
    refused(response, 400, "invalid_request", "for another trust domain")


def test_an_access_token_is_not_a_txn_token(pricing, mint, read_scope, txn_request):
    access_token = mint(scopes=tuple(BOTH.split()))
    refused(replace(txn_request, pricing, access_token), 400, "invalid_request", "typ must be txntoken+jwt")


def test_a_txn_token_without_txn_is_refused(pricing, original, txn_request):
    # Signed by our own key (what a bug of ours would produce): still refused.
    broken = resigned(original, txn=None)
    refused(replace(txn_request, pricing, broken), 400, "invalid_request", "txn, sub and req_wl are required")


def test_replacement_still_needs_the_trust_domain_and_a_scope(pricing, original, txn_request):
    refused(replace(txn_request, pricing, original, audience="discount"), 400, "invalid_target", "trust domain")
    refused(replace(txn_request, pricing, original, scope=None), 400, "invalid_request", "scope is required")


def test_the_subject_token_type_must_say_txn_token(pricing, original, txn_request):
    # A Txn-Token sent as an access token is judged as one: its typ is wrong.
    response = txn_request(pricing, original, subject_token_type=ACCESS_TOKEN_TYPE, scope="shoppingbasket.read")
    refused(response, 400, "invalid_request", "typ must be at+jwt")
