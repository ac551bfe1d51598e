"""Reading a JWS header before verifying the token, to pick the key by ``kid``."""

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
