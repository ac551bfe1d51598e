"""A client's registered keys for private_key_jwt: what Application.clean() accepts (inline JWKS,
jwks_uri) and how apps/clients/client_keys.py hands them out."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError

from apps.clients import client_keys
from apps.oauth.models import Application
from apps.oauth.models.application import MAX_CLIENT_JWKS_KEYS, parse_client_jwks
from tests.clients.assertions import KeyPair, ec_pair, jwks, rsa_pair


def build(**fields) -> Application:
    defaults = {"name": "c", "client_type": Application.CLIENT_CONFIDENTIAL, "allowed_grant_types": []}
    return Application(**{**defaults, **fields})


def errors_of(app: Application) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        app.clean()
    return excinfo.value.message_dict


@pytest.fixture(autouse=True)
def _fresh_client_keys():
    client_keys.clear_client_keys_cache()
    yield
    client_keys.clear_client_keys_cache()


# --- Application.clean(): inline keys ----------------------------------------------------------


def test_public_rsa_and_p256_keys_are_accepted():
    build(jwks=jwks(rsa_pair("a"), ec_pair("b"))).clean()


def test_keys_without_kid_or_with_a_matching_alg_are_accepted():
    key = rsa_pair("a").public_jwk(alg="PS256")
    del key["kid"]
    build(jwks={"keys": [key, ec_pair("b").public_jwk(alg="ES256")]}).clean()


def _small_rsa_jwk() -> dict:
    small = KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=1024), "small", "RS256")
    return small.public_jwk()


def _off_curve_jwk() -> dict:
    key = ec_pair("off").public_jwk()
    y = bytearray(base64.urlsafe_b64decode(key["y"] + "=="))
    y[-1] ^= 1  # a point no longer on P-256
    return {**key, "y": base64.urlsafe_b64encode(bytes(y)).rstrip(b"=").decode()}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, None),  # no keys: a secret-only client
        ({}, 'A JWKS is a JSON object with a non-empty "keys" list.'),
        ({"keys": []}, 'A JWKS is a JSON object with a non-empty "keys" list.'),
        ([], 'A JWKS is a JSON object with a non-empty "keys" list.'),
        ({"keys": "x"}, 'A JWKS is a JSON object with a non-empty "keys" list.'),
        ({"keys": ["x"]}, "Key 1: each key is a JSON object."),
    ],
    ids=["none", "empty-object", "empty-keys", "list", "keys-string", "key-string"],
)
def test_the_shape_of_the_document(document, message):
    app = build(jwks=document)
    if message is None:
        app.clean()
    else:
        assert errors_of(app) == {"jwks": [message]}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (lambda: rsa_pair("a").private_jwk(), "Key 1: a private or symmetric key: register the public key only."),
        (lambda: {"kty": "oct", "k": "c2VjcmV0"}, "Key 1: a private or symmetric key: register the public key only."),
        (lambda: {"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "Key 1: kty must be RSA or EC, not 'OKP'."),
        (_small_rsa_jwk, "Key 1: an RSA key must have 2048 to 8192 bits."),
        (lambda: ec_pair("a").public_jwk(crv="P-384"), "Key 1: an EC key must be on the P-256 curve (ES256)."),
        (lambda: rsa_pair("a").public_jwk(use="enc"), "Key 1: use must be sig: the key verifies signed assertions."),
        (lambda: rsa_pair("a").public_jwk(alg="HS256"), "Key 1: alg must be one of RS256, PS256."),
        (lambda: ec_pair("a").public_jwk(alg="RS256"), "Key 1: alg must be one of ES256."),
        (lambda: rsa_pair("a").public_jwk(key_ops=["encrypt"]), "Key 1: key_ops must include verify."),
        (lambda: rsa_pair("a").public_jwk(kid=""), "Key 1: kid must be a non-empty string of at most 200 characters."),
        (lambda: rsa_pair("a").public_jwk(kid=7), "Key 1: kid must be a non-empty string of at most 200 characters."),
    ],
    ids=[
        "rsa-private",
        "oct",
        "okp",
        "rsa-1024",
        "p384",
        "use-enc",
        "alg-hs256",
        "alg-mismatch",
        "key-ops",
        "kid-empty",
        "kid-number",
    ],
)
def test_unacceptable_keys_are_refused_with_a_reason(key, message):
    assert errors_of(build(jwks={"keys": [key()]})) == {"jwks": [message]}


@pytest.mark.parametrize("alg", [["ES256"], {"alg": "ES256"}, 256], ids=["list", "object", "number"])
def test_an_alg_that_is_not_a_string_is_refused_with_a_reason(alg):
    # An unhashable alg made the lookup raise TypeError: a 500 from full_clean() in the console.
    app = build(jwks={"keys": [ec_pair("a").public_jwk(alg=alg)]})
    assert errors_of(app) == {"jwks": ["Key 1: alg must be one of ES256."]}
    with pytest.raises(ValidationError):
        app.full_clean(exclude=["client_id", "client_secret", "user", "redirect_uris", "authorization_grant_type"])


def test_an_ec_point_off_the_curve_is_refused():
    (message,) = errors_of(build(jwks={"keys": [_off_curve_jwk()]}))["jwks"]
    assert message.startswith("Key 1: not a valid EC public key")


def test_two_keys_with_one_kid_are_refused():
    assert errors_of(build(jwks=jwks(rsa_pair("same"), ec_pair("same")))) == {"jwks": ["Two keys have the same kid."]}


def test_the_document_is_bounded():
    many = {"keys": [ec_pair(f"k{i}").public_jwk() for i in range(MAX_CLIENT_JWKS_KEYS + 1)]}
    assert errors_of(build(jwks=many)) == {"jwks": [f"At most {MAX_CLIENT_JWKS_KEYS} keys."]}
    padded = {"keys": [ec_pair("a").public_jwk()], "padding": "x" * 70_000}
    assert errors_of(build(jwks=padded)) == {"jwks": ["A JWKS of at most 64 KiB."]}


# --- Application.clean(): jwks_uri -------------------------------------------------------------


@pytest.mark.parametrize(
    "uri", ["https://service.test/.well-known/jwks.json", "http://127.0.0.1:9000/jwks", "http://localhost/jwks"]
)
def test_https_and_loopback_http_jwks_uris_are_accepted(uri):
    build(jwks_uri=uri).clean()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://service.test/jwks", "Use https (http only for loopback hosts)."),
        ("ftp://service.test/jwks", "An https URL."),
        ("https://user:pw@service.test/jwks", "No credentials in the URL."),
        ("https://service.test/jwks#keys", "No fragment."),
    ],
)
def test_other_jwks_uris_are_refused(uri, message):
    assert errors_of(build(jwks_uri=uri)) == {"jwks_uri": [message]}


def test_inline_keys_and_a_jwks_uri_together_are_refused():
    app = build(jwks=jwks(ec_pair("a")), jwks_uri="https://service.test/jwks")
    assert errors_of(app) == {"jwks_uri": ["Register the keys inline or at a JWKS URI, not both."]}


@pytest.mark.parametrize(
    "fields", [{"jwks": {"keys": [{"kty": "EC"}]}}, {"jwks_uri": "https://service.test/jwks"}], ids=["jwks", "uri"]
)
def test_a_public_client_has_no_keys(fields):
    errors = errors_of(build(client_type=Application.CLIENT_PUBLIC, **fields))
    assert errors == {next(iter(fields)): ["A public client authenticates with nothing: it has no keys."]}


# --- apps/clients/client_keys.py ---------------------------------------------------------------


def test_inline_keys_are_parsed_once_per_document(monkeypatch):
    calls: list[object] = []
    real = client_keys.parse_client_jwks

    def counting(document):
        calls.append(document)
        return real(document)

    monkeypatch.setattr(client_keys, "parse_client_jwks", counting)
    document = jwks(rsa_pair("a"), ec_pair("b"))
    first = build(jwks=document)
    # Another instance (the configuration cache loads a new one per generation), same keys.
    second = build(jwks=json.loads(json.dumps(document)))

    assert [key.kid for key in client_keys.assertion_keys(first, kid=None, alg="RS256")] == ["a"]
    assert [key.kid for key in client_keys.assertion_keys(second, kid="b", alg="ES256")] == ["b"]
    assert client_keys.assertion_keys(second, kid="a", alg="ES256") == ()
    assert len(calls) == 1
    # Changed keys are new keys at once.
    changed = build(jwks=jwks(ec_pair("c")))
    assert [key.kid for key in client_keys.assertion_keys(changed, kid=None, alg="ES256")] == ["c"]


def test_a_stored_document_that_clean_would_refuse_yields_no_keys():
    app = build(jwks={"keys": [rsa_pair("a").private_jwk()]})
    assert client_keys.assertion_keys(app, kid=None, alg="RS256") == ()


def test_a_client_without_keys_has_none():
    assert client_keys.assertion_keys(build(), kid=None, alg="RS256") == ()


def test_fetching_refuses_what_clean_refuses_before_any_request():
    with pytest.raises(client_keys.KeysUnavailable, match="Use https"):
        client_keys.fetch_jwks("http://service.test/jwks")


def test_parse_client_jwks_returns_usable_keys():
    pair = rsa_pair("a")
    (key,) = parse_client_jwks(jwks(pair))
    assert (key.kid, key.kty, key.alg) == ("a", "RSA", None)
    assert key.verifies("RS256") and key.verifies("PS256") and not key.verifies("ES256")
    assert key.public_key.public_numbers() == pair.private_key.public_key().public_numbers()  # type: ignore[union-attr]
