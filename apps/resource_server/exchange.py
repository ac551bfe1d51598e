"""Getting downstream tokens from the IdP: on behalf of the caller (token exchange) or as the
service itself (client credentials), cached until shortly before they expire.

When the IdP refuses an exchange because the user's sign-in is too weak or too old for the
token asked (``insufficient_user_authentication``, with the ``acr_values`` / ``max_age`` that
would do), :class:`TokenClient` raises
:class:`~apps.resource_server.bearer.InsufficientUserAuthentication`: a DRF view that lets it
through answers its own caller with the RFC 9470 challenge, so the user can step up."""

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from apps.resource_server.bearer import InsufficientUserAuthentication
from apps.resource_server.client_assertion import ClientAssertionSigner

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

Post = Callable[..., Any]


class TokenRequestFailed(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.error = status, body.get("error", "unknown_error")
        super().__init__(f"{status} {self.error}: {body.get('error_description', '')}")


@dataclass
class _Cached:
    token: str
    expires_at: float


class TokenClient:
    """One per service. ``refresh_margin``: a cached token is replaced this many seconds
    before it expires, so a token handed out is never about to lapse in flight.

    The service authenticates with ``client_secret`` (HTTP Basic, client_secret_basic) or,
    with no secret shared, with ``assertion_signer``: each request then carries a fresh
    assertion signed by the service's private key, whose audience is ``token_endpoint``
    (private_key_jwt, :mod:`apps.resource_server.client_assertion`). Exactly one of them."""

    def __init__(
        self, token_endpoint: str, client_id: str, client_secret: str | None = None, *,
        assertion_signer: ClientAssertionSigner | None = None, refresh_margin: float = 30,
        post: Post = requests.post,
    ) -> None:  # fmt: skip
        if (client_secret is None) == (assertion_signer is None):
            raise ValueError("Give either the client's secret or its assertion signer (exactly one).")
        if assertion_signer is not None and assertion_signer.client_id != client_id:
            raise ValueError("The assertion signer signs for another client id.")
        self._endpoint = token_endpoint
        self._auth = (client_id, client_secret) if client_secret is not None else None
        self._signer = assertion_signer
        self._margin = refresh_margin
        self._post = post
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def on_behalf_of(self, subject_token: str, *, audience: str | None = None, scope: str | None = None) -> str:
        """A token for the next API that still names the caller's user (RFC 8693)."""
        key = "obo:" + hashlib.sha256(f"{subject_token}|{audience}|{scope}".encode()).hexdigest()
        data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE}
        return self._cached(key, {**data, **_optional(audience=audience, scope=scope)})

    def client_credentials(self, *, scope: str | None = None) -> str:
        """A token for this service itself, no user involved."""
        return self._cached(f"cc:{scope}", {"grant_type": "client_credentials", **_optional(scope=scope)})

    def _cached(self, key: str, data: dict[str, str]) -> str:
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.expires_at - self._margin > now:
            return cached.token
        if self._signer is not None:
            # Signed now, for this request only: the IdP remembers each jti until it expires.
            data = {**data, **self._signer.form(self._endpoint)}
        response = self._post(self._endpoint, data=data, auth=self._auth, timeout=10)
        body = response.json()
        if response.status_code != 200:
            raise _refusal(response.status_code, body)
        with self._lock:
            self._cache[key] = _Cached(body["access_token"], now + float(body.get("expires_in", 0)))
            for stale in [k for k, v in self._cache.items() if v.expires_at <= now]:
                del self._cache[stale]
        return body["access_token"]


def _refusal(status: int, body: dict[str, Any]) -> Exception:
    if body.get("error") == InsufficientUserAuthentication.error:
        return InsufficientUserAuthentication.from_parameters(body)
    return TokenRequestFailed(status, body)


def _optional(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}
