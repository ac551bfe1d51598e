"""An external issuer on loopback (its own keys, its own JWKS endpoint), registered here as a
trusted issuer, and the requests that present its tokens."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from apps.clients.client_keys import clear_client_keys_cache
from apps.oauth.models import GrantType, IssuerMapping, TrustedIssuer
from tests.clients.assertions import JwksServer, KeyPair, ec_pair, jwks
from tests.support.http import ISSUER
from tests.support.tokens import TOKEN_EXCHANGE

JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BASKET_SA = "system:serviceaccount:shop:basket"


class ExternalIssuer:
    """A Kubernetes-like issuer: signs tokens with its current key and serves its JWKS on
    127.0.0.1 (tests/clients/assertions.py's JWKS server). ``available = False`` makes the
    endpoint answer 503; ``fetches`` counts the JWKS requests it got."""

    def __init__(self) -> None:
        self.pairs: dict[str, KeyPair] = {}  # kid -> key pair, in publication order
        self.server = JwksServer()
        self.current = self.add_key()
        self.server.start()
        self.jwks_uri = self.server.url
        self.url = self.jwks_uri.removesuffix("/jwks.json")

    @property
    def available(self) -> bool:
        return self.server.status == 200

    @available.setter
    def available(self, value: bool) -> None:
        self.server.status = 200 if value else 503

    @property
    def fetches(self) -> int:
        return self.server.hits

    def add_key(self) -> str:
        pair = ec_pair(f"ext-{uuid.uuid4().hex[:8]}")
        self.pairs[pair.kid] = pair
        self.server.document = self.jwks()
        return pair.kid

    def rotate(self) -> str:
        """A new signing key, published; the old one withdrawn (a rotation that is done)."""
        old = self.current
        self.current = self.add_key()
        del self.pairs[old]
        self.server.document = self.jwks()
        return self.current

    def jwks(self) -> dict[str, Any]:
        return jwks(*self.pairs.values())

    def token(
        self, *, sub: str = BASKET_SA, aud: Any = ISSUER, lifetime: int | None = 600, kid: str | None = None,
        key: Any = None, alg: str = "ES256", **claims: Any,
    ) -> str:  # fmt: skip
        """A token of this issuer, signed with its current key (or ``key``, under ``kid``);
        ``lifetime=None``: no exp."""
        kid = kid or self.current
        now = int(time.time())
        payload = {"iss": self.url, "sub": sub, "aud": aud, "iat": now,
                   "exp": None if lifetime is None else now + lifetime, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key or self.pairs[kid].private_key, algorithm=alg, headers={"kid": kid})

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def external() -> Iterator[ExternalIssuer]:
    clear_client_keys_cache()
    issuer = ExternalIssuer()
    yield issuer
    issuer.stop()
    clear_client_keys_cache()


@pytest.fixture
def trusted(db, external) -> TrustedIssuer:
    """The external issuer, trusted here (keys from its JWKS URL, aud this IdP)."""
    issuer = TrustedIssuer(name="cluster", issuer=external.url, jwks_uri=external.jwks_uri)
    issuer.full_clean()
    issuer.save()
    return issuer


@pytest.fixture
def workload(basket, trusted, map_to):
    """The basket, allowed the JWT bearer grant, mapped from the cluster's service account."""
    basket.client.allowed_grant_types = [*basket.client.allowed_grant_types, GrantType.JWT_BEARER]
    basket.client.save()
    map_to(trusted, client=basket.client)
    return basket


@pytest.fixture
def map_to() -> Callable[..., IssuerMapping]:
    def make(issuer: TrustedIssuer, *, client=None, user=None, **claims: str) -> IssuerMapping:
        mapping = IssuerMapping(issuer=issuer, claims=claims or {"sub": BASKET_SA}, client=client, user=user)
        mapping.full_clean()
        mapping.save()
        return mapping

    return make


@pytest.fixture
def exchange(token_request):
    """POST a token exchange with a subject token of type jwt (or ``subject_token_type``)."""

    def post(credentials, subject_token: str, **params):
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": JWT_TOKEN_TYPE,
            **params,
        }
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post


@pytest.fixture
def jwt_bearer(token_request):
    """POST the RFC 7523 grant, authenticating ``credentials`` (None: no client authentication)."""

    def post(credentials, assertion: str | None, **params):
        data = {"grant_type": JWT_BEARER, "assertion": assertion, **params}
        return token_request(credentials, {k: v for k, v in data.items() if v is not None})

    return post


def error_of(response) -> tuple[int, str, str]:
    body = json.loads(response.content)
    return response.status_code, body["error"], body.get("error_description", "")
