"""A client's registered keys for private_key_jwt: what Application.clean() accepts (inline JWKS,
jwks_uri) and how apps/clients/client_keys.py hands them out."""

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


# --- apps/clients/client_keys.py: a slow or hostile jwks_uri ------------------------------------

SLOW_TIMEOUT = 1.0  # FETCH_TIMEOUT_SECONDS in these tests: they take about this long each


@pytest.fixture
def short_fetches(monkeypatch):
    monkeypatch.setattr(client_keys, "FETCH_TIMEOUT_SECONDS", SLOW_TIMEOUT)


@contextmanager
def trickling_server(head: bytes, trickle: bytes) -> Iterator[str]:
    """A jwks_uri on loopback that sends ``head`` at once, then ``trickle`` a byte every
    quarter of a second (each byte restarts a socket timeout), for eight seconds at most."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    done = threading.Event()

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(head)
                for byte in trickle[:32]:
                    if done.wait(0.25):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the fetch gave up and closed its end

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/jwks.json"
    finally:
        done.set()
        listener.close()


SLOW_BODY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n", b" " * 400)
SLOW_HEADERS = (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 400)


@pytest.mark.parametrize("served", [SLOW_BODY, SLOW_HEADERS], ids=["body", "headers"])
def test_a_server_sending_a_byte_at_a_time_is_given_up_on_at_the_deadline(short_fetches, served):
    # Each byte restarted the socket timeout, and iter_content(8192) waited for 8192 bytes or
    # the end: the fetch lasted as long as the client's server liked, a worker held all along.
    with trickling_server(*served) as uri:
        started = time.monotonic()
        with pytest.raises(client_keys.KeysUnavailable):
            client_keys.fetch_jwks(uri)
        assert time.monotonic() - started < SLOW_TIMEOUT + 1


def test_requests_naming_a_client_whose_fetch_is_in_progress_do_not_queue_behind_it(short_fetches):
    app = build(jwks_uri="")
    with trickling_server(*SLOW_BODY) as uri:
        app.jwks_uri = uri
        fetching = threading.Thread(target=client_keys.assertion_keys, args=(app,), kwargs={"kid": "a", "alg": "ES256"})
        fetching.start()
        time.sleep(0.2)  # the fetch has begun, and holds the URI's lock
        started = time.monotonic()
        assert client_keys.assertion_keys(app, kid="a", alg="ES256") == ()
        assert time.monotonic() - started < SLOW_TIMEOUT + 1
        fetching.join(timeout=SLOW_TIMEOUT + 1)
        assert not fetching.is_alive()


@contextmanager
def recording_server(document: dict) -> Iterator[tuple[str, list[str | None]]]:
    """A jwks_uri on loopback serving ``document``, and the Authorization header of each GET."""
    body = json.dumps(document).encode()
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_that_cannot_have_the_lock_in_time_is_refused_without_a_fetch(short_fetches):
    with recording_server(jwks(ec_pair("a"))) as (uri, seen):
        app = build(jwks_uri=uri)
        lock = client_keys._lock_for(uri)
        lock.acquire()  # a fetch that does not end (but for a safety net: this test must not hang)
        safety_net = threading.Timer(SLOW_TIMEOUT + 4, lock.release)
        safety_net.start()
        try:
            started = time.monotonic()
            assert client_keys.assertion_keys(app, kid="a", alg="ES256") == ()
            assert time.monotonic() - started < SLOW_TIMEOUT + 1
            assert seen == []
        finally:
            safety_net.cancel()
            safety_net.join()
            if lock.locked():
                lock.release()
        # Once it is free, the keys are fetched as usual.
        assert [key.kid for key in client_keys.assertion_keys(app, kid="a", alg="ES256")] == ["a"]


def test_proxy_settings_and_netrc_of_the_environment_are_not_used(monkeypatch, tmp_path):
    # The registered URI is fetched directly: a proxy from the environment would see (and could
    # answer for) every client's keys, and .netrc would send credentials to the client.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login client password s3cret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with recording_server(jwks(ec_pair("a"))) as (uri, seen):
        assert [key.kid for key in client_keys.fetch_jwks(uri)] == ["a"]
    assert seen == [None]  # fetched directly, and no Authorization header
