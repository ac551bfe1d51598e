"""Authenticating a service to the IdP with a key instead of a shared secret: ``private_key_jwt``
(RFC 7523 section 2.2, OpenID Connect Core section 9).

The service keeps a private key; the IdP holds only its public half (registered as a JWKS).
Each token request carries a short-lived JWT signed with the key, so nothing that crosses the
wire or sits in the IdP's database would let anyone else act as the service.

    signer = ClientAssertionSigner.from_pem_file("var/keys/basket.pem", client_id="shoppingbasket")
    tokens = TokenClient("https://idp.example/o/token/", "shoppingbasket", assertion_signer=signer)

``public_jwk()`` gives the JWK to register (``create_client --jwks``, or the admin)."""

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.resource_server.jwk import PrivateKey, key_thumbprint, public_jwk

# RFC 7523 section 2.2: the value of client_assertion_type.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Long enough for clock skew and one request's round trip; an assertion is used once.
ASSERTION_LIFETIME = 60
SUPPORTED_ALGORITHMS = ("RS256", "ES256")


class ClientKeyError(ValueError):
    """The key cannot sign client assertions (not RSA or P-256, or not for this algorithm)."""


def _algorithm_for(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ClientKeyError("Client assertions are signed with an RSA key (RS256) or an EC P-256 key (ES256).")


class ClientAssertionSigner:
    """Signs the client assertions of one client with one private key.

    ``key_id``: the ``kid`` of the registered public key (default: its RFC 7638 thumbprint,
    which is what :meth:`public_jwk` registers). ``algorithm``: RS256 for an RSA key, ES256 for
    an EC P-256 key (default: the key's)."""

    def __init__(
        self,
        *,
        client_id: str,
        private_key: PrivateKey,
        key_id: str | None = None,
        algorithm: str | None = None,
        lifetime: int = ASSERTION_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ClientKeyError("Client assertions are signed with an RSA or an EC P-256 private key.")
        own = _algorithm_for(private_key)
        if algorithm is not None and algorithm != own:
            raise ClientKeyError(f"This key signs {own}, not {algorithm}.")
        self.client_id = client_id
        self.algorithm = own
        self._key = private_key
        self.key_id = key_id or key_thumbprint(private_key)
        self._lifetime = lifetime
        self._clock = clock

    @classmethod
    def from_pem(cls, pem: bytes | str, **kwargs: Any) -> "ClientAssertionSigner":
        """From an unencrypted PKCS#8 or traditional PEM private key."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ClientKeyError(f"Not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ClientKeyError("Client assertions are signed with an RSA or an EC P-256 private key.")
        return cls(private_key=key, **kwargs)

    @classmethod
    def from_pem_file(cls, path: str | Path, **kwargs: Any) -> "ClientAssertionSigner":
        return cls.from_pem(Path(path).read_bytes(), **kwargs)

    def public_jwk(self) -> dict[str, Any]:
        """The JWK to register for this client: the public key, its ``kid``, ``alg`` and ``use``."""
        return {**public_jwk(self._key), "kid": self.key_id, "alg": self.algorithm, "use": "sig"}

    def assertion(self, audience: str) -> str:
        """A fresh assertion for ``audience`` (the token endpoint's URL). RFC 7523 section 3:
        ``iss`` and ``sub`` are the client id; a new ``jti`` each time, since the IdP refuses
        one it has seen."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + self._lifetime,
        }
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers={"kid": self.key_id})

    def form(self, audience: str) -> dict[str, str]:
        """The two form parameters that authenticate the client (RFC 7523 section 2.2)."""
        return {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": self.assertion(audience)}
