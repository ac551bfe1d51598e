"""DPoP-bound tokens at the management API (RFC 9449 section 7): only with the DPoP scheme and a
proof of their key; a copy sent as Bearer is refused. Tokens that are not bound work as Bearer."""

import hashlib

import jwt
import pytest
from django.core.cache import cache

from apps.oauth.models import AccessToken
from apps.resource_server.dpop import ALGORITHMS, generate_key, key_thumbprint, make_proof
from apps.resources.models import ApiResource
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.support.http import ISSUER, TOKEN_URL, basic_auth, form_post
from tests.support.management_api import API, call

pytestmark = pytest.mark.django_db

CLIENTS_URL = ISSUER + API + "clients/"  # what a client puts in htu: the issuer's URL, not the Host
ALGS = f'algs="{" ".join(ALGORITHMS)}"'


@pytest.fixture
def key():
    return generate_key()


@pytest.fixture
def bound_token(client, automation, key) -> str:
    """A client-credentials token for idp-admin, which requires DPoP, bound to ``key``."""
    ApiResource.objects.filter(audience=MANAGEMENT_API_AUDIENCE).update(require_dpop=True)
    response = form_post(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(automation.client.client_id, automation.client_secret),
        HTTP_DPOP=make_proof(key, "POST", ISSUER + TOKEN_URL),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    token = body["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {"jkt": key_thumbprint(key)}
    return token


def dpop_get(client, token: str, proof: str | None, path: str = "clients/", **headers):
    headers["HTTP_AUTHORIZATION"] = f"DPoP {token}"
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return client.get(API + path, **headers)


def assert_refused(response, error: str, description: str) -> None:
    """401 with ``error`` in the DPoP challenge (RFC 9449 section 7.1), Bearer listed after it."""
    assert response.status_code == 401
    assert response.json() == {"error": error, "error_description": description}
    assert response["WWW-Authenticate"] == (
        f'DPoP realm="idp-admin", error="{error}", error_description="{description}", {ALGS}, Bearer realm="idp-admin"'
    )


# --- the bound token ---------------------------------------------------------------------------------


def test_a_bound_token_sent_as_bearer_is_invalid_token_with_the_dpop_challenge(client, bound_token):
    """The finding: a copied bound token used to work as a plain Bearer token here."""
    response = call(client, "get", "clients/", bound_token)
    assert response.status_code == 401
    description = "The token is DPoP-bound: send it as Authorization: DPoP with a proof."
    assert response.json() == {"error": "invalid_token", "error_description": description}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="idp-admin", error="invalid_token", error_description="{description}", '
        f'DPoP realm="idp-admin", {ALGS}'
    )


def test_a_bound_token_with_a_proof_of_its_key_is_accepted(client, bound_token, key):
    response = dpop_get(client, bound_token, make_proof(key, "GET", CLIENTS_URL, access_token=bound_token))
    assert response.status_code == 200
    assert "automation" in [row["name"] for row in response.json()["results"]]


def test_a_bound_token_writes_with_a_proof_for_the_post(client, bound_token, key):
    url = ISSUER + API + "scopes/"
    response = client.post(
        API + "scopes/",
        data={"name": "reports.read", "description": "Read reports"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"DPoP {bound_token}",
        HTTP_DPOP=make_proof(key, "POST", url, access_token=bound_token),
    )
    assert response.status_code == 201, response.content


def test_a_bound_token_with_another_keys_proof_is_invalid_token(client, bound_token):
    proof = make_proof(generate_key(), "GET", CLIENTS_URL, access_token=bound_token)
    assert_refused(
        dpop_get(client, bound_token, proof), "invalid_token", "The token is bound to another key than the proof's."
    )


def test_a_replayed_proof_is_invalid_dpop_proof(client, bound_token, key):
    proof = make_proof(key, "GET", CLIENTS_URL, access_token=bound_token)
    assert dpop_get(client, bound_token, proof).status_code == 200
    assert_refused(
        dpop_get(client, bound_token, proof),
        "invalid_dpop_proof",
        "The DPoP proof was already used: make a new one for every request.",
    )


def test_a_replay_is_refused_even_by_a_process_that_has_not_seen_the_proof(client, bound_token, key):
    """The proof's jti is remembered where every process sees it (apps/protocol/replay.py), not
    in this process's cache: emptying it does not reopen the proof."""
    proof = make_proof(key, "GET", CLIENTS_URL, access_token=bound_token)
    assert dpop_get(client, bound_token, proof).status_code == 200
    cache.clear()
    assert dpop_get(client, bound_token, proof).status_code == 401


def test_a_bound_token_without_a_proof_is_invalid_dpop_proof(client, bound_token):
    assert_refused(dpop_get(client, bound_token, None), "invalid_dpop_proof", "A DPoP-bound token needs a DPoP proof.")


def test_the_proofs_htu_is_the_issuers_url_not_the_host_header(client, bound_token, key, settings):
    """A proxy may rewrite Host; the URL clients reach the IdP at is its issuer's."""
    host_url = "http://testserver" + API + "clients/"
    response = dpop_get(client, bound_token, make_proof(key, "GET", host_url, access_token=bound_token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"
    # A rewritten Host changes nothing for a proof made for the issuer's URL.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "proxy.internal"]
    proof = make_proof(key, "GET", CLIENTS_URL, access_token=bound_token)
    assert dpop_get(client, bound_token, proof, HTTP_HOST="proxy.internal").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "for_token"),
    [("POST", "clients/", True), ("GET", "scopes/", True), ("GET", "clients/", False)],
    ids=["another-method", "another-path", "no-ath"],
)
def test_a_proof_for_another_request_or_without_the_tokens_hash_is_invalid_dpop_proof(
    client, bound_token, key, method, path, for_token
):
    proof = make_proof(key, method, ISSUER + API + path, access_token=bound_token if for_token else None)
    response = dpop_get(client, bound_token, proof)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"
    assert response["WWW-Authenticate"].startswith('DPoP realm="idp-admin", error="invalid_dpop_proof"')


def test_two_dpop_headers_are_invalid_dpop_proof(client, bound_token, key):
    first = make_proof(key, "GET", CLIENTS_URL, access_token=bound_token)
    second = make_proof(key, "GET", CLIENTS_URL, access_token=bound_token)
    assert_refused(
        dpop_get(client, bound_token, f"{first}, {second}"), "invalid_dpop_proof", "Send exactly one DPoP header."
    )


def test_a_revoked_bound_token_is_invalid_token_even_with_a_good_proof(client, bound_token, key):
    AccessToken.objects.filter(token_checksum=hashlib.sha256(bound_token.encode()).hexdigest()).delete()
    response = dpop_get(client, bound_token, make_proof(key, "GET", CLIENTS_URL, access_token=bound_token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


# --- tokens that are not bound ---------------------------------------------------------------------------


def test_an_unbound_token_with_the_dpop_scheme_and_a_proof_is_invalid_token(client, write_token, key):
    proof = make_proof(key, "GET", CLIENTS_URL, access_token=write_token)
    assert_refused(
        dpop_get(client, write_token, proof),
        "invalid_token",
        "The token is not DPoP-bound: send it as Authorization: Bearer.",
    )


def test_an_unbound_token_as_bearer_works_as_before(client, write_token):
    assert jwt.decode(write_token, options={"verify_signature": False}).get("cnf") is None
    response = call(client, "get", "clients/", write_token)
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response
