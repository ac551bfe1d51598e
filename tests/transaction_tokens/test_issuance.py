"""The Txn-Token service at /o/token/ (draft-ietf-oauth-transaction-tokens): issuance, the
token's exact header and claims, and every refusal with its exact error."""

import json
import uuid
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken
from apps.resource_server.dpop import generate_key, make_proof
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token, store_access_token
from tests.support.forgery import part, signed_by_stranger
from tests.support.http import TOKEN_URL, basic_auth, form_post, introspect, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, TOKEN_EXCHANGE, jwks
from tests.transaction_tokens.conftest import TRUST_DOMAIN, TXN_TOKEN_TYPE

DETAILS = json.dumps({"action": "order", "amount": 150})
CONTEXT = json.dumps({"req_ip": "198.51.100.7"})


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- issuance ---------------------------------------------------------------------------------


def test_the_basket_gets_a_txn_token_for_alices_request(client, basket, txn_policy, alice, alice_token, txn_request):
    txn_policy(transaction_context={"channel": "web"})

    response = txn_request(basket, alice_token, request_details=DETAILS, request_context=CONTEXT)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
    assert body["issued_token_type"] == TXN_TOKEN_TYPE
    assert body["token_type"] == "N_A"
    assert body["expires_in"] == 60
    assert body["scope"] == "shoppingbasket.fullaccess"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "txntoken+jwt"
    assert header["alg"] == "ES256"
    # Signed with a key of our JWKS, verifiable by any workload of the trust domain.
    key = jwks(client)[header["kid"]]
    claims = jwt.decode(body["access_token"], key.key, algorithms=["ES256"], audience=TRUST_DOMAIN)
    assert set(claims) == {"iss", "aud", "iat", "exp", "txn", "sub", "scope", "req_wl", "tctx", "rctx"}
    assert claims["aud"] == TRUST_DOMAIN
    assert claims["iss"] == "https://idp.test"
    assert claims["sub"] == str(alice.pk)  # the subject token's sub
    assert claims["scope"] == "shoppingbasket.fullaccess"
    assert claims["req_wl"] == basket.client.client_id
    assert claims["tctx"] == {"action": "order", "amount": 150, "channel": "web"}
    assert claims["rctx"] == {"req_ip": "198.51.100.7"}
    assert claims["exp"] - claims["iat"] == 60
    assert str(uuid.UUID(claims["txn"])) == claims["txn"]


def test_every_txn_token_names_a_new_transaction(basket, txn_policy, alice_token, txn_request):
    txn_policy()
    first, second = (claims_of(txn_request(basket, alice_token).json()["access_token"]) for _ in range(2))
    assert first["txn"] != second["txn"]


def test_a_txn_token_is_never_stored_and_its_issuance_is_audited(basket, txn_policy, alice, alice_token, txn_request):
    policy = txn_policy()
    rows = AccessToken.objects.count()

    token = txn_request(basket, alice_token).json()["access_token"]

    assert AccessToken.objects.count() == rows
    event = AuditEvent.objects.get(outcome="granted", client_id=basket.client.client_id)
    assert event.event_type == "token.exchange"
    assert event.subject == str(alice.pk)
    assert event.audience == [TRUST_DOMAIN]
    assert event.scopes == "shoppingbasket.fullaccess"
    assert event.details["issued_token_type"] == TXN_TOKEN_TYPE
    assert event.details["txn"] == claims_of(token)["txn"]
    assert event.details["policy"] == policy.pk
    assert event.details["replaced"] is False
    assert token not in json.dumps(event.details)


def test_the_trust_domain_is_a_setting(settings, basket, txn_policy, alice_token, txn_request):
    settings.IDP = {**settings.IDP, "TRUST_DOMAIN": "shop.example"}
    txn_policy()

    assert oauth_error(txn_request(basket, alice_token)) == (400, "invalid_target")  # the issuer no longer is
    token = txn_request(basket, alice_token, audience="shop.example").json()["access_token"]
    assert claims_of(token)["aud"] == "shop.example"


def test_the_lifetime_is_the_policys(basket, txn_policy, alice_token, txn_request):
    txn_policy(max_lifetime=15)
    body = txn_request(basket, alice_token).json()
    claims = claims_of(body["access_token"])
    assert body["expires_in"] == 15
    assert claims["exp"] - claims["iat"] == 15


def test_a_txn_token_never_outlives_its_subject_token(basket, txn_policy, web, alice, txn_request):
    txn_policy(max_lifetime=300)
    plan = plan_token(allowed_scopes=web.client.allowed_scope_objects(), requested_scopes=["shoppingbasket.fullaccess"])
    # Issued so that 20 seconds of its life remain.
    issued = issue_access_token(
        client_id=web.client.client_id,
        user=alice,
        plan=plan,
        now=timezone.now() - timedelta(seconds=plan.lifetime - 20),
    )
    store_access_token(issued=issued, application=web.client, user=alice)

    body = txn_request(basket, issued.token).json()
    assert issued.claims["exp"] - 1 <= claims_of(body["access_token"])["exp"] <= issued.claims["exp"]
    assert body["expires_in"] <= 20


def test_a_dpop_proof_does_not_bind_a_txn_token(client, basket, txn_policy, alice_token):
    """A Txn-Token travels the whole call chain, each hop presenting it: it is never bound to
    the requesting workload's key (the draft defines no binding)."""
    txn_policy()
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": TXN_TOKEN_TYPE,
        "audience": TRUST_DOMAIN,
        "scope": "shoppingbasket.fullaccess",
        "subject_token": alice_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    response = form_post(
        client,
        TOKEN_URL,
        data,
        HTTP_AUTHORIZATION=basic_auth(basket.client.client_id, basket.client_secret),
        HTTP_DPOP=make_proof(generate_key(), "POST", "https://idp.test/o/token/"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "N_A"
    assert "cnf" not in claims_of(response.json()["access_token"])


# --- refusals ---------------------------------------------------------------------------------


def refused(response, status: int, error: str, description: str = "") -> None:
    assert oauth_error(response) == (status, error), response.content
    assert description in response.json().get("error_description", "")


@pytest.mark.parametrize(
    ("params", "error", "description"),
    [
        ({"audience": "https://another.example"}, "invalid_target", "only for the trust domain https://idp.test"),
        ({"audience": "discount"}, "invalid_target", "only for the trust domain"),  # an API is no trust domain
        ({"audience": None}, "invalid_request", "audience is required"),
        ({"resource": "urn:test:discount"}, "invalid_target", "send no resource"),
        ({"scope": None}, "invalid_request", "scope is required"),
        ({"scope": ""}, "invalid_request", "scope is required"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:self_signed"}, "invalid_request", "Unsupported"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:unsigned_json"}, "invalid_request", "Unsupported"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "invalid_request", "Unsupported"),
        ({"subject_token_type": ID_TOKEN_TYPE}, "invalid_request", "Unsupported"),
        ({"subject_token_type": None}, "invalid_request", "subject_token and subject_token_type are required"),
        ({"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE}, "invalid_request", "no actor_token"),
        ({"request_details": "not json"}, "invalid_request", "request_details must be a JSON object"),
        ({"request_details": "[1, 2]"}, "invalid_request", "request_details must be a JSON object"),
        ({"request_context": '"req_ip"'}, "invalid_request", "request_context must be a JSON object"),
        ({"request_details": json.dumps({"action": "x" * 5000})}, "invalid_request", "longer than 4096"),
        ({"request_details": json.dumps({"price": 1})}, "invalid_request", "does not allow: price"),
        ({"request_context": json.dumps({"call_chain": ["evil"]})}, "invalid_request", "does not allow: call_chain"),
    ],
)
def test_a_malformed_request_is_refused(basket, txn_policy, alice_token, txn_request, params, error, description):
    txn_policy()
    refused(txn_request(basket, alice_token, **params), 400, error, description)


def test_audience_twice_is_refused(basket, txn_policy, alice_token, token_request):
    txn_policy()
    data = [
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", TXN_TOKEN_TYPE),
        ("audience", TRUST_DOMAIN),
        ("audience", TRUST_DOMAIN),
        ("scope", "shoppingbasket.fullaccess"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ]
    # RFC 8693 allows several audiences; a Txn-Token is for exactly one trust domain.
    refused(token_request(basket, data), 400, "invalid_target", "only for the trust domain")


def test_a_scope_wider_than_the_subject_tokens_is_refused(basket, txn_policy, alice_token, txn_request):
    txn_policy(scopes=["shoppingbasket.fullaccess", "eventcatalog.read"])  # the policy would allow it
    response = txn_request(basket, alice_token, scope="shoppingbasket.fullaccess eventcatalog.read")
    refused(response, 400, "invalid_scope", "Wider than the subject token's scope: eventcatalog.read")


def test_a_scope_beyond_the_policy_is_refused(basket, txn_policy, alice_token, txn_request):
    txn_policy(scopes=[])
    refused(
        txn_request(basket, alice_token),
        400,
        "invalid_scope",
        "Beyond the transaction-token policy: shoppingbasket.fullaccess",
    )


def test_a_workload_without_a_policy_is_refused_and_audited(basket, alice_token, txn_request):
    refused(txn_request(basket, alice_token), 400, "unauthorized_client", "No transaction-token policy")
    event = AuditEvent.objects.get(client_id=basket.client.client_id)
    assert event.outcome == "refused"
    assert event.reason.startswith("unauthorized_client: No transaction-token policy")
    assert event.details["requested_token_type"] == TXN_TOKEN_TYPE


def test_a_disabled_policy_allows_nothing(basket, txn_policy, alice_token, txn_request):
    txn_policy(enabled=False)
    refused(txn_request(basket, alice_token), 400, "unauthorized_client")


def test_a_client_not_allowed_token_exchange_is_refused(make_client, apis, alice_token, txn_policy, txn_request):
    gateway = make_client("gateway", grants=["client_credentials"], resource="shoppingbasket")
    txn_policy(client=gateway)
    refused(txn_request(gateway, alice_token), 400, "unauthorized_client")


def test_a_token_for_another_api_is_refused(basket, txn_policy, web, alice, mint, txn_request):
    txn_policy(scopes=["eventcatalog.read"])
    token = mint(scopes=("eventcatalog.read",))  # alice's token for the event catalog, not the basket
    refused(txn_request(basket, token, scope="eventcatalog.read"), 400, "invalid_request", "not issued for this client")


def test_the_policy_may_name_the_subject_audiences(basket, txn_policy, apis, mint, txn_request):
    policy = txn_policy(scopes=["eventcatalog.read"])
    policy.subject_audiences.set([apis["eventcatalog"]])
    response = txn_request(basket, mint(scopes=("eventcatalog.read",)), scope="eventcatalog.read")
    assert response.status_code == 200, response.content


def test_a_revoked_subject_token_is_refused(basket, txn_policy, alice_token, txn_request):
    txn_policy()
    AccessToken.objects.all().delete()
    refused(txn_request(basket, alice_token), 400, "invalid_request", "revoked or expired")


def test_an_expired_subject_token_is_refused(basket, txn_policy, mint, txn_request):
    txn_policy()
    refused(txn_request(basket, mint(age=24 * 3600)), 400, "invalid_request", "expired")


def test_a_disabled_users_token_is_refused(basket, txn_policy, alice, alice_token, txn_request):
    txn_policy()
    alice.is_active = False
    alice.save()
    refused(txn_request(basket, alice_token), 400, "invalid_request", "disabled")


def test_a_forged_subject_token_is_refused(basket, txn_policy, alice_token, txn_request):
    txn_policy()
    refused(txn_request(basket, signed_by_stranger(alice_token)), 400, "invalid_request", "not acceptable")


# --- a Txn-Token is not an access token --------------------------------------------------------


@pytest.fixture
def txn_token(basket, txn_policy, alice_token, txn_request) -> str:
    txn_policy()
    return txn_request(basket, alice_token).json()["access_token"]


def test_a_txn_token_is_no_subject_token_for_an_access_token(basket, basket_policy, txn_token, exchange):
    # Named as what it is: a type the exchange of access tokens does not take.
    response = exchange(basket, txn_token, subject_token_type=TXN_TOKEN_TYPE, scope="discount.fullaccess")
    refused(response, 400, "invalid_request", "Unsupported subject_token_type")
    # Passed off as an access token: its typ gives it away.
    refused(exchange(basket, txn_token, scope="discount.fullaccess"), 400, "invalid_request", "typ must be at+jwt")


def test_a_txn_token_opens_no_userinfo(client, txn_token):
    response = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {txn_token}")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_txn_token_is_inactive_at_introspection(client, basket, txn_token):
    response = introspect(client, basket, txn_token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_its_header_names_our_signing_key(client, txn_token):
    assert part(txn_token, 0)["kid"] in {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
