"""The token-exchange client helper: downstream tokens, cached until shortly before expiry."""

import time
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto.jwk import JWK

from apps.resource_server.bearer import InsufficientUserAuthentication
from apps.resource_server.client_assertion import ClientAssertionSigner, ClientKeyError
from apps.resource_server.dpop import access_token_hash, generate_key, key_thumbprint, public_jwk, thumbprint
from apps.resource_server.exchange import NotATransactionToken, TokenClient, TokenNotBound, TokenRequestFailed
from tests.support.http import TOKEN_URL, basic_auth, form_post


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


# --- DPoP (RFC 9449): tokens bound to the service's key -----------------------------------------


class DPoPResponse(FakeResponse):
    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(status, body)
        self.headers = headers or {}


def proof_of(call: dict) -> tuple[dict, dict]:
    """(header, claims) of a request's DPoP proof, its signature checked with the jwk it carries."""
    proof = call["headers"]["DPoP"]
    header = jwt.get_unverified_header(proof)
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])
    return header, claims


def dpop_idp(*answers: DPoPResponse):
    """A token endpoint answering ``answers`` in turn (then DPoP tokens), recording each request."""
    calls: list[dict] = []
    queue = list(answers)

    def post(url, data, auth, timeout, headers):
        calls.append({"url": url, "data": data, "auth": auth, "headers": headers})
        if queue:
            return queue.pop(0)
        return DPoPResponse(200, {"access_token": f"token-{len(calls)}", "token_type": "DPoP", "expires_in": 300})

    return calls, post


def test_each_token_request_carries_a_fresh_proof_of_the_key():
    key = generate_key()
    calls, post = dpop_idp()
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=key)

    client.on_behalf_of("alice-token", audience="discount")
    client.client_credentials(scope="discount.fullaccess")

    assert [call["auth"] for call in calls] == [("basket", "secret")] * 2
    proofs = [proof_of(call) for call in calls]
    for header, claims in proofs:
        assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
        assert header["jwk"] == public_jwk(key) and "d" not in header["jwk"]
        assert (claims["htm"], claims["htu"]) == ("POST", ENDPOINT)
        assert "ath" not in claims and "nonce" not in claims  # no token yet, no nonce asked
        assert abs(claims["iat"] - time.time()) < 5
    assert proofs[0][1]["jti"] != proofs[1][1]["jti"]
    assert client.dpop_bound


def test_use_dpop_nonce_is_followed_once_and_the_last_nonce_kept():
    calls, post = dpop_idp(
        DPoPResponse(400, {"error": "use_dpop_nonce", "error_description": "A DPoP nonce is required."},
                     {"DPoP-Nonce": "nonce-1"}),
        DPoPResponse(200, {"access_token": "first", "token_type": "DPoP", "expires_in": 300},
                     {"DPoP-Nonce": "nonce-2"}),
    )  # fmt: skip
    signer = ClientAssertionSigner(client_id="basket", private_key=ec_key())
    client = TokenClient(ENDPOINT, "basket", assertion_signer=signer, post=post, dpop_key=generate_key())

    assert client.client_credentials() == "first"
    assert client.on_behalf_of("alice-token") == "token-3"

    nonces = [proof_of(call)[1].get("nonce") for call in calls]
    # Asked for one, retried with it; the next request uses the one the success answer brought.
    assert nonces == [None, "nonce-1", "nonce-2"]
    assert len({proof_of(call)[1]["jti"] for call in calls}) == 3
    # The retry is signed anew too: the IdP accepts each assertion once.
    assert len({call["data"]["client_assertion"] for call in calls}) == 3


def test_a_second_use_dpop_nonce_is_a_refusal_not_a_loop():
    again = DPoPResponse(400, {"error": "use_dpop_nonce"}, {"DPoP-Nonce": "n"})
    calls, post = dpop_idp(again, again, again)
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=generate_key())
    with pytest.raises(TokenRequestFailed) as excinfo:
        client.client_credentials()
    assert (excinfo.value.status, excinfo.value.error) == (400, "use_dpop_nonce")
    assert len(calls) == 2


def test_a_bad_proof_is_not_retried():
    calls, post = dpop_idp(DPoPResponse(400, {"error": "invalid_dpop_proof", "error_description": "htu"}))
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=generate_key())
    with pytest.raises(TokenRequestFailed) as excinfo:
        client.client_credentials()
    assert (excinfo.value.status, excinfo.value.error) == (400, "invalid_dpop_proof")
    assert len(calls) == 1


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", None])
def test_a_bearer_answer_to_a_proof_is_refused_and_not_cached(token_type):
    body = {"access_token": "copyable", "expires_in": 300, **({"token_type": token_type} if token_type else {})}
    calls, post = dpop_idp(DPoPResponse(200, body))
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=generate_key())
    with pytest.raises(TokenNotBound, match="not a DPoP one") as excinfo:
        client.on_behalf_of("alice-token", audience="discount")
    assert isinstance(excinfo.value, TokenRequestFailed)  # what callers already catch
    assert excinfo.value.error == "token_not_bound"
    # Not kept: the next call asks again (and gets a bound token).
    assert client.on_behalf_of("alice-token", audience="discount") == "token-2"


def test_the_token_type_is_compared_case_insensitively():
    calls, post = dpop_idp(DPoPResponse(200, {"access_token": "bound", "token_type": "dpop", "expires_in": 300}))
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=generate_key())
    assert client.client_credentials() == "bound"


@pytest.mark.parametrize("kty", ["EC", "RSA"])
def test_authorization_headers_carry_the_dpop_scheme_and_a_proof_of_the_token(kty):
    key = ec_key() if kty == "EC" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    calls, post = dpop_idp()
    client = TokenClient(ENDPOINT, "basket", "secret", post=post, dpop_key=key)
    token = client.on_behalf_of("alice-token", audience="discount")

    first = client.authorization_headers(token, "post", "https://discount.test/discount?x=1")
    second = client.authorization_headers(token, "POST", "https://discount.test/discount")
    assert first["Authorization"] == f"DPoP {token}"
    header, claims = proof_of({"headers": first})
    assert header["jwk"] == public_jwk(key)
    assert key_thumbprint(key) == thumbprint(header["jwk"])
    assert (claims["htm"], claims["htu"]) == ("POST", "https://discount.test/discount")
    assert claims["ath"] == access_token_hash(token)
    assert proof_of({"headers": second})[1]["jti"] != claims["jti"]  # one proof per call


def test_without_a_dpop_key_nothing_changes(posts):
    calls, post = posts  # a post() that takes no headers: none are sent
    client = TokenClient(ENDPOINT, "basket", "secret", post=post)
    token = client.client_credentials()
    assert not client.dpop_bound
    assert client.authorization_headers(token, "GET", "https://discount.test/discount") == {
        "Authorization": f"Bearer {token}"
    }


# --- against the IdP's token endpoint (in process) -----------------------------------------------


class _IdPResponse:
    def __init__(self, response) -> None:
        self.status_code, self.headers, self._body = response.status_code, response.headers, response.json()

    def json(self) -> dict:
        return self._body


def idp_post(client):
    """TokenClient's ``post``, answered by the IdP under test, DPoP header included."""

    def post(url, data, auth, timeout, headers=None):
        extra = {"HTTP_AUTHORIZATION": basic_auth(*auth)} if auth else {}
        if headers and "DPoP" in headers:
            extra["HTTP_DPOP"] = headers["DPoP"]
        return _IdPResponse(form_post(client, urlsplit(url).path, data, **extra))

    return post


def test_the_idp_binds_an_exchanged_token_to_the_calling_services_key(
    client, basket, basket_policy, alice_token, settings
):
    settings.IDP = {**settings.IDP, "DPOP_NONCES": True}
    key = generate_key()
    answers: list[tuple[int, str | None, str | None]] = []  # status, the proof's nonce, the answer's

    def recording_post(url, data, auth, timeout, headers=None):
        response = idp_post(client)(url, data, auth, timeout, headers)
        answers.append((response.status_code, proof_of({"headers": headers})[1].get("nonce"),
                        response.headers.get("DPoP-Nonce")))  # fmt: skip
        return response

    tokens = TokenClient(
        settings.IDP["ISSUER"] + TOKEN_URL, basket.client.client_id, basket.client_secret,
        post=recording_post, dpop_key=key,
    )  # fmt: skip

    exchanged = tokens.on_behalf_of(alice_token, audience="discount", scope="discount.fullaccess")
    own = tokens.client_credentials(scope="discount.fullaccess")

    for token in (exchanged, own):
        assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {"jkt": key_thumbprint(key)}
    assert jwt.decode(exchanged, options={"verify_signature": False})["act"] == {"sub": basket.client.client_id}
    # The first proof had no nonce (use_dpop_nonce), the retry the one given; the next request
    # used the one the success answer brought, at once.
    (refused, _, given), (exchanged_status, retried, fresh), (own_status, kept, _) = answers
    assert (refused, exchanged_status, own_status) == (400, 200, 200)
    assert given and retried == given and fresh and kept == fresh


def test_the_idp_issues_bearer_tokens_to_a_client_without_a_key(client, basket, basket_policy, alice_token, settings):
    tokens = TokenClient(
        settings.IDP["ISSUER"] + TOKEN_URL, basket.client.client_id, basket.client_secret, post=idp_post(client)
    )
    exchanged = tokens.on_behalf_of(alice_token, audience="discount", scope="discount.fullaccess")
    assert "cnf" not in jwt.decode(exchanged, options={"verify_signature": False})


# --- Transaction Tokens (draft-ietf-oauth-transaction-tokens, section "Txn-Token Request") -------

TXN_URN = "urn:ietf:params:oauth:token-type:txn_token"
ACCESS_URN = "urn:ietf:params:oauth:token-type:access_token"
TXN_ANSWER = {"access_token": "txn-jwt", "token_type": "N_A", "issued_token_type": TXN_URN, "expires_in": 60,
              "scope": "trade.stocks"}  # fmt: skip


def txn_idp(*answers: FakeResponse):
    """A token endpoint answering ``answers`` in turn (then Txn-Tokens), recording each request."""
    calls: list[dict] = []
    queue = list(answers)

    def post(url, data, auth, timeout, headers=None):
        calls.append({"url": url, "data": data, "auth": auth, "headers": headers})
        return queue.pop(0) if queue else DPoPResponse(200, {**TXN_ANSWER, "access_token": f"txn-{len(calls)}"})

    return calls, post


def test_a_txn_token_request_sends_exactly_the_profiles_form():
    calls, post = txn_idp()
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    token = client.transaction_token(
        "alice-token", audience="https://idp.test", scope="trade.stocks",
        request_context={"req_ip": "192.0.2.7", "authn": "pwd"},
        request_details={"action": "BUY", "ticker": "MSFT", "quantity": 100},
    )  # fmt: skip
    assert token == "txn-1"
    (sent,) = calls
    assert (sent["url"], sent["auth"], sent["headers"]) == (ENDPOINT, ("gateway", "secret"), None)
    assert sent["data"] == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": TXN_URN,
        "audience": "https://idp.test",
        "scope": "trade.stocks",
        "subject_token": "alice-token",
        "subject_token_type": ACCESS_URN,
        "request_context": '{"req_ip":"192.0.2.7","authn":"pwd"}',
        "request_details": '{"action":"BUY","ticker":"MSFT","quantity":100}',
    }


def test_a_txn_token_request_without_context_sends_none_and_is_never_cached():
    calls, post = txn_idp()
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    first = client.transaction_token("alice-token", audience="https://idp.test", scope="trade.stocks")
    second = client.transaction_token("alice-token", audience="https://idp.test", scope="trade.stocks")
    assert (first, second) == ("txn-1", "txn-2")  # one per transaction
    assert "request_context" not in calls[0]["data"] and "request_details" not in calls[0]["data"]
    # An empty object is a value: sent as {}.
    client.transaction_token("alice-token", audience="https://idp.test", scope="trade.stocks", request_context={})
    assert calls[2]["data"]["request_context"] == "{}"


def test_another_subject_token_type_is_sent_as_given():
    calls, post = txn_idp()
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    id_token_type = "urn:ietf:params:oauth:token-type:id_token"
    client.transaction_token("an-id-token", audience="td", scope="trade.read", subject_token_type=id_token_type)
    assert calls[0]["data"]["subject_token_type"] == id_token_type


def test_a_replacement_sends_the_txn_token_as_subject():
    calls, post = txn_idp()
    client = TokenClient(ENDPOINT, "orders", "secret", post=post)
    assert (
        client.replace_transaction_token(
            "old-txn", audience="https://idp.test", scope="trade.read", request_details={"step": "settle"}
        )
        == "txn-1"
    )
    assert calls[0]["data"] == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": TXN_URN,
        "audience": "https://idp.test",
        "scope": "trade.read",
        "subject_token": "old-txn",
        "subject_token_type": TXN_URN,
        "request_details": '{"step":"settle"}',
    }


@pytest.mark.parametrize(
    ("given", "missing"),
    [({"audience": "", "scope": "s"}, "audience"), ({"audience": "td", "scope": ""}, "scope")],
)
def test_audience_and_scope_are_required(given, missing):
    calls, post = txn_idp()
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    with pytest.raises(ValueError, match=f"needs {missing}"):
        client.transaction_token("alice-token", **given)
    with pytest.raises(ValueError, match=f"needs {missing}"):
        client.replace_transaction_token("old-txn", **given)
    assert calls == []


def test_a_txn_token_request_is_signed_with_the_services_assertion():
    calls, post = txn_idp()
    key = ec_key()
    signer = ClientAssertionSigner(client_id="gateway", private_key=key)
    client = TokenClient(ENDPOINT, "gateway", assertion_signer=signer, post=post)
    client.transaction_token("alice-token", audience="td", scope="trade.stocks")
    client.replace_transaction_token("txn-1", audience="td", scope="trade.stocks")
    assert [call["auth"] for call in calls] == [None, None]
    assertions = [call["data"]["client_assertion"] for call in calls]
    assert len(set(assertions)) == 2
    for assertion in assertions:
        assert jwt.decode(assertion, key.public_key(), algorithms=["ES256"], audience=ENDPOINT)["sub"] == "gateway"


def test_with_a_dpop_key_the_request_carries_a_proof_follows_the_nonce_and_takes_n_a():
    calls, post = txn_idp(
        DPoPResponse(400, {"error": "use_dpop_nonce"}, {"DPoP-Nonce": "nonce-1"}),
    )
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post, dpop_key=generate_key())
    # A Txn-Token is passed along the call chain as is: not bound, so N_A is the right answer.
    assert client.transaction_token("alice-token", audience="td", scope="trade.stocks") == "txn-2"
    assert [proof_of(call)[1].get("nonce") for call in calls] == [None, "nonce-1"]
    assert all(proof_of(call)[1]["htu"] == ENDPOINT for call in calls)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({**TXN_ANSWER, "issued_token_type": ACCESS_URN}, id="an-access-token"),
        pytest.param({k: v for k, v in TXN_ANSWER.items() if k != "issued_token_type"}, id="no-issued-type"),
        pytest.param({**TXN_ANSWER, "token_type": "Bearer"}, id="bearer"),
        pytest.param({**TXN_ANSWER, "token_type": "DPoP"}, id="dpop"),
        pytest.param({k: v for k, v in TXN_ANSWER.items() if k != "token_type"}, id="no-token-type"),
        pytest.param({k: v for k, v in TXN_ANSWER.items() if k != "access_token"}, id="no-token"),
        pytest.param({**TXN_ANSWER, "access_token": ""}, id="empty-token"),
    ],
)
def test_an_answer_that_is_not_a_txn_token_is_refused(answer):
    calls, post = txn_idp(DPoPResponse(200, answer), DPoPResponse(200, answer))
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    with pytest.raises(NotATransactionToken, match="Asked for a Txn-Token") as excinfo:
        client.transaction_token("alice-token", audience="td", scope="trade.stocks")
    assert isinstance(excinfo.value, TokenRequestFailed)  # what callers already catch
    assert (excinfo.value.status, excinfo.value.error) == (200, "not_a_txn_token")
    with pytest.raises(NotATransactionToken):
        client.replace_transaction_token("old-txn", audience="td", scope="trade.stocks")


def test_n_a_is_compared_case_insensitively():
    calls, post = txn_idp(DPoPResponse(200, {**TXN_ANSWER, "token_type": "n_a"}))
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    assert client.transaction_token("alice-token", audience="td", scope="trade.stocks") == "txn-jwt"


def test_a_refused_txn_token_request_raises_the_oauth_error():
    calls, post = txn_idp(
        DPoPResponse(400, {"error": "invalid_scope", "error_description": "wider than the subject token"}),
        DPoPResponse(400, {"error": "insufficient_user_authentication", "acr_values": "mfa"}),
    )
    client = TokenClient(ENDPOINT, "gateway", "secret", post=post)
    with pytest.raises(TokenRequestFailed) as excinfo:
        client.transaction_token("alice-token", audience="td", scope="trade.stocks")
    assert (excinfo.value.status, excinfo.value.error) == (400, "invalid_scope")
    # The step-up refusal is relayed as the RFC 9470 challenge, as for an exchange.
    with pytest.raises(InsufficientUserAuthentication) as stepped:
        client.transaction_token("alice-token", audience="td", scope="trade.stocks")
    assert stepped.value.acr_values == "mfa"
