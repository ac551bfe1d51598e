"""private_key_jwt in tests: client key pairs, their public JWKs, signed client assertions
(RFC 7523 section 2.2), and a JWKS server on loopback standing in for a client's jwks_uri."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from tests.support.http import ISSUER, TOKEN_URL

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class KeyPair:
    private_key: PrivateKeyTypes
    kid: str
    alg: str

    def _algorithm(self) -> Any:
        return (
            jwt.algorithms.RSAAlgorithm
            if isinstance(self.private_key, rsa.RSAPrivateKey)
            else jwt.algorithms.ECAlgorithm
        )

    def public_jwk(self, **members: Any) -> dict[str, Any]:
        jwk = json.loads(self._algorithm().to_jwk(self.private_key.public_key()))  # type: ignore[union-attr]
        return {**jwk, "kid": self.kid, "use": "sig", **members}

    def private_jwk(self) -> dict[str, Any]:
        return {**json.loads(self._algorithm().to_jwk(self.private_key)), "kid": self.kid, "alg": self.alg}


@cache
def _rsa(index: int) -> rsa.RSAPrivateKey:
    # RSA generation costs a tenth of a second: a few keys per session, shared by the tests.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_pair(kid: str, *, index: int = 0, alg: str = "RS256") -> KeyPair:
    return KeyPair(_rsa(index), kid, alg)


def ec_pair(kid: str) -> KeyPair:
    return KeyPair(ec.generate_private_key(ec.SECP256R1()), kid, "ES256")


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    return {"keys": [pair.public_jwk() for pair in pairs]}


def claims_for(client_id: str, *, audience: Any = None, lifetime: int = 60, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + TOKEN_URL if audience is None else audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(pair: KeyPair, claims: dict[str, Any], *, alg: str | None = None, kid: Any = "same") -> str:
    headers = {} if kid is None else {"kid": pair.kid if kid == "same" else kid}
    return jwt.encode(claims, pair.private_key, algorithm=alg or pair.alg, headers=headers)  # type: ignore[arg-type]


def assertion(pair: KeyPair, client_id: str, **overrides: Any) -> str:
    return sign(pair, claims_for(client_id, **overrides))


def assertion_form(client_assertion: str, **params: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": client_assertion, **params}


@dataclass
class JwksServer:
    """A client's jwks_uri on 127.0.0.1: serves ``document`` (or ``status``, ``body`` or a
    redirect) and counts the fetches."""

    document: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    body: bytes | None = None
    redirect_to: str | None = None
    hits: int = 0
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.hits += 1
                if owner.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", owner.redirect_to)
                    self.end_headers()
                    return
                body = owner.body if owner.body is not None else json.dumps(owner.document).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def running_jwks_server(document: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer(document=document)
    server.start()
    try:
        yield server
    finally:
        server.stop()
