"""Forged and tampered JWTs for the attack tests (RFC 8725): changed headers and claims,
``alg: none``, algorithm confusion, strangers' keys, and tokens re-signed with our own key."""

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apps.keys.services import get_signing_key, jwks_document
from apps.tokens.issuance import IssuedAccessToken, store_access_token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(token: str, index: int) -> dict[str, Any]:
    encoded = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def with_header(token: str, **changes: Any) -> str:
    """``token`` with header members changed (None removes one); signature kept as it was."""
    header = {k: v for k, v in {**part(token, 0), **changes}.items() if v is not None}
    _, payload, signature = token.split(".")
    return f"{b64(json.dumps(header).encode())}.{payload}.{signature}"


def with_claims(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and its original signature kept (tampering)."""
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps({**part(token, 1), **changes}).encode())}.{signature}"


def alg_none(token: str) -> str:
    """RFC 8725 section 2.1: the same claims, ``alg: none`` and no signature."""
    header = b64(json.dumps({**part(token, 0), "alg": "none"}).encode())
    return f"{header}.{token.split('.')[1]}."


def published_jwk(kid: str) -> dict[str, Any]:
    return next(k for k in jwks_document()["keys"] if k["kid"] == kid)


def hs256_with_public_key(token: str, form: str) -> str:
    """RFC 8725 section 2.1 algorithm confusion: HS256 keyed with our published public key,
    as PEM or as the JWK JSON a naive verifier might feed to HMAC."""
    jwk = published_jwk(part(token, 0)["kid"])
    if form == "pem":
        secret = jwt.PyJWK(jwk).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        secret = json.dumps(jwk).encode()
    signing_input = f"{b64(json.dumps({**part(token, 0), 'alg': 'HS256'}).encode())}.{token.split('.')[1]}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def signed_by_stranger(token: str, **header: Any) -> str:
    """The same claims signed with a key that is not ours (kid, jku, jwk... as given)."""
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"typ": "at+jwt", "kid": part(token, 0)["kid"], **header}
    return jwt.encode(part(token, 1), key, algorithm="ES256", headers=headers)


def stranger_jwk_header() -> tuple[Any, dict[str, Any]]:
    """An attacker's key and its public JWK, for ``jwk``-embedding attacks."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)


def resigned(token: str, *, store_for=None, typ: str | None = None, **claims: Any) -> str:
    """``token``'s claims changed and signed again with our real key (what a bug in our own
    issuing would produce); ``store_for=(application, user)`` also stores its row, so that only
    the claim under test can make a verifier refuse it."""
    header = part(token, 0)
    key = get_signing_key(header["alg"])
    payload = {k: v for k, v in {**part(token, 1), **claims}.items() if v is not None}
    forged = jwt.encode(
        payload, key.private_key, algorithm=key.algorithm, headers={"typ": typ or header["typ"], "kid": key.kid}
    )
    if store_for is not None:
        application, user = store_for
        store_access_token(issued=IssuedAccessToken(token=forged, claims=payload), application=application, user=user)
    return forged


INJECTED_KIDS = [
    pytest.param("no-such-kid", id="unknown"),
    pytest.param("../../../../etc/passwd", id="path-traversal"),
    pytest.param("/dev/null", id="absolute-path"),
    pytest.param("' OR '1'='1' --", id="sql"),
    pytest.param("x'; DROP TABLE oauth_signingkey; --", id="sql-drop"),
    pytest.param("https://evil.test/jwks.json", id="url"),
    pytest.param("k" * 10_000, id="very-long"),
    pytest.param("", id="empty"),
]
