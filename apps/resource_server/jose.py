"""Reading a JWS header (or payload) before verifying the token: to pick the key by ``kid``,
or to see which issuer claims it."""

import base64
import binascii
import json
from typing import Any


def unverified_header(token: str) -> dict[str, Any] | None:
    """The JSON header of a compact JWS, or None if it is not one. Nothing in it is trusted
    until the signature verifies; jwt.decode then parses the whole token strictly. This is
    the cheap first look (PyJWT's own parser checks every character in Python, and would
    run twice)."""
    encoded, dot, _rest = token.partition(".")
    if not dot or len(encoded) > 1024:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict):
        return None
    # The members callers branch on are strings, or the token is malformed.
    if any(not isinstance(header.get(name, ""), str) for name in ("alg", "typ", "kid")):
        return None
    return header


MAX_PAYLOAD_LENGTH = 16 * 1024


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The JSON payload of a compact JWS, or None if it is not one; as cheap and as untrusted
    as :func:`unverified_header` (which issuer a token claims, before its keys are chosen)."""
    segments = token.split(".")
    if len(segments) != 3 or len(segments[1]) > MAX_PAYLOAD_LENGTH:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(segments[1] + "=" * (-len(segments[1]) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None
