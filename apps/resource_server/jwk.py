"""A client's own key pair as JSON Web Keys: its public half (RFC 7517) and its RFC 7638
thumbprint. Shared by the two ways a service proves it holds a key: client assertions
(``client_assertion.py``, where the thumbprint is the default ``kid``) and DPoP proofs
(``dpop.py``, where it is what a bound token names in ``cnf.jkt``)."""

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
# RFC 7638 section 3.2: the members of each key type a thumbprint hashes.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK: the required members of its key type,
    in lexicographic order, as JSON without whitespace, hashed and base64url-encoded. Raises
    ValueError for anything that is not an EC, RSA or OKP public key."""
    members = THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        raise ValueError("The jwk is not an EC, RSA or OKP public key.")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(private_key: PrivateKey) -> dict[str, Any]:
    """The public half of ``private_key`` as a JWK with only its key type's members (no
    ``kid``, nothing private)."""
    public_key = private_key.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}


def key_thumbprint(private_key: PrivateKey) -> str:
    """The thumbprint of ``private_key``'s public half."""
    return thumbprint(public_jwk(private_key))
