"""A software WebAuthn authenticator for tests (never for production): EC P-256 keys,
attestation ``none``, and the clientDataJSON, authenticatorData and signature a browser and
its authenticator would produce, so passkey ceremonies are tested without a browser.

``create()`` answers the options of ``navigator.credentials.create()``, ``get()`` those of
``navigator.credentials.get()``; both return the JSON the page's script posts. Arguments let
a test lie where an attacker would: another origin, no user verification, an old counter.
"""

import base64
import hashlib
import json
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django_otp.oath import TOTP
from webauthn.helpers import encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    backed_up: bool = False


@dataclass
class SoftwareAuthenticator:
    origin: str
    credentials: list[Credential] = field(default_factory=list)
    # A counter that grows with each use (a security key's); 0 forever is what synced passkeys do.
    counts: bool = True

    def _cose_key(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        numbers = key.public_key().public_numbers()
        return encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, verified: bool = True, backed_up: bool = False
    ) -> dict[str, Any]:
        """A new credential for ``options`` (as the server sent them, parsed JSON)."""
        rp_id = options["rp"]["id"]
        excluded = {entry["id"] for entry in options.get("excludeCredentials", [])}
        if any(b64url(credential.id) in excluded for credential in self.credentials):
            raise ValueError("InvalidStateError: this authenticator already holds an excluded credential")
        credential = Credential(
            id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id,
            user_handle=unb64url(options["user"]["id"]),
            backed_up=backed_up,
        )
        self.credentials.append(credential)
        flags = UP | AT | (UV if verified else 0) | ((BE | BS) if backed_up else 0)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", credential.sign_count)
            + AAGUID
            + struct.pack(">H", len(credential.id))
            + credential.id
            + self._cose_key(credential.private_key)
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        verified: bool = True,
        sign_count: int | None = None,
    ) -> dict[str, Any]:
        """An assertion for ``options``: by ``credential``, or the first one allowed (the only
        discoverable one, for a passwordless request)."""
        if credential is None:
            allowed = {entry["id"] for entry in options.get("allowCredentials", [])}
            matching = [c for c in self.credentials if not allowed or b64url(c.id) in allowed]
            credential = matching[0]
        if sign_count is None:
            if self.counts:
                credential.sign_count += 1
            sign_count = credential.sign_count
        flags = UP | (UV if verified else 0) | ((BE | BS) if credential.backed_up else 0)
        auth_data = hashlib.sha256(options["rpId"].encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = credential.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
        }


def totp_code(device: Any) -> str:
    """The code an authenticator app shows for ``device`` (a django-otp ``TOTPDevice``): the
    first time step it has not accepted yet, from now on (as the app would after waiting)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    while totp.t() <= device.last_t:
        totp.time += device.step
    return f"{totp.token():0{device.digits}d}"
