"""The aud of a token is exactly the APIs whose scopes were granted; RFC 8707 narrows it."""

import jwt
import pytest

from apps.oauth.models import AccessToken
from apps.resources.models import ApiResource
from apps.resources.services import plan_token
from tests.support.http import oauth_error


def claims_of(body: dict) -> dict:
    return jwt.decode(body["access_token"], options={"verify_signature": False})


@pytest.fixture
def frontend(apis, make_client):
    """A client allowed scopes of two APIs."""
    return make_client("frontend", scopes=["eventcatalog.read", "eventcatalog.write", "shoppingbasket.fullaccess"])


def test_aud_is_the_apis_of_the_granted_scopes(frontend, client_credentials_token):
    body = client_credentials_token(frontend, scope="eventcatalog.read shoppingbasket.fullaccess")
    claims = claims_of(body)
    assert claims["aud"] == ["eventcatalog", "shoppingbasket"]
    assert claims["scope"] == "eventcatalog.read shoppingbasket.fullaccess"
    assert AccessToken.objects.get().audience == ["eventcatalog", "shoppingbasket"]


def test_aud_has_only_the_api_of_the_requested_scope(frontend, client_credentials_token):
    claims = claims_of(client_credentials_token(frontend, scope="eventcatalog.write"))
    assert claims["aud"] == ["eventcatalog"]
    assert claims["scope"] == "eventcatalog.write"


def test_no_scope_parameter_grants_every_allowed_scope(frontend, client_credentials_token):
    body = client_credentials_token(frontend)
    assert set(body["scope"].split()) == {"eventcatalog.read", "eventcatalog.write", "shoppingbasket.fullaccess"}
    assert claims_of(body)["aud"] == ["eventcatalog", "shoppingbasket"]


def test_resource_parameter_selects_one_audience_and_drops_other_scopes(frontend, client_credentials_token):
    body = client_credentials_token(
        frontend, scope="eventcatalog.read shoppingbasket.fullaccess", resource="urn:test:shoppingbasket"
    )
    claims = claims_of(body)
    assert claims["aud"] == ["shoppingbasket"]
    assert claims["scope"] == "shoppingbasket.fullaccess"
    assert body["scope"] == "shoppingbasket.fullaccess"


def test_resource_without_scope_gets_the_clients_scopes_for_that_api(frontend, client_credentials_token):
    claims = claims_of(client_credentials_token(frontend, resource="urn:test:eventcatalog"))
    assert claims["aud"] == ["eventcatalog"]
    assert set(claims["scope"].split()) == {"eventcatalog.read", "eventcatalog.write"}


def test_lifetime_is_the_shortest_of_the_audiences(apis, frontend, client_credentials_token):
    ApiResource.objects.filter(audience="shoppingbasket").update(access_token_lifetime=120)
    body = client_credentials_token(frontend)
    claims = claims_of(body)
    assert body["expires_in"] == 120
    assert claims["exp"] - claims["iat"] == 120


def test_disabled_api_scopes_are_left_out_of_default_scopes(apis, frontend, client_credentials_token):
    ApiResource.objects.filter(audience="shoppingbasket").update(enabled=False)
    claims = claims_of(client_credentials_token(frontend))
    assert claims["aud"] == ["eventcatalog"]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "urn:test:nonexistent",  # unknown
        "urn:test:discount",  # exists, but this client has no scope for it
        "discount",  # not an absolute URI
        "https://api.test/#frag",  # fragment
        "",  # empty
    ],
)
def test_bad_resource_is_invalid_target(frontend, token_request, resource):
    response = token_request(frontend, {"grant_type": "client_credentials", "resource": resource})
    assert oauth_error(response) == (400, "invalid_target")


def test_disabled_resource_is_invalid_target(apis, frontend, token_request):
    ApiResource.objects.filter(audience="eventcatalog").update(enabled=False)
    response = token_request(frontend, {"grant_type": "client_credentials", "resource": "urn:test:eventcatalog"})
    assert oauth_error(response) == (400, "invalid_target")


def test_resource_not_covered_by_requested_scopes_is_invalid_target(frontend, token_request):
    response = token_request(
        frontend,
        {"grant_type": "client_credentials", "scope": "eventcatalog.read", "resource": "urn:test:shoppingbasket"},
    )
    assert oauth_error(response) == (400, "invalid_target")


@pytest.mark.parametrize("scope", ["discount.fullaccess", "no.such.scope", "eventcatalog.read discount.fullaccess"])
def test_scope_the_client_may_not_have_is_invalid_scope(frontend, token_request, scope):
    response = token_request(frontend, {"grant_type": "client_credentials", "scope": scope})
    assert oauth_error(response) == (400, "invalid_scope")


def test_scope_of_disabled_api_is_invalid_scope(apis, frontend, token_request):
    ApiResource.objects.filter(audience="eventcatalog").update(enabled=False)
    response = token_request(frontend, {"grant_type": "client_credentials", "scope": "eventcatalog.read"})
    assert oauth_error(response) == (400, "invalid_scope")


def test_one_token_per_audience_client_must_name_a_resource(apis, make_client, token_request):
    strict = make_client("strict", scopes=["eventcatalog.read", "shoppingbasket.fullaccess"])
    strict.client.one_token_per_audience = True
    strict.client.save()
    both = {"grant_type": "client_credentials", "scope": "eventcatalog.read shoppingbasket.fullaccess"}

    assert oauth_error(token_request(strict, both)) == (400, "invalid_target")
    narrowed = token_request(strict, {**both, "resource": "urn:test:eventcatalog"})
    assert narrowed.status_code == 200
    assert claims_of(narrowed.json())["aud"] == ["eventcatalog"]
    single = token_request(strict, {"grant_type": "client_credentials", "scope": "eventcatalog.read"})
    assert single.status_code == 200


def test_refused_request_stores_nothing(frontend, token_request):
    token_request(frontend, {"grant_type": "client_credentials", "scope": "discount.fullaccess"})
    token_request(frontend, {"grant_type": "client_credentials", "resource": "urn:test:nope"})
    assert AccessToken.objects.count() == 0


# --- the planner on its own ----------------------------------------------------------------


def test_plan_user_claims_are_what_every_audience_allows(apis):
    ApiResource.objects.filter(audience="eventcatalog").update(user_claims=["email", "name"])
    ApiResource.objects.filter(audience="shoppingbasket").update(user_claims=["email"])
    scopes = [s for r in ApiResource.objects.all() for s in r.scopes.select_related("resource")]

    both = plan_token(allowed_scopes=scopes, requested_scopes=["eventcatalog.read", "shoppingbasket.fullaccess"])
    one = plan_token(allowed_scopes=scopes, requested_scopes=["eventcatalog.read"])

    assert both.user_claims == {"email"}
    assert one.user_claims == {"email", "name"}


def test_plan_mixed_signing_algorithms_fall_back_to_rs256(apis):
    scopes = [s for r in ApiResource.objects.all() for s in r.scopes.select_related("resource")]
    plan = plan_token(allowed_scopes=scopes, requested_scopes=["discount.fullaccess", "eventcatalog.read"])
    assert plan.signing_algorithm == "RS256"
    assert plan_token(allowed_scopes=scopes, requested_scopes=["discount.fullaccess"]).signing_algorithm == "ES256"


def test_plan_identity_scopes_add_no_audience(apis):
    from apps.resources.models import ApiScope

    scopes = list(ApiScope.objects.select_related("resource"))
    plan = plan_token(allowed_scopes=scopes, requested_scopes=["openid", "profile", "eventcatalog.read"])
    assert plan.audience == ["eventcatalog"]
    assert plan.scopes == ("openid", "profile", "eventcatalog.read")
