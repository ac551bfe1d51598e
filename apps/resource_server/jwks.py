"""The IdP's public keys, cached in the resource server's process.

A token whose ``kid`` is unknown triggers one refresh (the IdP may have rotated), but never
more often than ``min_refresh_interval``: a stream of tokens with made-up kids cannot turn
into a stream of requests to the IdP."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

logger = logging.getLogger(__name__)

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
        self._fetched_at = float("-inf")  # when the last fetch ended, failed ones included
        self._lock = threading.Lock()

    def key_for(self, kid: Any) -> jwt.PyJWK | None:
        """The public key with this ``kid``, refreshing the set at most once per interval."""
        if not isinstance(kid, str) or len(kid) > 128:
            return None
        seen = self._fetched_at
        age = time.monotonic() - seen
        if age > self._ttl or (kid not in self._keys and age > self._min_refresh_interval):
            self._refresh(seen)
        return self._keys.get(kid)

    def _refresh(self, seen: float) -> None:
        # The fetch runs under the lock, so a thread that asks while another is fetching waits
        # for that fetch and uses its keys (instead of finding the set empty and refusing a
        # good token, as a new process under concurrent load would).
        with self._lock:
            if self._fetched_at != seen:
                return  # another thread fetched while this one waited
            try:
                self._keys = _parse(self._fetch())
            except Exception:
                # Keep the keys we have: a stale set still verifies tokens signed before the
                # outage; an unknown kid is refused until the next attempt.
                logger.warning("JWKS refresh failed; keeping %d cached keys", len(self._keys), exc_info=True)
            finally:
                self._fetched_at = time.monotonic()


def _parse(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = {}
    for entry in document.get("keys", []):
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type or algorithm we do not use
        if entry.get("kid") and entry.get("use", "sig") == "sig":
            keys[entry["kid"]] = key
    return keys
