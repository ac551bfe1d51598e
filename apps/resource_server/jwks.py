"""The IdP's public keys, cached in the resource server's process.

A token whose ``kid`` is unknown triggers one refresh (the IdP may have rotated), but never
more often than ``min_refresh_interval``: a stream of tokens with made-up kids cannot turn
into a stream of requests to the IdP."""

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

Fetch = Callable[[], dict[str, Any]]


def http_fetch(jwks_uri: str, timeout: float = 5.0) -> Fetch:
    def fetch() -> dict[str, Any]:
        response = requests.get(jwks_uri, timeout=timeout)
        response.raise_for_status()
        return response.json()

    return fetch


class JwksCache:
    def __init__(self, fetch: Fetch, *, ttl: float = 300, min_refresh_interval: float = 30) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._min_refresh_interval = min_refresh_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: Any) -> jwt.PyJWK | None:
        """The public key with this ``kid``, refreshing the set at most once per interval."""
        if not isinstance(kid, str) or len(kid) > 128:
            return None
        now = time.monotonic()
        if now - self._fetched_at > self._ttl or (
            kid not in self._keys and now - self._fetched_at > self._min_refresh_interval
        ):
            self._refresh(now)
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        with self._lock:
            if now - self._fetched_at <= self._min_refresh_interval:
                return  # another thread just did it
            self._fetched_at = now
            document = self._fetch()
        keys = {}
        for entry in document.get("keys", []):
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type or algorithm we do not use
            if entry.get("kid") and entry.get("use", "sig") == "sig":
                keys[entry["kid"]] = key
        self._keys = keys
