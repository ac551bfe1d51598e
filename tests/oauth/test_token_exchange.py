"""Token exchange (RFC 8693): the seed scenario, every check positive and negative."""

import base64
import json

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.oauth.models import AccessToken, Application, ExchangeMode
from apps.resources.models import ApiResource, ApiScope
from tests.support.http import INTROSPECT_URL, REVOKE_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, verify

JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- the seed scenario ----------------------------------------------------------------------


def test_basket_exchanges_alices_token_for_a_discount_token(
    client, basket, basket_policy, alice, alice_token, exchange
):
    response = exchange(basket, alice_token, scope="discount.fullaccess")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "discount.fullaccess"
    assert "refresh_token" not in body
    assert 0 < body["expires_in"] <= 300
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    claims = verify(client, body["access_token"], audience="discount")
    assert claims["aud"] == ["discount"]
    assert claims["sub"] == str(alice.pk)
    assert claims["client_id"] == basket.client.client_id
    assert claims["act"] == {"sub": basket.client.client_id}
    assert claims["scope"] == "discount.fullaccess"


def test_exchanged_token_records_its_parent_and_actor(basket, basket_policy, alice, alice_token, exchange):
    body = exchange(basket, alice_token).json()
    child = AccessToken.objects.get(jti=claims_of(body["access_token"])["jti"])
    parent = AccessToken.objects.get(jti=claims_of(alice_token)["jti"])
    assert child.parent == parent
    assert child.user == alice
    assert child.act == {"sub": basket.client.client_id}
    assert child.audience == ["discount"]


def test_target_implied_by_the_only_policy(basket, basket_policy, alice_token, exchange):
    body = exchange(basket, alice_token).json()
    assert claims_of(body["access_token"])["aud"] == ["discount"]
    assert body["scope"] == "discount.fullaccess"


@pytest.mark.parametrize("target", [{"audience": "discount"}, {"resource": "urn:test:discount"}])
def test_target_named_by_audience_or_resource(basket, basket_policy, alice_token, exchange, target):
    body = exchange(basket, alice_token, **target).json()
    assert claims_of(body["access_token"])["aud"] == ["discount"]


def test_requested_token_type_jwt(basket, basket_policy, alice_token, exchange):
    body = exchange(basket, alice_token, requested_token_type=JWT_TYPE).json()
    assert body["issued_token_type"] == JWT_TYPE


def test_issued_token_never_outlives_the_subject_token(basket, basket_policy, mint, exchange):
    subject = mint(age=600 - 90)  # shoppingbasket tokens live 600 s: 90 s left
    body = exchange(basket, subject).json()
    assert 85 <= body["expires_in"] <= 90
    claims = claims_of(body["access_token"])
    assert claims["exp"] <= claims_of(subject)["exp"]


def test_policy_max_lifetime_caps_the_token(basket, basket_policy, alice_token, exchange):
    basket_policy.max_lifetime = 60
    basket_policy.save()
    assert exchange(basket, alice_token).json()["expires_in"] == 60


def test_only_the_user_claims_the_target_api_receives(apis, basket, basket_policy, mint, exchange):
    ApiResource.objects.filter(audience="shoppingbasket").update(user_claims=["preferred_username", "email"])
    ApiResource.objects.filter(audience="discount").update(user_claims=["email"])
    web = Application.objects.get(name="web")
    subject = mint(client=web)
    assert {"preferred_username", "email"} <= set(claims_of(subject))

    claims = claims_of(exchange(basket, subject).json()["access_token"])
    assert claims["email"] == "alice@example.test"
    assert "preferred_username" not in claims


def test_impersonation_issues_no_act(basket, basket_policy, alice, alice_token, exchange):
    basket_policy.mode = ExchangeMode.IMPERSONATION
    basket_policy.save()
    claims = claims_of(exchange(basket, alice_token).json()["access_token"])
    assert "act" not in claims
    assert claims["sub"] == str(alice.pk)


def test_impersonation_refuses_an_actor_token(basket, basket_policy, alice_token, exchange, client_credentials_token):
    basket_policy.mode = ExchangeMode.IMPERSONATION
    basket_policy.save()
    actor = client_credentials_token(basket)["access_token"]
    response = exchange(basket, alice_token, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


def test_actor_token_of_the_client_names_the_actor(
    basket, basket_policy, alice_token, exchange, client_credentials_token
):
    actor = client_credentials_token(basket)["access_token"]
    body = exchange(basket, alice_token, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE).json()
    assert claims_of(body["access_token"])["act"] == {"sub": basket.client.client_id}


def test_actor_token_of_another_client_is_refused(
    apis, basket, basket_policy, alice_token, exchange, make_client, client_credentials_token
):
    other = make_client("other", scopes=["eventcatalog.read"])
    actor = client_credentials_token(other)["access_token"]
    response = exchange(basket, alice_token, actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert oauth_error(response) == (400, "invalid_request")


# --- delegation chains ------------------------------------------------------------------------


@pytest.fixture
def discount_service(apis, make_client, make_policy):
    """The discount service calls the event catalog on the user's behalf (second hop)."""
    service = make_client(
        "discount-svc",
        grants=["urn:ietf:params:oauth:grant-type:token-exchange"],
        scopes=[],
        resource="discount",
    )
    policy = make_policy(service.client, "eventcatalog", scopes=["eventcatalog.read"], max_depth=2)
    return service, policy


def test_act_nests_at_depth_two(basket, basket_policy, alice_token, exchange, discount_service):
    service, _policy = discount_service
    first = exchange(basket, alice_token).json()["access_token"]
    second = exchange(service, first)
    assert second.status_code == 200, second.content
    claims = claims_of(second.json()["access_token"])
    assert claims["aud"] == ["eventcatalog"]
    assert claims["act"] == {"sub": service.client.client_id, "act": {"sub": basket.client.client_id}}
    assert str(AccessToken.objects.get(jti=claims["jti"]).parent.parent.jti) == claims_of(alice_token)["jti"]


def test_chain_beyond_the_policy_depth_is_refused(basket, basket_policy, alice_token, exchange, discount_service):
    service, policy = discount_service
    policy.max_depth = 1
    policy.save()
    first = exchange(basket, alice_token).json()["access_token"]
    response = exchange(service, first)
    assert oauth_error(response) == (400, "invalid_request")
    assert "2 deep" in response.json()["error_description"]


def test_token_from_a_revoked_chain_cannot_be_exchanged_further(
    basket, basket_policy, alice_token, exchange, discount_service
):
    service, _policy = discount_service
    first = exchange(basket, alice_token).json()["access_token"]
    AccessToken.objects.get(jti=claims_of(alice_token)["jti"]).revoke()
    assert oauth_error(exchange(service, first)) == (400, "invalid_request")


# --- may_act (RFC 8693 section 4.4) -----------------------------------------------------------


def test_may_act_naming_the_client_is_honoured(basket, basket_policy, mint, exchange):
    subject = mint(extra_claims={"may_act": {"sub": basket.client.client_id}})
    assert exchange(basket, subject).status_code == 200


@pytest.mark.parametrize("may_act", [{"sub": "someone-else"}, "basket", {"client_id": "basket"}])
def test_may_act_naming_someone_else_is_refused(basket, basket_policy, mint, exchange, may_act):
    subject = mint(extra_claims={"may_act": may_act})
    assert oauth_error(exchange(basket, subject)) == (400, "invalid_request")


# --- lineage ------------------------------------------------------------------------------------


def test_revoking_alices_token_deactivates_the_exchanged_token(
    client, apis, web, basket, basket_policy, alice_token, exchange, make_client
):
    exchanged = exchange(basket, alice_token).json()["access_token"]
    discount_api = make_client("discount-api", grants=[], scopes=[], resource="discount")
    auth = basic_auth(discount_api.client.client_id, discount_api.client_secret)

    before = form_post(client, INTROSPECT_URL, {"token": exchanged}, HTTP_AUTHORIZATION=auth).json()
    assert before["active"] is True
    assert before["act"] == {"sub": basket.client.client_id}

    revoked = form_post(
        client,
        REVOKE_URL,
        {"token": alice_token},
        HTTP_AUTHORIZATION=basic_auth(web.client.client_id, web.client_secret),
    )
    assert revoked.status_code == 200
    after = form_post(client, INTROSPECT_URL, {"token": exchanged}, HTTP_AUTHORIZATION=auth)
    assert after.json() == {"active": False}


# --- refusals: client -----------------------------------------------------------------------------


def test_no_client_authentication_is_invalid_client(basket_policy, alice_token, exchange, basket):
    response = exchange(None, alice_token, client_id=basket.client.client_id)
    assert oauth_error(response) == (401, "invalid_client")


def test_wrong_secret_is_invalid_client(basket_policy, alice_token, exchange, basket):
    forged = type(basket)(client=basket.client, client_secret="not-the-secret")
    assert oauth_error(exchange(forged, alice_token)) == (401, "invalid_client")


def test_public_client_is_refused(basket, basket_policy, alice_token, exchange):
    Application.objects.filter(pk=basket.client.pk).update(client_type=Application.CLIENT_PUBLIC)
    assert oauth_error(exchange(basket, alice_token, client_secret="")) == (401, "invalid_client")
    response = exchange(None, alice_token, client_id=basket.client.client_id, client_secret="")
    assert oauth_error(response) == (401, "invalid_client")


def test_client_without_the_grant_is_unauthorized_client(apis, alice_token, exchange, make_client, make_policy):
    service = make_client("svc", scopes=["discount.fullaccess"], resource="shoppingbasket")
    make_policy(service.client, "discount")
    assert oauth_error(exchange(service, alice_token)) == (400, "unauthorized_client")


def test_client_without_any_policy_is_unauthorized_client(basket, alice_token, exchange):
    assert oauth_error(exchange(basket, alice_token)) == (400, "unauthorized_client")


def test_disabled_policy_counts_as_none(basket, basket_policy, alice_token, exchange):
    basket_policy.enabled = False
    basket_policy.save()
    assert oauth_error(exchange(basket, alice_token)) == (400, "unauthorized_client")


# --- refusals: subject token ----------------------------------------------------------------------


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "shoppingbasket.fullaccess discount.fullaccess"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _alg_none(token: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": jwt.get_unverified_header(token)["kid"]}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}.{token.split('.')[1]}."


def _hs256_with_public_key(client, token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in client.get("/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        encoding=__import__("cryptography").hazmat.primitives.serialization.Encoding.PEM,
        format=__import__("cryptography").hazmat.primitives.serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode()).rstrip(b"=")
    payload = token.split(".")[1].encode()
    signature = hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest()
    return f"{header.decode()}.{payload.decode()}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c, t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), id="bad-signature"),
        pytest.param(lambda c, t: _tamper(t), id="tampered-payload"),
        pytest.param(lambda c, t: _alg_none(t), id="alg-none"),
        pytest.param(_hs256_with_public_key, id="hs256-with-public-key"),
        pytest.param(lambda c, t: "garbage", id="garbage"),
        pytest.param(lambda c, t: "a.b.c", id="three-garbage-parts"),
        pytest.param(lambda c, t: t + "\x00", id="nul-byte"),
        pytest.param(lambda c, t: "x" * 20_000, id="oversized"),
    ],
)
def test_forged_subject_tokens_are_invalid_request(client, basket, basket_policy, alice_token, exchange, forge):
    response = exchange(basket, forge(client, alice_token))
    assert oauth_error(response) == (400, "invalid_request")
    assert AccessToken.objects.count() == 1  # nothing issued


def _signed_with_own_key(kid: str):
    """A well-formed access token signed with a key that is not ours, under ``kid``."""

    def forge(client, token: str) -> str:
        from cryptography.hazmat.primitives.asymmetric import ec

        claims = jwt.decode(token, options={"verify_signature": False})
        key = ec.generate_private_key(ec.SECP256R1())
        return jwt.encode(claims, key, algorithm="ES256", headers={"typ": "at+jwt", "kid": kid})

    return forge


def test_subject_token_under_unknown_kids_is_refused_without_reloading_keys_each_time(
    client, basket, basket_policy, alice_token, exchange
):
    assert oauth_error(exchange(basket, _signed_with_own_key("made-up-1")(client, alice_token))) == (
        400,
        "invalid_request",
    )
    with CaptureQueriesContext(connection) as queries:
        response = exchange(basket, _signed_with_own_key("made-up-2")(client, alice_token))
    assert oauth_error(response) == (400, "invalid_request")
    assert "unknown signing key" in response.json()["error_description"]
    assert not any("oauth_signingkey" in query["sql"] for query in queries.captured_queries)


def test_expired_subject_token_is_invalid_request(basket, basket_policy, mint, exchange):
    assert oauth_error(exchange(basket, mint(age=601))) == (400, "invalid_request")


def test_revoked_subject_token_is_invalid_request(basket, basket_policy, alice_token, exchange):
    AccessToken.objects.get().revoke()
    assert oauth_error(exchange(basket, alice_token)) == (400, "invalid_request")


def test_subject_token_from_another_issuer_is_invalid_request(basket, basket_policy, mint, exchange, settings):
    settings.IDP = {"ISSUER": "https://evil.test"}
    foreign = mint()
    settings.IDP = {"ISSUER": "https://idp.test"}
    assert oauth_error(exchange(basket, foreign)) == (400, "invalid_request")


def test_issuer_is_matched_exactly_not_by_prefix(basket, basket_policy, mint, exchange, settings):
    settings.IDP = {"ISSUER": "https://idp.test.evil.test"}
    foreign = mint()
    settings.IDP = {"ISSUER": "https://idp.test"}
    assert oauth_error(exchange(basket, foreign)) == (400, "invalid_request")


def test_id_token_used_as_an_access_token_subject_is_refused(basket, basket_policy, alice_token, exchange):
    # Right signature, wrong typ: our ID tokens are typ JWT, access tokens at+jwt.
    header = {"alg": "RS256", "typ": "JWT", "kid": jwt.get_unverified_header(alice_token)["kid"]}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    parts = alice_token.split(".")
    assert oauth_error(exchange(basket, f"{encoded}.{parts[1]}.{parts[2]}")) == (400, "invalid_request")


def test_confused_deputy_token_for_another_api_is_refused(basket, basket_policy, mint, exchange):
    catalog_token = mint(scopes=("eventcatalog.read",))  # aud eventcatalog, not the basket's API
    response = exchange(basket, catalog_token)
    assert oauth_error(response) == (400, "invalid_request")
    assert "not issued for this client" in response.json()["error_description"]


def test_policy_may_name_other_subject_audiences(apis, basket, basket_policy, mint, exchange):
    basket_policy.subject_audiences.set([apis["eventcatalog"]])
    catalog_token = mint(scopes=("eventcatalog.read",))
    assert exchange(basket, catalog_token).status_code == 200
    # ...and then the client's own API is no longer implied.
    assert oauth_error(exchange(basket, mint())) == (400, "invalid_request")


@pytest.mark.parametrize(
    "params",
    [
        {"subject_token_type": None},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"subject_token": None},
        {"subject_token": ""},
        {"actor_token": "x"},
        {"actor_token_type": ACCESS_TOKEN_TYPE},
        {"actor_token": "x", "actor_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:saml2"},
    ],
)
def test_bad_token_type_parameters_are_invalid_request(basket, basket_policy, alice_token, exchange, params):
    params = dict(params)
    subject_token = params.pop("subject_token", alice_token)
    assert oauth_error(exchange(basket, subject_token, **params)) == (400, "invalid_request")


@pytest.mark.parametrize("parameter", ["subject_token", "subject_token_type", "scope", "requested_token_type"])
def test_repeated_parameter_is_invalid_request(basket, basket_policy, alice_token, token_request, parameter):
    data = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("scope", "discount.fullaccess"),
        ("requested_token_type", ACCESS_TOKEN_TYPE),
    ]
    data.append(next(item for item in data if item[0] == parameter))
    assert oauth_error(token_request(basket, data)) == (400, "invalid_request")


def test_repeated_audience_is_allowed(basket, basket_policy, alice_token, token_request):
    data = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", "discount"),
        ("audience", "discount"),
    ]
    assert token_request(basket, data).status_code == 200


# --- refusals: target and scope -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"audience": "nonexistent"},
        {"resource": "urn:test:nonexistent"},
        {"audience": "eventcatalog"},  # exists, but no policy lets the basket reach it
        {"resource": "urn:test:eventcatalog"},
    ],
)
def test_unknown_or_forbidden_target_is_invalid_target(basket, basket_policy, alice_token, exchange, params):
    assert oauth_error(exchange(basket, alice_token, **params)) == (400, "invalid_target")


def test_two_targets_are_invalid_target(basket, basket_policy, alice_token, token_request):
    data = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", alice_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("audience", "discount"),
        ("audience", "eventcatalog"),
    ]
    assert oauth_error(token_request(basket, data)) == (400, "invalid_target")


def test_disabled_target_is_invalid_target(apis, basket, basket_policy, alice_token, exchange):
    ApiResource.objects.filter(audience="discount").update(enabled=False)
    assert oauth_error(exchange(basket, alice_token, audience="discount")) == (400, "invalid_target")


def test_scope_beyond_the_policy_is_invalid_scope(apis, basket, basket_policy, alice_token, exchange):
    ApiScope.objects.create(name="discount.admin", resource=apis["discount"])
    response = exchange(basket, alice_token, scope="discount.fullaccess discount.admin")
    assert oauth_error(response) == (400, "invalid_scope")


@pytest.mark.parametrize("scope", ["no.such.scope", "openid"])
def test_unknown_or_identity_scope_is_invalid_scope(basket, basket_policy, alice_token, exchange, scope):
    assert oauth_error(exchange(basket, alice_token, scope=scope)) == (400, "invalid_scope")


def test_scope_of_another_api_than_the_target_is_refused(basket, basket_policy, alice_token, exchange):
    response = exchange(basket, alice_token, audience="discount", scope="eventcatalog.read")
    assert oauth_error(response) == (400, "invalid_scope")


# --- audit -------------------------------------------------------------------------------------------


def test_granted_exchange_is_audited(basket, basket_policy, alice, alice_token, exchange):
    exchange(basket, alice_token)
    event = AuditEvent.objects.get()
    assert (event.event_type, event.outcome) == ("token.exchange", "granted")
    assert event.client_id == basket.client.client_id
    assert event.subject == str(alice.pk)
    assert event.audience == ["discount"]
    assert event.scopes == "discount.fullaccess"
    assert event.details["act"] == {"sub": basket.client.client_id}


def test_refused_exchange_is_audited_with_its_reason(basket, basket_policy, alice_token, exchange):
    exchange(basket, alice_token, audience="eventcatalog")
    event = AuditEvent.objects.get()
    assert (event.event_type, event.outcome) == ("token.exchange", "refused")
    assert event.client_id == basket.client.client_id
    assert event.reason.startswith("invalid_target: ")


def test_failed_client_authentication_is_audited(basket, basket_policy, alice_token, exchange):
    exchange(type(basket)(client=basket.client, client_secret="wrong"), alice_token)
    event = AuditEvent.objects.get()
    assert event.outcome == "refused"
    assert event.reason.startswith("invalid_client")
