"""The toolkit's DPoP (RFC 9449): proofs it makes, proofs it checks, and a service accepting
DPoP-bound tokens (section 7.1) beside Bearer ones (section 7.2), with the exact challenges.
Tokens are genuine: issued by this IdP's token endpoint with a proof made by the toolkit."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from requests_oauth2client import DPoPKey
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.resource_server import authentication, bearer
from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.dpop import (
    ProofError,
    access_token_hash,
    generate_key,
    key_thumbprint,
    make_proof,
    normalized_uri,
    public_jwk,
    thumbprint,
    verify_proof,
)
from apps.resource_server.jwks import JwksCache
from apps.resource_server.permissions import HasScopes
from tests.support.http import TOKEN_URL, basic_auth, form_post

JWKS_URI = "https://idp.test/.well-known/jwks.json"
SERVICE_URL = "http://testserver/events/"  # what APIRequestFactory's requests are addressed to
ALGS = 'algs="ES256 PS256 RS256"'


class CatalogView(APIView):
    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes]
    renderer_classes = [JSONRenderer]
    required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.read"]}

    def get_exception_handler(self):
        return bearer.exception_handler

    def get(self, request):
        return Response({"sub": request.user.sub, "cnf": request.auth.get("cnf")})

    def post(self, request):
        return Response({"posted": True})


@pytest.fixture
def service(apis, settings, make_client):
    """The toolkit pointed at this IdP's JWKS; the client that gets tokens for it."""
    settings.RESOURCE_SERVER = {"ISSUER": "https://idp.test", "AUDIENCE": "eventcatalog", "JWKS_URI": JWKS_URI}
    authentication._jwks[JWKS_URI] = JwksCache(lambda: Client().get("/.well-known/jwks.json").json())
    yield make_client("catalog-reader", scopes=["eventcatalog.read"])
    authentication._jwks.clear()


def token_for(credentials, key=None) -> str:
    """A client-credentials token from the IdP, bound to ``key`` when one is given."""
    headers = {"HTTP_AUTHORIZATION": basic_auth(credentials.client.client_id, credentials.client_secret)}
    if key is not None:
        headers["HTTP_DPOP"] = make_proof(key, "POST", "https://idp.test" + TOKEN_URL)
    response = form_post(Client(), TOKEN_URL, {"grant_type": "client_credentials"}, **headers)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def call(authorization: str | None, proof: str | None = None, method: str = "get", path: str = "/events/"):
    headers = {}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    response = CatalogView.as_view()(getattr(APIRequestFactory(), method)(path, **headers))
    response.render()
    return response


def refused(response, error: str, status: int = 401) -> str:
    assert response.status_code == status, response.content
    assert response.data["error"] == error
    return response["WWW-Authenticate"]


# --- a service accepting DPoP-bound tokens -----------------------------------------------------------


def test_a_bound_token_with_its_proof_reaches_the_view(service):
    key = generate_key()
    token = token_for(service, key)
    response = call(f"DPoP {token}", make_proof(key, "GET", SERVICE_URL, access_token=token))
    assert response.status_code == 200, response.content
    assert response.data["cnf"] == {"jkt": key_thumbprint(key)}


def test_a_proof_made_by_requests_oauth2client_is_accepted(service):
    # Another implementation's proof (jwskate): same thumbprint, same ath, same htu rules.
    key = DPoPKey.generate(alg="ES256")
    proof = key.proof(htm="POST", htu="https://idp.test" + TOKEN_URL)
    headers = {"HTTP_AUTHORIZATION": basic_auth(service.client.client_id, service.client_secret)}
    issued = form_post(Client(), TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_DPOP=str(proof), **headers)
    token = issued.json()["access_token"]
    ath = access_token_hash(token)
    response = call(
        f"DPoP {token}", str(key.proof(htm="GET", htu=SERVICE_URL + "?page=2", ath=ath)), path="/events/?page=2"
    )
    assert response.status_code == 200, response.content
    assert response.data["cnf"] == {"jkt": key.dpop_jkt}


def test_a_bound_token_sent_as_bearer_is_refused(service):
    # RFC 9449 section 7.2: a copy of a bound token is worth nothing without the key.
    token = token_for(service, generate_key())
    challenge = refused(call(f"Bearer {token}"), "invalid_token")
    assert challenge == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The token is DPoP-bound: send it as Authorization: DPoP with a proof.", '
        f'DPoP realm="api", {ALGS}'
    )


def test_a_bound_token_with_another_keys_proof_is_refused(service):
    token = token_for(service, generate_key())
    thief = generate_key()
    challenge = refused(
        call(f"DPoP {token}", make_proof(thief, "GET", SERVICE_URL, access_token=token)), "invalid_token"
    )
    assert challenge == (
        'DPoP realm="api", error="invalid_token", '
        f'error_description="The token is bound to another key than the proof\'s.", {ALGS}, Bearer realm="api"'
    )


@pytest.mark.parametrize(
    ("proof_of", "expected"),
    [
        ({"method": "POST"}, "another HTTP method"),
        ({"url": "http://testserver/other/"}, "another URL"),
        ({"url": "https://testserver/events/"}, "another URL"),
        ({"access_token": "another-token"}, "ath does not match"),
        ({"access_token": None}, "ath does not match"),
    ],
)
def test_a_proof_for_another_request_or_token_is_invalid_dpop_proof(service, proof_of, expected):
    key = generate_key()
    token = token_for(service, key)
    arguments = {"method": "GET", "url": SERVICE_URL, "access_token": token, **proof_of}
    proof = make_proof(key, arguments.pop("method"), arguments.pop("url"), **arguments)
    challenge = refused(call(f"DPoP {token}", proof), "invalid_dpop_proof")
    assert challenge.startswith('DPoP realm="api", error="invalid_dpop_proof", error_description="')
    assert expected in challenge
    assert challenge.endswith(f'{ALGS}, Bearer realm="api"')


def test_a_replayed_proof_is_refused(service):
    key = generate_key()
    token = token_for(service, key)
    proof = make_proof(key, "GET", SERVICE_URL, access_token=token)
    assert call(f"DPoP {token}", proof).status_code == 200
    assert "already used" in refused(call(f"DPoP {token}", proof), "invalid_dpop_proof")


def test_a_bound_token_without_a_proof_is_refused(service):
    token = token_for(service, generate_key())
    assert "needs a DPoP proof" in refused(call(f"DPoP {token}"), "invalid_dpop_proof")


def test_two_proofs_are_refused(service):
    key = generate_key()
    token = token_for(service, key)
    two = ",".join(make_proof(key, "GET", SERVICE_URL, access_token=token) for _ in range(2))
    assert "exactly one DPoP header" in refused(call(f"DPoP {token}", two), "invalid_dpop_proof")


def test_a_stale_proof_is_refused(service):
    key = generate_key()
    token = token_for(service, key)
    claims = {"jti": "j", "htm": "GET", "htu": SERVICE_URL, "iat": int(time.time()) - 120}
    claims["ath"] = access_token_hash(token)
    proof = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    assert "outside the accepted window" in refused(call(f"DPoP {token}", proof), "invalid_dpop_proof")


@pytest.mark.parametrize("iat", [float("nan"), 10**400, -(10**400)], ids=["nan", "huge", "huge-negative"])
def test_a_proof_whose_iat_is_not_a_finite_number_is_refused(service, iat):
    # NaN fails every comparison, so it passed the window check and the proof never expired.
    key = generate_key()
    token = token_for(service, key)
    claims = {"jti": "j", "htm": "GET", "htu": SERVICE_URL, "iat": iat, "ath": access_token_hash(token)}
    proof = jwt.encode(claims, key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk(key)})
    challenge = refused(call(f"DPoP {token}", proof), "invalid_dpop_proof")
    assert 'error_description="The proof\'s iat must be a number."' in challenge
    with pytest.raises(ProofError, match="iat must be a number"):
        verify_proof(proof, method="GET", url=SERVICE_URL, access_token=token, now=time.time() + 10**9)


def test_a_token_that_is_not_bound_is_not_accepted_as_dpop(service):
    key = generate_key()
    token = token_for(service)
    challenge = refused(call(f"DPoP {token}", make_proof(key, "GET", SERVICE_URL, access_token=token)), "invalid_token")
    assert "not DPoP-bound: send it as Authorization: Bearer" in challenge


def test_an_unbound_bearer_token_is_answered_as_before(service):
    token = token_for(service)
    assert call(f"Bearer {token}").status_code == 200
    # Its errors are RFC 6750's alone, as they were.
    assert refused(call("Bearer not.a.token"), "invalid_token") == (
        'Bearer realm="api", error="invalid_token", error_description="Malformed token."'
    )


def test_no_credentials_lists_both_schemes(service):
    response = call(None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer realm="api", DPoP realm="api", {ALGS}'


# --- an API that requires DPoP ---------------------------------------------------------------------


@pytest.fixture
def dpop_only(service, settings):
    settings.RESOURCE_SERVER = {**settings.RESOURCE_SERVER, "REQUIRE_DPOP": True}
    return service


def test_an_api_requiring_dpop_refuses_bearer_tokens(dpop_only):
    challenge = refused(call(f"Bearer {token_for(dpop_only)}"), "invalid_token")
    assert challenge == (
        'DPoP realm="api", error="invalid_token", '
        f'error_description="This API accepts DPoP-bound tokens only: send Authorization: DPoP with a proof.", {ALGS}'
    )
    assert call(None)["WWW-Authenticate"] == f'DPoP realm="api", {ALGS}'


def test_an_api_requiring_dpop_accepts_bound_tokens(dpop_only):
    key = generate_key()
    token = token_for(dpop_only, key)
    assert call(f"DPoP {token}", make_proof(key, "GET", SERVICE_URL, access_token=token)).status_code == 200


def test_behind_a_proxy_the_configured_url_is_the_htu(service, settings):
    settings.RESOURCE_SERVER = {**settings.RESOURCE_SERVER, "URL": "https://catalog.example/"}
    key = generate_key()
    token = token_for(service, key)
    external = make_proof(key, "GET", "https://catalog.example/events/", access_token=token)
    assert call(f"DPoP {token}", external).status_code == 200
    internal = make_proof(key, "GET", SERVICE_URL, access_token=token)
    assert "another URL" in refused(call(f"DPoP {token}", internal), "invalid_dpop_proof")


# --- the pure functions -------------------------------------------------------------------------------


def test_thumbprints_agree_with_another_implementation():
    for alg in ("ES256", "RS256"):
        key = DPoPKey.generate(alg=alg)
        assert thumbprint(key.public_jwk.to_dict()) == key.dpop_jkt


def test_the_rfc_7638_example_thumbprint():
    # RFC 7638 section 3.1: members beyond the required ones ("alg", "kid") do not count.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
            "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
            "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://IDP.Test/o/token/", "https://idp.test/o/token/"),
        ("HTTPS://idp.test:443/o/token/?q=1#f", "https://idp.test/o/token/"),
        ("http://idp.test:80", "http://idp.test/"),
        ("http://idp.test:8080/a/./b/../c", "http://idp.test:8080/a/c"),
        ("https://idp.test/%7e%2fx", "https://idp.test/~%2Fx"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_urls_are_normalized_as_rfc_3986_section_6_says(url, normal):
    assert normalized_uri(url) == normal


@pytest.mark.parametrize(
    "url", ["ftp://idp.test/x", "https://user@idp.test/x", "https://idp.test:99999/x", "/o/token/"]
)
def test_urls_that_are_not_http_targets_are_refused(url):
    with pytest.raises(ProofError):
        normalized_uri(url)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing with it is the point
def test_a_short_rsa_key_is_refused():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    proof = make_proof(weak, "GET", SERVICE_URL)
    with pytest.raises(ProofError, match="at least 2048 bits"):
        verify_proof(proof, method="GET", url=SERVICE_URL)


def test_a_proof_verifies_with_the_checks_of_section_4_3():
    key = generate_key()
    proof = make_proof(key, "GET", SERVICE_URL + "?x=1", access_token="tok", nonce="n")
    verified = verify_proof(proof, method="GET", url=SERVICE_URL, access_token="tok")
    assert verified.jkt == key_thumbprint(key)
    assert verified.nonce == "n"
    assert verified.acceptable_until == pytest.approx(verified.iat + 60)
    with pytest.raises(ProofError, match="outside the accepted window"):
        verify_proof(proof, method="GET", url=SERVICE_URL, now=time.time() + 61)
