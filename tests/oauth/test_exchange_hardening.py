"""Regression tests: ways to get more than the subject token plus the policy allow."""

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.grants import token_exchange
from apps.oauth.models import AccessToken, Application
from apps.protocol.errors import OAuth2Error
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.issuance import issue_user_token
from tests.support.http import oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_smuggled_state_on_a_refused_exchange_is_still_audited(basket, basket_policy, exchange):
    response = exchange(basket, "garbage", exchange="x", token_plan="x")
    assert oauth_error(response) == (400, "invalid_request")
    assert AuditEvent.objects.get().outcome == "refused"


def test_actor_token_must_be_the_clients_own_client_credentials_token(
    basket, basket_policy, alice, web, exchange, mint
):
    bob = get_user_model().objects.create_user("bob")
    bob_basket_token = issue_user_token(client=web.client, user=bob, scopes=["shoppingbasket.fullaccess"]).token
    bobs = exchange(basket, bob_basket_token).json()["access_token"]  # client_id=basket, sub=bob
    subject = mint(extra_claims={"may_act": {"sub": str(bob.pk)}})
    response = exchange(basket, subject, actor_token=bobs, actor_token_type=ACCESS_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


def test_policy_scopes_of_other_apis_never_reach_the_token(apis, basket, basket_policy, alice_token, exchange):
    basket_policy.scopes.add(ApiScope.objects.get(name="eventcatalog.write"))
    body = exchange(basket, alice_token).json()
    assert claims_of(body["access_token"])["aud"] == ["discount"]
    refused = exchange(basket, alice_token, audience="discount", scope="eventcatalog.write")
    assert oauth_error(refused) == (400, "invalid_scope")


def test_same_api_exchange_never_widens_the_subjects_scopes(apis, basket, basket_policy, make_policy, mint, exchange):
    policy = make_policy(basket.client, "eventcatalog", scopes=["eventcatalog.read", "eventcatalog.write"])
    policy.subject_audiences.set([apis["eventcatalog"]])
    read_only = mint(scopes=("eventcatalog.read",))
    response = exchange(basket, read_only, audience="eventcatalog", scope="eventcatalog.write")
    assert oauth_error(response) == (400, "invalid_scope")
    granted = exchange(basket, read_only, audience="eventcatalog").json()
    assert granted["scope"] == "eventcatalog.read"


def test_no_user_claims_beyond_the_subject_tokens(apis, basket, basket_policy, alice_token, exchange):
    ApiResource.objects.filter(audience="discount").update(user_claims=["email", "name"])
    assert "email" not in claims_of(alice_token)
    claims = claims_of(exchange(basket, alice_token).json()["access_token"])
    assert "email" not in claims and "name" not in claims


def test_implied_disabled_target_is_invalid_target(apis, basket, basket_policy, alice_token, exchange):
    ApiResource.objects.filter(audience="discount").update(enabled=False)
    assert oauth_error(exchange(basket, alice_token)) == (400, "invalid_target")
    assert oauth_error(exchange(basket, alice_token, scope="discount.fullaccess")) == (400, "invalid_target")


def test_too_many_scopes_is_refused_before_any_query(basket, basket_policy, alice_token, exchange):
    scopes = " ".join(f"s{i}" for i in range(5000))
    assert oauth_error(exchange(basket, alice_token, scope=scopes)) == (400, "invalid_request")


def test_too_many_audiences_is_refused(basket, basket_policy, alice_token, token_request):
    data = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        *[("audience", f"api{i}") for i in range(11)],
    ]
    assert oauth_error(token_request(basket, data)) == (400, "invalid_request")


@pytest.mark.parametrize("field", ["audience", "scope", "resource", "client_id", "subject_token_type"])
def test_nul_bytes_are_invalid_request(basket, basket_policy, alice_token, exchange, field):
    response = exchange(basket, alice_token, **{field: "disc\x00ount"})
    assert oauth_error(response) == (400, "invalid_request")


def test_nul_byte_in_the_authorization_request_is_an_error_page(client, web, alice):
    client.force_login(alice)
    response = client.get("/o/authorize/", {"client_id": "web\x00", "response_type": "code"})
    assert response.status_code == 400
    assert "Location" not in response
    assert connection.vendor in ("sqlite", "postgresql")


def test_subject_of_a_disabled_user_or_client_is_refused(basket, basket_policy, alice, web, alice_token, exchange):
    alice.is_active = False
    alice.save()
    assert oauth_error(exchange(basket, alice_token)) == (400, "invalid_request")
    alice.is_active = True
    alice.save()
    Application.objects.filter(pk=web.client.pk).update(is_active=False)
    assert oauth_error(exchange(basket, alice_token)) == (400, "invalid_request")


def test_exp_is_clamped_to_the_subject_tokens_exp(basket, basket_policy, mint, exchange):
    subject = mint(age=600 - 5)  # a few seconds left
    body = exchange(basket, subject).json()
    assert claims_of(body["access_token"])["exp"] <= claims_of(subject)["exp"]


def test_subject_expiring_between_checks_is_invalid_request(basket, basket_policy, alice_token):
    """limit_lifetime re-checks the subject's exp: it may lapse after signature verification."""
    from apps.grants.exchange import Exchange, ExchangeRequest, limit_lifetime
    from apps.resources.services import TokenPlan

    exchange = Exchange(
        client=basket.client, params=ExchangeRequest(subject_token=alice_token, subject_token_type=None)
    )
    exchange.subject_claims = {"exp": int(timezone.now().timestamp()) - 1}
    exchange.policy = basket_policy
    exchange.plan = TokenPlan(scopes=(), resources=(), lifetime=300, signing_algorithm="RS256")
    with pytest.raises(OAuth2Error) as excinfo:
        limit_lifetime(exchange)
    assert (excinfo.value.status_code, excinfo.value.error) == (400, "invalid_request")


def test_repeated_parameter_on_an_exchange_is_refused_and_audited(basket, basket_policy, alice_token, token_request):
    data = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("scope", "discount.fullaccess"),
        ("scope", "discount.fullaccess"),
    ]
    assert oauth_error(token_request(basket, data)) == (400, "invalid_request")
    event = AuditEvent.objects.get()
    assert event.outcome == "refused" and "more than once: scope" in event.reason


@pytest.mark.django_db(transaction=True)  # autocommit, as served: foreign keys are checked at commit
def test_subject_revoked_between_check_and_write_issues_nothing(
    basket, basket_policy, alice_token, exchange, monkeypatch
):
    """The subject token's row is deleted (revoked) after the checks passed: the new token's
    lineage key refuses its row, its audit event goes with it, and the answer is a refusal."""
    checked = token_exchange.evaluate_exchange

    def revoked_meanwhile(**arguments):
        decided = checked(**arguments)
        AccessToken.objects.filter(pk=decided.subject_row.pk).delete()
        return decided

    monkeypatch.setattr(token_exchange, "evaluate_exchange", revoked_meanwhile)
    tokens_before = AccessToken.objects.count()
    response = exchange(basket, alice_token)
    assert oauth_error(response) == (400, "invalid_request")
    assert "revoked or expired" in response.json()["error_description"]
    assert AccessToken.objects.count() == tokens_before - 1  # only the subject is gone
    assert list(AuditEvent.objects.values_list("outcome", flat=True)) == ["refused"]
