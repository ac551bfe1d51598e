"""What a security review of the federation found, each closed by a rule with its test:
budgets for the RFC 7523 grant, times that are no times, identities another issuer never
reaches, and refusals that say who the assertion claimed to be."""

import pytest

from apps.audit.models import AuditEvent
from apps.clients.services import save_client
from apps.oauth.models import AccessToken, Application, GrantType
from apps.ratelimit import middleware
from apps.resources.models import ApiScope
from tests.clients.assertions import assertion, ec_pair, jwks
from tests.federation.conftest import error_of
from tests.support.forgery import with_header

WINDOW_START = 1_800_000_000


@pytest.fixture
def budget(rate_limits, monkeypatch):
    monkeypatch.setattr(middleware, "now", lambda: float(WINDOW_START))
    rate_limits(client=(2, 60))


def test_one_external_token_cannot_mint_tokens_without_end(budget, workload, external, jwt_bearer):
    token = external.token()
    answers = [jwt_bearer(None, token).status_code for _ in range(4)]
    assert answers == [200, 200, 429, 429]
    assert AccessToken.objects.count() == 2
    # Another workload of the same cluster has its own budget: it is answered on its merits
    # (it has no mapping), not refused for the first one's spending.
    other = jwt_bearer(None, external.token(sub="system:serviceaccount:shop:other"))
    assert error_of(other)[:2] == (400, "invalid_grant")


def test_a_clients_own_assertions_spend_its_client_budget(budget, apis, jwt_bearer, token_request):
    pair = ec_pair("svc")
    service = save_client(name="batch", grant_types=[GrantType.JWT_BEARER, GrantType.CLIENT_CREDENTIALS],
                          scopes=["discount.fullaccess"], jwks=jwks(pair))  # fmt: skip
    client_id = service.client.client_id
    assert [jwt_bearer(None, assertion(pair, client_id)).status_code for _ in range(2)] == [200, 200]
    # Over its budget, it cannot switch grants (nor back).
    assert token_request(service, {"grant_type": "client_credentials"}).status_code == 429
    assert jwt_bearer(None, assertion(pair, client_id)).status_code == 429


@pytest.mark.parametrize("exp", [10**12, "2000000000", 2**33, True])
def test_an_exp_that_is_no_time_is_refused_not_a_500(
    workload, external, jwt_bearer, exchange, basket_policy, trusted, exp
):
    basket_policy.trusted_issuers.add(trusted)
    token = external.token(lifetime=None, exp=exp)
    refused = jwt_bearer(None, token)
    assert error_of(refused)[:2] == (400, "invalid_grant"), refused.content
    assert AuditEvent.objects.filter(outcome="refused").count() == 1
    assert error_of(exchange(workload, token, audience="discount"))[:2] == (400, "invalid_request")


def test_an_exp_past_but_within_the_skew_gets_no_token_already_expired(workload, external, jwt_bearer):
    refused = jwt_bearer(None, external.token(lifetime=-10))
    assert error_of(refused) == (400, "invalid_grant", "assertion has expired.")


def test_a_client_made_privileged_after_it_was_mapped_is_never_reached(workload, external, jwt_bearer):
    """The console leaves mappings to privileged clients to superusers; a client that gains the
    management API's powers later must not turn its mapping into an admin credential."""
    client = workload.client
    client.allowed_scopes.add(*ApiScope.objects.filter(name__startswith="idp.admin"))
    refused = jwt_bearer(None, external.token())
    assert error_of(refused) == (
        400, "invalid_grant", "assertion maps to a privileged identity, which another issuer's token never reaches."
    )  # fmt: skip


def test_an_operators_account_is_never_reached(basket, basket_policy, trusted, external, alice, map_to, exchange):
    basket_policy.trusted_issuers.add(trusted)
    map_to(trusted, user=alice, sub="partner|alice-1")
    alice.is_staff = True
    alice.save()
    refused = exchange(basket, external.token(sub="partner|alice-1"), audience="discount")
    assert (
        error_of(refused)[2]
        == "subject_token maps to a privileged identity, which another issuer's token never reaches."
    )


def test_a_public_client_is_never_reached(basket, trusted, external, map_to, make_client, jwt_bearer):
    spa = make_client("spa", grants=[], scopes=["discount.fullaccess"], client_type=Application.CLIENT_PUBLIC,
                      redirect_uris=["https://spa.test/cb"])  # fmt: skip
    Application.objects.filter(pk=spa.client.pk).update(allowed_grant_types=[GrantType.JWT_BEARER])  # no clean()
    map_to(trusted, client=Application.objects.get(pk=spa.client.pk))
    assert error_of(jwt_bearer(None, external.token())) == (
        400,
        "invalid_grant",
        "The assertion maps to a public client.",
    )


def test_a_wrong_secret_spends_no_assertion(apis, jwt_bearer):
    pair = ec_pair("svc")
    service = save_client(name="batch", grant_types=[GrantType.JWT_BEARER], scopes=["discount.fullaccess"],
                          jwks=jwks(pair))  # fmt: skip
    signed = assertion(pair, service.client.client_id)
    wrong = type(service)(client=service.client, client_secret="wrong")
    assert error_of(jwt_bearer(wrong, signed))[:2] == (401, "invalid_client")
    assert jwt_bearer(service, signed).status_code == 200  # still unused


def test_a_refusal_records_who_the_assertion_claimed_to_be(workload, external, jwt_bearer):
    jwt_bearer(None, external.token(key=ec_pair("x").private_key))  # the cluster's kid, another key
    event = AuditEvent.objects.get()
    assert (event.outcome, event.details["assertion_iss"], event.details["assertion_kid"]) == (
        "refused", external.url, external.current,
    )  # fmt: skip


def test_the_registered_audience_is_quoted_safely(basket, basket_policy, trusted, external, map_to, exchange):
    basket_policy.trusted_issuers.add(trusted)
    map_to(trusted, client=basket.client)
    trusted.audience = 'https://x.test/"quoted\\'
    trusted.save()
    description = error_of(exchange(basket, external.token(), audience="discount"))[2]
    assert '"' not in description and "\\" not in description


@pytest.mark.parametrize("header", [{"crit": ["exp"]}, {"kid": 7}, {"alg": None}])
def test_a_header_this_idp_does_not_understand_is_refused(
    basket, basket_policy, trusted, workload, external, jwt_bearer, exchange, header
):
    basket_policy.trusted_issuers.add(trusted)
    token = with_header(external.token(), **header)  # the signature kept: refused before it matters
    assert error_of(jwt_bearer(None, token)) == (
        400,
        "invalid_grant",
        "The assertion is not a JWT (RFC 7523 section 3.1).",
    )
    assert error_of(exchange(basket, token, audience="discount")) == (
        400,
        "invalid_request",
        "subject_token is not a JWT.",
    )
    assert list(AuditEvent.objects.values_list("outcome", flat=True)) == ["refused", "refused"]
