"""A service's key pair for private_key_jwt, and the toolkit's TokenClient talking to the IdP
in-process (through Django's test client) so that its assertions are checked end to end."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client

from apps.resource_server.client_assertion import ClientAssertionSigner, PrivateKey
from apps.resource_server.exchange import TokenClient
from tests.support.http import ISSUER, TOKEN_URL, basic_auth, form_post

TOKEN_ENDPOINT = ISSUER + TOKEN_URL  # the assertions' audience


def new_private_key(kty: str = "EC") -> PrivateKey:
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def signer_for(client_id: str, key: PrivateKey | None = None) -> ClientAssertionSigner:
    return ClientAssertionSigner(client_id=client_id, private_key=key or new_private_key())


def jwks_of(*signers: ClientAssertionSigner) -> dict[str, Any]:
    return {"keys": [signer.public_jwk() for signer in signers]}


def write_jwks(directory: Path, document: Any, name: str = "jwks.json") -> str:
    path = directory / name
    path.write_text(json.dumps(document))
    return str(path)


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class _Response:
    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self._body = json.loads(response.content)

    def json(self) -> Any:
        return self._body


def in_process_post(client: Client):
    """TokenClient's ``post``, answered by the IdP under test (Basic credentials as given)."""

    def post(url: str, data: dict[str, str], auth: tuple[str, str] | None, timeout: float) -> _Response:
        headers = {"HTTP_AUTHORIZATION": basic_auth(*auth)} if auth else {}
        return _Response(form_post(client, urlsplit(url).path, data, **headers))

    return post


def token_client(client: Client, client_id: str, *, signer: ClientAssertionSigner | None = None, secret=None):
    return TokenClient(TOKEN_ENDPOINT, client_id, secret, assertion_signer=signer, post=in_process_post(client))
