"""Token exchange attacks (RFC 8693 sections 2.2.2 and 5, RFC 8707): who may exchange what, for
which target, with which scopes, how deep, and from which (revoked) lineage."""

import uuid

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken, Application, ExchangePolicy
from apps.resources.models import ApiScope
from tests.support.forgery import resigned
from tests.support.http import oauth_error, revoke
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

REFUSED = (400, "invalid_request")


def refused(response) -> tuple[int, str]:
    """(status, error) of a refused exchange, which must have issued nothing and been audited."""
    assert AuditEvent.objects.filter(outcome="refused").exists(), "refusal not audited"
    return oauth_error(response)


def test_control_genuine_and_resigned_subjects_are_exchanged(basket, basket_policy, web, alice, alice_token, exchange):
    """Control: a genuine subject token, and one re-signed and stored by the helper, are exchanged."""
    assert exchange(basket, alice_token).status_code == 200
    assert (
        exchange(basket, resigned(alice_token, jti=str(uuid.uuid4()), store_for=(web.client, alice))).status_code == 200
    )


# --- confused deputy (RFC 8693 section 5) ---------------------------------------------------------


def test_subject_token_for_another_api_is_refused(basket, basket_policy, mint, exchange):
    """Confused deputy: basket exchanges a token whose aud is eventcatalog, not its own API (RFC 8693 5)."""
    response = exchange(basket, mint(scopes=("eventcatalog.read",)))
    assert refused(response) == REFUSED


def test_subject_token_of_another_service_is_refused(
    apis, basket, basket_policy, make_client, exchange, client_credentials_token
):
    """Confused deputy: basket exchanges another service's own client-credentials token (RFC 8693 5)."""
    other = make_client("catalog-admin", scopes=["eventcatalog.read"])
    stolen = client_credentials_token(other)["access_token"]
    assert refused(exchange(basket, stolen)) == REFUSED


def test_exchanged_token_cannot_be_replayed_by_its_audience_as_a_deputy(basket, basket_policy, alice_token, exchange):
    """The discount token basket obtained is not re-exchangeable by basket (aud discount, RFC 8693 5)."""
    discount_token = exchange(basket, alice_token).json()["access_token"]
    assert refused(exchange(basket, discount_token)) == REFUSED


def test_id_token_of_another_client_is_refused(basket, basket_policy, web_tokens, exchange):
    """An ID token issued to the web app, exchanged by basket where ID tokens are accepted (OIDC Core 2, RFC 8693 5)."""
    basket_policy.accept_id_token = True
    basket_policy.save()
    response = exchange(basket, web_tokens["id_token"], subject_token_type="urn:ietf:params:oauth:token-type:id_token")
    assert refused(response) == REFUSED


def test_may_act_naming_another_actor_is_refused(basket, basket_policy, mint, exchange):
    """The subject's may_act names someone else (RFC 8693 4.4)."""
    assert refused(exchange(basket, mint(extra_claims={"may_act": {"sub": "mallory"}}))) == REFUSED


def test_actor_token_of_another_client_is_refused(
    apis, basket, basket_policy, alice_token, exchange, make_client, client_credentials_token
):
    """basket presents another client's token as actor_token to appear as that actor (RFC 8693 2.1, 4.1)."""
    other = make_client("other", scopes=["eventcatalog.read"])
    actor = client_credentials_token(other)["access_token"]
    response = exchange(basket, alice_token, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert refused(response) == REFUSED


# --- scope and audience escalation --------------------------------------------------------------


def test_scope_beyond_the_policy_is_invalid_scope(apis, basket, basket_policy, alice_token, exchange):
    """A scope of the target API that the policy does not grant (RFC 8693 2.2.2, RFC 6749 5.2)."""
    ApiScope.objects.create(name="discount.admin", resource=apis["discount"], description="admin")
    response = exchange(basket, alice_token, scope="discount.fullaccess discount.admin")
    assert refused(response) == (400, "invalid_scope")


def test_scope_of_another_api_is_invalid_scope(basket, basket_policy, alice_token, exchange):
    """A scope of an API other than the target smuggled into the request (RFC 8693 2.1)."""
    response = exchange(basket, alice_token, audience="discount", scope="discount.fullaccess eventcatalog.write")
    assert refused(response) == (400, "invalid_scope")


def test_same_api_exchange_cannot_widen_the_subjects_scopes(apis, basket, make_policy, mint, exchange):
    """Re-exchange into the subject's own API asking for more than it carried (RFC 8693 2.2.2)."""
    policy = make_policy(basket.client, "eventcatalog", scopes=["eventcatalog.read", "eventcatalog.write"])
    policy.subject_audiences.set([apis["eventcatalog"]])
    response = exchange(basket, mint(scopes=("eventcatalog.read",)), scope="eventcatalog.write")
    assert refused(response) == (400, "invalid_scope")


@pytest.mark.parametrize(
    "target",
    [
        {"audience": "eventcatalog"},
        {"resource": "urn:test:eventcatalog"},
        {"audience": "no-such-api"},
        {"resource": "https://evil.test/"},
        {"audience": "discount", "resource": "urn:test:eventcatalog"},
    ],
    ids=["audience-no-policy", "resource-no-policy", "unknown-audience", "unknown-resource", "two-targets"],
)
def test_audience_escalation_is_invalid_target(basket, basket_policy, alice_token, exchange, target):
    """An audience or resource the client has no exchange policy for (RFC 8693 2.2.2, RFC 8707 2)."""
    assert refused(exchange(basket, alice_token, **target)) == (400, "invalid_target")


# --- chains and lineage --------------------------------------------------------------------------


def test_chain_beyond_max_depth_is_refused(basket, basket_policy, alice_token, exchange, discount_service):
    """A second hop when the second service's policy allows one actor (RFC 8693 4.1)."""
    first = exchange(basket, alice_token).json()["access_token"]
    response = exchange(discount_service, first)
    assert refused(response) == REFUSED
    assert "2 deep" in response.json()["error_description"]


def test_exchanged_token_whose_parent_was_revoked_is_refused(
    web, basket, basket_policy, alice_token, exchange, discount_service
):
    """The parent is revoked through /o/revoke_token/; its child cannot be exchanged (RFC 7009 2.1, RFC 8693 2.2.2)."""
    policy = ExchangePolicy.objects.get(client=discount_service.client)
    policy.max_depth = 2  # deep enough: only the revocation stands in the way
    policy.save()
    first = exchange(basket, alice_token).json()["access_token"]
    assert revoke(Client(), web, alice_token).status_code == 200
    assert refused(exchange(discount_service, first)) == REFUSED


def test_revoked_subject_token_is_refused(web, basket, basket_policy, alice_token, exchange):
    """A subject token its client revoked (RFC 7009 2.1, RFC 8693 2.2.2)."""
    assert revoke(Client(), web, alice_token).status_code == 200
    assert refused(exchange(basket, alice_token)) == REFUSED


# --- the client itself --------------------------------------------------------------------------


def test_exchange_without_client_authentication_is_invalid_client(basket, basket_policy, alice_token, exchange):
    """No client authentication, only a client_id (RFC 8693 2.1, RFC 6749 5.2)."""
    response = exchange(None, alice_token, client_id=basket.client.client_id)
    assert refused(response) == (401, "invalid_client")


def test_public_client_cannot_exchange(basket, basket_policy, alice_token, exchange):
    """A public client with its client_id and an empty secret (RFC 8693 2.1, RFC 9700 4.14)."""
    Application.objects.filter(pk=basket.client.pk).update(client_type=Application.CLIENT_PUBLIC)
    response = exchange(None, alice_token, client_id=basket.client.client_id, client_secret="")
    assert refused(response) == (401, "invalid_client")


def test_client_without_the_exchange_grant_is_unauthorized_client(
    apis, alice_token, exchange, make_client, make_policy
):
    """A client with a policy but not the token-exchange grant (RFC 6749 5.2)."""
    service = make_client("svc", scopes=["discount.fullaccess"], resource="shoppingbasket")
    make_policy(service.client, "discount")
    assert refused(exchange(service, alice_token)) == (400, "unauthorized_client")


@pytest.mark.parametrize(
    "params",
    [
        {"actor_token": "x"},
        {"actor_token_type": ACCESS_TOKEN_TYPE},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
        {"subject_token_type": None},
    ],
    ids=["actor-token-alone", "actor-type-alone", "refresh-token", "id-token", "saml2-subject", "no-subject-type"],
)
def test_malformed_token_type_parameters_are_invalid_request(basket, basket_policy, alice_token, exchange, params):
    """actor_token without its type (or the reverse), unsupported token types (RFC 8693 2.1, 2.2.2)."""
    assert refused(exchange(basket, alice_token, **params)) == REFUSED


def test_jwt_bearer_alias_without_on_behalf_of_is_invalid_grant(basket, basket_policy, alice_token, token_request):
    """jwt-bearer without requested_token_use is RFC 7523 2.1, and alice's token is not
    addressed to the IdP (RFC 7523 3.1): never an exchange."""
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": alice_token}
    assert refused(token_request(basket, data)) == (400, "invalid_grant")


def test_jwt_bearer_alias_runs_the_confused_deputy_check(basket, basket_policy, mint, token_request):
    """The on-behalf-of alias with a token for another API (RFC 8693 5)."""
    data = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "requested_token_use": "on_behalf_of",
        "assertion": mint(scopes=("eventcatalog.read",)),
    }
    assert refused(token_request(basket, data)) == REFUSED


def test_repeated_subject_token_is_invalid_request(basket, basket_policy, alice_token, mint, token_request):
    """Two subject_tokens, hoping one is checked and the other issued from (RFC 6749 3.2, RFC 8693 2.1)."""
    data = [
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", mint(scopes=("eventcatalog.read",))),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ]
    assert refused(token_request(basket, data)) == REFUSED
    assert AccessToken.objects.count() == 2
