"""Fixtures for transaction tokens: the basket's policy and the Txn-Token request."""

from collections.abc import Callable

import pytest

from apps.oauth.models import TransactionTokenPolicy
from apps.resources.models import ApiScope
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

TXN_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:txn_token"
TRUST_DOMAIN = "https://idp.test"  # the test issuer: the default trust domain


@pytest.fixture
def txn_policy(basket) -> Callable[..., TransactionTokenPolicy]:
    """The basket's transaction-token policy (the workload that receives alice's request)."""

    def make(*, scopes=("shoppingbasket.fullaccess",), client=None, **fields) -> TransactionTokenPolicy:
        fields.setdefault("request_details_keys", "action amount")
        fields.setdefault("request_context_keys", "req_ip")
        policy = TransactionTokenPolicy.objects.create(client=(client or basket).client, **fields)
        policy.scopes.set(ApiScope.objects.filter(name__in=scopes))
        return policy

    return make


@pytest.fixture
def txn_request(token_request):
    """POST a Txn-Token request (the draft's Txn-Token Request) as ``credentials``."""

    def post(credentials, subject_token, **params):
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": TXN_TOKEN_TYPE,
            "audience": TRUST_DOMAIN,
            "scope": "shoppingbasket.fullaccess",
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
        }
        data.update(params)
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post
