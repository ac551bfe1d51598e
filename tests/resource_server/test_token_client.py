"""The token-exchange client helper: downstream tokens, cached until shortly before expiry."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto.jwk import JWK

from apps.resource_server.client_assertion import ClientAssertionSigner, ClientKeyError
from apps.resource_server.exchange import TokenClient, TokenRequestFailed


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body = status, body

    def json(self) -> dict:
        return self._body


@pytest.fixture
def posts():
    calls = []

    def post(url, data, auth, timeout):
        calls.append(data)
        return FakeResponse(200, {"access_token": f"token-{len(calls)}", "expires_in": 300})

    return calls, post


def test_exchange_is_cached_per_subject_audience_and_scope(posts):
    calls, post = posts
    client = TokenClient("https://idp.test/o/token/", "basket", "secret", post=post)
    first = client.on_behalf_of("alice-token", audience="discount")
    assert client.on_behalf_of("alice-token", audience="discount") == first
    assert client.on_behalf_of("bob-token", audience="discount") != first
    assert len(calls) == 2
    assert calls[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert calls[0]["subject_token"] == "alice-token"
    assert calls[0]["audience"] == "discount"


def test_token_is_renewed_shortly_before_it_expires(posts):
    calls, post = posts
    client = TokenClient("https://idp.test/o/token/", "basket", "secret", refresh_margin=301, post=post)
    client.client_credentials(scope="discount.fullaccess")
    client.client_credentials(scope="discount.fullaccess")
    assert len(calls) == 2


def test_refusal_is_raised_with_the_oauth_error():
    def post(url, data, auth, timeout):
        return FakeResponse(400, {"error": "invalid_target", "error_description": "no policy"})

    client = TokenClient("https://idp.test/o/token/", "basket", "secret", post=post)
    with pytest.raises(TokenRequestFailed) as excinfo:
        client.on_behalf_of("alice-token", audience="eventcatalog")
    assert (excinfo.value.status, excinfo.value.error) == (400, "invalid_target")


# --- private_key_jwt: assertions signed with the service's key instead of a secret -------------

ENDPOINT = "https://idp.test/o/token/"


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def signed_posts():
    calls = []

    def post(url, data, auth, timeout):
        calls.append({"url": url, "data": data, "auth": auth})
        return FakeResponse(200, {"access_token": f"token-{len(calls)}", "expires_in": 300})

    return calls, post


@pytest.mark.parametrize(
    ("make_key", "algorithm", "kty"),
    [(ec_key, "ES256", "EC"), (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", "RSA")],
)
def test_each_request_carries_a_fresh_assertion_and_no_basic_header(make_key, algorithm, kty):
    key = make_key()
    signer = ClientAssertionSigner(client_id="basket", private_key=key, key_id="basket-1")
    calls, post = signed_posts()
    client = TokenClient(ENDPOINT, "basket", assertion_signer=signer, post=post)

    client.client_credentials(scope="discount.fullaccess")
    client.on_behalf_of("alice-token", audience="discount")

    first, second = (call["data"] for call in calls)
    assert all(call["auth"] is None for call in calls)
    assert first["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert first["grant_type"] == "client_credentials" and second["subject_token"] == "alice-token"
    assert "client_id" not in first and "client_secret" not in first
    header = jwt.get_unverified_header(first["client_assertion"])
    assert (header["alg"], header["kid"]) == (algorithm, "basket-1")
    claims = [
        jwt.decode(data["client_assertion"], key.public_key(), algorithms=[algorithm], audience=ENDPOINT)
        for data in (first, second)
    ]
    for each in claims:
        assert each["iss"] == each["sub"] == "basket"
        assert each["aud"] == ENDPOINT
        assert each["exp"] - each["iat"] == 60
        assert abs(each["iat"] - time.time()) < 5
    assert claims[0]["jti"] != claims[1]["jti"]
    assert signer.public_jwk()["kty"] == kty


def test_a_cached_token_signs_nothing():
    calls, post = signed_posts()
    signer = ClientAssertionSigner(client_id="basket", private_key=ec_key())
    client = TokenClient(ENDPOINT, "basket", assertion_signer=signer, post=post)
    client.client_credentials()
    client.client_credentials()
    assert len(calls) == 1


def test_the_default_kid_is_the_keys_thumbprint_and_the_public_jwk_holds_nothing_private():
    key = ec_key()
    signer = ClientAssertionSigner(client_id="basket", private_key=key)
    jwk = signer.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["alg"], jwk["use"]) == ("ES256", "sig")
    # RFC 7638 computed independently, by jwcrypto.
    assert jwk["kid"] == JWK(**{k: jwk[k] for k in ("kty", "crv", "x", "y")}).thumbprint()
    assert jwt.get_unverified_header(signer.assertion(ENDPOINT))["kid"] == jwk["kid"]
    # The registered JWK verifies what the signer signs.
    verified = jwt.decode(signer.assertion(ENDPOINT), jwt.PyJWK(jwk).key, algorithms=["ES256"], audience=ENDPOINT)
    assert verified["sub"] == "basket"


def test_a_pem_file_is_read(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "basket.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    signer = ClientAssertionSigner.from_pem_file(path, client_id="basket", key_id="k1", algorithm="RS256")
    claims = jwt.decode(signer.assertion(ENDPOINT), key.public_key(), algorithms=["RS256"], audience=ENDPOINT)
    assert claims["iss"] == "basket"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ClientAssertionSigner.from_pem("not a key", client_id="basket"), "Not an unencrypted PEM"),
        (
            lambda: ClientAssertionSigner(client_id="basket", private_key=ec_key(), algorithm="RS256"),
            "This key signs ES256, not RS256",
        ),
        (
            lambda: ClientAssertionSigner(client_id="basket", private_key=ec.generate_private_key(ec.SECP384R1())),
            "EC P-256",
        ),
    ],
)
def test_a_key_that_cannot_sign_assertions_is_refused(make, message):
    with pytest.raises(ClientKeyError, match=message):
        make()


def test_a_secret_or_a_signer_exactly_one():
    signer = ClientAssertionSigner(client_id="basket", private_key=ec_key())
    with pytest.raises(ValueError, match="exactly one"):
        TokenClient(ENDPOINT, "basket")
    with pytest.raises(ValueError, match="exactly one"):
        TokenClient(ENDPOINT, "basket", "secret", assertion_signer=signer)
    with pytest.raises(ValueError, match="another client id"):
        TokenClient(ENDPOINT, "discount", assertion_signer=signer)
