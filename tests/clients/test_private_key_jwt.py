"""private_key_jwt (RFC 7523 sections 2.2 and 3, OpenID Connect Core 9) at the token,
introspection and revocation endpoints: what is accepted, and every refusal as the
``invalid_client`` 401 of RFC 6749 section 5.2."""

import json
import math
import time
import uuid
from collections.abc import Iterator

import jwt
import pytest
from django.core.cache import cache
from django.test import RequestFactory

from apps.clients.authentication import CLIENT_ASSERTION_TYPE, claimed_client_id
from apps.clients.client_keys import clear_client_keys_cache
from apps.clients.secrets import verify_client_secret
from apps.oauth.models import Application
from apps.protocol.models import UsedJwtId
from apps.protocol.replay import CACHE_PREFIX
from tests.clients.assertions import (
    JwksServer,
    KeyPair,
    assertion,
    assertion_form,
    claims_for,
    ec_pair,
    jwks,
    rsa_pair,
    running_jwks_server,
    sign,
)
from tests.support.http import INTROSPECT_URL, ISSUER, REVOKE_URL, TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import verify

pytestmark = pytest.mark.django_db

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}
REFUSED = (401, "invalid_client")


@pytest.fixture(autouse=True)
def _fresh_client_keys() -> Iterator[None]:
    clear_client_keys_cache()
    yield
    clear_client_keys_cache()


@pytest.fixture
def rsa_key() -> KeyPair:
    return rsa_pair("rsa-1")


@pytest.fixture
def ec_key() -> KeyPair:
    return ec_pair("ec-1")


@pytest.fixture
def keyed(apis, make_client, rsa_key, ec_key):
    """A service that holds a secret and two registered keys (the way a service migrates)."""
    credentials = make_client("inventory", scopes=["eventcatalog.read"])
    credentials.client.jwks = jwks(rsa_key, ec_key)
    credentials.client.full_clean()
    credentials.client.save()
    return credentials


@pytest.fixture
def client_id(keyed) -> str:
    return keyed.client.client_id


def token(client, form: dict, **headers):
    return form_post(client, TOKEN_URL, {**CLIENT_CREDENTIALS, **form}, **headers)


def assert_refused(response) -> None:
    assert oauth_error(response) == REFUSED, response.content
    assert response["WWW-Authenticate"] == 'Basic realm="oauth", error="invalid_client"'


# --- accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["rsa", "ec", "ps256"])
def test_an_assertion_signed_by_a_registered_key_gets_a_token(client, client_id, rsa_key, ec_key, which):
    pair = {"rsa": rsa_key, "ec": ec_key, "ps256": KeyPair(rsa_key.private_key, rsa_key.kid, "PS256")}[which]

    response = token(client, assertion_form(assertion(pair, client_id)))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    claims = verify(client, body["access_token"], "eventcatalog")
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (client_id, client_id, "eventcatalog.read")


def test_without_a_kid_each_key_of_the_algorithms_type_is_tried(client, client_id, ec_key):
    response = token(client, assertion_form(sign(ec_key, claims_for(client_id), kid=None)))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "audience",
    [
        ISSUER,
        ISSUER + TOKEN_URL,
        ["https://elsewhere.test", ISSUER + TOKEN_URL],
        # The URL of another endpoint clients authenticate at names this server too.
        ISSUER + INTROSPECT_URL,
    ],
)
def test_aud_may_be_the_issuer_or_an_endpoint_url(client, client_id, rsa_key, audience):
    response = token(client, assertion_form(assertion(rsa_key, client_id, audience=audience)))
    assert response.status_code == 200, response.content


def test_a_body_client_id_naming_the_same_client_is_fine(client, client_id, rsa_key):
    response = token(client, assertion_form(assertion(rsa_key, client_id), client_id=client_id))
    assert response.status_code == 200, response.content


def test_exp_five_minutes_ahead_is_the_longest_accepted(client, client_id, rsa_key):
    response = token(client, assertion_form(assertion(rsa_key, client_id, lifetime=300)))
    assert response.status_code == 200, response.content


def test_the_secret_still_works_beside_the_keys(client, keyed):
    response = token(client, {}, HTTP_AUTHORIZATION=basic_auth(keyed.client.client_id, keyed.client_secret))
    assert response.status_code == 200, response.content


# --- refused: the assertion itself -------------------------------------------------------------


def test_a_replayed_assertion_is_refused(client, client_id, rsa_key):
    form = assertion_form(assertion(rsa_key, client_id))
    assert token(client, form).status_code == 200

    assert_refused(token(client, form))


def test_the_jti_is_remembered_in_the_database_until_the_assertion_could_no_longer_be_accepted(
    client, client_id, rsa_key
):
    claims = claims_for(client_id, lifetime=120)

    assert token(client, assertion_form(sign(rsa_key, claims))).status_code == 200

    (used,) = UsedJwtId.objects.all()
    # exp plus the 30 s of clock skew an assertion is still accepted within.
    assert used.expires.timestamp() == claims["exp"] + 30


def test_the_same_jti_from_another_client_is_not_a_replay(client, apis, make_client, client_id, rsa_key):
    other = make_client("billing", scopes=["eventcatalog.read"])
    other.client.jwks = jwks(rsa_key)
    other.client.save()
    jti = uuid.uuid4().hex

    assert token(client, assertion_form(assertion(rsa_key, client_id, jti=jti))).status_code == 200
    assert token(client, assertion_form(assertion(rsa_key, other.client.client_id, jti=jti))).status_code == 200


@pytest.mark.parametrize(
    "audience",
    [
        "https://another-idp.test/o/token/",
        ISSUER + "/o/token",  # no trailing slash: not the endpoint's URL
        ISSUER + "/.well-known/jwks.json",
        [],
        123,
    ],
)
def test_an_aud_naming_someone_else_is_refused(client, client_id, rsa_key, audience):
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id, audience=audience))))


def test_an_expired_assertion_is_refused(client, client_id, rsa_key):
    now = int(time.time())
    claims = claims_for(client_id, iat=now - 300, exp=now - 60)
    assert_refused(token(client, assertion_form(sign(rsa_key, claims))))


def test_an_exp_more_than_five_minutes_ahead_is_refused(client, client_id, rsa_key):
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id, lifetime=600))))


@pytest.mark.parametrize("claim", ["exp", "jti"])
def test_an_assertion_without_exp_or_jti_is_refused(client, client_id, rsa_key, claim):
    claims = claims_for(client_id)
    del claims[claim]
    assert_refused(token(client, assertion_form(sign(rsa_key, claims))))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": math.nan},
        {"exp": "soon"},
        {"exp": True},
        {"iat": 4_000_000_000},  # issued in the future
        {"nbf": 4_000_000_000},
        {"jti": ""},
        {"jti": 42},
        {"jti": "x" * 256},
    ],
    ids=["exp-nan", "exp-string", "exp-bool", "iat-future", "nbf-future", "jti-empty", "jti-number", "jti-long"],
)
def test_malformed_claims_are_refused_never_a_server_error(client, client_id, rsa_key, overrides):
    assert_refused(token(client, assertion_form(sign(rsa_key, claims_for(client_id, **overrides)))))


def refused_with(response, description: str) -> None:
    assert_refused(response)
    assert response.json()["error_description"] == description


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_too_large_for_a_float_is_refused(client, client_id, rsa_key, claim):
    # math.isfinite(10**400) raises OverflowError: it used to be a 500 after the signature check.
    form = assertion_form(sign(rsa_key, claims_for(client_id, **{claim: 10**400})))
    refused_with(token(client, form), f"The assertion's {claim} is not a number of seconds.")


@pytest.mark.parametrize("alg", [["ES256"], {"ES256": 1}], ids=["list", "object"])
def test_an_alg_that_is_not_a_string_is_refused(client, client_id, ec_key, alg):
    # An unhashable alg made the lookup in the algorithms' dict raise TypeError: a 500. Signed
    # by hand (PyJWT signs with the algorithm its header names, so it cannot make one).
    claims = claims_for(client_id)
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in ({"alg": alg, "kid": "ec-1"}, claims)]
    signing_input = b".".join(segments)
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(signing_input, ec_key.private_key)
    forged = b".".join([signing_input, jwt.utils.base64url_encode(signature)]).decode()
    refused_with(token(client, assertion_form(forged)), "Assertions are signed with RS256, PS256, ES256.")


def test_a_key_the_client_did_not_register_is_refused(client, client_id):
    stranger = rsa_pair("rsa-1", index=1)  # the registered key's kid, another key
    assert_refused(token(client, assertion_form(assertion(stranger, client_id))))


def test_an_unknown_kid_is_refused(client, client_id, rsa_key):
    assert_refused(token(client, assertion_form(sign(rsa_key, claims_for(client_id), kid="rsa-9"))))


def test_a_registered_key_of_another_client_is_refused(client, apis, make_client, client_id):
    other_key = ec_pair("billing-1")
    other = make_client("billing", scopes=["eventcatalog.read"])
    other.client.jwks = jwks(other_key)
    other.client.save()
    assert_refused(token(client, assertion_form(assertion(other_key, client_id))))


def test_alg_none_is_refused(client, client_id):
    unsigned = jwt.encode(claims_for(client_id), None, algorithm="none", headers={"kid": "rsa-1"})
    assert_refused(token(client, assertion_form(unsigned)))


def test_hs256_with_the_public_key_as_the_secret_is_refused(client, client_id, rsa_key):
    # The classic confusion: an HMAC "signed" with what anyone can read.
    public_jwk_text = str(rsa_key.public_jwk())
    forged = jwt.encode(claims_for(client_id), public_jwk_text, algorithm="HS256", headers={"kid": "rsa-1"})
    assert_refused(token(client, assertion_form(forged)))


@pytest.mark.parametrize("alg", ["RS384", "RS512", "ES256"])
def test_an_algorithm_not_offered_or_not_the_keys_is_refused(client, client_id, rsa_key, alg):
    if alg == "ES256":
        # An EC signature under the RSA key's kid: the kid's key cannot check it.
        forged = sign(ec_pair("x"), claims_for(client_id), kid="rsa-1")
    else:
        forged = sign(rsa_key, claims_for(client_id), alg=alg)
    assert_refused(token(client, assertion_form(forged)))


def test_a_key_restricted_to_another_alg_does_not_verify(client, client_id, rsa_key, keyed):
    keyed.client.jwks = {"keys": [rsa_key.public_jwk(alg="PS256")]}
    keyed.client.save()
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id))))


def test_a_tampered_assertion_is_refused(client, client_id, rsa_key):
    header, payload, signature = assertion(rsa_key, client_id).split(".")
    other_payload = assertion(rsa_key, client_id, jti="other").split(".")[1]
    assert_refused(token(client, assertion_form(f"{header}.{other_payload}.{signature}")))


def test_a_critical_header_is_refused(client, client_id, rsa_key):
    forged = jwt.encode(
        claims_for(client_id), rsa_key.private_key, algorithm="RS256", headers={"kid": "rsa-1", "crit": ["exp"]}
    )
    assert_refused(token(client, assertion_form(forged)))


@pytest.mark.parametrize(
    "overrides",
    [{"iss": "someone-else"}, {"sub": "someone-else"}, {"iss": None}, {"sub": None}],
    ids=["iss", "sub", "no-iss", "no-sub"],
)
def test_iss_and_sub_must_both_be_the_client_id(client, client_id, rsa_key, overrides):
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id, **overrides))))


def test_a_body_client_id_naming_another_client_is_refused(client, client_id, rsa_key):
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id), client_id="someone-else")))


@pytest.mark.parametrize(
    "form",
    [
        {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion": "x"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE},
        {"client_assertion": "eyJ.eyJ.sig"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "not a jwt"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "a" * 20_000},
    ],
    ids=["saml-type", "no-assertion", "no-type", "garbage", "huge"],
)
def test_a_missing_or_malformed_assertion_is_refused(client, keyed, form):
    assert_refused(token(client, form))


# --- refused: how it is sent, and by whom ------------------------------------------------------


def test_an_assertion_with_a_client_secret_in_the_body_is_refused(client, keyed, rsa_key):
    form = assertion_form(
        assertion(rsa_key, keyed.client.client_id),
        client_id=keyed.client.client_id,
        client_secret=keyed.client_secret,
    )
    assert_refused(token(client, form))


def test_an_assertion_with_a_basic_header_is_refused(client, keyed, rsa_key):
    form = assertion_form(assertion(rsa_key, keyed.client.client_id))
    auth = basic_auth(keyed.client.client_id, keyed.client_secret)
    assert_refused(token(client, form, HTTP_AUTHORIZATION=auth))


def test_a_disabled_client_is_refused(client, keyed, rsa_key):
    keyed.client.is_active = False
    keyed.client.save()
    assert_refused(token(client, assertion_form(assertion(rsa_key, keyed.client.client_id))))


def test_a_public_client_is_refused_even_with_keys(client, keyed, rsa_key):
    # clean() refuses keys on a public client; one stored without it authenticates nothing.
    Application.objects.filter(pk=keyed.client.pk).update(client_type=Application.CLIENT_PUBLIC)
    assert_refused(token(client, assertion_form(assertion(rsa_key, keyed.client.client_id))))


def test_a_client_without_keys_is_refused(client, apis, make_client, rsa_key):
    plain = make_client("plain", scopes=["eventcatalog.read"])
    assert_refused(token(client, assertion_form(assertion(rsa_key, plain.client.client_id))))


def test_an_unknown_client_is_refused(client, apis, rsa_key):
    assert_refused(token(client, assertion_form(assertion(rsa_key, "nobody"))))


def test_a_refused_assertion_uses_up_no_jti(client, client_id, rsa_key):
    jti = uuid.uuid4().hex
    assert_refused(token(client, assertion_form(assertion(rsa_key, client_id, jti=jti, audience="https://x.test"))))
    assert token(client, assertion_form(assertion(rsa_key, client_id, jti=jti))).status_code == 200


def test_the_audit_trail_names_the_claimed_client_only_when_iss_and_sub_agree(client_id, rsa_key):
    def claimed(form: dict) -> str:
        return claimed_client_id(RequestFactory().post(TOKEN_URL, form))

    assert claimed(assertion_form(assertion(rsa_key, client_id))) == client_id
    assert claimed(assertion_form(assertion(rsa_key, client_id, sub="other"))) == ""
    assert claimed(assertion_form(assertion(rsa_key, client_id), client_id="other")) == ""
    assert claimed(assertion_form("garbage")) == ""


# --- clients with keys only: the secret methods refuse them -------------------------------------


def test_an_empty_stored_or_presented_secret_never_verifies():
    assert verify_client_secret("", "") is False
    assert verify_client_secret("anything", "") is False
    assert verify_client_secret("", "idp_secret_sha256$salt$" + "0" * 64) is False


@pytest.mark.parametrize("how", ["basic", "post"])
def test_a_keys_only_client_cannot_authenticate_with_an_empty_secret(client, keyed, rsa_key, how):
    Application.objects.filter(pk=keyed.client.pk).update(client_secret="")
    client_id = keyed.client.client_id
    if how == "basic":
        response = token(client, {}, HTTP_AUTHORIZATION=basic_auth(client_id, ""))
    else:
        response = token(client, {"client_id": client_id, "client_secret": ""})
    assert_refused(response)
    # Its keys still work.
    assert token(client, assertion_form(assertion(rsa_key, client_id))).status_code == 200


def test_a_keys_only_client_saved_with_an_empty_secret_refuses_the_empty_secret(client, keyed):
    # DOT hashes whatever is saved, the empty string too: the hash of "" must not verify "".
    keyed.client.client_secret = ""
    keyed.client.save()
    stored = Application.objects.get(pk=keyed.client.pk).client_secret
    assert verify_client_secret("", stored) is False
    assert_refused(token(client, {}, HTTP_AUTHORIZATION=basic_auth(keyed.client.client_id, "")))


# --- introspection and revocation --------------------------------------------------------------


def issued_token(client, client_id: str, pair: KeyPair) -> str:
    response = token(client, assertion_form(assertion(pair, client_id)))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_introspection_with_an_assertion(client, apis, make_client, rsa_key, ec_key, client_id):
    # The catalog API introspects a token issued for it, authenticating with its key.
    catalog = make_client("catalog-api", grants=(), resource="eventcatalog")
    catalog.client.jwks = jwks(ec_key)
    catalog.client.save()
    access_token = issued_token(client, client_id, rsa_key)
    form = {"token": access_token}

    response = form_post(
        client,
        INTROSPECT_URL,
        {**form, **assertion_form(assertion(ec_key, catalog.client.client_id, audience=ISSUER + INTROSPECT_URL))},
    )

    assert response.status_code == 200, response.content
    assert response.json()["active"] is True
    assert response.json()["client_id"] == client_id


@pytest.mark.parametrize("problem", ["replayed", "wrong-aud", "expired", "unregistered-key", "with-secret"])
def test_introspection_refuses_a_bad_assertion(client, client_id, keyed, rsa_key, problem):
    access_token = issued_token(client, client_id, rsa_key)
    pair = rsa_pair("rsa-1", index=1) if problem == "unregistered-key" else rsa_key
    now = int(time.time())
    times = {"iat": now - 300, "exp": now - 60} if problem == "expired" else {}
    audience = "https://x.test" if problem == "wrong-aud" else ISSUER + INTROSPECT_URL
    form = assertion_form(sign(pair, claims_for(client_id, audience=audience, **times)), token=access_token)
    if problem == "with-secret":
        form.update(client_id=client_id, client_secret=keyed.client_secret)
    if problem == "replayed":
        assert form_post(client, INTROSPECT_URL, form).status_code == 200

    assert_refused(form_post(client, INTROSPECT_URL, form))


def test_revocation_with_an_assertion(client, client_id, rsa_key):
    access_token = issued_token(client, client_id, rsa_key)
    form = {"token": access_token, **assertion_form(assertion(rsa_key, client_id, audience=ISSUER + REVOKE_URL))}

    response = form_post(client, REVOKE_URL, form)

    assert response.status_code == 200, response.content
    # Revoked: introspection by the same client now reports it inactive.
    check = {"token": access_token, **assertion_form(assertion(rsa_key, client_id, audience=ISSUER + INTROSPECT_URL))}
    assert form_post(client, INTROSPECT_URL, check).json() == {"active": False}


@pytest.mark.parametrize("problem", ["replayed", "bad-signature", "basic-too"])
def test_revocation_refuses_a_bad_assertion(client, client_id, keyed, rsa_key, problem):
    access_token = issued_token(client, client_id, rsa_key)
    signed = assertion(rsa_key, client_id, audience=ISSUER + REVOKE_URL)
    if problem == "bad-signature":
        signed = signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB")
    form = assertion_form(signed, token=access_token)
    headers = {}
    if problem == "basic-too":
        headers["HTTP_AUTHORIZATION"] = basic_auth(client_id, keyed.client_secret)
    if problem == "replayed":
        assert form_post(client, REVOKE_URL, form).status_code == 200

    assert_refused(form_post(client, REVOKE_URL, form, **headers))


# --- replay in Redis ---------------------------------------------------------------------------


@pytest.fixture
def redis(settings):
    pytest.importorskip("django_redis")
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": settings.REDIS_URL},
    }
    try:
        cache.set("private-key-jwt-test", 1, timeout=5)
    except Exception as exc:  # noqa: BLE001 (any connection error)
        pytest.skip(f"no Redis at 127.0.0.1:6379 ({exc})")
    return cache


def test_with_redis_a_replay_is_refused_and_the_database_stays_empty(client, client_id, rsa_key, redis):
    form = assertion_form(assertion(rsa_key, client_id, lifetime=60))

    assert token(client, form).status_code == 200
    assert_refused(token(client, form))

    assert not UsedJwtId.objects.exists()
    keys = redis.keys(CACHE_PREFIX + "*")
    assert keys, "the jti is remembered in Redis"
    # Remembered for the assertion's remaining life plus the skew, not longer.
    assert all(0 < redis.ttl(key) <= 60 + 30 for key in keys)
    redis.delete_many(keys)


# --- keys at a jwks_uri ------------------------------------------------------------------------


@pytest.fixture
def jwks_server(rsa_key) -> Iterator[JwksServer]:
    yield from running_jwks_server(jwks(rsa_key))


@pytest.fixture
def published(apis, make_client, jwks_server):
    credentials = make_client("ticketing", scopes=["eventcatalog.read"])
    credentials.client.jwks_uri = jwks_server.url
    credentials.client.full_clean()
    credentials.client.save()
    return credentials.client.client_id


def test_keys_at_a_jwks_uri_are_fetched_once_and_cached(client, published, rsa_key, jwks_server):
    for _ in range(3):
        assert token(client, assertion_form(assertion(rsa_key, published))).status_code == 200
    assert jwks_server.hits == 1


def test_a_rotated_key_at_the_jwks_uri_is_picked_up(client, published, rsa_key, jwks_server, settings):
    assert token(client, assertion_form(assertion(rsa_key, published))).status_code == 200
    settings.IDP = {**settings.IDP, "CLIENT_JWKS_MIN_REFETCH_SECONDS": 0}
    new_key = ec_pair("ec-2024")
    jwks_server.document = jwks(new_key)

    assert token(client, assertion_form(assertion(new_key, published))).status_code == 200
    assert jwks_server.hits == 2
    # The old key left the set: refused once a fetch shows it gone (its kid is now unknown).
    assert_refused(token(client, assertion_form(assertion(rsa_key, published))))


def test_unknown_kids_refetch_at_most_once_per_interval(client, published, rsa_key, jwks_server):
    assert token(client, assertion_form(assertion(rsa_key, published))).status_code == 200
    new_key = ec_pair("ec-2024")
    jwks_server.document = jwks(rsa_key, new_key)

    for kid in ("made-up-1", "made-up-2", "ec-2024"):
        assert_refused(token(client, assertion_form(sign(new_key, claims_for(published), kid=kid))))
    # Within CLIENT_JWKS_MIN_REFETCH_SECONDS (30 s): no refetch at all yet.
    assert jwks_server.hits == 1


def test_an_unreachable_jwks_uri_refuses_the_client(client, apis, make_client, rsa_key, jwks_server):
    jwks_server.stop()  # its port now refuses connections
    credentials = make_client("ticketing", scopes=["eventcatalog.read"])
    credentials.client.jwks_uri = jwks_server.url
    credentials.client.save()
    assert_refused(token(client, assertion_form(assertion(rsa_key, credentials.client.client_id))))


def test_keys_past_their_cache_life_are_not_trusted_when_the_refetch_fails(
    client, published, rsa_key, jwks_server, settings
):
    assert token(client, assertion_form(assertion(rsa_key, published))).status_code == 200
    jwks_server.status = 503

    # Within their life the cached keys still work while the client's server is down...
    assert token(client, assertion_form(assertion(rsa_key, published))).status_code == 200
    # ...past it they do not.
    settings.IDP = {**settings.IDP, "CLIENT_JWKS_CACHE_SECONDS": 0, "CLIENT_JWKS_MIN_REFETCH_SECONDS": 0}
    assert_refused(token(client, assertion_form(assertion(rsa_key, published))))
    assert jwks_server.hits == 2


@pytest.mark.parametrize("served", ["private-key", "not-json", "too-big", "redirect", "encryption-key", "empty"])
def test_an_unacceptable_jwks_document_refuses_the_client(client, published, rsa_key, jwks_server, served):
    if served == "private-key":
        jwks_server.document = {"keys": [rsa_key.private_jwk()]}
    elif served == "not-json":
        jwks_server.body = b"<html>"
    elif served == "too-big":
        jwks_server.body = b'{"keys": [' + b" " * 70_000 + b"]}"
    elif served == "redirect":
        jwks_server.redirect_to = jwks_server.url + "?elsewhere"
    elif served == "encryption-key":
        jwks_server.document = {"keys": [rsa_key.public_jwk(use="enc")]}
    else:
        jwks_server.document = {"keys": []}

    assert_refused(token(client, assertion_form(assertion(rsa_key, published))))


@pytest.mark.parametrize("served", ["alg-list", "nested"])
def test_a_document_the_parser_chokes_on_is_a_failed_attempt(client, published, rsa_key, jwks_server, served):
    # A key whose alg is a list made the parser raise TypeError; JSON nested deeper than the
    # parser recurses, RecursionError. Both escaped past the failure record: a 500 on every
    # assertion naming the client, each refetching the document.
    if served == "alg-list":
        jwks_server.document = {"keys": [rsa_key.public_jwk(alg=["RS256"])]}
    else:
        jwks_server.body = b"[" * 60_000
    for _ in range(2):
        assert_refused(token(client, assertion_form(assertion(rsa_key, published))))
    assert jwks_server.hits == 1  # the failure counts: no refetch within the interval


def test_a_jwks_uri_stored_without_clean_is_still_checked_before_a_fetch(client, published, rsa_key):
    Application.objects.filter(client_id=published).update(jwks_uri="http://jwks.example.test/keys")
    assert_refused(token(client, assertion_form(assertion(rsa_key, published))))
