"""TransactionTokenPolicy: what an operator may save, and how the policy reads."""

import pytest
from django.core.exceptions import ValidationError

from apps.oauth.models import TransactionTokenPolicy


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"request_details_keys": "action 1amount"}, "request_details_keys", "Not a member name: 1amount"),
        ({"request_context_keys": "req ip{"}, "request_context_keys", "Not a member name: ip{"),
        ({"request_context_keys": "req_ip call_chain"}, "request_context_keys", "Set by the IdP itself: call_chain"),
        ({"transaction_context": ["web"]}, "transaction_context", "Must be a JSON object."),
        ({"transaction_context": {"limit": float("nan")}}, "transaction_context", "Must be a JSON object."),
        ({"transaction_context": {"limit": float("inf")}}, "transaction_context", "Must be a JSON object."),
        ({"transaction_context": {"blob": "x" * 3000}}, "transaction_context", "At most 2048 bytes"),
        (
            {"transaction_context": {"action": "order"}, "request_details_keys": "action"},
            "transaction_context",
            "Also named in request_details_keys: action",
        ),
    ],
)
def test_an_invalid_policy_is_refused_with_the_field_named(basket, fields, field, message):
    policy = TransactionTokenPolicy(client=basket.client, **fields)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert message in " ".join(refused.value.message_dict[field])


@pytest.mark.parametrize("lifetime", [0, 301])
def test_the_lifetime_is_seconds_to_a_few_minutes(basket, lifetime):
    with pytest.raises(ValidationError) as refused:
        TransactionTokenPolicy(client=basket.client, max_lifetime=lifetime).full_clean()
    assert "max_lifetime" in refused.value.message_dict


def test_a_valid_policy_saves_and_reads_as_a_sentence(basket, txn_policy):
    policy = txn_policy(accept_txn_tokens=True, max_lifetime=90)
    policy.full_clean()
    assert policy.request_details_names == {"action", "amount"}
    assert policy.summary() == (
        "basket may get Txn-Tokens for shoppingbasket [shoppingbasket.fullaccess], tctx from action amount, "
        "rctx from req_ip, replaces Txn-Tokens, 90 s"
    )


def test_a_policy_change_reaches_the_token_endpoint_at_once(basket, txn_policy, alice_token, txn_request):
    """The client cache (apps/clients/config_cache.py) learns of every saved policy change."""
    policy = txn_policy()
    assert txn_request(basket, alice_token).status_code == 200
    policy.enabled = False
    policy.save()
    assert txn_request(basket, alice_token).json()["error"] == "unauthorized_client"
    policy.enabled = True
    policy.save()
    policy.scopes.clear()
    assert txn_request(basket, alice_token).json()["error"] == "invalid_scope"
