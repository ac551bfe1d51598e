"""DPoP (RFC 9449) at the token endpoint: bound tokens for every grant, every refusal with its
exact error and status, server nonces, codes bound by ``dpop_jkt``, public clients' bound
refresh tokens, clients and APIs that require DPoP, introspection and userinfo."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from oauthlib.common import Request as OAuthlibRequest

from apps.oauth.models import AccessToken, Application, RefreshToken
from apps.oauth.models import Grant as AuthorizationCode
from apps.protocol import dpop
from apps.protocol.errors import InvalidRequest
from apps.resource_server.dpop import access_token_hash, generate_key, key_thumbprint, make_proof, public_jwk
from apps.resources.models import ApiResource
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token, store_access_token
from tests.support.flows import REDIRECT_URI, Pkce, approve, authorize_url, error_page_code, redirect_params
from tests.support.http import INTROSPECT_URL, ISSUER, TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

TOKEN_ENDPOINT = ISSUER + TOKEN_URL


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def post(api: Client, credentials, data: dict, proof: str | None = None, **headers):
    """A token request with client_secret_basic (or the client id alone for a public client)
    and, when given, a DPoP header."""
    if credentials.client.client_type == Application.CLIENT_PUBLIC:
        data = {**data, "client_id": credentials.client.client_id}
    else:
        headers["HTTP_AUTHORIZATION"] = basic_auth(credentials.client.client_id, credentials.client_secret)
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return form_post(api, TOKEN_URL, data, **headers)


def proof_for(key=None, method: str = "POST", url: str = TOKEN_ENDPOINT, **kwargs) -> str:
    return make_proof(key or generate_key(), method, url, **kwargs)


def forged(key, *, header: dict | None = None, claims: dict | None = None, algorithm: str = "ES256") -> str:
    """A proof with chosen header members and claims (for the refusals)."""
    base_claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": int(time.time())}
    base_header = {"typ": "dpop+jwt", "jwk": public_jwk(key)}
    return jwt.encode(
        {**base_claims, **(claims or {})}, key, algorithm=algorithm, headers={**base_header, **(header or {})}
    )


@pytest.fixture
def service(apis, make_client):
    return make_client("svc", scopes=["eventcatalog.read"])


CC = {"grant_type": "client_credentials"}


# --- client credentials: the binding ----------------------------------------------------------------


def test_a_proof_binds_the_token_to_its_key(client, service, make_client):
    key = generate_key()
    response = post(client, service, CC, proof_for(key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key_thumbprint(key)}
    assert AccessToken.objects.get().jkt == key_thumbprint(key)
    # Introspection (RFC 9449 section 6.2) says it is bound, and to which key.
    api = make_client("catalog-api", grants=[], scopes=[], resource="eventcatalog")
    auth = basic_auth(api.client.client_id, api.client_secret)
    introspected = form_post(client, INTROSPECT_URL, {"token": body["access_token"]}, HTTP_AUTHORIZATION=auth).json()
    assert introspected["active"] is True
    assert introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": key_thumbprint(key)}


def test_without_a_proof_the_token_stays_a_bearer_token(client, service, make_client):
    body = post(client, service, CC).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(body["access_token"])
    assert AccessToken.objects.get().jkt == ""
    api = make_client("catalog-api", grants=[], scopes=[], resource="eventcatalog")
    auth = basic_auth(api.client.client_id, api.client_secret)
    introspected = form_post(client, INTROSPECT_URL, {"token": body["access_token"]}, HTTP_AUTHORIZATION=auth).json()
    assert introspected["token_type"] == "Bearer"
    assert "cnf" not in introspected


def test_rsa_keys_sign_rs256_and_ps256_proofs(client, service, rsa_dpop_key):
    for algorithm in ("RS256", "PS256"):
        response = post(client, service, CC, proof_for(rsa_dpop_key, algorithm=algorithm))
        assert response.status_code == 200, response.content
        assert claims_of(response.json()["access_token"])["cnf"]["jkt"] == key_thumbprint(rsa_dpop_key)


@pytest.fixture(scope="module")
def rsa_dpop_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_htu_is_compared_after_normalization(client, service):
    # RFC 9449 section 4.3: syntax- and scheme-based normalization (case, default port, %XX).
    url = "HTTPS://IDP.test:443/%6F/token/?ignored=1#fragment"
    response = post(client, service, CC, forged(generate_key(), claims={"htu": url}))
    assert response.status_code == 200, response.content


# --- client credentials: every refusal ------------------------------------------------------------


def _refusal(response, error="invalid_dpop_proof", status=400) -> str:
    assert oauth_error(response) == (status, error), response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()["error_description"]


def test_a_proof_for_another_url_is_refused(client, service):
    description = _refusal(post(client, service, CC, proof_for(url="https://idp.test/o/introspect/")))
    assert "another URL" in description
    # The Host header is not what counts: the issuer's URL is.
    _refusal(post(client, service, CC, proof_for(url="http://testserver/o/token/")))


def test_a_proof_for_another_method_is_refused(client, service):
    assert "another HTTP method" in _refusal(post(client, service, CC, proof_for(method="GET")))


def test_a_replayed_proof_is_refused(client, service):
    proof = proof_for()
    assert post(client, service, CC, proof).status_code == 200
    assert "already used" in _refusal(post(client, service, CC, proof))
    assert AccessToken.objects.count() == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"typ": "JWT"}, "typ must be dpop+jwt"),
        ({"typ": None}, "typ must be dpop+jwt"),
        ({"jwk": None}, "jwk"),
        ({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}, "private key material"),
    ],
)
def test_a_proof_with_a_bad_header_is_refused(client, service, header, expected):
    key = generate_key()
    assert expected in _refusal(post(client, service, CC, forged(key, header=header)))


def test_a_proof_whose_jwk_holds_the_private_key_is_refused(client, service):
    key = generate_key()
    private = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    assert "d" in private
    assert "private key material" in _refusal(post(client, service, CC, forged(key, header={"jwk": private})))


def test_alg_none_and_hmac_proofs_are_refused(client, service):
    key = generate_key()
    claims = {"jti": "x", "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": int(time.time())}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    assert "alg must be one of" in _refusal(post(client, service, CC, unsigned))
    mac = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    assert "alg must be one of" in _refusal(post(client, service, CC, mac))


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(client, service):
    signer, other = generate_key(), generate_key()
    proof = forged(signer, header={"jwk": public_jwk(other)})
    assert "signature does not verify" in _refusal(post(client, service, CC, proof))


def test_a_tampered_proof_is_refused(client, service):
    proof = proof_for()
    head, payload, signature = proof.split(".")
    tampered = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    assert "signature does not verify" in _refusal(post(client, service, CC, tampered))


# Whole seconds away from the window's edges (60 s past, 5 s ahead): the proof's iat is a whole
# second, and the check may run in the next second.
@pytest.mark.parametrize("offset", [-63, 8])
def test_a_proof_outside_the_iat_window_is_refused(client, service, offset):
    proof = forged(generate_key(), claims={"iat": int(time.time()) + offset})
    assert "outside the accepted window" in _refusal(post(client, service, CC, proof))


@pytest.mark.parametrize("iat", [float("nan"), float("inf"), 10**400, True, "1700000000"], ids=repr)
def test_a_proof_whose_iat_is_not_a_finite_number_is_refused(client, service, iat):
    # NaN passes every comparison of the iat window the wrong way; it used to reach the
    # replay store's expiry (datetime.fromtimestamp(NaN): ValueError, a 500).
    proof = forged(generate_key(), claims={"iat": iat})
    assert _refusal(post(client, service, CC, proof)) == "The proof's iat must be a number."
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("missing", ["jti", "htm", "htu", "iat"])
def test_a_proof_missing_a_claim_is_refused(client, service, missing):
    key = generate_key()
    claims = {"jti": "x", "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": int(time.time())}
    del claims[missing]
    proof = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    assert f"lacks its {missing} claim" in _refusal(post(client, service, CC, proof))


@pytest.mark.parametrize("value", ["not-a-jwt", "a.b.c", "", "x" * 9000])
def test_garbage_in_the_dpop_header_is_refused(client, service, value):
    _refusal(post(client, service, CC, value))


def test_two_dpop_headers_are_refused(client, service):
    # A header sent twice reaches the application joined by a comma.
    joined = f"{proof_for()},{proof_for()}"
    assert "exactly one DPoP header" in _refusal(post(client, service, CC, joined))


def test_a_refused_proof_issues_nothing(client, service):
    post(client, service, CC, proof_for(method="PUT"))
    assert AccessToken.objects.count() == 0


# --- server nonces (RFC 9449 section 8) ----------------------------------------------------------------


@pytest.fixture
def nonces(settings):
    settings.IDP = {**settings.IDP, "DPOP_NONCES": True}


def test_with_nonces_on_a_proof_without_one_gets_use_dpop_nonce_then_succeeds(client, service, nonces):
    key = generate_key()
    first = post(client, service, CC, proof_for(key))
    assert oauth_error(first) == (400, "use_dpop_nonce")
    nonce = first["DPoP-Nonce"]
    assert nonce == dpop.current_nonce()
    second = post(client, service, CC, proof_for(key, nonce=nonce))
    assert second.status_code == 200, second.content
    assert second.json()["token_type"] == "DPoP"
    # A fresh nonce goes with every successful answer (section 8), so the client keeps one.
    assert second["DPoP-Nonce"] == dpop.current_nonce()


def test_with_nonces_off_no_nonce_is_sent(client, service):
    response = post(client, service, CC, proof_for(generate_key()))
    assert response.status_code == 200, response.content
    assert "DPoP-Nonce" not in response


def test_with_nonces_on_a_stale_or_made_up_nonce_gets_use_dpop_nonce(client, service, nonces, settings):
    window = settings.IDP.get("DPOP_NONCE_WINDOW_SECONDS", 60)
    stale = dpop.current_nonce(now=time.time() - 2 * window)
    for nonce in (stale, "made-up"):
        response = post(client, service, CC, proof_for(nonce=nonce))
        assert oauth_error(response) == (400, "use_dpop_nonce")
        assert "stale" in response.json()["error_description"]
        assert response["DPoP-Nonce"] == dpop.current_nonce()
    # The previous window's nonce is still good (a client's nonce may cross a boundary).
    previous = dpop.current_nonce(now=time.time() - window)
    assert post(client, service, CC, proof_for(nonce=previous)).status_code == 200


def test_with_nonces_on_a_bad_proof_is_still_invalid_dpop_proof(client, service, nonces):
    _refusal(post(client, service, CC, proof_for(method="GET", nonce=dpop.current_nonce())))


def test_with_nonces_off_none_is_asked_for_or_sent(client, service):
    response = post(client, service, CC, proof_for())
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response
    assert dpop.nonce_headers() == {}
    # A nonce the client sends anyway is not judged.
    assert post(client, service, CC, proof_for(nonce="anything")).status_code == 200


# --- clients and APIs that require DPoP -------------------------------------------------------------


def test_a_client_that_must_use_dpop_is_refused_without_a_proof(client, service):
    Application.objects.filter(pk=service.client.pk).update(dpop_bound_access_tokens=True)
    service.client.refresh_from_db()
    service.client.save()  # through the ORM: the per-process client cache follows
    response = post(client, service, CC)
    assert oauth_error(response) == (400, "invalid_request")
    assert "must send a DPoP proof" in response.json()["error_description"]
    assert post(client, service, CC, proof_for()).json()["token_type"] == "DPoP"


def test_an_api_that_requires_dpop_gets_no_token_without_a_proof(client, service):
    ApiResource.objects.filter(audience="eventcatalog").update(require_dpop=True)
    service.client.save()
    response = post(client, service, CC)
    assert oauth_error(response) == (400, "invalid_request")
    assert "DPoP-bound tokens only for eventcatalog" in response.json()["error_description"]
    assert AccessToken.objects.count() == 0
    assert post(client, service, CC, proof_for()).json()["token_type"] == "DPoP"


# --- token exchange: the calling service's key, never the subject token's -----------------------------


def bound_alice_token(web, alice, jkt: str) -> str:
    plan = plan_token(allowed_scopes=web.client.allowed_scope_objects(), requested_scopes=["shoppingbasket.fullaccess"])
    issued = issue_access_token(client_id=web.client.client_id, user=alice, plan=plan, jkt=jkt)
    store_access_token(issued=issued, application=web.client, user=alice)
    return issued.token


def exchange_data(subject_token: str) -> dict:
    return {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": "discount.fullaccess",
    }


def test_an_exchanged_token_is_bound_to_the_calling_services_key(client, basket, basket_policy, alice_token):
    basket_key = generate_key()
    response = post(client, basket, exchange_data(alice_token), proof_for(basket_key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key_thumbprint(basket_key)}


def test_a_bound_subject_token_is_exchanged_by_the_service_it_was_presented_to(
    client, basket, basket_policy, web, alice
):
    # The web app's token for the basket is bound to the web app's key. The basket verified
    # that key's proof when it received the token; it exchanges the token with its own proof
    # (or none): the subject's key is never asked for, and its cnf never copied.
    web_key, basket_key = generate_key(), generate_key()
    subject = bound_alice_token(web, alice, key_thumbprint(web_key))
    bound = post(client, basket, exchange_data(subject), proof_for(basket_key))
    assert bound.status_code == 200, bound.content
    assert claims_of(bound.json()["access_token"])["cnf"] == {"jkt": key_thumbprint(basket_key)}
    unbound = post(client, basket, exchange_data(subject))
    assert unbound.status_code == 200, unbound.content
    assert unbound.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(unbound.json()["access_token"])


def test_on_behalf_of_binds_to_the_calling_services_key_too(client, basket, basket_policy, alice_token):
    basket_key = generate_key()
    data = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "requested_token_use": "on_behalf_of",
        "assertion": alice_token,
        "scope": "discount.fullaccess",
    }
    response = post(client, basket, data, proof_for(basket_key))
    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["cnf"] == {"jkt": key_thumbprint(basket_key)}


def test_an_exchange_for_an_api_that_requires_dpop_needs_a_proof(client, basket, basket_policy, alice_token):
    ApiResource.objects.filter(audience="discount").update(require_dpop=True)
    basket.client.save()
    response = post(client, basket, exchange_data(alice_token))
    assert oauth_error(response) == (400, "invalid_request")
    assert post(client, basket, exchange_data(alice_token), proof_for()).status_code == 200


# --- authorization code and refresh ------------------------------------------------------------------


def code_data(code: str, pkce: Pkce) -> dict:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": pkce.verifier,
    }


def refresh_data(refresh_token: str) -> dict:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token}


def test_a_public_clients_tokens_and_refresh_token_are_bound_to_its_key(client, browser, native_app):
    key = generate_key()
    pkce = Pkce.new()
    code = approve(browser, native_app.client.client_id, "openid eventcatalog.read", pkce)["code"]
    tokens = post(client, native_app, code_data(code, pkce), proof_for(key))
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key_thumbprint(key)}
    assert RefreshToken.objects.get().jkt == key_thumbprint(key)
    # Section 5: the refresh needs a proof of the same key...
    refreshed = post(client, native_app, refresh_data(body["refresh_token"]), proof_for(key))
    assert refreshed.status_code == 200, refreshed.content
    assert claims_of(refreshed.json()["access_token"])["cnf"] == {"jkt": key_thumbprint(key)}
    rotated = refreshed.json()["refresh_token"]
    assert RefreshToken.objects.get(access_token__isnull=False, revoked__isnull=True).jkt == key_thumbprint(key)
    # ...and another key's proof, or none, gets nothing.
    other = post(client, native_app, refresh_data(rotated), proof_for(generate_key()))
    assert oauth_error(other) == (400, "invalid_grant")
    assert "not the one the refresh token is bound to" in other.json()["error_description"]
    none = post(client, native_app, refresh_data(rotated))
    assert oauth_error(none) == (400, "invalid_grant")
    assert "bound to a DPoP key" in none.json()["error_description"]
    assert post(client, native_app, refresh_data(rotated), proof_for(key)).status_code == 200


def test_a_confidential_clients_refresh_token_is_not_bound(client, browser, web):
    key = generate_key()
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid eventcatalog.read", pkce)["code"]
    body = post(client, web, code_data(code, pkce), proof_for(key)).json()
    assert body["token_type"] == "DPoP"
    assert RefreshToken.objects.get().jkt == ""
    # Its client authentication sender-constrains it; a new key (rotated by the client) binds
    # the new access token, and a refresh without a proof gets a bearer token.
    new_key = generate_key()
    refreshed = post(client, web, refresh_data(body["refresh_token"]), proof_for(new_key)).json()
    assert claims_of(refreshed["access_token"])["cnf"] == {"jkt": key_thumbprint(new_key)}
    plain = post(client, web, refresh_data(refreshed["refresh_token"])).json()
    assert plain["token_type"] == "Bearer"


def approve_as_a_browser(browser: Client, client_id: str, scope: str, pkce: Pkce, **extra) -> dict[str, str]:
    """As tests.support.flows.approve, but the consent form is posted back to the page's own
    URL, query string included, as the browser does (the form has no action)."""
    url = authorize_url(client_id, scope, pkce, **extra)
    response = browser.get(url)
    if response.status_code == 200:
        form = response.context["form"]
        data = {name: value for name, value in form.initial.items() if value is not None}
        response = browser.post(url, {**data, "allow": "Authorize"})
    return redirect_params(response)


def test_a_code_bound_by_dpop_jkt_needs_a_proof_of_that_key(client, browser, web):
    key = generate_key()
    pkce = Pkce.new()
    jkt = key_thumbprint(key)
    code = approve_as_a_browser(browser, web.client.client_id, "eventcatalog.read", pkce, dpop_jkt=jkt)["code"]
    assert AuthorizationCode.objects.get().dpop_jkt == key_thumbprint(key)
    without = post(client, web, code_data(code, pkce))
    assert oauth_error(without) == (400, "invalid_grant")
    assert "authorization code is bound to a DPoP key" in without.json()["error_description"]
    other = post(client, web, code_data(code, pkce), proof_for(generate_key()))
    assert oauth_error(other) == (400, "invalid_grant")
    assert "not the one the authorization code is bound to" in other.json()["error_description"]
    # Neither refusal used the code up.
    good = post(client, web, code_data(code, pkce), proof_for(key))
    assert good.status_code == 200, good.content
    assert claims_of(good.json()["access_token"])["cnf"] == {"jkt": key_thumbprint(key)}


def test_a_malformed_dpop_jkt_is_invalid_request(browser, web):
    # Refused before sign-in with the other malformed parameters (apps/authorize/checks.py).
    response = browser.get(authorize_url(web.client.client_id, "eventcatalog.read", Pkce.new(), dpop_jkt="x" * 44))
    assert response.status_code == 400
    assert error_page_code(response) == "invalid_request"
    assert AuthorizationCode.objects.count() == 0


def test_the_validator_refuses_a_malformed_dpop_jkt_that_reaches_it(web):
    # Defence in depth: the code is never stored with a value that is no thumbprint (the
    # column holds 43 characters), whatever path the request took.
    request = OAuthlibRequest("https://idp.test/o/authorize/?dpop_jkt=" + "x" * 44)
    with pytest.raises(InvalidRequest) as refused:
        dpop.requested_jkt(request)
    assert refused.value.status_code == 400
    assert dpop.requested_jkt(OAuthlibRequest("https://idp.test/o/authorize/")) == ""


def test_a_code_for_an_api_that_requires_dpop_is_kept_for_a_request_with_a_proof(client, browser, web):
    ApiResource.objects.filter(audience="eventcatalog").update(require_dpop=True)
    web.client.save()
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "eventcatalog.read", pkce)["code"]
    refused = post(client, web, code_data(code, pkce))
    assert oauth_error(refused) == (400, "invalid_request")
    assert post(client, web, code_data(code, pkce), proof_for()).status_code == 200


def test_userinfo_refuses_a_bound_token_sent_as_bearer(client, browser, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid profile", pkce)["code"]
    body = post(client, web, code_data(code, pkce), proof_for()).json()
    response = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


USERINFO = f"{ISSUER.rstrip('/')}/o/userinfo/"


@pytest.fixture
def bound_userinfo_token(client, browser, web):
    """A token for userinfo bound to a key, and the key."""
    key = generate_key()
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid profile", pkce)["code"]
    body = post(client, web, code_data(code, pkce), proof_for(key)).json()
    assert body["token_type"] == "DPoP"
    return body["access_token"], key


def dpop_userinfo(token: str, proof: str | None):
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}"}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return Client().get("/o/userinfo/", **headers)


def test_userinfo_answers_a_bound_token_with_a_proof_of_its_key(bound_userinfo_token, alice):
    token, key = bound_userinfo_token
    response = dpop_userinfo(token, make_proof(key, "GET", USERINFO, access_token=token))
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == str(alice.pk)


def test_userinfo_refuses_a_bound_token_with_another_keys_proof(bound_userinfo_token):
    token, _key = bound_userinfo_token
    response = dpop_userinfo(token, make_proof(generate_key(), "GET", USERINFO, access_token=token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda key, token: None, id="no proof"),
        pytest.param(lambda key, token: make_proof(key, "GET", USERINFO), id="no ath"),
        pytest.param(lambda key, token: make_proof(key, "GET", USERINFO, access_token="other"), id="another ath"),
        pytest.param(lambda key, token: make_proof(key, "POST", USERINFO, access_token=token), id="another method"),
        pytest.param(lambda key, token: make_proof(key, "GET", TOKEN_ENDPOINT, access_token=token), id="another url"),
    ],
)
def test_userinfo_refuses_a_bad_proof_with_the_dpop_challenge(bound_userinfo_token, make):
    token, key = bound_userinfo_token
    response = dpop_userinfo(token, make(key, token))
    assert oauth_error(response) == (401, "invalid_dpop_proof")
    assert response["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_dpop_proof"' in response["WWW-Authenticate"]


def test_userinfo_refuses_a_replayed_proof(bound_userinfo_token):
    token, key = bound_userinfo_token
    proof = make_proof(key, "GET", USERINFO, access_token=token)
    assert dpop_userinfo(token, proof).status_code == 200
    assert oauth_error(dpop_userinfo(token, proof)) == (401, "invalid_dpop_proof")


def test_userinfo_refuses_an_unbound_token_presented_with_a_proof(client, browser, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid profile", pkce)["code"]
    token = post(client, web, code_data(code, pkce)).json()["access_token"]
    key = generate_key()
    response = dpop_userinfo(token, make_proof(key, "GET", USERINFO, access_token=token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    # As Bearer it still works: binding is the token's, not the endpoint's.
    assert Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_a_dpop_jkt_not_sent_leaves_the_code_unbound(browser, web):
    pkce = Pkce.new()
    approve(browser, web.client.client_id, "eventcatalog.read", pkce)
    assert AuthorizationCode.objects.get().dpop_jkt == ""
    assert authorize_url(web.client.client_id, "x", pkce, dpop_jkt=None).count("dpop_jkt") == 0


# --- the toolkit's proof maker, as the IdP reads it ----------------------------------------------------


def test_make_proof_carries_what_section_4_2_asks(rsa_dpop_key):
    key = generate_key()
    proof = make_proof(key, "post", "https://idp.test/o/token/?a=1#f", access_token="tok", nonce="n-1")
    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}
    claims = jwt.decode(proof, key.public_key(), algorithms=["ES256"])
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://idp.test/o/token/"
    assert claims["nonce"] == "n-1"
    assert claims["ath"] == access_token_hash("tok")
    # The example of RFC 9449 section 7.1.
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )
    assert abs(claims["iat"] - time.time()) < 5
    assert make_proof(key, "POST", TOKEN_ENDPOINT) != make_proof(key, "POST", TOKEN_ENDPOINT)  # a new jti each
    assert jwt.get_unverified_header(make_proof(rsa_dpop_key, "GET", TOKEN_ENDPOINT))["alg"] == "RS256"
    assert isinstance(generate_key().curve, ec.SECP256R1)
